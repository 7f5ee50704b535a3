use super::{new_id, Conn};

/// One line of the audit trail, written in the same transaction as the change it records.
pub struct AuditEvent<'a> {
    pub account_id: &'a str,
    pub actor_user_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub details: serde_json::Value,
}

pub async fn record(conn: &mut Conn, event: AuditEvent<'_>, at_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, account_id, actor_user_id, action, target_type, target_id, details, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(event.account_id)
    .bind(event.actor_user_id)
    .bind(event.action)
    .bind(event.target_type)
    .bind(event.target_id)
    .bind(event.details.to_string())
    .bind(at_ms)
    .execute(conn)
    .await
    .map(|_| ())
}
