//! Outgoing email as the delivery log shows it.

use crate::status::UnknownValue;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    Invitation,
    Reminder,
    InvitationRequested,
    TestEmail,
    PasswordReset,
    AccessConfirmed,
    /// An administrator granted an active person further roles.
    RolesGranted,
    /// Tells an inviter that their invitation bounced.
    BounceNotice,
    /// Tells the account's administrators that a webhook endpoint was disabled.
    WebhookDisabled,
}

impl MessageKind {
    pub const ALL: [MessageKind; 9] = [
        MessageKind::Invitation,
        MessageKind::Reminder,
        MessageKind::InvitationRequested,
        MessageKind::TestEmail,
        MessageKind::PasswordReset,
        MessageKind::AccessConfirmed,
        MessageKind::RolesGranted,
        MessageKind::BounceNotice,
        MessageKind::WebhookDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Invitation => "invitation",
            MessageKind::Reminder => "reminder",
            MessageKind::InvitationRequested => "invitation_requested",
            MessageKind::TestEmail => "test_email",
            MessageKind::PasswordReset => "password_reset",
            MessageKind::AccessConfirmed => "access_confirmed",
            MessageKind::RolesGranted => "roles_granted",
            MessageKind::BounceNotice => "bounce_notice",
            MessageKind::WebhookDisabled => "webhook_disabled",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            MessageKind::Invitation => "Invitation",
            MessageKind::Reminder => "Reminder",
            MessageKind::InvitationRequested => "New invitation requested",
            MessageKind::TestEmail => "Test email",
            MessageKind::PasswordReset => "Password reset",
            MessageKind::AccessConfirmed => "Access confirmed",
            MessageKind::RolesGranted => "Roles granted",
            MessageKind::BounceNotice => "Bounce notice",
            MessageKind::WebhookDisabled => "Webhook disabled",
        }
    }
}

/// Where a message is on its way out: queued → sending → sent, or deferred (will retry at
/// `next_attempt_at`) and at last failed, with the server's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    Queued,
    Sending,
    Sent,
    Deferred,
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [DeliveryState::Queued, DeliveryState::Sending, DeliveryState::Sent, DeliveryState::Deferred, DeliveryState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Deferred => "deferred",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        DeliveryState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            DeliveryState::Queued => "Queued",
            DeliveryState::Sending => "Sending",
            DeliveryState::Sent => "Sent",
            DeliveryState::Deferred => "Deferred",
            DeliveryState::Failed => "Failed",
        }
    }

    /// Whether the outcome is known (nothing more will happen on its own).
    pub fn is_final(self) -> bool {
        matches!(self, DeliveryState::Sent | DeliveryState::Failed)
    }
}

/// A delivery status notification that came back for a message: hard (5.x.x, the address
/// does not take mail) or soft (4.x.x, the remote server keeps trying or gave up for now).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BounceKind {
    Hard,
    Soft,
}

impl BounceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceKind::Hard => "hard",
            BounceKind::Soft => "soft",
        }
    }

    pub fn parse(text: &str) -> Option<BounceKind> {
        [BounceKind::Hard, BounceKind::Soft].into_iter().find(|k| k.as_str() == text)
    }

    /// Of an enhanced status code ("5.1.1" is hard, "4.2.2" soft); none for a success.
    pub fn of_status(status: &str) -> Option<BounceKind> {
        match status.trim().as_bytes().first() {
            Some(b'5') => Some(BounceKind::Hard),
            Some(b'4') => Some(BounceKind::Soft),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BounceKind::Hard => "Bounced",
            BounceKind::Soft => "Delayed by the receiving server",
        }
    }
}

/// A bounce as the row and the Delivery log show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounce {
    pub kind: BounceKind,
    /// The remote server's words: "550 5.1.1 mailbox unknown".
    pub reply: String,
    pub at_ms: i64,
}

impl Bounce {
    /// The hard bounce holding an address.
    pub fn held(reply: String, at_ms: i64) -> Bounce {
        Bounce { kind: BounceKind::Hard, reply, at_ms }
    }

    /// "Bounced: 550 5.1.1 mailbox unknown (remote server's words)".
    pub fn sentence(&self) -> String {
        format!("{}: {} (remote server's words)", self.kind.label(), self.reply)
    }
}

/// A hard-bounced address, held until it is corrected or marked as working: Resend, Send
/// reminder and Send new invitation refuse it, bulk actions skip it, and Beckon's own
/// reminders pass it by.
pub fn held_message(address: &str, reply: &str) -> String {
    format!("{address} bounced ({reply}). {HELD_ADVICE}")
}

/// What to do about a held address.
pub const HELD_ADVICE: &str = "Correct the address first (Correct email address), or, if you know it works now, choose Mark address as working and try again.";

/// One line of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: String,
    pub kind: MessageKind,
    pub recipient: String,
    pub subject: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub last_reply: Option<String>,
    pub created_at_ms: i64,
    pub sent_at_ms: Option<i64>,
    pub next_attempt_at_ms: i64,
    /// What came back after the receiving server took it.
    pub bounce: Option<Bounce>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLog {
    pub rows: Vec<DeliveryRow>,
    pub now_ms: i64,
}

/// What the Delivery log shows, kept in its address: by state, by recipient, or one message
/// (the link from a Users row). The page reads it and every link to it is built with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryQuery {
    pub state: Option<DeliveryState>,
    pub recipient: String,
    pub message: Option<String>,
}

impl DeliveryQuery {
    pub const STATE: &'static str = "state";
    pub const RECIPIENT: &'static str = "recipient";
    pub const MESSAGE: &'static str = "message";

    /// One message of the log.
    pub fn message(id: &str) -> DeliveryQuery {
        DeliveryQuery { message: Some(id.to_string()), ..DeliveryQuery::default() }
    }

    /// Reads the query from named parameters; unknown values fall back to the defaults.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> DeliveryQuery {
        DeliveryQuery {
            state: param(Self::STATE).and_then(|s| DeliveryState::parse(&s)),
            recipient: param(Self::RECIPIENT).unwrap_or_default().trim().chars().take(200).collect(),
            message: param(Self::MESSAGE).filter(|id| crate::url::is_id(id)),
        }
    }

    pub fn from_query_string(query: &str) -> DeliveryQuery {
        let pairs = crate::url::query_pairs(query);
        DeliveryQuery::from_params(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(state) = self.state {
            parts.push(format!("{}={}", Self::STATE, state.as_str()));
        }
        if !self.recipient.is_empty() {
            parts.push(format!("{}={}", Self::RECIPIENT, crate::url::encode_component(&self.recipient)));
        }
        if let Some(id) = &self.message {
            parts.push(format!("{}={id}", Self::MESSAGE));
        }
        parts.join("&")
    }

    /// `/deliveries?…` for this query.
    pub fn href(&self) -> String {
        match self.to_query_string() {
            q if q.is_empty() => "/deliveries".into(),
            q => format!("/deliveries?{q}"),
        }
    }
}

/// The latest email of an invitation, as its row on the Users page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestEmail {
    pub message_id: String,
    pub kind: MessageKind,
    pub state: DeliveryState,
    pub last_reply: Option<String>,
    pub at_ms: i64,
    pub next_attempt_at_ms: i64,
    pub bounce: Option<Bounce>,
}

impl LatestEmail {
    /// "Email sent", "Email failed", "Email deferred, retrying" …: the answer to "did they get it?".
    pub fn headline(&self) -> &'static str {
        let reminder = self.kind == MessageKind::Reminder;
        match self.bounce.as_ref().map(|b| b.kind) {
            Some(BounceKind::Hard) => return if reminder { "Reminder bounced" } else { "Email bounced" },
            Some(BounceKind::Soft) => return if reminder { "Reminder delayed by the receiving server" } else { "Email delayed by the receiving server" },
            None => {}
        }
        if reminder {
            return match self.state {
                DeliveryState::Sent => "Reminder sent",
                DeliveryState::Failed => "Reminder failed",
                DeliveryState::Deferred => "Reminder deferred, retrying",
                DeliveryState::Queued | DeliveryState::Sending => "Reminder queued",
            };
        }
        match self.state {
            DeliveryState::Queued => "Email queued",
            DeliveryState::Sending => "Email sending",
            DeliveryState::Sent => "Email sent",
            DeliveryState::Deferred => "Email deferred, retrying",
            DeliveryState::Failed => "Email failed",
        }
    }

    /// The Delivery log showing this message.
    pub fn href(&self) -> String {
        DeliveryQuery::message(&self.message_id).href()
    }
}

/// Settings → Outgoing email.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderSettings {
    /// The daily budget of invitation emails, and what the last 24 hours used of it.
    pub budget: EmailBudget,
    pub sender_name: String,
    pub sender_address: String,
    pub reply_to: String,
    /// The address used when the account sets none (from the server's configuration).
    pub default_address: String,
    /// How mail leaves, as the server is configured, in a sentence.
    pub transport: String,
    /// The last problem the delivery worker met that needs the operator, with when.
    pub problem: Option<TransportProblem>,
    pub now_ms: i64,
}

/// Settings → Outgoing email → DKIM: how outgoing mail is signed, and the DNS records that
/// let receivers check it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimSettings {
    /// BECKON_DKIM=off turns signing off for the deployment.
    pub enabled: bool,
    /// The domain mail is signed for: the account's sender address's, or the server's.
    pub domain: String,
    /// The signing key first, then keys rotated out (their records may still be needed by
    /// mail in flight until removed).
    pub keys: Vec<DkimKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimKey {
    pub selector: String,
    /// The TXT record's name: `{selector}._domainkey.{domain}`.
    pub record_name: String,
    /// The TXT record's value: `v=DKIM1; k=rsa; p=…`.
    pub record_value: String,
    pub signing: bool,
    pub created_at_ms: i64,
    pub retired_at_ms: Option<i64>,
}

impl DkimKey {
    pub fn record_name(selector: &str, domain: &str) -> String {
        format!("{selector}._domainkey.{domain}")
    }

    pub fn record_value(public_key_base64: &str) -> String {
        format!("v=DKIM1; k=rsa; p={public_key_base64}")
    }
}

/// A mail server problem only the operator can fix (a certificate, a password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportProblem {
    pub text: String,
    pub at_ms: i64,
}

impl TryFrom<String> for MessageKind {
    type Error = UnknownValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        MessageKind::parse(&value).ok_or(UnknownValue { what: "message kind", value })
    }
}

impl TryFrom<String> for DeliveryState {
    type Error = UnknownValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DeliveryState::parse(&value).ok_or(UnknownValue { what: "delivery state", value })
    }
}

impl MessageKind {
    /// Whether messages of this kind count against the daily budget of invitation emails:
    /// those an administrator sends to addresses they type. (Every kind counts against the
    /// hourly budget of each recipient.)
    pub fn counts_in_daily_budget(self) -> bool {
        matches!(self, MessageKind::Invitation | MessageKind::Reminder)
    }
}

/// The daily budget of invitation emails (invitations and reminders, over the last 24 hours),
/// for the account and for one person sending them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailBudget {
    pub account_used: i64,
    pub account_limit: i64,
    pub sender_used: i64,
    pub sender_limit: i64,
}

impl EmailBudget {
    /// How many more may go now: the smaller of what is left to the account and the sender.
    pub fn left(&self) -> i64 {
        (self.account_limit - self.account_used).min(self.sender_limit - self.sender_used).max(0)
    }

    /// Why `count` emails may not go now.
    pub fn refusal(&self, count: i64) -> String {
        let (whose, used, limit) = if self.account_limit - self.account_used <= self.sender_limit - self.sender_used {
            ("the account", self.account_used, self.account_limit)
        } else {
            ("you", self.sender_used, self.sender_limit)
        };
        let what = if count == 1 { "This email".to_string() } else { format!("These {count} emails") };
        format!(
            "{what} would go over the daily budget of invitation emails: {whose} sent {used} of {limit} in the last 24 hours, so {} more can go now. Nothing was sent.",
            self.left()
        )
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn the_budget_left_is_the_smaller_share_and_the_refusal_names_it() {
        let budget = EmailBudget { account_used: 19_990, account_limit: 20_000, sender_used: 100, sender_limit: 10_000 };
        assert_eq!(budget.left(), 10);
        assert_eq!(
            budget.refusal(500),
            "These 500 emails would go over the daily budget of invitation emails: the account sent 19990 of 20000 in the last 24 hours, so 10 more can go now. Nothing was sent."
        );
        let mine = EmailBudget { sender_used: 10_000, ..budget };
        assert_eq!(mine.left(), 0);
        assert!(mine.refusal(1).starts_with("This email would go over the daily budget of invitation emails: you sent 10000 of 10000"));
        assert_eq!(EmailBudget { account_used: 30_000, ..budget }.left(), 0, "never below nothing");
    }
}
