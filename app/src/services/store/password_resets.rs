//! The `password_resets` table: one row per link sent by "Forgot your password?".

use super::Conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ResetRecord {
    pub id: String,
    pub account_id: String,
    pub user_id: String,
    /// The person's `auth_version` when the link was made: another one now means the
    /// password changed since, and the link is dead.
    pub auth_version: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

const COLUMNS: &str = "id, account_id, user_id, auth_version, created_at, expires_at, used_at";

pub struct NewReset<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub user_id: &'a str,
    pub auth_version: i64,
    pub expires_at: i64,
}

pub async fn insert(conn: &mut Conn, reset: NewReset<'_>, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO password_resets (id, account_id, user_id, auth_version, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(reset.id)
        .bind(reset.account_id)
        .bind(reset.user_id)
        .bind(reset.auth_version)
        .bind(now_ms)
        .bind(reset.expires_at)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<ResetRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM password_resets WHERE id = $1")).bind(id).fetch_optional(conn).await
}

/// Marks the link used if, at this instant, it is unused and live. Exactly one of several
/// simultaneous uses gets `true`.
pub async fn claim(conn: &mut Conn, id: &str, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE password_resets SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1")
        .bind(now_ms)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
