//! Set-up, sign-in, sign-out and password change.

use leptos::prelude::*;
use shared::views::{CurrentUser, ResetPage, SetupState};
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{accounts, auth, context, password_reset, users};

#[server(endpoint = "get_current_user")]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    context::as_visitor(|state| async move {
        match context::actor(&state).await? {
            Some(actor) => Ok(Some(users::current(&state, &actor).await?)),
            None => Ok(None),
        }
    })
    .await
}

#[server(endpoint = "get_setup_state")]
pub async fn get_setup_state() -> Result<SetupState, AppError> {
    context::as_visitor(|state| async move { Ok(SetupState { open: accounts::setup_open(&state).await? }) }).await
}

#[server(endpoint = "setup_owner")]
pub async fn setup_owner(account_name: String, owner_name: String, email: String, password: String, password_confirmation: String) -> Result<(), AppError> {
    context::as_visitor(|state| async move {
        let session = context::session().await?;
        let owner = accounts::create_owner(&state, accounts::OwnerSetup { account_name, owner_name, email, password, password_confirmation }).await?;
        let credentials = auth::Credentials { user_id: owner.user_id, auth_version: 0, must_change_password: false };
        auth::begin_session(&state, &session, &credentials).await?;
        leptos_axum::redirect("/users");
        Ok(())
    })
    .await
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String, next: String) -> Result<(), AppError> {
    context::as_visitor(|state| async move {
        let session = context::session().await?;
        let credentials = auth::verify_credentials(&state, &email, password, context::client_ip()).await?;
        auth::begin_session(&state, &session, &credentials).await?;
        match credentials.must_change_password {
            true => leptos_axum::redirect("/choose-password"),
            false => leptos_axum::redirect(shared::url::local_path_or_root(&next)),
        }
        Ok(())
    })
    .await
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    context::as_visitor(|state| async move {
        auth::end_session(&state, &context::session().await?).await?;
        leptos_axum::redirect("/signin");
        Ok(())
    })
    .await
}

#[server(endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String, new_password_confirmation: String) -> Result<(), AppError> {
    context::as_visitor(|state| async move {
        let session = context::session().await?;
        let actor = auth::require_actor(&state, &session).await?;
        auth::change_password(&state, &actor, current_password, new_password, new_password_confirmation).await?;
        auth::end_session(&state, &session).await?;
        leptos_axum::redirect("/signin?password_changed=1");
        Ok(())
    })
    .await
}

/// "Forgot your password?": sends a link to choose a new one, if the address belongs to an
/// active person; the answer is the same either way.
#[server(endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<String, AppError> {
    context::as_visitor(|state| async move { password_reset::request(&state, &email, context::client_ip()).await }).await
}

/// What a password reset link shows. Never changes anything.
#[server(endpoint = "get_password_reset")]
pub async fn get_password_reset(link: String) -> Result<ResetPage, AppError> {
    context::as_visitor(|state| async move { password_reset::open(&state, &link).await }).await
}

/// Sets a new password from a reset link and signs the person in.
#[server(endpoint = "reset_password")]
pub async fn reset_password(link: String, password: String, password_confirmation: String) -> Result<(), AppError> {
    context::as_visitor(|state| async move {
        let session = context::session().await?;
        let credentials = password_reset::complete(&state, &link, password, password_confirmation, context::client_ip()).await?;
        auth::begin_session(&state, &session, &credentials).await?;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}
