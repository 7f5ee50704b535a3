//! Server functions: each takes the actor and input, calls one service, and returns a
//! view or a typed error. One file per area. Each has a stable address, `/api/{name}`
//! (form-encoded arguments, JSON answer), so scripts and logs can name it.

mod api_tokens;
mod audit;
mod auth;
mod imports;
mod invitations;
mod jobs;
mod mail;
mod people;
mod roles;
mod scopes;
mod users;
mod webhooks;

pub use api_tokens::*;
pub use audit::*;
pub use auth::*;
pub use imports::*;
pub use invitations::*;
pub use jobs::*;
pub use mail::*;
pub use people::*;
pub use roles::*;
pub use scopes::*;
pub use users::*;
pub use webhooks::*;
