//! The outbox table: messages are queued here inside the transaction of the change that
//! causes them; the delivery worker claims, sends and settles them.

use crate::services::db::Db;
pub use crate::services::mail::templates::RenderedEmail;
use crate::services::rate_limit::{self, Limit};
use crate::services::store::{new_id, Conn};
use shared::mail::{Bounce, BounceKind, DeliveryState, LatestEmail, MessageKind};
use shared::{AppError, Email};
use std::time::Duration;

/// At most this many messages to one address of an account within the window, whatever
/// causes them (inviting, resending, cancelling and inviting again, retrying a failed
/// message), so a mailbox cannot be flooded.
pub const SENDS_PER_RECIPIENT: Limit = Limit::per(5, Duration::from_secs(3600));

/// Counts one message to `recipient` against [`SENDS_PER_RECIPIENT`], inside the caller's
/// transaction. `Some(seconds)`: the budget is spent, and the next message is possible
/// after that wait.
pub async fn spend_send_budget(conn: &mut Conn, account_id: &str, recipient: &Email, now_ms: i64) -> Result<Option<u64>, AppError> {
    let key = send_budget_key(account_id, recipient.as_str());
    match rate_limit::consume(&mut *conn, &key, SENDS_PER_RECIPIENT, now_ms).await {
        Ok(()) => Ok(None),
        Err(AppError::RateLimited { retry_after_secs }) => Ok(Some(retry_after_secs)),
        Err(other) => Err(other),
    }
}

/// [`spend_send_budget`]'s answer from the counter as read earlier in the transaction that
/// will count it (a bulk batch reads its people's at once and counts them together).
pub fn send_budget_spent(counter: Option<(i64, i64)>, now_ms: i64) -> Option<u64> {
    match rate_limit::consume_read(counter, SENDS_PER_RECIPIENT, now_ms) {
        Err(AppError::RateLimited { retry_after_secs }) => Some(retry_after_secs),
        _ => None,
    }
}

/// The counter of messages to `recipient` (an empty recipient: the prefix every key of the
/// account starts with).
pub fn send_budget_key(account_id: &str, recipient: &str) -> String {
    format!("send:{account_id}:{recipient}")
}

/// Why a message was not sent, after the address: "was sent 5 emails in the last hour: …".
pub fn budget_spent(retry_after_secs: u64) -> String {
    format!("was sent {} emails in the last hour: you can send it again in {}", SENDS_PER_RECIPIENT.max, shared::error::wait_phrase(retry_after_secs))
}

/// [`spend_send_budget`], refusing the message when the budget is spent.
pub async fn count_send(conn: &mut Conn, account_id: &str, recipient: &Email, now_ms: i64) -> Result<(), AppError> {
    match spend_send_budget(conn, account_id, recipient, now_ms).await? {
        None => Ok(()),
        Some(wait) => Err(AppError::InvalidState(format!("{recipient} {}.", budget_spent(wait)))),
    }
}

pub struct NewMessage<'a> {
    pub account_id: &'a str,
    pub kind: MessageKind,
    pub recipient: &'a Email,
    pub invitation_id: Option<&'a str>,
    /// The password reset whose link the message carries (see `mail::worker`).
    pub password_reset_id: Option<&'a str>,
    /// The person whose action sends it, when one does (for their daily budget).
    pub sent_by: Option<&'a str>,
    pub priority: Priority,
    pub rendered: RenderedEmail,
}

/// Which messages the runner takes first: what someone waits for now (a single invitation,
/// a password reset) before the thousands a bulk action queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    Waited = 0,
    Bulk = 1,
}

/// Queues a message; it goes out once the caller's transaction commits.
pub async fn enqueue(conn: &mut Conn, message: NewMessage<'_>, now_ms: i64) -> sqlx::Result<String> {
    let mut ids = enqueue_many(conn, std::slice::from_ref(&message), now_ms).await?;
    Ok(ids.pop().unwrap_or_default())
}

/// Messages written per statement by [`enqueue_many`] (13 parameters each).
const MESSAGES_PER_STATEMENT: usize = 100;

/// [`enqueue`] for several messages at once (a bulk job's batch); their ids in order.
pub async fn enqueue_many(conn: &mut Conn, messages: &[NewMessage<'_>], now_ms: i64) -> sqlx::Result<Vec<String>> {
    let mut all = Vec::with_capacity(messages.len());
    for chunk in messages.chunks(MESSAGES_PER_STATEMENT) {
        let ids: Vec<String> = chunk.iter().map(|_| new_id()).collect();
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = |n: usize| format!("${}", i * 13 + n);
                format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, {}, 0, {now}, {now}, {now}, {}, {}, {})",
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8),
                    p(10),
                    p(11),
                    p(12),
                    p(13),
                    now = p(9)
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO outbox (id, account_id, kind, recipient, subject, text_body, html_body, invitation_id, state, attempts, \
                                 next_attempt_at, created_at, updated_at, password_reset_id, sent_by, priority) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (id, message) in ids.iter().zip(chunk) {
            query = query
                .bind(id)
                .bind(message.account_id)
                .bind(message.kind.as_str())
                .bind(message.recipient.as_str())
                .bind(&message.rendered.subject)
                .bind(&message.rendered.text)
                .bind(&message.rendered.html)
                .bind(message.invitation_id)
                .bind(now_ms)
                .bind(DeliveryState::Queued.as_str())
                .bind(message.password_reset_id)
                .bind(message.sent_by)
                .bind(message.priority as i32);
        }
        query.execute(&mut *conn).await?;
        all.extend(ids);
    }
    Ok(all)
}

/// A message claimed for sending.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    pub id: String,
    pub account_id: String,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i64,
    pub created_at: i64,
    pub invitation_id: Option<String>,
    pub password_reset_id: Option<String>,
}

/// Takes up to `limit` due messages (queued, deferred and due, or sending with a lapsed
/// lease) for this worker until `lease_until`, bulk mail after the rest ([`Priority`]).
/// One statement, so two workers never take the same row: SQLite runs it under its write
/// lock; PostgreSQL skips rows another worker has locked.
pub async fn claim(db: &Db, worker: &str, now_ms: i64, lease_until: i64, limit: i64) -> sqlx::Result<Vec<Claimed>> {
    // SQLite runs the statement under its one write lock; PostgreSQL skips rows another
    // worker has locked, so several workers never wait on each other.
    let lock = match db.engine() {
        crate::services::db::Engine::Sqlite => "",
        crate::services::db::Engine::Postgres => "FOR UPDATE SKIP LOCKED",
    };
    sqlx::query_as(&format!(
        "UPDATE outbox SET state = '{sending}', lease_until = $1, leased_by = $4, attempts = attempts + 1, updated_at = $2 \
         WHERE id IN (SELECT id FROM outbox \
                      WHERE (state IN ('{queued}', '{deferred}') AND next_attempt_at <= $2) OR (state = '{sending}' AND lease_until <= $2) \
                      ORDER BY priority, next_attempt_at, created_at LIMIT $3 {lock}) \
         RETURNING id, account_id, kind, recipient, subject, text_body, html_body, attempts, created_at, invitation_id, password_reset_id",
        sending = DeliveryState::Sending.as_str(),
        queued = DeliveryState::Queued.as_str(),
        deferred = DeliveryState::Deferred.as_str(),
    ))
    .bind(lease_until)
    .bind(now_ms)
    .bind(limit)
    .bind(worker)
    .fetch_all(&db.pool)
    .await
}

/// The workers holding a live lease on some message, with how many each holds.
pub async fn lease_holders(db: &Db, now_ms: i64) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT leased_by, COUNT(*) FROM outbox WHERE state = $1 AND lease_until > $2 AND leased_by IS NOT NULL GROUP BY leased_by")
        .bind(DeliveryState::Sending.as_str())
        .bind(now_ms)
        .fetch_all(&db.pool)
        .await
}

/// Ends the leases `worker` holds, so the next claim takes those messages at once.
pub async fn release_leases(db: &Db, worker: &str, now_ms: i64) -> sqlx::Result<u64> {
    sqlx::query("UPDATE outbox SET lease_until = $1 WHERE state = $2 AND leased_by = $3 AND lease_until > $1")
        .bind(now_ms)
        .bind(DeliveryState::Sending.as_str())
        .bind(worker)
        .execute(&db.pool)
        .await
        .map(|done| done.rows_affected())
}

/// How a claimed message ends its turn.
pub struct Settlement {
    pub id: String,
    pub state: DeliveryState,
    pub reply: String,
    pub next_attempt_at: Option<i64>,
    /// The attempt does not count (the operator's configuration stopped it, not the message).
    pub refund_attempt: bool,
    /// When the attempt ended.
    pub at: i64,
}

/// Settles claimed messages, in one transaction: one wait for the write lock for a round of
/// the SMTP pool rather than one per message. Only a row still being sent is touched.
/// Only messages `worker` still leases: one whose lease lapsed and that another worker took
/// is that worker's to settle (its "deferred" must not undo the other's "sent").
pub async fn settle_all(db: &Db, worker: &str, settlements: &[Settlement]) -> sqlx::Result<()> {
    if settlements.is_empty() {
        return Ok(());
    }
    let mut tx = db.write_tx().await?;
    for settlement in settlements {
        sqlx::query(
            "UPDATE outbox SET state = $1, last_reply = $2, lease_until = NULL, updated_at = $3, \
               sent_at = CASE WHEN $1 = $6 THEN $3 ELSE sent_at END, \
               next_attempt_at = COALESCE($4, next_attempt_at), attempts = attempts - $8 \
             WHERE id = $5 AND state = $7 AND leased_by = $9",
        )
        .bind(settlement.state.as_str())
        .bind(&settlement.reply)
        .bind(settlement.at)
        .bind(settlement.next_attempt_at)
        .bind(&settlement.id)
        .bind(DeliveryState::Sent.as_str())
        .bind(DeliveryState::Sending.as_str())
        .bind(i64::from(settlement.refund_attempt))
        .bind(worker)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LoggedMessage {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub recipient: String,
    pub subject: String,
    #[sqlx(try_from = "String")]
    pub state: DeliveryState,
    pub attempts: i64,
    pub last_reply: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub next_attempt_at: i64,
    pub bounce_kind: Option<String>,
    pub bounce_reply: Option<String>,
    pub bounced_at: Option<i64>,
}

impl LoggedMessage {
    pub fn bounce(&self) -> Option<Bounce> {
        bounce_of(self.bounce_kind.as_deref(), self.bounce_reply.as_deref(), self.bounced_at)
    }
}

/// The bounce the three stored columns describe, if any.
pub fn bounce_of(kind: Option<&str>, reply: Option<&str>, at: Option<i64>) -> Option<Bounce> {
    Some(Bounce { kind: BounceKind::parse(kind?)?, reply: reply.unwrap_or_default().to_string(), at_ms: at.unwrap_or_default() })
}

const LOG_COLUMNS: &str =
    "id, kind, recipient, subject, state, attempts, last_reply, created_at, sent_at, next_attempt_at, bounce_kind, bounce_reply, bounced_at";

/// The latest invitation or reminder email of each of `invitation_ids`, by invitation id.
pub async fn latest_for_invitations(
    conn: &mut Conn,
    account_id: &str,
    invitation_ids: &[String],
) -> sqlx::Result<std::collections::HashMap<String, LatestEmail>> {
    let mut latest = std::collections::HashMap::new();
    if invitation_ids.is_empty() {
        return Ok(latest);
    }
    let sql = format!(
        "SELECT invitation_id, id, kind, state, last_reply, created_at, sent_at, next_attempt_at, bounce_kind, bounce_reply, bounced_at FROM outbox \
         WHERE account_id = $1 AND invitation_id IN ({}) AND kind IN ('{}', '{}') ORDER BY created_at, id",
        crate::services::store::placeholders(2, invitation_ids.len()),
        MessageKind::Invitation.as_str(),
        MessageKind::Reminder.as_str(),
    );
    type Row = (String, String, String, String, Option<String>, i64, Option<i64>, i64, Option<String>, Option<String>, Option<i64>);
    let mut query = sqlx::query_as::<_, Row>(&sql).bind(account_id);
    for id in invitation_ids {
        query = query.bind(id);
    }
    for (invitation_id, id, kind, state, last_reply, created_at, sent_at, next_attempt_at, bounce_kind, bounce_reply, bounced_at) in
        query.fetch_all(conn).await?
    {
        let kind = MessageKind::try_from(kind).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let state = DeliveryState::try_from(state).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        let at_ms = sent_at.filter(|_| state == DeliveryState::Sent).unwrap_or(created_at);
        let bounce = bounce_of(bounce_kind.as_deref(), bounce_reply.as_deref(), bounced_at);
        latest.insert(invitation_id, LatestEmail { message_id: id, kind, state, last_reply, at_ms, next_attempt_at_ms: next_attempt_at, bounce });
    }
    Ok(latest)
}

pub struct LogFilter<'a> {
    /// A state's stored name, or empty for every state.
    pub state: &'a str,
    /// A LIKE pattern (with `\` escapes) the recipient must match.
    pub recipient_like: &'a str,
    /// One message's id, or empty for every message.
    pub message_id: &'a str,
}

/// The account's most recent messages, newest first, as `filter` narrows them.
pub async fn recent(conn: &mut Conn, account_id: &str, filter: &LogFilter<'_>, limit: i64) -> sqlx::Result<Vec<LoggedMessage>> {
    sqlx::query_as(&format!(
        "SELECT {LOG_COLUMNS} FROM outbox WHERE account_id = $1 AND ($2 = '' OR state = $2) AND recipient LIKE $3 ESCAPE '\\' \
         AND ($5 = '' OR id = $5) ORDER BY created_at DESC, id LIMIT $4"
    ))
    .bind(account_id)
    .bind(filter.state)
    .bind(filter.recipient_like)
    .bind(limit)
    .bind(filter.message_id)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut Conn, account_id: &str, id: &str) -> sqlx::Result<Option<LoggedMessage>> {
    sqlx::query_as(&format!("SELECT {LOG_COLUMNS} FROM outbox WHERE account_id = $1 AND id = $2")).bind(account_id).bind(id).fetch_optional(conn).await
}

/// Puts a failed message back in the queue, with a fresh set of attempts.
pub async fn requeue_failed(conn: &mut Conn, account_id: &str, id: &str, now_ms: i64) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE outbox SET state = $4, attempts = 0, next_attempt_at = $1, updated_at = $1 \
         WHERE account_id = $2 AND id = $3 AND state = $5",
    )
    .bind(now_ms)
    .bind(account_id)
    .bind(id)
    .bind(DeliveryState::Queued.as_str())
    .bind(DeliveryState::Failed.as_str())
    .execute(conn)
    .await
    .map(|r| r.rows_affected() == 1)
}

#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct Sender {
    pub account_name: String,
    pub sender_name: Option<String>,
    pub sender_address: Option<String>,
    pub reply_to: Option<String>,
}

pub async fn sender(db: &Db, account_id: &str) -> sqlx::Result<Option<Sender>> {
    sqlx::query_as("SELECT name AS account_name, sender_name, sender_address, reply_to FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_optional(&db.pool)
        .await
}

pub async fn set_sender(conn: &mut Conn, account_id: &str, name: Option<&str>, address: Option<&str>, reply_to: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET sender_name = $1, sender_address = $2, reply_to = $3 WHERE id = $4")
        .bind(name)
        .bind(address)
        .bind(reply_to)
        .bind(account_id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Records a problem only the operator can fix, for Settings → Outgoing email.
pub async fn record_transport_problem(db: &Db, problem: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mail_status (singleton, problem, problem_at) VALUES (1, $1, $2) \
         ON CONFLICT (singleton) DO UPDATE SET problem = $1, problem_at = $2",
    )
    .bind(problem)
    .bind(now_ms)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Forgets the recorded problem once a message went out (a no-op when there is none).
pub async fn clear_transport_problem(db: &Db) -> sqlx::Result<()> {
    sqlx::query("UPDATE mail_status SET problem = NULL, problem_at = NULL WHERE problem IS NOT NULL").execute(&db.pool).await.map(|_| ())
}

/// The last recorded problem and when it was met.
pub async fn transport_problem(conn: &mut Conn) -> sqlx::Result<Option<(String, i64)>> {
    let row: Option<(Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT problem, problem_at FROM mail_status WHERE singleton = 1").fetch_optional(conn).await?;
    Ok(row.and_then(|(problem, at)| problem.zip(at)))
}

/// How many invitation emails (the kinds that count in the daily budget) the account queued
/// since `since`, and how many of them `sender` caused.
pub async fn invitation_emails_since(conn: &mut Conn, account_id: &str, sender: &str, since: i64) -> sqlx::Result<(i64, i64)> {
    let kinds: Vec<&str> = MessageKind::ALL.iter().filter(|k| k.counts_in_daily_budget()).map(|k| k.as_str()).collect();
    let list = kinds.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
    let account: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM outbox WHERE account_id = $1 AND created_at > $2 AND kind IN ({list})"))
        .bind(account_id)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
    let mine: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM outbox WHERE sent_by = $1 AND created_at > $2 AND kind IN ({list})"))
        .bind(sender)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
    Ok((account, mine))
}

/// How many messages are in each state, for `/metrics`.
pub async fn depth_by_state(conn: &mut Conn) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetch_all(conn).await
}

/// When the oldest message still waiting to go out was queued.
pub async fn oldest_waiting_since(conn: &mut Conn) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT MIN(created_at) FROM outbox WHERE state IN ($1, $2, $3)")
        .bind(DeliveryState::Queued.as_str())
        .bind(DeliveryState::Deferred.as_str())
        .bind(DeliveryState::Sending.as_str())
        .fetch_one(conn)
        .await
}
