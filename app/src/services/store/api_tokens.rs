//! API tokens and the API's idempotency keys.

use super::Conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: String,
    pub account_id: String,
    pub user_id: String,
    pub name: String,
    pub last_four: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token with the name and address of the person who made it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ListedToken {
    #[sqlx(flatten)]
    pub token: TokenRecord,
    pub owner_name: String,
    pub owner_email: String,
}

const COLUMNS: &str = "t.id, t.account_id, t.user_id, t.name, t.last_four, t.scopes, t.created_at, t.expires_at, t.last_used_at, t.revoked_at";

pub struct NewToken<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub user_id: &'a str,
    pub name: &'a str,
    pub secret_hash: &'a str,
    pub last_four: &'a str,
    pub scopes: &'a str,
    pub expires_at: Option<i64>,
}

pub async fn insert(conn: &mut Conn, token: &NewToken<'_>, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, account_id, user_id, name, secret_hash, last_four, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(token.id)
    .bind(token.account_id)
    .bind(token.user_id)
    .bind(token.name)
    .bind(token.secret_hash)
    .bind(token.last_four)
    .bind(token.scopes)
    .bind(now_ms)
    .bind(token.expires_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn by_secret_hash(conn: &mut Conn, secret_hash: &str) -> sqlx::Result<Option<TokenRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens t WHERE t.secret_hash = $1")).bind(secret_hash).fetch_optional(conn).await
}

pub async fn get(conn: &mut Conn, account_id: &str, id: &str) -> sqlx::Result<Option<TokenRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens t WHERE t.id = $1 AND t.account_id = $2")).bind(id).bind(account_id).fetch_optional(conn).await
}

/// The account's tokens (or only `user_id`'s), newest first.
pub async fn list(conn: &mut Conn, account_id: &str, user_id: Option<&str>) -> sqlx::Result<Vec<ListedToken>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS}, u.name AS owner_name, u.email AS owner_email FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.account_id = $1 AND ($2 IS NULL OR t.user_id = $2) ORDER BY t.created_at DESC, t.id DESC"
    ))
    .bind(account_id)
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Whether it was live and is revoked now.
pub async fn revoke(conn: &mut Conn, id: &str, by: &str, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $3, revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(by)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Revokes every live token `user_id` made (they are deactivated or deleted); how many.
pub async fn revoke_all_of(conn: &mut Conn, user_id: &str, by: &str, now_ms: i64) -> sqlx::Result<u64> {
    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $3, revoked_by = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(by)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Notes a use, at most once a minute per token: the list says "last used", not every call.
pub async fn touch(conn: &mut Conn, id: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(id)
        .bind(now_ms)
        .bind(now_ms - 60_000)
        .execute(conn)
        .await
        .map(|_| ())
}

/// A key already used by this token: the first request's fingerprint, and its answer once
/// it has one.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeptAnswer {
    pub fingerprint: String,
    pub status: Option<i64>,
    pub body: Option<String>,
    pub created_at: i64,
}

/// Who holds an idempotency key.
pub enum Claim {
    /// This request: it is the first to use the key (or the first since the key was freed).
    Ours,
    /// An earlier request, which left this.
    Theirs(KeptAnswer),
    /// An earlier request that freed it between our two looks: try again.
    Freed,
}

/// Claims `key` for a request with `fingerprint` (keys older than `kept_since` are free again).
pub async fn claim_key(conn: &mut Conn, token_id: &str, key: &str, fingerprint: &str, now_ms: i64, kept_since: i64) -> sqlx::Result<Claim> {
    // A key older than the keeping time is free again.
    sqlx::query("DELETE FROM api_idempotency_keys WHERE token_id = $1 AND idempotency_key = $2 AND created_at < $3")
        .bind(token_id)
        .bind(key)
        .bind(kept_since)
        .execute(&mut *conn)
        .await?;
    let claimed = sqlx::query(
        "INSERT INTO api_idempotency_keys (token_id, idempotency_key, fingerprint, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (token_id, idempotency_key) DO NOTHING",
    )
    .bind(token_id)
    .bind(key)
    .bind(fingerprint)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    if claimed.rows_affected() > 0 {
        return Ok(Claim::Ours);
    }
    let kept: Option<KeptAnswer> =
        sqlx::query_as("SELECT fingerprint, status, body, created_at FROM api_idempotency_keys WHERE token_id = $1 AND idempotency_key = $2")
            .bind(token_id)
            .bind(key)
            .fetch_optional(conn)
            .await?;
    Ok(kept.map_or(Claim::Freed, Claim::Theirs))
}

pub async fn keep_answer(conn: &mut Conn, token_id: &str, key: &str, status: u16, body: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_idempotency_keys SET status = $3, body = $4 WHERE token_id = $1 AND idempotency_key = $2")
        .bind(token_id)
        .bind(key)
        .bind(i64::from(status))
        .bind(body)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Frees a key whose request did nothing (refused, or the database was unreachable): a retry runs.
pub async fn release_key(conn: &mut Conn, token_id: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM api_idempotency_keys WHERE token_id = $1 AND idempotency_key = $2 AND status IS NULL")
        .bind(token_id)
        .bind(key)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Forgets keys kept longer than needed.
pub async fn prune_keys(conn: &mut Conn, kept_since: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM api_idempotency_keys WHERE created_at < $1").bind(kept_since).execute(conn).await?.rows_affected())
}
