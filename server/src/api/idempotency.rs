//! `Idempotency-Key` on a POST: the first request with a key is done and its answer kept for
//! 24 hours; a retry with the same key and the same request gets that answer again (marked
//! `Idempotent-Replayed: true`) without anything being done twice. The same key with another
//! request is refused, and so is a retry while the first is still being answered. An answer
//! the server failed to give (5xx) frees the key, since nothing was done.

use super::Problem;
use app::services::error::Step;
use app::services::store::api_tokens as store;
use app::services::{api_tokens, checkpoints::points, Actor, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use shared::api::MAX_IDEMPOTENCY_KEY_CHARS;
use shared::error::MAX_REQUEST_BYTES;

pub const HEADER: &str = "idempotency-key";

pub async fn replay_or_keep(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else { return next.run(request).await };
    let key = match key.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS && key.bytes().all(|b| b.is_ascii_graphic()) => key.to_string(),
        _ => return Problem::idempotency_key_invalid().into_response(),
    };
    let Some(token_id) = request.extensions().get::<Actor>().and_then(|a| a.api_token.as_ref()).map(|t| t.id.clone()) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await else { return Problem::body_too_large().into_response() };
    let mut hasher = Sha256::new();
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();

    let now = state.clock.now_ms();
    let claimed = async {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        store::claim_key(&mut conn, &token_id, &key, &fingerprint, now, api_tokens::idempotency_kept_since(now)).await.step("api_tokens::claim_key")
    };
    match claimed.await {
        Err(error) => return Problem::from(error).into_response(),
        Ok(Some(kept)) if kept.fingerprint != fingerprint => return Problem::idempotency_key_reused().into_response(),
        Ok(Some(kept)) => {
            return match (kept.status, kept.body) {
                (Some(status), Some(body)) => replay(status, body),
                _ => Problem::idempotency_in_progress().into_response(),
            }
        }
        Ok(None) => {}
    }
    state.checkpoints.reach(points::API_IDEMPOTENCY_CLAIMED).await;

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else { return StatusCode::INTERNAL_SERVER_ERROR.into_response() };
    let kept = async {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        if parts.status.is_server_error() {
            store::release_key(&mut conn, &token_id, &key).await.step("api_tokens::release_key")
        } else {
            store::keep_answer(&mut conn, &token_id, &key, parts.status.as_u16(), &String::from_utf8_lossy(&bytes)).await.step("api_tokens::keep_answer")
        }
    };
    if let Err(error) = kept.await {
        // The work is done; only a retry would be told "in progress" until the key is freed.
        tracing::warn!(?error, "could not keep an idempotent answer");
    }
    Response::from_parts(parts, Body::from(bytes))
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
