//! `Idempotency-Key` on a POST: the first request with a key is done and its answer kept for
//! 24 hours; a retry with the same key and the same request gets that answer again (marked
//! `Idempotent-Replayed: true`) without anything being done twice. The same key with another
//! request is refused, and so is a retry while the first is still being answered.
//!
//! Which answers are kept: a success, and an internal error (500), which may come after the
//! work committed. A refusal (4xx) did nothing, by the services' one-transaction rule, and an
//! unreachable database (503) did nothing either: those free the key, so a corrected or later
//! retry runs. A request is done on a task of its own, so a client that hangs up half-way
//! cannot leave its key "in progress" with the work done and no answer kept.

use super::Problem;
use app::services::error::Step;
use app::services::store::api_tokens::{self as store, Claim};
use app::services::{api_tokens, audit, checkpoints::points, Actor, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::api::MAX_IDEMPOTENCY_KEY_CHARS;
use shared::error::MAX_REQUEST_BYTES;

pub const HEADER: &str = "idempotency-key";

/// Whether an answer with `status` is kept for the key's retries.
fn kept(status: StatusCode) -> bool {
    status.is_success() || status == StatusCode::INTERNAL_SERVER_ERROR
}

pub async fn replay_or_keep(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else { return next.run(request).await };
    let key = match key.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS && key.bytes().all(|b| b.is_ascii_graphic()) => key.to_string(),
        _ => return Problem::idempotency_key_invalid().into_response(),
    };
    let Some(token) = request.extensions().get::<Actor>().and_then(|a| a.api_token.clone()) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else { return Problem::body_too_large().into_response() };
    let fingerprint = api_tokens::sha256_hex(&[parts.uri.path().as_bytes(), &[0], &bytes]);

    let now = state.clock.now_ms();
    let claimed = async {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        store::claim_key(&mut conn, &token.id, &key, &fingerprint, now, api_tokens::idempotency_kept_since(now)).await.step("api_tokens::claim_key")
    };
    match claimed.await {
        Err(error) => return Problem::from(error).into_response(),
        Ok(Claim::Theirs(kept)) if kept.fingerprint != fingerprint => return Problem::idempotency_key_reused().into_response(),
        Ok(Claim::Theirs(kept)) => {
            return match (kept.status, kept.body) {
                (Some(status), Some(body)) => replay(status, body),
                _ => Problem::idempotency_in_progress().into_response(),
            }
        }
        Ok(Claim::Freed) => return Problem::idempotency_in_progress().into_response(),
        Ok(Claim::Ours) => {}
    }

    let (state_after, token_after, key_after) = (state.clone(), token.id.clone(), key.clone());
    // Done to the end whatever becomes of the connection, its answer kept or its key freed.
    let work = async move {
        state.checkpoints.reach(points::API_IDEMPOTENCY_CLAIMED).await;
        let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
        let settled = async {
            let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
            if kept(parts.status) {
                store::keep_answer(&mut conn, &token.id, &key, parts.status.as_u16(), &String::from_utf8_lossy(&bytes)).await.step("api_tokens::keep_answer")
            } else {
                store::release_key(&mut conn, &token.id, &key).await.step("api_tokens::release_key")
            }
        };
        if let Err(error) = settled.await {
            // The answer still goes out; a retry is told "in progress" until the key's day is over.
            tracing::warn!(?error, "could not settle an idempotency key");
        }
        Response::from_parts(parts, Body::from(bytes))
    };
    // The audit lines of the work name the token, on its own task too.
    match tokio::spawn(audit::via_token(token.name.clone(), work)).await {
        Ok(response) => response,
        Err(error) => {
            // It may have committed before it failed: its retries get this failure, not a second run.
            tracing::error!(?error, "an idempotent API request failed");
            let failed = Problem::from(shared::AppError::Internal);
            let body = serde_json::to_string(&failed).unwrap_or_default();
            if let Ok(mut conn) = state_after.db.pool.acquire().await {
                if let Err(error) = store::keep_answer(&mut conn, &token_after, &key_after, failed.status, &body).await {
                    tracing::warn!(?error, "could not keep the failure of an idempotent API request");
                }
            }
            failed.into_response()
        }
    }
}

fn replay(status: i64, body: String) -> Response {
    let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    let content_type = if status.is_success() { "application/json" } else { "application/problem+json" };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
