use super::settings_email::OutgoingEmailSection;
use super::settings_invitations::InvitationSettingsSection;
use super::settings_roles::RolesSection;
use crate::components::ActionError;
use crate::server_fns::ChangePassword;
use leptos::prelude::*;
use leptos_meta::Title;
use shared::permissions::Permission;
use shared::scopes::GrantView;
use shared::views::CurrentUser;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let user = use_context::<CurrentUser>();
    let roles = user.as_ref().map(|u| GrantView::list(&u.held)).unwrap_or_default();
    let can = |p| user.as_ref().is_some_and(|u| u.authority.allows(p));
    view! {
        <Title text="Settings"/>
        <div class="page-header"><h1>"Settings"</h1></div>
        <section class="card">
            <h2>"Account"</h2>
            <dl class="facts">
                <dt>"Account name"</dt><dd>{user.as_ref().map(|u| u.account_name.clone())}</dd>
                <dt>"Signed in as"</dt><dd>{user.as_ref().map(|u| format!("{} ({})", u.name, u.email))}</dd>
                <dt>"Your roles"</dt><dd>{roles}</dd>
            </dl>
        </section>
        {can(Permission::ManageSettings).then(|| view! {
            <InvitationSettingsSection/>
            <OutgoingEmailSection/>
        })}
        {can(Permission::ManageRoles).then(|| view! { <RolesSection/> })}
        <ChangePasswordForm/>
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
                <label>"Current password" <input type="password" name="current_password" required autocomplete="current-password"/></label>
                <label>"New password" <input type="password" name="new_password" required minlength="10" autocomplete="new-password"/></label>
                <label>"Confirm new password" <input type="password" name="new_password_confirmation" required autocomplete="new-password"/></label>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Change password"</button>
            </ActionForm>
        </section>
    }
}
