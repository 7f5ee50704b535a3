//! How a server function reaches the state, the session and the client address of its request.

use super::error::Step;
use super::AppState;
use leptos::prelude::*;
use shared::AppError;
use std::net::{IpAddr, SocketAddr};
use tower_sessions::Session;

pub fn state() -> Result<AppState, AppError> {
    if let Some(state) = use_context::<AppState>() {
        return Ok(state);
    }
    // A page's data can still be loading when its client goes away: the request's reactive
    // owner is dropped, and with it every context, the request's own parts included. That is
    // the client's doing, not a fault; a state missing from a live request is one.
    if with_parts(|_| ()).is_none() {
        tracing::debug!("request abandoned before its data loaded");
        return Err(AppError::Internal);
    }
    None.step("AppState in the request context")
}

/// Reads the request's parts where they are: `use_context` (and `leptos_axum::extract`)
/// would clone them, every header and extension, on each call.
fn with_parts<R>(read: impl FnOnce(&http::request::Parts) -> R) -> Option<R> {
    with_context::<http::request::Parts, _>(read)
}

/// The request's session, as the session layer put it among the request's extensions.
pub async fn session() -> Result<Session, AppError> {
    with_parts(|parts| parts.extensions.get::<Session>().cloned()).flatten().step("session from the request")
}

/// What a server function does for the signed-in person of its request: `work` gets the
/// state and the actor (no one signed in: 401), and a refusal gets its HTTP status.
pub async fn as_signed_in<T, Work>(work: impl FnOnce(AppState, super::Actor) -> Work) -> Result<T, AppError>
where
    Work: std::future::Future<Output = Result<T, AppError>>,
{
    let result = match signed_in().await {
        Ok((state, actor)) => work(state, actor).await,
        Err(error) => Err(error),
    };
    respond(result)
}

/// What a server function does for whoever calls it (signing in, an invitation link):
/// `work` gets the state, and a refusal gets its HTTP status.
pub async fn as_visitor<T, Work>(work: impl FnOnce(AppState) -> Work) -> Result<T, AppError>
where
    Work: std::future::Future<Output = Result<T, AppError>>,
{
    let result = match state() {
        Ok(state) => work(state).await,
        Err(error) => Err(error),
    };
    respond(result)
}

/// The state and the signed-in actor of this request, or `Unauthenticated`.
async fn signed_in() -> Result<(AppState, super::Actor), AppError> {
    let state = state()?;
    let actor = super::auth::require_actor(&state, &session().await?).await?;
    Ok((state, actor))
}

/// The client's address as the security layer resolved it (the peer, or behind a trusted
/// proxy the address that proxy reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client's address, when the server recorded it.
pub fn client_ip() -> Option<IpAddr> {
    with_parts(|parts| {
        parts.extensions.get::<ClientIp>().map(|c| c.0).or_else(|| parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
    })
    .flatten()
}

/// Whether the request is a plain HTML form post (no JavaScript), which is answered with a
/// redirect rather than a status code.
fn is_plain_form_post() -> bool {
    with_parts(|p| p.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))).unwrap_or(false)
}

/// Gives an error its HTTP status for API clients, then passes the result on.
fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        if !is_plain_form_post() {
            if let (Some(res), Ok(code)) = (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(error.status_code())) {
                res.set_status(code);
            }
        }
    }
    result
}
