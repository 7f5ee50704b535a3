//! `/users/{id}`: one person: status, roles by place, their open invitation with its menu,
//! and, for a Curator, the People permission.

use crate::components::{set_status, ErrorBanner};
use crate::pages::admin_layout::SignedIn;
use crate::pages::people::{invitation_line_with_expiry, PeopleActions, PeopleOverlays, RowMenu, StatusBadge};
use crate::server_fns::{get_user, SetPeoplePermission};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use shared::permissions::Authority;
use shared::views::UserDetail;

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
                    } else {
                        view! { <ul class="plain">{user.held.iter().map(|g| view! { <li>{g.label()}</li> }).collect_view()}</ul> }.into_any()
                    }}
                </dd>
                {line.map(|line| view! { <dt>"Invitation"</dt><dd><em>{line}</em></dd> })}
            </dl>
        </section>
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
