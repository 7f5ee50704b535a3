//! Invitations, from the admin's side (Users page, Settings) and the invitee's (the link).

use leptos::prelude::*;
use shared::views::{InvitationPage, InvitationSettings, InviteOutcome};
use shared::{AppError, Role};

#[cfg(feature = "ssr")]
use crate::server::{auth, context, invitations};

/// Roles travel as a comma-separated list of their stored names ("admin,hr").
pub fn roles_param(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

#[cfg(feature = "ssr")]
fn parse_roles(raw: &str) -> Result<Vec<Role>, AppError> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Role::parse(s).ok_or_else(|| AppError::Validation(format!("Unknown role “{s}”."))))
        .collect()
}

#[server(endpoint = "invite_people")]
pub async fn invite_people(addresses: String, roles: String, message: String, send_despite_typos: bool) -> Result<InviteOutcome, AppError> {
    context::respond(async {
        let (state, actor) = context::signed_in().await?;
        let request = invitations::service::InviteRequest {
            addresses,
            roles: parse_roles(&roles)?,
            message: Some(message),
            send_despite_typos,
        };
        invitations::service::invite(&state, &actor, request).await
    }
    .await)
}

/// Resend, remind, send new, cancel. Returns the confirmation banner.
#[server(endpoint = "act_on_invitation")]
pub async fn act_on_invitation(user_id: String, action: String) -> Result<String, AppError> {
    context::respond(async {
        let (state, actor) = context::signed_in().await?;
        let action = shared::invitations::InvitationAction::parse(&action).ok_or_else(|| AppError::Validation("Unknown action.".into()))?;
        invitations::service::act(&state, &actor, &user_id, action).await
    }
    .await)
}

#[server(endpoint = "get_invitation_link")]
pub async fn get_invitation_link(user_id: String) -> Result<String, AppError> {
    context::respond(async {
        let (state, actor) = context::signed_in().await?;
        invitations::service::copy_link(&state, &actor, &user_id).await
    }
    .await)
}

#[server(endpoint = "remove_invitation_roles")]
pub async fn remove_invitation_roles(user_id: String, roles: String) -> Result<String, AppError> {
    context::respond(async {
        let (state, actor) = context::signed_in().await?;
        invitations::service::remove_roles(&state, &actor, &user_id, parse_roles(&roles)?).await
    }
    .await)
}

#[server(endpoint = "get_invitation_settings")]
pub async fn get_invitation_settings() -> Result<InvitationSettings, AppError> {
    context::respond(async {
        let (state, actor) = context::signed_in().await?;
        invitations::settings::get(&state, &actor).await
    }
    .await)
}

#[server(endpoint = "save_invitation_settings")]
pub async fn save_invitation_settings(expiry_days: String, resend_rotates_link: Option<String>) -> Result<(), AppError> {
    context::respond(async {
        let (state, actor) = context::signed_in().await?;
        let expiry_days = expiry_days.trim().parse().map_err(|_| AppError::Validation(shared::messages::EXPIRY_NOT_A_NUMBER.into()))?;
        let settings = InvitationSettings { expiry_days, resend_rotates_link: resend_rotates_link.is_some() };
        invitations::settings::update(&state, &actor, settings).await
    }
    .await)
}

/// What an invitation link shows. Never changes anything.
#[server(endpoint = "get_invitation")]
pub async fn get_invitation(link: String) -> Result<InvitationPage, AppError> {
    context::respond(async {
        let state = context::state()?;
        let viewer = auth::actor(&state, &context::session().await?).await?;
        invitations::accept::open(&state, &link, viewer.as_ref(), context::client_ip()).await
    }
    .await)
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
    context::respond(async {
        let state = context::state()?;
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
        let input = invitations::accept::AcceptInput {
            name: name.unwrap_or_default(),
            password,
            password_confirmation: password_confirmation.unwrap_or_default(),
        };
        let credentials = invitations::accept::accept(&state, &link, input, viewer.as_ref(), context::client_ip()).await?;
        auth::begin_session(&state, &session, &credentials).await?;
        leptos_axum::redirect("/");
        Ok(())
    }
    .await)
}

#[server(endpoint = "request_new_invitation")]
pub async fn request_new_invitation(link: String) -> Result<String, AppError> {
    context::respond(async {
        let state = context::state()?;
        invitations::accept::request_new(&state, &link, context::client_ip()).await
    }
    .await)
}
