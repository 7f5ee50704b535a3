//! The Users page: every user with their status and roles by place, invitations followed
//! from a "•••" menu per row, and "Invite people". Filter, place, search, sort and page
//! live in the URL. A scope administrator sees the people of their places only.

use crate::api::{list_scopes, list_users};
use crate::components::{set_status, ErrorBanner};
use crate::pages::people::{invitation_line, InvitePrefill, PeopleActions, PeopleOverlays, RowMenu, StatusBadge};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use shared::invitations::relative_time;
use shared::scopes::GrantView;
use shared::status::UserStatus;
use shared::views::{UserRow, UsersPage as Page, UsersQuery, UsersSort};

/// The Users query of the current address.
fn current_query() -> Memo<UsersQuery> {
    let query = use_query_map();
    Memo::new(move |_| UsersQuery::from_params(|name| query.read().get(name)))
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = current_query();
    let actions = PeopleActions::provide();
    let users = Resource::new(move || (query.get().to_query_string(), actions.refresh.get()), |(query, _)| list_users(query));
    view! {
        <Title text="Users"/>
        <div class="page-header">
            <h1>"Users"</h1>
            <button type="button" class="primary" on:click=move |_| actions.inviting.set(Some(InvitePrefill::default()))>
                "Invite people"
            </button>
        </div>
        <PeopleOverlays/>
        <Filters/>
        <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(page) => view! { <UsersTable page/> }.into_any(),
                    Err(error) => {
                        set_status(error.status_code());
                        view! { <ErrorBanner error/> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// A GET form: its fields become the URL's query, so reload, back and a shared link keep
/// the view, also without JavaScript. With JavaScript the address is built by `UsersQuery`,
/// the same type the server reads it with.
#[component]
fn Filters() -> impl IntoView {
    let current = current_query().get_untracked();
    let navigate = use_navigate();
    let places = Resource::new(|| (), |_| list_scopes(String::new(), String::new(), String::new()));
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(data) = leptos::form::form_data_from_event(&ev) else { return };
        let query = UsersQuery::from_params(|name| data.get(name).as_string());
        navigate(&query.href(), Default::default());
    };
    let current_scope = current.scope.clone().unwrap_or_default();
    view! {
        <form method="get" action="/users" class="filters" role="search" on:submit=on_submit>
            <div class="field">
                <label for="filter-status">"Status"</label>
                <select id="filter-status" name=UsersQuery::STATUS>
                    <option value="" selected=current.status.is_none()>"All statuses"</option>
                    {UserStatus::ALL.iter().map(|s| view! {
                        <option value=s.as_str() selected=current.status == Some(*s)>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <Transition>
                {move || {
                    let current_scope = current_scope.clone();
                    Suspend::new(async move {
                        let nodes = places.await.map(|t| t.nodes).unwrap_or_default();
                        (!nodes.is_empty()).then(|| view! {
                            <div class="field">
                                <label for="filter-scope">"Place"</label>
                                <select id="filter-scope" name=UsersQuery::SCOPE>
                                    <option value="" selected=current_scope.is_empty()>"All places"</option>
                                    {nodes.into_iter().map(|n| view! {
                                        <option value=n.id.clone() selected=n.id == current_scope>
                                            {format!("{}{}", "\u{2003}".repeat(n.depth as usize), n.name)}
                                        </option>
                                    }).collect_view()}
                                </select>
                            </div>
                        })
                    })
                }}
            </Transition>
            <div class="field">
                <label for="filter-search">"Search"</label>
                <input id="filter-search" type="search" name=UsersQuery::SEARCH value=current.search.clone() placeholder="Name or email"/>
            </div>
            <div class="field">
                <label for="filter-sort">"Sort by"</label>
                <select id="filter-sort" name=UsersQuery::SORT>
                    {UsersSort::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=current.sort == s>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-dir">"Order"</label>
                <select id="filter-dir" name=UsersQuery::DIR>
                    <option value="asc" selected=!current.descending>"Ascending"</option>
                    <option value="desc" selected=current.descending>"Descending"</option>
                </select>
            </div>
            <button type="submit">"Apply"</button>
        </form>
    }
}

#[component]
fn UsersTable(page: Page) -> impl IntoView {
    let query = current_query();
    let now = page.now_ms;
    let total = page.total;
    let page_link = move |n: u32| UsersQuery { page: n, ..query.get_untracked() }.href();
    let (current, count) = (page.page, page.page_count);
    view! {
        <table class="users">
            <caption class="muted">{format!("{total} user{}", if total == 1 { "" } else { "s" })}</caption>
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Roles"</th>
                    <th scope="col">"Last sent"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {page.rows.into_iter().map(|row| view! { <UserLine row now/> }).collect_view()}
            </tbody>
        </table>
        {(count > 1).then(|| view! {
            <nav class="pagination" aria-label="Pages">
                {(current > 1).then(|| view! { <a href=page_link(current - 1) rel="prev">"Previous"</a> })}
                <span>{format!("Page {current} of {count}")}</span>
                {(current < count).then(|| view! { <a href=page_link(current + 1) rel="next">"Next"</a> })}
            </nav>
        })}
    }
}

#[component]
fn UserLine(row: UserRow, now: i64) -> impl IntoView {
    let held = GrantView::list(&row.held);
    let pending_line = invitation_line(&row, now);
    let last_sent = row.invitation.as_ref().map(|i| relative_time(i.last_sent_at_ms, now)).unwrap_or_else(|| "—".into());
    let href = format!("/users/{}", row.user_id);
    let name = row.display_name().to_string();
    view! {
        <tr>
            <td>
                <div class="user-name"><A href=href>{name}</A></div>
                {pending_line.map(|line| view! { <div class="pending-line"><em>{line}</em></div> })}
            </td>
            <td>{row.email.clone()}</td>
            <td><StatusBadge status=row.status/></td>
            <td class="roles-cell">{if held.is_empty() { "—".to_string() } else { held }}</td>
            <td>{last_sent}</td>
            <td class="actions"><RowMenu row/></td>
        </tr>
    }
}
