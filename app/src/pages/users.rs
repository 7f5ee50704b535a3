//! The Users page: every user with their status, invitations followed from a "•••" menu
//! per row, and "Invite people". Filter, search, sort and page live in the URL.

mod invite_dialog;
mod manage_dialog;
mod row_menu;

use crate::api::{list_users, ActOnInvitation, RemoveInvitationRoles};
use crate::components::{set_status, ErrorBanner};
use invite_dialog::InviteDialog;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use manage_dialog::ManageDialog;
use row_menu::RowMenu;
use shared::invitations::relative_time;
use shared::views::{UserRow, UserStatus, UsersPage as Page, UsersQuery, UsersSort};

/// A message at the top of the page after an action.
#[derive(Clone, Debug, PartialEq)]
pub struct Banner {
    pub ok: bool,
    pub text: String,
}

/// What the page's pieces share: the banner, the list's refresh, the open dialogs.
#[derive(Clone, Copy)]
pub struct UsersPageState {
    pub banner: RwSignal<Option<Banner>>,
    pub refresh: RwSignal<u32>,
    pub invite_prefill: RwSignal<Option<String>>,
    pub managing: RwSignal<Option<UserRow>>,
    /// Roles the viewer may offer, as the server said with the list.
    pub grantable: RwSignal<Vec<shared::Role>>,
    pub act: ServerAction<ActOnInvitation>,
    pub remove_roles: ServerAction<RemoveInvitationRoles>,
}

impl UsersPageState {
    pub fn say(&self, ok: bool, text: impl Into<String>) {
        self.banner.set(Some(Banner { ok, text: text.into() }));
    }
}

/// The Users query of the current address.
fn current_query() -> Memo<UsersQuery> {
    let query = use_query_map();
    Memo::new(move |_| UsersQuery::from_params(|name| query.read().get(name)))
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = current_query();
    let page_state = UsersPageState {
        banner: RwSignal::new(None),
        refresh: RwSignal::new(0),
        invite_prefill: RwSignal::new(None),
        managing: RwSignal::new(None),
        grantable: RwSignal::new(Vec::new()),
        act: ServerAction::new(),
        remove_roles: ServerAction::new(),
    };
    provide_context(page_state);
    // Every finished action says what happened and reloads the list.
    for value in [page_state.act.value(), page_state.remove_roles.value()] {
        Effect::new(move |_| {
            if let Some(result) = value.get() {
                match result {
                    Ok(text) => page_state.say(true, text),
                    Err(error) => page_state.say(false, error.to_string()),
                }
                page_state.managing.set(None);
                page_state.refresh.update(|n| *n += 1);
            }
        });
    }
    let users = Resource::new(move || (query.get().to_query_string(), page_state.refresh.get()), |(query, _)| list_users(query));

    view! {
        <Title text="Users"/>
        <div class="page-header">
            <h1>"Users"</h1>
            <button type="button" class="primary" on:click=move |_| page_state.invite_prefill.set(Some(String::new()))>
                "Invite people"
            </button>
        </div>
        {move || page_state.banner.get().map(|b| {
            let class = if b.ok { "banner banner-success" } else { "banner banner-error" };
            let role = if b.ok { "status" } else { "alert" };
            view! {
                <div class=class role=role>
                    <span>{b.text}</span>
                    <button type="button" class="link-button dismiss" aria-label="Dismiss" on:click=move |_| page_state.banner.set(None)>"×"</button>
                </div>
            }
        })}
        {move || page_state.invite_prefill.get().map(|prefill| view! { <InviteDialog prefill/> })}
        {move || page_state.managing.get().map(|row| view! { <ManageDialog row/> })}
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
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(data) = leptos::form::form_data_from_event(&ev) else { return };
        let query = UsersQuery::from_params(|name| data.get(name).as_string());
        navigate(&query.href(), Default::default());
    };
    view! {
        <form method="get" action="/users" class="filters" role="search" on:submit=on_submit>
            <div class="field">
                <label for="filter-status">"Status"</label>
                <select id="filter-status" name=UsersQuery::STATUS>
                    <option value="" selected=current.status.is_none()>"All statuses"</option>
                    {UserStatus::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=current.status == Some(s)>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
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
    let rows = page.rows;
    if let Some(state) = use_context::<UsersPageState>() {
        state.grantable.set(page.grantable_roles);
    }
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
                {rows.into_iter().map(|row| view! { <UserLine row now/> }).collect_view()}
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
    let roles = row.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ");
    let badge = format!("badge badge-{}", row.status.as_str().replace('_', "-"));
    // "Invited yesterday as Admin, HR", as admins know it.
    let pending_line = row.invitation.as_ref().map(|i| match row.status {
        UserStatus::Expired => format!("Invited {} as {roles}; the invitation expired {}", relative_time(i.invited_at_ms, now), relative_time(i.expires_at_ms, now)),
        _ => format!("Invited {} as {roles}", relative_time(i.invited_at_ms, now)),
    });
    let last_sent = row.invitation.as_ref().map(|i| relative_time(i.last_sent_at_ms, now)).unwrap_or_else(|| "—".into());
    let display_name = if row.name.is_empty() { row.email.clone() } else { row.name.clone() };
    view! {
        <tr>
            <td>
                <div class="user-name">{display_name}</div>
                {pending_line.map(|line| view! { <div class="pending-line"><em>{line}</em></div> })}
            </td>
            <td>{row.email.clone()}</td>
            <td><span class=badge>{row.status.label()}</span></td>
            <td>{roles}</td>
            <td>{last_sent}</td>
            <td class="actions"><RowMenu row/></td>
        </tr>
    }
}
