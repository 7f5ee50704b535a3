//! `/users/{id}`: one person: status, roles by place, their open invitation with its menu,
//! and, for a Curator, the People permission.

use crate::components::{set_status, ErrorBanner};
use crate::pages::admin_layout::SignedIn;
use crate::pages::people::{invitation_line_with_expiry, PeopleActions, PeopleOverlays, RowMenu, StatusBadge};
use crate::server_fns::{act_on_person, delete_person, remove_person_roles};
use crate::server_fns::{get_user, SetPeoplePermission};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use shared::invitations::{relative_time, utc_date_time};
use shared::people::{person_actions, PersonAction};
use shared::permissions::Authority;
use shared::scopes::Grant;
use shared::views::{SignInView, UserDetail, UserRow};

#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let actions = PeopleActions::provide();
    let people = ServerAction::<SetPeoplePermission>::new();
    let detail = Resource::new(move || (id(), actions.refresh.get(), people.version().get()), |(id, ..)| get_user(id));
    Effect::new(move |_| {
        if let Some(result) = people.value().get() {
            match result {
                Ok(text) => actions.say(true, text),
                Err(error) => actions.say(false, error.to_string()),
            }
        }
    });
    view! {
        <nav class="breadcrumbs" aria-label="Where it sits"><A href="/users">"Users"</A></nav>
        <PeopleOverlays/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let viewer = SignedIn::authority();
                Suspend::new(async move {
                    let viewer = viewer.await;
                    match detail.await {
                        Ok(detail) => view! { <Person detail people viewer/> }.into_any(),
                        Err(error) => {
                            set_status(error.status_code());
                            view! { <Title text="User"/> <ErrorBanner error/> }.into_any()
                        }
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn Person(detail: UserDetail, people: ServerAction<SetPeoplePermission>, viewer: Authority) -> impl IntoView {
    let user = detail.user.clone();
    let line = invitation_line_with_expiry(&user, detail.now_ms);
    let user_id = user.user_id.clone();
    // Roles are removed beside the list of them.
    let actions = person_actions(&viewer, &user.person());
    let page_actions: Vec<PersonAction> = actions.iter().copied().filter(|a| !matches!(a, PersonAction::RemoveRoles | PersonAction::Delete)).collect();
    view! {
        <Title text=user.display_name().to_string()/>
        <div class="page-header">
            <h1>{user.display_name().to_string()}</h1>
            <RowMenu row=user.clone() viewer/>
        </div>
        <section class="card">
            <dl class="facts">
                <dt>"Email"</dt><dd>{user.email.clone()}</dd>
                <dt>"Status"</dt><dd><StatusBadge status=user.status/></dd>
                <dt>"Roles"</dt>
                <dd>
                    {if user.held.is_empty() {
                        view! { <span class="muted">"None yet"</span> }.into_any()
                    } else if actions.contains(&PersonAction::RemoveRoles) {
                        view! { <RemoveRoles row=user.clone()/> }.into_any()
                    } else {
                        view! { <ul class="plain">{user.held.iter().map(|g| view! { <li>{g.label()}</li> }).collect_view()}</ul> }.into_any()
                    }}
                </dd>
                {line.map(|line| view! { <dt>"Invitation"</dt><dd><em>{line}</em></dd> })}
            </dl>
        </section>
        {actions.contains(&PersonAction::SignOutEverywhere).then(|| view! { <SignIns sign_ins=detail.sign_ins.clone() now=detail.now_ms/> })}
        {(!page_actions.is_empty()).then(|| view! { <PersonActions row=user.clone() actions=page_actions/> })}
        {actions.contains(&PersonAction::Delete).then(|| view! { <DeletePerson row=user.clone()/> })}
        {detail.is_curator.then(|| view! {
            <section class="card" aria-labelledby="people-permission">
                <h2 id="people-permission">"People permission"</h2>
                <p class="muted">"A Curator with the People permission can invite people and manage their invitations across the account, up to Curator."</p>
                <p>{if detail.people { "This Curator has the People permission." } else { "This Curator does not have the People permission." }}</p>
                {detail.can_grant_people.then(|| view! {
                    <ActionForm action=people>
                        <input type="hidden" name="user_id" value=user_id.clone()/>
                        <input type="hidden" name="people" value=if detail.people { "off" } else { "on" }/>
                        <button type="submit">{if detail.people { "Take back the People permission" } else { "Give the People permission" }}</button>
                    </ActionForm>
                })}
            </section>
        })}
    }
}

/// The roles a person holds, each with a box to tick; "Remove roles" asks first.
#[component]
fn RemoveRoles(row: UserRow) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let selected = RwSignal::new(Vec::<Grant>::new());
    let who = row.display_name().to_string();
    let user_id = row.user_id.clone();
    let remove = move |_| {
        let grants = selected.get_untracked();
        let n = grants.len();
        let question = format!("Remove {n} role{} from {who}? It stops working at their next page.", if n == 1 { "" } else { "s" });
        if window().confirm_with_message(&question).unwrap_or(false) {
            state.run(remove_person_roles(user_id.clone(), Grant::to_param(&grants)));
            selected.set(Vec::new());
        }
    };
    view! {
        <fieldset class="roles held">
            <legend class="visually-hidden">"Roles held"</legend>
            {row.held.iter().map(|view| {
                let grant = view.grant.clone();
                let toggled = view.grant.clone();
                view! {
                    <label class="checkbox">
                        <input
                            type="checkbox"
                            prop:checked=move || selected.get().contains(&grant)
                            on:change=move |_| selected.update(|s| if s.contains(&toggled) { s.retain(|g| *g != toggled) } else { s.push(toggled.clone()) })
                        />
                        {view.label()}
                    </label>
                }
            }).collect_view()}
            <button type="button" class="danger" disabled=move || selected.get().is_empty() on:click=remove>"Remove roles"</button>
        </fieldset>
    }
}

/// Where the person is signed in ("Sign out everywhere" ends them all).
#[component]
fn SignIns(sign_ins: Vec<SignInView>, now: i64) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="sign-ins">
            <h2 id="sign-ins">"Signed in"</h2>
            {if sign_ins.is_empty() {
                view! { <p class="muted">"Not signed in anywhere."</p> }.into_any()
            } else {
                view! {
                    <ul class="plain sign-ins">
                        {sign_ins.into_iter().map(|s| view! {
                            <li>
                                <strong>{s.device}</strong>" · last seen "
                                <time title=utc_date_time(s.last_seen_at_ms)>{relative_time(s.last_seen_at_ms, now)}</time>
                                <span class="muted">" · signed in " {relative_time(s.signed_in_at_ms, now)}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// Kept apart from the other actions, at the foot of the page: it cannot be undone.
#[component]
fn DeletePerson(row: UserRow) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let navigate = leptos_router::hooks::use_navigate();
    let on_click = move |_| {
        let question = format!(
            "Delete {}? Their name, their address ({}) and their password are erased, they are signed out everywhere and their invitations end. The audit log keeps that a deleted person was here. This cannot be undone.",
            row.display_name(),
            row.email
        );
        if !window().confirm_with_message(&question).unwrap_or(false) {
            return;
        }
        let (user_id, navigate) = (row.user_id.clone(), navigate.clone());
        leptos::task::spawn_local(async move {
            match delete_person(user_id).await {
                Ok(_) => navigate("/users", Default::default()),
                Err(error) => state.say(false, error.to_string()),
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="delete-person">
            <h2 id="delete-person">"Delete this person"</h2>
            <p class="muted">"Erases their name, address and password for good. What they did stays in the audit log as the doing of a deleted person."</p>
            <button type="button" class="danger" on:click=on_click>{PersonAction::Delete.label()}</button>
        </section>
    }
}

/// What the admin may do to this person here, each as a button.
#[component]
fn PersonActions(row: UserRow, actions: Vec<PersonAction>) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    view! {
        <section class="card" aria-labelledby="person-actions">
            <h2 id="person-actions">"Manage this person"</h2>
            <div class="button-row">
                {actions.into_iter().map(|action| {
                    let row = row.clone();
                    let class = if action == PersonAction::Deactivate { "danger" } else { "" };
                    let on_click = move |_| {
                        let row = row.clone();
                        match action {
                            PersonAction::AddRoles => state.adding_roles.set(Some(row)),
                            PersonAction::SetPassword => state.setting_password.set(Some(row)),
                            PersonAction::CorrectAddress => state.correcting.set(Some(row)),
                            PersonAction::Deactivate | PersonAction::SignOutEverywhere => {
                                let question = match action {
                                    PersonAction::Deactivate => format!(
                                        "Deactivate {}? They are signed out everywhere and cannot sign in; any pending invitation of theirs is cancelled. Their roles are kept for when they are reactivated.",
                                        row.display_name()
                                    ),
                                    _ => format!("Sign {} out everywhere? Every browser they are signed in with asks them to sign in again.", row.display_name()),
                                };
                                if window().confirm_with_message(&question).unwrap_or(false) {
                                    state.run(act_on_person(row.user_id.clone(), action.as_str().into()));
                                }
                            }
                            _ => state.run(act_on_person(row.user_id.clone(), action.as_str().into())),
                        }
                    };
                    view! { <button type="button" class=class on:click=on_click>{action.label()}</button> }
                }).collect_view()}
            </div>
        </section>
    }
}
