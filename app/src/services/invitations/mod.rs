//! The invitation lifecycle: invite, resend, remind, send new, copy link, manage roles,
//! cancel (service.rs); what a link shows and accepting it (accept.rs); the links
//! themselves (link.rs); the emails they cause (notify.rs).

pub mod accept;
pub mod link;
pub mod listing;
pub(crate) mod notify;
pub mod reminders;
pub mod service;
pub mod settings;
