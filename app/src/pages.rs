//! One module per page.

mod admin_layout;
mod audit_log;
mod choose_password;
mod delivery_log;
mod forgot_password;
mod home;
mod invite;
mod not_found;
mod organisation;
mod people;
mod place;
mod reset_password;
mod settings;
mod settings_email;
mod settings_invitations;
mod settings_roles;
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
pub use invite::InvitePage;
pub use not_found::NotFound;
pub use organisation::OrganisationPage;
pub use place::PlacePage;
pub use reset_password::ResetPasswordPage;
pub use settings::SettingsPage;
pub use setup::SetupPage;
pub use sign_in::SignInPage;
pub use user::UserPage;
pub use users::UsersPage;
