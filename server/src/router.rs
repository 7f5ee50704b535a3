//! The HTTP surface: Leptos pages and server functions, static assets, and the layers
//! every request passes (security headers and CSRF, sessions).

use crate::config::Config;
use crate::ops;
use crate::security::{self, CspNonce, SecurityPolicy};
use crate::sessions::SessionStore;
use app::services::{AppState, ManualClock};
use app::{shell, App};
use axum::http::HeaderValue;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::Arc;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub const SESSION_COOKIE: &str = "beckon_session";

/// What every render and server function gets besides the state: the nonce the security
/// layer put in this response's CSP, and page redirects that are real redirects.
fn provide_request_context() {
    // Read in place: `use_context` would clone every header and extension of the request.
    if let Some(nonce) = with_context::<axum::http::request::Parts, _>(|p| p.extensions.get::<CspNonce>().cloned()).flatten() {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
    leptos_router::components::provide_server_redirect(redirect_page);
    app::services::context::provide_request_memory();
}

/// A `<Redirect>` met while rendering a page answers 302 with its location, whoever asks:
/// a visitor without JavaScript (or before the wasm arrives) is sent on at once instead of
/// getting an empty page. (leptos_axum's own redirect answers 200 unless the request
/// accepts HTML, which is right for server functions but not for pages.)
fn redirect_page(path: &str) {
    if let (Some(response), Ok(location)) = (use_context::<leptos_axum::ResponseOptions>(), HeaderValue::from_str(path)) {
        response.insert_header(axum::http::header::LOCATION, location);
        response.set_status(axum::http::StatusCode::FOUND);
    }
}

/// The app's routes, listed once per process. Leptos lists them by rendering the app with
/// resource loads switched off through a flag that holds for the whole process, not the
/// listing thread: a page rendered meanwhile anywhere else would wait for its data forever
/// (seen as requests that never answered while tests built applications beside them).
/// Listing once, before any router exists to serve a page, leaves no page to catch it.
pub fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES
        .get_or_init(|| {
            // Before Leptos sets its own (the first listing does), which would win for good.
            let _ = any_spawner::Executor::init_custom_executor(SpannedTokio);
            generate_route_list(App)
        })
        .clone()
}

/// Tokio, with every task Leptos spawns (a page's resources load in tasks of their own)
/// kept in the span it was spawned from: an error logged while a page loads its data
/// carries the request's id and route like the rest of that request's lines.
struct SpannedTokio;

impl any_spawner::CustomExecutor for SpannedTokio {
    fn spawn(&self, task: any_spawner::PinnedFuture<()>) {
        tokio::spawn(tracing::Instrument::in_current_span(task));
    }

    fn spawn_local(&self, task: any_spawner::PinnedLocalFuture<()>) {
        tokio::task::spawn_local(tracing::Instrument::in_current_span(task));
    }

    fn poll_local(&self) {}
}

pub fn build(state: AppState, config: &Config, session_store: SessionStore, test_clock: Option<Arc<ManualClock>>) -> Router {
    let options = state.leptos_options.clone();
    let routes = route_list();
    let idle = tower_sessions::cookie::time::Duration::seconds(config.session_idle.as_secs() as i64);
    let sessions = SessionManagerLayer::new(session_store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(config.is_https())
        .with_expiry(Expiry::OnInactivity(idle));
    // Hashed asset names change with their content, so they may be cached for good.
    let asset_cache = if options.hash_files { "public, max-age=31536000, immutable" } else { "no-cache" };
    let assets = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(axum::http::header::CACHE_CONTROL, HeaderValue::from_static(asset_cache)))
        // The same address answers in several encodings: caches on the way must tell them apart.
        .layer(SetResponseHeaderLayer::if_not_present(axum::http::header::VARY, HeaderValue::from_static("accept-encoding")))
        // Compressed when the site was built (`.gz` always, `.br` by `make release`).
        .service(ServeDir::new(config.site_root.join("pkg")).precompressed_br().precompressed_gzip());
    let policy =
        Arc::new(SecurityPolicy::for_public_url(&config.public_url, config.trusted_proxies.clone()).with_import_files_up_to(config.import_limits.max_bytes));

    let mut router = Router::new();
    if let Some(clock) = test_clock {
        router = router.route("/__test/clock", axum::routing::post(advance_clock).with_state(clock));
    }
    let metrics = match &config.metrics_token {
        Some(token) => ops::MetricsAccess::Token(token.clone()),
        None => ops::MetricsAccess::Closed,
    };
    // Layers go on in groups through one `ServiceBuilder`: axum boxes each `layer` call's
    // result again and clones every level for each request, so one call per group costs a
    // page view a few boxes instead of a few per layer.
    router
        .merge(ops::routes(metrics))
        .route(shared::audit::AUDIT_EXPORT_PATH, axum::routing::get(crate::exports::audit_csv))
        .route("/jobs/{id}/skipped.csv", axum::routing::get(crate::exports::skipped_csv))
        .route(shared::bulk::SELECTION_EXPORT_PATH, axum::routing::post(crate::exports::selection_csv))
        .route(
            shared::import::UPLOAD_PATH,
            axum::routing::post(crate::imports::upload)
                .layer(axum::extract::DefaultBodyLimit::max(crate::security::upload_limit(config.import_limits.max_bytes))),
        )
        .route(shared::import::TEMPLATE_PATH, axum::routing::get(crate::imports::template))
        .route(shared::import::REPORT_PATH, axum::routing::get(crate::imports::report_csv))
        .leptos_routes_with_context(&state, routes, provide_request_context, move || shell(options.clone()))
        .layer(
            tower::ServiceBuilder::new()
                // Pages and server-function answers, compressed as they are sent (added before
                // the assets, which this layer does not reach: they come compressed already).
                .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)))
                // Reads the answer's body, so it sits inside the compression.
                .layer(axum::middleware::map_response(server_fn_error_status)),
        )
        .nest_service("/pkg", assets)
        .fallback(file_and_error_handler_with_context::<AppState, _>(provide_request_context, shell))
        .layer(sessions)
        // The API: outside the session layer (a token, never a cookie, says who calls).
        .nest(shared::api::API_BASE, crate::api::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(Front { state: state.clone(), policy }, front))
        .with_state(state)
}

#[derive(Clone)]
struct Front {
    state: AppState,
    policy: Arc<SecurityPolicy>,
}

/// What every request passes first: observed (request id, log line, metrics), then guarded
/// (cross-site refusals, the body limit, security headers). One middleware, not two: axum
/// clones all a middleware wraps for each request it passes on.
async fn front(
    axum::extract::State(front): axum::extract::State<Front>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = ops::observe(&front.state, request, |request| security::guard(&front.policy, request, |request| next.run(request))).await;
    // Unavailable (the database is restarting, or full): when to come back.
    if response.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE && !response.headers().contains_key(axum::http::header::RETRY_AFTER) {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(shared::error::RETRY_AFTER_SECS));
    }
    response
}

/// A server function that failed before its body ran (arguments it could not read) is
/// answered 500 by the library; it gets the status of its `AppError` like every other
/// failure, so a malformed request reads as the client's mistake, not the server's.
async fn server_fn_error_status(response: axum::response::Response) -> axum::response::Response {
    if response.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR || !response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return axum::response::Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Some(status) = serde_json::from_slice::<shared::AppError>(&bytes).ok().and_then(|e| axum::http::StatusCode::from_u16(e.status_code()).ok()) {
        parts.status = status;
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The operator's own listener (BECKON_METRICS_ADDR): health, readiness and metrics, open.
pub fn operations(state: AppState) -> Router {
    ops::routes(ops::MetricsAccess::Open).layer(axum::middleware::from_fn_with_state(state.clone(), ops::observed)).with_state(state)
}

/// The most the test clock moves in one step: ten years.
const MAX_CLOCK_STEP_HOURS: f64 = 10.0 * 366.0 * 24.0;

/// Test-only: moves the server's clock forward by the form's `hours` (BECKON_TEST_CLOCK=1).
async fn advance_clock(axum::extract::State(clock): axum::extract::State<Arc<ManualClock>>, body: String) -> (axum::http::StatusCode, &'static str) {
    let hours = form_urlencoded_value(&body, "hours").and_then(|h| h.parse::<f64>().ok());
    match hours {
        Some(hours) if hours.is_finite() && (0.0..=MAX_CLOCK_STEP_HOURS).contains(&hours) => {
            clock.advance(chrono::Duration::milliseconds((hours * 3_600_000.0) as i64));
            (axum::http::StatusCode::OK, "ok")
        }
        _ => (axum::http::StatusCode::UNPROCESSABLE_ENTITY, "hours must be a number from 0 to 87840"),
    }
}

fn form_urlencoded_value(body: &str, name: &str) -> Option<String> {
    body.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| shared::url::decode_component(v))
}
