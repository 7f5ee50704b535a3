//! The daily budget of invitation emails: however many calls, at most so many invitations and
//! reminders a day leave for an account, and for each person who sends them, so that nobody
//! who may invite can mass-mail arbitrary addresses under the organisation's name. Counted
//! over the last 24 hours from the outbox itself, which holds every message.

use super::outbox;
use crate::services::error::Step;
use crate::services::store::{accounts, Conn, Engine};
use shared::mail::EmailBudget;
use shared::AppError;

/// The rolling window the budget counts.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

/// The operator's limits (BECKON_MAIL_DAILY_LIMIT, BECKON_MAIL_DAILY_LIMIT_PER_SENDER).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailyLimits {
    pub account: i64,
    pub per_sender: i64,
}

impl Default for DailyLimits {
    fn default() -> Self {
        DailyLimits { account: 20_000, per_sender: 10_000 }
    }
}

/// What the account and `sender` have used of their budgets.
pub async fn usage(conn: &mut Conn, limits: DailyLimits, account_id: &str, sender: &str, now_ms: i64) -> Result<EmailBudget, AppError> {
    let since = now_ms - WINDOW_MS;
    let (account_used, sender_used) = outbox::invitation_emails_since(conn, account_id, sender, since).await.step("outbox::invitation_emails_since")?;
    Ok(EmailBudget { account_used, account_limit: limits.account, sender_used, sender_limit: limits.per_sender })
}

/// Takes the account's turn at its budgets, first thing in a transaction that queues
/// invitation emails: on PostgreSQL the account's row is locked until the transaction ends, so
/// two senders at once cannot both spend the last of the budget (SQLite's write transaction
/// already holds the whole database).
pub async fn hold(tx: &mut Conn, engine: Engine, account_id: &str) -> Result<(), AppError> {
    accounts::lock(tx, engine, account_id).await.step("accounts::lock")
}

/// Refuses, once the caller's transaction (which [`hold`]s the account) has queued `queued`
/// invitation emails for `sender`, when they take the account or the sender over their daily
/// budget: the caller's error rolls them back with everything else.
pub async fn check_queued(tx: &mut Conn, limits: DailyLimits, account_id: &str, sender: &str, queued: i64, now_ms: i64) -> Result<(), AppError> {
    if queued == 0 {
        return Ok(());
    }
    let after = usage(tx, limits, account_id, sender, now_ms).await?;
    let before = EmailBudget { account_used: after.account_used - queued, sender_used: after.sender_used - queued, ..after };
    if queued <= before.left() {
        Ok(())
    } else {
        Err(AppError::InvalidState(before.refusal(queued)))
    }
}
