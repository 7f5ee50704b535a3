//! The admin's view of outgoing email: the delivery log, retrying a failed message, the
//! sender settings, and the test email.

use super::outbox::{self, LoggedMessage, NewMessage, Priority};
use super::templates;
use crate::services::audit::{self, AuditEvent};
use crate::services::error::Step;
use crate::services::store::Conn;
use crate::services::{Actor, AppState};
use shared::audit::AuditAction;
use shared::mail::{DeliveryLog, DeliveryQuery, DeliveryRow, DeliveryState, MessageKind, SenderSettings, TransportProblem};
use shared::permissions::Permission;
use shared::{AppError, Email};

const LOG_LIMIT: i64 = 200;

fn row(message: LoggedMessage) -> DeliveryRow {
    DeliveryRow {
        bounce: message.bounce(),
        kind: message.kind,
        state: message.state,
        id: message.id,
        recipient: message.recipient,
        subject: message.subject,
        attempts: message.attempts,
        last_reply: message.last_reply,
        created_at_ms: message.created_at,
        sent_at_ms: message.sent_at,
        next_attempt_at_ms: message.next_attempt_at,
    }
}

/// An event the actor caused, in the caller's transaction.
pub(super) async fn record(
    conn: &mut Conn,
    actor: &Actor,
    action: AuditAction,
    target_type: &str,
    target_id: &str,
    details: serde_json::Value,
    now: i64,
) -> Result<(), AppError> {
    let event = AuditEvent { account_id: &actor.account_id, actor_user_id: Some(&actor.user_id), action, target_type, target_id, details };
    audit::record(conn, event, now).await.step("audit::record")
}

pub async fn recent(state: &AppState, actor: &Actor, query: &DeliveryQuery) -> Result<DeliveryLog, AppError> {
    actor.require(Permission::ViewDeliveryLog)?;
    let pattern = format!("%{}%", crate::services::store::like_literal(&query.recipient.trim().to_lowercase()));
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let filter = outbox::LogFilter {
        state: query.state.map(|s| s.as_str()).unwrap_or(""),
        recipient_like: &pattern,
        message_id: query.message.as_deref().unwrap_or(""),
    };
    let rows = outbox::recent(&mut conn, &actor.account_id, &filter, LOG_LIMIT).await.step("outbox::recent")?;
    Ok(DeliveryLog { rows: rows.into_iter().map(row).collect(), now_ms: state.clock.now_ms() })
}

pub async fn message(state: &AppState, actor: &Actor, id: &str) -> Result<DeliveryRow, AppError> {
    actor.require(Permission::ViewDeliveryLog)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    outbox::get(&mut conn, &actor.account_id, id).await.step("outbox::get")?.map(row).ok_or(AppError::NotFound)
}

pub async fn retry(state: &AppState, actor: &Actor, id: &str) -> Result<String, AppError> {
    actor.require(Permission::ViewDeliveryLog)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let message = outbox::get(&mut tx, &actor.account_id, id).await.step("outbox::get")?.ok_or(AppError::NotFound)?;
    if message.state != DeliveryState::Failed {
        return Err(AppError::InvalidState("Only a failed message can be retried.".into()));
    }
    // A retry is one more message to that mailbox, counted like any other send.
    let recipient = Email::parse(&message.recipient).step("Email::parse")?;
    outbox::count_send(&mut tx, &actor.account_id, &recipient, now).await?;
    if !outbox::requeue_failed(&mut tx, &actor.account_id, id, now).await.step("outbox::requeue_failed")? {
        return Err(AppError::InvalidState("Only a failed message can be retried.".into()));
    }
    record(&mut tx, actor, AuditAction::EmailRetried, "email", id, serde_json::json!({ "recipient": message.recipient }), now).await?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    Ok(format!("The message to {} is queued again.", message.recipient))
}

pub async fn sender_settings(state: &AppState, actor: &Actor) -> Result<SenderSettings, AppError> {
    actor.require(Permission::ManageSettings)?;
    let sender = outbox::sender(&state.db, &actor.account_id).await.step("outbox::sender")?.unwrap_or_default();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let problem = outbox::transport_problem(&mut conn).await.step("outbox::transport_problem")?.map(|(text, at_ms)| TransportProblem { text, at_ms });
    let budget = super::budget::usage(&mut conn, state.mail_limits, &actor.account_id, &actor.user_id, state.clock.now_ms()).await?;
    Ok(SenderSettings {
        budget,
        sender_name: sender.sender_name.unwrap_or_default(),
        sender_address: sender.sender_address.unwrap_or_default(),
        reply_to: sender.reply_to.unwrap_or_default(),
        default_address: state.mail_from.clone(),
        transport: state.mail_transport.clone(),
        problem,
        now_ms: state.clock.now_ms(),
    })
}

fn optional_email(raw: &str, what: &str) -> Result<Option<String>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    Email::parse(raw).map(|e| Some(e.to_string())).map_err(|e| AppError::Validation(format!("{what}: {e}")))
}

pub async fn save_sender_settings(state: &AppState, actor: &Actor, name: &str, address: &str, reply_to: &str) -> Result<(), AppError> {
    actor.require(Permission::ManageSettings)?;
    let name = name.trim();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::Validation("Sender name: use at most 100 characters on one line.".into()));
    }
    let address = optional_email(address, "Sender address")?;
    let reply_to = optional_email(reply_to, "Reply-to address")?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let name = (!name.is_empty()).then_some(name);
    outbox::set_sender(&mut tx, &actor.account_id, name, address.as_deref(), reply_to.as_deref()).await.step("outbox::set_sender")?;
    let details = serde_json::json!({ "sender_name": name, "sender_address": address, "reply_to": reply_to });
    record(&mut tx, actor, AuditAction::SettingsSenderChanged, "account", &actor.account_id, details, now).await?;
    tx.commit().await.step("commit")
}

/// Queues a test email to `to`; returns the message id, so the page can follow its delivery.
pub async fn send_test(state: &AppState, actor: &Actor, to: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageSettings)?;
    let to = Email::parse(to).map_err(|e| AppError::Validation(e.to_string()))?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let account = crate::services::store::accounts::get(&mut tx, &actor.account_id).await.step("accounts::get")?.ok_or(AppError::NotFound)?;
    // A test is one more message to that mailbox, counted like any other.
    outbox::count_send(&mut tx, &actor.account_id, &to, now).await?;
    let message = NewMessage {
        account_id: &actor.account_id,
        kind: MessageKind::TestEmail,
        recipient: &to,
        invitation_id: None,
        password_reset_id: None,
        sent_by: Some(&actor.user_id),
        priority: Priority::Waited,
        rendered: templates::test_email(&account.name, &actor.name),
    };
    let id = outbox::enqueue(&mut tx, message, now).await.step("outbox::enqueue")?;
    record(&mut tx, actor, AuditAction::EmailTestQueued, "email", &id, serde_json::json!({ "recipient": to.as_str() }), now).await?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    Ok(id)
}
