use super::Conn;

pub async fn grant(conn: &mut Conn, user_id: &str, scope_id: &str, role: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO memberships (user_id, scope_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(scope_id)
        .bind(role)
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The roles a user holds in their account's own scope.
pub async fn account_roles(conn: &mut Conn, user_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT m.role FROM memberships m JOIN scopes s ON s.id = m.scope_id \
         WHERE m.user_id = $1 AND s.kind = 'account' ORDER BY m.role",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}
