//! The vocabulary the server and the browser agree on: validated values, states, roles,
//! the rules deciding who may do what, and the views the server functions return.
//! No I/O here; this crate compiles for the server and for wasm32.

pub mod api;
pub mod audit;
pub mod bulk;
pub mod email;
pub mod error;
pub mod html;
pub mod import;
pub mod invitations;
pub mod mail;
pub mod messages;
pub mod names;
pub mod password;
pub mod people;
pub mod permissions;
pub mod roles;
pub mod scopes;
pub mod status;
pub mod typos;
pub mod url;
pub mod views;
pub mod webhooks;

pub use email::Email;
pub use error::AppError;
pub use roles::{Role, RoleKey};
