//! For the people who run Beckon: health, readiness, metrics and request logs.

mod common;

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

    use app::server::Clock;
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
    app::server::mail::log::send_test(&app.state, &owner, "it@example.com").await.unwrap();
    app::server::mail::log::send_test(&app.state, &owner, "other@example.com").await.unwrap();
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
    assert!(text.contains("beckon_outbox_oldest_waiting_seconds 0"), "{text}");

    // After a delivery pass the queue is empty and this process counted what it sent.
    let transport = app::server::mail::transport::Transport::files(app.config.mail_dir());
    app::server::mail::worker::dispatch_pending(&app.state, &transport, &Default::default()).await.unwrap();
    let text = body_text(app.send(scrape(Some("scrape-me-7"))).await).await;
    assert!(text.contains(r#"beckon_outbox_messages{state="sent"} 2"#), "{text}");
    assert!(text.contains(r#"beckon_deliveries_total{outcome="sent"} 2"#), "{text}");
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

struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_request_is_one_json_log_line_with_its_id_and_no_token() {
    let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = captured.clone();
    // The same subscriber `beckon` sets up with BECKON_LOG_FORMAT=json.
    let subscriber = tracing_subscriber::fmt().json().flatten_event(true).with_writer(move || CapturedLog(sink.clone())).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // With a single registered subscriber, tracing decides whether a call site is wanted by
    // asking the default of whichever thread reaches it first, and caches the answer for all:
    // another test thread would settle "nobody listens" for the request line. A second,
    // unused registration makes it ask every live subscriber, this one included.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    tracing::callsite::rebuild_interest_cache();
    let app = TestApp::with_owner().await;
    let forged = "/invite/7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f.c2VjcmV0LXRva2VuLXRleHQ";
    let response = app.get(forged, None).await;
    let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let log = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
    let line: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "request")
        .unwrap_or_else(|| panic!("a request line in:\n{log}"));
    assert_eq!(line["request_id"], id.as_str());
    assert_eq!(line["route"], "/invite/{link}");
    assert_eq!(line["status"], 404);
    assert_eq!(line["path"], "/invite/7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f.…");
    assert!(!log.contains("c2VjcmV0LXRva2VuLXRleHQ"), "{log}");
}
