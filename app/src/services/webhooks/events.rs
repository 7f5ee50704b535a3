//! Writing events. Each is written in the transaction of the change it tells of, beside its
//! audit line (`store::audit::record_many` calls [`for_audit`]), with one delivery per
//! endpoint that hears it; invitations that expire are announced by [`sweep_expired`], once
//! each. The body is fixed when the event is written: every attempt sends the same bytes.

use crate::services::error::Step;
use crate::services::store::audit::AuditEvent;
use crate::services::store::webhooks::{self as store, InvitationFacts, NewEvent};
use crate::services::store::{custom_roles, Conn};
use crate::services::AppState;
use shared::webhooks::{events_from_stored, WebhookEvent};
use shared::{AppError, RoleKey};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use tokio::sync::watch;

/// Events written by this process so far. A write transaction notes it when it begins and,
/// once committed, wakes the delivery lanes if it moved: the transaction that wrote an event
/// always does, so a delivery never waits for the next poll (another transaction's commit may
/// wake them for nothing, which costs one look).
static WRITTEN: AtomicU64 = AtomicU64::new(0);

static COMMITTED: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// The count a transaction beginning now compares with at its commit.
pub fn written() -> u64 {
    WRITTEN.load(Ordering::Acquire)
}

/// A transaction that began when [`written`] said `seen` committed.
pub fn committed(seen: u64) {
    if written() != seen {
        COMMITTED.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Changes whenever a transaction that may have written events commits.
pub fn commits() -> watch::Receiver<u64> {
    COMMITTED.subscribe()
}

/// `ms` as RFC 3339 with milliseconds, in UTC.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
}

/// An account's enabled endpoints and what each hears, read once per change.
struct Listeners(Vec<(String, Vec<WebhookEvent>)>);

impl Listeners {
    async fn load(conn: &mut Conn, account_id: &str) -> sqlx::Result<Listeners> {
        let rows = store::listeners(conn, account_id).await?;
        Ok(Listeners(rows.into_iter().map(|(id, events)| (id, events_from_stored(&events))).collect()))
    }

    fn hearing(&self, event: WebhookEvent) -> Vec<&str> {
        self.0.iter().filter(|(_, events)| events.contains(&event)).map(|(id, _)| id.as_str()).collect()
    }

    fn hear_any(&self, events: impl IntoIterator<Item = WebhookEvent>) -> bool {
        events.into_iter().any(|e| !self.hearing(e).is_empty())
    }
}

/// Writes `event`, which happened at `happened_ms`, with `data` for `endpoints`, at `at_ms`;
/// `false` if nobody hears it or its `once_key` was used already.
#[allow(clippy::too_many_arguments)]
async fn write(
    conn: &mut Conn,
    account_id: &str,
    event: WebhookEvent,
    data: serde_json::Value,
    subject_user_id: Option<&str>,
    once_key: Option<&str>,
    endpoints: &[&str],
    (at_ms, happened_ms): (i64, i64),
) -> sqlx::Result<bool> {
    if endpoints.is_empty() {
        return Ok(false);
    }
    let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    let payload = serde_json::json!({ "type": event.as_str(), "timestamp": rfc3339(happened_ms), "data": data }).to_string();
    let new = NewEvent { id: &id, account_id, event_type: event.as_str(), payload: &payload, subject_user_id, once_key };
    if !store::insert_event(conn, &new, at_ms).await? {
        return Ok(false);
    }
    store::insert_deliveries(conn, &id, endpoints, at_ms).await?;
    WRITTEN.fetch_add(1, Ordering::AcqRel);
    Ok(true)
}

/// What an event says of invitations: each one's facts and offered roles, by id.
async fn invitation_data(conn: &mut Conn, account_id: &str, ids: &[&str]) -> sqlx::Result<HashMap<String, (InvitationFacts, serde_json::Value)>> {
    let facts = store::invitations(conn, ids).await?;
    let roles = store::invitation_roles(conn, ids).await?;
    let custom: HashMap<String, String> = if roles.iter().any(|r| matches!(RoleKey::parse_stored(&r.3), Some(RoleKey::Custom(_)))) {
        custom_roles::list(conn, account_id).await?.into_iter().map(|r| (r.id, r.name)).collect()
    } else {
        HashMap::new()
    };
    let mut offered: HashMap<&str, Vec<serde_json::Value>> = HashMap::new();
    for (invitation, place_id, place, role) in &roles {
        let name = match RoleKey::parse_stored(role) {
            Some(RoleKey::Builtin(r)) => r.label().to_string(),
            Some(RoleKey::Custom(id)) => custom.get(&id).cloned().unwrap_or_else(|| "Removed role".into()),
            None => role.clone(),
        };
        offered.entry(invitation).or_default().push(serde_json::json!({ "place_id": place_id, "place": place, "role": role, "role_name": name }));
    }
    Ok(facts
        .into_iter()
        .filter(|f| f.account_id == account_id)
        .map(|f| {
            let json = serde_json::json!({
                "id": f.id,
                "user_id": f.user_id,
                "email": f.email,
                "name": f.name,
                "state": f.state,
                "created_at": rfc3339(f.created_at),
                "expires_at": rfc3339(f.expires_at),
                "accepted_at": f.accepted_at.map(rfc3339),
                "cancelled_at": f.cancelled_at.map(rfc3339),
                "roles": offered.remove(f.id.as_str()).unwrap_or_default(),
            });
            (f.id.clone(), (f, json))
        })
        .collect())
}

/// The events the audit lines `events` stand for, written beside them.
pub async fn for_audit(conn: &mut Conn, events: &[AuditEvent<'_>], at_ms: i64) -> sqlx::Result<()> {
    let mapped: Vec<(WebhookEvent, &AuditEvent)> = events.iter().filter_map(|e| WebhookEvent::of_audit(e.action, e.target_type).map(|w| (w, e))).collect();
    let Some((_, first)) = mapped.first() else { return Ok(()) };
    // A change is made in one account; a batch of lines never mixes them.
    let account_id = first.account_id;
    let listeners = Listeners::load(conn, account_id).await?;
    if !listeners.hear_any(mapped.iter().map(|(w, _)| *w)) {
        return Ok(());
    }
    let invitations: Vec<&str> =
        mapped.iter().filter(|(w, e)| e.target_type == "invitation" && !listeners.hearing(*w).is_empty()).map(|(_, e)| e.target_id).collect();
    let known = invitation_data(conn, account_id, &invitations).await?;
    for (event, line) in &mapped {
        let endpoints = listeners.hearing(*event);
        if endpoints.is_empty() || line.account_id != account_id {
            continue;
        }
        let by = line.actor_user_id;
        let (data, subject) = match event {
            WebhookEvent::UserDeactivated => {
                let Some((id, email, name)) = store::person(conn, line.target_id).await? else { continue };
                (serde_json::json!({ "user": { "id": id, "email": email, "name": name }, "by_user_id": by }), Some(line.target_id.to_string()))
            }
            _ => {
                let Some((facts, invitation)) = known.get(line.target_id) else { continue };
                let mut data = serde_json::json!({ "invitation": invitation, "by_user_id": by });
                match event {
                    WebhookEvent::InvitationBounced => {
                        data["bounce"] = serde_json::json!({ "kind": line.details.get("bounce"), "reply": line.details.get("reply") });
                    }
                    WebhookEvent::InvitationCancelled => {
                        data["reason"] = line.details.get("reason").cloned().unwrap_or(serde_json::Value::Null);
                    }
                    _ => {}
                }
                (data, Some(facts.user_id.clone()))
            }
        };
        write(conn, account_id, *event, data, subject.as_deref(), None, &endpoints, (at_ms, at_ms)).await?;
    }
    Ok(())
}

/// `invitation.created` for invitations written without an audit line of their own each
/// (an import writes its lines in one statement).
pub async fn invitations_created(conn: &mut Conn, account_id: &str, by_user_id: &str, ids: &[&str], at_ms: i64) -> sqlx::Result<()> {
    let listeners = Listeners::load(conn, account_id).await?;
    let endpoints = listeners.hearing(WebhookEvent::InvitationCreated);
    if endpoints.is_empty() {
        return Ok(());
    }
    for chunk in ids.chunks(200) {
        let known = invitation_data(conn, account_id, chunk).await?;
        for id in chunk {
            let Some((facts, invitation)) = known.get(*id) else { continue };
            let data = serde_json::json!({ "invitation": invitation, "by_user_id": by_user_id });
            write(conn, account_id, WebhookEvent::InvitationCreated, data, Some(&facts.user_id), None, &endpoints, (at_ms, at_ms)).await?;
        }
    }
    Ok(())
}

/// The test event "Send test event" sends to one endpoint.
pub async fn test_event(conn: &mut Conn, account_id: &str, endpoint_id: &str, by_user_id: &str, at_ms: i64) -> sqlx::Result<bool> {
    let data = serde_json::json!({ "message": "A test event from Beckon's Settings → Webhooks.", "by_user_id": by_user_id });
    write(conn, account_id, WebhookEvent::Test, data, None, None, &[endpoint_id], (at_ms, at_ms)).await
}

/// Expired invitations a sweep announces per transaction.
const SWEEP_BATCH: i64 = 500;

/// Announces, once each, the invitations of every listening account whose link expired
/// since the last sweep (none from before webhooks existed: an account's first sweep starts
/// at that moment). An invitation extended after it expired and expiring again is announced
/// again: its `once_key` names the expiry. Returns how many it announced.
pub async fn sweep_expired(state: &AppState) -> Result<u64, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let accounts = store::accounts_listening(&mut conn).await.step("webhooks::accounts_listening")?;
    drop(conn);
    let mut announced = 0;
    let now = state.clock.now_ms();
    for account_id in accounts {
        loop {
            let mut tx = state.db.write_tx().await.step("begin write transaction")?;
            // PostgreSQL: two runners sweeping at once may both look; the once key lets only
            // one announcement of each expiry in.
            let swept = store::swept_until(&mut tx, &account_id).await.step("webhooks::swept_until")?;
            let listeners = Listeners::load(&mut tx, &account_id).await.step("webhooks::listeners")?;
            let endpoints = listeners.hearing(WebhookEvent::InvitationExpired);
            let (Some(after), false) = (swept, endpoints.is_empty()) else {
                store::set_swept_until(&mut tx, &account_id, now).await.step("webhooks::set_swept_until")?;
                tx.commit().await.step("commit")?;
                break;
            };
            let expired = store::expired_unannounced(&mut tx, &account_id, after, now, SWEEP_BATCH).await.step("webhooks::expired_unannounced")?;
            let ids: Vec<&str> = expired.iter().map(|(id, _)| id.as_str()).collect();
            let known = invitation_data(&mut tx, &account_id, &ids).await.step("webhooks::invitation_data")?;
            for (id, expired_at) in &expired {
                let Some((facts, invitation)) = known.get(id) else { continue };
                let mut invitation = invitation.clone();
                invitation["state"] = "expired".into();
                let data = serde_json::json!({ "invitation": invitation });
                let once = format!("expired:{id}:{expired_at}");
                // Written now (kept and pruned from now); it says when the link expired.
                if write(&mut tx, &account_id, WebhookEvent::InvitationExpired, data, Some(&facts.user_id), Some(&once), &endpoints, (now, *expired_at))
                    .await
                    .step("webhooks::write")?
                {
                    announced += 1;
                }
            }
            let more = expired.len() as i64 == SWEEP_BATCH;
            if !more {
                store::set_swept_until(&mut tx, &account_id, now).await.step("webhooks::set_swept_until")?;
            }
            tx.commit().await.step("commit")?;
            if !more {
                break;
            }
        }
    }
    Ok(announced)
}
