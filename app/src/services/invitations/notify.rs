//! The emails the invitation lifecycle sends, written to the outbox inside the caller's
//! transaction so a change and its email commit together (or not at all). Callers wake
//! the runner (`work_signal`) after committing.

use crate::services::error::Step;
use crate::services::grants::RoleNames;
use crate::services::mail::outbox::{self, NewMessage, Priority};
use crate::services::mail::templates::{self, InvitationEmail};
use crate::services::store::invitations::InvitationRecord;
use crate::services::store::scopes::{self, GrantRow};
use crate::services::store::Conn;
use crate::services::AppState;
use shared::mail::MessageKind;
use shared::scopes::GrantView;
use shared::{AppError, Email};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wording {
    Invitation,
    Reminder,
}

async fn email_for(
    conn: &mut Conn,
    account_name: &str,
    inviter_name: &str,
    invitee: &Email,
    invitation: &InvitationRecord,
    offers: Vec<GrantRow>,
) -> Result<InvitationEmail, AppError> {
    let role_labels = offered_as_read(conn, invitation, offers).await?.iter().map(GrantView::label).collect();
    Ok(InvitationEmail {
        account_name: account_name.to_string(),
        inviter_name: inviter_name.to_string(),
        invitee_email: invitee.to_string(),
        role_labels,
        personal_message: invitation.personal_message.clone(),
        link: templates::LINK_PLACEHOLDER.to_string(),
        expires_at: chrono::DateTime::from_timestamp_millis(invitation.expires_at).step("the expiry must be a valid time")?,
    })
}

/// Who an invitation email comes from: the account, the inviter named in it, and the person
/// whose action sends it (the one its daily budget counts).
pub struct From<'a> {
    pub account_name: &'a str,
    pub inviter_name: &'a str,
    /// Nobody, for what Beckon sends by itself (automatic reminders).
    pub sent_by: Option<&'a str>,
    /// A bulk action's mail waits behind single ones.
    pub priority: Priority,
}

pub async fn invitation(
    conn: &mut Conn,
    from: From<'_>,
    invitee: &Email,
    invitation: &InvitationRecord,
    wording: Wording,
    now_ms: i64,
) -> Result<(), AppError> {
    let offers = scopes::offered_by(conn, std::slice::from_ref(&invitation.id)).await.step("scopes::offered_by")?;
    invitation_offering(conn, from, invitee, invitation, offers, wording, now_ms).await
}

/// [`invitation`] with the roles it offers as the caller already read them.
pub async fn invitation_offering(
    conn: &mut Conn,
    from: From<'_>,
    invitee: &Email,
    invitation: &InvitationRecord,
    offers: Vec<GrantRow>,
    wording: Wording,
    now_ms: i64,
) -> Result<(), AppError> {
    let message = offering_message(conn, from, invitee, invitation, offers, wording).await?;
    queue(conn, message.as_new(), now_ms).await
}

/// An invitation email made and not yet queued (a bulk job's batch queues its people's in
/// one statement).
pub struct OfferingMessage {
    account_id: String,
    kind: MessageKind,
    recipient: Email,
    invitation_id: String,
    sent_by: Option<String>,
    priority: Priority,
    rendered: templates::RenderedEmail,
}

impl OfferingMessage {
    /// The counter its send counts against ([`outbox::spend_send_budget`]).
    pub fn send_budget_key(&self) -> String {
        outbox::send_budget_key(&self.account_id, self.recipient.as_str())
    }

    pub fn as_new(&self) -> NewMessage<'_> {
        NewMessage {
            account_id: &self.account_id,
            kind: self.kind,
            recipient: &self.recipient,
            invitation_id: Some(&self.invitation_id),
            password_reset_id: None,
            sent_by: self.sent_by.as_deref(),
            priority: self.priority,
            rendered: self.rendered.clone(),
        }
    }
}

/// [`invitation_offering`]'s email, made but not queued.
pub async fn offering_message(
    conn: &mut Conn,
    from: From<'_>,
    invitee: &Email,
    invitation: &InvitationRecord,
    offers: Vec<GrantRow>,
    wording: Wording,
) -> Result<OfferingMessage, AppError> {
    let email = email_for(conn, from.account_name, from.inviter_name, invitee, invitation, offers).await?;
    let (kind, rendered) = match wording {
        Wording::Invitation => (MessageKind::Invitation, templates::invitation(&email)),
        Wording::Reminder => (MessageKind::Reminder, templates::reminder(&email)),
    };
    Ok(OfferingMessage {
        account_id: invitation.account_id.clone(),
        kind,
        recipient: invitee.clone(),
        invitation_id: invitation.id.clone(),
        sent_by: from.sent_by.map(str::to_string),
        priority: from.priority,
        rendered,
    })
}

/// The roles an invitation offers as the invitee reads them ("Admin", "Clinician — Room 3").
pub async fn offered(conn: &mut Conn, invitation: &InvitationRecord) -> Result<Vec<GrantView>, AppError> {
    let rows = scopes::offered_by(conn, std::slice::from_ref(&invitation.id)).await.step("scopes::offered_by")?;
    offered_as_read(conn, invitation, rows).await
}

/// [`offered`] from the invitation's rows as already read (with the link, on its page).
pub async fn offered_as_read(conn: &mut Conn, invitation: &InvitationRecord, rows: Vec<GrantRow>) -> Result<Vec<GrantView>, AppError> {
    let names = RoleNames::needed_by(conn, &invitation.account_id, rows.iter()).await?;
    Ok(names.group(rows)?.remove(&invitation.id).unwrap_or_default())
}

async fn offered_labels(conn: &mut Conn, invitation: &InvitationRecord) -> Result<Vec<String>, AppError> {
    Ok(offered(conn, invitation).await?.iter().map(GrantView::label).collect())
}

/// Queues in the caller's transaction; the caller wakes the worker once it has committed.
async fn queue(conn: &mut Conn, message: NewMessage<'_>, now_ms: i64) -> Result<(), AppError> {
    outbox::enqueue(conn, message, now_ms).await.map(|_| ()).step("outbox::enqueue")
}

/// To the invitee: an administrator confirmed the acceptance that waited for them.
pub async fn access_confirmed(
    conn: &mut Conn,
    public_url: &str,
    account_name: &str,
    confirmed_by: &str,
    invitee: &Email,
    invitation: &InvitationRecord,
    now_ms: i64,
) -> Result<(), AppError> {
    let roles = offered_labels(conn, invitation).await?;
    let rendered = templates::access_confirmed(account_name, confirmed_by, &roles, &format!("{public_url}/signin"));
    let message = NewMessage {
        account_id: &invitation.account_id,
        kind: MessageKind::AccessConfirmed,
        recipient: invitee,
        invitation_id: Some(&invitation.id),
        password_reset_id: None,
        sent_by: None,
        priority: Priority::Waited,
        rendered,
    };
    queue(conn, message, now_ms).await
}

/// Tells an active person an administrator gave them further roles.
#[allow(clippy::too_many_arguments)]
pub async fn roles_granted(
    conn: &mut Conn,
    public_url: &str,
    account_name: &str,
    granted_by: &str,
    account_id: &str,
    person: &Email,
    role_labels: &[String],
    now_ms: i64,
) -> Result<(), AppError> {
    let rendered = templates::roles_granted(account_name, granted_by, role_labels, &format!("{public_url}/signin"));
    let message = NewMessage {
        account_id,
        kind: MessageKind::RolesGranted,
        recipient: person,
        invitation_id: None,
        password_reset_id: None,
        sent_by: None,
        priority: Priority::Waited,
        rendered,
    };
    queue(conn, message, now_ms).await
}

#[allow(clippy::too_many_arguments)]
pub async fn new_invitation_requested(
    conn: &mut Conn,
    state: &AppState,
    account_name: &str,
    inviter: &Email,
    inviter_name: &str,
    invitee_email: &str,
    invitation: &InvitationRecord,
    now_ms: i64,
) -> Result<(), AppError> {
    let invitee = Email::parse(invitee_email).step("Email::parse")?;
    let offers = scopes::offered_by(conn, std::slice::from_ref(&invitation.id)).await.step("scopes::offered_by")?;
    let mut email = email_for(conn, account_name, inviter_name, &invitee, invitation, offers).await?;
    // The inviter acts from the Users page; the invitee's dead link is of no use to them.
    let expired = shared::views::UsersQuery { status: Some(shared::status::UserStatus::Expired), search: invitee.to_string(), ..Default::default() };
    email.link = format!("{}{}", state.public_url, expired.href());
    let message = NewMessage {
        account_id: &invitation.account_id,
        kind: MessageKind::InvitationRequested,
        recipient: inviter,
        invitation_id: Some(&invitation.id),
        password_reset_id: None,
        sent_by: None,
        priority: Priority::Waited,
        rendered: templates::invitation_requested(&email),
    };
    queue(conn, message, now_ms).await
}
