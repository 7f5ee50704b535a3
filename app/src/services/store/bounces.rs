//! Bounces recorded on their messages, the addresses they hold, and the DKIM keys.

use crate::services::store::Conn;
use shared::mail::{Bounce, BounceKind, MessageKind};

/// What a bounce needs to know of the message it came back for.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct BouncedMessage {
    pub id: String,
    pub account_id: String,
    pub recipient: String,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub invitation_id: Option<String>,
    pub sent_by: Option<String>,
    pub created_at: i64,
}

pub async fn message(conn: &mut Conn, id: &str) -> sqlx::Result<Option<BouncedMessage>> {
    sqlx::query_as("SELECT id, account_id, recipient, kind, invitation_id, sent_by, created_at FROM outbox WHERE id = $1").bind(id).fetch_optional(conn).await
}

/// Records a bounce on its message; once a message bounced hard nothing replaces it (a
/// report sent again, or replayed, records nothing). Whether it was recorded.
pub async fn record(conn: &mut Conn, message_id: &str, kind: BounceKind, reply: &str, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET bounce_kind = $2, bounce_reply = $3, bounced_at = $4 \
         WHERE id = $1 AND COALESCE(bounce_kind, '') <> 'hard'",
    )
    .bind(message_id)
    .bind(kind.as_str())
    .bind(reply)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Holds `email` in the account after a hard bounce of a message made at `sent_at`; whether
/// it was not held already. An address released after that message was made stays released.
pub async fn hold(conn: &mut Conn, account_id: &str, email: &str, message_id: &str, sent_at: i64, reply: &str, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO held_addresses (account_id, email, message_id, reply, held_at, released_at) VALUES ($1, $2, $3, $4, $5, NULL) \
         ON CONFLICT (account_id, email) DO UPDATE \
           SET message_id = excluded.message_id, reply = excluded.reply, held_at = excluded.held_at, released_at = NULL \
           WHERE held_addresses.released_at IS NOT NULL AND held_addresses.released_at < $6",
    )
    .bind(account_id)
    .bind(email)
    .bind(message_id)
    .bind(reply)
    .bind(now_ms)
    .bind(sent_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The bounce holding `email`, if one does.
pub async fn held(conn: &mut Conn, account_id: &str, email: &str) -> sqlx::Result<Option<Bounce>> {
    let row: Option<(String, i64)> = sqlx::query_as("SELECT reply, held_at FROM held_addresses WHERE account_id = $1 AND email = $2 AND released_at IS NULL")
        .bind(account_id)
        .bind(email)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(reply, at_ms)| Bounce::held(reply, at_ms)))
}

/// [`held`] for each of `emails` that is held, by address.
pub async fn held_among(conn: &mut Conn, account_id: &str, emails: &[String]) -> sqlx::Result<std::collections::HashMap<String, Bounce>> {
    if emails.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT email, reply, held_at FROM held_addresses WHERE account_id = $1 AND released_at IS NULL AND email IN ({})",
        super::placeholders(2, emails.len())
    );
    let mut query = sqlx::query_as::<_, (String, String, i64)>(&sql).bind(account_id);
    for email in emails {
        query = query.bind(email);
    }
    Ok(query.fetch_all(conn).await?.into_iter().map(|(email, reply, at_ms)| (email, Bounce::held(reply, at_ms))).collect())
}

/// Lets `email` receive mail again; whether it was held.
pub async fn release(conn: &mut Conn, account_id: &str, email: &str, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE held_addresses SET released_at = $3 WHERE account_id = $1 AND email = $2 AND released_at IS NULL")
        .bind(account_id)
        .bind(email)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A DKIM key of the deployment.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DkimKey {
    pub selector: String,
    pub private_key_pem: String,
    pub public_key_base64: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// Every key, the signing one (newest not retired) first.
pub async fn dkim_keys(conn: &mut Conn) -> sqlx::Result<Vec<DkimKey>> {
    sqlx::query_as(
        "SELECT selector, private_key_pem, public_key_base64, created_at, retired_at FROM dkim_keys \
         ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, created_at DESC, selector",
    )
    .fetch_all(conn)
    .await
}

/// Adds a key that signs from now on; the keys before it stop signing (they stay listed).
/// Whether it was added (a key of that selector exists already otherwise, and nothing
/// changes).
pub async fn add_dkim_key(conn: &mut Conn, key: &DkimKey) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO dkim_keys (selector, private_key_pem, public_key_base64, created_at, retired_at) VALUES ($1, $2, $3, $4, NULL) \
         ON CONFLICT (selector) DO NOTHING",
    )
    .bind(&key.selector)
    .bind(&key.private_key_pem)
    .bind(&key.public_key_base64)
    .bind(key.created_at)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE dkim_keys SET retired_at = $1 WHERE retired_at IS NULL AND selector <> $2")
        .bind(key.created_at)
        .bind(&key.selector)
        .execute(conn)
        .await?;
    Ok(true)
}

/// Removes a retired key (its DNS record is no longer needed).
pub async fn remove_retired_dkim_key(conn: &mut Conn, selector: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM dkim_keys WHERE selector = $1 AND retired_at IS NOT NULL").bind(selector).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}
