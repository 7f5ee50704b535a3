//! Bulk actions and the jobs that do them.

use leptos::prelude::*;
use shared::bulk::JobView;
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{context, jobs};
#[cfg(feature = "ssr")]
use shared::bulk::{BulkAction, Selection};

/// Starts `action` (`BulkAction::as_str`) over the ticked people (`ids`, comma-separated) or
/// everyone matching a Users query (`matching`). Up to a hundred people it is done before the
/// answer; the job's counts say how it went.
#[server(endpoint = "start_bulk_action")]
pub async fn start_bulk_action(action: String, ids: String, matching: Option<String>) -> Result<JobView, AppError> {
    context::as_signed_in(|state, actor| async move {
        let action = BulkAction::parse(&action).ok_or_else(|| AppError::Validation("Choose an action.".into()))?;
        jobs::start(&state, &actor, action, Selection::from_fields(&ids, matching.as_deref())).await
    })
    .await
}

/// How many people "select all matching" would select, exactly (past 100,000: 100,001).
#[server(endpoint = "count_matching")]
pub async fn count_matching(query: String) -> Result<u64, AppError> {
    context::as_signed_in_read("count_matching", query.clone(), |state, actor| async move { jobs::count_matching(&state, &actor, &query).await }).await
}

#[server(endpoint = "get_job")]
pub async fn get_job(id: String) -> Result<JobView, AppError> {
    context::as_signed_in_read("get_job", id.clone(), |state, actor| async move { jobs::get(&state, &actor, &id).await }).await
}

#[server(endpoint = "list_jobs")]
pub async fn list_jobs() -> Result<Vec<JobView>, AppError> {
    context::as_signed_in_read("list_jobs", String::new(), |state, actor| async move { jobs::list(&state, &actor).await }).await
}

#[server(endpoint = "cancel_job")]
pub async fn cancel_job(id: String) -> Result<JobView, AppError> {
    context::as_signed_in(|state, actor| async move { jobs::cancel(&state, &actor, &id).await }).await
}
