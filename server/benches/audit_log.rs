//! The Audit log over 1,000,000 events: 2,000 people, 20 places, a year of history. Each
//! view is asked through the real router (session, permission check, resolving the
//! filter's addresses, the keyset query, the names) by 4 admins at once, 50 times each, and
//! the query alone is timed too. Then the whole CSV export of one person's events and of a
//! month. Not a test: it prints figures.
//!     cargo bench -p server --bench audit_log                  (SQLite)
//!     scripts/with-postgres.sh cargo bench -p server --bench audit_log   (PostgreSQL)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the test's answer

#[path = "../tests/common/mod.rs"]
mod common;

use app::services::db::Engine;
use common::{TestApp, ORIGIN, OWNER_EMAIL};
use shared::audit::{AuditAction, AUDIT_EXPORT_PATH};
use shared::scopes::{Grant, ScopeKind};
use shared::Role;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: usize = 1_000_000;
const PEOPLE: usize = 2_000;
const PLACES: usize = 20;
const ADMINS: usize = 4;
const REQUESTS_EACH: usize = 50;
const DAY: i64 = 86_400_000;

/// The actions the seeded history is made of, most common first.
const ACTIONS: [AuditAction; 8] = [
    AuditAction::InvitationCreated,
    AuditAction::InvitationResent,
    AuditAction::InvitationAccepted,
    AuditAction::InvitationReminded,
    AuditAction::InvitationLinkCopied,
    AuditAction::UserRolesGranted,
    AuditAction::InvitationCancelled,
    AuditAction::UserDeactivated,
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let app = Arc::new(TestApp::with_owner().await);
    let engine = app.state.db.engine();
    let owner = app.owner().await;
    let mut places = Vec::new();
    for i in 0..PLACES {
        places.push(app.create_place(ScopeKind::OrganisationalUnit, &format!("Unit {i:02}"), None).await);
    }
    app.add_active_user_with("place-admin@example.com", &[Grant::new(&places[3], Role::Admin)]).await;
    // Past the few places read one by one: one statement checks each event for any of 17.
    let many: Vec<Grant> = places[..17].iter().map(|p| Grant::new(p, Role::Admin)).collect();
    app.add_active_user_with("region-admin@example.com", &many).await;
    let started = Instant::now();
    seed(&app, &owner.account_id, &places).await;
    println!("{engine:?}: seeded {EVENTS} audit events in {:.1} s", started.elapsed().as_secs_f64());
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let place_admin = app.sign_in("place-admin@example.com").await;
    let region_admin = app.sign_in("region-admin@example.com").await;

    let now = app.clock_ms();
    let month_ago = shared::invitations::utc_date(now - 30 * DAY);
    let deep = deep_cursor(&app, EVENTS / 2).await;
    let cases: Vec<(&str, String, &str)> = vec![
        ("newest page", String::new(), &cookie),
        ("action: Person deactivated (1 in 128)", "action=user.deactivated".into(), &cookie),
        ("actor: one admin of ten", "actor=admin3%40example.com".into(), &cookie),
        ("person: one of 2,000", "person=person01234%40example.com".into(), &cookie),
        ("last 30 days", format!("from={month_ago}"), &cookie),
        ("action + actor + dates", format!("action=invitation.resent&actor=admin7%40example.com&from={month_ago}"), &cookie),
        ("page 10,000 of 20,000 (by Older)", format!("before={deep}"), &cookie),
        ("actor + action: no event matches both", "actor=admin3%40example.com&action=user.people_granted".into(), &cookie),
        ("a place administrator (1 place of 20)", String::new(), &place_admin),
        ("a place administrator, deactivations", "action=user.deactivated".into(), &place_admin),
        ("a place administrator, one admin's doing", "actor=admin3%40example.com".into(), &place_admin),
        ("a place administrator, one person", "person=person01234%40example.com".into(), &place_admin),
        ("an administrator of 17 places", String::new(), &region_admin),
        ("an administrator of 17 places, deactivations", "action=user.deactivated".into(), &region_admin),
    ];
    let path = <app::server_fns::ListAuditEvents as server_fn::ServerFn>::PATH;
    println!("\n{:<44} {:>8} {:>8} {:>8} {:>6}   (ms per page through the router, {ADMINS} admins at once)", "view", "p50", "p95", "p99", "rows");
    for (label, query, cookie) in &cases {
        let form = format!("query={}", shared::url::encode_component(query));
        let (times, rows) = at_once(&app, path, &form, cookie).await;
        println!("{label:<44} {:>8.2} {:>8.2} {:>8.2} {rows:>6}", pct(&times, 50), pct(&times, 95), pct(&times, 99));
    }

    println!("\nthe CSV export, whole");
    for (label, query) in [("one person's events", "person=person01234%40example.com".to_string()), ("the last 30 days", format!("from={month_ago}"))] {
        let t = Instant::now();
        let response = app.get(&format!("{AUDIT_EXPORT_PATH}?{query}"), Some(&cookie)).await;
        assert!(response.status().is_success());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let lines = bytes.iter().filter(|b| **b == b'\n').count() - 1;
        let took = t.elapsed().as_secs_f64();
        println!("{label:<44} {lines:>7} events, {:>6.1} MB in {took:.2} s ({:.0} events/s)", bytes.len() as f64 / 1e6, lines as f64 / took);
    }
    // The query plans, for the record.
    if engine == Engine::Sqlite {
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "EXPLAIN QUERY PLAN SELECT e.id FROM audit_events e WHERE e.account_id = $1 AND e.action = $2 ORDER BY e.at DESC, e.id DESC LIMIT 51",
        )
        .bind(&owner.account_id)
        .bind("user.deactivated")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
        println!("\nplan, action filter: {:?}", plan.iter().map(|p| p.3.as_str()).collect::<Vec<_>>());
    }
}

/// The position `n` events from the newest, as an "Older events" link carries it.
async fn deep_cursor(app: &TestApp, n: usize) -> String {
    let (at, id): (i64, String) = sqlx::query_as("SELECT at, id FROM audit_events ORDER BY at DESC, id DESC LIMIT 1 OFFSET $1")
        .bind(n as i64)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    format!("{at}.{id}")
}

async fn at_once(app: &Arc<TestApp>, path: &'static str, form: &str, cookie: &str) -> (Vec<Duration>, usize) {
    let tasks: Vec<_> = (0..ADMINS)
        .map(|_| {
            let (app, form, cookie) = (app.clone(), form.to_string(), cookie.to_string());
            tokio::spawn(async move {
                let mut times = Vec::with_capacity(REQUESTS_EACH);
                let mut rows = 0;
                for _ in 0..REQUESTS_EACH {
                    let t = Instant::now();
                    let response = app.call(path, &form, Some(ORIGIN), Some(&cookie)).await;
                    assert!(response.status().is_success(), "{form}: {}", response.status());
                    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
                    times.push(t.elapsed());
                    let page: shared::audit::AuditPage = serde_json::from_slice(&bytes).unwrap();
                    rows = page.rows.len();
                }
                (times, rows)
            })
        })
        .collect();
    let (mut all, mut rows) = (Vec::new(), 0);
    for task in tasks {
        let (times, n) = task.await.unwrap();
        all.extend(times);
        rows = n;
    }
    (all, rows)
}

fn pct(times: &[Duration], p: usize) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = ((sorted.len() * p).div_ceil(100)).clamp(1, sorted.len()) - 1;
    sorted[at].as_secs_f64() * 1000.0
}

/// People, ten admins, and a year of events among them, with multi-row INSERTs in one
/// transaction: each event about one person, concerning that person's place.
async fn seed(app: &TestApp, account_id: &str, places: &[String]) {
    let now = app.clock_ms();
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut tx = app.state.db.pool.begin().await.unwrap();
    let mut people = Vec::new();
    let mut user_rows = Vec::new();
    for n in 0..PEOPLE + 10 {
        let id = uuid::Uuid::new_v4().to_string();
        let email = if n < PEOPLE { format!("person{n:05}@example.com") } else { format!("admin{}@example.com", n - PEOPLE) };
        user_rows.push(format!(
            "({}, {}, {}, {}, {}, {}, 'active', {now}, {now})",
            quote(&id),
            quote(account_id),
            quote(&email),
            quote(&format!("Person {n}")),
            quote(&format!("person {n}")),
            quote(&format!("person {n}"))
        ));
        people.push(id);
    }
    for chunk in user_rows.chunks(500) {
        sqlx::query(&format!(
            "INSERT INTO users (id, account_id, email, name, name_folded, sort_name, status, created_at, updated_at) VALUES {}",
            chunk.join(", ")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let start = now - 365 * DAY;
    let step = (365 * DAY) / EVENTS as i64;
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(1000) {
        let (mut events, mut touched) = (Vec::new(), Vec::new());
        for &n in chunk {
            let id = uuid::Uuid::new_v4().to_string();
            // Skewed like a real trail: invitations sent far more than people deactivated.
            let action = ACTIONS[(n.trailing_zeros() as usize).min(ACTIONS.len() - 1)];
            // Who acts and whom it is about, independent of the action and of each other.
            let person = (n.wrapping_mul(0x9E37_79B1) >> 8) % PEOPLE;
            let actor = &people[PEOPLE + (n.wrapping_mul(0x85EB_CA6B) >> 12) % 10];
            let at = start + n as i64 * step;
            let details = format!("{{\"email\":\"person{person:05}@example.com\"}}");
            events.push(format!(
                "({}, {}, {}, '{}', 'user', {}, {}, {at}, {})",
                quote(&id),
                quote(account_id),
                quote(actor),
                action.as_str(),
                quote(&people[person]),
                quote(&details),
                quote(&people[person])
            ));
            touched.push(format!("({}, {}, '{}', {}, {at})", quote(&id), quote(&places[person % PLACES]), action.as_str(), quote(actor)));
        }
        sqlx::query(&format!(
            "INSERT INTO audit_events (id, account_id, actor_user_id, action, target_type, target_id, details, at, subject_user_id) VALUES {}",
            events.join(", ")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(&format!("INSERT INTO audit_event_places (event_id, scope_id, action, actor_user_id, at) VALUES {}", touched.join(", ")))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let analyze = match app.state.db.engine() {
        Engine::Sqlite => "ANALYZE",
        Engine::Postgres => "VACUUM ANALYZE",
    };
    sqlx::query(analyze).execute(&app.state.db.pool).await.unwrap();
}
