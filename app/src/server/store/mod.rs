//! The SQL, and nothing but the SQL. Functions take a connection so the same call works
//! inside a service's transaction or on a pooled connection.

pub mod accounts;
pub mod invitations;
pub mod memberships;
pub mod users;

pub type Conn = sqlx::AnyConnection;

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
