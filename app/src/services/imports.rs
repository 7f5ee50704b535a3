//! Importing people from a CSV file (Users → Import).
//!
//! The upload is parsed with the `csv` crate and every row judged at once: the same rule as
//! "Invite people" (the ceiling, the places the importer administers, `check_grants`, what an
//! existing person may still be invited into), plus what only a file has (duplicates, the
//! email budget over all its rows). The import and its rows are written as a preview; the
//! admin drops rows or answers typos, and nothing else is written until they confirm.
//!
//! Confirming judges the rows again and starts a job (`jobs`, action `Import`) with an item
//! per importable row. Its batches stage the rows here (ids, the rendered email, the grants),
//! invisible to everyone, and the batch that settles the last item makes them all live in
//! the same transaction with a handful of set-based statements: every valid row or none, and
//! SQLite's write lock held for that last batch only.

use super::csv_out::CsvOut;
use super::error::{Refused, Step};
use super::grants::{check_grants, RoleNames};
use super::invitations::service::plan_for_existing;
use super::jobs;
use super::mail::budget;
use super::mail::outbox::Priority;
use super::mail::templates::{self, InvitationEmail};
use super::store::accounts::AccountRecord;
use super::store::jobs::{ClaimedItem, JobRecord, NewJob};
use super::store::{self, new_id, Conn};
use super::{Actor, AppState};
use shared::audit::AuditAction;
use shared::bulk::{BulkAction, ItemOutcome, SkipReason};
use shared::import::{
    split_list, Column, Delimiter, ImportMode, ImportRowView, ImportState, ImportView, RowChange, UploadError, Verdict, VerdictCount, MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS, PREVIEW_PAGE,
};
use shared::mail::{DeliveryState, MessageKind};
use shared::permissions::{Denied, Permission};
use shared::scopes::{Grant, ScopeKind};
use shared::status::{StoredInvitationState, StoredUserStatus};
use shared::{typos, AppError, Email, Role, RoleKey};
use std::collections::{HashMap, HashSet};

/// The operator's limits (BECKON_IMPORT_MAX_ROWS, BECKON_IMPORT_MAX_BYTES).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportLimits {
    pub max_rows: usize,
    pub max_bytes: usize,
}

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits { max_rows: shared::import::DEFAULT_MAX_ROWS, max_bytes: shared::import::DEFAULT_MAX_BYTES }
    }
}

/// A row as the file gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawRow {
    pub line: u64,
    pub email: String,
    pub name: String,
    pub roles: String,
    pub places: String,
    pub message: String,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ParsedFile {
    pub delimiter: Delimiter,
    pub rows: Vec<RawRow>,
}

/// Reads a file: UTF-8 with or without a byte-order mark, comma, semicolon or tab (detected
/// from the header), quoted fields, CRLF or LF; blank rows are skipped.
pub fn parse(bytes: &[u8], max_rows: usize) -> Result<ParsedFile, UploadError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(UploadError::Empty);
    }
    if bytes.contains(&0) {
        return Err(UploadError::Binary);
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let line = bytes[..error.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        UploadError::NotUtf8 { line }
    })?;
    let header_line = text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default();
    let delimiter = Delimiter::detect(header_line);
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter.byte()).flexible(true).has_headers(false).from_reader(text.as_bytes());
    let malformed = |error: &csv::Error| UploadError::Malformed { line: error.position().map(|p| p.line()).unwrap_or(1) };
    // The header as a record of its own: with the crate's header handling, the first row's
    // position names the header's line.
    let mut records = reader.records();
    let headers = match records.next() {
        Some(record) => record.map_err(|e| malformed(&e))?,
        None => return Err(UploadError::Empty),
    };
    let mut columns: HashMap<Column, usize> = HashMap::new();
    for (index, cell) in headers.iter().enumerate() {
        if let Some(column) = Column::of_header(cell) {
            columns.entry(column).or_insert(index);
        }
    }
    if !columns.contains_key(&Column::Email) {
        return Err(UploadError::NoEmailColumn);
    }
    // A record's line, counted from its byte offset: the crate's own line numbers lag behind
    // when a record starts after a line ending it has not consumed yet.
    let (mut counted_to, mut line) = (0usize, 1u64);
    let mut line_of = |byte: usize| {
        let start = byte + text.as_bytes()[byte.min(text.len())..].iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
        line += text.as_bytes()[counted_to..start].iter().filter(|b| **b == b'\n').count() as u64;
        counted_to = start;
        line
    };
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(|e| malformed(&e))?;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if rows.len() == max_rows {
            return Err(UploadError::TooManyRows { max_rows: max_rows as u64 });
        }
        let cell = |column| columns.get(&column).and_then(|i| record.get(*i)).unwrap_or_default().trim().to_string();
        rows.push(RawRow {
            line: record.position().map(|p| line_of(p.byte() as usize)).unwrap_or_default(),
            email: cell(Column::Email),
            name: cell(Column::Name),
            roles: cell(Column::Role),
            places: cell(Column::Place),
            message: cell(Column::Message),
        });
    }
    if rows.is_empty() {
        return Err(UploadError::Empty);
    }
    Ok(ParsedFile { delimiter, rows })
}

/// A row as the preview holds it: the file's, with the admin's choices.
#[derive(Clone, Debug, sqlx::FromRow)]
struct StoredRow {
    line: i64,
    email: String,
    name: String,
    roles: String,
    places: String,
    message: Option<String>,
    dropped: i64,
    typo_choice: Option<String>,
}

impl StoredRow {
    fn from_raw(raw: &RawRow) -> StoredRow {
        StoredRow {
            line: raw.line as i64,
            email: raw.email.clone(),
            name: raw.name.clone(),
            roles: raw.roles.clone(),
            places: raw.places.clone(),
            message: Some(raw.message.clone()).filter(|m| !m.is_empty()),
            dropped: 0,
            typo_choice: None,
        }
    }
}

/// What a row comes to.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Judged {
    verdict: Verdict,
    detail: String,
    address: Option<String>,
    grants: Vec<Grant>,
    existing_user_id: Option<String>,
}

impl Judged {
    fn refused(verdict: Verdict, detail: impl Into<String>) -> Judged {
        Judged { verdict, detail: detail.into(), address: None, grants: Vec::new(), existing_user_id: None }
    }
}

/// The account's roles and places by the names a file uses, read once per judging.
struct Catalogue {
    roles: HashMap<String, RoleKey>,
    places: HashMap<String, Vec<String>>,
    place_names: HashMap<String, String>,
    account_scope: String,
    role_names: RoleNames,
}

impl Catalogue {
    async fn load(conn: &mut Conn, account_id: &str) -> Result<Catalogue, AppError> {
        let role_names = RoleNames::load(conn, account_id).await?;
        let mut roles: HashMap<String, RoleKey> = HashMap::new();
        for role in Role::ALL {
            roles.insert(role.label().to_lowercase(), RoleKey::Builtin(role));
            roles.insert(role.as_str().to_string(), RoleKey::Builtin(role));
        }
        for custom in store::custom_roles::list(conn, account_id).await.step("custom_roles::list")? {
            roles.entry(custom.name.trim().to_lowercase()).or_insert(RoleKey::Custom(custom.id));
        }
        let mut places: HashMap<String, Vec<String>> = HashMap::new();
        let mut place_names = HashMap::new();
        let mut account_scope = String::new();
        for scope in store::scopes::all(conn, account_id).await.step("scopes::all")? {
            place_names.insert(scope.id.clone(), scope.name.clone());
            if scope.kind == ScopeKind::Account {
                account_scope = scope.id;
            } else if scope.archived_at.is_none() {
                places.entry(scope.name.trim().to_lowercase()).or_default().push(scope.id);
            }
        }
        Ok(Catalogue { roles, places, place_names, account_scope, role_names })
    }

    /// "Admin", "Clinician — Sales".
    fn label(&self, grant: &Grant) -> String {
        let role = self.role_names.label(&grant.role);
        match grant.scope_id == self.account_scope {
            true => role,
            false => format!("{role} \u{2014} {}", self.place_names.get(&grant.scope_id).cloned().unwrap_or_default()),
        }
    }

    fn labels(&self, grants: &[Grant]) -> String {
        grants.iter().map(|g| self.label(g)).collect::<Vec<_>>().join(", ")
    }

    /// The row's own checks: what it says, against the account and the importer's ceiling.
    fn judge(&self, actor: &Actor, row: &StoredRow) -> Judged {
        if row.dropped != 0 {
            return Judged::refused(Verdict::Dropped, "");
        }
        let name_chars = row.name.chars().count();
        if name_chars > MAX_NAME_CHARS {
            return Judged::refused(Verdict::TooLong, format!("the name has {name_chars} characters, at most {MAX_NAME_CHARS}"));
        }
        let message_chars = row.message.as_deref().unwrap_or_default().chars().count();
        if message_chars > MAX_MESSAGE_CHARS {
            return Judged::refused(Verdict::TooLong, format!("the message has {message_chars} characters, at most {MAX_MESSAGE_CHARS}"));
        }
        let typed = match Email::parse(&row.email) {
            Ok(email) => email,
            Err(error) => return Judged::refused(Verdict::InvalidAddress, if row.email.is_empty() { "empty".to_string() } else { error.to_string() }),
        };
        let address = match (typos::suggestion(&typed), row.typo_choice.as_deref()) {
            (Some(suggested), Some("accept")) => match Email::parse(&suggested) {
                Ok(email) => email,
                Err(_) => typed,
            },
            (Some(_), Some("keep")) | (None, _) => typed,
            (Some(suggested), _) => return Judged::refused(Verdict::LikelyTypo, suggested),
        };
        let role_cells = split_list(&row.roles);
        if role_cells.is_empty() {
            return Judged::refused(Verdict::NoRole, "");
        }
        let mut roles = Vec::new();
        for cell in role_cells {
            match self.roles.get(&cell.to_lowercase()) {
                Some(role) => roles.push(role.clone()),
                None => return Judged::refused(Verdict::UnknownRole, cell),
            }
        }
        let mut places = Vec::new();
        for cell in split_list(&row.places) {
            match self.places.get(&cell.to_lowercase()).map(Vec::as_slice) {
                Some([one]) => places.push(one.clone()),
                _ => return Judged::refused(Verdict::UnknownPlace, cell),
            }
        }
        if places.is_empty() {
            places.push(self.account_scope.clone());
        }
        let mut grants: Vec<Grant> = places.iter().flat_map(|p| roles.iter().map(|r| Grant { scope_id: p.clone(), role: r.clone() })).collect();
        grants.sort();
        grants.dedup();
        if let Err(denied) = actor.authority.may_act_on(&grants) {
            return match denied {
                Denied::AboveYourRole { role } => Judged::refused(Verdict::RoleAboveYours, format!("{role} is above your role")),
                Denied::OutsideYourScopes | Denied::NotPermitted => {
                    let outside: Vec<&Grant> = grants.iter().filter(|g| !actor.authority.reaches(&g.scope_id)).collect();
                    let names: Vec<String> = outside.iter().map(|g| self.place_names.get(&g.scope_id).cloned().unwrap_or_default()).collect();
                    Judged::refused(Verdict::PlaceOutsideYours, if names.is_empty() { "the whole account".to_string() } else { names.join(", ") })
                }
            };
        }
        Judged { verdict: Verdict::Invite, detail: String::new(), address: Some(address.to_string()), grants, existing_user_id: None }
    }
}

/// Judges every row against the account as it is now, in `conn`'s view of it.
async fn judge_all(state: &AppState, conn: &mut Conn, actor: &Actor, rows: &[StoredRow], mode: ImportMode) -> Result<Vec<Judged>, AppError> {
    let now = state.clock.now_ms();
    let catalogue = Catalogue::load(conn, &actor.account_id).await?;
    let mut judged: Vec<Judged> = rows.iter().map(|row| catalogue.judge(actor, row)).collect();

    // What cannot exist (Owner in a place, a role the place does not take) is the one rule
    // of "Invite people": asked once per set of grants the file uses.
    let mut checked: HashMap<Vec<Grant>, Option<String>> = HashMap::new();
    for j in judged.iter_mut().filter(|j| j.verdict == Verdict::Invite) {
        if !checked.contains_key(&j.grants) {
            let why = match check_grants(conn, state.db.engine(), actor, &j.grants).await {
                Ok(()) => None,
                Err(AppError::Validation(why) | AppError::InvalidState(why)) => Some(why),
                Err(AppError::Forbidden(denied)) => Some(denied.to_string()),
                Err(other) => return Err(other),
            };
            checked.insert(j.grants.clone(), why);
        }
        if let Some(Some(why)) = checked.get(&j.grants) {
            *j = Judged::refused(Verdict::RoleAboveYours, why.trim_end_matches('.').to_string());
        }
    }

    // The same address twice: later rows give their roles to the first.
    let mut first: HashMap<String, usize> = HashMap::new();
    for i in 0..judged.len() {
        if judged[i].verdict != Verdict::Invite {
            continue;
        }
        let address = judged[i].address.clone().unwrap_or_default();
        match first.get(&address) {
            None => {
                first.insert(address, i);
            }
            Some(&earlier) => {
                let adds: Vec<Grant> = judged[i].grants.iter().filter(|g| !judged[earlier].grants.contains(g)).cloned().collect();
                let line = rows[earlier].line.to_string();
                if adds.is_empty() {
                    judged[i] = Judged::refused(Verdict::Duplicate, line);
                } else {
                    judged[earlier].grants.extend(adds);
                    judged[earlier].grants.sort();
                    judged[i] = Judged::refused(Verdict::JoinsRow, line);
                }
            }
        }
    }

    // People already in the account: what "Invite people" would do for them.
    let addresses: Vec<String> = first.keys().cloned().collect();
    let found = store::users::find_all_in_account(conn, &actor.account_id, &addresses).await.step("users::find_all_in_account")?;
    let existing: HashMap<String, store::users::UserRecord> = found.into_iter().map(|user| (user.email.clone(), user)).collect();
    for (address, &i) in &first {
        let Some(user) = existing.get(address) else { continue };
        if mode == ImportMode::ProfileOnly {
            judged[i] = Judged::refused(Verdict::Unchanged, "already in the account");
            continue;
        }
        match plan_for_existing(conn, actor, user, &judged[i].grants, now).await {
            Ok((offered, _)) => {
                judged[i].verdict = Verdict::InviteExisting;
                judged[i].detail = catalogue.labels(&offered);
                judged[i].grants = offered;
                judged[i].existing_user_id = Some(user.id.clone());
            }
            Err(Refused::Skip { reason, message }) => {
                let message = message.unwrap_or_else(|| reason.label());
                judged[i] = match reason {
                    SkipReason::Deactivated => Judged::refused(Verdict::Deactivated, ""),
                    SkipReason::RoleAboveYours(_) | SkipReason::OutsideYourPlaces => Judged::refused(Verdict::RoleAboveYours, message),
                    _ => Judged::refused(Verdict::Unchanged, message),
                };
            }
            Err(Refused::Error(error)) => return Err(error),
        }
    }

    // What the account may still send today, in the file's order.
    if mode == ImportMode::SendInvites {
        let left = budget::usage(conn, state.mail_limits, &actor.account_id, &actor.user_id, now).await?.left().max(0);
        let mut counted = 0;
        for j in judged.iter_mut().filter(|j| j.verdict.imports()) {
            counted += 1;
            if counted > left {
                *j = Judged::refused(Verdict::OverBudget, left.to_string());
            }
        }
    }
    Ok(judged)
}

/// Reads an uploaded file, judges its rows and keeps them as a preview; returns its id.
pub async fn upload(state: &AppState, actor: &Actor, file_name: &str, bytes: &[u8]) -> Result<Result<String, UploadError>, AppError> {
    actor.require(Permission::ManageInvitations)?;
    let parsed = match parse(bytes, state.import_limits.max_rows) {
        Ok(parsed) => parsed,
        Err(refused) => return Ok(Err(refused)),
    };
    let now = state.clock.now_ms();
    let rows: Vec<StoredRow> = parsed.rows.iter().map(StoredRow::from_raw).collect();
    let judged = {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        judge_all(state, &mut conn, actor, &rows, ImportMode::SendInvites).await?
    };
    let id = new_id();
    let file_name: String = file_name.chars().filter(|c| !c.is_control()).take(200).collect();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    sqlx::query(
        "INSERT INTO imports (id, account_id, created_by, file_name, delimiter, total, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(&actor.account_id)
    .bind(&actor.user_id)
    .bind(if file_name.trim().is_empty() { "pasted rows" } else { file_name.as_str() })
    .bind(parsed.delimiter.as_str())
    .bind(rows.len() as i64)
    .bind(ImportState::Preview.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await
    .step("imports::insert")?;
    const PER_STATEMENT: usize = 400;
    for (chunk, judged_chunk) in rows.chunks(PER_STATEMENT).zip(judged.chunks(PER_STATEMENT)) {
        let marks: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 2 + i * 11;
                format!("($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10)
            })
            .collect();
        let sql = format!(
            "INSERT INTO import_rows (import_id, line, email, name, roles, places, message, verdict, detail, address, grants, existing_user_id) VALUES {}",
            marks.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(&id);
        for (row, j) in chunk.iter().zip(judged_chunk) {
            query = query
                .bind(row.line)
                .bind(&row.email)
                .bind(&row.name)
                .bind(&row.roles)
                .bind(&row.places)
                .bind(&row.message)
                .bind(j.verdict.as_str())
                .bind(&j.detail)
                .bind(&j.address)
                .bind(Grant::to_param(&j.grants))
                .bind(&j.existing_user_id);
        }
        query.execute(&mut *tx).await.step("import_rows::insert")?;
    }
    tx.commit().await.step("commit")?;
    tracing::info!(import = %id, rows = rows.len(), "import previewed");
    Ok(Ok(id))
}

#[derive(sqlx::FromRow)]
struct ImportRecord {
    id: String,
    account_id: String,
    created_by: String,
    file_name: String,
    delimiter: String,
    total: i64,
    #[sqlx(try_from = "String")]
    state: ImportState,
    mode: Option<String>,
    job_id: Option<String>,
    failed_because: Option<String>,
}

const IMPORT_COLUMNS: &str = "id, account_id, created_by, file_name, delimiter, total, state, mode, job_id, failed_because";

/// The import `id` if `actor` may see it: its importer, and whoever manages the account.
async fn visible(conn: &mut Conn, actor: &Actor, id: &str) -> Result<ImportRecord, AppError> {
    actor.require(Permission::ManageInvitations)?;
    let import: Option<ImportRecord> =
        sqlx::query_as(&format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1")).bind(id).fetch_optional(&mut *conn).await.step("imports::get")?;
    let import = import.filter(|i| i.account_id == actor.account_id).ok_or(AppError::NotFound)?;
    match import.created_by == actor.user_id || actor.authority.manages_account() {
        true => Ok(import),
        false => Err(AppError::Forbidden(Denied::NotPermitted)),
    }
}

/// The import as its page shows it: the counts, and a page of rows (of one verdict).
pub async fn get(state: &AppState, actor: &Actor, id: &str, only: Option<Verdict>, page: u32) -> Result<ImportView, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let import = visible(&mut conn, actor, id).await?;
    let counts: Vec<(String, i64)> = sqlx::query_as("SELECT verdict, COUNT(*) FROM import_rows WHERE import_id = $1 GROUP BY verdict")
        .bind(&import.id)
        .fetch_all(&mut *conn)
        .await
        .step("import_rows::counts")?;
    let counts: HashMap<Verdict, u64> = counts.into_iter().filter_map(|(v, n)| Some((Verdict::parse(&v)?, n as u64))).collect();
    let counts = Verdict::ALL.into_iter().filter_map(|verdict| counts.get(&verdict).map(|&count| VerdictCount { verdict, count })).collect();
    let offset = i64::from(page) * PREVIEW_PAGE as i64;
    let rows: Vec<PreviewRow> = sqlx::query_as(
        "SELECT line, email, name, roles, places, verdict, detail, dropped FROM import_rows WHERE import_id = $1 AND ($2 IS NULL OR verdict = $2) \
         ORDER BY line LIMIT $3 OFFSET $4",
    )
    .bind(&import.id)
    .bind(only.map(Verdict::as_str))
    .bind(PREVIEW_PAGE as i64 + 1)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await
    .step("import_rows::page")?;
    let more = rows.len() > PREVIEW_PAGE;
    let rows = rows
        .into_iter()
        .take(PREVIEW_PAGE)
        .filter_map(|r| {
            let verdict = Verdict::parse(&r.verdict)?;
            Some(ImportRowView {
                line: r.line as u64,
                email: r.email,
                name: r.name,
                roles: r.roles,
                places: r.places,
                verdict,
                detail: r.detail,
                dropped: r.dropped != 0,
            })
        })
        .collect();
    Ok(ImportView {
        id: import.id,
        file_name: import.file_name,
        delimiter: Delimiter::parse(&import.delimiter).unwrap_or(Delimiter::Comma),
        state: import.state,
        total: import.total as u64,
        counts,
        rows,
        more,
        job_id: import.job_id,
        failed_because: import.failed_because,
        mode: import.mode.as_deref().and_then(ImportMode::parse),
    })
}

async fn stored_rows(conn: &mut Conn, import_id: &str) -> Result<Vec<StoredRow>, AppError> {
    sqlx::query_as("SELECT line, email, name, roles, places, message, dropped, typo_choice FROM import_rows WHERE import_id = $1 ORDER BY line")
        .bind(import_id)
        .fetch_all(conn)
        .await
        .step("import_rows::all")
}

/// A row of the preview's page, as read.
#[derive(sqlx::FromRow)]
struct PreviewRow {
    line: i64,
    email: String,
    name: String,
    roles: String,
    places: String,
    verdict: String,
    detail: String,
    dropped: i64,
}

/// A row's verdict and what it imports, as stored.
#[derive(Debug, PartialEq, Eq, sqlx::FromRow)]
struct StoredVerdict {
    line: i64,
    verdict: String,
    detail: String,
    address: Option<String>,
    grants: Option<String>,
    existing_user_id: Option<String>,
}

/// Writes the verdicts that changed.
async fn save_verdicts(conn: &mut Conn, import_id: &str, rows: &[StoredRow], judged: &[Judged]) -> Result<(), AppError> {
    let before: Vec<StoredVerdict> =
        sqlx::query_as("SELECT line, verdict, detail, address, grants, existing_user_id FROM import_rows WHERE import_id = $1 ORDER BY line")
            .bind(import_id)
            .fetch_all(&mut *conn)
            .await
            .step("import_rows::verdicts")?;
    let before: HashMap<i64, StoredVerdict> = before.into_iter().map(|v| (v.line, v)).collect();
    for (row, j) in rows.iter().zip(judged) {
        let now = StoredVerdict {
            line: row.line,
            verdict: j.verdict.as_str().to_string(),
            detail: j.detail.clone(),
            address: j.address.clone(),
            grants: Some(Grant::to_param(&j.grants)),
            existing_user_id: j.existing_user_id.clone(),
        };
        if before.get(&row.line) == Some(&now) {
            continue;
        }
        sqlx::query("UPDATE import_rows SET verdict = $1, detail = $2, address = $3, grants = $4, existing_user_id = $5 WHERE import_id = $6 AND line = $7")
            .bind(now.verdict)
            .bind(now.detail)
            .bind(now.address)
            .bind(now.grants)
            .bind(now.existing_user_id)
            .bind(import_id)
            .bind(row.line)
            .execute(&mut *conn)
            .await
            .step("import_rows::update")?;
    }
    Ok(())
}

/// The refusal of a change to an import that was confirmed.
const ALREADY_STARTED: &str = "This import has already started; its rows can no longer change.";

/// Drops or restores a row, or answers its likely typo; every verdict is judged again (a row
/// restored can make another a duplicate). The judging reads outside the write transaction,
/// so a large file does not hold SQLite's one writer while it is judged; confirming judges
/// everything again anyway.
pub async fn change_row(state: &AppState, actor: &Actor, id: &str, line: u64, change: RowChange) -> Result<(), AppError> {
    let sql = match change {
        RowChange::Drop => "UPDATE import_rows SET dropped = 1 WHERE import_id = $1 AND line = $2",
        RowChange::Restore => "UPDATE import_rows SET dropped = 0 WHERE import_id = $1 AND line = $2",
        RowChange::AcceptSuggestion => "UPDATE import_rows SET typo_choice = 'accept' WHERE import_id = $1 AND line = $2",
        RowChange::KeepAsTyped => "UPDATE import_rows SET typo_choice = 'keep' WHERE import_id = $1 AND line = $2",
    };
    let import_id = {
        let mut tx = state.db.write_tx().await.step("begin write transaction")?;
        let import = visible(&mut tx, actor, id).await?;
        if import.state != ImportState::Preview {
            return Err(AppError::InvalidState(ALREADY_STARTED.into()));
        }
        let changed = sqlx::query(sql).bind(&import.id).bind(line as i64).execute(&mut *tx).await.step("import_rows::change")?;
        if changed.rows_affected() == 0 {
            return Err(AppError::NotFound);
        }
        tx.commit().await.step("commit")?;
        import.id
    };
    let (rows, judged) = {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        let rows = stored_rows(&mut conn, &import_id).await?;
        let judged = judge_all(state, &mut conn, actor, &rows, ImportMode::SendInvites).await?;
        (rows, judged)
    };
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    // Confirmed meanwhile: the confirmation's own verdicts stand (this also locks the import
    // row on PostgreSQL until the verdicts are saved).
    let still = sqlx::query("UPDATE imports SET updated_at = updated_at WHERE id = $1 AND state = $2")
        .bind(&import_id)
        .bind(ImportState::Preview.as_str())
        .execute(&mut *tx)
        .await
        .step("imports::still_preview")?;
    if still.rows_affected() != 1 {
        return Err(AppError::InvalidState(ALREADY_STARTED.into()));
    }
    save_verdicts(&mut tx, &import_id, &rows, &judged).await?;
    tx.commit().await.step("commit")?;
    Ok(())
}

/// Confirms the import: judges every row again, as the account is now, and starts the job
/// that stages and then publishes the importable ones.
pub async fn start(state: &AppState, actor: &Actor, id: &str, mode: ImportMode) -> Result<ImportView, AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let import = visible(&mut tx, actor, id).await?;
    // Out of Preview first, on the condition that it still is: of two confirmations at once
    // (a double click, two admins), the second waits for the first and then changes nothing.
    let moved = sqlx::query("UPDATE imports SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4")
        .bind(ImportState::Importing.as_str())
        .bind(now)
        .bind(&import.id)
        .bind(ImportState::Preview.as_str())
        .execute(&mut *tx)
        .await
        .step("imports::confirm")?;
    if moved.rows_affected() != 1 {
        return Err(AppError::InvalidState(ALREADY_STARTED.into()));
    }
    if mode == ImportMode::SendInvites {
        budget::hold(&mut tx, state.db.engine(), &actor.account_id).await?;
    }
    let rows = stored_rows(&mut tx, &import.id).await?;
    let judged = judge_all(state, &mut tx, actor, &rows, mode).await?;
    save_verdicts(&mut tx, &import.id, &rows, &judged).await?;
    let lines: Vec<String> = rows.iter().zip(&judged).filter(|(_, j)| j.verdict.imports()).map(|(r, _)| r.line.to_string()).collect();
    if lines.is_empty() {
        return Err(AppError::Validation("No row of this file can be imported: the preview says why for each.".into()));
    }
    let job_id = new_id();
    let words = format!("{} ({} rows)", import.file_name, shared::bulk::thousands(lines.len() as u64));
    let job = NewJob {
        id: &job_id,
        account_id: &actor.account_id,
        action: BulkAction::Import,
        started_by: &actor.user_id,
        api_token_id: actor.api_token.as_ref().map(|t| t.id.as_str()),
        selection: &words,
        people: &lines,
    };
    store::jobs::insert(&mut tx, job, now).await.step("jobs::insert")?;
    sqlx::query("UPDATE imports SET state = $1, mode = $2, job_id = $3, updated_at = $4 WHERE id = $5")
        .bind(ImportState::Importing.as_str())
        .bind(mode.as_str())
        .bind(&job_id)
        .bind(now)
        .bind(&import.id)
        .execute(&mut *tx)
        .await
        .step("imports::start")?;
    let details =
        serde_json::json!({ "action": BulkAction::Import.as_str(), "selection": words, "people": lines.len(), "import": import.id, "mode": mode.as_str() });
    jobs::record(&mut tx, &actor.account_id, Some(&actor.user_id), AuditAction::JobStarted, &job_id, details, now).await?;
    tx.commit().await.step("commit")?;
    tracing::info!(import = %import.id, job = %job_id, rows = lines.len(), "import started");
    jobs::run_small_or_wake(state, &job_id, lines.len()).await?;
    get(state, actor, id, None, 0).await
}

/// A staged row, as the job's batches read it.
#[derive(sqlx::FromRow)]
struct RowToStage {
    line: i64,
    name: String,
    message: Option<String>,
    address: Option<String>,
    grants: Option<String>,
    existing_user_id: Option<String>,
}

/// The import a job imports.
async fn of_job(conn: &mut Conn, job_id: &str) -> Result<Option<ImportRecord>, AppError> {
    sqlx::query_as(&format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE job_id = $1")).bind(job_id).fetch_optional(conn).await.step("imports::of_job")
}

/// Stages a batch of the job's rows in the caller's transaction; the outcome of each item.
/// A row that can no longer be imported as judged (its person was invited meanwhile, their
/// mailbox had its hour's emails) is skipped with the reason.
pub(crate) async fn stage(
    tx: &mut Conn,
    engine: store::Engine,
    job: &JobRecord,
    actor: &Actor,
    account: &AccountRecord,
    items: &[ClaimedItem],
    now: i64,
) -> Result<Vec<ItemOutcome>, AppError> {
    let import = of_job(tx, &job.id).await?.step("imports: the job's import must exist")?;
    let mode = import.mode.as_deref().and_then(ImportMode::parse).step("imports: a known mode")?;
    let catalogue = Catalogue::load(tx, &account.id).await?;
    let expires_at = account.invitation_expiry_days.expiry_from(now);
    let mut outcomes = Vec::with_capacity(items.len());
    // Whether each set of grants may still be given, by the starter as they are now (demoted
    // meanwhile, a place archived meanwhile): asked once per set.
    let mut givable: HashMap<Vec<Grant>, Option<SkipReason>> = HashMap::new();
    // What every row of the batch needs to be decided is read in three statements, not three
    // per row (round trips are most of a row's cost on PostgreSQL).
    let lines = items.iter().map(|item| item.user_id.parse::<i64>().ok()).collect::<Option<Vec<i64>>>().step("imports: an item names its line")?;
    let mut rows = rows_to_stage(tx, &import.id, &lines).await?;
    let addresses: Vec<&str> = rows.values().filter(|r| r.existing_user_id.is_none()).filter_map(|r| r.address.as_deref()).collect();
    let found = store::users::find_all_in_account(tx, &account.id, &addresses).await.step("users::find_all_in_account")?;
    let taken: HashSet<String> = found.into_iter().map(|user| user.email).collect();
    let counters = match mode {
        ImportMode::SendInvites => {
            let keys: Vec<String> = rows.values().filter_map(|r| r.address.as_deref()).map(|a| store::outbox::send_budget_key(&account.id, a)).collect();
            store::rate_limits::counters(&mut *tx, &keys).await.step("rate_limits::counters")?
        }
        ImportMode::ProfileOnly => HashMap::new(),
    };
    let mut staged_lines = Vec::with_capacity(items.len());
    let mut staged_grants: Vec<(i64, Grant)> = Vec::new();
    for line in lines {
        let Some(row) = rows.remove(&line) else {
            outcomes.push(ItemOutcome::Skipped(SkipReason::Gone));
            continue;
        };
        let address = Email::parse(row.address.as_deref().unwrap_or_default()).step("imports: a staged row has an address")?;
        let mut grants = row.grants.as_deref().and_then(Grant::parse_param).unwrap_or_default();
        let mut replaces = None;
        let user_id = match &row.existing_user_id {
            Some(user_id) => {
                let user = store::users::get(tx, user_id).await.step("users::get")?.filter(|u| u.account_id == account.id);
                let Some(user) = user else {
                    outcomes.push(ItemOutcome::Skipped(SkipReason::Gone));
                    continue;
                };
                match plan_for_existing(tx, actor, &user, &grants, now).await {
                    Ok((offered, old)) => {
                        grants = offered;
                        replaces = old.map(|o| o.id);
                    }
                    Err(Refused::Skip { reason, .. }) => {
                        outcomes.push(ItemOutcome::Skipped(reason));
                        continue;
                    }
                    Err(Refused::Error(error)) => return Err(error),
                }
                user.id
            }
            None => {
                if taken.contains(address.as_str()) {
                    outcomes.push(ItemOutcome::Skipped(SkipReason::ChangedMeanwhile));
                    continue;
                }
                new_id()
            }
        };
        if !givable.contains_key(&grants) {
            let refused = match actor.authority.may_act_on(&grants) {
                Err(denied) => Some(SkipReason::from(denied)),
                Ok(()) => match check_grants(tx, engine, actor, &grants).await {
                    Ok(()) => None,
                    Err(AppError::Forbidden(denied)) => Some(SkipReason::from(denied)),
                    Err(AppError::Validation(_) | AppError::InvalidState(_)) => Some(SkipReason::NotNow),
                    Err(other) => return Err(other),
                },
            };
            givable.insert(grants.clone(), refused);
        }
        if let Some(Some(reason)) = givable.get(&grants) {
            outcomes.push(ItemOutcome::Skipped(*reason));
            continue;
        }
        if mode == ImportMode::SendInvites {
            let key = store::outbox::send_budget_key(&account.id, address.as_str());
            if super::rate_limit::reached(counters.get(&key).copied(), store::outbox::SENDS_PER_RECIPIENT, now) {
                outcomes.push(ItemOutcome::Skipped(SkipReason::RecipientLimit));
                continue;
            }
        }
        let invitation_id = new_id();
        let (subject, text, html) = match mode {
            ImportMode::SendInvites => {
                let mut labels: Vec<(bool, String)> = grants.iter().map(|g| (g.scope_id != catalogue.account_scope, catalogue.label(g))).collect();
                labels.sort();
                let email = InvitationEmail {
                    account_name: account.name.clone(),
                    inviter_name: actor.name.clone(),
                    invitee_email: address.to_string(),
                    role_labels: labels.into_iter().map(|(_, l)| l).collect(),
                    personal_message: row.message.clone(),
                    link: templates::LINK_PLACEHOLDER.to_string(),
                    expires_at: chrono::DateTime::from_timestamp_millis(expires_at).step("the expiry must be a valid time")?,
                };
                let rendered = templates::invitation(&email);
                (Some(rendered.subject), Some(rendered.text), Some(rendered.html))
            }
            ImportMode::ProfileOnly => (None, None, None),
        };
        let details = serde_json::json!({ "email": address.as_str(), "grants": grants, "import": import.id });
        sqlx::query(
            "UPDATE import_rows SET staged = 1, user_id = $1, invitation_id = $2, replaces_invitation_id = $3, name_folded = $4, sort_name = $5, \
               expires_at = $6, audit_id = $7, audit_details = $8, outbox_id = $9, subject = $10, text_body = $11, html_body = $12 \
             WHERE import_id = $13 AND line = $14",
        )
        .bind(&user_id)
        .bind(&invitation_id)
        .bind(replaces)
        .bind(store::users::folded(&row.name))
        .bind(store::users::sort_name(&row.name, address.as_str()))
        .bind(expires_at)
        .bind(new_id())
        .bind(details.to_string())
        .bind((mode == ImportMode::SendInvites).then(new_id))
        .bind(subject)
        .bind(text)
        .bind(html)
        .bind(&import.id)
        .bind(row.line)
        .execute(&mut *tx)
        .await
        .step("import_rows::stage")?;
        staged_lines.push(row.line);
        staged_grants.extend(grants.into_iter().map(|grant| (row.line, grant)));
        outcomes.push(ItemOutcome::Done);
    }
    stage_grants(tx, &import.id, &staged_lines, &staged_grants).await?;
    Ok(outcomes)
}

/// The rows of `lines` still in the import, by line.
async fn rows_to_stage(tx: &mut Conn, import_id: &str, lines: &[i64]) -> Result<HashMap<i64, RowToStage>, AppError> {
    if lines.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT line, name, message, address, grants, existing_user_id FROM import_rows WHERE import_id = $1 AND line IN ({})",
        store::placeholders(2, lines.len())
    );
    let mut query = sqlx::query_as::<_, RowToStage>(&sql).bind(import_id);
    for line in lines {
        query = query.bind(*line);
    }
    let rows = query.fetch_all(&mut *tx).await.step("import_rows::get")?;
    Ok(rows.into_iter().map(|row| (row.line, row)).collect())
}

/// The grants the staged `lines` will give, replacing what an earlier attempt at the batch
/// staged: one DELETE, and one INSERT per hundred grants.
async fn stage_grants(tx: &mut Conn, import_id: &str, lines: &[i64], grants: &[(i64, Grant)]) -> Result<(), AppError> {
    if lines.is_empty() {
        return Ok(());
    }
    let sql = format!("DELETE FROM import_grants WHERE import_id = $1 AND line IN ({})", store::placeholders(2, lines.len()));
    let mut query = sqlx::query(&sql).bind(import_id);
    for line in lines {
        query = query.bind(*line);
    }
    query.execute(&mut *tx).await.step("import_grants::clear")?;
    for chunk in grants.chunks(100) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("($1, ${}, ${}, ${})", 2 + 3 * i, 3 + 3 * i, 4 + 3 * i)).collect();
        let sql = format!("INSERT INTO import_grants (import_id, line, scope_id, role) VALUES {}", values.join(", "));
        let mut query = sqlx::query(&sql).bind(import_id);
        for (line, grant) in chunk {
            query = query.bind(*line).bind(&grant.scope_id).bind(grant.role.as_stored());
        }
        query.execute(&mut *tx).await.step("import_grants::insert")?;
    }
    Ok(())
}

/// Makes every staged row live, in the transaction of the job's last batch: the people, their
/// invitations and roles, the emails, the per-recipient counters and the audit lines, each in
/// one statement. `Err(why)` when the account changed under the import so that it cannot be
/// published whole (the caller rolls back and fails the job with it).
pub(crate) async fn publish(tx: &mut Conn, state: &AppState, job: &JobRecord, actor: &Actor, now: i64) -> Result<Result<u64, String>, AppError> {
    let import = of_job(tx, &job.id).await?.step("imports: the job's import must exist")?;
    let mode = import.mode.as_deref().and_then(ImportMode::parse).step("imports: a known mode")?;
    let id = import.id.as_str();
    let staged = "FROM import_rows r WHERE r.import_id = $1 AND r.staged = 1";

    let taken: Option<String> = sqlx::query_scalar(&format!(
        "SELECT r.address {staged} AND r.existing_user_id IS NULL AND EXISTS (SELECT 1 FROM users u WHERE u.account_id = $2 AND u.email = r.address) LIMIT 1"
    ))
    .bind(id)
    .bind(&import.account_id)
    .fetch_optional(&mut *tx)
    .await
    .step("imports::taken")?;
    if let Some(address) = taken {
        return Ok(Err(format!("{address} was added to the account while the import ran; nothing was imported. Upload the file again")));
    }
    // An existing person deactivated or deleted since their row was staged is not invited back
    // (their rows locked first on PostgreSQL, so a deactivation cannot slip in meanwhile).
    sqlx::query(&format!(
        "SELECT u.id FROM users u WHERE u.id IN (SELECT r.existing_user_id {staged} AND r.existing_user_id IS NOT NULL) ORDER BY u.id{}",
        store::RowLock::Share.clause(state.db.engine())
    ))
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .step("imports::lock_existing")?;
    let gone: Option<String> = sqlx::query_scalar(&format!(
        "SELECT r.address {staged} AND r.existing_user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = r.existing_user_id \
           AND u.account_id = $2 AND u.status <> '{deactivated}') LIMIT 1",
        deactivated = StoredUserStatus::Deactivated.as_str()
    ))
    .bind(id)
    .bind(&import.account_id)
    .fetch_optional(&mut *tx)
    .await
    .step("imports::gone")?;
    if let Some(address) = gone {
        return Ok(Err(format!("{address} was deactivated or deleted while the import ran; nothing was imported. Upload the file again")));
    }
    // Every role staged by every batch, asked again of the importer as they are now: a batch
    // checked only its own rows, and the importer may have been demoted (or a place archived)
    // after an earlier one.
    let staged_grants: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT g.scope_id, g.role FROM import_grants g JOIN import_rows r ON r.import_id = g.import_id AND r.line = g.line \
         WHERE g.import_id = $1 AND r.staged = 1 ORDER BY g.scope_id, g.role",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await
    .step("imports::staged_grants")?;
    let grants = staged_grants
        .into_iter()
        .map(|(scope_id, role)| RoleKey::parse_stored(&role).map(|role| Grant::new(scope_id, role)))
        .collect::<Option<Vec<Grant>>>()
        .step("imports: a staged grant names a role")?;
    let refused = match actor.authority.may_act_on(&grants) {
        Err(denied) => Some(SkipReason::from(denied).label()),
        Ok(()) => match check_grants(tx, state.db.engine(), actor, &grants).await {
            Ok(()) => None,
            Err(AppError::Forbidden(denied)) => Some(SkipReason::from(denied).label()),
            Err(AppError::Validation(why) | AppError::InvalidState(why)) => Some(why),
            Err(other) => return Err(other),
        },
    };
    if let Some(why) = refused {
        return Ok(Err(format!("The roles of the file can no longer all be given ({}); nothing was imported", why.trim_end_matches('.'))));
    }
    let invited: Option<String> = sqlx::query_scalar(&format!(
        "SELECT r.address {staged} AND r.existing_user_id IS NOT NULL AND EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = r.user_id \
           AND i.state = '{pending}' AND (r.replaces_invitation_id IS NULL OR i.id <> r.replaces_invitation_id)) LIMIT 1",
        pending = StoredInvitationState::Pending.as_str()
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .step("imports::invited")?;
    if let Some(address) = invited {
        return Ok(Err(format!("{address} was invited while the import ran; nothing was imported. Upload the file again")));
    }
    let replaced: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {staged} AND r.replaces_invitation_id IS NOT NULL"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .step("imports::replaced")?;
    let cancelled = sqlx::query(&format!(
        "UPDATE invitations SET state = $2, cancelled_at = $3, cancelled_by = $4 WHERE state = $5 AND id IN (SELECT r.replaces_invitation_id {staged})"
    ))
    .bind(id)
    .bind(StoredInvitationState::Cancelled.as_str())
    .bind(now)
    .bind(&actor.user_id)
    .bind(StoredInvitationState::Pending.as_str())
    .execute(&mut *tx)
    .await
    .step("imports::cancel_replaced")?;
    if cancelled.rows_affected() as i64 != replaced {
        return Ok(Err("an expired invitation the import replaces changed while it ran; nothing was imported. Upload the file again".into()));
    }

    let status = match mode {
        ImportMode::SendInvites => StoredUserStatus::Invited,
        ImportMode::ProfileOnly => StoredUserStatus::ProfileOnly,
    };
    let created = sqlx::query(&format!(
        "INSERT INTO users (id, account_id, email, name, name_folded, sort_name, status, created_at, updated_at) \
         SELECT r.user_id, $2, r.address, r.name, r.name_folded, r.sort_name, $3, $4, $4 {staged} AND r.existing_user_id IS NULL"
    ))
    .bind(id)
    .bind(&import.account_id)
    .bind(status.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await
    .step("imports::users")?;
    sqlx::query(&format!(
        "UPDATE users SET status = $2, updated_at = $3 WHERE status <> $4 AND id IN (SELECT r.user_id {staged} AND r.existing_user_id IS NOT NULL)"
    ))
    .bind(id)
    .bind(StoredUserStatus::Invited.as_str())
    .bind(now)
    .bind(StoredUserStatus::Active.as_str())
    .execute(&mut *tx)
    .await
    .step("imports::existing_users")?;
    // Profile only: the roles are kept on an invitation never sent (cancelled as made), which
    // "Invite user to activate account" sends later, as for anyone Profile only.
    let (state_now, send_count, cancelled_at) = match mode {
        ImportMode::SendInvites => (StoredInvitationState::Pending, 1i64, None),
        ImportMode::ProfileOnly => (StoredInvitationState::Cancelled, 0i64, Some(now)),
    };
    sqlx::query(&format!(
        "INSERT INTO invitations (id, account_id, user_id, invited_by, state, personal_message, created_at, expires_at, last_sent_at, send_count, cancelled_at) \
         SELECT r.invitation_id, $2, r.user_id, $3, $4, r.message, $5, r.expires_at, $5, $6, $7 {staged}"
    ))
    .bind(id)
    .bind(&import.account_id)
    .bind(&actor.user_id)
    .bind(state_now.as_str())
    .bind(now)
    .bind(send_count)
    .bind(cancelled_at)
    .execute(&mut *tx)
    .await
    .step("imports::invitations")?;
    sqlx::query(
        "INSERT INTO invitation_roles (invitation_id, scope_id, role) SELECT r.invitation_id, g.scope_id, g.role FROM import_grants g \
         JOIN import_rows r ON r.import_id = g.import_id AND r.line = g.line WHERE g.import_id = $1 AND r.staged = 1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .step("imports::invitation_roles")?;
    sqlx::query(&format!("UPDATE users SET {} WHERE id IN (SELECT r.user_id {staged})", store::users::open_invitation_assignments()))
        .bind(id)
        .execute(&mut *tx)
        .await
        .step("imports::sync_users")?;

    let mut queued = 0;
    if mode == ImportMode::SendInvites {
        // The account's budget held while it is counted (PostgreSQL), as every sender does.
        budget::hold(tx, state.db.engine(), &import.account_id).await?;
        let done = sqlx::query(&format!(
            "INSERT INTO outbox (id, account_id, kind, recipient, subject, text_body, html_body, invitation_id, state, attempts, \
                                 next_attempt_at, created_at, updated_at, sent_by, priority) \
             SELECT r.outbox_id, $2, $3, r.address, r.subject, r.text_body, r.html_body, r.invitation_id, $4, 0, $5, $5, $5, $6, $7 {staged}"
        ))
        .bind(id)
        .bind(&import.account_id)
        .bind(MessageKind::Invitation.as_str())
        .bind(DeliveryState::Queued.as_str())
        .bind(now)
        .bind(&actor.user_id)
        .bind(Priority::Bulk as i32)
        .execute(&mut *tx)
        .await
        .step("imports::outbox")?;
        queued = done.rows_affected() as i64;
        let window = store::outbox::SENDS_PER_RECIPIENT.window.as_millis() as i64;
        sqlx::query(&format!(
            "INSERT INTO rate_limits (key, window_start, hits) SELECT $2 || r.address, $3, 1 {staged} {}",
            store::rate_limits::on_conflict_count("$3", "$4")
        ))
        .bind(id)
        .bind(store::outbox::send_budget_key(&import.account_id, ""))
        .bind(now)
        .bind(now - window)
        .execute(&mut *tx)
        .await
        .step("imports::send_counters")?;
        match budget::check_queued(tx, state.mail_limits, &import.account_id, &actor.user_id, queued, now).await {
            Ok(()) => {}
            Err(AppError::InvalidState(why)) => return Ok(Err(format!("{} Nothing was imported", why.trim_end_matches('.')))),
            Err(other) => return Err(other),
        }
    }

    let (action, target) = match mode {
        ImportMode::SendInvites => (AuditAction::InvitationCreated, "'invitation', r.invitation_id"),
        ImportMode::ProfileOnly => (AuditAction::UserImported, "'user', r.user_id"),
    };
    sqlx::query(&format!(
        "INSERT INTO audit_events (id, account_id, actor_user_id, action, target_type, target_id, details, at, subject_user_id) \
         SELECT r.audit_id, $2, $3, $4, {target}, r.audit_details, $5, r.user_id {staged}"
    ))
    .bind(id)
    .bind(&import.account_id)
    .bind(&actor.user_id)
    .bind(action.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await
    .step("imports::audit")?;
    sqlx::query(
        "INSERT INTO audit_event_places (event_id, scope_id, action, actor_user_id, at) SELECT DISTINCT r.audit_id, g.scope_id, $2, $3, $4 \
         FROM import_grants g JOIN import_rows r ON r.import_id = g.import_id AND r.line = g.line WHERE g.import_id = $1 AND r.staged = 1",
    )
    .bind(id)
    .bind(action.as_str())
    .bind(&actor.user_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .step("imports::audit_places")?;
    if mode == ImportMode::SendInvites {
        let invited: Vec<String> =
            sqlx::query_scalar(&format!("SELECT r.invitation_id {staged} ORDER BY r.line")).bind(id).fetch_all(&mut *tx).await.step("imports::invited")?;
        let invited: Vec<&str> = invited.iter().map(String::as_str).collect();
        crate::services::webhooks::events::invitations_created(tx, &import.account_id, &actor.user_id, &invited, now)
            .await
            .step("webhooks::invitations_created")?;
    }
    sqlx::query("UPDATE imports SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(ImportState::Done.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .step("imports::done")?;
    tracing::info!(import = %id, created = created.rows_affected(), queued, "import published");
    Ok(Ok(created.rows_affected()))
}

/// The import of a job that failed: nothing of it is live; it says why.
pub(crate) async fn fail(tx: &mut Conn, job_id: &str, because: &str, now: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE imports SET state = $1, failed_because = $2, updated_at = $3 WHERE job_id = $4 AND state = $5")
        .bind(ImportState::Failed.as_str())
        .bind(because)
        .bind(now)
        .bind(job_id)
        .bind(ImportState::Importing.as_str())
        .execute(&mut *tx)
        .await
        .step("imports::fail")?;
    Ok(())
}

/// The columns of the rejected rows' report.
const REPORT_HEADER: [&str; 8] = ["Line", "Email", "Name", "Role", "Place", "Verdict", "Why", "Verdict code"];

/// The rows not imported (or, before the import, those that will not be), with why: the
/// preview's verdict, or the reason the job skipped the row.
pub async fn report_csv(state: &AppState, actor: &Actor, id: &str) -> Result<Vec<u8>, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let import = visible(&mut conn, actor, id).await?;
    let skipped: HashMap<i64, String> = match &import.job_id {
        Some(job_id) => {
            let items = store::jobs::items(&mut conn, job_id).await.step("jobs::items")?;
            let reasons: Vec<(i64, Option<String>)> = sqlx::query_as("SELECT seq, reason FROM job_items WHERE job_id = $1 AND reason IS NOT NULL")
                .bind(job_id)
                .fetch_all(&mut *conn)
                .await
                .step("job_items::reasons")?;
            let reasons: HashMap<i64, String> = reasons.into_iter().filter_map(|(seq, r)| Some((seq, r?))).collect();
            items.into_iter().filter_map(|(seq, line, _, _)| Some((line.parse().ok()?, reasons.get(&seq)?.clone()))).collect()
        }
        None => HashMap::new(),
    };
    let rows: Vec<(i64, String, String, String, String, String, String)> =
        sqlx::query_as("SELECT line, email, name, roles, places, verdict, detail FROM import_rows WHERE import_id = $1 ORDER BY line")
            .bind(&import.id)
            .fetch_all(&mut *conn)
            .await
            .step("import_rows::report")?;
    let mut out = CsvOut::with_header(&REPORT_HEADER)?;
    for (line, email, name, roles, places, verdict, detail) in rows {
        let Some(verdict) = Verdict::parse(&verdict) else { continue };
        if let Some(reason) = skipped.get(&line) {
            let why = SkipReason::parse(reason).map(|r| r.label()).unwrap_or_default();
            out.row(&[line.to_string(), email, name, roles, places, "Skipped".to_string(), why, reason.clone()])?;
        } else if !verdict.imports() {
            out.row(&[line.to_string(), email, name, roles, places, verdict.label().to_string(), verdict.explain(&detail), verdict.as_str().to_string()])?;
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<RawRow> {
        parse(text.as_bytes(), 100).unwrap().rows
    }

    #[test]
    fn a_file_with_a_mark_crlf_and_quoted_newlines_reads_as_its_rows() {
        let text = "\u{feff}Email,Name,Role\r\n\"ada@example.com\",\"Lovelace, Ada\",Admin\r\n\r\nbob@example.com,\"Bob \"\"B\"\"\nSmith\",Member\r\n";
        let parsed = parse(text.as_bytes(), 100).unwrap();
        assert_eq!(parsed.delimiter, Delimiter::Comma);
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(parsed.rows[0].name, "Lovelace, Ada");
        assert_eq!(parsed.rows[0].line, 2);
        assert_eq!(parsed.rows[1].name, "Bob \"B\"\nSmith");
        assert_eq!(parsed.rows[1].line, 4);
    }

    #[test]
    fn semicolons_and_tabs_are_detected_and_columns_come_in_any_order() {
        let semi = rows("role;EMAIL;place\nMember;zoë@example.com;Sales;Research\n");
        assert_eq!((semi[0].email.as_str(), semi[0].role_and_place()), ("zoë@example.com", ("Member", "Sales")));
        let tab = rows("name\temail\trole\nJosé Müller\tjose@example.com\tHR\n");
        assert_eq!((tab[0].name.as_str(), tab[0].email.as_str(), tab[0].roles.as_str()), ("José Müller", "jose@example.com", "HR"));
        let listed = rows("email,role,place\nada@example.com,\"Member;Curator\",\"Sales; Research\"\n");
        assert_eq!(split_list(&listed[0].roles), vec!["Member", "Curator"]);
        assert_eq!(split_list(&listed[0].places), vec!["Sales", "Research"]);
    }

    impl RawRow {
        fn role_and_place(&self) -> (&str, &str) {
            (self.roles.as_str(), self.places.as_str())
        }
    }

    #[test]
    fn formula_cells_are_read_as_text() {
        let parsed = rows("email,name\nada@example.com,=HYPERLINK(\"http://evil.example\")\n");
        assert_eq!(parsed[0].name, "=HYPERLINK(\"http://evil.example\")");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert_eq!(parse(b"", 10), Err(UploadError::Empty));
        assert_eq!(parse(b"\xEF\xBB\xBF \r\n", 10), Err(UploadError::Empty));
        assert_eq!(parse(b"email\n", 10), Err(UploadError::Empty));
        assert_eq!(parse(b"PK\x03\x04\x00\x00binary", 10), Err(UploadError::Binary));
        assert_eq!(parse(b"email,name\na@example.com,Ok\nb@example.com,Bj\xF6rk\n", 10), Err(UploadError::NotUtf8 { line: 3 }));
        assert_eq!(parse(b"name,role\nAda,Admin\n", 10), Err(UploadError::NoEmailColumn));
        let many: String = std::iter::once("email\n".to_string()).chain((0..11).map(|i| format!("p{i}@example.com\n"))).collect();
        assert_eq!(parse(many.as_bytes(), 10), Err(UploadError::TooManyRows { max_rows: 10 }));
        assert!(parse(many.as_bytes(), 11).is_ok());
    }

    #[test]
    fn blank_rows_are_skipped_and_missing_cells_are_empty() {
        let parsed = rows("email,name,role\n,,\nada@example.com\n");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].line, 3);
        assert_eq!(parsed[0].name, "");
    }
}
