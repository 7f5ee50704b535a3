//! Outgoing email: sender settings, the test email, the delivery log.

use leptos::prelude::*;
#[cfg(feature = "ssr")]
use shared::mail::DeliveryQuery;
use shared::mail::{DeliveryLog, DeliveryRow, DkimSettings, SenderSettings};
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{context, mail};

#[server(endpoint = "get_sender_settings")]
pub async fn get_sender_settings() -> Result<SenderSettings, AppError> {
    context::as_signed_in_read("get_sender_settings", String::new(), |state, actor| async move { mail::log::sender_settings(&state, &actor).await }).await
}

#[server(endpoint = "save_sender_settings")]
pub async fn save_sender_settings(sender_name: String, sender_address: String, reply_to: String) -> Result<(), AppError> {
    context::as_signed_in(|state, actor| async move { mail::log::save_sender_settings(&state, &actor, &sender_name, &sender_address, &reply_to).await }).await
}

/// Queues a test email; returns its id so the page can follow its delivery.
#[server(endpoint = "send_test_email")]
pub async fn send_test_email(to: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { mail::log::send_test(&state, &actor, &to).await }).await
}

#[server(endpoint = "get_delivery")]
pub async fn get_delivery(id: String) -> Result<DeliveryRow, AppError> {
    context::as_signed_in_read("get_delivery", id.clone(), |state, actor| async move { mail::log::message(&state, &actor, &id).await }).await
}

#[server(endpoint = "list_deliveries")]
pub async fn list_deliveries(query: String) -> Result<DeliveryLog, AppError> {
    context::as_signed_in_read("list_deliveries", query.clone(), |state, actor| async move {
        mail::log::recent(&state, &actor, &DeliveryQuery::from_query_string(&query)).await
    })
    .await
}

#[server(endpoint = "retry_delivery")]
pub async fn retry_delivery(id: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { mail::log::retry(&state, &actor, &id).await }).await
}

/// Settings → Outgoing email → DKIM (the key is made here if none exists yet, so its record
/// can be published before the first message).
#[server(endpoint = "get_dkim_settings")]
pub async fn get_dkim_settings() -> Result<DkimSettings, AppError> {
    context::as_signed_in_read("get_dkim_settings", String::new(), |state, actor| async move { mail::dkim::settings(&state, &actor).await }).await
}

#[server(endpoint = "rotate_dkim_key")]
pub async fn rotate_dkim_key() -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { mail::dkim::rotate(&state, &actor).await }).await
}

#[server(endpoint = "remove_dkim_key")]
pub async fn remove_dkim_key(selector: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { mail::dkim::remove(&state, &actor, &selector).await }).await
}
