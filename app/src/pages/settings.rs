use super::settings_email::OutgoingEmailSection;
use super::settings_invitations::InvitationSettingsSection;
use super::settings_roles::RolesSection;
use crate::components::{ActionError, PasswordChangeFields};
use crate::pages::admin_layout::SignedIn;
use crate::server_fns::ChangePassword;
use leptos::prelude::*;
use leptos_meta::Title;
use shared::permissions::Permission;
use shared::scopes::GrantView;
use shared::views::CurrentUser;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let signed_in = use_context::<SignedIn>();
    view! {
        <Title text="Settings"/>
        <div class="page-header"><h1>"Settings"</h1></div>
        <Suspense>
            {move || Suspend::new(async move {
                let user = match signed_in {
                    Some(SignedIn(user)) => user.await.ok().flatten(),
                    None => None,
                };
                user.map(|user| view! { <Sections user/> })
            })}
        </Suspense>
        <ChangePasswordForm/>
    }
}

/// What the signed-in person sees of their account, and the settings they may change.
#[component]
fn Sections(user: CurrentUser) -> impl IntoView {
    let roles = GrantView::list(&user.held);
    let can = |p| user.authority.allows(p);
    view! {
        <section class="card">
            <h2>"Account"</h2>
            <dl class="facts">
                <dt>"Account name"</dt><dd>{user.account_name.clone()}</dd>
                <dt>"Signed in as"</dt><dd>{format!("{} ({})", user.name, user.email)}</dd>
                <dt>"Your roles"</dt><dd>{roles}</dd>
            </dl>
        </section>
        {can(Permission::ManageSettings).then(|| view! {
            <InvitationSettingsSection/>
            <OutgoingEmailSection/>
        })}
        {can(Permission::ManageRoles).then(|| view! { <RolesSection/> })}
        {can(Permission::ManageSettings).then(|| view! {
            <section class="card" aria-labelledby="webhooks-link">
                <h2 id="webhooks-link">"Webhooks"</h2>
                <p class="muted">"Tell other systems when an invitation is sent, accepted, expires, is cancelled or bounces, and when a person is deactivated."</p>
                <p><a href="/settings/webhooks">"Manage webhooks"</a></p>
            </section>
        })}
        {user.authority.is_administrator().then(|| view! {
            <section class="card" aria-labelledby="api-tokens-link">
                <h2 id="api-tokens-link">"API tokens"</h2>
                <p class="muted">"Scripts and other systems call Beckon's API with a token that acts as you, with no more than the rights you give it."</p>
                <p><a href="/settings/api-tokens">"Manage API tokens"</a></p>
            </section>
        })}
    }
}

#[component]
fn ChangePasswordForm() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    view! {
        <section class="card">
            <h2>"Your password"</h2>
            <p class="muted">"Changing it signs you out everywhere, this browser included."</p>
            <ActionError value=action.value()/>
            <ActionForm action>
                <PasswordChangeFields current_label="Current password"/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Change password"</button>
            </ActionForm>
        </section>
    }
}
