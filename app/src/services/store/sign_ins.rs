//! Where each person is signed in: one row per sign-in, describing a session of the store.

use super::Conn;

#[derive(sqlx::FromRow)]
pub struct SignInRecord {
    pub id: String,
    pub device: String,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
}

pub async fn insert(conn: &mut Conn, id: &str, user_id: &str, auth_version: i64, device: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sign_ins (id, user_id, auth_version, device, signed_in_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $5)")
        .bind(id)
        .bind(user_id)
        .bind(auth_version)
        .bind(device)
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn seen(conn: &mut Conn, id: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sign_ins SET last_seen_at = $2 WHERE id = $1").bind(id).bind(now_ms).execute(conn).await.map(|_| ())
}

pub async fn end(conn: &mut Conn, id: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sign_ins SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL").bind(id).bind(now_ms).execute(conn).await.map(|_| ())
}

/// The person's sign-ins still open: not ended, from their current `auth_version`, seen
/// since `seen_since` and begun since `begun_since` (the session timeouts). Newest seen first.
pub async fn open_for(conn: &mut Conn, user_id: &str, auth_version: i64, seen_since: i64, begun_since: i64) -> sqlx::Result<Vec<SignInRecord>> {
    sqlx::query_as(
        "SELECT id, device, signed_in_at, last_seen_at FROM sign_ins \
         WHERE user_id = $1 AND auth_version = $2 AND ended_at IS NULL AND last_seen_at >= $3 AND signed_in_at >= $4 \
         ORDER BY last_seen_at DESC, id LIMIT 100",
    )
    .bind(user_id)
    .bind(auth_version)
    .bind(seen_since)
    .bind(begun_since)
    .fetch_all(conn)
    .await
}

/// Forgets sign-ins ended, or begun before `begun_before` (past any session's lifetime).
pub async fn prune<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, begun_before: i64) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM sign_ins WHERE ended_at IS NOT NULL OR signed_in_at < $1").bind(begun_before).execute(db).await.map(|r| r.rows_affected())
}
