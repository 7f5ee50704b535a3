use super::Conn;
use shared::RoleKey;

pub async fn grant(conn: &mut Conn, user_id: &str, scope_id: &str, role: &RoleKey, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO memberships (user_id, scope_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(scope_id)
        .bind(role.as_stored())
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The roles a user holds in one scope.
pub async fn roles_in(conn: &mut Conn, user_id: &str, scope_id: &str) -> sqlx::Result<Vec<RoleKey>> {
    let stored: Vec<String> = sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND scope_id = $2 ORDER BY role")
        .bind(user_id)
        .bind(scope_id)
        .fetch_all(conn)
        .await?;
    stored.into_iter().map(|r| RoleKey::try_from(r).map_err(|e| sqlx::Error::Decode(Box::new(e)))).collect()
}
