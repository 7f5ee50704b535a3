//! The Users page over a large account: 100,000 users of whom 20,000 hold a pending
//! invitation (5,000 of those expired), listed by 4 admins at once through the real router
//! (session, permission check, query, server-side rendering). Prints the latency per filter,
//! the query alone, the engine's plans, and (with Debian's `wrk` on the PATH) each view
//! over loopback TCP, 4 connections, `BENCH_SECONDS` (20) each. Not a test: it prints figures.
//!     cargo bench -p server --bench users_page                  (SQLite)
//!     scripts/with-postgres.sh cargo bench -p server --bench users_page   (PostgreSQL)
//!     cargo bench -p server --bench users_page -- --keep DIR    (also leaves the seeded
//!         SQLite account in DIR for `BECKON_DATA_DIR=DIR beckon serve`; see bench/README.md)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the test's answer

#[path = "../tests/common/mod.rs"]
mod common;

use app::services::db::Engine;
use app::services::store::user_list::{self, ListFilter, Start};
use common::{body_text, TestApp, OWNER_EMAIL};
use shared::status::UserStatus;
use shared::views::{PageCursor, RowAt, UsersQuery, UsersSort};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const PENDING: usize = 20_000;
const EXPIRED: usize = 5_000;
const ADMINS: usize = 4;
const REQUESTS_EACH: usize = 50;

const FIRST: [&str; 24] = [
    "Ada", "Ben", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemal", "Lena", "Marta", "Nils", "Olga", "Pavel", "Quinn", "Rosa",
    "Søren", "Tariq", "Ulla", "Víctor", "Wen", "Yusuf",
];
const LAST: [&str; 20] = [
    "Smith",
    "Okafor",
    "Müller",
    "Rossi",
    "Nakamura",
    "García",
    "Kowalski",
    "Dubois",
    "Lindqvist",
    "Haddad",
    "Novak",
    "Silva",
    "Brown",
    "Jansen",
    "Petrov",
    "Kaya",
    "Moreau",
    "O'Neill",
    "Schmidt",
    "Ivanova",
];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let keep = std::env::args().skip_while(|a| a != "--keep").nth(1);
    let app = Arc::new(TestApp::with_owner().await);
    let engine = app.state.db.engine();
    let started = Instant::now();
    seed(&app).await;
    println!("{engine:?}: seeded {USERS} users, {PENDING} pending invitations ({EXPIRED} expired) in {:.1} s", started.elapsed().as_secs_f64());
    if let Some(dir) = keep {
        keep_copy(&app, &dir).await;
    }
    let cookie = app.sign_in(OWNER_EMAIL).await;

    let cases: Vec<(&str, UsersQuery)> = vec![
        ("first page, defaults", UsersQuery::default()),
        ("Invited, by name, 50", UsersQuery { status: Some(UserStatus::Invited), size: 50, ..Default::default() }),
        ("Expired, 50", UsersQuery { status: Some(UserStatus::Expired), size: 50, ..Default::default() }),
        ("search \"smith\", 50", UsersQuery { search: "smith".into(), size: 50, ..Default::default() }),
        (
            "Invited + search \"ros\" + invited desc, 50",
            UsersQuery { status: Some(UserStatus::Invited), search: "ros".into(), sort: UsersSort::Invited, descending: true, size: 50, ..Default::default() },
        ),
        (
            "Active + search \"müller\" + email desc, 50",
            UsersQuery { status: Some(UserStatus::Active), search: "müller".into(), sort: UsersSort::Email, descending: true, size: 50, ..Default::default() },
        ),
        ("by status, page 40 of 50", UsersQuery { sort: UsersSort::Status, page: 40, size: 50, ..Default::default() }),
        ("search \"ad\" (2 letters), 50", UsersQuery { search: "ad".into(), size: 50, ..Default::default() }),
        ("by name, page 1,000 of 100", UsersQuery { page: 1000, size: 100, ..Default::default() }),
    ];
    let now = app.clock_ms();
    let account = app.owner().await.account_id;
    // The same deep pages as reached by Next: the address carries the previous page's last row.
    let mut cases = cases;
    for (label, query) in [
        ("by status, page 40 of 50, by Next", UsersQuery { sort: UsersSort::Status, page: 40, size: 50, ..Default::default() }),
        ("by name, page 1,000 of 100, by Next", UsersQuery { page: 1000, size: 100, ..Default::default() }),
        ("search \"smith\", page 50 of 50, by Next", UsersQuery { search: "smith".into(), page: 50, size: 50, ..Default::default() }),
    ] {
        let search = app::services::store::users::folded(&query.search);
        let mut filter = filter_for(engine, &account, now, &query, &search);
        filter.limit = 1;
        let before = i64::from(query.page - 1) * i64::from(query.size) - 1;
        let mut conn = app.state.db.pool.acquire().await.unwrap();
        let matches = user_list::count(&mut conn, &filter).await.unwrap();
        let last = user_list::rows(&mut conn, &filter, &Start::Offset(before), matches).await.unwrap().remove(0);
        cases.push((label, UsersQuery { cursor: PageCursor::After(RowAt { user_id: last.id, status: None }), ..query }));
    }

    println!(
        "\nthe queries alone (the count, capped at {} or at {} for a search, then the page), one at a time",
        user_list::COUNT_CAP,
        user_list::SEARCH_COUNT_CAP
    );
    println!("{:<46} {:>7} {:>7} {:>11} {:>10} {:>8}", "view", "p50", "p95", "count p95", "page p95", "matches");
    for (label, query) in &cases {
        let search = app::services::store::users::folded(&query.search);
        let mut conn = app.state.db.pool.acquire().await.unwrap();
        let (mut times, mut counting, mut paging) = (Vec::new(), Vec::new(), Vec::new());
        let (mut matches, mut cap) = (0, 0);
        for _ in 0..40 {
            let t = Instant::now();
            let filter = filter_for(engine, &account, now, query, &search);
            let start = start_of(&mut conn, &filter, query).await;
            let counted = Instant::now();
            matches = user_list::count(&mut conn, &filter).await.unwrap();
            counting.push(counted.elapsed());
            cap = user_list::count_cap(&filter);
            let paged = Instant::now();
            let listed = user_list::rows(&mut conn, &filter, &start, matches).await.unwrap();
            paging.push(paged.elapsed());
            times.push(t.elapsed());
            assert_eq!(listed.len() as i64, filter.limit.min(matches), "{label}: a full page");
        }
        println!(
            "{label:<46} {:>7.2} {:>7.2} {:>11.2} {:>10.2} {:>8}",
            pct(&times, 50),
            pct(&times, 95),
            pct(&counting, 95),
            pct(&paging, 95),
            if matches > cap { format!(">{cap}") } else { matches.to_string() }
        );
    }

    println!("\nthe same queries, {ADMINS} admins at once (each on its own connection), {REQUESTS_EACH} times each");
    println!("{:<46} {:>7} {:>7}", "view", "p50", "p95");
    for (label, query) in &cases {
        let times = queries_at_once(&app, &account, now, engine, query).await;
        println!("{label:<46} {:>7.2} {:>7.2}", pct(&times, 50), pct(&times, 95));
    }

    println!("\nplans");
    for (label, query) in &cases {
        let search = app::services::store::users::folded(&query.search);
        let mut conn = app.state.db.pool.acquire().await.unwrap();
        let filter = filter_for(engine, &account, now, query, &search);
        let start = start_of(&mut conn, &filter, query).await;
        let matches = user_list::count(&mut conn, &filter).await.unwrap();
        println!("== {label}");
        for line in user_list::explain(&mut conn, &filter, &start, matches).await.unwrap() {
            println!("   {line}");
        }
    }

    println!("\nGET /users, {ADMINS} admins at once, {REQUESTS_EACH} requests each (milliseconds)");
    println!("{:<46} {:>7} {:>7} {:>7} {:>9}", "view", "p50", "p95", "p99", "req/s");
    for (label, query) in &cases {
        let href = query.href();
        let body = body_text(app.get(&href, Some(&cookie)).await).await;
        assert!(body.contains("<table") || body.contains("No users"), "{label}: the page rendered");
        let (latencies, wall) = load(&app, &href, &cookie).await;
        println!(
            "{label:<46} {:>7.2} {:>7.2} {:>7.2} {:>9.0}",
            pct(&latencies, 50),
            pct(&latencies, 95),
            pct(&latencies, 99),
            latencies.len() as f64 / wall.as_secs_f64()
        );
    }

    match std::process::Command::new("wrk").arg("--version").output() {
        Ok(_) => over_http(&app, &cases, &cookie).await,
        Err(_) => println!("\nwrk is not on the PATH: no figures over TCP (Debian: apt-get install wrk)"),
    }
}

/// The same views from `wrk` over loopback TCP: 4 connections, `BENCH_SECONDS` (20 unless
/// said) per view, every answer a full page (wrk counts any other status as an error).
async fn over_http(app: &TestApp, cases: &[(&str, UsersQuery)], cookie: &str) {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // As `beckon serve` listens.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap() });
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("percentiles.lua");
    std::fs::write(
        &script,
        "done = function(summary, latency, requests)\n  \
         local e = summary.errors\n  \
         io.write(string.format(\"percentiles %.3f %.3f %.3f %.0f %d\\n\", latency:percentile(50) / 1000, latency:percentile(95) / 1000, \
         latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6), e.status + e.connect + e.read + e.write + e.timeout))\n\
         end\n",
    )
    .unwrap();
    println!("\nGET /users over TCP from wrk, {ADMINS} connections, {seconds} s per view (milliseconds)");
    println!("{:<46} {:>7} {:>7} {:>7} {:>9} {:>7}", "view", "p50", "p95", "p99", "req/s", "errors");
    for (label, query) in cases {
        let args = vec![
            "-t2".to_string(),
            format!("-c{ADMINS}"),
            format!("-d{seconds}s"),
            "-s".into(),
            script.display().to_string(),
            "-H".into(),
            format!("Cookie: {cookie}"),
            format!("http://{addr}{}", query.href()),
        ];
        let output = tokio::task::spawn_blocking(move || std::process::Command::new("wrk").args(&args).output().unwrap()).await.unwrap();
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let figures: Vec<f64> = text
            .lines()
            .find_map(|l| l.strip_prefix("percentiles "))
            .unwrap_or_else(|| panic!("wrk said:\n{text}"))
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        println!("{label:<46} {:>7.2} {:>7.2} {:>7.2} {:>9.0} {:>7}", figures[0], figures[1], figures[2], figures[3], figures[4]);
    }
}

fn filter_for<'a>(engine: Engine, account: &'a str, now: i64, query: &UsersQuery, search: &'a str) -> ListFilter<'a> {
    ListFilter {
        engine,
        account_id: account,
        now_ms: now,
        status: query.status,
        search,
        scope: None,
        administered_by: None,
        sort: query.sort,
        descending: query.descending,
        limit: i64::from(query.size),
    }
}

/// Where the page starts: after the row the cursor names (looked up as the server does),
/// or by the page number.
async fn start_of(conn: &mut app::services::store::Conn, filter: &ListFilter<'_>, query: &UsersQuery) -> Start {
    match &query.cursor {
        PageCursor::After(at) => Start::After(user_list::key_of(conn, filter, at).await.unwrap().expect("the cursor's user")),
        _ => Start::Offset(i64::from(query.page.max(1) - 1) * i64::from(query.size)),
    }
}

/// `ADMINS` tasks each running the count and the page of `query` `REQUESTS_EACH` times.
async fn queries_at_once(app: &Arc<TestApp>, account: &str, now: i64, engine: Engine, query: &UsersQuery) -> Vec<Duration> {
    let task = || {
        let (app, account, query) = (app.clone(), account.to_string(), query.clone());
        async move {
            let search = app::services::store::users::folded(&query.search);
            let mut conn = app.state.db.pool.acquire().await.unwrap();
            let mut times = Vec::with_capacity(REQUESTS_EACH);
            for _ in 0..REQUESTS_EACH {
                let t = Instant::now();
                let filter = filter_for(engine, &account, now, &query, &search);
                let start = start_of(&mut conn, &filter, &query).await;
                let matches = user_list::count(&mut conn, &filter).await.unwrap();
                user_list::rows(&mut conn, &filter, &start, matches).await.unwrap();
                times.push(t.elapsed());
            }
            times
        }
    };
    at_once(task).await.0
}

/// `ADMINS` tasks requesting `href` `REQUESTS_EACH` times each; every latency, and the wall time.
async fn load(app: &Arc<TestApp>, href: &str, cookie: &str) -> (Vec<Duration>, Duration) {
    let task = || {
        let (app, href, cookie) = (app.clone(), href.to_string(), cookie.to_string());
        async move {
            let mut times = Vec::with_capacity(REQUESTS_EACH);
            for _ in 0..REQUESTS_EACH {
                let t = Instant::now();
                let response = app.get(&href, Some(&cookie)).await;
                assert!(response.status().is_success(), "{href}: {}", response.status());
                body_text(response).await;
                times.push(t.elapsed());
            }
            times
        }
    };
    at_once(task).await
}

/// `ADMINS` copies of `task` at once; the latencies they timed, and the wall time.
async fn at_once<F, T>(task: F) -> (Vec<Duration>, Duration)
where
    F: Fn() -> T,
    T: std::future::Future<Output = Vec<Duration>> + Send + 'static,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..ADMINS).map(|_| tokio::spawn(task())).collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    (all, started.elapsed())
}

fn pct(times: &[Duration], p: usize) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = ((sorted.len() * p).div_ceil(100)).clamp(1, sorted.len()) - 1;
    sorted[at].as_secs_f64() * 1000.0
}

/// Writes the account with multi-row INSERTs in one transaction: users (the active ones with
/// a Member role, the invited ones with a pending invitation offering Member or HR).
async fn seed(app: &TestApp) {
    let owner = app.owner().await;
    let now = app.clock_ms();
    let day = 86_400_000i64;
    let scope = &app.account_scope;
    let mut tx = app.state.db.pool.begin().await.unwrap();
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    for chunk in (0..USERS).collect::<Vec<_>>().chunks(1000) {
        let (mut users, mut memberships, mut invitations, mut offered) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for &n in chunk {
            let id = uuid::Uuid::new_v4().to_string();
            let name = format!("{} {}", FIRST[n % FIRST.len()], LAST[(n / FIRST.len()) % LAST.len()]);
            let email =
                format!("{}.{}{n}@example{}.com", FIRST[n % FIRST.len()].to_lowercase(), LAST[(n / 7) % LAST.len()].to_lowercase().replace('\'', ""), n % 13);
            let folded = app::services::store::users::folded(&name);
            let created = now - 400 * day + (n as i64) * 60_000;
            let pending = n % (USERS / PENDING) == 0;
            let (status, invited_at, expires_at) = if pending {
                let invited = now - ((n * 7919) % (40 * day as usize)) as i64;
                let expired = (n / (USERS / PENDING)).is_multiple_of(PENDING / EXPIRED);
                let expires = if expired { now - day } else { now + 14 * day };
                ("invited", invited.to_string(), expires.to_string())
            } else {
                ("active", "NULL".into(), "NULL".into())
            };
            users.push(format!(
                "({}, {}, {}, {}, {}, {}, '{status}', {created}, {created}, {invited_at}, {expires_at})",
                quote(&id),
                quote(&owner.account_id),
                quote(&email),
                quote(&name),
                quote(&folded),
                quote(&folded)
            ));
            if pending {
                let invitation = uuid::Uuid::new_v4().to_string();
                invitations.push(format!(
                    "({}, {}, {}, {}, 'pending', 1, {invited_at}, {expires_at}, {invited_at}, 1)",
                    quote(&invitation),
                    quote(&owner.account_id),
                    quote(&id),
                    quote(&owner.user_id)
                ));
                offered.push(format!("({}, {}, '{}')", quote(&invitation), quote(scope), if n % 3 == 0 { "hr" } else { "member" }));
            } else {
                memberships.push(format!("({}, {}, 'member', {created})", quote(&id), quote(scope)));
            }
        }
        let statements = [
            ("users (id, account_id, email, name, name_folded, sort_name, status, created_at, updated_at, invited_at, pending_expires_at)", users),
            ("memberships (user_id, scope_id, role, created_at)", memberships),
            ("invitations (id, account_id, user_id, invited_by, state, link_version, created_at, expires_at, last_sent_at, send_count)", invitations),
            ("invitation_roles (invitation_id, scope_id, role)", offered),
        ];
        for (into, rows) in statements {
            if !rows.is_empty() {
                sqlx::query(&format!("INSERT INTO {into} VALUES {}", rows.join(", "))).execute(&mut *tx).await.unwrap();
            }
        }
    }
    tx.commit().await.unwrap();
    let analyze = match app.state.db.engine() {
        Engine::Sqlite => "ANALYZE",
        Engine::Postgres => "VACUUM ANALYZE",
    };
    sqlx::query(analyze).execute(&app.state.db.pool).await.unwrap();
}

/// Leaves the seeded SQLite account in `dir`, with its secret key, for a server to serve.
async fn keep_copy(app: &TestApp, dir: &str) {
    assert_eq!(app.state.db.engine(), Engine::Sqlite, "--keep copies the SQLite file");
    std::fs::create_dir_all(dir).unwrap();
    let target = std::path::Path::new(dir).join("beckon.db");
    let _ = std::fs::remove_file(&target);
    sqlx::query(&format!("VACUUM INTO '{}'", target.display().to_string().replace('\'', "''"))).execute(&app.state.db.pool).await.unwrap();
    std::fs::copy(&app.config.secret_key_file, std::path::Path::new(dir).join("secret.key")).unwrap();
    println!("kept the account in {dir} (owner {OWNER_EMAIL}, password \"{}\")", common::PASSWORD);
}
