//! Bulk actions: one action over many people, chosen by ticking rows or by "everyone matching
//! this filter". Each person is decided by the same rule as a single action
//! (`invitations::refusal`, `people::person_refusal`); what is not done for someone is a
//! [`SkipReason`], so the banner, the skipped-rows CSV and the API say the same thing.

use crate::invitations::InvitationAction;
use crate::people::PersonAction;
use crate::permissions::Denied;
use crate::{AppError, Role};
use serde::{Deserialize, Serialize};

/// Up to this many people an action is done in the request; more become a job.
pub const DONE_IN_REQUEST: usize = 100;
/// The most people one job holds.
pub const MAX_JOB_PEOPLE: usize = 100_000;
/// The most rows that may be ticked one by one (beyond, "select all matching" names them).
pub const MAX_TICKED: usize = 10_000;

/// What "Choose an action…" offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BulkAction {
    Resend,
    SendNew,
    Remind,
    Extend,
    Cancel,
    /// A Profile-only person invited again with the roles of their latest invitation.
    InviteToActivate,
    Deactivate,
    Reactivate,
    /// Rows of a CSV file (`shared::import`) staged, then made live together at the end.
    Import,
}

impl BulkAction {
    /// What "Choose an action…" offers (an import starts from its own page).
    pub const CHOSEN: [BulkAction; 8] = [
        BulkAction::Resend,
        BulkAction::SendNew,
        BulkAction::Remind,
        BulkAction::Extend,
        BulkAction::Cancel,
        BulkAction::InviteToActivate,
        BulkAction::Deactivate,
        BulkAction::Reactivate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Resend => "resend",
            BulkAction::SendNew => "send_new",
            BulkAction::Remind => "remind",
            BulkAction::Extend => "extend",
            BulkAction::Cancel => "cancel",
            BulkAction::InviteToActivate => "invite_to_activate",
            BulkAction::Deactivate => "deactivate",
            BulkAction::Reactivate => "reactivate",
            BulkAction::Import => "import",
        }
    }

    pub fn parse(text: &str) -> Option<BulkAction> {
        BulkAction::CHOSEN.into_iter().chain([BulkAction::Import]).find(|a| a.as_str() == text)
    }

    /// The single action it is, per person: on the invitation or on the person.
    pub fn per_person(self) -> PerPerson {
        match self {
            BulkAction::Resend => PerPerson::Invitation(InvitationAction::Resend),
            BulkAction::SendNew => PerPerson::Invitation(InvitationAction::SendNew),
            BulkAction::Remind => PerPerson::Invitation(InvitationAction::Remind),
            BulkAction::Extend => PerPerson::Invitation(InvitationAction::Extend),
            BulkAction::Cancel => PerPerson::Invitation(InvitationAction::Cancel),
            BulkAction::InviteToActivate => PerPerson::Invitation(InvitationAction::InviteToActivate),
            BulkAction::Deactivate => PerPerson::Person(PersonAction::Deactivate),
            BulkAction::Reactivate => PerPerson::Person(PersonAction::Reactivate),
            BulkAction::Import => PerPerson::ImportRow,
        }
    }

    /// The area an actor needs to start it (each person is then checked on their own).
    pub fn permission(self) -> crate::permissions::Permission {
        match self.per_person() {
            PerPerson::Invitation(_) | PerPerson::ImportRow => crate::permissions::Permission::ManageInvitations,
            PerPerson::Person(_) => crate::permissions::Permission::ManagePeople,
        }
    }

    /// The chooser's words: those of the row menu.
    pub fn label(self) -> &'static str {
        match self.per_person() {
            PerPerson::Invitation(action) => action.label(),
            PerPerson::Person(action) => action.label(),
            PerPerson::ImportRow => "Import people",
        }
    }

    /// Whether it queues an email per person (the daily budget counts it).
    pub fn sends_email(self) -> bool {
        matches!(self, BulkAction::Resend | BulkAction::SendNew | BulkAction::Remind | BulkAction::InviteToActivate)
    }

    /// The confirmation: "Cancel 1,240 invitations?".
    pub fn question(self, people: u64) -> String {
        let n = thousands(people);
        if self == BulkAction::InviteToActivate {
            return format!("Invite {n} {} to activate their account?", if people == 1 { "person" } else { "people" });
        }
        let (verb, one, many) = match self {
            BulkAction::Resend => ("Resend", "invitation", "invitations"),
            BulkAction::SendNew => ("Send a new invitation to", "person", "people"),
            BulkAction::Remind => ("Send a reminder to", "person", "people"),
            BulkAction::Extend => ("Extend", "invitation", "invitations"),
            BulkAction::Cancel => ("Cancel", "invitation", "invitations"),
            BulkAction::Deactivate => ("Deactivate", "person", "people"),
            BulkAction::Reactivate | BulkAction::InviteToActivate => ("Reactivate", "person", "people"),
            BulkAction::Import => ("Import", "row", "rows"),
        };
        format!("{verb} {n} {}?", if people == 1 { one } else { many })
    }

    /// What was done to each person it succeeded for: "312 resent".
    pub fn done_phrase(self) -> &'static str {
        match self {
            BulkAction::Resend => "resent",
            BulkAction::SendNew => "sent a new invitation",
            BulkAction::Remind => "reminded",
            BulkAction::Extend => "extended",
            BulkAction::Cancel => "cancelled",
            BulkAction::InviteToActivate => "invited",
            BulkAction::Deactivate => "deactivated",
            BulkAction::Reactivate => "reactivated",
            BulkAction::Import => "imported",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerPerson {
    Invitation(InvitationAction),
    Person(PersonAction),
    /// A row of an import file.
    ImportRow,
}

/// Why an action was not done for someone. Single actions answer with [`SkipReason::into_error`];
/// bulk actions count and list them by [`SkipReason::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SkipReason {
    /// The actor's roles do not open this at all.
    NotPermitted,
    /// Their invitation offers, or they hold, a role ranked above the actor's.
    RoleAboveYours(Role),
    /// Outside the places the actor administers.
    OutsideYourPlaces,
    AlreadyAccepted,
    InvitationExpired,
    AwaitingConfirmation,
    /// A confirmation asked of an invitation nobody accepted yet.
    NotAccepted,
    NoPendingInvitation,
    /// Pending: the action is one for an expired invitation.
    StillPending,
    Deactivated,
    NotDeactivated,
    Yourself,
    NoRoles,
    LastOwner,
    /// Setting a password for someone who already set up their account.
    HasSetUpAccount,
    NotSetUp,
    NotPendingAddress,
    NotActive,
    /// The per-recipient limit (`outbox::SENDS_PER_RECIPIENT`) is spent.
    RecipientLimit,
    /// The account's or the sender's daily email budget is spent.
    DailyBudget,
    /// Another request changed the invitation between reading and writing it.
    ChangedMeanwhile,
    /// The person no longer exists (deleted meanwhile).
    Gone,
    /// The job was cancelled before their turn.
    JobCancelled,
    /// Not possible in the person's situation for another reason.
    NotNow,
    /// Invited again: a pending invitation is open already.
    AlreadyInvited,
    /// Invited into roles they all hold already.
    AlreadyHoldsRoles,
    /// Invited to activate their account: no earlier invitation says with which roles.
    NoEarlierRoles,
    /// Their address hard-bounced and is held (`crate::mail::held_message`).
    AddressBounced,
}

impl SkipReason {
    pub const ALL: [SkipReason; 28] = [
        SkipReason::NotPermitted,
        SkipReason::RoleAboveYours(Role::Owner),
        SkipReason::OutsideYourPlaces,
        SkipReason::AlreadyAccepted,
        SkipReason::InvitationExpired,
        SkipReason::AwaitingConfirmation,
        SkipReason::NotAccepted,
        SkipReason::NoPendingInvitation,
        SkipReason::StillPending,
        SkipReason::Deactivated,
        SkipReason::NotDeactivated,
        SkipReason::Yourself,
        SkipReason::NoRoles,
        SkipReason::LastOwner,
        SkipReason::HasSetUpAccount,
        SkipReason::NotSetUp,
        SkipReason::NotPendingAddress,
        SkipReason::NotActive,
        SkipReason::RecipientLimit,
        SkipReason::DailyBudget,
        SkipReason::ChangedMeanwhile,
        SkipReason::Gone,
        SkipReason::JobCancelled,
        SkipReason::NotNow,
        SkipReason::AlreadyInvited,
        SkipReason::AlreadyHoldsRoles,
        SkipReason::NoEarlierRoles,
        SkipReason::AddressBounced,
    ];

    /// The stable name, in the CSV and the API ("role_above_yours:admin").
    pub fn as_str(self) -> String {
        let name = match self {
            SkipReason::NotPermitted => "not_permitted",
            SkipReason::RoleAboveYours(role) => return format!("role_above_yours:{}", role.as_str()),
            SkipReason::OutsideYourPlaces => "outside_your_places",
            SkipReason::AlreadyAccepted => "already_accepted",
            SkipReason::InvitationExpired => "invitation_expired",
            SkipReason::AwaitingConfirmation => "awaiting_confirmation",
            SkipReason::NotAccepted => "not_accepted",
            SkipReason::NoPendingInvitation => "no_pending_invitation",
            SkipReason::StillPending => "still_pending",
            SkipReason::Deactivated => "deactivated",
            SkipReason::NotDeactivated => "not_deactivated",
            SkipReason::Yourself => "yourself",
            SkipReason::NoRoles => "no_roles",
            SkipReason::LastOwner => "last_owner",
            SkipReason::HasSetUpAccount => "has_set_up_account",
            SkipReason::NotSetUp => "not_set_up",
            SkipReason::NotPendingAddress => "not_pending_address",
            SkipReason::NotActive => "not_active",
            SkipReason::RecipientLimit => "recipient_limit",
            SkipReason::DailyBudget => "daily_budget",
            SkipReason::ChangedMeanwhile => "changed_meanwhile",
            SkipReason::Gone => "gone",
            SkipReason::JobCancelled => "job_cancelled",
            SkipReason::NotNow => "not_now",
            SkipReason::AlreadyInvited => "already_invited",
            SkipReason::AlreadyHoldsRoles => "already_holds_roles",
            SkipReason::NoEarlierRoles => "no_earlier_roles",
            SkipReason::AddressBounced => "address_bounced",
        };
        name.to_string()
    }

    pub fn parse(text: &str) -> Option<SkipReason> {
        if let Some(role) = text.strip_prefix("role_above_yours:") {
            return Role::parse(role).map(SkipReason::RoleAboveYours);
        }
        SkipReason::ALL.into_iter().filter(|r| !matches!(r, SkipReason::RoleAboveYours(_))).find(|r| r.as_str() == text)
    }

    /// The banner's and the CSV's words, after a count: "312 skipped: already accepted".
    pub fn label(self) -> String {
        let text = match self {
            SkipReason::NotPermitted => "needs a permission you do not have",
            SkipReason::RoleAboveYours(role) => return format!("offers or holds a role above yours ({})", role.label()),
            SkipReason::OutsideYourPlaces => "outside the places you administer",
            SkipReason::AlreadyAccepted => "already accepted",
            SkipReason::InvitationExpired => "invitation expired (send a new invitation instead)",
            SkipReason::AwaitingConfirmation => "accepted, waiting for an administrator to confirm",
            SkipReason::NotAccepted => "not accepted yet",
            SkipReason::NoPendingInvitation => "no pending invitation",
            SkipReason::StillPending => "invitation still pending (not expired)",
            SkipReason::Deactivated => "deactivated",
            SkipReason::NotDeactivated => "not deactivated",
            SkipReason::Yourself => "that is you",
            SkipReason::NoRoles => "holds no roles",
            SkipReason::LastOwner => "the last active Owner",
            SkipReason::HasSetUpAccount => "has set up their account",
            SkipReason::NotSetUp => "has set up their account or has no invitation",
            SkipReason::NotPendingAddress => "no pending invitation",
            SkipReason::NotActive => "not active",
            SkipReason::RecipientLimit => "sent 5 emails in the last hour already",
            SkipReason::DailyBudget => "over the daily email budget",
            SkipReason::ChangedMeanwhile => "changed by someone else meanwhile",
            SkipReason::Gone => "no longer exists",
            SkipReason::JobCancelled => "the job was cancelled first",
            SkipReason::NotNow => "not possible for this person now",
            SkipReason::AlreadyInvited => "already has a pending invitation",
            SkipReason::AlreadyHoldsRoles => "already holds these roles",
            SkipReason::NoEarlierRoles => "never invited: no roles to invite them with (use Invite people)",
            SkipReason::AddressBounced => "the address bounced (correct it, or mark it as working)",
        };
        text.to_string()
    }

    /// The sentence a single action answers with.
    pub fn message(self) -> String {
        match self {
            SkipReason::NotPermitted => Denied::NotPermitted.to_string(),
            SkipReason::RoleAboveYours(role) => Denied::AboveYourRole { role }.to_string(),
            SkipReason::OutsideYourPlaces => Denied::OutsideYourScopes.to_string(),
            SkipReason::AlreadyAccepted => "This person has already accepted and is active.".into(),
            SkipReason::InvitationExpired => "This invitation has expired. Send a new invitation instead.".into(),
            SkipReason::AwaitingConfirmation => "This invitation was accepted and waits for an administrator to confirm it.".into(),
            SkipReason::NotAccepted => "Only an accepted invitation can be confirmed.".into(),
            SkipReason::NoPendingInvitation => "This user has no pending invitation.".into(),
            SkipReason::StillPending => "That is not possible while the invitation is pending.".into(),
            SkipReason::Deactivated => "This person is deactivated. Reactivate them first.".into(),
            SkipReason::NotDeactivated => "Only a deactivated person can be reactivated.".into(),
            SkipReason::Yourself => "You cannot do that to yourself.".into(),
            SkipReason::NoRoles => "This person holds no roles.".into(),
            SkipReason::LastOwner => crate::people::LAST_OWNER.into(),
            SkipReason::HasSetUpAccount => "This person has set up their account: send them a password reset link instead of setting their password.".into(),
            SkipReason::NotSetUp => "Only someone who has not set up their account can be given a password.".into(),
            SkipReason::NotPendingAddress => "Only the address of a pending invitation can be corrected.".into(),
            SkipReason::NotActive => "Roles are granted at once only to an active person: invite them instead.".into(),
            SkipReason::RecipientLimit => "This address was sent 5 emails in the last hour. Try again later.".into(),
            SkipReason::DailyBudget => "The daily email budget is spent. Try again tomorrow.".into(),
            SkipReason::ChangedMeanwhile => "This invitation changed a moment ago (accepted or cancelled). Reload the page to see it now.".into(),
            SkipReason::Gone => "Not found.".into(),
            SkipReason::JobCancelled => "The job was cancelled before this person's turn.".into(),
            SkipReason::NotNow => "That is not possible for this person now.".into(),
            SkipReason::AlreadyInvited => "This person already has a pending invitation.".into(),
            SkipReason::AlreadyHoldsRoles => "This person already holds these roles.".into(),
            SkipReason::NoEarlierRoles => "This person was never invited: choose their roles with Invite people.".into(),
            SkipReason::AddressBounced => {
                "This address bounced. Correct it first (Correct email address), or, if you know it works now, choose Mark address as working and try again."
                    .into()
            }
        }
    }

    /// The error a single action answers with: 403 for what the actor may not do at all, 404
    /// for someone gone, otherwise a state error.
    pub fn into_error(self) -> AppError {
        match self {
            SkipReason::NotPermitted => AppError::Forbidden(Denied::NotPermitted),
            SkipReason::RoleAboveYours(role) => AppError::Forbidden(Denied::AboveYourRole { role }),
            SkipReason::OutsideYourPlaces => AppError::Forbidden(Denied::OutsideYourScopes),
            SkipReason::Gone => AppError::NotFound,
            other => AppError::InvalidState(other.message()),
        }
    }
}

impl From<Denied> for SkipReason {
    fn from(denied: Denied) -> SkipReason {
        match denied {
            Denied::NotPermitted => SkipReason::NotPermitted,
            Denied::AboveYourRole { role } => SkipReason::RoleAboveYours(role),
            Denied::OutsideYourScopes => SkipReason::OutsideYourPlaces,
        }
    }
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobState {
    /// Waiting for, or in the hands of, the runner.
    Running,
    Done,
    /// Stopped by someone: what was done stays done, the rest was not started.
    Cancelled,
    /// Stopped because it could not go on (its starter can no longer act).
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 4] = [JobState::Running, JobState::Done, JobState::Cancelled, JobState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Cancelled => "cancelled",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            JobState::Running => "Running",
            JobState::Done => "Done",
            JobState::Cancelled => "Cancelled",
            JobState::Failed => "Stopped",
        }
    }

    pub fn is_over(self) -> bool {
        self != JobState::Running
    }
}

impl TryFrom<String> for JobState {
    type Error = String;

    fn try_from(text: String) -> Result<JobState, String> {
        JobState::parse(&text).ok_or_else(|| format!("unknown job state {text:?}"))
    }
}

/// What each person of a job came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ItemOutcome {
    Done,
    Skipped(SkipReason),
    /// Something went wrong that trying again may not fix (the log says what).
    Failed,
}

impl ItemOutcome {
    /// The stored name (`job_items.outcome`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemOutcome::Done => "done",
            ItemOutcome::Skipped(_) => ItemOutcome::SKIPPED,
            ItemOutcome::Failed => "failed",
        }
    }

    pub const SKIPPED: &'static str = "skipped";

    pub fn reason(self) -> Option<SkipReason> {
        match self {
            ItemOutcome::Skipped(reason) => Some(reason),
            _ => None,
        }
    }
}

/// How many people of a job were skipped for one reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipCount {
    pub reason: SkipReason,
    pub count: u64,
}

/// A job as its page and the Jobs list show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub action: BulkAction,
    pub state: JobState,
    pub started_by: String,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// What chose the people: "12 people ticked", "Status: Expired, search "acme"".
    pub selection: String,
    pub total: u64,
    pub done: u64,
    pub skipped: u64,
    pub failed: u64,
    /// By reason, most first (the job's page only; empty in the list).
    pub skips: Vec<SkipCount>,
    /// Why it stopped, when it failed.
    pub stopped_because: Option<String>,
    /// The viewer may cancel it (it runs, and they started it or manage the account).
    pub can_cancel: bool,
}

impl JobView {
    pub fn processed(&self) -> u64 {
        self.done + self.skipped + self.failed
    }

    /// "Cancelled 1,240 invitations." / "1,200 resent. 40 skipped: 32 already accepted, 8 …"
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} {}.", thousands(self.done), self.action.done_phrase())];
        if self.skipped > 0 {
            let reasons: Vec<String> = self.skips.iter().map(|s| format!("{} {}", thousands(s.count), s.reason.label())).collect();
            if reasons.is_empty() {
                parts.push(format!("{} skipped.", thousands(self.skipped)));
            } else {
                parts.push(format!("{} skipped: {}.", thousands(self.skipped), reasons.join("; ")));
            }
        }
        if self.failed > 0 {
            parts.push(format!("{} failed: the server log says why; try them again.", thousands(self.failed)));
        }
        parts.join(" ")
    }

    pub fn href(&self) -> String {
        job_href(&self.id)
    }

    /// The skipped rows' CSV.
    pub fn skipped_csv_href(&self) -> String {
        format!("/jobs/{}/skipped.csv", self.id)
    }
}

pub fn job_href(id: &str) -> String {
    format!("/jobs/{id}")
}

/// Where the people of a bulk action come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selection {
    /// Rows ticked, by user id.
    People(Vec<String>),
    /// Everyone matching a Users query (its query string), resolved when the job starts.
    Matching(String),
}

/// Where the selection's CSV export posts (form fields [`Selection::IDS`] or
/// [`Selection::MATCHING`]).
pub const SELECTION_EXPORT_PATH: &str = "/users/export.csv";

impl Selection {
    pub const IDS: &'static str = "ids";
    pub const MATCHING: &'static str = "matching";

    /// From the two form fields: comma-separated ids, or a Users query string.
    pub fn from_fields(ids: &str, matching: Option<&str>) -> Selection {
        match matching {
            Some(query) => Selection::Matching(query.to_string()),
            None => Selection::People(ids.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_string).collect()),
        }
    }
}

/// 12345 as "12,345".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_and_reason_reads_back_from_its_name() {
        for action in BulkAction::CHOSEN.into_iter().chain([BulkAction::Import]) {
            assert_eq!(BulkAction::parse(action.as_str()), Some(action));
        }
        for reason in SkipReason::ALL {
            assert_eq!(SkipReason::parse(&reason.as_str()), Some(reason), "{reason:?}");
        }
        for role in Role::ALL {
            let reason = SkipReason::RoleAboveYours(role);
            assert_eq!(SkipReason::parse(&reason.as_str()), Some(reason));
        }
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
    }

    #[test]
    fn the_confirmation_names_the_action_and_how_many() {
        assert_eq!(BulkAction::Cancel.question(1240), "Cancel 1,240 invitations?");
        assert_eq!(BulkAction::Resend.question(1), "Resend 1 invitation?");
        assert_eq!(BulkAction::Deactivate.question(3), "Deactivate 3 people?");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn a_refusal_of_a_single_action_keeps_its_status() {
        assert_eq!(SkipReason::RoleAboveYours(Role::Owner).into_error().status_code(), 403);
        assert_eq!(SkipReason::OutsideYourPlaces.into_error().status_code(), 403);
        assert_eq!(SkipReason::Gone.into_error().status_code(), 404);
        assert_eq!(SkipReason::AlreadyAccepted.into_error().status_code(), 409);
    }

    #[test]
    fn the_summary_groups_the_skipped_by_reason() {
        let job = JobView {
            id: "j".into(),
            action: BulkAction::Cancel,
            state: JobState::Done,
            started_by: "Ada".into(),
            started_at_ms: 0,
            finished_at_ms: Some(1),
            selection: String::new(),
            total: 1556,
            done: 1240,
            skipped: 316,
            failed: 0,
            skips: vec![SkipCount { reason: SkipReason::AlreadyAccepted, count: 312 }, SkipCount { reason: SkipReason::RoleAboveYours(Role::Admin), count: 4 }],
            stopped_because: None,
            can_cancel: false,
        };
        assert_eq!(job.summary(), "1,240 cancelled. 316 skipped: 312 already accepted; 4 offers or holds a role above yours (Admin).");
    }
}
