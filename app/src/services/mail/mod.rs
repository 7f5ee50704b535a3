//! Outgoing email: the outbox (written inside the caller's transaction), the templates,
//! the transport (SMTP or files), the delivery worker, and the admin's view of it all.

pub mod bounces;
pub mod budget;
pub mod dkim;
pub mod log;
/// The outbox's SQL lives with the rest in `store`.
pub use crate::services::store::outbox;
pub mod templates;
pub mod transport;
pub mod worker;
