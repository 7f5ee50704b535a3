//! The SQL, and nothing but the SQL. Functions take a connection so the same call works
//! inside a service's transaction or on a pooled connection.

pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod bounces;
pub mod custom_roles;
pub mod invitations;
pub mod jobs;
pub mod memberships;
pub mod outbox;
pub mod password_resets;
pub mod rate_limits;
pub mod scopes;
pub mod sign_ins;
pub mod user_list;
pub mod users;
pub mod webhooks;

pub type Conn = sqlx::AnyConnection;

pub use crate::services::db::Engine;

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `$from, $from+1, …`: `count` numbered parameters for an `IN (…)` list.
pub fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// How a transaction that decides from what it reads keeps those rows from changing under it
/// until it ends, on PostgreSQL (on SQLite a write transaction holds the whole database from
/// its start, `BEGIN IMMEDIATE`, so nothing else can change them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowLock {
    /// Others may read and share-lock them, not change them.
    Share,
    /// Others may not lock them so, or change them, either. Rows that merely point to them
    /// (a new invitation of the account) are not held up: the key never changes.
    Update,
}

impl RowLock {
    /// The clause a `SELECT` ends with on `engine`.
    pub fn clause(self, engine: Engine) -> &'static str {
        match (engine, self) {
            (Engine::Sqlite, _) => "",
            (Engine::Postgres, RowLock::Share) => " FOR SHARE",
            (Engine::Postgres, RowLock::Update) => " FOR NO KEY UPDATE",
        }
    }
}

/// `text` as a LIKE pattern matches it literally (with `ESCAPE '\'`): its `\`, `%` and `_`
/// escaped.
pub fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Whether `error` is a unique constraint refusing a duplicate.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}
