//! For the people who run Beckon: health, readiness, metrics, request logs, and what goes
//! over the wire (compression).

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use tower::ServiceExt;

async fn app_with(tweak: impl FnOnce(&mut server::Config)) -> TestApp {
    let mut app = TestApp::with_owner().await;
    tweak(&mut app.config);
    let session_store = app.session_store.clone();
    app.router = server::router::build(app.state.clone(), &app.config, session_store, None);
    app
}

#[tokio::test]
async fn healthz_says_the_process_is_up() {
    let app = TestApp::with_owner().await;
    let response = app.get("/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "ok");
}

#[tokio::test]
async fn readyz_waits_for_the_worker_and_fails_without_the_database() {
    let app = TestApp::with_owner().await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "no delivery pass yet");
    assert_eq!(body_text(response).await, r#"{"database":"ok","migrations":"ok","worker":"failing"}"#);

    use app::services::Clock;
    app.state.metrics.worker_finished_pass(app.clock.now_ms());
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    // A worker silent for over a minute is taken for dead.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::SERVICE_UNAVAILABLE);

    app.state.metrics.worker_finished_pass(app.clock.now_ms());
    app.state.db.pool.close().await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body_text(response).await.contains(r#""database":"failing""#));
}

#[tokio::test]
async fn metrics_are_not_served_on_the_public_listener_without_a_token() {
    let app = TestApp::with_owner().await;
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_behind_a_token_count_requests_deliveries_and_the_queue() {
    let app = app_with(|c| c.metrics_token = Some("scrape-me-7".into())).await;
    let owner = app.owner().await;
    app::services::mail::log::send_test(&app.state, &owner, "it@example.com").await.unwrap();
    app::services::mail::log::send_test(&app.state, &owner, "other@example.com").await.unwrap();
    app.get("/signin", None).await;
    app.call(sign_in_path(), "email=x%40example.com&password=wrong+password&next=%2F", Some(ORIGIN), None).await;

    let scrape = |token: Option<&'static str>| {
        let mut builder = Request::get("/metrics");
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        builder.body(Body::empty()).unwrap()
    };
    assert_eq!(app.send(scrape(None)).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.send(scrape(Some("scrape-me-8"))).await.status(), StatusCode::UNAUTHORIZED);
    let response = app.send(scrape(Some("scrape-me-7"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = body_text(response).await;
    assert!(text.contains(r#"beckon_http_requests_total{route="/signin",method="GET",status="200"} 1"#), "{text}");
    assert!(text.contains(r#"beckon_http_requests_total{route="/api/sign_in",method="POST",status="422"} 1"#), "{text}");
    assert!(text.contains(r#"beckon_http_request_duration_seconds_count{route="/signin"} 1"#), "{text}");
    assert!(text.contains(r#"beckon_outbox_messages{state="queued"} 2"#), "{text}");
    assert!(text.contains("beckon_outbox_oldest_waiting_seconds 0\n"), "{text}");
    // The queue ages with the clock: the oldest message has now waited 90 s.
    app.clock.advance(chrono::Duration::seconds(90));
    let text = body_text(app.send(scrape(Some("scrape-me-7"))).await).await;
    assert!(text.contains("beckon_outbox_oldest_waiting_seconds 90\n"), "{text}");

    // After a delivery pass the queue is empty and this process counted what it sent.
    let transport = app::services::mail::transport::Transport::files(app.config.mail_dir());
    app::services::mail::worker::dispatch_pending(&app.state, &transport, &Default::default()).await.unwrap();
    let text = body_text(app.send(scrape(Some("scrape-me-7"))).await).await;
    assert!(text.contains(r#"beckon_outbox_messages{state="sent"} 2"#), "{text}");
    assert!(text.contains(r#"beckon_deliveries_total{outcome="sent"} 2"#), "{text}");
    assert!(text.contains("beckon_outbox_oldest_waiting_seconds 0\n"), "nothing waits: {text}");
}

#[tokio::test]
async fn the_operators_own_listener_serves_metrics_openly() {
    let app = TestApp::with_owner().await;
    let operations = server::router::operations(app.state.clone());
    let response = operations.clone().oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body_text(response).await.contains("beckon_outbox_messages"));
    let response = operations.oneshot(Request::get("/users").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "nothing but operations there");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::with_owner().await;
    let response = app.get("/signin", None).await;
    let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    let given = Request::get("/signin").header("x-request-id", "proxy-abc-123").body(Body::empty()).unwrap();
    assert_eq!(app.send(given).await.headers()["x-request-id"], "proxy-abc-123", "a proxy's id is kept");
    let odd = Request::get("/signin").header("x-request-id", "not; ok").body(Body::empty()).unwrap();
    assert_ne!(app.send(odd).await.headers()["x-request-id"], "not; ok", "one that could mislead a log reader is replaced");
}

#[tokio::test]
async fn each_request_is_one_json_log_line_with_its_id_and_no_token() {
    // The same subscriber `beckon` sets up with BECKON_LOG_FORMAT=json.
    let captured = LogCapture::start(|sink| tracing_subscriber::fmt().json().flatten_event(true).with_writer(move || CapturedLog(sink.clone())).finish());
    let app = TestApp::with_owner().await;
    let forged = "/invite/7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f.c2VjcmV0LXRva2VuLXRleHQ";
    let response = app.get(forged, None).await;
    let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let log = captured.text();
    let line: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "request")
        .unwrap_or_else(|| panic!("a request line in:\n{log}"));
    assert_eq!(line["request_id"], id.as_str());
    assert_eq!(line["method"], "GET");
    assert!(line["ms"].as_f64().is_some_and(|ms| ms > 0.0), "how long it took, in milliseconds: {line}");
    assert_eq!(line["route"], "/invite/{link}");
    assert_eq!(line["status"], 404);
    assert_eq!(line["path"], "/invite/7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f.…");
    assert!(!log.contains("c2VjcmV0LXRva2VuLXRleHQ"), "{log}");
}

/// The first "internal error" line of a JSON log.
fn internal_error_line(captured: &LogCapture) -> serde_json::Value {
    let log = captured.text();
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "internal error")
        .unwrap_or_else(|| panic!("an internal error line in:\n{log}"))
}

/// The request span a JSON log line was written in.
fn request_span(line: &serde_json::Value) -> &serde_json::Value {
    line["spans"].as_array().and_then(|spans| spans.iter().find(|s| s["name"] == "request")).unwrap_or_else(|| panic!("inside the request span: {line}"))
}

#[tokio::test]
async fn an_internal_error_is_logged_with_its_step_and_request_id_and_the_browser_sees_only_a_generic_answer() {
    let captured = LogCapture::start(|sink| tracing_subscriber::fmt().json().with_writer(move || CapturedLog(sink.clone())).finish());
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    // The audit trail is written last in an invitation's transaction; without its table that step fails.
    sqlx::query("DROP TABLE audit_event_places").execute(&app.state.db.pool).await.unwrap();
    sqlx::query("DROP TABLE audit_events").execute(&app.state.db.pool).await.unwrap();
    let response = app.call("/api/invite_people", &app.invite_form("new.person@example.com", shared::Role::Member), Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = body_text(response).await;
    assert!(!body.contains("audit") && !body.contains("no such table") && !body.contains("does not exist"), "{body}");
    let line = internal_error_line(&captured);
    assert_eq!(line["fields"]["step"], "audit::record", "{line}");
    assert!(line["fields"]["at"].as_str().unwrap().contains("invitations/service.rs"), "{line}");
    assert!(line["fields"]["error"].as_str().unwrap().starts_with("database: "), "{line}");
    let request = request_span(&line);
    assert_eq!(request["request_id"], id.as_str(), "{line}");
    assert_eq!(request["route"], "/api/invite_people", "{line}");
    // The failed step undid the whole invitation.
    let invited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = 'new.person@example.com'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(invited, 0);
}

/// A page's data loads in tasks Leptos spawns; an error there is logged inside the request's
/// span too, so its line names the request as a server function's error line does.
#[tokio::test]
async fn an_error_while_a_page_loads_its_data_is_logged_with_the_request_id() {
    let captured = LogCapture::start(|sink| tracing_subscriber::fmt().json().with_writer(move || CapturedLog(sink.clone())).finish());
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let drop = if app.state.db.engine() == app::services::db::Engine::Sqlite { "DROP TABLE outbox" } else { "DROP TABLE outbox CASCADE" };
    sqlx::query(drop).execute(&app.state.db.pool).await.unwrap();
    let response = app.get("/deliveries", Some(&cookie)).await;
    let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = body_text(response).await;
    assert!(!body.contains("no such table") && !body.contains("does not exist"), "{body}");
    let line = internal_error_line(&captured);
    assert!(line["fields"]["error"].as_str().unwrap().starts_with("database: "), "{line}");
    let request = request_span(&line);
    assert_eq!(request["request_id"], id.as_str(), "{line}");
    assert_eq!(request["route"], "/deliveries", "{line}");
}

async fn get_encoded(app: &TestApp, path: &str, accept: Option<&str>) -> (StatusCode, Option<String>, Option<String>, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(accept) = accept {
        request = request.header(header::ACCEPT_ENCODING, accept);
    }
    let response = app.send(request.body(Body::empty()).unwrap()).await;
    let encoding = response.headers().get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap().to_string());
    let vary = response.headers().get(header::VARY).map(|v| v.to_str().unwrap().to_lowercase());
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024 * 1024).await.unwrap().to_vec();
    (status, encoding, vary, bytes)
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut brotli::Decompressor::new(bytes, 4096), &mut out).unwrap();
    out
}

fn ungzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

#[tokio::test]
async fn pages_are_compressed_as_the_browser_accepts_and_decode_to_the_page() {
    let app = TestApp::with_owner().await;
    let (status, encoding, _, plain) = get_encoded(&app, "/signin", None).await;
    assert_eq!((status, encoding), (StatusCode::OK, None), "nothing asked, nothing compressed");
    let page = String::from_utf8(plain).unwrap();
    assert!(page.contains("<html"), "{page}");
    let (_, encoding, vary, bytes) = get_encoded(&app, "/signin", Some("gzip, deflate, br, zstd")).await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert!(vary.unwrap_or_default().contains("accept-encoding"));
    let decoded = String::from_utf8(unbrotli(&bytes)).unwrap();
    assert!(decoded.contains("Sign in") && decoded.len() > bytes.len(), "{} bytes sent for {}", bytes.len(), decoded.len());
    let (_, encoding, _, bytes) = get_encoded(&app, "/signin", Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(String::from_utf8(ungzip(&bytes)).unwrap().contains("Sign in"));
}

#[tokio::test]
async fn hashed_assets_are_served_from_their_precompressed_copies() {
    let app = TestApp::with_owner().await;
    let pkg = app.config.site_root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let script: String = (0..2_000).map(|i| format!("export function f{i}() {{ return {i} * 2; }}\n")).collect();
    std::fs::write(pkg.join("beckon.0123abcd.js"), &script).unwrap();
    // The site build writes the gzip copy; `beckon precompress` the Brotli one.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, script.as_bytes()).unwrap();
    std::fs::write(pkg.join("beckon.0123abcd.js.gz"), gz.finish().unwrap()).unwrap();
    let written = server::assets::precompress(&pkg).unwrap();
    assert_eq!(written.len(), 1, "the .gz copy itself is not compressed again");
    assert!(written[0].brotli_bytes * 10 < written[0].bytes, "{} → {}", written[0].bytes, written[0].brotli_bytes);

    let path = "/pkg/beckon.0123abcd.js";
    let (status, encoding, vary, bytes) = get_encoded(&app, path, Some("gzip, deflate, br")).await;
    assert_eq!((status, encoding.as_deref()), (StatusCode::OK, Some("br")));
    assert!(vary.unwrap_or_default().contains("accept-encoding"));
    assert_eq!(bytes.len() as u64, written[0].brotli_bytes, "the stored copy, not a fresh compression");
    assert_eq!(unbrotli(&bytes), script.as_bytes());
    let (_, encoding, _, bytes) = get_encoded(&app, path, Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(ungzip(&bytes), script.as_bytes());
    let (_, encoding, _, bytes) = get_encoded(&app, path, None).await;
    assert_eq!(encoding, None);
    assert_eq!(bytes, script.as_bytes());
}

#[test]
fn a_site_without_the_assets_of_this_build_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let refusal = server::startup::check_site(&config).unwrap_err();
    assert!(refusal.contains("beckon.js") && refusal.contains("BECKON_SITE_ROOT") && refusal.contains("make release"), "{refusal}");
    let pkg = config.site_root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    for name in ["beckon.js", "beckon_bg.wasm"] {
        std::fs::write(pkg.join(name), "x").unwrap();
    }
    let refusal = server::startup::check_site(&config).unwrap_err();
    assert!(refusal.contains("beckon.css") && !refusal.contains("beckon.js"), "names only what is missing: {refusal}");
    std::fs::write(pkg.join("beckon.css"), "x").unwrap();
    assert_eq!(server::startup::check_site(&config), Ok(()));

    // A split site: the chunks its list names must be there too.
    let bin_dir = tempfile::tempdir().unwrap();
    std::fs::write(bin_dir.path().join("hash.txt"), "js: 1a\nwasm: 2b\ncss: 3c\nsplit: 4d\n").unwrap();
    for name in ["beckon.1a.js", "beckon.2b.wasm", "beckon.3c.css", "__wasm_split.4d.js", "chunk_1.4d.wasm"] {
        std::fs::write(pkg.join(name), "x").unwrap();
    }
    let list = r#"{"loader": "__wasm_split.4d.js", "pages": ["__users_view_view_1"], "preloads": {"__users_view_view_1": ["split___users_view_view_1.4d", "chunk_1.4d"]}}"#;
    std::fs::write(pkg.join("split.4d.json"), list).unwrap();
    let refusal = server::startup::check_site_for(&config, bin_dir.path()).unwrap_err();
    assert!(refusal.contains("split___users_view_view_1.4d.wasm") && !refusal.contains("chunk_1"), "names the missing chunk only: {refusal}");
    std::fs::write(pkg.join("split___users_view_view_1.4d.wasm"), "x").unwrap();
    assert_eq!(server::startup::check_site_for(&config, bin_dir.path()), Ok(()));
    std::fs::write(pkg.join("split.4d.json"), "{}").unwrap();
    assert!(server::startup::check_site_for(&config, bin_dir.path()).unwrap_err().contains("not the chunk list"));
}

#[test]
fn the_assets_a_binary_serves_are_named_by_the_hash_file_the_site_build_wrote_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(server::startup::asset_names(dir.path()).unwrap(), ["beckon.js", "beckon_bg.wasm", "beckon.css"], "no hash.txt: the plain names");
    std::fs::write(dir.path().join("hash.txt"), "js: 1a2b\nwasm: 3c4d\ncss: 5e6f\nsplit: 7a8b\n").unwrap();
    assert_eq!(
        server::startup::asset_names(dir.path()).unwrap(),
        ["beckon.1a2b.js", "beckon.3c4d.wasm", "beckon.5e6f.css", "__wasm_split.7a8b.js", "split.7a8b.json"]
    );
    for partial in ["js: 1a2b\n", "js: 1a2b\nwasm: 3c4d\ncss: 5e6f\n"] {
        std::fs::write(dir.path().join("hash.txt"), partial).unwrap();
        assert!(server::startup::asset_names(dir.path()).unwrap_err().contains("build the site again"), "{partial:?}");
    }
}

/// `make test` runs scripts/check-size.sh on the site it built; here the check itself is
/// held to its word on a site of known sizes.
#[test]
fn the_size_budget_check_refuses_a_main_module_or_a_page_over_its_budget_and_passes_them_within() {
    let pkg = tempfile::tempdir().unwrap();
    let put = |name: &str, bytes: usize| std::fs::write(pkg.path().join(name), vec![0u8; bytes]).unwrap();
    put("beckon.0123456789abcdef0123.wasm", 5_000);
    put("beckon.0123456789abcdef0123.wasm.gz", 1_000);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check-size.sh");
    let run = |main: &str, page: &str| {
        std::process::Command::new(script).arg(pkg.path()).env("WASM_MAIN_BUDGET", main).env("WASM_PAGE_BUDGET", page).output().unwrap()
    };
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).to_string();

    // Without chunks, every page downloads the main module alone.
    let over = run("999", "5000");
    assert_eq!(over.status.code(), Some(1), "{over:?}");
    assert!(stderr(&over).contains("main wasm module is 1000 bytes gzipped (5000 raw), over the budget of 999"), "{over:?}");
    assert!(run("1000", "1000").status.success());

    // With chunks, a page is the main module plus every chunk the manifest lists for it; chunks
    // without the list that says so are refused, not taken for no page at all.
    put("chunk_1.aa.wasm.gz", 300);
    let unlisted = run("1000", "5000");
    assert_eq!(unlisted.status.code(), Some(2), "{unlisted:?}");
    assert!(stderr(&unlisted).contains("chunk files of a split wasm but no split.*.json"), "{unlisted:?}");
    put("split___users_view_view_42.aa.wasm.gz", 200);
    put("split___invite_view_view_42.aa.wasm.gz", 100);
    std::fs::write(
        pkg.path().join("split.0123456789abcdef0123.json"),
        r#"{"loader": "__wasm_split.aa.js", "pages": ["__users_view_view_42", "__invite_view_view_42"], "preloads": {
            "__users_view_view_42": ["split___users_view_view_42.aa", "chunk_1.aa"],
            "__invite_view_view_42": ["split___invite_view_view_42.aa"],
            "invite_dialog_7": ["chunk_1.aa", "split___users_view_view_42.aa"]}}"#,
    )
    .unwrap();
    let over = run("1000", "1499");
    assert_eq!(over.status.code(), Some(1), "{over:?}");
    assert!(stderr(&over).contains("first visit to users downloads 1500 bytes of wasm gzipped, over the budget of 1499"), "{over:?}");
    assert!(!stderr(&over).contains("invite"), "neither the page within its budget nor a dialog, which is no page: {over:?}");
    let within = run("1000", "1500");
    assert!(within.status.success(), "{within:?}");
    let report = String::from_utf8_lossy(&within.stdout);
    assert!(report.contains("first visit to invite: 1100 bytes"), "{within:?}");
    assert!(report.contains("invite_dialog, loaded when first used: 500 bytes"), "{within:?}");

    assert_eq!(run("1000", "many").status.code(), Some(2), "a budget that is not a number checks nothing");

    std::fs::remove_file(pkg.path().join("chunk_1.aa.wasm.gz")).unwrap();
    let missing = run("1000", "1500");
    assert_eq!(missing.status.code(), Some(2), "a chunk without its gzip copy: {missing:?}");
    assert!(stderr(&missing).contains("no gzip copy of chunk_1.aa.wasm"), "{missing:?}");
    std::fs::remove_file(pkg.path().join("beckon.0123456789abcdef0123.wasm.gz")).unwrap();
    assert_eq!(run("1000", "1500").status.code(), Some(2), "no gzip copy of the main module");
}
