//! The audit trail as people read it: every action Beckon records, in words; the Audit log
//! page's filters as they stand in its address; and one page of events.

use serde::{Deserialize, Serialize};

/// Everything the audit trail records. The stored name (`as_str`) never changes once
/// written: old events are read by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    AccountCreated,
    InvitationCreated,
    InvitationResent,
    InvitationReminded,
    InvitationExtended,
    InvitationReissued,
    InvitationCancelled,
    InvitationLinkCopied,
    InvitationRolesRemoved,
    InvitationAccepted,
    InvitationAwaitingConfirmation,
    InvitationConfirmed,
    InvitationNewRequested,
    InvitationAddressCorrected,
    UserRolesGranted,
    UserRolesRemoved,
    UserPasswordSet,
    UserPasswordChanged,
    UserPasswordResetRequested,
    UserPasswordReset,
    UserSignedOutEverywhere,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    UserPeopleGranted,
    UserPeopleRevoked,
    ScopeCreated,
    ScopeRenamed,
    ScopeArchived,
    ScopeRestored,
    RoleCreated,
    RoleRenamed,
    RoleRemoved,
    SettingsInvitationsChanged,
    SettingsSenderChanged,
    EmailTestQueued,
    EmailRetried,
    JobStarted,
    JobFinished,
    JobCancelled,
    JobStopped,
    UserImported,
    InvitationBounced,
    AddressHoldReleased,
    DkimKeyRotated,
    DkimKeyRemoved,
    ApiTokenCreated,
    ApiTokenRevoked,
    WebhookCreated,
    WebhookChanged,
    WebhookDeleted,
    WebhookSecretRotated,
    WebhookTestSent,
    WebhookRetried,
    WebhookDisabled,
    /// One call through an API token, whatever it did (its changes have lines of their own).
    ApiCall,
}

impl AuditAction {
    pub const ALL: [AuditAction; 56] = [
        AuditAction::AccountCreated,
        AuditAction::InvitationCreated,
        AuditAction::InvitationResent,
        AuditAction::InvitationReminded,
        AuditAction::InvitationExtended,
        AuditAction::InvitationReissued,
        AuditAction::InvitationCancelled,
        AuditAction::InvitationLinkCopied,
        AuditAction::InvitationRolesRemoved,
        AuditAction::InvitationAccepted,
        AuditAction::InvitationAwaitingConfirmation,
        AuditAction::InvitationConfirmed,
        AuditAction::InvitationNewRequested,
        AuditAction::InvitationAddressCorrected,
        AuditAction::UserRolesGranted,
        AuditAction::UserRolesRemoved,
        AuditAction::UserPasswordSet,
        AuditAction::UserPasswordChanged,
        AuditAction::UserPasswordResetRequested,
        AuditAction::UserPasswordReset,
        AuditAction::UserSignedOutEverywhere,
        AuditAction::UserDeactivated,
        AuditAction::UserReactivated,
        AuditAction::UserDeleted,
        AuditAction::UserPeopleGranted,
        AuditAction::UserPeopleRevoked,
        AuditAction::ScopeCreated,
        AuditAction::ScopeRenamed,
        AuditAction::ScopeArchived,
        AuditAction::ScopeRestored,
        AuditAction::RoleCreated,
        AuditAction::RoleRenamed,
        AuditAction::RoleRemoved,
        AuditAction::SettingsInvitationsChanged,
        AuditAction::SettingsSenderChanged,
        AuditAction::EmailTestQueued,
        AuditAction::EmailRetried,
        AuditAction::JobStarted,
        AuditAction::JobFinished,
        AuditAction::JobCancelled,
        AuditAction::JobStopped,
        AuditAction::UserImported,
        AuditAction::InvitationBounced,
        AuditAction::AddressHoldReleased,
        AuditAction::DkimKeyRotated,
        AuditAction::DkimKeyRemoved,
        AuditAction::ApiTokenCreated,
        AuditAction::ApiTokenRevoked,
        AuditAction::WebhookCreated,
        AuditAction::WebhookChanged,
        AuditAction::WebhookDeleted,
        AuditAction::WebhookSecretRotated,
        AuditAction::WebhookTestSent,
        AuditAction::WebhookRetried,
        AuditAction::WebhookDisabled,
        AuditAction::ApiCall,
    ];

    pub fn as_str(self) -> &'static str {
        self.names().0
    }

    /// In words, as the Audit log shows it.
    pub fn label(self) -> &'static str {
        self.names().1
    }

    fn names(self) -> (&'static str, &'static str) {
        use AuditAction::*;
        match self {
            AccountCreated => ("account.created", "Account created"),
            InvitationCreated => ("invitation.created", "Invitation sent"),
            InvitationResent => ("invitation.resent", "Invitation resent"),
            InvitationReminded => ("invitation.reminded", "Reminder sent"),
            InvitationExtended => ("invitation.extended", "Invitation extended"),
            InvitationReissued => ("invitation.reissued", "New invitation sent"),
            InvitationCancelled => ("invitation.cancelled", "Invitation cancelled"),
            InvitationLinkCopied => ("invitation.link_copied", "Invitation link copied"),
            InvitationRolesRemoved => ("invitation.roles_removed", "Roles removed from an invitation"),
            InvitationAccepted => ("invitation.accepted", "Invitation accepted"),
            InvitationAwaitingConfirmation => ("invitation.awaiting_confirmation", "Acceptance awaiting confirmation"),
            InvitationConfirmed => ("invitation.confirmed", "Acceptance confirmed"),
            InvitationNewRequested => ("invitation.new_requested", "New invitation requested"),
            InvitationAddressCorrected => ("invitation.address_corrected", "Invitation address corrected"),
            UserRolesGranted => ("user.roles_granted", "Roles granted"),
            UserRolesRemoved => ("user.roles_removed", "Roles removed"),
            UserPasswordSet => ("user.password_set", "Temporary password set"),
            UserPasswordChanged => ("user.password_changed", "Password changed"),
            UserPasswordResetRequested => ("user.password_reset_requested", "Password reset requested"),
            UserPasswordReset => ("user.password_reset", "Password reset"),
            UserSignedOutEverywhere => ("user.signed_out_everywhere", "Signed out everywhere"),
            UserDeactivated => ("user.deactivated", "Person deactivated"),
            UserReactivated => ("user.reactivated", "Person reactivated"),
            UserDeleted => ("user.deleted", "Person deleted"),
            UserPeopleGranted => ("user.people_granted", "People permission given"),
            UserPeopleRevoked => ("user.people_revoked", "People permission taken back"),
            ScopeCreated => ("scope.created", "Place created"),
            ScopeRenamed => ("scope.renamed", "Place renamed"),
            ScopeArchived => ("scope.archived", "Place archived"),
            ScopeRestored => ("scope.restored", "Place restored"),
            RoleCreated => ("role.created", "Custom role created"),
            RoleRenamed => ("role.renamed", "Custom role renamed"),
            RoleRemoved => ("role.removed", "Custom role removed"),
            SettingsInvitationsChanged => ("settings.invitations_changed", "Invitation settings changed"),
            SettingsSenderChanged => ("settings.sender_changed", "Sender changed"),
            EmailTestQueued => ("email.test_queued", "Test email sent"),
            EmailRetried => ("email.retried", "Email retried"),
            JobStarted => ("job.started", "Bulk action started"),
            JobFinished => ("job.finished", "Bulk action finished"),
            JobCancelled => ("job.cancelled", "Bulk action cancelled"),
            JobStopped => ("job.stopped", "Bulk action stopped"),
            UserImported => ("user.imported", "Person imported (Profile only)"),
            InvitationBounced => ("invitation.bounced", "Bounce received"),
            AddressHoldReleased => ("address.hold_released", "Bounced address marked as working"),
            DkimKeyRotated => ("settings.dkim_rotated", "DKIM key rotated"),
            DkimKeyRemoved => ("settings.dkim_removed", "DKIM key removed"),
            ApiTokenCreated => ("api_token.created", "API token created"),
            ApiTokenRevoked => ("api_token.revoked", "API token revoked"),
            WebhookCreated => ("webhook.created", "Webhook endpoint added"),
            WebhookChanged => ("webhook.changed", "Webhook endpoint changed"),
            WebhookDeleted => ("webhook.deleted", "Webhook endpoint removed"),
            WebhookSecretRotated => ("webhook.secret_rotated", "Webhook secret rotated"),
            WebhookTestSent => ("webhook.test_sent", "Webhook test event sent"),
            WebhookRetried => ("webhook.retried", "Webhook delivery retried"),
            WebhookDisabled => ("webhook.disabled", "Webhook endpoint disabled after failing"),
            ApiCall => ("api_token.call", "API call"),
        }
    }

    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// The Audit log's filters and position, as its address holds them:
/// `/audit?action=invitation.created&actor=a@example.com&person=b@example.com&from=2026-12-01&to=2026-12-06&before=…`.
/// Dates are UTC days, both ends included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub action: Option<AuditAction>,
    /// The address of who acted.
    pub actor: String,
    /// The address of the person an event is about.
    pub person: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Events strictly older than this one (the keyset position).
    pub before: Option<AuditCursor>,
}

/// An event's place in the newest-first order: its time, then its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCursor {
    pub at_ms: i64,
    pub id: String,
}

impl AuditCursor {
    fn parse(text: &str) -> Option<AuditCursor> {
        let (at, id) = text.split_once('.')?;
        Some(AuditCursor { at_ms: at.parse().ok()?, id: id.to_string() }).filter(|c| crate::url::is_id(&c.id) && c.at_ms >= 0)
    }
}

impl AuditQuery {
    pub const ACTION: &'static str = "action";
    pub const ACTOR: &'static str = "actor";
    pub const PERSON: &'static str = "person";
    pub const FROM: &'static str = "from";
    pub const TO: &'static str = "to";
    pub const BEFORE: &'static str = "before";
    /// Events on a page.
    pub const PAGE_SIZE: usize = 50;

    /// Reads the query from named parameters; what is not understood is left out.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> AuditQuery {
        let text = |name| param(name).unwrap_or_default().trim().chars().take(254).collect::<String>();
        let date = |name| param(name).filter(|d| crate::invitations::parse_utc_date(d).is_some());
        AuditQuery {
            action: param(Self::ACTION).and_then(|a| AuditAction::parse(&a)),
            actor: text(Self::ACTOR),
            person: text(Self::PERSON),
            from: date(Self::FROM),
            to: date(Self::TO),
            before: param(Self::BEFORE).and_then(|b| AuditCursor::parse(&b)),
        }
    }

    pub fn from_query_string(query: &str) -> AuditQuery {
        let pairs = crate::url::query_pairs(query);
        AuditQuery::from_params(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(action) = self.action {
            parts.push(format!("{}={}", Self::ACTION, action.as_str()));
        }
        for (name, value) in [(Self::ACTOR, &self.actor), (Self::PERSON, &self.person)] {
            if !value.is_empty() {
                parts.push(format!("{name}={}", crate::url::encode_component(value)));
            }
        }
        for (name, value) in [(Self::FROM, &self.from), (Self::TO, &self.to)] {
            if let Some(value) = value {
                parts.push(format!("{name}={value}"));
            }
        }
        if let Some(before) = &self.before {
            parts.push(format!("{}={}.{}", Self::BEFORE, before.at_ms, before.id));
        }
        parts.join("&")
    }

    /// The first (newest) page of the same filter.
    pub fn newest(&self) -> AuditQuery {
        AuditQuery { before: None, ..self.clone() }
    }

    pub fn href(&self) -> String {
        match self.to_query_string() {
            q if q.is_empty() => "/audit".into(),
            q => format!("/audit?{q}"),
        }
    }

    /// Where the CSV of every event matching the filter downloads from.
    pub fn export_href(&self) -> String {
        match self.newest().to_query_string() {
            q if q.is_empty() => AUDIT_EXPORT_PATH.into(),
            q => format!("{AUDIT_EXPORT_PATH}?{q}"),
        }
    }

    /// The time range in milliseconds, `[from, to)`: the `to` day is included whole.
    pub fn range_ms(&self) -> (Option<i64>, Option<i64>) {
        let from = self.from.as_deref().and_then(crate::invitations::parse_utc_date);
        let to = self.to.as_deref().and_then(crate::invitations::parse_utc_date).map(|day| day + 86_400_000);
        (from, to)
    }

    pub fn is_filtered(&self) -> bool {
        self.newest() != AuditQuery::default()
    }
}

pub const AUDIT_EXPORT_PATH: &str = "/audit/export.csv";

/// Someone an event names: who acted, or whom it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditPerson {
    /// A person of the account (their page: `/users/{id}`).
    Person { user_id: String, name: String, email: String },
    /// Beckon itself, or a visitor who was not signed in (a reset asked by address).
    Nobody,
    /// Someone since deleted: the trail keeps that they were there.
    Deleted,
}

impl AuditPerson {
    pub fn label(&self) -> String {
        match self {
            AuditPerson::Person { name, email, .. } if name.is_empty() => email.clone(),
            AuditPerson::Person { name, email, .. } => format!("{name} <{email}>"),
            AuditPerson::Nobody => "—".into(),
            AuditPerson::Deleted => "a deleted person".into(),
        }
    }
}

/// One event as the Audit log shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: String,
    pub at_ms: i64,
    pub action: Option<AuditAction>,
    /// The stored name, shown as is for an action this version does not know.
    pub action_name: String,
    pub actor: AuditPerson,
    /// The person the event is about, if it is about one.
    pub person: Option<AuditPerson>,
    /// What else it is about, in words ("Place North", "Custom role Clinician").
    pub target: String,
    /// The details, each "name: value" in words.
    pub details: Vec<(String, String)>,
}

impl AuditRow {
    pub fn action_label(&self) -> String {
        self.action.map(|a| a.label().to_string()).unwrap_or_else(|| self.action_name.clone())
    }

    pub fn details_text(&self) -> String {
        self.details.iter().map(|(name, value)| format!("{name}: {value}")).collect::<Vec<_>>().join("; ")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    /// The next (older) page, when there is one.
    pub older: Option<AuditQuery>,
    pub now_ms: i64,
    /// A filter address that names nobody in the account (the list is then empty).
    pub unknown: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_stored_name() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        let mut names: Vec<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
    }

    #[test]
    fn the_query_survives_its_address() {
        let query = AuditQuery {
            action: Some(AuditAction::UserDeactivated),
            actor: "ann+x@example.com".into(),
            person: "Bob".into(),
            from: Some("2026-12-01".into()),
            to: Some("2026-12-06".into()),
            before: Some(AuditCursor { at_ms: 1_700_000_000_000, id: "0f1e2d3c-4b5a-4968-8776-655443322110".into() }),
        };
        assert_eq!(AuditQuery::from_query_string(&query.to_query_string()), query);
        assert!(!query.export_href().contains("before="));
        assert_eq!(AuditQuery::from_query_string("action=nope&from=2026-02-31&before=x.y"), AuditQuery::default());
    }

    #[test]
    fn the_to_day_is_included_whole() {
        let query = AuditQuery::from_query_string("from=2026-12-01&to=2026-12-01");
        let (from, to) = query.range_ms();
        assert_eq!(to.unwrap() - from.unwrap(), 86_400_000);
        assert_eq!(crate::invitations::utc_date_time(from.unwrap()), "2026-12-01 00:00:00 UTC");
    }
}
