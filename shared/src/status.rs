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
    /// What a user is, as the Users page shows and filters it, in the Status order.
    UserStatus, "user status", {
        ProfileOnly => "profile_only",
        Invited => "invited",
        AwaitingConfirmation => "awaiting_confirmation",
        Expired => "expired",
        Active => "active",
        Deactivated => "deactivated",
    }
);

/// What a user's status depends on of their open invitation (pending, or past its expiry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenInvitation {
    pub expires_at_ms: i64,
    /// They accepted it, and its roles wait for an administrator's confirmation.
    pub awaiting_confirmation: bool,
}

impl UserStatus {
    /// The status now of a user stored as `stored`, with their open invitation (if any): an
    /// invited user whose invitation has expired is Expired; one who accepted it while its
    /// inviter could no longer grant its roles is Awaiting confirmation until it expires.
    pub fn of(stored: StoredUserStatus, open: Option<OpenInvitation>, now_ms: i64) -> UserStatus {
        match (stored, open) {
            (StoredUserStatus::Active, _) => UserStatus::Active,
            (StoredUserStatus::Deactivated, _) => UserStatus::Deactivated,
            (StoredUserStatus::ProfileOnly, _) => UserStatus::ProfileOnly,
            (StoredUserStatus::Invited, Some(open)) if is_expired(open.expires_at_ms, now_ms) => UserStatus::Expired,
            (StoredUserStatus::Invited, Some(open)) if open.awaiting_confirmation => UserStatus::AwaitingConfirmation,
            (StoredUserStatus::Invited, _) => UserStatus::Invited,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UserStatus::ProfileOnly => "Profile only",
            UserStatus::Invited => "Invited",
            UserStatus::AwaitingConfirmation => "Awaiting confirmation",
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
    /// The invitee accepted, but its inviter could no longer grant every role it offers: an
    /// administrator who can confirms it (or cancels it) before it expires.
    AwaitingConfirmation,
    Accepted,
    Cancelled,
    Expired,
}

impl InvitationState {
    pub const ALL: [InvitationState; 5] =
        [InvitationState::Pending, InvitationState::AwaitingConfirmation, InvitationState::Accepted, InvitationState::Cancelled, InvitationState::Expired];

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::AwaitingConfirmation => "awaiting_confirmation",
            InvitationState::Accepted => "accepted",
            InvitationState::Cancelled => "cancelled",
            InvitationState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<InvitationState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The state at `now_ms` of an invitation stored as `stored` (`awaiting`: accepted, its
    /// roles waiting for confirmation): pending past its expiry is expired, awaiting or not.
    pub fn of(stored: StoredInvitationState, expires_at_ms: i64, awaiting: bool, now_ms: i64) -> InvitationState {
        match stored {
            StoredInvitationState::Accepted => InvitationState::Accepted,
            StoredInvitationState::Cancelled => InvitationState::Cancelled,
            StoredInvitationState::Pending if is_expired(expires_at_ms, now_ms) => InvitationState::Expired,
            StoredInvitationState::Pending if awaiting => InvitationState::AwaitingConfirmation,
            StoredInvitationState::Pending => InvitationState::Pending,
        }
    }
}

stored_enum!(
    /// Why an accepted invitation waits for an administrator: what its inviter could no
    /// longer grant at the moment it was accepted. Stored with the invitation.
    AwaitingReason, "awaiting reason", {
        InviterGone => "inviter_gone",
        InviterInactive => "inviter_inactive",
        InviterLacksAuthority => "inviter_lacks_authority",
        PlaceArchived => "place_archived",
    }
);

impl AwaitingReason {
    /// Why, for the administrator who may confirm it.
    pub fn explanation(self) -> &'static str {
        match self {
            AwaitingReason::InviterGone => "the person who invited them no longer has an account",
            AwaitingReason::InviterInactive => "the person who invited them is no longer active",
            AwaitingReason::InviterLacksAuthority => "the person who invited them can no longer grant every role it offers",
            AwaitingReason::PlaceArchived => "a place it offers a role in is archived",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_invitation_expires_exactly_at_its_expiry() {
        let open = Some(OpenInvitation { expires_at_ms: 1000, awaiting_confirmation: false });
        assert_eq!(InvitationState::of(StoredInvitationState::Pending, 1000, false, 999), InvitationState::Pending);
        assert_eq!(InvitationState::of(StoredInvitationState::Pending, 1000, false, 1000), InvitationState::Expired);
        assert_eq!(InvitationState::of(StoredInvitationState::Accepted, 1000, false, 5000), InvitationState::Accepted);
        assert_eq!(UserStatus::of(StoredUserStatus::Invited, open, 999), UserStatus::Invited);
        assert_eq!(UserStatus::of(StoredUserStatus::Invited, open, 1000), UserStatus::Expired);
        assert_eq!(UserStatus::of(StoredUserStatus::Active, open, 1000), UserStatus::Active, "an active user's expired extra invitation leaves them active");
    }

    #[test]
    fn an_accepted_invitation_awaiting_confirmation_still_expires() {
        let open = Some(OpenInvitation { expires_at_ms: 1000, awaiting_confirmation: true });
        assert_eq!(InvitationState::of(StoredInvitationState::Pending, 1000, true, 999), InvitationState::AwaitingConfirmation);
        assert_eq!(InvitationState::of(StoredInvitationState::Pending, 1000, true, 1000), InvitationState::Expired);
        assert_eq!(UserStatus::of(StoredUserStatus::Invited, open, 999), UserStatus::AwaitingConfirmation);
        assert_eq!(UserStatus::of(StoredUserStatus::Invited, open, 1000), UserStatus::Expired);
        assert_eq!(UserStatus::of(StoredUserStatus::Active, open, 999), UserStatus::Active, "an active person waits for more roles, active");
        for reason in AwaitingReason::ALL {
            assert_eq!(AwaitingReason::try_from(reason.as_str().to_string()), Ok(*reason));
        }
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
