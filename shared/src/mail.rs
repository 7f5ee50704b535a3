//! Outgoing email as the delivery log shows it.

use crate::status::UnknownValue;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageKind {
    Invitation,
    Reminder,
    InvitationRequested,
    TestEmail,
}

impl MessageKind {
    pub const ALL: [MessageKind; 4] = [MessageKind::Invitation, MessageKind::Reminder, MessageKind::InvitationRequested, MessageKind::TestEmail];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Invitation => "invitation",
            MessageKind::Reminder => "reminder",
            MessageKind::InvitationRequested => "invitation_requested",
            MessageKind::TestEmail => "test_email",
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
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLog {
    pub rows: Vec<DeliveryRow>,
    pub now_ms: i64,
}

/// Settings → Outgoing email.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderSettings {
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
