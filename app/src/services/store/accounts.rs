use super::Conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    #[sqlx(try_from = "i64")]
    pub invitation_expiry_days: shared::invitations::ExpiryDays,
    pub resend_rotates_link: i64,
    pub remind_after_days: Option<i64>,
    pub remind_before_days: Option<i64>,
}

impl AccountRecord {
    pub fn reminders(&self) -> shared::invitations::AutoReminders {
        shared::invitations::AutoReminders { after_sending_days: self.remind_after_days, before_expiry_days: self.remind_before_days }
    }
}

pub async fn count(conn: &mut Conn) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(conn).await
}

pub async fn insert(conn: &mut Conn, id: &str, name: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)").bind(id).bind(name).bind(now_ms).execute(conn).await.map(|_| ())
}

pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<AccountRecord>> {
    sqlx::query_as("SELECT id, name, invitation_expiry_days, resend_rotates_link, remind_after_days, remind_before_days FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Locks the account's row until the transaction ends (PostgreSQL; see `RowLock`): the
/// transactions that spend one of its budgets take their turns.
pub async fn lock(conn: &mut Conn, engine: super::Engine, id: &str) -> sqlx::Result<()> {
    sqlx::query(&format!("SELECT id FROM accounts WHERE id = $1{}", super::RowLock::Update.clause(engine))).bind(id).fetch_optional(conn).await.map(|_| ())
}

/// Claims the one installation this database holds; `false` when another set-up did first.
pub async fn claim_installation(conn: &mut Conn, account_id: &str, now_ms: i64) -> sqlx::Result<bool> {
    sqlx::query("INSERT INTO installation (singleton, account_id, created_at) VALUES (1, $1, $2) ON CONFLICT DO NOTHING")
        .bind(account_id)
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|r| r.rows_affected() == 1)
}

pub async fn set_invitation_settings(conn: &mut Conn, id: &str, settings: &shared::views::InvitationSettings) -> sqlx::Result<()> {
    sqlx::query("UPDATE accounts SET invitation_expiry_days = $1, resend_rotates_link = $2, remind_after_days = $3, remind_before_days = $4 WHERE id = $5")
        .bind(settings.expiry_days.days())
        .bind(i64::from(settings.resend_rotates_link))
        .bind(settings.reminders.after_sending_days)
        .bind(settings.reminders.before_expiry_days)
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}
