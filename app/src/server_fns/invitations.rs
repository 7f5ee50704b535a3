//! Invitations, from the admin's side (Users page, Settings) and the invitee's (the link).

use leptos::prelude::*;
use shared::views::{InvitationPage, InvitationSettings, InviteOptions, InviteOutcome};
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{auth, context, invitations, roles};
#[cfg(feature = "ssr")]
use shared::invitations::{AutoReminders, ExpiryDays};
#[cfg(feature = "ssr")]
use shared::scopes::Grant;

/// Roles with their places travel as `Grant::to_param` writes them.
#[cfg(feature = "ssr")]
pub(crate) fn parse_grants(raw: &str) -> Result<Vec<Grant>, AppError> {
    Grant::parse_param(raw).ok_or_else(|| AppError::Validation("Those roles could not be read. Reload the page and choose again.".into()))
}

/// The places and roles "Invite people" may offer the signed-in admin.
#[server(endpoint = "get_invite_options")]
pub async fn get_invite_options() -> Result<InviteOptions, AppError> {
    context::as_signed_in_read("get_invite_options", String::new(), |state, actor| async move { roles::invite_options(&state, &actor).await }).await
}

#[server(endpoint = "invite_people")]
pub async fn invite_people(addresses: String, grants: String, message: String, send_despite_typos: bool) -> Result<InviteOutcome, AppError> {
    context::as_signed_in(|state, actor| async move {
        let request = invitations::service::InviteRequest { addresses, grants: parse_grants(&grants)?, message: Some(message), send_despite_typos };
        invitations::service::invite(&state, &actor, request).await
    })
    .await
}

/// Resend, remind, send new, cancel. Returns the confirmation banner.
#[server(endpoint = "act_on_invitation")]
pub async fn act_on_invitation(user_id: String, action: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move {
        let action = shared::invitations::InvitationAction::parse(&action).ok_or_else(|| AppError::Validation("Unknown action.".into()))?;
        invitations::service::act(&state, &actor, &user_id, action).await
    })
    .await
}

/// Lets a hard-bounced address receive invitations again. Returns the banner.
#[server(endpoint = "release_bounced_address")]
pub async fn release_bounced_address(user_id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { invitations::service::release_hold(&state, &actor, &user_id).await }).await
}

#[server(endpoint = "get_invitation_link")]
pub async fn get_invitation_link(user_id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { invitations::service::copy_link(&state, &actor, &user_id).await }).await
}

#[server(endpoint = "remove_invitation_roles")]
pub async fn remove_invitation_roles(user_id: String, grants: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { invitations::service::remove_grants(&state, &actor, &user_id, parse_grants(&grants)?).await }).await
}

#[server(endpoint = "get_invitation_settings")]
pub async fn get_invitation_settings() -> Result<InvitationSettings, AppError> {
    context::as_signed_in_read("get_invitation_settings", String::new(), |state, actor| async move { invitations::settings::get(&state, &actor).await }).await
}

#[server(endpoint = "save_invitation_settings")]
pub async fn save_invitation_settings(
    expiry_days: String,
    resend_rotates_link: Option<String>,
    remind_after_days: Option<String>,
    remind_before_days: Option<String>,
) -> Result<(), AppError> {
    context::as_signed_in(|state, actor| async move {
        let expiry = ExpiryDays::parse(&expiry_days)?;
        let reminders = AutoReminders::parse(remind_after_days.as_deref().unwrap_or(""), remind_before_days.as_deref().unwrap_or(""), expiry)?;
        let settings = InvitationSettings { expiry_days: expiry, resend_rotates_link: resend_rotates_link.is_some(), reminders };
        invitations::settings::update(&state, &actor, settings).await
    })
    .await
}

/// What an invitation link shows. Never changes anything.
#[server(endpoint = "get_invitation")]
pub async fn get_invitation(link: String) -> Result<InvitationPage, AppError> {
    context::as_visitor(|state| async move {
        let viewer = context::actor(&state).await?;
        invitations::accept::open(&state, &link, viewer.as_ref(), context::client_ip()).await
    })
    .await
}

/// Accepts an invitation. A new user sends a name and password; an existing user is
/// either signed in already or signs in here with `email` and `password`, so the link
/// never has to travel through the sign-in page's address.
#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(
    link: String,
    name: Option<String>,
    password: Option<String>,
    password_confirmation: Option<String>,
    email: Option<String>,
) -> Result<(), AppError> {
    context::as_visitor(|state| async move {
        let session = context::session().await?;
        let password = password.unwrap_or_default();
        let viewer = match email {
            Some(email) => {
                let credentials = auth::verify_credentials(&state, &email, password.clone(), context::client_ip()).await?;
                auth::begin_session(&state, &session, &credentials).await?;
                auth::actor(&state, &session).await?
            }
            None => auth::actor(&state, &session).await?,
        };
        let input =
            invitations::accept::AcceptInput { name: name.unwrap_or_default(), password, password_confirmation: password_confirmation.unwrap_or_default() };
        match invitations::accept::accept(&state, &link, input, viewer.as_ref(), context::client_ip()).await? {
            invitations::accept::Accepted::Active(credentials) => {
                auth::begin_session(&state, &session, &credentials).await?;
                leptos_axum::redirect("/");
            }
            // The link's page now says that an administrator must confirm it.
            invitations::accept::Accepted::AwaitingConfirmation(_) => leptos_axum::redirect(&format!("/invite/{link}")),
        }
        Ok(())
    })
    .await
}

#[server(endpoint = "request_new_invitation")]
pub async fn request_new_invitation(link: String) -> Result<String, AppError> {
    context::as_visitor(|state| async move { invitations::accept::request_new(&state, &link, context::client_ip()).await }).await
}
