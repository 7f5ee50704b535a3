//! Beckon's integration tests, one binary for them all (each file of this folder a module):
//! the stack is compiled and linked once instead of once per file. Each test builds its own
//! application on a fresh database (SQLite, or PostgreSQL under `scripts/with-postgres.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the test's answer

#[path = "../common/mod.rs"]
mod common;

mod accept_recheck;
mod accounts_and_sign_in;
mod api;
mod audit_log;
mod bounces;
mod bulk;
mod concurrency;
mod dkim;
mod email_budget;
mod http_security;
mod imports;
mod invitations;
mod mail_delivery;
mod mail_tls;
mod multi_process;
mod operations;
mod password_reset;
mod people;
mod permission_matrix;
mod readme_claims;
mod reliability;
mod reminders;
mod role_ceilings;
mod schema;
mod scopes;
mod webhooks;
