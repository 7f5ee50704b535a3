//! The SQL, and nothing but the SQL. Functions take a connection so the same call works
//! inside a service's transaction or on a pooled connection.

pub mod accounts;
pub mod audit;
pub mod custom_roles;
pub mod invitations;
pub mod memberships;
pub mod outbox;
pub mod password_resets;
pub mod rate_limits;
pub mod scopes;
pub mod user_list;
pub mod users;

pub type Conn = sqlx::AnyConnection;

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `$from, $from+1, …`: `count` numbered parameters for an `IN (…)` list.
pub fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
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
