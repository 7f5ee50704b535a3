//! Server-side services (feature `ssr`): they decide, authorise, audit and write, each
//! inside one transaction. Server functions and form handlers call them; so do tests.

pub mod accounts;
pub mod actor;
pub mod api_tokens;
pub mod audit_log;
pub mod auth;
pub mod checkpoints;
pub mod clock;
pub mod context;
pub mod csv_out;
pub mod db;
pub mod error;
pub mod grants;
pub mod imports;
pub mod invitations;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod password_reset;
pub mod passwords;
pub mod people;
pub mod rate_limit;
pub mod roles;
pub mod runner;
pub mod scopes;
pub mod state;
pub mod store;
// The audit trail is rows in `store`; its old address stays for the services.
pub use store::audit;
pub mod users;
pub mod webhooks;

pub use actor::Actor;
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::Db;
pub use state::{AppState, AppStateParts, AuthSettings};
