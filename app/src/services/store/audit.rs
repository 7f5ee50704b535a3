use super::{new_id, Conn};
use shared::audit::{AuditAction, AuditCursor};

/// One line of the audit trail, written in the same transaction as the change it records.
pub struct AuditEvent<'a> {
    pub account_id: &'a str,
    pub actor_user_id: Option<&'a str>,
    pub action: AuditAction,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub details: serde_json::Value,
}

///
/// The person an event is about and the places it concerns are read from its target here,
/// once for every caller: a person's roles held and offered, an invitation's roles, a place,
/// and the places of the roles its details name (roles just removed leave no trace of their
/// place in the target).
pub async fn record(conn: &mut Conn, event: AuditEvent<'_>, at_ms: i64) -> sqlx::Result<()> {
    record_many(conn, std::slice::from_ref(&event), at_ms).await
}

tokio::task_local! {
    /// The API token a request acts through, by name: every line its work writes says so.
    static VIA_TOKEN: String;
}

/// Runs `work` with every audit line it writes marked as done through the token `name`.
pub async fn via_token<F: std::future::Future>(name: String, work: F) -> F::Output {
    VIA_TOKEN.scope(name, work).await
}

/// An event's details as stored: with the token it came through, if it did.
fn stored_details(details: &serde_json::Value) -> String {
    match (VIA_TOKEN.try_with(Clone::clone), details) {
        (Ok(token), serde_json::Value::Object(fields)) => {
            let mut fields = fields.clone();
            fields.insert("api_token".into(), serde_json::Value::String(token));
            serde_json::Value::Object(fields).to_string()
        }
        (Ok(token), serde_json::Value::Null) => serde_json::json!({ "api_token": token }).to_string(),
        _ => details.to_string(),
    }
}

/// Events written per statement by [`record_many`] (8 parameters each).
const EVENTS_PER_STATEMENT: usize = 100;

/// [`record`] for several events at once: a bulk job's batch writes its people's lines in a
/// few statements instead of a few per person.
pub async fn record_many(conn: &mut Conn, events: &[AuditEvent<'_>], at_ms: i64) -> sqlx::Result<()> {
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        let ids: Vec<String> = chunk.iter().map(|_| new_id()).collect();
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = |n: usize| format!("${}", i * 8 + n);
                format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, CASE WHEN {e} = 'user' THEN {f} WHEN {e} = 'invitation' THEN (SELECT i.user_id FROM invitations i WHERE i.id = {f}) END)",
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8),
                    e = p(5),
                    f = p(6)
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_events (id, account_id, actor_user_id, action, target_type, target_id, details, at, subject_user_id) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (id, event) in ids.iter().zip(chunk) {
            query = query
                .bind(id)
                .bind(event.account_id)
                .bind(event.actor_user_id)
                .bind(event.action.as_str())
                .bind(event.target_type)
                .bind(event.target_id)
                .bind(stored_details(&event.details))
                .bind(at_ms);
        }
        query.execute(&mut *conn).await?;
        let these = super::placeholders(1, ids.len());
        let sql = format!(
            "INSERT INTO audit_event_places (event_id, scope_id, action, actor_user_id, at) \
             SELECT e.id, r.scope_id, e.action, e.actor_user_id, e.at FROM audit_events e JOIN invitation_roles r ON r.invitation_id = e.target_id \
               WHERE e.id IN ({these}) AND e.target_type = 'invitation' \
             UNION SELECT e.id, e.target_id, e.action, e.actor_user_id, e.at FROM audit_events e WHERE e.id IN ({these}) AND e.target_type = 'scope' \
             UNION SELECT e.id, m.scope_id, e.action, e.actor_user_id, e.at FROM audit_events e JOIN memberships m ON m.user_id = e.target_id \
               WHERE e.id IN ({these}) AND e.target_type = 'user' \
             UNION SELECT e.id, r.scope_id, e.action, e.actor_user_id, e.at FROM audit_events e JOIN invitations i ON i.user_id = e.target_id \
               JOIN invitation_roles r ON r.invitation_id = i.id WHERE e.id IN ({these}) AND e.target_type = 'user' AND i.state = 'pending'"
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(id);
        }
        query.execute(&mut *conn).await?;
        crate::services::webhooks::events::for_audit(conn, chunk, at_ms).await?;
        for (id, event) in ids.iter().zip(chunk) {
            for place in places_named(&event.details) {
                sqlx::query(
                    "INSERT INTO audit_event_places (event_id, scope_id, action, actor_user_id, at) \
                     SELECT e.id, $2, e.action, e.actor_user_id, e.at FROM audit_events e WHERE e.id = $1 ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(place)
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    Ok(())
}

/// The places of the roles an event's details name.
fn places_named(details: &serde_json::Value) -> Vec<String> {
    match details.get("grants") {
        Some(serde_json::Value::Array(grants)) => grants.iter().filter_map(|g| g.get("scope_id").and_then(|s| s.as_str()).map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// What a page of the log is asked for, with the addresses already resolved to people.
pub struct Filter<'a> {
    pub account_id: &'a str,
    pub action: Option<AuditAction>,
    pub actor_user_id: Option<&'a str>,
    pub subject_user_id: Option<&'a str>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// For a place administrator: only events concerning one of these places.
    pub places: Option<&'a [String]>,
    pub before: Option<&'a AuditCursor>,
}

/// An event as stored, with the names of who acted and whom it is about (`None` for an id
/// that names nobody any more: a deleted person).
#[derive(sqlx::FromRow)]
pub struct EventRecord {
    pub id: String,
    pub at: i64,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: String,
    pub actor_user_id: Option<String>,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub subject_user_id: Option<String>,
    pub subject_name: Option<String>,
    pub subject_email: Option<String>,
}

/// Up to `limit` events matching `filter`, newest first (keyset on `at`, `id`).
///
/// For a place administrator of a few places, each place is read on its own from its index
/// in time order (of the action or actor asked for; `limit` at most from each) and the
/// answers merged, an event of several of their places kept once: one statement over all of
/// them would sort every event of those places. With a filter on the person (whose events are
/// few), or past a few places, the account's events are read through the filter's index and
/// each checked for the places.
pub async fn page(conn: &mut Conn, filter: &Filter<'_>, limit: i64) -> sqlx::Result<Vec<EventRecord>> {
    let Some(places) = filter.places else {
        let sql = page_sql(filter, Reading::Account);
        return bind(sqlx::query_as::<_, EventRecord>(&sql), filter, &[], limit).fetch_all(conn).await;
    };
    if places.is_empty() {
        return Ok(Vec::new());
    }
    // Past a few places, one statement checking each event for any of them (its cost grows
    // with how rare their events are, not with how many places there are).
    if places.len() > PLACES_READ_ONE_BY_ONE || filter.subject_user_id.is_some() {
        let sql = page_sql(filter, Reading::CheckingPlaces(places.len()));
        return bind(sqlx::query_as::<_, EventRecord>(&sql).persistent(false), filter, places, limit).fetch_all(conn).await;
    }
    let sql = page_sql(filter, Reading::PlaceIndex);
    let mut events: Vec<EventRecord> = Vec::new();
    for place in places {
        events.extend(bind(sqlx::query_as::<_, EventRecord>(&sql), filter, std::slice::from_ref(place), limit).fetch_all(&mut *conn).await?);
    }
    events.sort_by(|a, b| (b.at, &b.id).cmp(&(a.at, &a.id)));
    events.dedup_by(|a, b| a.id == b.id);
    events.truncate(limit.max(0) as usize);
    Ok(events)
}

/// How many places a place administrator's page reads one by one, at most.
const PLACES_READ_ONE_BY_ONE: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The account's events.
    Account,
    /// One place's events, from its index in time order.
    PlaceIndex,
    /// The account's events through the filter's index, each checked for one of these places.
    CheckingPlaces(usize),
}

/// The statement for `filter` read as `reading`. The same text for the same filters, so each
/// shape is prepared once per connection.
fn page_sql(filter: &Filter<'_>, reading: Reading) -> String {
    let by_place = reading == Reading::PlaceIndex;
    let (time, id) = if by_place { ("p.at", "p.event_id") } else { ("e.at", "e.id") };
    let mut sql = String::from(
        "SELECT e.id, e.at, e.action, e.target_type, e.target_id, e.details, \
           e.actor_user_id, a.name AS actor_name, a.email AS actor_email, \
           e.subject_user_id, s.name AS subject_name, s.email AS subject_email ",
    );
    sql.push_str(if by_place { "FROM audit_event_places p JOIN audit_events e ON e.id = p.event_id " } else { "FROM audit_events e " });
    sql.push_str("LEFT JOIN users a ON a.id = e.actor_user_id LEFT JOIN users s ON s.id = e.subject_user_id WHERE e.account_id = $1");
    let mut n = 1;
    let mut next = || {
        n += 1;
        n
    };
    match reading {
        Reading::Account => {}
        Reading::PlaceIndex => sql.push_str(&format!(" AND p.scope_id = ${}", next())),
        Reading::CheckingPlaces(n) => {
            let list: Vec<String> = (0..n).map(|_| format!("${}", next())).collect();
            sql.push_str(&format!(" AND EXISTS (SELECT 1 FROM audit_event_places p WHERE p.event_id = e.id AND p.scope_id IN ({}))", list.join(", ")))
        }
    }
    if filter.action.is_some() {
        let action = if by_place { "p.action" } else { "e.action" };
        sql.push_str(&format!(" AND {action} = ${}", next()));
    }
    if filter.actor_user_id.is_some() {
        let actor = if by_place { "p.actor_user_id" } else { "e.actor_user_id" };
        sql.push_str(&format!(" AND {actor} = ${}", next()));
    }
    if filter.subject_user_id.is_some() {
        sql.push_str(&format!(" AND e.subject_user_id = ${}", next()));
    }
    if filter.from_ms.is_some() {
        sql.push_str(&format!(" AND {time} >= ${}", next()));
    }
    if filter.to_ms.is_some() {
        sql.push_str(&format!(" AND {time} < ${}", next()));
    }
    if filter.before.is_some() {
        let (at, before) = (next(), next());
        // A row comparison: both engines read it as a range of the index, where the same test
        // written with OR makes PostgreSQL filter every newer event on its way there.
        sql.push_str(&format!(" AND ({time}, {id}) < (${at}, ${before})"));
    }
    sql.push_str(&format!(" ORDER BY {time} DESC, {id} DESC LIMIT ${}", next()));
    sql
}

fn bind<'q>(
    mut query: sqlx::query::QueryAs<'q, sqlx::Any, EventRecord, sqlx::any::AnyArguments<'q>>,
    filter: &'q Filter<'q>,
    places: &'q [String],
    limit: i64,
) -> sqlx::query::QueryAs<'q, sqlx::Any, EventRecord, sqlx::any::AnyArguments<'q>> {
    query = query.bind(filter.account_id);
    for place in places {
        query = query.bind(place);
    }
    if let Some(action) = filter.action {
        query = query.bind(action.as_str());
    }
    if let Some(actor) = filter.actor_user_id {
        query = query.bind(actor);
    }
    if let Some(subject) = filter.subject_user_id {
        query = query.bind(subject);
    }
    if let Some(from) = filter.from_ms {
        query = query.bind(from);
    }
    if let Some(to) = filter.to_ms {
        query = query.bind(to);
    }
    if let Some(before) = filter.before {
        query = query.bind(before.at_ms).bind(&before.id);
    }
    query.bind(limit)
}

/// The names of these places of the account.
pub async fn scope_names(conn: &mut Conn, account_id: &str, ids: &[String]) -> sqlx::Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!("SELECT id, name FROM scopes WHERE account_id = $1 AND id IN ({})", list.join(", "));
    let mut query = sqlx::query_as(&sql).persistent(false).bind(account_id);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}
