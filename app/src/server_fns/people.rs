//! What an administrator does to a person (their roles, a temporary password, deactivation,
//! their invitation's address, their sign-ins). Each returns the banner saying what was done.

use leptos::prelude::*;
use shared::AppError;

#[cfg(feature = "ssr")]
use super::invitations::parse_grants;
#[cfg(feature = "ssr")]
use crate::services::{context, people};

/// Deactivate, Reactivate or Sign out everywhere (`shared::people::PersonAction::as_str`).
#[server(endpoint = "act_on_person")]
pub async fn act_on_person(user_id: String, action: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move {
        let action = shared::people::PersonAction::parse(&action).ok_or_else(|| AppError::Validation("Unknown action.".into()))?;
        people::act(&state, &actor, &user_id, action).await
    })
    .await
}

#[server(endpoint = "remove_person_roles")]
pub async fn remove_person_roles(user_id: String, grants: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { people::remove_roles(&state, &actor, &user_id, parse_grants(&grants)?).await }).await
}

#[server(endpoint = "add_person_roles")]
pub async fn add_person_roles(user_id: String, grants: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { people::add_roles(&state, &actor, &user_id, parse_grants(&grants)?).await }).await
}

/// A temporary password for someone who never set up their account.
#[server(endpoint = "set_person_password")]
pub async fn set_person_password(user_id: String, password: String, password_confirmation: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { people::set_password(&state, &actor, &user_id, password, password_confirmation).await }).await
}

/// The corrected address of a pending invitation.
#[server(endpoint = "correct_invitation_address")]
pub async fn correct_invitation_address(user_id: String, email: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { people::correct_address(&state, &actor, &user_id, &email).await }).await
}

/// Erases a person (Owner, Admin).
#[server(endpoint = "delete_person")]
pub async fn delete_person(user_id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { people::delete(&state, &actor, &user_id).await }).await
}
