//! The import's plain routes: the upload (a multipart form, read as a stream up to its own
//! limit, the one request allowed past 1 MB), the template and the report of rejected rows.
//! The preview and the confirmation are server functions.

use crate::exports::{attachment, refusal, signed_in};
use app::services::{imports, AppState};
use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use shared::import::{UploadError, UPLOAD_PATH};
use shared::AppError;
use tower_sessions::Session;

/// Back to the upload form, which says what was wrong.
fn back(refused: UploadError) -> Response {
    Redirect::to(&format!("{UPLOAD_PATH}?{}", refused.to_query())).into_response()
}

/// `POST /users/import`: a file (`file`) or pasted rows (`text`); answers with the preview.
pub async fn upload(State(state): State<AppState>, session: Session, mut form: Multipart) -> Response {
    let actor = match signed_in(&state, &session).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    let max_bytes = state.import_limits.max_bytes;
    let too_large = UploadError::TooLarge { max_bytes: max_bytes as u64 };
    let (mut file, mut pasted) = (None::<(String, Vec<u8>)>, Vec::new());
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => return back(too_large),
            Err(error) => return refusal(AppError::Validation(format!("The upload could not be read: {}.", error.body_text()))),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().unwrap_or_default().to_string();
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() > max_bytes => return back(too_large),
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => return back(too_large),
                Err(error) => return refusal(AppError::Validation(format!("The upload could not be read: {}.", error.body_text()))),
            }
        }
        match name.as_str() {
            "file" if !bytes.is_empty() => file = Some((file_name, bytes)),
            "text" => pasted = bytes,
            _ => {}
        }
    }
    let (file_name, bytes) = match file {
        Some(file) => file,
        None if pasted.iter().any(|b| !b.is_ascii_whitespace()) => (String::new(), pasted),
        None => return back(UploadError::NoFile),
    };
    match imports::upload(&state, &actor, &file_name, &bytes).await {
        Ok(Ok(id)) => Redirect::to(&shared::import::import_href(&id)).into_response(),
        Ok(Err(refused)) => back(refused),
        Err(error) => refusal(error),
    }
}

/// `GET /users/import/template.csv`.
pub async fn template() -> Response {
    let mut response = attachment(Body::from(shared::import::TEMPLATE), "beckon-import-template.csv");
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    response
}

/// `GET /imports/{id}/report.csv`: the rows not imported, with why.
pub async fn report_csv(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Response {
    let actor = match signed_in(&state, &session).await {
        Ok(actor) => actor,
        Err(refused) => return refused,
    };
    match imports::report_csv(&state, &actor, &id).await {
        Ok(bytes) => attachment(Body::from(bytes), "beckon-import-report.csv"),
        Err(error) => refusal(error),
    }
}
