//! The emails the invitation lifecycle sends, written to the outbox inside the caller's
//! transaction so a change and its email commit together (or not at all). Callers wake
//! the delivery worker (`outbox_signal`) after committing.

use crate::server::error::internal;
use crate::server::mail::outbox::{self, NewMessage};
use crate::server::mail::templates::{self, InvitationEmail};
use crate::server::store::invitations::{self as store, InvitationRecord};
use crate::server::store::Conn;
use crate::server::AppState;
use shared::mail::MessageKind;
use shared::{AppError, Email, Role};

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
) -> Result<InvitationEmail, AppError> {
    let role_labels = store::roles(conn, &invitation.id)
        .await
        .map_err(internal)?
        .iter()
        .filter_map(|(_, r)| Role::parse(r).map(|r| r.label().to_string()))
        .collect();
    Ok(InvitationEmail {
        account_name: account_name.to_string(),
        inviter_name: inviter_name.to_string(),
        invitee_email: invitee.to_string(),
        role_labels,
        personal_message: invitation.personal_message.clone(),
        link: templates::LINK_PLACEHOLDER.to_string(),
        expires_at: chrono::DateTime::from_timestamp_millis(invitation.expires_at).ok_or(AppError::Internal)?,
    })
}

pub async fn invitation(
    conn: &mut Conn,
    account_name: &str,
    inviter_name: &str,
    invitee: &Email,
    invitation: &InvitationRecord,
    wording: Wording,
    now_ms: i64,
) -> Result<(), AppError> {
    let email = email_for(conn, account_name, inviter_name, invitee, invitation).await?;
    let (kind, rendered) = match wording {
        Wording::Invitation => (MessageKind::Invitation, templates::invitation(&email)),
        Wording::Reminder => (MessageKind::Reminder, templates::reminder(&email)),
    };
    let message = NewMessage { account_id: &invitation.account_id, kind, recipient: invitee, invitation_id: Some(&invitation.id), rendered };
    queue(conn, message, now_ms).await
}

/// Queues in the caller's transaction; the caller wakes the worker once it has committed.
async fn queue(conn: &mut Conn, message: NewMessage<'_>, now_ms: i64) -> Result<(), AppError> {
    outbox::enqueue(conn, message, now_ms).await.map(|_| ()).map_err(internal)
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
    let invitee = Email::parse(invitee_email).map_err(internal)?;
    let mut email = email_for(conn, account_name, inviter_name, &invitee, invitation).await?;
    // The inviter acts from the Users page; the invitee's dead link is of no use to them.
    let expired = shared::views::UsersQuery { status: Some(shared::views::UserStatus::Expired), search: invitee.to_string(), ..Default::default() };
    email.link = format!("{}{}", state.public_url, expired.href());
    let message = NewMessage {
        account_id: &invitation.account_id,
        kind: MessageKind::InvitationRequested,
        recipient: inviter,
        invitation_id: Some(&invitation.id),
        rendered: templates::invitation_requested(&email),
    };
    queue(conn, message, now_ms).await
}
