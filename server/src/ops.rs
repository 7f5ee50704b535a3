//! For the people who run Beckon: `/healthz` (the process is up), `/readyz` (it can serve:
//! database reachable, migrations applied, delivery worker alive), `/metrics` (Prometheus
//! text), and one log line per request with a request id.

use app::services::invitations::link::redacted_path;
use app::services::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::fmt::Write;
use std::time::Instant;
use tracing::Instrument;

/// A worker that has not finished a pass for this long is taken for dead.
const WORKER_SILENCE_MS: i64 = 60_000;

/// Sends the process's log lines to stderr: JSON lines, or text coloured only for a terminal
/// (a log file or journal would keep the escape codes, and colouring the fields of every
/// request span cost a link page about 4,000 instructions).
pub fn init_logging(filter: &str, json: bool) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        logs.json().flatten_event(true).init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// Who may read `/metrics` on the listener it is served on.
#[derive(Clone)]
pub enum MetricsAccess {
    /// A listener of its own, for the operator's network only: open.
    Open,
    /// The public listener: only with `Authorization: Bearer {token}`.
    Token(String),
    /// The public listener with no token configured: not served.
    Closed,
}

pub fn routes(access: MetricsAccess) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(move |state, headers| metrics(state, headers, access.clone())))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let database = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&state.db.pool).await.is_ok();
    let migrations = database && state.db.migrations_applied().await.unwrap_or(false);
    let now = state.clock.now_ms();
    let worker = state.metrics.worker_pass_at().is_some_and(|at| now - at < WORKER_SILENCE_MS);
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    let body = serde_json::json!({ "database": word(database), "migrations": word(migrations), "worker": word(worker) });
    let status = if database && migrations && worker { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap, access: MetricsAccess) -> Response {
    match access {
        MetricsAccess::Open => {}
        MetricsAccess::Closed => return StatusCode::NOT_FOUND.into_response(),
        MetricsAccess::Token(token) => {
            let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
            if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
                return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "a bearer token is required\n").into_response();
            }
        }
    }
    let mut out = String::new();
    state.metrics.render(&mut out);
    if let Err(error) = outbox_gauges(&state, &mut out).await {
        tracing::error!(%error, "metrics: cannot read the outbox");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// The queue as the database holds it: the same for every process.
async fn outbox_gauges(state: &AppState, out: &mut String) -> sqlx::Result<()> {
    use app::services::mail::outbox;
    let mut conn = state.db.pool.acquire().await?;
    let depth = outbox::depth_by_state(&mut conn).await?;
    let _ = writeln!(out, "# HELP beckon_outbox_messages Messages in the outbox, by state.");
    let _ = writeln!(out, "# TYPE beckon_outbox_messages gauge");
    for delivery in shared::mail::DeliveryState::ALL {
        let count = depth.iter().find(|(s, _)| s == delivery.as_str()).map(|(_, n)| *n).unwrap_or(0);
        let _ = writeln!(out, "beckon_outbox_messages{{state=\"{}\"}} {count}", delivery.as_str());
    }
    let age = outbox::oldest_waiting_since(&mut conn).await?.map(|at| (state.clock.now_ms() - at).max(0) as f64 / 1000.0).unwrap_or(0.0);
    let _ = writeln!(out, "# HELP beckon_outbox_oldest_waiting_seconds How long the oldest message not yet sent has waited.");
    let _ = writeln!(out, "# TYPE beckon_outbox_oldest_waiting_seconds gauge");
    let _ = writeln!(out, "beckon_outbox_oldest_waiting_seconds {age}");
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request id a proxy sent, when it is a reasonable one, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map_or_else(new_request_id, str::to_string)
}

/// 32 random hex digits, from the thread's generator (seeded once, no system call per
/// request, unlike a v4 UUID's `getrandom`). Random rather than counted: an id a client sees
/// tells nothing of how many requests came before it.
fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// [`observe`] as a middleware of its own (the operator's listener has no other).
pub async fn observed(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    observe(&state, request, |request| next.run(request)).await
}

/// Counts, times and logs every request `inner` answers, under a request id the response
/// carries too.
pub async fn observe<Answer: std::future::Future<Output = Response>>(
    state: &AppState,
    request: Request<Body>,
    inner: impl FnOnce(Request<Body>) -> Answer,
) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers());
    // Both share their text with the request (an `Arc`, `Bytes`): nothing is copied per request.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let uri = request.uri().clone();
    let method = request.method().clone();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    // What the handler logs (an internal error's step, say) carries the request's id. At
    // error level so that it is there whenever an error line is, whatever BECKON_LOG says.
    let span = tracing::error_span!("request", request_id = %id, %route);
    let mut response = inner(request).instrument(span).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.record_request(route, method.as_str(), status, seconds);
    tracing::info!(request_id = %id, %method, %route, path = %redacted_path(uri.path()), status, ms = seconds * 1000.0, "request");
    if let Ok(value) = HeaderValue::try_from(id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
