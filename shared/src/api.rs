//! API tokens as the Settings page and the API both speak of them: their prefix, their limits
//! and how they are listed.

use crate::permissions::TokenScopes;
use serde::{Deserialize, Serialize};

/// Every token starts so: a leaked one is recognisable in a log or a repository (and secret
/// scanners can be taught it).
pub const TOKEN_PREFIX: &str = "bk_live_";

/// Where the API is served.
pub const API_BASE: &str = "/api/v1";

/// The longest name a token may have.
pub const MAX_TOKEN_NAME_CHARS: usize = 80;

/// The longest a token may live when it has an expiry, in days.
pub const MAX_TOKEN_DAYS: u32 = 366;

/// The expiries the Settings page offers, in days (`None`: never).
pub const TOKEN_EXPIRY_CHOICES: [Option<u32>; 5] = [Some(7), Some(30), Some(90), Some(366), None];

/// Calls one token may make in a minute, unless the operator sets otherwise.
pub const CALLS_PER_MINUTE: i64 = 600;

/// How long a POST's `Idempotency-Key` and its answer are kept.
pub const IDEMPOTENCY_HOURS: i64 = 24;

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// A token as Settings → API tokens lists it. Its secret is never listed: it is shown once,
/// when it is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenView {
    pub id: String,
    pub name: String,
    pub scopes: TokenScopes,
    /// `bk_live_…abcd`: enough to tell tokens apart.
    pub hint: String,
    pub owner: String,
    /// Made by the person looking.
    pub mine: bool,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub last_used_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

impl ApiTokenView {
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms.is_none_or(|at| at > now_ms)
    }

    /// "Revoked", "Expired" or "Active".
    pub fn state_label(&self, now_ms: i64) -> &'static str {
        match (self.revoked_at_ms, self.expires_at_ms) {
            (Some(_), _) => "Revoked",
            (None, Some(at)) if at <= now_ms => "Expired",
            _ => "Active",
        }
    }
}

/// "Read only", "Read, invitations", "Read, invitations, people administration".
pub fn scopes_label(scopes: TokenScopes) -> String {
    let mut parts = vec!["Read"];
    if scopes.invitations {
        parts.push("invitations");
    }
    if scopes.people {
        parts.push("people administration");
    }
    if parts.len() == 1 {
        "Read only".into()
    } else {
        parts.join(", ")
    }
}

/// Settings → API tokens' list, as of `now_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokens {
    pub tokens: Vec<ApiTokenView>,
    pub now_ms: i64,
}

/// A token just made: the secret, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: ApiTokenView,
    pub secret: String,
}

/// Checks a token's name and expiry as the form gives them.
pub fn validate_new_token(name: &str, expires_in_days: Option<u32>) -> Result<String, crate::AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(crate::AppError::Validation("Give the token a name, so you know later what uses it.".into()));
    }
    if name.chars().count() > MAX_TOKEN_NAME_CHARS {
        return Err(crate::AppError::Validation(format!("Keep the name under {MAX_TOKEN_NAME_CHARS} characters.")));
    }
    if expires_in_days.is_some_and(|d| d == 0 || d > MAX_TOKEN_DAYS) {
        return Err(crate::AppError::Validation(format!("A token expires within 1 to {MAX_TOKEN_DAYS} days, or never.")));
    }
    Ok(name.to_string())
}
