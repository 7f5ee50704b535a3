//! Webhooks: Settings → Webhooks registers endpoints (Owners and Admins only, never through
//! an API token: an endpoint receives the addresses of everyone invited), the events are
//! written with the changes they tell of (`events`), and the runner delivers them
//! (`delivery`) through a sender that only reaches public addresses (`client`).

pub mod client;
pub mod delivery;
pub mod events;

use super::audit::{self, AuditEvent};
use super::error::Step;
use super::store::webhooks::{self as store, ListedEndpoint, NewEndpoint};
use super::store::{new_id, Conn};
use super::{Actor, AppState};
use shared::audit::AuditAction;
use shared::permissions::{Denied, Permission};
use shared::webhooks::{
    events_from_stored, events_to_stored, validate_endpoint, EndpointUrl, WebhookDeliveries, WebhookDeliveryState, WebhookDeliveryView, WebhookEndpointView,
    WebhookEndpoints, WebhookEvent, WebhookSecret, DELIVERIES_LISTED, MAX_ENDPOINTS, ROTATION_GRACE_HOURS,
};
use shared::AppError;

pub use client::Reach;

/// Owners and Admins, in the browser.
fn require_manager(actor: &Actor) -> Result<(), AppError> {
    if actor.api_token.is_some() {
        return Err(AppError::Forbidden(Denied::NotPermitted));
    }
    actor.require(Permission::ManageSettings)
}

fn view(listed: ListedEndpoint) -> WebhookEndpointView {
    let e = listed.endpoint;
    WebhookEndpointView {
        events: events_from_stored(&e.events),
        id: e.id,
        url: e.url,
        description: e.description,
        enabled: e.enabled != 0,
        disabled_reason: e.disabled_reason,
        failing_since_ms: e.failing_since,
        previous_secret_until_ms: e.previous_secret_until,
        created_at_ms: e.created_at,
        pending: listed.pending,
        failed: listed.failed,
    }
}

async fn record(tx: &mut Conn, actor: &Actor, action: AuditAction, id: &str, details: serde_json::Value, now: i64) -> Result<(), AppError> {
    let event = AuditEvent { account_id: &actor.account_id, actor_user_id: Some(&actor.user_id), action, target_type: "webhook", target_id: id, details };
    audit::record(tx, event, now).await.step("audit::record")
}

async fn endpoint(conn: &mut Conn, actor: &Actor, id: &str) -> Result<ListedEndpoint, AppError> {
    store::get_endpoint(conn, &actor.account_id, id).await.step("webhooks::get_endpoint")?.ok_or(AppError::NotFound)
}

/// Checks that an address may be sent to now, so a mistyped or internal one is said at once
/// (it is checked again at every delivery, where it counts).
async fn check_reachable(state: &AppState, url: &str) -> Result<(), AppError> {
    let parsed = EndpointUrl::parse(url)?;
    client::addresses(&state.webhooks, &parsed).await.map(|_| ()).map_err(|refused| AppError::Validation(refused.0))
}

pub async fn list(state: &AppState, actor: &Actor) -> Result<WebhookEndpoints, AppError> {
    require_manager(actor)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let endpoints = store::list_endpoints(&mut conn, &actor.account_id).await.step("webhooks::list_endpoints")?;
    Ok(WebhookEndpoints { endpoints: endpoints.into_iter().map(view).collect(), now_ms: state.clock.now_ms() })
}

/// Registers an endpoint; its secret is in the answer.
pub async fn create(state: &AppState, actor: &Actor, url: &str, description: &str, chosen: &[WebhookEvent]) -> Result<WebhookSecret, AppError> {
    require_manager(actor)?;
    let (url, description) = validate_endpoint(url, description, chosen)?;
    check_reachable(state, &url).await?;
    let now = state.clock.now_ms();
    let id = new_id();
    let secret = delivery::new_secret();
    let stored = events_to_stored(chosen);
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    if store::count_endpoints(&mut tx, &actor.account_id).await.step("webhooks::count_endpoints")? >= MAX_ENDPOINTS as i64 {
        return Err(AppError::Validation(format!("An account has at most {MAX_ENDPOINTS} webhook endpoints. Remove one first.")));
    }
    let new = NewEndpoint {
        id: &id,
        account_id: &actor.account_id,
        url: &url,
        description: &description,
        events: &stored,
        secret: &secret,
        created_by: &actor.user_id,
    };
    store::insert_endpoint(&mut tx, &new, now).await.step("webhooks::insert_endpoint")?;
    record(&mut tx, actor, AuditAction::WebhookCreated, &id, serde_json::json!({ "url": url, "events": stored }), now).await?;
    let endpoint = endpoint(&mut tx, actor, &id).await?;
    tx.commit().await.step("commit")?;
    Ok(WebhookSecret { endpoint: view(endpoint), secret })
}

/// Changes an endpoint's address, description, events, or whether it is enabled.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: &str,
    url: &str,
    description: &str,
    chosen: &[WebhookEvent],
    enabled: bool,
) -> Result<String, AppError> {
    require_manager(actor)?;
    let (url, description) = validate_endpoint(url, description, chosen)?;
    let now = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let before = endpoint(&mut conn, actor, id).await?.endpoint;
    drop(conn);
    if before.url != url {
        check_reachable(state, &url).await?;
    }
    let stored = events_to_stored(chosen);
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    endpoint(&mut tx, actor, id).await?;
    store::update_endpoint(&mut tx, id, &url, &description, &stored, enabled, now).await.step("webhooks::update_endpoint")?;
    let details = serde_json::json!({ "url": url, "events": stored, "enabled": enabled, "was": { "url": before.url, "events": before.events, "enabled": before.enabled != 0 } });
    record(&mut tx, actor, AuditAction::WebhookChanged, id, details, now).await?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    Ok(match (before.enabled != 0, enabled) {
        (false, true) => format!("{url} is enabled again: waiting deliveries go out now."),
        (true, false) => format!("{url} is disabled: nothing is sent to it until it is enabled again."),
        _ => format!("{url} is saved."),
    })
}

pub async fn delete(state: &AppState, actor: &Actor, id: &str) -> Result<String, AppError> {
    require_manager(actor)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    store::lock_endpoint(&mut tx, id).await.step("webhooks::lock_endpoint")?;
    let gone = endpoint(&mut tx, actor, id).await?.endpoint;
    store::delete_endpoint(&mut tx, id).await.step("webhooks::delete_endpoint")?;
    record(&mut tx, actor, AuditAction::WebhookDeleted, id, serde_json::json!({ "url": gone.url }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("{} is removed, with its deliveries.", gone.url))
}

/// A new secret signs from now on; the previous one signs beside it for the grace period.
pub async fn rotate_secret(state: &AppState, actor: &Actor, id: &str) -> Result<WebhookSecret, AppError> {
    require_manager(actor)?;
    let now = state.clock.now_ms();
    let secret = delivery::new_secret();
    let until = now + ROTATION_GRACE_HOURS * 3_600_000;
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    endpoint(&mut tx, actor, id).await?;
    store::rotate_secret(&mut tx, id, &secret, until, now).await.step("webhooks::rotate_secret")?;
    record(&mut tx, actor, AuditAction::WebhookSecretRotated, id, serde_json::json!({ "previous_signs_until": events::rfc3339(until) }), now).await?;
    let endpoint = endpoint(&mut tx, actor, id).await?;
    tx.commit().await.step("commit")?;
    Ok(WebhookSecret { endpoint: view(endpoint), secret })
}

/// Sends a `webhook.test` event to one endpoint.
pub async fn send_test(state: &AppState, actor: &Actor, id: &str) -> Result<String, AppError> {
    require_manager(actor)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = endpoint(&mut tx, actor, id).await?.endpoint;
    if target.enabled == 0 {
        return Err(AppError::InvalidState(format!("{} is disabled: enable it to send it a test event.", target.url)));
    }
    events::test_event(&mut tx, &actor.account_id, id, &actor.user_id, now).await.step("webhooks::test_event")?;
    record(&mut tx, actor, AuditAction::WebhookTestSent, id, serde_json::json!({ "url": target.url }), now).await?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    Ok(format!("A test event is on its way to {}; its delivery is listed below.", target.url))
}

/// An endpoint with its newest deliveries.
pub async fn deliveries(state: &AppState, actor: &Actor, id: &str) -> Result<WebhookDeliveries, AppError> {
    require_manager(actor)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let listed = endpoint(&mut conn, actor, id).await?;
    let rows = store::deliveries(&mut conn, id, DELIVERIES_LISTED).await.step("webhooks::deliveries")?;
    let deliveries = rows
        .into_iter()
        .map(|d| {
            let state = WebhookDeliveryState::parse(&d.state).unwrap_or(WebhookDeliveryState::Failed);
            WebhookDeliveryView {
                event: WebhookEvent::parse(&d.event_type).unwrap_or(WebhookEvent::Test),
                next_attempt_at_ms: (state == WebhookDeliveryState::Pending).then_some(d.next_attempt_at),
                id: d.id,
                event_id: d.event_id,
                state,
                attempts: d.attempts,
                last_status: d.last_status.and_then(|s| u16::try_from(s).ok()),
                last_error: d.last_error,
                response_excerpt: d.response_excerpt,
                created_at_ms: d.created_at,
                last_attempt_at_ms: d.last_attempt_at,
            }
        })
        .collect();
    Ok(WebhookDeliveries { endpoint: view(listed), deliveries, now_ms: state.clock.now_ms() })
}

/// Forgets deliveries that ended more than [`KEPT_DAYS`] ago, and the events left with none.
pub async fn prune(state: &AppState) -> Result<u64, AppError> {
    let before = state.clock.now_ms() - KEPT_DAYS * 86_400_000;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    store::prune(&mut conn, before).await.step("webhooks::prune")
}

/// How long an ended delivery stays listed.
pub const KEPT_DAYS: i64 = 30;

/// Tries a failed delivery once more, now.
pub async fn retry(state: &AppState, actor: &Actor, delivery_id: &str) -> Result<String, AppError> {
    require_manager(actor)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let (endpoint_id, _, event_type) =
        store::delivery_owner(&mut tx, &actor.account_id, delivery_id).await.step("webhooks::delivery_owner")?.ok_or(AppError::NotFound)?;
    if endpoint(&mut tx, actor, &endpoint_id).await?.endpoint.enabled == 0 {
        return Err(AppError::InvalidState("The endpoint is disabled: enable it first, and its waiting deliveries go out with this one.".into()));
    }
    if !store::retry(&mut tx, delivery_id, now).await.step("webhooks::retry")? {
        return Err(AppError::InvalidState(
            "Only a failed delivery can be retried; this one was delivered, is still being tried, or was about a person since deleted.".into(),
        ));
    }
    let details = serde_json::json!({ "delivery": delivery_id, "event": event_type });
    record(&mut tx, actor, AuditAction::WebhookRetried, &endpoint_id, details, now).await?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    Ok(format!("The {event_type} delivery is being tried again."))
}
