use super::Conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    pub invitation_expiry_days: i64,
    pub resend_rotates_link: i64,
}

pub async fn count(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(conn).await
}

pub async fn insert(conn: &mut Conn, id: &str, name: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(name)
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<AccountRecord>> {
    sqlx::query_as("SELECT id, name, invitation_expiry_days, resend_rotates_link FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn insert_scope(conn: &mut Conn, id: &str, account_id: &str, kind: &str, name: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO scopes (id, account_id, kind, name, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(account_id)
        .bind(kind)
        .bind(name)
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The account's own scope, where account-wide roles are held.
pub async fn account_scope_id(conn: &mut Conn, account_id: &str) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT id FROM scopes WHERE account_id = $1 AND kind = 'account'")
        .bind(account_id)
        .fetch_one(conn)
        .await
}

pub async fn set_invitation_settings(conn: &mut Conn, id: &str, expiry_days: i64, resend_rotates_link: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET invitation_expiry_days = $1, resend_rotates_link = $2 WHERE id = $3")
        .bind(expiry_days)
        .bind(i64::from(resend_rotates_link))
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}
