//! The Audit log. Its CSV export is a streamed route of the server (`AUDIT_EXPORT_PATH`),
//! not a server function: a file of a million events is written as it is read.

use leptos::prelude::*;
use shared::audit::AuditPage;
#[cfg(feature = "ssr")]
use shared::audit::AuditQuery;
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{audit_log, context};

#[server(endpoint = "list_audit_events")]
pub async fn list_audit_events(query: String) -> Result<AuditPage, AppError> {
    context::as_signed_in_read("list_audit_events", query.clone(), |state, actor| async move {
        audit_log::page(&state, &actor, &AuditQuery::from_query_string(&query)).await
    })
    .await
}
