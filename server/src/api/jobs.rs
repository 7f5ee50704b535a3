//! `/api/v1/jobs`: a bulk action over many people, started and followed.

use super::{json, time, Body, Caller, Problem};
use app::services::{jobs, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::bulk::{BulkAction, JobView, Selection};
use utoipa::ToSchema;

/// A bulk action.
#[derive(Serialize, ToSchema)]
pub struct Job {
    pub id: String,
    /// `resend`, `send_new`, `remind`, `extend`, `cancel`, `invite_to_activate`, `deactivate`, `reactivate` or `import`.
    pub action: String,
    /// `running`, `done`, `cancelled` or `failed`.
    pub state: String,
    pub started_by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// What chose the people, in words.
    pub selection: String,
    pub total: u64,
    pub done: u64,
    pub skipped: u64,
    pub failed: u64,
    /// The skipped, by reason (the same names as a single action's problem types).
    pub skips: Vec<SkipCount>,
    pub stopped_because: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SkipCount {
    pub reason: String,
    pub count: u64,
}

impl From<JobView> for Job {
    fn from(job: JobView) -> Job {
        Job {
            id: job.id,
            action: job.action.as_str().to_string(),
            state: job.state.as_str().to_string(),
            started_by: job.started_by,
            started_at: time(job.started_at_ms),
            finished_at: job.finished_at_ms.map(time),
            selection: job.selection,
            total: job.total,
            done: job.done,
            skipped: job.skipped,
            failed: job.failed,
            skips: job.skips.into_iter().map(|s| SkipCount { reason: s.reason.as_str(), count: s.count }).collect(),
            stopped_because: job.stopped_because,
        }
    }
}

/// What to do, to whom: the people by id, or everyone matching a Users filter.
#[derive(Deserialize, ToSchema)]
pub struct NewJob {
    /// `resend`, `send_new`, `remind`, `extend`, `cancel`, `invite_to_activate`, `deactivate` or `reactivate`.
    pub action: String,
    /// The people, by id.
    #[serde(default)]
    pub person_ids: Option<Vec<String>>,
    /// Everyone matching this Users filter (`status=expired&q=acme`), resolved as the job starts.
    #[serde(default)]
    pub matching: Option<String>,
}

/// Start a bulk action. Up to a hundred people it is done before the answer; more are done
/// in the background: follow the job.
#[utoipa::path(
    post, path = "/jobs", tag = "jobs", operation_id = "start_job", request_body = NewJob,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe.")),
    responses(
        (status = 202, body = Job),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start(State(state): State<AppState>, caller: Caller, Body(body): Body<NewJob>) -> Result<Response, Problem> {
    let action = BulkAction::parse(&body.action).filter(|a| BulkAction::CHOSEN.contains(a)).ok_or_else(|| {
        let names: Vec<&str> = BulkAction::CHOSEN.iter().map(|a| a.as_str()).collect();
        Problem::validation(format!("Unknown action “{}”: use one of {}.", body.action, names.join(", ")))
    })?;
    let selection = match (body.person_ids, body.matching) {
        (Some(ids), None) => Selection::People(ids),
        (None, Some(matching)) => Selection::Matching(matching),
        _ => return Err(Problem::validation("Give either person_ids or matching.")),
    };
    let job = jobs::start(&state, &caller.0, action, selection).await?;
    Ok(json(StatusCode::ACCEPTED, Job::from(job)))
}

/// The bulk actions the caller sees, newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", operation_id = "list_jobs", responses((status = 200, body = Vec<Job>), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, Problem> {
    let listed = jobs::list(&state, &caller.0).await?;
    Ok(json(StatusCode::OK, listed.into_iter().map(Job::from).collect::<Vec<_>>()))
}

/// One bulk action, with its counts so far.
#[utoipa::path(
    get, path = "/jobs/{id}", tag = "jobs", operation_id = "get_job", params(("id" = String, Path, description = "The job")),
    responses((status = 200, body = Job), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
    Ok(json(StatusCode::OK, Job::from(jobs::get(&state, &caller.0, &id).await?)))
}

/// Cancel a running bulk action: what is done stays done.
#[utoipa::path(
    post, path = "/jobs/{id}/cancel", tag = "jobs", operation_id = "cancel_job",
    params(("id" = String, Path, description = "The job"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe.")),
    responses((status = 200, body = Job), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"))
)]
pub async fn cancel(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
    Ok(json(StatusCode::OK, Job::from(jobs::cancel(&state, &caller.0, &id).await?)))
}
