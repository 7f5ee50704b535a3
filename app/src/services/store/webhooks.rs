//! Webhook endpoints, the events written for them and their deliveries.

use super::{placeholders, Conn};
use crate::services::db::{Db, Engine};
use shared::webhooks::WebhookDeliveryState;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EndpointRecord {
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub description: String,
    pub events: String,
    pub enabled: i64,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    pub previous_secret_until: Option<i64>,
    pub created_at: i64,
}

/// An endpoint with how many of its deliveries wait and how many failed for good.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ListedEndpoint {
    #[sqlx(flatten)]
    pub endpoint: EndpointRecord,
    pub pending: i64,
    pub failed: i64,
}

const ENDPOINT_COLUMNS: &str =
    "e.id, e.account_id, e.url, e.description, e.events, e.enabled, e.disabled_reason, e.failing_since, e.previous_secret_until, e.created_at";

pub struct NewEndpoint<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub url: &'a str,
    pub description: &'a str,
    pub events: &'a str,
    pub secret: &'a str,
    pub created_by: &'a str,
}

pub async fn insert_endpoint(conn: &mut Conn, endpoint: &NewEndpoint<'_>, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, account_id, url, description, events, secret, enabled, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $8)",
    )
    .bind(endpoint.id)
    .bind(endpoint.account_id)
    .bind(endpoint.url)
    .bind(endpoint.description)
    .bind(endpoint.events)
    .bind(endpoint.secret)
    .bind(endpoint.created_by)
    .bind(now_ms)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn count_endpoints(conn: &mut Conn, account_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE account_id = $1").bind(account_id).fetch_one(conn).await
}

pub async fn get_endpoint(conn: &mut Conn, account_id: &str, id: &str) -> sqlx::Result<Option<ListedEndpoint>> {
    sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS}, {COUNTS} FROM webhook_endpoints e WHERE e.id = $1 AND e.account_id = $2"))
        .bind(id)
        .bind(account_id)
        .fetch_optional(conn)
        .await
}

const COUNTS: &str = "(SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state IN ('pending', 'sending')) AS pending, \
     (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'failed') AS failed";

pub async fn list_endpoints(conn: &mut Conn, account_id: &str) -> sqlx::Result<Vec<ListedEndpoint>> {
    sqlx::query_as(&format!("SELECT {ENDPOINT_COLUMNS}, {COUNTS} FROM webhook_endpoints e WHERE e.account_id = $1 ORDER BY e.created_at, e.id"))
        .bind(account_id)
        .fetch_all(conn)
        .await
}

/// Changes what an endpoint is and hears; enabling it again forgets its failures.
pub async fn update_endpoint(conn: &mut Conn, id: &str, url: &str, description: &str, events: &str, enabled: bool, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $2, description = $3, events = $4, updated_at = $6, \
           disabled_reason = CASE WHEN $5 = 1 THEN NULL ELSE disabled_reason END, \
           failing_since = CASE WHEN $5 = 1 AND enabled = 0 THEN NULL ELSE failing_since END, \
           enabled = $5 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(url)
    .bind(description)
    .bind(events)
    .bind(i64::from(enabled))
    .bind(now_ms)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Removes an endpoint with its deliveries (the events stay for the other endpoints).
pub async fn delete_endpoint(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id).execute(&mut *conn).await?;
    // Events no endpoint will ever send again.
    sqlx::query("DELETE FROM webhook_events WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id) AND once_key IS NULL")
        .execute(conn)
        .await
        .map(|_| ())
}

/// A new signing secret; the current one keeps signing beside it until `previous_until`.
pub async fn rotate_secret(conn: &mut Conn, id: &str, secret: &str, previous_until: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $3, secret = $2, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(secret)
        .bind(previous_until)
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The account's enabled endpoints, with the events each hears (stored form).
/// On PostgreSQL the rows are key-share locked until the transaction ends, so an endpoint
/// cannot be deleted between this read and the deliveries written for it.
pub async fn listeners(conn: &mut Conn, account_id: &str) -> sqlx::Result<Vec<(String, String)>> {
    let lock = if is_postgres(conn) { " FOR KEY SHARE" } else { "" };
    sqlx::query_as(&format!("SELECT id, events FROM webhook_endpoints WHERE account_id = $1 AND enabled = 1{lock}")).bind(account_id).fetch_all(conn).await
}

fn is_postgres(conn: &Conn) -> bool {
    conn.backend_name().eq_ignore_ascii_case("postgresql")
}

/// Takes an endpoint's row for a change that removes it (PostgreSQL: waiting for the
/// transactions that are writing deliveries for it).
pub async fn lock_endpoint(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    if is_postgres(conn) {
        sqlx::query("SELECT id FROM webhook_endpoints WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(conn).await?;
    }
    Ok(())
}

pub struct NewEvent<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
    pub subject_user_id: Option<&'a str>,
    pub once_key: Option<&'a str>,
}

/// Writes an event; `false` when its `once_key` was taken already (it happened, and was
/// written, before).
pub async fn insert_event(conn: &mut Conn, event: &NewEvent<'_>, now_ms: i64) -> sqlx::Result<bool> {
    sqlx::query(
        "INSERT INTO webhook_events (id, account_id, event_type, payload, subject_user_id, once_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(event.id)
    .bind(event.account_id)
    .bind(event.event_type)
    .bind(event.payload)
    .bind(event.subject_user_id)
    .bind(event.once_key)
    .bind(now_ms)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

/// One delivery of `event_id` to each of `endpoints`, due at once.
pub async fn insert_deliveries(conn: &mut Conn, event_id: &str, endpoints: &[&str], now_ms: i64) -> sqlx::Result<()> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..endpoints.len()).map(|i| format!("(${}, $1, ${}, 'pending', $2, $2)", 3 + 2 * i, 4 + 2 * i)).collect();
    let sql = format!("INSERT INTO webhook_deliveries (id, event_id, endpoint_id, state, next_attempt_at, created_at) VALUES {}", rows.join(", "));
    let mut query = sqlx::query(&sql).bind(event_id).bind(now_ms);
    for endpoint in endpoints {
        query = query.bind(super::new_id()).bind(*endpoint);
    }
    query.execute(conn).await.map(|_| ())
}

/// A delivery claimed for sending, with what it needs: the event's body and the endpoint's
/// address and keys.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub event_created_at: i64,
    pub endpoint_id: String,
    pub account_id: String,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    /// Including this one.
    pub attempts: i64,
}

/// Claims up to `limit` deliveries due at `now_ms` (or left by a runner whose lease ran
/// out) of enabled endpoints for `worker` until `lease_until`, counting the attempt.
pub async fn claim(db: &Db, worker: &str, now_ms: i64, lease_until: i64, limit: i64) -> sqlx::Result<Vec<ClaimedDelivery>> {
    let lock = match db.engine() {
        Engine::Sqlite => "",
        Engine::Postgres => "FOR UPDATE OF d SKIP LOCKED",
    };
    let claimed: Vec<String> = sqlx::query_scalar(&format!(
        "UPDATE webhook_deliveries SET state = 'sending', leased_by = $4, lease_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                      WHERE e.enabled = 1 AND ((d.state = 'pending' AND d.next_attempt_at <= $2) OR (d.state = 'sending' AND d.lease_until <= $2)) \
                      ORDER BY d.next_attempt_at LIMIT $3 {lock}) \
         RETURNING id"
    ))
    .bind(lease_until)
    .bind(now_ms)
    .bind(limit)
    .bind(worker)
    .fetch_all(&db.pool)
    .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.id, d.event_id, v.event_type, v.payload, v.created_at AS event_created_at, d.endpoint_id, e.account_id, e.url, e.secret, \
           e.previous_secret, e.previous_secret_until, d.attempts \
         FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.id IN ({})",
        placeholders(1, claimed.len())
    );
    let mut query = sqlx::query_as(&sql);
    for id in &claimed {
        query = query.bind(id);
    }
    query.fetch_all(&db.pool).await
}

/// How one attempt ended.
pub struct Attempt<'a> {
    pub id: &'a str,
    pub endpoint_id: &'a str,
    pub state: WebhookDeliveryState,
    pub status: Option<u16>,
    pub error: Option<&'a str>,
    pub excerpt: Option<&'a str>,
    pub next_attempt_at: Option<i64>,
    pub at: i64,
}

/// Records an attempt, if `worker` still holds the delivery (a runner whose lease lapsed
/// leaves it to the one that took it over), and the endpoint's run of failures. Returns
/// whether it was recorded.
pub async fn settle(conn: &mut Conn, worker: &str, attempt: &Attempt<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET state = $3, last_status = $4, last_error = $5, response_excerpt = $6, \
           next_attempt_at = COALESCE($7, next_attempt_at), last_attempt_at = $8, leased_by = NULL, lease_until = NULL \
         WHERE id = $1 AND state = 'sending' AND leased_by = $2",
    )
    .bind(attempt.id)
    .bind(worker)
    .bind(attempt.state.as_str())
    .bind(attempt.status.map(i64::from))
    .bind(attempt.error)
    .bind(attempt.excerpt)
    .bind(attempt.next_attempt_at)
    .bind(attempt.at)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    let failing = match attempt.state {
        WebhookDeliveryState::Delivered => sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL"),
        _ => sqlx::query("UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) WHERE id = $2").bind(attempt.at),
    };
    failing.bind(attempt.endpoint_id).execute(conn).await?;
    Ok(true)
}

/// Disables those of `endpoints` (that just failed again) whose every attempt has failed
/// since before `cutoff`; returns their ids, accounts and addresses.
pub async fn disable_failing(conn: &mut Conn, endpoints: &[&str], cutoff: i64, reason: &str, now_ms: i64) -> sqlx::Result<Vec<(String, String, String)>> {
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $2, updated_at = $3 \
         WHERE enabled = 1 AND failing_since IS NOT NULL AND failing_since <= $1 AND id IN ({}) RETURNING id, account_id, url",
        placeholders(4, endpoints.len())
    );
    let mut query = sqlx::query_as(&sql).bind(cutoff).bind(reason).bind(now_ms);
    for id in endpoints {
        query = query.bind(*id);
    }
    query.fetch_all(conn).await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub response_excerpt: Option<String>,
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    pub next_attempt_at: i64,
}

/// An endpoint's newest deliveries.
pub async fn deliveries(conn: &mut Conn, endpoint_id: &str, limit: i64) -> sqlx::Result<Vec<DeliveryRecord>> {
    sqlx::query_as(
        "SELECT d.id, d.event_id, v.event_type, d.state, d.attempts, d.last_status, d.last_error, d.response_excerpt, d.created_at, \
           d.last_attempt_at, d.next_attempt_at \
         FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id WHERE d.endpoint_id = $1 \
         ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
    )
    .bind(endpoint_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The endpoint of a delivery of `account_id`, and its state.
pub async fn delivery_owner(conn: &mut Conn, account_id: &str, delivery_id: &str) -> sqlx::Result<Option<(String, String, String)>> {
    sqlx::query_as(
        "SELECT d.endpoint_id, d.state, v.event_type FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         JOIN webhook_events v ON v.id = d.event_id WHERE d.id = $1 AND e.account_id = $2",
    )
    .bind(delivery_id)
    .bind(account_id)
    .fetch_optional(conn)
    .await
}

/// A failed delivery due again at once (one more attempt); whether it was failed.
/// (Never one whose event was erased with the person it was about.)
pub async fn retry(conn: &mut Conn, delivery_id: &str, now_ms: i64) -> sqlx::Result<bool> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $2 WHERE id = $1 AND state = 'failed' \
           AND event_id IN (SELECT id FROM webhook_events WHERE payload <> '{}')",
    )
    .bind(delivery_id)
    .bind(now_ms)
    .execute(conn)
    .await
    .map(|done| done.rows_affected() == 1)
}

/// The runners holding a live lease on some delivery.
pub async fn lease_holders(db: &Db, now_ms: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT DISTINCT leased_by FROM webhook_deliveries WHERE state = 'sending' AND lease_until > $1 AND leased_by IS NOT NULL")
        .bind(now_ms)
        .fetch_all(&db.pool)
        .await
}

/// Ends the leases `worker` holds, so the next claim takes those deliveries at once.
pub async fn release_leases(db: &Db, worker: &str, now_ms: i64) -> sqlx::Result<u64> {
    sqlx::query("UPDATE webhook_deliveries SET lease_until = $1 WHERE state = 'sending' AND leased_by = $2 AND lease_until > $1")
        .bind(now_ms)
        .bind(worker)
        .execute(&db.pool)
        .await
        .map(|done| done.rows_affected())
}

/// An invitation as an event tells of it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InvitationFacts {
    pub id: String,
    pub account_id: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

pub async fn invitations(conn: &mut Conn, ids: &[&str]) -> sqlx::Result<Vec<InvitationFacts>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT i.id, i.account_id, i.user_id, u.email, u.name, i.state, i.created_at, i.expires_at, i.accepted_at, i.cancelled_at \
         FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.id IN ({})",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query_as(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(conn).await
}

/// The roles the invitations offer: (invitation, place id, place name, stored role).
pub async fn invitation_roles(conn: &mut Conn, ids: &[&str]) -> sqlx::Result<Vec<(String, String, String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT r.invitation_id, r.scope_id, s.name, r.role FROM invitation_roles r JOIN scopes s ON s.id = r.scope_id \
         WHERE r.invitation_id IN ({}) ORDER BY s.name, r.role",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query_as(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(conn).await
}

/// A person as `user.deactivated` tells of them: (id, email, name).
pub async fn person(conn: &mut Conn, user_id: &str) -> sqlx::Result<Option<(String, String, String)>> {
    sqlx::query_as("SELECT id, email, name FROM users WHERE id = $1").bind(user_id).fetch_optional(conn).await
}

/// Where the expiry sweep of `account_id` stopped; `None` before its first.
pub async fn swept_until(conn: &mut Conn, account_id: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT expired_until FROM webhook_sweeps WHERE account_id = $1").bind(account_id).fetch_optional(conn).await
}

pub async fn set_swept_until(conn: &mut Conn, account_id: &str, until: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO webhook_sweeps (account_id, expired_until) VALUES ($1, $2) ON CONFLICT (account_id) DO UPDATE SET expired_until = $2")
        .bind(account_id)
        .bind(until)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Pending invitations of `account_id` whose link expired in `(after, until]` and that were
/// not announced yet, oldest first, with the expiry each had.
pub async fn expired_unannounced(conn: &mut Conn, account_id: &str, after: i64, until: i64, limit: i64) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT i.id, i.expires_at FROM invitations i WHERE i.account_id = $1 AND i.state = 'pending' AND i.expires_at > $2 AND i.expires_at <= $3 \
           AND NOT EXISTS (SELECT 1 FROM webhook_events v WHERE v.once_key = 'expired:' || i.id || ':' || CAST(i.expires_at AS TEXT)) \
         ORDER BY i.expires_at, i.id LIMIT $4",
    )
    .bind(account_id)
    .bind(after)
    .bind(until)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Accounts with at least one enabled endpoint.
pub async fn accounts_listening(conn: &mut Conn) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT DISTINCT account_id FROM webhook_endpoints WHERE enabled = 1").fetch_all(conn).await
}

/// Erases what the events about a deleted person say, and stops their deliveries.
pub async fn erase_subject(conn: &mut Conn, account_id: &str, user_id: &str) -> sqlx::Result<()> {
    // A receiver's answer may have echoed what the event said of them: gone too.
    sqlx::query(
        "UPDATE webhook_deliveries SET response_excerpt = NULL, leased_by = NULL, lease_until = NULL, \
           state = CASE WHEN state IN ('pending', 'sending') THEN 'failed' ELSE state END, \
           last_error = CASE WHEN state IN ('pending', 'sending') THEN 'The person it was about was deleted.' ELSE last_error END \
         WHERE event_id IN (SELECT id FROM webhook_events WHERE account_id = $1 AND subject_user_id = $2)",
    )
    .bind(account_id)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE webhook_events SET payload = '{}' WHERE account_id = $1 AND subject_user_id = $2")
        .bind(account_id)
        .bind(user_id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The addresses of the account's active Owners and Admins, who hear of a disabled endpoint.
pub async fn administrators(conn: &mut Conn, account_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT u.email FROM memberships m JOIN scopes s ON s.id = m.scope_id JOIN users u ON u.id = m.user_id \
         WHERE s.account_id = $1 AND s.kind = 'account' AND m.role IN ('owner', 'admin') AND u.status = 'active' ORDER BY u.email",
    )
    .bind(account_id)
    .fetch_all(conn)
    .await
}

/// Deletes deliveries delivered or failed before `before`, and events from before then that
/// no delivery needs any more (an expiry's event included: the sweep has long moved past it).
pub async fn prune(conn: &mut Conn, before: i64) -> sqlx::Result<u64> {
    let deliveries = sqlx::query("DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND created_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM webhook_events WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(deliveries)
}

/// Gives back a claimed delivery without counting an attempt, due again at `due`.
pub async fn put_back(conn: &mut Conn, worker: &str, id: &str, due: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', attempts = attempts - 1, next_attempt_at = $3, leased_by = NULL, lease_until = NULL \
         WHERE id = $1 AND state = 'sending' AND leased_by = $2",
    )
    .bind(id)
    .bind(worker)
    .bind(due)
    .execute(conn)
    .await
    .map(|_| ())
}
