//! Files for the browser to download: the Audit log's CSV (streamed as it is read, so that a
//! million events never sit in memory at once), a bulk action's skipped rows and the Users
//! selection's CSV. Plain routes, not server functions (a download is a file, not JSON); they
//! pass the same session, security and observation layers as every page.

use app::services::{audit_log, auth, jobs, Actor, AppState};
use axum::body::Body;
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use shared::audit::AuditQuery;
use shared::AppError;
use tower_sessions::Session;

/// The signed-in person, or the refusal to answer with.
pub(crate) async fn signed_in(state: &AppState, session: &Session) -> Result<Actor, Response> {
    match auth::actor(state, session).await {
        Ok(Some(actor)) if actor.must_change_password => Err(refusal(AppError::PasswordChangeRequired)),
        Ok(Some(actor)) => Ok(actor),
        Ok(None) => Err(refusal(AppError::Unauthenticated)),
        Err(error) => Err(refusal(error)),
    }
}

/// A CSV file to save as `filename`.
pub(crate) fn attachment(body: Body, filename: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

pub async fn audit_csv(State(state): State<AppState>, session: Session, uri: Uri) -> Response {
    let actor = match signed_in(&state, &session).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let query = AuditQuery::from_query_string(uri.query().unwrap_or_default());
    let today = shared::invitations::utc_date(state.clock.now_ms());
    match audit_log::export(state, actor, query).await {
        Ok(chunks) => attachment(Body::from_stream(chunks), &format!("beckon-audit-{today}.csv")),
        Err(error) => refusal(error),
    }
}

/// `GET /jobs/{id}/skipped.csv`: the people a bulk action skipped, with the reason.
pub async fn skipped_csv(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Response {
    let actor = match signed_in(&state, &session).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    match jobs::skipped_csv(&state, &actor, &id).await {
        Ok(bytes) => attachment(Body::from(bytes), "beckon-skipped.csv"),
        Err(error) => refusal(error),
    }
}

/// The Users page's selection, as its bulk bar posts it.
#[derive(serde::Deserialize)]
pub struct SelectionForm {
    #[serde(default)]
    ids: String,
    matching: Option<String>,
}

/// `POST /users/export.csv`: the selected people as the Users page lists them.
pub async fn selection_csv(State(state): State<AppState>, session: Session, Form(form): Form<SelectionForm>) -> Response {
    let actor = match signed_in(&state, &session).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let selection = shared::bulk::Selection::from_fields(&form.ids, form.matching.as_deref());
    let today = shared::invitations::utc_date(state.clock.now_ms());
    match jobs::export_selection(&state, &actor, &selection).await {
        Ok(bytes) => attachment(Body::from(bytes), &format!("beckon-users-{today}.csv")),
        Err(error) => refusal(error),
    }
}

pub(crate) fn refusal(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CACHE_CONTROL, "no-store")], error.to_string()).into_response()
}
