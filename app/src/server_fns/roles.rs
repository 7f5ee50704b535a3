//! Settings → Roles: the account's own role names.

use leptos::prelude::*;
use shared::views::CustomRole;
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{context, roles};

#[server(endpoint = "list_custom_roles")]
pub async fn list_custom_roles() -> Result<Vec<CustomRole>, AppError> {
    context::as_signed_in_read("list_custom_roles", String::new(), |state, actor| async move { roles::list(&state, &actor).await }).await
}

#[server(endpoint = "create_custom_role")]
pub async fn create_custom_role(name: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { roles::create(&state, &actor, &name).await }).await
}

#[server(endpoint = "rename_custom_role")]
pub async fn rename_custom_role(role_id: String, name: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { roles::rename(&state, &actor, &role_id, &name).await }).await
}

#[server(endpoint = "remove_custom_role")]
pub async fn remove_custom_role(role_id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { roles::remove(&state, &actor, &role_id).await }).await
}
