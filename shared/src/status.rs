//! Where users and invitations stand. The database stores a user's and an invitation's own
//! state; what an administrator sees (an invitation that has expired, a user whose
//! invitation has) is derived from it here, with the one expiry rule, at the clock's time.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stored value that is not one of ours: the database was changed by hand or by a newer
/// version. An error at the store boundary, never a silent default.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} “{value}” in the database")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// A pending invitation is expired from the instant of its expiry on.
pub fn is_expired(expires_at_ms: i64, now_ms: i64) -> bool {
    now_ms >= expires_at_ms
}

macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored in the database and carried in addresses and forms.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::parse(&value).ok_or(UnknownValue { what: $what, value })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum!(
    /// A user's own state as stored. "Expired" is never stored: see [`UserStatus::of`].
    StoredUserStatus, "user status", {
        ProfileOnly => "profile_only",
        Invited => "invited",
        Active => "active",
        Deactivated => "deactivated",
    }
);

stored_enum!(
    /// An invitation's own state as stored. "Expired" is never stored: see [`InvitationState::of`].
    StoredInvitationState, "invitation state", {
        Pending => "pending",
        Accepted => "accepted",
        Cancelled => "cancelled",
    }
);

stored_enum!(
    /// What a user is, as the Users page shows and filters it.
    UserStatus, "user status", {
        ProfileOnly => "profile_only",
        Invited => "invited",
        Expired => "expired",
        Active => "active",
        Deactivated => "deactivated",
    }
);

impl UserStatus {
    /// The status now of a user stored as `stored`, whose pending invitation (if any) expires
    /// at `pending_expires_at_ms`: an invited user whose invitation has expired is Expired.
    pub fn of(stored: StoredUserStatus, pending_expires_at_ms: Option<i64>, now_ms: i64) -> UserStatus {
        match stored {
            StoredUserStatus::Active => UserStatus::Active,
            StoredUserStatus::Deactivated => UserStatus::Deactivated,
            StoredUserStatus::ProfileOnly => UserStatus::ProfileOnly,
            StoredUserStatus::Invited if pending_expires_at_ms.is_some_and(|at| is_expired(at, now_ms)) => UserStatus::Expired,
            StoredUserStatus::Invited => UserStatus::Invited,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UserStatus::ProfileOnly => "Profile only",
            UserStatus::Invited => "Invited",
            UserStatus::Expired => "Expired",
            UserStatus::Active => "Active",
            UserStatus::Deactivated => "Deactivated",
        }
    }
}

/// An invitation as its link and the admin see it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationState {
    Pending,
    Accepted,
    Cancelled,
    Expired,
}

impl InvitationState {
    /// The state at `now_ms` of an invitation stored as `stored`: pending past its expiry is expired.
    pub fn of(stored: StoredInvitationState, expires_at_ms: i64, now_ms: i64) -> InvitationState {
        match stored {
            StoredInvitationState::Accepted => InvitationState::Accepted,
            StoredInvitationState::Cancelled => InvitationState::Cancelled,
            StoredInvitationState::Pending if is_expired(expires_at_ms, now_ms) => InvitationState::Expired,
            StoredInvitationState::Pending => InvitationState::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_invitation_expires_exactly_at_its_expiry() {
        assert_eq!(InvitationState::of(StoredInvitationState::Pending, 1000, 999), InvitationState::Pending);
        assert_eq!(InvitationState::of(StoredInvitationState::Pending, 1000, 1000), InvitationState::Expired);
        assert_eq!(InvitationState::of(StoredInvitationState::Accepted, 1000, 5000), InvitationState::Accepted);
        assert_eq!(UserStatus::of(StoredUserStatus::Invited, Some(1000), 999), UserStatus::Invited);
        assert_eq!(UserStatus::of(StoredUserStatus::Invited, Some(1000), 1000), UserStatus::Expired);
        assert_eq!(
            UserStatus::of(StoredUserStatus::Active, Some(1000), 1000),
            UserStatus::Active,
            "an active user's expired extra invitation leaves them active"
        );
    }

    #[test]
    fn stored_values_round_trip_and_unknown_ones_are_errors() {
        for s in StoredUserStatus::ALL {
            assert_eq!(StoredUserStatus::try_from(s.as_str().to_string()), Ok(*s));
        }
        for s in StoredInvitationState::ALL {
            assert_eq!(StoredInvitationState::try_from(s.as_str().to_string()), Ok(*s));
        }
        let bad = StoredUserStatus::try_from("expired".to_string()).unwrap_err();
        assert_eq!(bad.to_string(), "unknown user status “expired” in the database");
    }
}
