//! The runner's webhook lane: claims due deliveries under a lease (as mail is claimed), signs
//! and sends them several at once, records each answer, retries failures on the Standard
//! Webhooks schedule, and disables an endpoint that has failed for days, telling the
//! account's administrators. At least once: a runner that dies after sending and before
//! recording leaves the delivery to be sent again, with the same `webhook-id`.

use super::client::{self, Answer, NotSent, Reach};
use crate::services::audit::{self, AuditEvent};
use crate::services::error::Step;
use crate::services::mail::outbox::{NewMessage, Priority};
use crate::services::store::webhooks::{self as store, Attempt, ClaimedDelivery};
use crate::services::AppState;
use base64::Engine as _;
use futures::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use shared::audit::AuditAction;
use shared::mail::MessageKind;
use shared::webhooks::{retry_wait_secs, EndpointUrl, WebhookDeliveryState, DISABLE_AFTER_DAYS, SECRET_PREFIX};
use shared::{AppError, Email};
use std::time::Duration;

/// How the lane works.
#[derive(Clone, Debug)]
pub struct LaneConfig {
    /// Deliveries claimed at once.
    pub batch: i64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How long a claim is reserved: longer than a batch can take (each delivery at most the
    /// receiver's deadline, `concurrency` at a time).
    pub lease: Duration,
    /// The lease holder (see `mail::worker::WorkerId`).
    pub worker: String,
}

impl LaneConfig {
    pub fn new(worker: String) -> LaneConfig {
        LaneConfig { batch: 64, concurrency: 16, lease: Duration::from_secs(120), worker }
    }
}

/// The `webhook-signature` value for a message: `v1,<base64 HMAC-SHA256>` with each key,
/// separated by spaces. `None` for a key that is not a webhook secret.
pub fn signature(secrets: &[&str], message_id: &str, timestamp_secs: i64, body: &str) -> Option<String> {
    let mut parts = Vec::new();
    for secret in secrets {
        let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
        mac.update(format!("{message_id}.{timestamp_secs}.{body}").as_bytes());
        parts.push(format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())));
    }
    Some(parts.join(" "))
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    format!("{SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// Sends one claimed delivery; how its attempt ended.
async fn send(reach: &Reach, delivery: &ClaimedDelivery, now_ms: i64) -> Result<Answer, NotSent> {
    let url = EndpointUrl::parse(&delivery.url).map_err(|error| NotSent(error.to_string()))?;
    let mut secrets = vec![delivery.secret.as_str()];
    if let (Some(previous), Some(until)) = (&delivery.previous_secret, delivery.previous_secret_until) {
        if until > now_ms {
            secrets.push(previous);
        }
    }
    let timestamp = now_ms.div_euclid(1000);
    let signed = signature(&secrets, &delivery.event_id, timestamp, &delivery.payload).ok_or_else(|| NotSent("The endpoint's secret is damaged.".into()))?;
    let headers = [("webhook-id", delivery.event_id.clone()), ("webhook-timestamp", timestamp.to_string()), ("webhook-signature", signed)];
    client::post(reach, &url, &headers, delivery.payload.clone()).await
}

/// How an attempt is recorded: delivered, due again after the schedule's wait, or failed.
fn outcome(delivery: &ClaimedDelivery, result: &Result<Answer, NotSent>, at: i64) -> (WebhookDeliveryState, Option<i64>) {
    match result {
        Ok(answer) if (200..300).contains(&answer.status) => (WebhookDeliveryState::Delivered, None),
        _ => match retry_wait_secs(delivery.attempts) {
            Some(wait) => (WebhookDeliveryState::Pending, Some(at + jitter(wait * 1000))),
            None => (WebhookDeliveryState::Failed, None),
        },
    }
}

/// Up to a tenth more, so the deliveries of a receiver that was down do not all come back
/// at the same instant.
fn jitter(wait_ms: i64) -> i64 {
    wait_ms + rand::Rng::gen_range(&mut rand::thread_rng(), 0..=wait_ms / 10)
}

/// Sends what is due until nothing is; returns how many attempts were made.
pub async fn run_due(state: &AppState, config: &LaneConfig) -> Result<usize, AppError> {
    let mut attempted = 0;
    loop {
        let now = state.clock.now_ms();
        let lease_until = now + config.lease.as_millis() as i64;
        let claimed = store::claim(&state.db, &config.worker, now, lease_until, config.batch).await.step("webhooks::claim")?;
        if claimed.is_empty() {
            return Ok(attempted);
        }
        let full = claimed.len() as i64 == config.batch;
        let reach = state.webhooks.clone();
        // An endpoint that could not be reached in this batch is not tried again in it: a
        // receiver that is down costs one deadline, not one per event waiting for it, and
        // the other endpoints' deliveries go on.
        let unreachable: std::sync::Mutex<std::collections::HashSet<String>> = Default::default();
        let unreachable = &unreachable;
        let results: Vec<(ClaimedDelivery, Sent, i64)> = futures::stream::iter(claimed)
            .map(|delivery| {
                let reach = reach.clone();
                async move {
                    let started = state.clock.now_ms();
                    if unreachable.lock().unwrap_or_else(|e| e.into_inner()).contains(&delivery.endpoint_id) {
                        return (delivery, Sent::NotTried, started);
                    }
                    let result = send(&reach, &delivery, started).await;
                    if result.is_err() {
                        unreachable.lock().unwrap_or_else(|e| e.into_inner()).insert(delivery.endpoint_id.clone());
                    }
                    (delivery, Sent::Tried(result), state.clock.now_ms())
                }
            })
            .buffer_unordered(config.concurrency)
            .collect()
            .await;
        attempted += results.iter().filter(|(_, sent, _)| matches!(sent, Sent::Tried(_))).count();
        settle(state, config, &results).await?;
        if !full {
            return Ok(attempted);
        }
    }
}

/// What became of a claimed delivery.
enum Sent {
    Tried(Result<Answer, NotSent>),
    /// Its endpoint could not be reached a moment before: put back, its attempt not counted.
    NotTried,
}

/// How long a delivery not tried waits (its endpoint was unreachable in the same batch).
const NOT_TRIED_WAIT_MS: i64 = 30_000;

/// Records a batch's attempts in one transaction, and disables the endpoints failing too long.
async fn settle(state: &AppState, config: &LaneConfig, results: &[(ClaimedDelivery, Sent, i64)]) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let mut failed: Vec<&str> = Vec::new();
    for (delivery, sent, at) in results {
        let result = match sent {
            Sent::Tried(result) => result,
            Sent::NotTried => {
                store::put_back(&mut tx, &config.worker, &delivery.id, at + NOT_TRIED_WAIT_MS).await.step("webhooks::put_back")?;
                continue;
            }
        };
        let (state_after, next_attempt_at) = outcome(delivery, result, *at);
        if state_after != WebhookDeliveryState::Delivered {
            failed.push(&delivery.endpoint_id);
        }
        let (status, error, excerpt) = match result {
            Ok(answer) if (200..300).contains(&answer.status) => (Some(answer.status), None, Some(answer.excerpt.as_str())),
            Ok(answer) => (Some(answer.status), Some(format!("The receiver answered {}.", answer.status)), Some(answer.excerpt.as_str())),
            Err(NotSent(why)) => (None, Some(why.clone()), None),
        };
        let attempt = Attempt {
            id: &delivery.id,
            endpoint_id: &delivery.endpoint_id,
            state: state_after,
            status,
            error: error.as_deref(),
            excerpt,
            next_attempt_at,
            at: *at,
        };
        store::settle(&mut tx, &config.worker, &attempt).await.step("webhooks::settle")?;
    }
    let cutoff = now - DISABLE_AFTER_DAYS * 86_400_000;
    let reason = format!("Every delivery failed for {DISABLE_AFTER_DAYS} days.");
    failed.sort_unstable();
    failed.dedup();
    let disabled = store::disable_failing(&mut tx, &failed, cutoff, &reason, now).await.step("webhooks::disable_failing")?;
    for (endpoint_id, account_id, url) in &disabled {
        let details = serde_json::json!({ "url": url, "reason": reason });
        let event =
            AuditEvent { account_id, actor_user_id: None, action: AuditAction::WebhookDisabled, target_type: "webhook", target_id: endpoint_id, details };
        audit::record(&mut tx, event, now).await.step("audit::record")?;
        tell_administrators(&mut tx, state, account_id, url, now).await?;
        tracing::warn!(endpoint = %endpoint_id, %url, "a webhook endpoint failed for {DISABLE_AFTER_DAYS} days and is disabled");
    }
    tx.commit().await.step("commit")?;
    if !disabled.is_empty() {
        // The administrators' emails.
        state.work_signal.wake();
    }
    Ok(())
}

/// Tells the account's Owners and Admins that an endpoint was disabled.
async fn tell_administrators(tx: &mut crate::services::store::Conn, state: &AppState, account_id: &str, url: &str, now: i64) -> Result<(), AppError> {
    let Some(account) = crate::services::store::accounts::get(tx, account_id).await.step("accounts::get")? else { return Ok(()) };
    let page = format!("{}/settings/webhooks", state.public_url);
    let rendered = crate::services::mail::templates::webhook_disabled(&account.name, url, DISABLE_AFTER_DAYS, &page);
    for address in store::administrators(tx, account_id).await.step("webhooks::administrators")? {
        let Ok(to) = Email::parse(&address) else { continue };
        let message = NewMessage {
            account_id,
            kind: MessageKind::WebhookDisabled,
            recipient: &to,
            invitation_id: None,
            password_reset_id: None,
            sent_by: None,
            priority: Priority::Waited,
            rendered: rendered.clone(),
        };
        crate::services::mail::outbox::enqueue(tx, message, now).await.step("outbox::enqueue")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification.
        let signed = signature(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signed.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        let both = signature(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "m", 1, "b").unwrap();
        assert_eq!(both.split(' ').count(), 2);
        assert_eq!(signature(&["not a secret"], "m", 1, "b"), None);
    }
}
