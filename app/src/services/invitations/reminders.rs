//! Reminders Beckon sends by itself (Settings → Invitations, off by default): so many days
//! after an invitation was sent, and so many days before it expires. Work due at a time, run
//! by the runner's due lane: each reminder goes at most once per link (a new link makes it
//! due again), never once the invitation is accepted, cancelled or past its expiry, never to a
//! hard-bounced address (`mail::bounces`), in the reminder's wording, behind mail someone
//! waits for, and audited as sent by Beckon.

use super::notify;
use crate::services::audit::{self, AuditEvent};
use crate::services::error::Step;
use crate::services::mail::budget;
use crate::services::mail::outbox::{self, Priority};
use crate::services::store::invitations as store;
use crate::services::store::{accounts, users};
use crate::services::AppState;
use shared::audit::AuditAction;
use shared::status::InvitationState;
use shared::{AppError, Email};

/// Invitations looked at per pass.
const PER_PASS: i64 = 200;

/// Sends the reminders due at the clock's now; returns how many were queued. An invitation
/// whose recipient or account has no email left in its budget waits for a later pass.
pub async fn run_due(state: &AppState) -> Result<u64, AppError> {
    let now = state.clock.now_ms();
    let due = {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        store::due_for_reminder(&mut conn, now, PER_PASS).await.step("invitations::due_for_reminder")?
    };
    let mut queued = 0;
    for id in due {
        if remind(state, &id, now).await? {
            queued += 1;
        }
    }
    if queued > 0 {
        state.work_signal.wake_here();
        tracing::info!(reminders = queued, "automatic reminders queued");
    }
    Ok(queued)
}

/// One invitation's due reminder, decided again in its own transaction.
async fn remind(state: &AppState, id: &str, now: i64) -> Result<bool, AppError> {
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let Some(invitation) = store::get(&mut tx, id).await.step("invitations::get")? else { return Ok(false) };
    budget::hold(&mut tx, state.db.engine(), &invitation.account_id).await?;
    let Some(account) = accounts::get(&mut tx, &invitation.account_id).await.step("accounts::get")? else { return Ok(false) };
    if invitation.state_at(now) != InvitationState::Pending {
        return Ok(false);
    }
    let rules = account.reminders();
    let (sent_after, sent_before) = store::reminded(&mut tx, id).await.step("invitations::reminded")?;
    let after = !sent_after && rules.after_sending_due(invitation.last_sent_at).is_some_and(|at| at <= now);
    let before = !sent_before && rules.before_expiry_due(invitation.expires_at).is_some_and(|at| at <= now);
    if !(after || before) {
        return Ok(false);
    }
    let Some(invitee) = users::get(&mut tx, &invitation.user_id).await.step("users::get")? else { return Ok(false) };
    let email = Email::parse(&invitee.email).step("Email::parse")?;
    // Never to an address that bounced, until it is corrected or marked as working.
    if crate::services::store::bounces::held(&mut tx, &account.id, &invitee.email).await.step("bounces::held")?.is_some() {
        return Ok(false);
    }
    if outbox::spend_send_budget(&mut tx, &account.id, &email, now).await?.is_some() {
        return Ok(false);
    }
    let usage = budget::usage(&mut tx, state.mail_limits, &account.id, "", now).await?;
    if usage.account_used >= usage.account_limit {
        return Ok(false);
    }
    if !store::mark_reminded(&mut tx, id, invitation.link_version, after, before).await.step("invitations::mark_reminded")? {
        return Ok(false);
    }
    let inviter = match &invitation.invited_by {
        Some(by) => users::get(&mut tx, by).await.step("users::get")?.map(|u| u.name).filter(|n| !n.trim().is_empty()),
        None => None,
    };
    let inviter_name = inviter.unwrap_or_else(|| account.name.clone());
    let from = notify::From { account_name: &account.name, inviter_name: &inviter_name, sent_by: None, priority: Priority::Bulk };
    notify::invitation(&mut tx, from, &email, &invitation, notify::Wording::Reminder, now).await?;
    let which = match (after, before) {
        (true, true) => "after sending and before expiry",
        (true, false) => "after sending",
        _ => "before expiry",
    };
    let event = AuditEvent {
        account_id: &account.id,
        actor_user_id: None,
        action: AuditAction::InvitationReminded,
        target_type: "invitation",
        target_id: id,
        details: serde_json::json!({ "email": email.as_str(), "automatic": which }),
    };
    audit::record(&mut tx, event, now).await.step("audit::record")?;
    tx.commit().await.step("commit")?;
    Ok(true)
}
