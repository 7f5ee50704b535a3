//! The HTTP surface: Leptos pages and server functions, static assets, and the layers
//! every request passes (security headers and CSRF, sessions).

use crate::config::Config;
use crate::security::{self, CspNonce, SecurityPolicy};
use app::server::{AppState, ManualClock};
use app::{shell, App};
use axum::http::HeaderValue;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use std::sync::Arc;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

pub const SESSION_COOKIE: &str = "beckon_session";

/// Renders with the nonce the security layer put in this response's CSP.
fn provide_request_nonce() {
    if let Some(nonce) = use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<CspNonce>().cloned()) {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
}

pub fn build(state: AppState, config: &Config, session_store: SqliteStore, test_clock: Option<Arc<ManualClock>>) -> Router {
    let options = state.leptos_options.clone();
    let routes = generate_route_list(App);
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
        .service(ServeDir::new(config.site_root.join("pkg")));
    let policy = Arc::new(SecurityPolicy::for_public_url(&config.public_url, config.trusted_proxies.clone()));

    let mut router = Router::new();
    if let Some(clock) = test_clock {
        router = router.route("/__test/clock", axum::routing::post(advance_clock).with_state(clock));
    }
    router
        .leptos_routes_with_context(&state, routes, provide_request_nonce, move || shell(options.clone()))
        .nest_service("/pkg", assets)
        .fallback(file_and_error_handler_with_context::<AppState, _>(provide_request_nonce, shell))
        .layer(sessions)
        .layer(axum::middleware::from_fn_with_state(policy, security::layer))
        .with_state(state)
}

#[derive(serde::Deserialize)]
struct Advance {
    hours: i64,
}

/// Test-only: moves the server's clock forward (BECKON_TEST_CLOCK=1).
async fn advance_clock(axum::extract::State(clock): axum::extract::State<Arc<ManualClock>>, axum::Form(advance): axum::Form<Advance>) -> &'static str {
    clock.advance(chrono::Duration::hours(advance.hours));
    "ok"
}
