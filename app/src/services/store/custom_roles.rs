use super::Conn;
use shared::status::StoredInvitationState;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CustomRoleRecord {
    pub id: String,
    pub name: String,
    /// People holding it plus open invitations offering it.
    pub in_use: i64,
}

/// The account's own roles, by name, with how much each is used.
pub async fn list(conn: &mut Conn, account_id: &str) -> sqlx::Result<Vec<CustomRoleRecord>> {
    sqlx::query_as(
        "SELECT c.id, c.name, \
           (SELECT COUNT(*) FROM memberships m WHERE m.role = 'custom:' || c.id) + \
           (SELECT COUNT(*) FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id \
              WHERE r.role = 'custom:' || c.id AND i.state = $2) AS in_use \
         FROM custom_roles c WHERE c.account_id = $1 ORDER BY lower(c.name)",
    )
    .bind(account_id)
    .bind(StoredInvitationState::Pending.as_str())
    .fetch_all(conn)
    .await
}

pub async fn insert(conn: &mut Conn, id: &str, account_id: &str, name: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO custom_roles (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(account_id)
        .bind(name)
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn rename(conn: &mut Conn, account_id: &str, id: &str, name: &str) -> sqlx::Result<bool> {
    sqlx::query("UPDATE custom_roles SET name = $1 WHERE account_id = $2 AND id = $3")
        .bind(name)
        .bind(account_id)
        .bind(id)
        .execute(conn)
        .await
        .map(|r| r.rows_affected() == 1)
}

pub async fn delete(conn: &mut Conn, account_id: &str, id: &str) -> sqlx::Result<bool> {
    sqlx::query("DELETE FROM custom_roles WHERE account_id = $1 AND id = $2").bind(account_id).bind(id).execute(conn).await.map(|r| r.rows_affected() == 1)
}
