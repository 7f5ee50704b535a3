//! The API over loopback TCP with a real token: 500 invitations in one call, and an account's
//! 100,000 invitations listed through the cursor a page at a time (the per-page latency). Not a
//! test: it prints figures.
//!     cargo bench -p server --bench api                              (SQLite)
//!     scripts/with-postgres.sh cargo bench -p server --bench api    (PostgreSQL)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: a failure is the bench's answer

#[path = "../tests/common/mod.rs"]
mod common;

use app::services::db::Engine;
use common::http::request;
use common::TestApp;
use shared::permissions::TokenScopes;
use std::time::{Duration, Instant};

const INVITATIONS: usize = 100_000;
const CREATE_RUNS: usize = 5;
const PAGE: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let app = TestApp::with_owner().await;
    let engine = app.state.db.engine();
    let addr = app.serve().await;
    let owner = app.owner().await;
    let token = app::services::api_tokens::create(&app.state, &owner, "Bench", TokenScopes { invitations: true, people: false }, None).await.unwrap().secret;
    let auth = format!("Bearer {token}");

    let mut creates = Vec::new();
    for run in 0..CREATE_RUNS {
        let emails: Vec<String> = (0..500).map(|i| format!("\"new{run}-{i}@example.com\"")).collect();
        let body = format!(r#"{{"emails":[{}],"roles":[{{"role":"member"}}]}}"#, emails.join(","));
        let started = Instant::now();
        let answer = request(&addr, "POST", "/api/v1/invitations", &[("Authorization", &auth)], Some(&body)).await;
        creates.push(started.elapsed());
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_eq!(answer.json()["invited"].as_array().unwrap().len(), 500);
    }
    println!("{engine:?}: 500 invitations in one call, {CREATE_RUNS} runs: {}", spread(&creates));

    let started = Instant::now();
    seed(&app).await;
    println!("{engine:?}: seeded {INVITATIONS} more invitations in {:.1} s", started.elapsed().as_secs_f64());
    for (what, filter) in [("every invitation", ""), ("state=pending", "&state=pending")] {
        let mut pages = Vec::new();
        let mut seen = 0;
        let mut path = format!("/api/v1/invitations?limit={PAGE}{filter}");
        loop {
            let started = Instant::now();
            let answer = request(&addr, "GET", &path, &[("Authorization", &auth)], None).await;
            pages.push(started.elapsed());
            assert_eq!(answer.status, 200, "{}", answer.body);
            let page = answer.json();
            seen += page["data"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/api/v1/invitations?limit={PAGE}{filter}&cursor={cursor}"),
                None => break,
            }
            if pages.len() % 590 == 0 {
                // A token may call 600 times a minute: the bench moves the clock on, not the wall.
                app.clock.advance(chrono::Duration::seconds(61));
            }
        }
        println!(
            "{engine:?}: {what}: {seen} invitations in {} pages of {PAGE}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms a page",
            pages.len(),
            pct(&pages, 50),
            pct(&pages, 95),
            pct(&pages, 100)
        );
    }
}

fn spread(times: &[Duration]) -> String {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    format!("min {:.0} ms, median {:.0} ms, max {:.0} ms", ms[0], ms[ms.len() / 2], ms[ms.len() - 1])
}

fn pct(times: &[Duration], p: usize) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = ((sorted.len() * p).div_ceil(100)).clamp(1, sorted.len()) - 1;
    sorted[at].as_secs_f64() * 1000.0
}

/// Invited people, each with a pending invitation offering Member, a minute apart, written
/// with multi-row INSERTs in one transaction.
async fn seed(app: &TestApp) {
    let owner = app.owner().await;
    let now = app.clock_ms();
    let scope = &app.account_scope;
    let mut tx = app.state.db.pool.begin().await.unwrap();
    for chunk in (0..INVITATIONS).collect::<Vec<_>>().chunks(1000) {
        let (mut users, mut invitations, mut offered) = (Vec::new(), Vec::new(), Vec::new());
        for &n in chunk {
            let (id, invitation) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
            let created = now - 200 * 86_400_000 + (n as i64) * 60_000;
            let expires = created + 14 * 86_400_000;
            users.push(format!("('{id}', '{}', 'seeded{n}@example.com', '', '', '', 'invited', {created}, {created}, {created}, {expires})", owner.account_id));
            invitations
                .push(format!("('{invitation}', '{}', '{id}', '{}', 'pending', 1, {created}, {expires}, {created}, 1)", owner.account_id, owner.user_id));
            offered.push(format!("('{invitation}', '{scope}', 'member')"));
        }
        let statements = [
            ("users (id, account_id, email, name, name_folded, sort_name, status, created_at, updated_at, invited_at, pending_expires_at)", users),
            ("invitations (id, account_id, user_id, invited_by, state, link_version, created_at, expires_at, last_sent_at, send_count)", invitations),
            ("invitation_roles (invitation_id, scope_id, role)", offered),
        ];
        for (into, rows) in statements {
            sqlx::query(&format!("INSERT INTO {into} VALUES {}", rows.join(", "))).execute(&mut *tx).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    let analyze = match app.state.db.engine() {
        Engine::Sqlite => "ANALYZE",
        Engine::Postgres => "VACUUM ANALYZE",
    };
    sqlx::query(analyze).execute(&app.state.db.pool).await.unwrap();
}
