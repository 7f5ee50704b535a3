//! One module per page.

mod admin_layout;
mod home;
mod not_found;
mod settings;
mod setup;
mod sign_in;
mod users;

pub use admin_layout::AdminLayout;
pub use home::Home;
pub use not_found::NotFound;
pub use settings::SettingsPage;
pub use setup::SetupPage;
pub use sign_in::SignInPage;
pub use users::UsersPage;
