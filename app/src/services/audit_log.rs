//! The Audit log: the account's audit trail read a page at a time, newest first, filtered by
//! action, actor, person and dates; and the same events as a CSV file, streamed.
//! An Owner or an Admin reads every event, a place administrator those of their places.

use super::csv_out::CsvOut;
use super::error::Step;
use super::grants::RoleNames;
use super::store::audit::{self, EventRecord, Filter};
use super::store::{users, Conn};
use super::{Actor, AppState};
use shared::audit::{AuditAction, AuditCursor, AuditPage, AuditPerson, AuditQuery, AuditRow};
use shared::invitations::utc_date_time;
use shared::scopes::Grant;
use shared::AppError;
use std::collections::HashMap;

/// Events a CSV chunk reads at once.
const EXPORT_BATCH: i64 = 1000;

/// The filter with its addresses resolved, or the address that names nobody.
struct Resolved {
    actor_user_id: Option<String>,
    subject_user_id: Option<String>,
    unknown: Vec<String>,
}

async fn resolve(conn: &mut Conn, actor: &Actor, query: &AuditQuery) -> Result<Resolved, AppError> {
    let mut resolved = Resolved { actor_user_id: None, subject_user_id: None, unknown: Vec::new() };
    for (address, slot) in [(&query.actor, &mut resolved.actor_user_id), (&query.person, &mut resolved.subject_user_id)] {
        if address.is_empty() {
            continue;
        }
        match users::find_in_account(conn, &actor.account_id, &address.to_lowercase()).await.step("users::find_in_account")? {
            Some(user) => *slot = Some(user.id),
            None => resolved.unknown.push(address.clone()),
        }
    }
    Ok(resolved)
}

fn filter<'a>(actor: &'a Actor, query: &'a AuditQuery, resolved: &'a Resolved, places: Option<&'a [String]>, before: Option<&'a AuditCursor>) -> Filter<'a> {
    let (from_ms, to_ms) = query.range_ms();
    Filter {
        account_id: &actor.account_id,
        action: query.action,
        actor_user_id: resolved.actor_user_id.as_deref(),
        subject_user_id: resolved.subject_user_id.as_deref(),
        from_ms,
        to_ms,
        places,
        before,
    }
}

/// One page of the log.
pub async fn page(state: &AppState, actor: &Actor, query: &AuditQuery) -> Result<AuditPage, AppError> {
    let places = actor.authority.audit_places().map_err(AppError::Forbidden)?;
    let now_ms = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let resolved = resolve(&mut conn, actor, query).await?;
    if !resolved.unknown.is_empty() {
        return Ok(AuditPage { rows: Vec::new(), older: None, now_ms, unknown: resolved.unknown });
    }
    let size = AuditQuery::PAGE_SIZE as i64;
    let mut records = audit::page(&mut conn, &filter(actor, query, &resolved, places, query.before.as_ref()), size + 1).await.step("audit::page")?;
    let more = records.len() as i64 > size;
    records.truncate(AuditQuery::PAGE_SIZE);
    let older = records.last().filter(|_| more).map(|last| AuditQuery { before: Some(AuditCursor { at_ms: last.at, id: last.id.clone() }), ..query.clone() });
    let rows = Describe::load(&mut conn, &actor.account_id, &records).await?.rows(records);
    Ok(AuditPage { rows, older, now_ms, unknown: Vec::new() })
}

/// The columns of the export, in order.
const EXPORT_HEADER: [&str; 9] = ["Time (UTC)", "Action", "Actor", "Actor address", "Person", "Person address", "Target", "Details", "Event id"];

/// Every event matching `query` (its position ignored) as CSV, a chunk per batch of events:
/// the first chunk is checked before the response starts, so a refusal is an ordinary error.
pub async fn export(state: AppState, actor: Actor, query: AuditQuery) -> Result<impl futures::Stream<Item = Result<Vec<u8>, AppError>> + Send, AppError> {
    actor.authority.audit_places().map_err(AppError::Forbidden)?;
    let query = query.newest();
    let resolved = {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        resolve(&mut conn, &actor, &query).await?
    };
    // A filter naming nobody matches no event: the file is the header alone.
    let done = !resolved.unknown.is_empty();
    let first = CsvOut::with_header(&EXPORT_HEADER)?.into_bytes()?;
    struct Walk {
        state: AppState,
        actor: Actor,
        query: AuditQuery,
        resolved: Resolved,
        before: Option<AuditCursor>,
        done: bool,
    }
    let walk = Walk { state, actor, query, resolved, before: None, done };
    let rest = futures::stream::unfold(walk, |mut walk| async move {
        if walk.done {
            return None;
        }
        let chunk = async {
            let places = walk.actor.authority.audit_places().map_err(AppError::Forbidden)?;
            let mut conn = walk.state.db.pool.acquire().await.step("acquire connection")?;
            let filter = filter(&walk.actor, &walk.query, &walk.resolved, places, walk.before.as_ref());
            let records = audit::page(&mut conn, &filter, EXPORT_BATCH).await.step("audit::page")?;
            let next = (records.len() as i64 == EXPORT_BATCH).then(|| records.last().map(|r| AuditCursor { at_ms: r.at, id: r.id.clone() })).flatten();
            let rows = Describe::load(&mut conn, &walk.actor.account_id, &records).await?.rows(records);
            let mut out = CsvOut::continuing();
            for row in rows {
                out.row(&export_cells(&row))?;
            }
            Ok::<_, AppError>((out.into_bytes()?, next))
        }
        .await;
        match chunk {
            Ok((bytes, next)) => {
                walk.done = next.is_none();
                walk.before = next;
                Some((Ok(bytes), walk))
            }
            Err(error) => {
                walk.done = true;
                Some((Err(error), walk))
            }
        }
    });
    // Fused: a body may be polled once more after its end (the compression layer does).
    Ok(futures::StreamExt::fuse(futures::StreamExt::chain(futures::stream::iter([Ok(first)]), rest)))
}

fn export_cells(row: &AuditRow) -> [String; 9] {
    let (person, person_address) = match &row.person {
        Some(person) => person_parts(person),
        None => (String::new(), String::new()),
    };
    let (actor, actor_address) = person_parts(&row.actor);
    [utc_date_time(row.at_ms), row.action_label(), actor, actor_address, person, person_address, row.target.clone(), row.details_text(), row.id.clone()]
}

fn person_parts(person: &AuditPerson) -> (String, String) {
    match person {
        AuditPerson::Person { name, email, .. } => (name.clone(), email.clone()),
        other => (other.label(), String::new()),
    }
}

/// What turns stored events into words: the names of the roles and places their details name.
struct Describe {
    roles: RoleNames,
    places: HashMap<String, String>,
}

impl Describe {
    async fn load(conn: &mut Conn, account_id: &str, records: &[EventRecord]) -> Result<Describe, AppError> {
        let mut ids: Vec<String> = records.iter().flat_map(|r| grants_of(&details_of(r))).map(|g| g.scope_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let places = audit::scope_names(conn, account_id, &ids).await.step("audit::scope_names")?.into_iter().collect();
        let roles = if ids.is_empty() { RoleNames::default() } else { RoleNames::load(conn, account_id).await? };
        Ok(Describe { roles, places })
    }

    fn rows(&self, records: Vec<EventRecord>) -> Vec<AuditRow> {
        records.into_iter().map(|record| self.row(record)).collect()
    }

    fn row(&self, record: EventRecord) -> AuditRow {
        let details = details_of(&record);
        let person = |id: Option<String>, name: Option<String>, email: Option<String>| match (id, email) {
            (None, _) => AuditPerson::Nobody,
            (Some(user_id), Some(email)) => AuditPerson::Person { user_id, name: name.unwrap_or_default(), email },
            (Some(_), None) => AuditPerson::Deleted,
        };
        let target = match record.target_type.as_str() {
            "scope" => "Place",
            "role" => "Custom role",
            "email" => "Email",
            "account" => "Account",
            "invitation" => "Invitation",
            "user" => "Person",
            _ => "",
        }
        .to_string();
        AuditRow {
            action: AuditAction::parse(&record.action),
            action_name: record.action,
            actor: person(record.actor_user_id, record.actor_name, record.actor_email),
            person: record.subject_user_id.is_some().then(|| person(record.subject_user_id, record.subject_name, record.subject_email)),
            target,
            details: self.details(&details),
            id: record.id,
            at_ms: record.at,
        }
    }

    /// Each detail as "Name" and its value in words.
    fn details(&self, details: &serde_json::Value) -> Vec<(String, String)> {
        let Some(map) = details.as_object() else { return Vec::new() };
        map.iter()
            .map(|(key, value)| {
                let value = match (key.as_str(), value) {
                    ("grants", _) => grants_of(details)
                        .iter()
                        .map(|g| format!("{} in {}", self.roles.label(&g.role), self.place(&g.scope_id)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    ("parent", serde_json::Value::String(id)) => self.place(id),
                    (_, serde_json::Value::String(text)) => text.clone(),
                    (_, serde_json::Value::Bool(yes)) => if *yes { "yes" } else { "no" }.to_string(),
                    (_, serde_json::Value::Null) => "—".to_string(),
                    (_, other) => other.to_string(),
                };
                (key_label(key), value)
            })
            .collect()
    }

    fn place(&self, id: &str) -> String {
        self.places.get(id).cloned().unwrap_or_else(|| "a place".into())
    }
}

fn details_of(record: &EventRecord) -> serde_json::Value {
    serde_json::from_str(&record.details).unwrap_or_default()
}

fn grants_of(details: &serde_json::Value) -> Vec<Grant> {
    details.get("grants").and_then(|g| serde_json::from_value(g.clone()).ok()).unwrap_or_default()
}

/// "invitation_cancelled" → "Invitation cancelled"; "email" → "Address".
fn key_label(key: &str) -> String {
    match key {
        "email" | "owner_email" | "recipient" => return "Address".into(),
        "grants" => return "Roles".into(),
        _ => {}
    }
    let words = key.replace('_', " ");
    let mut chars = words.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
