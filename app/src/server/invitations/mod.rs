//! The invitation lifecycle: invite, resend, remind, send new, copy link, manage roles,
//! cancel (service.rs); what a link shows and accepting it (accept.rs); the links
//! themselves (link.rs); the emails they cause (notify.rs).

pub mod accept;
pub mod link;
mod notify;
pub mod service;
pub mod settings;

use super::rate_limit::Limit;
use std::time::Duration;

/// At most this many emails per invitation, so a mailbox cannot be flooded.
pub const SENDS_PER_INVITATION: Limit = Limit::per(5, Duration::from_secs(3600));
