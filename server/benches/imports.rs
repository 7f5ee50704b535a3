//! An import of 10,000 rows (each a new person, Member of a place), in-process through the
//! service the upload route calls: how long until the preview is ready, until the import is
//! committed (every person, invitation, role, email and audit line live), how long its last
//! transaction (the one that makes the rows live) held the database, the longest a small
//! write waited meanwhile, and the process's peak resident memory. Not a test: it prints.
//!     cargo bench -p server --bench imports
//!     scripts/with-postgres.sh cargo bench -p server --bench imports
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the test's answer

#[path = "../tests/common/mod.rs"]
mod common;

use app::services::checkpoints::{points, Checkpoints};
use app::services::imports;
use app::services::jobs::{self, JobsConfig};
use app::services::mail::worker::DeliveryConfig;
use common::TestApp;
use shared::bulk::JobState;
use shared::import::{ImportMode, Verdict};
use shared::scopes::ScopeKind;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: usize = 10_000;

/// The process's peak resident memory so far, in MB (Linux).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

#[tokio::main]
async fn main() {
    let engine = if std::env::var("BECKON_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) { "PostgreSQL" } else { "SQLite" };
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.database_url = common::test_database_url(dir.path()).await;
    config.mail_limits = app::services::mail::budget::DailyLimits { account: 100_000, per_sender: 100_000 };
    let app = TestApp::on(config, dir).await;
    let owner = app.owner().await;
    app.create_place(ScopeKind::OrganisationalUnit, "Sales", None).await;
    let mut file = String::from("email,name,role,place,message\n");
    for i in 0..ROWS {
        file.push_str(&format!("person-{i}@example.com,Person Number {i},Member,Sales,Welcome to the team\n"));
    }
    let before = peak_rss_mb();
    println!("import of {ROWS} rows ({:.1} MB) on {engine}; peak resident memory before it: {before:.0} MB", file.len() as f64 / 1e6);

    let began = Instant::now();
    let id = imports::upload(&app.state, &owner, "bench.csv", file.as_bytes()).await.unwrap().unwrap();
    let preview = imports::get(&app.state, &owner, &id, None, 0).await.unwrap();
    let previewed = began.elapsed();
    assert_eq!(preview.counts.iter().find(|c| c.verdict == Verdict::Invite).map(|c| c.count), Some(ROWS as u64), "{:?}", preview.counts);

    // When the last batch starts publishing, and when it has committed.
    let marks: Arc<Mutex<(Option<Instant>, Option<Instant>)>> = Arc::default();
    let seen = marks.clone();
    let checkpoints = Checkpoints::new(move |name| {
        let mut marks = seen.lock().unwrap();
        match name {
            points::IMPORT_BEFORE_PUBLISH => marks.0 = Some(Instant::now()),
            points::JOB_BATCH_COMMITTED if marks.0.is_some() && marks.1.is_none() => marks.1 = Some(Instant::now()),
            _ => {}
        }
        Box::pin(async {})
    });
    let state = app.state.with_checkpoints(checkpoints);

    // A small write every 20 ms meanwhile, as requests would make: the longest it waited.
    let probe_state = app.state.clone();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let probe = tokio::spawn(async move {
        let mut longest = Duration::ZERO;
        loop {
            let asked = Instant::now();
            let mut tx = probe_state.db.write_tx().await.unwrap();
            sqlx::query("DELETE FROM rate_limits WHERE key = 'bench-probe'").execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            longest = longest.max(asked.elapsed());
            tokio::select! {
                _ = &mut stopped => return longest,
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    });

    let started = Instant::now();
    let view = imports::start(&state, &owner, &id, ImportMode::SendInvites).await.unwrap();
    let accepted = started.elapsed();
    let batch = std::env::var("BENCH_JOB_BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(DeliveryConfig::default().job_batch);
    let runner = JobsConfig { worker: "bench/imports/1".into(), batch, lease: Duration::from_secs(300) };
    jobs::run_due(&state, &runner, None).await.unwrap();
    let committed = started.elapsed();
    let _ = stop.send(());
    let longest_wait = probe.await.unwrap();
    let job = jobs::get(&app.state, &owner, view.job_id.as_deref().unwrap()).await.unwrap();
    assert_eq!((job.state, job.done as usize), (JobState::Done, ROWS), "{job:?}");
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'invitation'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(queued as usize, ROWS, "every email in the outbox");
    let (publishing, published) = *marks.lock().unwrap();
    let publish = published.unwrap() - publishing.unwrap();

    println!("  preview ready (parsed, judged, written) in {:.2} s (goal 2 s)", previewed.as_secs_f64());
    println!("  import confirmed (judged again, job written) in {:.0} ms", accepted.as_secs_f64() * 1000.0);
    println!(
        "  import committed, {ROWS} emails in the outbox, after {:.2} s (goal 10 s), {} rows a batch",
        committed.as_secs_f64(),
        batch * jobs::IMPORT_BATCH_FACTOR
    );
    println!("  the rows made live by one transaction in {:.0} ms (publish and commit)", publish.as_secs_f64() * 1000.0);
    println!("  a small write waited at most {:.0} ms meanwhile", longest_wait.as_secs_f64() * 1000.0);
    println!("  peak resident memory of the process: {:.0} MB (it was {before:.0} MB before the import; goal 200 MB)", peak_rss_mb());
}
