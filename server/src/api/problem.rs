//! Errors as RFC 9457 problem details (`application/problem+json`), each kind with a stable
//! `type` a script can branch on: `/api/v1/problems/{kind}`. A refusal for someone's
//! situation (already accepted, the last Owner, …) is named by its skip reason, the same
//! name the bulk results and their CSV use.

use app::services::api_tokens::TokenRefusal;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::bulk::SkipReason;
use shared::permissions::Denied;
use shared::AppError;
use utoipa::ToSchema;

/// A problem, as the API answers it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `/api/v1/problems/{kind}`: stable, for scripts to branch on.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong here, in words for a person.
    pub detail: String,
    /// Seconds to wait before trying again (rate limited, unavailable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("{}/problems/{kind}", shared::api::API_BASE),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn not_found(detail: &str) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    pub fn method_not_allowed() -> Problem {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
            "This route does not take that method: see /api/v1/openapi.json.",
        )
    }

    pub fn validation(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid request", detail)
    }

    pub fn unreadable_body(rejection: axum::extract::rejection::JsonRejection) -> Problem {
        use axum::extract::rejection::JsonRejection::*;
        match rejection {
            MissingJsonContentType(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the body as JSON, with `Content-Type: application/json`.",
            ),
            JsonSyntaxError(e) => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON", format!("The body is not valid JSON: {}", e.body_text()))
            }
            JsonDataError(e) => Problem::validation(format!("The body does not have the expected fields: {}", e.body_text())),
            other => Problem::new(StatusCode::BAD_REQUEST, "unreadable_body", "Unreadable body", other.body_text()),
        }
    }

    pub fn token(refusal: TokenRefusal) -> Problem {
        let kind = match refusal {
            TokenRefusal::Missing => "token_missing",
            TokenRefusal::Unknown => "token_invalid",
            TokenRefusal::Revoked => "token_revoked",
            TokenRefusal::Expired => "token_expired",
            TokenRefusal::CreatorInactive => "token_creator_inactive",
        };
        Problem::new(StatusCode::UNAUTHORIZED, kind, "Unauthorized", refusal.message())
    }

    pub fn idempotency_key_reused() -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency key reused",
            "This Idempotency-Key was used with a different request: use a new key for a new request.",
        )
    }

    pub fn idempotency_in_progress() -> Problem {
        Problem::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "Request in progress",
            "A request with this Idempotency-Key is still being answered: try again in a moment to get its answer.",
        )
    }

    pub fn idempotency_key_invalid() -> Problem {
        Problem::validation(format!("An Idempotency-Key is 1 to {} visible ASCII characters.", shared::api::MAX_IDEMPOTENCY_KEY_CHARS))
    }

    pub fn body_too_large() -> Problem {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "Request too large", AppError::TooLarge.to_string())
    }
}

impl From<AppError> for Problem {
    fn from(error: AppError) -> Problem {
        let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let detail = error.to_string();
        let mut problem = match &error {
            AppError::Forbidden(denied) => {
                let kind = SkipReason::from(*denied).as_str();
                let kind = kind.split(':').next().unwrap_or("forbidden").to_string();
                let title = match denied {
                    Denied::NotPermitted => "Not permitted",
                    Denied::AboveYourRole { .. } => "Above your role",
                    Denied::OutsideYourScopes => "Outside your places",
                };
                Problem::new(status, &kind, title, detail)
            }
            AppError::InvalidState(message) => match SkipReason::ALL.into_iter().find(|r| r.message() == *message) {
                Some(reason) => Problem::new(status, &reason.as_str(), reason.label().as_str(), detail),
                None => Problem::new(status, "conflict", "Not possible now", detail),
            },
            AppError::Validation(_) => Problem::new(status, "validation", "Invalid request", detail),
            AppError::NotFound => Problem::new(status, "not_found", "Not found", detail),
            AppError::RateLimited { retry_after_secs } => {
                let mut p = Problem::new(status, "rate_limited", "Too many requests", detail);
                p.retry_after = Some(*retry_after_secs);
                p
            }
            AppError::TooLarge => Problem::new(status, "too_large", "Request too large", detail),
            AppError::Unavailable => {
                let mut p = Problem::new(status, "unavailable", "Temporarily unavailable", detail);
                p.retry_after = Some(shared::error::RETRY_AFTER_SECS);
                p
            }
            AppError::Unauthenticated | AppError::PasswordChangeRequired => Problem::new(status, "unauthenticated", "Unauthorized", detail),
            AppError::CrossSite | AppError::Transport => Problem::new(status, "bad_request", "Bad request", detail),
            AppError::Internal => Problem::new(status, "internal", "Internal error", detail),
        };
        problem.status = status.as_u16();
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"beckon\""));
        }
        response
    }
}
