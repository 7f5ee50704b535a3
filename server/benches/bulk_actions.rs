//! A bulk resend of 10,000 invitations, with the runner delivering to a real SMTP server on
//! loopback (aiosmtpd, a pool of 8): how long until the job is accepted, until every email is
//! in the outbox, the delivery rate against the sink's own rate in the same run, and how long
//! single invitations sent meanwhile take to reach the sink. Not a test: it prints figures.
//!     cargo bench -p server --bench bulk_actions
//!     scripts/with-postgres.sh cargo bench -p server --bench bulk_actions
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the test's answer

#[path = "../tests/common/mod.rs"]
mod common;

use app::services::invitations::service::{self, InviteRequest};
use app::services::mail::transport::Transport;
use app::services::mail::worker::{dispatch_pending, DeliveryConfig};
use common::smtp_sink::SmtpSink;
use common::TestApp;
use shared::bulk::{BulkAction, JobState, Selection};
use shared::Role;
use std::time::{Duration, Instant};

const PEOPLE: usize = 10_000;
const POOL: u32 = 8;
const SINGLES: usize = 5;

/// The runner as `serve` runs it, with the SMTP pool's concurrency; BENCH_JOB_BATCH sets how
/// many people a job's transaction does (default: the runner's).
fn config() -> DeliveryConfig {
    let defaults = DeliveryConfig::default();
    let job_batch = std::env::var("BENCH_JOB_BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(defaults.job_batch);
    DeliveryConfig { concurrency: POOL as usize, default_from: "beckon@example.com".into(), poll_interval: Duration::from_millis(500), job_batch, ..defaults }
}

/// How many of the job's resends the SMTP server accepted (the outbox records each 250).
async fn resends_sent(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE priority = 1 AND state = 'sent'").fetch_one(&app.state.db.pool).await.unwrap()
}

/// Whether the SMTP server accepted the message to `address`.
async fn sent_to(app: &TestApp, address: &str) -> bool {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND state = 'sent'").bind(address).fetch_one(&app.state.db.pool).await.unwrap();
    n > 0
}

#[tokio::main]
async fn main() {
    let engine = if std::env::var("BECKON_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) { "PostgreSQL" } else { "SQLite" };
    println!(
        "bulk resend of {PEOPLE} invitations on {engine}, {} people a batch, delivered to an SMTP server on loopback (pool of {POOL})",
        config().job_batch
    );

    // The sink's own rate: 5,000 queued messages sent by the delivery lane alone.
    let sink = SmtpSink::start();
    let alone = TestApp::with_owner().await;
    alone.queue_test_emails(5_000).await;
    let mut settings = sink.settings();
    settings.pool_size = POOL;
    let transport = Transport::smtp(&settings).unwrap();
    let started = Instant::now();
    let report = dispatch_pending(&alone.state, &transport, &config()).await.unwrap();
    let sink_rate = report.sent as f64 / started.elapsed().as_secs_f64();
    println!("  the sink alone: {} messages in {:.2} s = {sink_rate:.0} messages/s", report.sent, started.elapsed().as_secs_f64());
    drop(alone);
    drop(sink);

    let sink = SmtpSink::start();
    // 10,000 invitations and 10,000 resends in a day: past the default daily budgets, which
    // an operator raises for an account this size (BECKON_MAIL_DAILY_LIMIT*).
    let dir = tempfile::tempdir().unwrap();
    let mut server_config = common::test_config(dir.path());
    server_config.database_url = common::test_database_url(dir.path()).await;
    server_config.mail_limits = app::services::mail::budget::DailyLimits { account: 100_000, per_sender: 100_000 };
    let app = TestApp::on(server_config, dir).await;
    let owner = app.owner().await;
    let addresses: Vec<String> = (0..PEOPLE).map(|i| format!("bulk-{i}@example.com")).collect();
    for chunk in addresses.chunks(shared::invitations::MAX_INVITES_PER_BATCH) {
        let request = InviteRequest { addresses: chunk.join(","), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true };
        service::invite(&app.state, &owner, request).await.unwrap();
    }
    // The invitations themselves count as sent: the sink sees the resends and the singles.
    sqlx::query("UPDATE outbox SET state = 'sent'").execute(&app.state.db.pool).await.unwrap();
    // The clock moves on an hour, so the per-recipient limit counts the resends afresh.
    app.clock.advance(chrono::Duration::hours(2));

    let mut settings = sink.settings();
    settings.pool_size = POOL;
    let transport = Transport::smtp(&settings).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(app::services::runner::run(app.state.clone(), transport, config(), async {
        let _ = stopped.await;
    }));

    let began = Instant::now();
    let job = app::services::jobs::start(&app.state, &owner, BulkAction::Resend, Selection::Matching("status=invited".into())).await.unwrap();
    let accepted = began.elapsed();
    assert_eq!(job.total as usize, PEOPLE);

    // Single invitations while the job runs: each timed until the sink has it.
    let mut single_times = Vec::new();
    let mut in_outbox = None;
    let mut delivered = None;
    let mut next_single = 0;
    loop {
        let elapsed = began.elapsed();
        if next_single < SINGLES && elapsed >= Duration::from_millis(500 * (next_single as u64 + 1)) {
            let address = format!("single-{next_single}@example.com");
            let sent_at = Instant::now();
            let request = InviteRequest { addresses: address.clone(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true };
            service::invite(&app.state, &owner, request).await.unwrap();
            single_times.push((address, sent_at, None::<Duration>));
            next_single += 1;
        }
        for (address, sent_at, arrived) in single_times.iter_mut() {
            if arrived.is_none() && sent_to(&app, address).await {
                *arrived = Some(sent_at.elapsed());
            }
        }
        if in_outbox.is_none() && app::services::jobs::get(&app.state, &owner, &job.id).await.unwrap().state == JobState::Done {
            in_outbox = Some(began.elapsed());
        }
        if delivered.is_none() && resends_sent(&app).await as usize >= PEOPLE {
            delivered = Some(began.elapsed());
        }
        if in_outbox.is_some() && delivered.is_some() && single_times.iter().all(|s| s.2.is_some()) {
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(600), "gave up after 10 minutes: {} delivered", resends_sent(&app).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    runner.await.unwrap();
    assert_eq!(sink.messages().len(), PEOPLE + SINGLES, "the sink holds every message once");
    let (in_outbox, delivered) = (in_outbox.unwrap(), delivered.unwrap());
    let rate = PEOPLE as f64 / delivered.as_secs_f64();
    println!("  job accepted in {:.0} ms (goal 300 ms)", accepted.as_secs_f64() * 1000.0);
    println!("  every email in the outbox after {:.2} s (goal 20 s)", in_outbox.as_secs_f64());
    println!(
        "  every email delivered after {:.2} s = {rate:.0} messages/s, {:.0} % of the sink alone (goal 80 %)",
        delivered.as_secs_f64(),
        100.0 * rate / sink_rate
    );
    let slowest = single_times.iter().filter_map(|s| s.2).max().unwrap();
    let each: Vec<String> = single_times.iter().filter_map(|s| s.2).map(|d| format!("{:.2} s", d.as_secs_f64())).collect();
    println!("  {SINGLES} single invitations sent meanwhile reached the sink in {} (slowest {:.2} s, goal 5 s)", each.join(", "), slowest.as_secs_f64());
}
