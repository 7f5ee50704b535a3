//! The invitation-link page and the sign-in page under load from `wrk` on loopback, 64
//! connections, each request from another client address (X-Forwarded-For through a trusted
//! proxy, so the per-address limits do not cut the run short) and for another of 1,000 links.
//! Beckon runs as its own process (`beckon serve`, the binary cargo builds beside this
//! bench), so its resident memory is read idle and after each load. For comparison, the same
//! lookup (`accept::open`, the service the page calls) behind two minimal pages of the same
//! stack: a minimal leptos_axum app (a shell, a router with one route, the lookup in a
//! resource under Suspense, as the Leptos starter template loads data, rendered in the same
//! SSR mode as Beckon's page) and, below even that, one axum route rendering a Leptos view
//! (no Leptos router, no hydration data).
//!     cargo bench -p server --bench accept_page                            (SQLite)
//!     scripts/with-postgres.sh cargo bench -p server --bench accept_page   (PostgreSQL)
//!     BENCH_SECONDS=5 cargo bench -p server --bench accept_page            (shorter runs)
//! With BENCH_INSTRUCTIONS=N it renders N link pages in-process through Beckon's router and N
//! through the minimal app instead, in two functions callgrind can count apart (instructions
//! are repeatable where request rates are not; bench/README.md has the command).
//! Needs Debian's `wrk` (`apt-get install wrk`). Not a test: it prints figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the test's answer

#[path = "../tests/common/mod.rs"]
mod common;

use app::services::invitations::accept;
use app::services::invitations::service::{invite, InviteRequest};
use app::services::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use common::{TestApp, ORIGIN};
use leptos::prelude::*;
use shared::views::InvitationPage;
use shared::Role;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const LINKS: usize = 1_000;
const CONNECTIONS: usize = 64;
/// What `beckon serve` logs under load: warnings and errors, not a line per request.
const SERVE_LOG: &str = "warn";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let app = TestApp::with_owner().await;
    // The spawned server runs on the system clock: move the test clock there before inviting.
    let behind = app::services::Clock::now_ms(&app::services::SystemClock) - app.clock_ms();
    app.clock.advance(chrono::Duration::milliseconds(behind));
    let links = seed(&app).await;
    if let Some(pages) = std::env::var("BENCH_INSTRUCTIONS").ok().and_then(|n| n.parse::<usize>().ok()) {
        // As `beckon serve` logs in the load runs: its request spans are part of a page's cost.
        server::ops::init_logging(SERVE_LOG, false);
        let minimal = minimal_router(app.state.clone());
        // Warmed first: the counted pages are the steady state, not the first statements prepared.
        for (label, router) in [("Beckon", app.router.clone()), ("minimal leptos_axum", minimal.clone())] {
            let links = links.clone();
            on_own_thread(move || render_pages(router, &links, 100, label));
        }
        let (beckon, beckon_links) = (app.router.clone(), links.clone());
        on_own_thread(move || count_beckon(beckon, &beckon_links, pages));
        let minimal_links = links.clone();
        on_own_thread(move || count_minimal(minimal, &minimal_links, pages));
        println!("rendered {pages} link pages through each router");
        return;
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("accept_page needs wrk on the PATH (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    let engine = app.state.db.engine();
    println!("{engine:?}: {LINKS} pending invitations; wrk -t2 -c{CONNECTIONS} -d{seconds}s, one client address per request");

    let work = tempfile::tempdir().unwrap();
    let invite_script = wrk_script(work.path(), "invite.lua", &links);
    let signin_script = wrk_script(work.path(), "signin.lua", &["/signin".to_string()]);

    let (server, addr) = serve(&app, work.path());
    let server = Server(server);
    wait_for_empty_outbox(&app).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(server.0.id());

    // wrk counts any 2xx or 3xx as served: first make sure both serve the real page.
    assert_page(&addr, &links[0], "Welcome aboard.");
    assert_page(&addr, "/signin", "Sign in");
    let beckon_invite = wrk(&addr, &invite_script, seconds);
    let after_invite = rss_kib(server.0.id());
    let beckon_signin = wrk(&addr, &signin_script, seconds);
    let after_signin = rss_kib(server.0.id());
    let peak = peak_rss_kib(server.0.id());
    drop(server);

    let minimal_addr = serve_minimal_leptos_axum(app.state.clone()).await;
    assert_page(&minimal_addr, &links[0], "Welcome aboard.");
    let minimal_invite = wrk(&minimal_addr, &invite_script, seconds);
    let bare_addr = serve_bare_view(app.state.clone()).await;
    assert_page(&bare_addr, &links[0], "Welcome aboard.");
    let bare_invite = wrk(&bare_addr, &invite_script, seconds);

    println!("\n{:<52} {:>10} {:>9} {:>9}", "page", "req/s", "p50 ms", "p99 ms");
    for (label, run) in [
        ("Beckon GET /invite/{link}", &beckon_invite),
        ("minimal leptos_axum page, same lookup", &minimal_invite),
        ("one axum route + Leptos view, same lookup", &bare_invite),
        ("Beckon GET /signin", &beckon_signin),
    ] {
        println!("{label:<52} {:>10.0} {:>9.2} {:>9.2}", run.per_second, run.p50_ms, run.p99_ms);
        assert!(run.errors == 0, "{label}: {} non-2xx or socket errors", run.errors);
    }
    println!(
        "Beckon at {:.0} % of the minimal leptos_axum page ({:.0} % of the bare view)",
        100.0 * beckon_invite.per_second / minimal_invite.per_second,
        100.0 * beckon_invite.per_second / bare_invite.per_second
    );
    println!(
        "\nbeckon serve resident memory: idle {:.1} MB, after the link-page load {:.1} MB, after the sign-in load {:.1} MB, peak {:.1} MB",
        mib(idle),
        mib(after_invite),
        mib(after_signin),
        mib(peak)
    );
}

/// Invites `LINKS` people as the owner; returns each invitation's link path.
async fn seed(app: &TestApp) -> Vec<String> {
    let owner = app.owner().await;
    let grants = app.account_grants(&[Role::Member]);
    for batch in (0..LINKS).collect::<Vec<_>>().chunks(500) {
        let addresses = batch.iter().map(|i| format!("invitee{i:04}@example.com")).collect::<Vec<_>>().join(",");
        let request = InviteRequest { addresses, grants: grants.clone(), message: Some("Welcome aboard.".into()), send_despite_typos: true };
        invite(&app.state, &owner, request).await.expect("invited");
    }
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, link_version FROM invitations WHERE state = 'pending'").fetch_all(&app.state.db.pool).await.unwrap();
    assert_eq!(rows.len(), LINKS);
    let paths: Vec<String> = rows
        .iter()
        .map(|(id, version)| {
            let url = app::services::invitations::link::url(ORIGIN, id, &app.state.link_key.token(id, *version));
            url.strip_prefix(ORIGIN).unwrap().to_string()
        })
        .collect();
    assert!(matches!(accept::open(&app.state, paths[0].trim_start_matches("/invite/"), None, None).await, Ok(InvitationPage::Open(_))));
    paths
}

/// The invitation emails are written by the spawned server's worker; the load starts after.
async fn wait_for_empty_outbox(app: &TestApp) {
    for _ in 0..600 {
        let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'sending')").fetch_one(&app.state.db.pool).await.unwrap();
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the worker did not empty the outbox");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `beckon serve` on the bench's database and key; returns it and its address.
fn serve(app: &TestApp, work: &std::path::Path) -> (Child, String) {
    let site = work.join("site");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_beckon")).parent().unwrap();
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    // The chunk list as `make release` wrote it, when it did, and its chunks at their sizes:
    // pages then carry the preloads they carry in production. No asset is fetched here.
    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site-release/pkg");
    for name in server::startup::asset_names(bin_dir).unwrap() {
        let target = site.join("pkg").join(&name);
        if name.ends_with(".json") && built.join(&name).is_file() {
            std::fs::copy(built.join(&name), target).unwrap();
            for chunk in std::fs::read_dir(&built).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().ends_with(".wasm")) {
                let stub = std::fs::File::create(site.join("pkg").join(chunk.file_name())).unwrap();
                stub.set_len(chunk.metadata().unwrap().len()).unwrap();
            }
        } else {
            std::fs::write(target, "").unwrap();
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_beckon"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BECKON_LOG", SERVE_LOG)
        .env("BECKON_ADDR", "127.0.0.1:0")
        .env("BECKON_DATABASE_URL", app.config.database_url())
        .env("BECKON_DATA_DIR", &app.config.data_dir)
        .env("BECKON_SECRET_KEY_FILE", &app.config.secret_key_file)
        .env("BECKON_PUBLIC_URL", ORIGIN)
        .env("BECKON_SITE_ROOT", &site)
        .env("BECKON_TRUSTED_PROXIES", "127.0.0.1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on http://") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "beckon serve stopped before listening");
    }
    let addr = line.split("listening on http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, addr)
}

/// The lookup as the client address sends it (the trusted-proxy header, as Beckon reads it).
fn client_ip(headers: &HeaderMap) -> Option<IpAddr> {
    headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

mod minimal {
    use super::*;
    use leptos_router::components::{Route, Router, Routes};
    use leptos_router::hooks::use_params_map;
    use leptos_router::{path, SsrMode};

    pub fn shell(options: LeptosOptions) -> impl IntoView {
        view! {
            <!DOCTYPE html>
            <html lang="en">
                <head>
                    <meta charset="utf-8"/>
                    <title>"Invitation"</title>
                    <HydrationScripts options/>
                </head>
                <body>
                    <MinimalApp/>
                </body>
            </html>
        }
    }

    #[component]
    pub fn MinimalApp() -> impl IntoView {
        view! {
            <Router>
                <Routes fallback=|| "Not found.">
                    // Rendered whole once the lookup is done, as Beckon renders its link page
                    // (the default, out-of-order streaming, serves a quarter as many here).
                    <Route path=path!("/invite/:segment") view=Invitation ssr=SsrMode::Async/>
                </Routes>
            </Router>
        }
    }

    #[component]
    fn Invitation() -> impl IntoView {
        let segment = use_params_map().read_untracked().get("segment").unwrap_or_default();
        let ip = use_context::<axum::http::request::Parts>().and_then(|parts| client_ip(&parts.headers));
        let state = expect_context::<AppState>();
        let page = OnceResource::new(async move { accept::open(&state, &segment, None, ip).await.map_err(|e| e.to_string()) });
        view! {
            <Suspense fallback=|| "Loading…">
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(InvitationPage::Open(open)) => {
                            view! {
                                <h1>"Join " {open.account_name}</h1>
                                <p>{open.inviter_name} " invited " {open.email}</p>
                                <p>{open.personal_message}</p>
                            }
                                .into_any()
                        }
                        // The status is sent before Suspense resolves: `assert_page` checks the body.
                        _ => view! { <p>"No open invitation."</p> }.into_any(),
                    }
                })}
            </Suspense>
        }
    }
}

/// The same lookup as the link page in a minimal leptos_axum app.
async fn serve_minimal_leptos_axum(state: AppState) -> String {
    let router = minimal_router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

fn minimal_router(state: AppState) -> axum::Router {
    use leptos_axum::{generate_route_list, LeptosRoutes};
    let options = LeptosOptions::builder().output_name("minimal").build();
    let routes = generate_route_list(minimal::MinimalApp);
    axum::Router::new()
        .leptos_routes_with_context(&options, routes, move || provide_context(state.clone()), {
            let options = options.clone();
            move || minimal::shell(options.clone())
        })
        .with_state(options)
}

/// Renders `pages` link pages through `router` one after another on this thread, each
/// checked to be the open invitation's page.
fn render_pages(router: axum::Router, links: &[String], pages: usize, label: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for i in 0..pages {
            let request = axum::http::Request::get(&links[i % links.len()]).header("x-forwarded-for", "10.0.0.1").body(axum::body::Body::empty()).unwrap();
            let response = tower::ServiceExt::oneshot(router.clone(), request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{label}");
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
            assert!(std::str::from_utf8(&body).unwrap().contains("Welcome aboard."), "{label}");
        }
    });
}

/// `count` on a thread of its own (a runtime cannot start inside the bench's).
fn on_own_thread(count: impl FnOnce() + Send + 'static) {
    std::thread::spawn(count).join().unwrap();
}

// One function per router, never inlined, for `valgrind --tool=callgrind --toggle-collect`.
#[inline(never)]
fn count_beckon(router: axum::Router, links: &[String], pages: usize) {
    render_pages(router, links, pages, "Beckon");
}

#[inline(never)]
fn count_minimal(router: axum::Router, links: &[String], pages: usize) {
    render_pages(router, links, pages, "minimal leptos_axum");
}

/// The same lookup as the link page, rendered by a Leptos view behind one axum route.
async fn serve_bare_view(state: AppState) -> String {
    async fn page(State(state): State<AppState>, Path(segment): Path<String>, headers: HeaderMap) -> Result<Html<String>, StatusCode> {
        let ip = client_ip(&headers);
        // Anything but an open invitation is an error here, so wrk counts it as one.
        let Ok(InvitationPage::Open(open)) = accept::open(&state, &segment, None, ip).await else {
            return Err(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let body = view! {
            <h1>"Join " {open.account_name}</h1>
            <p>{open.inviter_name} " invited " {open.email}</p>
            <p>{open.personal_message}</p>
        }
        .to_html();
        Ok(Html(format!("<!DOCTYPE html><html><head><title>Invitation</title></head><body>{body}</body></html>")))
    }
    let router = axum::Router::new().route("/invite/{segment}", axum::routing::get(page)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// One GET over plain HTTP/1.0; panics unless the answer is 200 and holds `expected`.
fn assert_page(addr: &str, path: &str, expected: &str) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "GET {path}: {}", answer.lines().next().unwrap_or(""));
    assert!(answer.contains(expected), "GET {path} lacks {expected:?}");
}

fn wrk_script(dir: &std::path::Path, name: &str, paths: &[String]) -> std::path::PathBuf {
    let list = paths.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(",\n");
    let script = format!(
        "local paths = {{\n{list}\n}}\nlocal n = 0\n\
         request = function()\n  n = n + 1\n  \
         local ip = string.format(\"10.%d.%d.%d\", math.random(0, 255), math.random(0, 255), math.random(1, 254))\n  \
         return wrk.format(\"GET\", paths[(n % #paths) + 1], {{ [\"X-Forwarded-For\"] = ip }})\nend\n"
    );
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    path
}

struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn wrk(addr: &str, script: &std::path::Path, seconds: u64) -> Run {
    let output = Command::new("wrk")
        .args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(format!("http://{addr}"))
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let field = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.trim().to_string()));
    let errors = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0)
        + field("Socket errors:").map(|v| v.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum()).unwrap_or(0);
    Run {
        per_second: field("Requests/sec:").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("wrk said:\n{text}")),
        p50_ms: field("50%").map(|v| millis(&v)).unwrap_or(f64::NAN),
        p99_ms: field("99%").map(|v| millis(&v)).unwrap_or(f64::NAN),
        errors,
    }
}

/// wrk's "1.23ms", "456.00us" or "1.02s" in milliseconds.
fn millis(value: &str) -> f64 {
    let split = value.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => f64::NAN,
    }
}

fn status_field(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

fn peak_rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmHWM:")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
