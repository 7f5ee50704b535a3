//! Invitations: their states, the actions an administrator may take on them, and the one
//! rule deciding which actions a state allows. The Users page shows exactly the actions
//! this rule allows and the server refuses everything else with the same rule.

use crate::permissions::may_act_on;
use crate::views::UserStatus;
use crate::{AppError, Role};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationState {
    Pending,
    Accepted,
    Cancelled,
    Expired,
}

impl InvitationState {
    /// The state as of `now_ms`: a pending invitation past its expiry is expired.
    pub fn at(stored: &str, expires_at_ms: i64, now_ms: i64) -> InvitationState {
        match stored {
            "accepted" => InvitationState::Accepted,
            "cancelled" => InvitationState::Cancelled,
            _ if now_ms >= expires_at_ms => InvitationState::Expired,
            _ => InvitationState::Pending,
        }
    }
}

/// What an administrator can do from a row's "•••" menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InvitationAction {
    Resend,
    CopyLink,
    SendNew,
    Remind,
    Manage,
    Cancel,
    InviteToActivate,
}

impl InvitationAction {
    pub fn label(self) -> &'static str {
        match self {
            InvitationAction::Resend => "Resend invitation",
            InvitationAction::CopyLink => "Copy invitation link",
            InvitationAction::SendNew => "Send new invitation",
            InvitationAction::Remind => "Send reminder",
            InvitationAction::Manage => "Manage invitation",
            InvitationAction::Cancel => "Cancel invitation",
            InvitationAction::InviteToActivate => "Invite user to activate account",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationAction::Resend => "resend",
            InvitationAction::CopyLink => "copy_link",
            InvitationAction::SendNew => "send_new",
            InvitationAction::Remind => "remind",
            InvitationAction::Manage => "manage",
            InvitationAction::Cancel => "cancel",
            InvitationAction::InviteToActivate => "invite_to_activate",
        }
    }

    pub fn parse(s: &str) -> Option<InvitationAction> {
        ALL_ACTIONS.into_iter().find(|a| a.as_str() == s)
    }
}

pub const ALL_ACTIONS: [InvitationAction; 7] = [
    InvitationAction::Resend,
    InvitationAction::CopyLink,
    InvitationAction::Remind,
    InvitationAction::Manage,
    InvitationAction::SendNew,
    InvitationAction::Cancel,
    InvitationAction::InviteToActivate,
];

/// The actions a user's status allows, in menu order. A live invitation can be resent,
/// copied, reminded, managed or cancelled; once expired only a new invitation (or
/// cancelling) makes sense; a profile-only user can be invited to activate.
fn actions_for_status(status: UserStatus) -> Vec<InvitationAction> {
    use InvitationAction::*;
    match status {
        UserStatus::Invited => vec![Resend, CopyLink, Remind, Manage, Cancel],
        UserStatus::Expired => vec![SendNew, Cancel],
        UserStatus::ProfileOnly => vec![InviteToActivate],
        UserStatus::Active | UserStatus::Deactivated => vec![],
    }
}

/// The actions `actor_roles` may take on a user in `status` whose invitation offers
/// `offered`, in menu order: what the status allows, and nothing at all when the actor may
/// not manage invitations or the invitation offers a role above the actor's own.
pub fn allowed_actions(actor_roles: &[Role], status: UserStatus, offered: &[Role]) -> Vec<InvitationAction> {
    if may_act_on(actor_roles, offered).is_err() {
        return Vec::new();
    }
    actions_for_status(status)
}

/// Refuses what [`allowed_actions`] does not offer: a permission error (403) when the actor
/// may not act on this invitation at all, otherwise a state error saying why not now.
pub fn ensure_allowed(actor_roles: &[Role], action: InvitationAction, status: UserStatus, offered: &[Role]) -> Result<(), AppError> {
    may_act_on(actor_roles, offered).map_err(AppError::Forbidden)?;
    if actions_for_status(status).contains(&action) {
        return Ok(());
    }
    let why = match status {
        UserStatus::Expired => "This invitation has expired. Send a new invitation instead.",
        UserStatus::Active => "This person has already accepted and is active.",
        UserStatus::Deactivated => "This user is deactivated.",
        UserStatus::ProfileOnly => "This user has no pending invitation.",
        UserStatus::Invited => "That is not possible while the invitation is pending.",
    };
    Err(AppError::InvalidState(why.into()))
}

/// "just now", "5 minutes ago", "yesterday", "3 days ago", "on 2026-03-02".
pub fn relative_time(then_ms: i64, now_ms: i64) -> String {
    let minutes = (now_ms - then_ms).max(0) / 60_000;
    let plural = |n: i64, unit: &str| format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" });
    match minutes {
        0 => "just now".into(),
        1..=59 => plural(minutes, "minute"),
        60..=1439 => plural(minutes / 60, "hour"),
        1440..=2879 => "yesterday".into(),
        2880..=10079 => plural(minutes / 1440, "day"),
        _ => chrono::DateTime::from_timestamp_millis(then_ms)
            .map(|d| format!("on {}", d.format("%Y-%m-%d")))
            .unwrap_or_default(),
    }
}

/// "in 6 days", "in 3 hours", "in 12 minutes" or "now" for a future moment.
pub fn time_until(then_ms: i64, now_ms: i64) -> String {
    let minutes = (then_ms - now_ms).max(0) / 60_000;
    let plural = |n: i64, unit: &str| format!("in {n} {unit}{}", if n == 1 { "" } else { "s" });
    match minutes {
        0 => "now".into(),
        1..=59 => plural(minutes, "minute"),
        60..=2879 => plural(minutes / 60, "hour"),
        _ => plural(minutes / 1440, "day"),
    }
}

/// Splits what an admin pasted (commas, semicolons, spaces, new lines) into addresses.
pub fn split_addresses(raw: &str) -> Vec<&str> {
    raw.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|s| !s.is_empty()).collect()
}

pub const MAX_INVITES_PER_BATCH: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &[Role] = &[Role::Owner];

    #[test]
    fn expired_offers_only_send_new_and_cancel() {
        let member = &[Role::Member][..];
        assert_eq!(allowed_actions(OWNER, UserStatus::Expired, member), vec![InvitationAction::SendNew, InvitationAction::Cancel]);
        assert!(ensure_allowed(OWNER, InvitationAction::Resend, UserStatus::Expired, member).is_err());
        assert!(ensure_allowed(OWNER, InvitationAction::SendNew, UserStatus::Invited, member).is_err());
        assert!(ensure_allowed(OWNER, InvitationAction::InviteToActivate, UserStatus::ProfileOnly, &[]).is_ok());
        assert!(allowed_actions(OWNER, UserStatus::Active, member).is_empty());
    }

    #[test]
    fn an_invitation_above_the_actor_offers_nothing_and_is_refused_with_403() {
        let hr = &[Role::Hr][..];
        assert!(allowed_actions(hr, UserStatus::Invited, &[Role::Owner]).is_empty());
        assert!(allowed_actions(hr, UserStatus::Invited, &[Role::Member, Role::Admin]).is_empty());
        assert_eq!(allowed_actions(hr, UserStatus::Invited, &[Role::Hr]).len(), 5);
        let refused = ensure_allowed(hr, InvitationAction::CopyLink, UserStatus::Invited, &[Role::Owner]).unwrap_err();
        assert_eq!(refused.status_code(), 403);
        // Refused for the role before the state is considered: nothing is said of the state.
        let refused = ensure_allowed(hr, InvitationAction::Resend, UserStatus::Expired, &[Role::Owner]).unwrap_err();
        assert_eq!(refused.status_code(), 403);
        assert!(allowed_actions(&[Role::Member], UserStatus::ProfileOnly, &[]).is_empty());
    }

    #[test]
    fn a_pending_invitation_expires_exactly_at_its_expiry() {
        assert_eq!(InvitationState::at("pending", 1000, 999), InvitationState::Pending);
        assert_eq!(InvitationState::at("pending", 1000, 1000), InvitationState::Expired);
        assert_eq!(InvitationState::at("accepted", 1000, 5000), InvitationState::Accepted);
    }

    #[test]
    fn relative_times_read_naturally() {
        let day = 86_400_000;
        assert_eq!(relative_time(0, 30_000), "just now");
        assert_eq!(relative_time(0, 5 * 60_000), "5 minutes ago");
        assert_eq!(relative_time(0, day + 1), "yesterday");
        assert_eq!(relative_time(0, 3 * day), "3 days ago");
        assert_eq!(time_until(7 * day, 0), "in 7 days");
    }

    #[test]
    fn pasted_lists_split_on_any_separator() {
        assert_eq!(split_addresses("a@x.io, b@x.io;c@x.io\nd@x.io  e@x.io"), vec!["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"]);
    }
}
