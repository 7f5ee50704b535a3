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

/// [`as_signed_in`] for a server function that only reads: asked again in the same request
/// with the same `args` (its arguments, written out), it answers what it answered the first time without doing the work
/// again. A page's components can be built twice while it renders on the server (a
/// `Suspense` walks its children once to find the resources they read, then renders them:
/// leptos-rs/leptos#2956, #4688), and each build asks its server functions again; the
/// second build's ask, often made while the first is still loading, waits for that answer.
pub async fn as_signed_in_read<T, Work>(name: &str, args: String, work: impl FnOnce(AppState, super::Actor) -> Work) -> Result<T, AppError>
where
    T: Clone + Send + Sync + 'static,
    Work: std::future::Future<Output = Result<T, AppError>>,
{
    let Some(reads) = use_context::<RequestReads>() else {
        return as_signed_in(work).await;
    };
    let cell = reads.cell(format!("{name}\u{0}{args}"));
    let answer = cell
        .get_or_init(|| async move {
            let result = match signed_in().await {
                Ok((state, actor)) => work(state, actor).await,
                Err(error) => Err(error),
            };
            result.map(|value| std::sync::Arc::new(value) as std::sync::Arc<dyn std::any::Any + Send + Sync>)
        })
        .await;
    let result = match answer {
        Ok(value) => value.downcast_ref::<T>().cloned().step("a read's answer of the type it was asked with"),
        Err(error) => Err(error.clone()),
    };
    respond(result)
}

/// What this request's reads answered, by name and arguments (see [`as_signed_in_read`]).
#[derive(Clone, Default)]
pub struct RequestReads(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<ReadCell>>>>);

type ReadCell = tokio::sync::OnceCell<Result<std::sync::Arc<dyn std::any::Any + Send + Sync>, AppError>>;

impl RequestReads {
    fn cell(&self, key: String) -> std::sync::Arc<ReadCell> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone()
    }
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
    let actor = actor(&state).await?.ok_or(AppError::Unauthenticated)?;
    if actor.must_change_password {
        return Err(AppError::PasswordChangeRequired);
    }
    Ok((state, actor))
}

/// The signed-in person of this request, read from the database once per request: a page
/// asks for it in the shell and again in each of its server functions' resources.
#[derive(Clone, Default)]
pub struct RequestActor(std::sync::Arc<tokio::sync::OnceCell<Option<super::Actor>>>);

/// Gives this request its [`RequestActor`] and [`RequestReads`]; the router calls it for every page and server
/// function. Only for reading who is signed in: a request that signs someone in or out
/// reads the session itself afterwards.
pub fn provide_request_memory() {
    provide_context(RequestActor::default());
    provide_context(RequestReads::default());
}

/// Who is signed in on this request's session, or `None`.
pub async fn actor(state: &AppState) -> Result<Option<super::Actor>, AppError> {
    let session = session().await?;
    match use_context::<RequestActor>() {
        Some(cell) => cell.0.get_or_try_init(|| super::auth::actor(state, &session)).await.cloned(),
        None => super::auth::actor(state, &session).await,
    }
}

/// The client's address as the security layer resolved it (the peer, or behind a trusted
/// proxy the address that proxy reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The request's User-Agent header, when it has a readable one.
pub fn user_agent() -> Option<String> {
    with_parts(|parts| parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string)).flatten()
}

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
            crate::components::set_status(error.status_code());
        }
    }
    result
}
