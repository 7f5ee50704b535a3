//! The Organisation page: places, their people, and changing them.

use leptos::prelude::*;
use shared::views::{ScopeDetail, ScopeTree};
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{context, scopes};
#[cfg(feature = "ssr")]
use shared::scopes::ScopeKind;

#[server(endpoint = "list_scopes")]
pub async fn list_scopes(search: String, kind: String, archived: String) -> Result<ScopeTree, AppError> {
    context::as_signed_in_read("list_scopes", format!("{search:?} {kind:?} {archived:?}"), |state, actor| async move {
        let query = scopes::TreeQuery { search, kind: ScopeKind::parse(&kind), include_archived: archived == "on" };
        scopes::tree(&state, &actor, query).await
    })
    .await
}

#[server(endpoint = "get_scope")]
pub async fn get_scope(scope_id: String) -> Result<ScopeDetail, AppError> {
    context::as_signed_in_read("get_scope", scope_id.clone(), |state, actor| async move { scopes::detail(&state, &actor, &scope_id).await }).await
}

/// Creates a place; `parent_id` empty puts it directly in the account. Returns its id.
#[server(endpoint = "create_scope")]
pub async fn create_scope(kind: String, name: String, parent_id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move {
        let kind = ScopeKind::parse(&kind).ok_or_else(|| AppError::Validation("Choose what kind of place to create.".into()))?;
        scopes::create(&state, &actor, kind, &name, Some(parent_id.as_str()).filter(|p| !p.is_empty())).await
    })
    .await
}

#[server(endpoint = "rename_scope")]
pub async fn rename_scope(scope_id: String, name: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { scopes::rename(&state, &actor, &scope_id, &name).await }).await
}

#[server(endpoint = "archive_scope")]
pub async fn archive_scope(scope_id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { scopes::archive(&state, &actor, &scope_id).await }).await
}

#[server(endpoint = "restore_scope")]
pub async fn restore_scope(scope_id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { scopes::restore(&state, &actor, &scope_id).await }).await
}
