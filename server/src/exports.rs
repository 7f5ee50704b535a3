//! Files streamed to the browser as they are read: the Audit log's CSV. A plain route, not
//! a server function, so that a million events never sit in memory at once; it passes the
//! same session, security and observation layers as every page.

use app::services::{audit_log, auth, AppState};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shared::audit::AuditQuery;
use shared::AppError;
use tower_sessions::Session;

pub async fn audit_csv(State(state): State<AppState>, session: Session, uri: Uri) -> Response {
    let actor = match auth::actor(&state, &session).await {
        Ok(Some(actor)) if actor.must_change_password => return refusal(AppError::PasswordChangeRequired),
        Ok(Some(actor)) => actor,
        Ok(None) => return refusal(AppError::Unauthenticated),
        Err(error) => return refusal(error),
    };
    let query = AuditQuery::from_query_string(uri.query().unwrap_or_default());
    let today = shared::invitations::utc_date(state.clock.now_ms());
    match audit_log::export(state, actor, query).await {
        Ok(chunks) => {
            let disposition = format!("attachment; filename=\"beckon-audit-{today}.csv\"");
            let mut response = Body::from_stream(chunks).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(error) => refusal(error),
    }
}

fn refusal(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CACHE_CONTROL, "no-store")], error.to_string()).into_response()
}
