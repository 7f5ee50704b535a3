use crate::permissions::Denied;
use serde::{Deserialize, Serialize};

/// The largest request body the server reads (an invitation of 500 addresses is about
/// 130 KB); anything larger is answered 413 before it is read.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The errors a browser may see. Causes stay in the server log; only these safe
/// variants cross the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Please sign in to continue.")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(Denied),
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    Validation(String),
    #[error("This request did not come from Beckon's own pages, so it was refused. Reload the page and try again.")]
    CrossSite,
    #[error("Too many attempts, try again in {}.", wait_phrase(*retry_after_secs))]
    RateLimited { retry_after_secs: u64 },
    /// The request did not reach the server whole, or could not be read there. Says
    /// nothing of the cause: that is for the log, never for the page.
    #[error("The request could not be completed. Check your connection, reload the page and try again.")]
    Transport,
    #[error("The request is too large (at most {} MB).", MAX_REQUEST_BYTES / (1024 * 1024))]
    TooLarge,
    /// The database cannot be reached just now (restarting, a network cut) or cannot take
    /// writes (a full disk): nothing was done, and trying again in a moment will work.
    #[error("Beckon is temporarily unavailable. Try again in a moment.")]
    Unavailable,
    #[error("Something went wrong. Please try again.")]
    Internal,
    /// Signed in with a temporary password an administrator set: the person chooses their own
    /// before anything else opens.
    #[error("Choose your own password before anything else.")]
    PasswordChangeRequired,
}

/// How long a client is asked to wait (`Retry-After`) when Beckon is unavailable.
pub const RETRY_AFTER_SECS: u64 = 5;

impl AppError {
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthenticated => 401,
            AppError::Forbidden(_) | AppError::CrossSite | AppError::PasswordChangeRequired => 403,
            AppError::NotFound => 404,
            AppError::InvalidState(_) => 409,
            AppError::Validation(_) => 422,
            AppError::RateLimited { .. } => 429,
            AppError::Transport => 400,
            AppError::TooLarge => 413,
            AppError::Unavailable => 503,
            AppError::Internal => 500,
        }
    }
}

impl AppError {
    /// The text to show for an error that arrived in the page's address (a form posted
    /// without JavaScript): free text only when it is one of our own form messages, since
    /// anyone can put an error into an address.
    pub fn shown_from_link(&self) -> String {
        match self {
            AppError::Validation(m) | AppError::InvalidState(m) if crate::messages::is_known(m) => m.clone(),
            AppError::Validation(_) | AppError::InvalidState(_) => crate::messages::GENERIC.to_string(),
            other => other.to_string(),
        }
    }
}

/// "N minutes" rounded up, or seconds under a minute.
pub fn wait_phrase(secs: u64) -> String {
    if secs < 60 {
        let s = secs.max(1);
        format!("{s} second{}", if s == 1 { "" } else { "s" })
    } else {
        let m = secs.div_ceil(60);
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    }
}

#[cfg(feature = "server-fn")]
impl server_fn::error::FromServerFnError for AppError {
    type Encoder = server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(_) | E::Response(_) | E::Args(_) | E::Deserialization(_) | E::MissingArg(_) => AppError::Transport,
            _ => AppError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_messages_are_shown_from_a_link() {
        let ours = AppError::Validation(crate::messages::WRONG_CREDENTIALS.into());
        assert_eq!(ours.shown_from_link(), "Incorrect email or password.");
        let crafted = AppError::Validation("Your account is locked. Call +1 555 0100.".into());
        assert_eq!(crafted.shown_from_link(), crate::messages::GENERIC);
        assert!(AppError::RateLimited { retry_after_secs: 90 }.shown_from_link().contains("2 minutes"));
    }

    #[test]
    fn rate_limited_message_rounds_minutes_up() {
        let e = AppError::RateLimited { retry_after_secs: 61 };
        assert_eq!(e.to_string(), "Too many attempts, try again in 2 minutes.");
        let e = AppError::RateLimited { retry_after_secs: 1 };
        assert_eq!(e.to_string(), "Too many attempts, try again in 1 second.");
    }
}
