//! The Users page: every user with their status and roles by place, invitations followed
//! from a "•••" menu per row, and "Invite people". Filter, place, search, sort and page
//! live in the URL. A scope administrator sees the people of their places only.

use crate::components::{set_status, ErrorBanner, LiveClock};
use crate::pages::admin_layout::{SignedIn, UsersNavigation};
use crate::pages::bulk::{bulk_bar, page_checkbox, row_checkbox, BulkSelection};
use crate::pages::people::{invitation_line, InvitePrefill, PeopleActions, PeopleOverlays, RowMenu, StatusBadge};
use crate::server_fns::{list_scopes, list_users};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use shared::invitations::{expiry_phrase, relative_time};
use shared::mail::DeliveryState;
use shared::permissions::Authority;
use shared::scopes::GrantView;
use shared::status::UserStatus;
use shared::views::{UserRow, UsersPage as Page, UsersQuery, UsersSort, PAGE_SIZES};

/// The Users query of the current address.
fn current_query() -> Memo<UsersQuery> {
    let query = use_query_map();
    Memo::new(move |_| UsersQuery::from_params(|name| query.read().get(name)))
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = current_query();
    let actions = PeopleActions::provide();
    BulkSelection::provide();
    // "Users" in the header while already here: the list again, fresh.
    let reloads = use_context::<UsersNavigation>().map(|n| n.0);
    let users = Resource::new(move || (query.get().to_query_string(), actions.refresh.get(), reloads.map(|r| r.get())), |(query, _, _)| list_users(query));
    view! {
        <Title text="Users"/>
        <div class="page-header">
            <h1>"Users"</h1>
            <div class="header-actions">
                <a class="button" href="/users/import">"Import"</a>
                <button type="button" class="primary" on:click=move |_| actions.inviting.set(Some(InvitePrefill::default()))>
                    "Invite people"
                </button>
            </div>
        </div>
        <PeopleOverlays/>
        <Filters/>
        <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            {move || {
                let viewer = SignedIn::authority();
                Suspend::new(async move {
                let viewer = viewer.await;
                match users.await {
                    Ok(page) => view! { <UsersTable page viewer/> }.into_any(),
                    Err(error) => {
                        set_status(error.status_code());
                        view! { <ErrorBanner error/> }.into_any()
                    }
                }
            })}}
        </Transition>
    }
}

/// How long typing in the search box waits for a pause before it searches.
const SEARCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(300);

/// A GET form: its fields become the URL's query, so reload, back and a shared link keep
/// the view, also without JavaScript ("Apply"). With JavaScript a choice applies at once
/// and typing searches after a pause; the address is built by `UsersQuery`, the type the
/// server reads it with. Any change of filter starts again at page 1.
#[component]
fn Filters() -> impl IntoView {
    let query = current_query();
    let current = query.get_untracked();
    let navigate = use_navigate();
    let form = NodeRef::<leptos::html::Form>::new();
    let places = Resource::new(|| (), |_| list_scopes(String::new(), String::new(), String::new()));
    let apply = move |replace: bool| {
        let Some(form) = form.get_untracked() else { return };
        let Ok(data) = leptos::web_sys::FormData::new_with_form(&form) else { return };
        let chosen = UsersQuery::from_params(|name| data.get(name).as_string());
        let current = query.get_untracked();
        // Another filter selects other people: what was ticked under the last one is let go.
        if (chosen.status, &chosen.scope, &chosen.search) != (current.status, &current.scope, &current.search) {
            if let Some(selection) = use_context::<BulkSelection>() {
                selection.clear();
            }
        }
        if chosen != current {
            navigate(&chosen.href(), NavigateOptions { replace, ..Default::default() });
        }
    };
    // The address can change under the form (a header sorts, "Users" starts over): the
    // selects follow it by their options' `selected`, the search box when the address's
    // search itself changes. Never at hydration, nor when another filter changes: either
    // would wipe what was typed meanwhile, before the page came alive or the pause ran out.
    let search_box = NodeRef::<leptos::html::Input>::new();
    let url_search = Memo::new(move |_| query.read().search.clone());
    Effect::watch(
        move || url_search.get(),
        move |wanted, _, _| {
            if let Some(input) = search_box.get_untracked() {
                if input.value().trim() != wanted {
                    input.set_value(wanted);
                }
            }
        },
        false,
    );
    let typed = StoredValue::new(0u64);
    let on_input = {
        let apply = apply.clone();
        move |_| {
            typed.update_value(|n| *n += 1);
            let mine = typed.get_value();
            let apply = apply.clone();
            // Only the last keystroke of a pause searches; each one replaces the history entry.
            // Gone (the page was left meanwhile): nothing to search.
            set_timeout(
                move || {
                    if typed.try_get_value() == Some(mine) {
                        apply(true)
                    }
                },
                SEARCH_PAUSE,
            );
        }
    };
    let on_change = {
        let apply = apply.clone();
        move |ev: leptos::ev::Event| {
            // The search box's own change (Enter, leaving it) is covered by typing.
            let is_search = event_target::<leptos::web_sys::Element>(&ev).id() == "filter-search";
            if !is_search {
                apply(false)
            }
        }
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        apply(false);
    };
    let current_scope = current.scope.clone().unwrap_or_default();
    view! {
        <form node_ref=form method="get" action="/users" class="filters" role="search" on:submit=on_submit on:change=on_change>
            <div class="field">
                <label for="filter-status">"Status"</label>
                <select id="filter-status" name=UsersQuery::STATUS>
                    <option value="" selected=move || query.read().status.is_none()>"All statuses"</option>
                    {UserStatus::ALL.iter().map(|s| {
                        let s = *s;
                        view! { <option value=s.as_str() selected=move || query.read().status == Some(s)>{s.label()}</option> }
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
                <input node_ref=search_box id="filter-search" type="search" name=UsersQuery::SEARCH value=current.search.clone() placeholder="Name or email" on:input=on_input/>
            </div>
            <div class="field">
                <label for="filter-sort">"Sort by"</label>
                <select id="filter-sort" name=UsersQuery::SORT>
                    {UsersSort::ALL.into_iter().map(|s| view! {
                        <option value=s.as_str() selected=move || query.read().sort == s>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="filter-dir">"Order"</label>
                <select id="filter-dir" name=UsersQuery::DIR>
                    <option value="asc" selected=move || !query.read().descending>"Ascending"</option>
                    <option value="desc" selected=move || query.read().descending>"Descending"</option>
                </select>
            </div>
            <div class="field">
                <label for="filter-size">"Per page"</label>
                <select id="filter-size" name=UsersQuery::SIZE>
                    {PAGE_SIZES.into_iter().map(|n| view! {
                        <option value=n.to_string() selected=move || query.read().size == n>{n}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit">"Apply"</button>
        </form>
    }
}

/// A column header that sorts by `sort`: ascending first, the other way when it already
/// sorts by it; `aria-sort` says which column orders the list and how.
#[component]
fn SortHeader(label: &'static str, sort: UsersSort) -> impl IntoView {
    let query = current_query();
    let state = move || {
        let q = query.read();
        match (q.sort == sort, q.descending) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        }
    };
    let href = move || {
        let q = query.get();
        let descending = q.sort == sort && !q.descending;
        UsersQuery { sort, descending, ..q.first_page() }.href()
    };
    let arrow = move || match state() {
        "ascending" => " ▲",
        "descending" => " ▼",
        _ => "",
    };
    view! {
        <th scope="col" aria-sort=state>
            <a href=href class="sort">{label}<span aria-hidden="true">{arrow}</span></a>
        </th>
    }
}

#[component]
fn UsersTable(page: Page, viewer: Authority) -> impl IntoView {
    let query = current_query();
    let now = LiveClock::now(page.now_ms);
    let (total, capped) = (page.total, page.total_capped);
    let size = query.get_untracked().size;
    let (current, count) = (page.page, page.page_count);
    let previous = page.rows.first().map(|row| query.get_untracked().previous_page(current, row).href());
    // A short page is the last, whatever the (capped) count guessed.
    let full = page.rows.len() as u64 == u64::from(size);
    let next = page.rows.last().filter(|_| full).map(|row| query.get_untracked().next_page(current, row).href());
    let first = u64::from(current - 1) * u64::from(size) + 1;
    let last = first + page.rows.len() as u64 - 1;
    let caption = match (capped, total) {
        (true, _) => format!("More than {} users", thousands(total)),
        (false, 1) => "1 user".to_string(),
        (false, n) => format!("{} users", thousands(n)),
    };
    let showing = match capped {
        true => format!("Showing {}–{} of more than {}", thousands(first), thousands(last), thousands(total)),
        false => format!("Showing {}–{} of {}", thousands(first), thousands(last), thousands(total)),
    };
    if page.rows.is_empty() {
        return view! { <p class="muted">"No users match."</p> }.into_any();
    }
    let page_ids: Vec<String> = page.rows.iter().map(|row| row.user_id.clone()).collect();
    view! {
        {bulk_bar(query.get_untracked(), page_ids.clone(), total, capped)}
        <table class="users">
            <caption class="muted">{caption}</caption>
            <thead>
                <tr>
                    <th scope="col" class="select-cell">{page_checkbox(page_ids, "Select every row on this page".into())}</th>
                    <SortHeader label="Name" sort=UsersSort::Name/>
                    <SortHeader label="Email" sort=UsersSort::Email/>
                    <SortHeader label="Status" sort=UsersSort::Status/>
                    <th scope="col">"Roles"</th>
                    <SortHeader label="Invitation" sort=UsersSort::Invited/>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {page.rows.into_iter().map(|row| view! { <UserLine row now viewer=viewer.clone()/> }).collect_view()}
            </tbody>
        </table>
        <nav class="pagination" aria-label="Pages">
            <span class="muted">{showing}</span>
            {previous.filter(|_| current > 1).map(|href| view! { <a href=href rel="prev">"Previous"</a> })}
            {(count > 1).then(|| view! { <span>{format!("Page {current} of {}{}", thousands(u64::from(count)), if capped { "+" } else { "" })}</span> })}
            {next.filter(|_| current < count).map(|href| view! { <a href=href rel="next">"Next"</a> })}
        </nav>
    }
    .into_any()
}

/// 12345 as "12,345".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Labels shown in a roles cell before "+N more".
const ROLES_SHOWN: usize = 2;

#[component]
fn UserLine(row: UserRow, now: Signal<i64>, viewer: Authority) -> impl IntoView {
    let held = GrantView::compact(&row.held, ROLES_SHOWN);
    let held_title = Some(GrantView::list(&row.held)).filter(|all| *all != held);
    let line_row = row.clone();
    let pending_line = move || invitation_line(&line_row, now.get());
    let href = format!("/users/{}", row.user_id);
    let name = row.display_name().to_string();
    let invitation = row.invitation.clone();
    view! {
        <tr>
            <td class="select-cell">{row_checkbox(row.user_id.clone(), &name)}</td>
            <td class="name-cell">
                <div class="user-name"><A href=href>{name}</A></div>
                {move || pending_line().map(|line| view! { <div class="pending-line"><em>{line}</em></div> })}
            </td>
            <td class="email-cell">{row.email.clone()}</td>
            <td class="status-cell"><StatusBadge status=row.status/></td>
            <td class="roles-cell" title=held_title>{if held.is_empty() { "—".to_string() } else { held }}</td>
            <td class="invitation-cell">
                {match invitation {
                    None => view! { <span class="muted">"—"</span> }.into_any(),
                    Some(invitation) => {
                        let (expires, sent) = (invitation.expires_at_ms, invitation.last_sent_at_ms);
                        let email = invitation.latest_email.map(|email| {
                            let class = match &email.bounce {
                                Some(bounce) => format!("email-state badge badge-bounce-{}", bounce.kind.as_str()),
                                None => format!("email-state badge badge-delivery-{}", email.state.as_str()),
                            };
                            // A reminder (Beckon's own, or an admin's) says when: "Reminder sent 2 days ago".
                            let reminded = (email.kind == shared::mail::MessageKind::Reminder).then_some(email.at_ms);
                            let headline = email.headline();
                            let detail = match (&email.bounce, email.state) {
                                (Some(bounce), _) => Some(bounce.sentence()),
                                (None, DeliveryState::Failed | DeliveryState::Deferred) => email.last_reply.clone(),
                                _ => None,
                            };
                            view! {
                                <div>
                                    <a class=class href=email.href()>{headline}{move || reminded.map(|at| format!(" {}", relative_time(at, now.get())))}</a>
                                    {detail.map(|reply| view! { <div class="reply small">{reply}</div> })}
                                </div>
                            }
                        });
                        view! {
                            {email}
                            <div class="muted small">{move || format!("sent {}", relative_time(sent, now.get()))}</div>
                            <div class="muted small expiry">{move || expiry_phrase(expires, now.get())}</div>
                        }
                        .into_any()
                    }
                }}
            </td>
            <td class="actions"><RowMenu row viewer/></td>
        </tr>
    }
}
