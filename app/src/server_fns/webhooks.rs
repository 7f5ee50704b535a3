//! Settings → Webhooks: two reads, and two writes (save an endpoint; press one of its
//! buttons), so the page carries two forms' code instead of six.

// A form's fields are a server function's arguments: one per event checkbox.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use shared::webhooks::{WebhookDeliveries, WebhookDone, WebhookEndpoints};
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{context, webhooks};
#[cfg(feature = "ssr")]
use shared::webhooks::{WebhookAction, WebhookEvent};

#[server(endpoint = "list_webhooks")]
pub async fn list_webhooks() -> Result<WebhookEndpoints, AppError> {
    context::as_signed_in_read("list_webhooks", String::new(), |state, actor| async move { webhooks::list(&state, &actor).await }).await
}

#[server(endpoint = "list_webhook_deliveries")]
pub async fn list_webhook_deliveries(id: String) -> Result<WebhookDeliveries, AppError> {
    context::as_signed_in_read("list_webhook_deliveries", id.clone(), |state, actor| async move { webhooks::deliveries(&state, &actor, &id).await }).await
}

/// Adds an endpoint (`id` empty) or changes one. The events are checkboxes, one per event,
/// named as the event with `_` for `.`; `enabled` is a checkbox too (a new endpoint is).
#[server(endpoint = "save_webhook")]
pub async fn save_webhook(
    id: String,
    url: String,
    description: String,
    enabled: Option<String>,
    invitation_created: Option<String>,
    invitation_accepted: Option<String>,
    invitation_expired: Option<String>,
    invitation_cancelled: Option<String>,
    invitation_bounced: Option<String>,
    user_deactivated: Option<String>,
) -> Result<WebhookDone, AppError> {
    let ticked = [invitation_created, invitation_accepted, invitation_expired, invitation_cancelled, invitation_bounced, user_deactivated];
    let events: Vec<WebhookEvent> = WebhookEvent::SUBSCRIBABLE.into_iter().zip(ticked).filter(|(_, on)| on.is_some()).map(|(event, _)| event).collect();
    context::as_signed_in(|state, actor| async move {
        if id.is_empty() {
            let made = webhooks::create(&state, &actor, &url, &description, &events).await?;
            let message = format!("{} is added. Copy its signing secret now: it is not shown again.", made.endpoint.url);
            Ok(WebhookDone { message, secret: Some(made.secret), removed: false })
        } else {
            let message = webhooks::update(&state, &actor, &id, &url, &description, &events, enabled.is_some()).await?;
            Ok(WebhookDone { message, secret: None, removed: false })
        }
    })
    .await
}

/// One of an endpoint's buttons; `id` is the endpoint's, or the delivery's for a retry.
#[server(endpoint = "act_on_webhook")]
pub async fn act_on_webhook(id: String, action: String) -> Result<WebhookDone, AppError> {
    let action = WebhookAction::parse(&action).ok_or_else(|| AppError::Validation("Unknown webhook action.".into()))?;
    context::as_signed_in(|state, actor| async move {
        let said = |message: String| WebhookDone { message, secret: None, removed: false };
        match action {
            WebhookAction::SendTest => webhooks::send_test(&state, &actor, &id).await.map(said),
            WebhookAction::RetryDelivery => webhooks::retry(&state, &actor, &id).await.map(said),
            WebhookAction::Remove => webhooks::delete(&state, &actor, &id).await.map(|message| WebhookDone { message, secret: None, removed: true }),
            WebhookAction::RotateSecret => {
                let rotated = webhooks::rotate_secret(&state, &actor, &id).await?;
                let message = format!(
                    "A new secret signs from now on; the previous one signs beside it for {} hours. Copy it now: it is not shown again.",
                    shared::webhooks::ROTATION_GRACE_HOURS
                );
                Ok(WebhookDone { message, secret: Some(rotated.secret), removed: false })
            }
        }
    })
    .await
}
