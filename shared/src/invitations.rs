//! Invitations: their states, the actions an administrator may take on them, and the one
//! rule deciding which actions a state allows. The Users page shows exactly the actions
//! this rule allows and the server refuses everything else with the same rule.

use crate::bulk::SkipReason;
use crate::permissions::Authority;
use crate::scopes::Grant;
use crate::status::{InvitationState, UserStatus};
use crate::AppError;
use serde::{Deserialize, Serialize};

/// The longest personal message an invitation may carry, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// What an administrator can do from a row's "•••" menu.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InvitationAction {
    Resend,
    CopyLink,
    SendNew,
    Remind,
    /// Moves the expiry on, sending nothing and keeping the link (the person said they will
    /// get to it).
    Extend,
    Manage,
    Cancel,
    InviteToActivate,
    /// Grants the roles of an accepted invitation that waits for an administrator.
    Confirm,
}

impl InvitationAction {
    pub fn label(self) -> &'static str {
        match self {
            InvitationAction::Resend => "Resend invitation",
            InvitationAction::CopyLink => "Copy invitation link",
            InvitationAction::SendNew => "Send new invitation",
            InvitationAction::Remind => "Send reminder",
            InvitationAction::Extend => "Extend invitation",
            InvitationAction::Manage => "Manage invitation",
            InvitationAction::Cancel => "Cancel invitation",
            InvitationAction::InviteToActivate => "Invite user to activate account",
            InvitationAction::Confirm => "Confirm and grant the roles",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InvitationAction::Resend => "resend",
            InvitationAction::CopyLink => "copy_link",
            InvitationAction::SendNew => "send_new",
            InvitationAction::Remind => "remind",
            InvitationAction::Extend => "extend",
            InvitationAction::Manage => "manage",
            InvitationAction::Cancel => "cancel",
            InvitationAction::InviteToActivate => "invite_to_activate",
            InvitationAction::Confirm => "confirm",
        }
    }

    pub fn parse(s: &str) -> Option<InvitationAction> {
        ALL_ACTIONS.into_iter().find(|a| a.as_str() == s)
    }
}

pub const ALL_ACTIONS: [InvitationAction; 9] = [
    InvitationAction::Confirm,
    InvitationAction::Resend,
    InvitationAction::CopyLink,
    InvitationAction::Remind,
    InvitationAction::Extend,
    InvitationAction::Manage,
    InvitationAction::SendNew,
    InvitationAction::Cancel,
    InvitationAction::InviteToActivate,
];

/// What an action is about: a user, their open invitation (pending or past its expiry), and
/// the roles that invitation offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub status: UserStatus,
    pub invitation: Option<InvitationState>,
    pub offered: Vec<Grant>,
}

/// The actions the situation allows, in menu order. A live invitation can be resent,
/// copied, reminded, managed or cancelled; once expired only a new invitation (or
/// cancelling) makes sense; a profile-only user can be invited to activate. An active user
/// may have an invitation open too (into further roles or places), with the same actions.
fn actions_for(subject: &Subject) -> Vec<InvitationAction> {
    use InvitationAction::*;
    match (subject.invitation, subject.status) {
        (Some(InvitationState::Pending), _) => vec![Resend, CopyLink, Remind, Extend, Manage, Cancel],
        (Some(InvitationState::AwaitingConfirmation), _) => vec![Confirm, Cancel],
        (Some(InvitationState::Expired), _) => vec![SendNew, Cancel],
        (_, UserStatus::ProfileOnly) => vec![InviteToActivate],
        _ => vec![],
    }
}

/// The actions `actor` may take on `subject`, in menu order: what the situation allows, and
/// nothing at all when the actor may not act on this invitation (a role above their own, a
/// place they do not administer).
pub fn allowed_actions(actor: &Authority, subject: &Subject) -> Vec<InvitationAction> {
    if actor.may_act_on(&subject.offered).is_err() {
        return Vec::new();
    }
    actions_for(subject)
}

/// Why [`allowed_actions`] does not offer `action`, if it does not: the actor may not act on
/// this invitation at all, or the situation does not allow it now.
pub fn refusal(actor: &Authority, action: InvitationAction, subject: &Subject) -> Option<SkipReason> {
    if let Err(denied) = actor.may_act_on(&subject.offered) {
        return Some(denied.into());
    }
    if actions_for(subject).contains(&action) {
        return None;
    }
    Some(match (subject.invitation, subject.status) {
        (Some(InvitationState::Expired), _) | (_, UserStatus::Expired) => SkipReason::InvitationExpired,
        (Some(InvitationState::AwaitingConfirmation), _) | (_, UserStatus::AwaitingConfirmation) => SkipReason::AwaitingConfirmation,
        (Some(InvitationState::Pending), _) if action == InvitationAction::Confirm => SkipReason::NotAccepted,
        (None, UserStatus::Active) => SkipReason::AlreadyAccepted,
        (_, UserStatus::Deactivated) => SkipReason::Deactivated,
        (None, UserStatus::ProfileOnly) => SkipReason::NoPendingInvitation,
        _ => SkipReason::StillPending,
    })
}

/// Refuses what [`allowed_actions`] does not offer: a permission error (403) when the actor
/// may not act on this invitation at all, otherwise a state error saying why not now.
pub fn ensure_allowed(actor: &Authority, action: InvitationAction, subject: &Subject) -> Result<(), AppError> {
    refusal(actor, action, subject).map_or(Ok(()), |reason| Err(reason.into_error()))
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
        _ => format!("on {}", utc_date(then_ms)),
    }
}

/// The UTC calendar date of a moment, "2026-03-02". By arithmetic on days (the civil
/// calendar's 400-year cycles of 146,097 days): a date library's formatter would be 5 KB of
/// every people page's wasm for this one string.
pub fn utc_date(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Days since 0000-03-01, so that a leap day falls at the end of its year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The exact UTC moment, "2026-03-02 14:05:09 UTC" (shown on hover beside a relative time).
pub fn utc_date_time(ms: i64) -> String {
    let second = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{} {:02}:{:02}:{:02} UTC", utc_date(ms), second / 3600, second / 60 % 60, second % 60)
}

/// Midnight UTC at the start of a date written "2026-03-02", in milliseconds; `None` when it
/// is not such a date.
pub fn parse_utc_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let (year, month, day): (i64, i64, i64) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // The inverse of `utc_date`'s arithmetic.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let ms = days * 86_400_000;
    // 2026-02-31 is not a date: it would come back as another day.
    (utc_date(ms) == format!("{year:04}-{month:02}-{day:02}")).then_some(ms)
}

/// "in 6 days", "in 3 hours", "in 12 minutes" or "now" for a future moment.
pub fn time_until(then_ms: i64, now_ms: i64) -> String {
    let minutes = (then_ms - now_ms).max(0) / 60_000;
    let plural = |n: i64, unit: &str| format!("in {n} {unit}{}", if n == 1 { "" } else { "s" });
    match minutes {
        0 => "now".into(),
        1..=59 => plural(minutes, "minute"),
        60..=2879 => plural(minutes / 60, "hour"),
        // To the nearest day: a week's invitation sent a moment ago expires "in 7 days".
        _ => plural((minutes + 720) / 1440, "day"),
    }
}

/// "expires in 6 days" or "expired 2 days ago", on the one expiry rule.
pub fn expiry_phrase(expires_at_ms: i64, now_ms: i64) -> String {
    if crate::status::is_expired(expires_at_ms, now_ms) {
        format!("expired {}", relative_time(expires_at_ms, now_ms))
    } else {
        format!("expires {}", time_until(expires_at_ms, now_ms))
    }
}

/// Splits what an admin pasted (commas, semicolons, spaces, new lines) into addresses.
pub fn split_addresses(raw: &str) -> Vec<&str> {
    raw.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|s| !s.is_empty()).collect()
}

pub const MAX_INVITES_PER_BATCH: usize = 500;

/// How long an account's invitations stay open: a whole number of days from 1 to 90.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct ExpiryDays(i64);

impl ExpiryDays {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 90;
    /// What a new account starts with (the seeds' seven days).
    pub const DEFAULT: ExpiryDays = ExpiryDays(7);
    pub(crate) const DAY_MS: i64 = 86_400_000;

    pub fn new(days: i64) -> Result<ExpiryDays, AppError> {
        if (Self::MIN..=Self::MAX).contains(&days) {
            Ok(ExpiryDays(days))
        } else {
            Err(AppError::Validation(crate::messages::EXPIRY_RANGE.into()))
        }
    }

    /// Reads what an admin typed.
    pub fn parse(text: &str) -> Result<ExpiryDays, AppError> {
        let days = text.trim().parse::<i64>().map_err(|_| AppError::Validation(crate::messages::EXPIRY_NOT_A_NUMBER.into()))?;
        ExpiryDays::new(days)
    }

    pub fn days(self) -> i64 {
        self.0
    }

    /// When an invitation sent at `now_ms` expires.
    pub fn expiry_from(self, now_ms: i64) -> i64 {
        now_ms + self.0 * Self::DAY_MS
    }
}

/// When Beckon reminds an invitee by itself: so many days after an invitation was sent, and
/// so many days before it expires; either off. Each reminder goes at most once per link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoReminders {
    pub after_sending_days: Option<i64>,
    pub before_expiry_days: Option<i64>,
}

impl AutoReminders {
    pub const MAX_DAYS: i64 = ExpiryDays::MAX - 1;
    const DAY_MS: i64 = ExpiryDays::DAY_MS;

    /// Reads the two fields an admin filled (empty: off), for invitations open `expiry` long:
    /// each reminder must fall while the invitation is open.
    pub fn parse(after_sending: &str, before_expiry: &str, expiry: ExpiryDays) -> Result<AutoReminders, AppError> {
        let read = |text: &str, what: &str| -> Result<Option<i64>, AppError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            match text.parse::<i64>() {
                Ok(days) if (1..expiry.days()).contains(&days) => Ok(Some(days)),
                _ => Err(AppError::Validation(format!(
                    "Remind {what} a whole number of days from 1 to {} (invitations expire after {} days), or leave it empty.",
                    expiry.days() - 1,
                    expiry.days()
                ))),
            }
        };
        Ok(AutoReminders { after_sending_days: read(after_sending, "after sending")?, before_expiry_days: read(before_expiry, "before expiry")? })
    }

    /// When the reminder after sending is due for an invitation sent at `sent_at_ms`.
    pub fn after_sending_due(self, sent_at_ms: i64) -> Option<i64> {
        self.after_sending_days.map(|days| sent_at_ms + days * Self::DAY_MS)
    }

    /// When the reminder before expiry is due for an invitation expiring at `expires_at_ms`.
    pub fn before_expiry_due(self, expires_at_ms: i64) -> Option<i64> {
        self.before_expiry_days.map(|days| expires_at_ms - days * Self::DAY_MS)
    }
}

impl TryFrom<i64> for ExpiryDays {
    type Error = AppError;
    fn try_from(days: i64) -> Result<Self, Self::Error> {
        ExpiryDays::new(days)
    }
}

impl From<ExpiryDays> for i64 {
    fn from(value: ExpiryDays) -> i64 {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::Role;

    const ACCOUNT: &str = "00000000-0000-0000-0000-00000000000a";

    fn actor(roles: &[Role]) -> Authority {
        Authority::of_roles(ACCOUNT, roles)
    }

    fn offering(roles: &[Role]) -> Vec<Grant> {
        roles.iter().map(|r| Grant::new(ACCOUNT, *r)).collect()
    }

    fn subject(status: UserStatus, invitation: Option<InvitationState>, offered: &[Grant]) -> Subject {
        Subject { status, invitation, offered: offered.to_vec() }
    }

    #[test]
    fn expired_offers_only_send_new_and_cancel() {
        let owner = actor(&[Role::Owner]);
        let member = offering(&[Role::Member]);
        let expired = subject(UserStatus::Expired, Some(InvitationState::Expired), &member);
        assert_eq!(allowed_actions(&owner, &expired), vec![InvitationAction::SendNew, InvitationAction::Cancel]);
        assert!(ensure_allowed(&owner, InvitationAction::Resend, &expired).is_err());
        let invited = subject(UserStatus::Invited, Some(InvitationState::Pending), &member);
        assert!(ensure_allowed(&owner, InvitationAction::SendNew, &invited).is_err());
        assert!(ensure_allowed(&owner, InvitationAction::InviteToActivate, &subject(UserStatus::ProfileOnly, None, &[])).is_ok());
        assert!(allowed_actions(&owner, &subject(UserStatus::Active, None, &member)).is_empty());
    }

    #[test]
    fn an_active_user_with_an_open_invitation_has_its_actions() {
        let owner = actor(&[Role::Owner]);
        let more = offering(&[Role::Hr]);
        assert_eq!(allowed_actions(&owner, &subject(UserStatus::Active, Some(InvitationState::Pending), &more)).len(), 6);
        assert_eq!(
            allowed_actions(&owner, &subject(UserStatus::Active, Some(InvitationState::Expired), &more)),
            vec![InvitationAction::SendNew, InvitationAction::Cancel]
        );
    }

    #[test]
    fn an_invitation_above_the_actor_offers_nothing_and_is_refused_with_403() {
        let hr = actor(&[Role::Hr]);
        let pending = |roles: &[Role]| subject(UserStatus::Invited, Some(InvitationState::Pending), &offering(roles));
        assert!(allowed_actions(&hr, &pending(&[Role::Owner])).is_empty());
        assert!(allowed_actions(&hr, &pending(&[Role::Member, Role::Admin])).is_empty());
        assert_eq!(allowed_actions(&hr, &pending(&[Role::Hr])).len(), 6);
        let refused = ensure_allowed(&hr, InvitationAction::CopyLink, &pending(&[Role::Owner])).unwrap_err();
        assert_eq!(refused.status_code(), 403);
        // Refused for the role before the state is considered: nothing is said of the state.
        let expired = subject(UserStatus::Expired, Some(InvitationState::Expired), &offering(&[Role::Owner]));
        assert_eq!(ensure_allowed(&hr, InvitationAction::Resend, &expired).unwrap_err().status_code(), 403);
        assert!(allowed_actions(&actor(&[Role::Member]), &subject(UserStatus::ProfileOnly, None, &[])).is_empty());
    }

    #[test]
    fn dates_are_the_calendar_s() {
        // Every day from 1900 to 2200 (leap days, century years, before 1970), and moments
        // within a day, against the date library the server formats with.
        let day = 86_400_000i64;
        for n in -25_567..84_000 {
            for ms in [n * day, n * day + day - 1, n * day + 43_200_123] {
                let expected = chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%d").to_string();
                assert_eq!(utc_date(ms), expected, "{ms}");
            }
        }
        assert_eq!(relative_time(1_772_409_600_000, 1_772_409_600_000 + 30 * day), "on 2026-03-02");
    }

    #[test]
    fn relative_times_read_naturally() {
        let day = 86_400_000;
        assert_eq!(relative_time(0, 30_000), "just now");
        assert_eq!(relative_time(0, 5 * 60_000), "5 minutes ago");
        assert_eq!(relative_time(0, day + 1), "yesterday");
        assert_eq!(relative_time(0, 3 * day), "3 days ago");
        assert_eq!(time_until(7 * day, 0), "in 7 days");
        assert_eq!(expiry_phrase(6 * day + 1, 0), "expires in 6 days");
        assert_eq!(expiry_phrase(7 * day - 5_000, 0), "expires in 7 days", "a week's invitation sent a moment ago");
        assert_eq!(expiry_phrase(0, 2 * day), "expired 2 days ago");
        assert_eq!(expiry_phrase(0, 0), "expired just now", "expired from the instant of expiry on");
    }

    #[test]
    fn the_expiry_period_is_1_to_90_whole_days() {
        assert!(crate::messages::EXPIRY_RANGE.contains(&format!("between {} and {} days", ExpiryDays::MIN, ExpiryDays::MAX)), "the message says the bounds");
        assert_eq!(ExpiryDays::parse(" 14 ").unwrap().days(), 14);
        assert_eq!(ExpiryDays::parse("0").unwrap_err().to_string(), crate::messages::EXPIRY_RANGE);
        assert_eq!(ExpiryDays::parse("91").unwrap_err().to_string(), crate::messages::EXPIRY_RANGE);
        assert_eq!(ExpiryDays::parse("7.5").unwrap_err().to_string(), crate::messages::EXPIRY_NOT_A_NUMBER);
        assert_eq!(ExpiryDays::DEFAULT.expiry_from(0), 7 * 86_400_000);
    }

    #[test]
    fn pasted_lists_split_on_any_separator() {
        assert_eq!(split_addresses("a@x.io, b@x.io;c@x.io\nd@x.io  e@x.io"), vec!["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"]);
    }
}
