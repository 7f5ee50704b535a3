//! Settings → API tokens.

use leptos::prelude::*;
use shared::api::{ApiTokens, CreatedToken};
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{api_tokens, context};

#[server(endpoint = "list_api_tokens")]
pub async fn list_api_tokens() -> Result<ApiTokens, AppError> {
    context::as_signed_in_read("list_api_tokens", String::new(), |state, actor| async move { api_tokens::list(&state, &actor).await }).await
}

/// `expires_in_days`: a number of days, or empty for never. `invitations` and `people` are
/// checkboxes (present when ticked).
#[server(endpoint = "create_api_token")]
pub async fn create_api_token(name: String, expires_in_days: String, invitations: Option<String>, people: Option<String>) -> Result<CreatedToken, AppError> {
    context::as_signed_in(|state, actor| async move {
        let days = match expires_in_days.trim() {
            "" | "never" => None,
            text => Some(text.parse::<u32>().map_err(|_| AppError::Validation("Choose when the token expires.".into()))?),
        };
        let scopes = shared::permissions::TokenScopes { invitations: invitations.is_some(), people: people.is_some() };
        api_tokens::create(&state, &actor, &name, scopes, days).await
    })
    .await
}

#[server(endpoint = "revoke_api_token")]
pub async fn revoke_api_token(id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { api_tokens::revoke(&state, &actor, &id).await }).await
}
