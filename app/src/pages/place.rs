//! `/organisation/{id}`: one place with its people. "Manage users" (for an organisational
//! unit, "Manage administrators") lists who holds a role there and who is invited to one,
//! "Invited yesterday as Admin, Clinician", each with their "•••" menu; "Invite people" from
//! here starts with this place chosen.

use super::organisation::depth_class;
use crate::components::{set_status, ActionError, ErrorBanner, SuccessBanner};
use crate::pages::admin_layout::SignedIn;
use crate::pages::bulk::{bulk_bar, page_checkbox, row_checkbox, BulkSelection};
use crate::pages::people::{invitation_line_with_expiry, InvitePrefill, PeopleActions, PeopleOverlays, RowMenu, StatusBadge};
use crate::server_fns::{get_scope, ArchiveScope, RenameScope, RestoreScope};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use shared::names::PlaceName;
use shared::permissions::Authority;
use shared::scopes::GrantView;
use shared::views::{ScopeDetail, ScopeMember};

#[component]
pub fn PlacePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let actions = PeopleActions::provide();
    let selection = BulkSelection::provide();
    // Another place selects other people.
    Effect::new(move |previous: Option<String>| {
        let now = id();
        if previous.is_some_and(|p| p != now) {
            selection.clear();
        }
        now
    });
    let rename = ServerAction::<RenameScope>::new();
    let archive = ServerAction::<ArchiveScope>::new();
    let restore = ServerAction::<RestoreScope>::new();
    let detail = Resource::new(
        move || (id(), actions.refresh.get(), rename.version().get(), archive.version().get(), restore.version().get()),
        |(id, ..)| get_scope(id),
    );
    for value in [rename.value(), archive.value(), restore.value()] {
        Effect::new(move |_| {
            if let Some(result) = value.get() {
                match result {
                    Ok(text) => actions.say(true, text),
                    Err(error) => actions.say(false, error.to_string()),
                }
            }
        });
    }
    view! {
        <PeopleOverlays/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let viewer = SignedIn::authority();
                Suspend::new(async move {
                    let viewer = viewer.await;
                    match detail.await {
                        Ok(detail) => view! { <Place detail rename archive restore viewer/> }.into_any(),
                        Err(error) => {
                            set_status(error.status_code());
                            view! { <Title text="Place"/> <ErrorBanner error/> }.into_any()
                        }
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn Place(
    detail: ScopeDetail,
    rename: ServerAction<RenameScope>,
    archive: ServerAction<ArchiveScope>,
    restore: ServerAction<RestoreScope>,
    viewer: Authority,
) -> impl IntoView {
    let actions = expect_context::<PeopleActions>();
    let node = detail.node.clone();
    let now = detail.now_ms;
    let scope_id = node.id.clone();
    let invite_here = {
        let scope_id = scope_id.clone();
        move |_| actions.inviting.set(Some(InvitePrefill { addresses: String::new(), scope_id: Some(scope_id.clone()) }))
    };
    let title = node.kind.members_title();
    view! {
        <Title text=node.name.clone()/>
        <nav class="breadcrumbs" aria-label="Where it sits">
            <A href="/organisation">"Organisation"</A>
            {detail.path.into_iter().map(|p| view! { " › " <A href=format!("/organisation/{}", p.id)>{p.name}</A> }).collect_view()}
        </nav>
        <div class="page-header">
            <h1>{node.name.clone()} " " <span class="muted small">{node.kind.label()}</span></h1>
            {(!node.archived).then(|| view! { <button type="button" class="primary" on:click=invite_here>"Invite people"</button> })}
        </div>
        {node.archived.then(|| view! { <div class="banner banner-warning" role="status">"This place is archived: it takes no new invitations, and roles held here give nothing until it is restored."</div> })}
        <section class="card" aria-labelledby="members-title">
            <h2 id="members-title">{title}</h2>
            {
                let ids: Vec<String> = detail.members.iter().chain(&detail.invited).map(|p| p.user.user_id.clone()).collect();
                let query = shared::views::UsersQuery { scope: Some(scope_id.clone()), ..Default::default() };
                let total = ids.len() as u64;
                (total > 0).then(|| bulk_bar(query, ids, total, false))
            }
            <PeopleTable people=detail.members now viewer=viewer.clone() empty="Nobody holds a role here yet." caption="People with a role here"/>
            <h3>"Pending invitations"</h3>
            <PeopleTable people=detail.invited now viewer=viewer.clone() empty="No open invitations offer a role here." caption="People invited to a role here"/>
        </section>
        {(!detail.children.is_empty()).then(move || view! {
            <section class="card" aria-labelledby="inside-title">
                <h2 id="inside-title">"Places inside"</h2>
                <ul class="places-inside">
                    {detail.children.clone().into_iter().map(|c| view! {
                        <li class=depth_class(0)>
                            <A href=format!("/organisation/{}", c.id)>{c.name}</A>
                            " " <span class="muted small">{c.kind.label()}</span>
                            {c.archived.then(|| view! { " " <span class="badge">"Archived"</span> })}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        {detail.can_manage.then(|| view! { <ManagePlace name=node.name.clone() scope_id archived=node.archived rename archive restore/> })}
    }
}

#[component]
fn PeopleTable(people: Vec<ScopeMember>, now: i64, viewer: Authority, empty: &'static str, caption: &'static str) -> impl IntoView {
    if people.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    let ids: Vec<String> = people.iter().map(|p| p.user.user_id.clone()).collect();
    let select_label = format!("Select every row of “{caption}”");
    view! {
        <table class="users">
            <caption class="visually-hidden">{caption}</caption>
            <thead>
                <tr>
                    <th scope="col" class="select-cell">{page_checkbox(ids, select_label)}</th>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Roles here"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {people.into_iter().map(|person| {
                    let line = invitation_line_with_expiry(&person.user, now);
                    let href = format!("/users/{}", person.user.user_id);
                    let name = person.user.display_name().to_string();
                    view! {
                        <tr>
                            <td class="select-cell">{row_checkbox(person.user.user_id.clone(), &name)}</td>
                            <td>
                                <div class="user-name"><A href=href>{name}</A></div>
                                <div class="muted small">{person.user.email.clone()}</div>
                                {line.map(|line| view! { <div class="pending-line"><em>{line}</em></div> })}
                            </td>
                            <td><StatusBadge status=person.user.status/></td>
                            <td>{here_labels(&person.here)}</td>
                            <td class="actions"><RowMenu row=person.user viewer=viewer.clone()/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn ManagePlace(
    name: String,
    scope_id: String,
    archived: bool,
    rename: ServerAction<RenameScope>,
    archive: ServerAction<ArchiveScope>,
    restore: ServerAction<RestoreScope>,
) -> impl IntoView {
    let id = scope_id.clone();
    let question = format!("Archive {name} and every place inside it? They will take no new invitations.");
    view! {
        <section class="card" aria-labelledby="manage-place">
            <h2 id="manage-place">"This place"</h2>
            <ActionError value=rename.value()/>
            {move || matches!(rename.value().get(), Some(Ok(_))).then(|| view! { <SuccessBanner message="Renamed."/> })}
            <ActionForm action=rename attr:class="inline-form">
                <input type="hidden" name="scope_id" value=scope_id.clone()/>
                <label>"Name" <input type="text" name="name" value=name.clone() required maxlength=PlaceName::MAX_CHARS/></label>
                <button type="submit">"Rename"</button>
            </ActionForm>
            <p>
                {if archived {
                    view! { <button type="button" on:click=move |_| { restore.dispatch(RestoreScope { scope_id: id.clone() }); }>"Restore this place"</button> }.into_any()
                } else {
                    view! {
                        <button type="button" class="danger" on:click=move |_| {
                            if window().confirm_with_message(&question).unwrap_or(false) {
                                archive.dispatch(ArchiveScope { scope_id: id.clone() });
                            }
                        }>"Archive this place"</button>
                    }.into_any()
                }}
            </p>
            <p class="muted small">"A place with open invitations cannot be archived: cancel them, or remove their roles here, first."</p>
        </section>
    }
}

/// The names of a person's roles in this place: "Admin, Clinician".
fn here_labels(grants: &[GrantView]) -> String {
    grants.iter().map(|g| g.role_label.clone()).collect::<Vec<_>>().join(", ")
}
