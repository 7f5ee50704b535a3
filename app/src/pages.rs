//! One module per page.

mod admin_layout;
mod audit_log;
mod bulk;
mod choose_password;
mod delivery_log;
mod forgot_password;
mod home;
mod import;
mod invite;
mod jobs;
mod not_found;
mod organisation;
mod people;
mod place;
mod reset_password;
mod settings;
mod settings_api_tokens;
mod settings_email;
mod settings_invitations;
mod settings_roles;
mod settings_webhooks;
mod setup;
mod sign_in;
mod user;
mod users;

pub use admin_layout::AdminLayout;
pub use audit_log::AuditLogPage;
pub use choose_password::ChoosePasswordPage;
pub use delivery_log::DeliveryLogPage;
pub use forgot_password::ForgotPasswordPage;
pub use home::Home;
pub use import::ImportPage;
pub use invite::InvitePage;
pub use jobs::JobsPage;
pub use not_found::NotFound;
pub use organisation::OrganisationPage;
pub use place::PlacePage;
pub use reset_password::ResetPasswordPage;
pub use settings::SettingsPage;
pub use settings_api_tokens::ApiTokensPage;
pub use settings_webhooks::WebhooksPage;
pub use setup::SetupPage;
pub use sign_in::SignInPage;
pub use user::UserPage;
pub use users::UsersPage;

/// The password pages' chunk: asking for a reset, the reset link, and choosing one's own
/// password after a temporary one.
#[leptos::component]
pub fn PasswordPages() -> impl leptos::IntoView {
    use leptos::prelude::*;
    let location = leptos_router::hooks::use_location();
    let page = Memo::new(move |_| {
        let path = location.pathname.read();
        (path.starts_with("/forgot-password"), path.starts_with("/choose-password"))
    });
    move || match page.get() {
        (true, _) => view! { <ForgotPasswordPage/> }.into_any(),
        (_, true) => view! { <ChoosePasswordPage/> }.into_any(),
        _ => view! { <ResetPasswordPage/> }.into_any(),
    }
}

/// Settings → API tokens and Webhooks, one chunk.
#[leptos::component]
pub fn IntegrationsPage() -> impl leptos::IntoView {
    use leptos::prelude::*;
    let location = leptos_router::hooks::use_location();
    let tokens = Memo::new(move |_| location.pathname.read().starts_with("/settings/api-tokens"));
    move || match tokens.get() {
        true => view! { <ApiTokensPage/> }.into_any(),
        false => view! { <WebhooksPage/> }.into_any(),
    }
}
