//! Bulk actions as durable jobs. Starting one resolves the selection on the server (ticked
//! rows, or everyone matching a filter, as the starter may see them), writes the job and one
//! item per person in one transaction, and leaves the rest to the runner; up to
//! [`DONE_IN_REQUEST`] people are done before the request answers.
//!
//! The runner claims items in leased batches. Each batch is one transaction holding, per
//! person (under a savepoint), the change, its email (outbox, bulk priority), its audit line
//! and the item's outcome: a crash leaves a person wholly done or wholly not, and an item
//! settled by one worker is never done again by another. Each person is decided by the same
//! function, and the same rule, as the single action; the starter is loaded again for each
//! batch, so a starter demoted or deactivated meanwhile stops or skips what they lost.

use super::audit::{self, AuditEvent};
use super::checkpoints::points;
use super::csv_out::CsvOut;
use super::error::{Refused, Step};
use super::invitations::service::{self as invitation_service, OnePerson};
use super::mail::budget;
use super::mail::outbox::Priority;
use super::mail::worker::DeliveryConfig;
use super::store::accounts::AccountRecord;
use super::store::jobs::{self as store, ClaimedItem, JobRecord, NewJob};
use super::store::user_list::{self, ListedUser};
use super::store::{accounts, new_id, scopes, users as user_store, Conn};
use super::{auth, imports, people, users, Actor, AppState};
use shared::audit::AuditAction;
use shared::bulk::{
    thousands, BulkAction, ItemOutcome, JobState, JobView, PerPerson, Selection, SkipCount, SkipReason, DONE_IN_REQUEST, MAX_JOB_PEOPLE, MAX_TICKED,
};
use shared::permissions::{Denied, Permission};
use shared::views::UsersQuery;
use shared::AppError;
use std::time::Duration;

/// How long the jobs lane leaves SQLite's write lock to others between two batches.
const BATCH_PAUSE_SQLITE: Duration = Duration::from_millis(15);

/// An import's batch is this many times a person action's: staging a row writes only the
/// import's own tables (about 0.2 ms a row on SQLite, measured), so a batch of 400 holds the
/// write lock about as long as 100 people's invitations and emails do, and 10,000 rows pause
/// 25 times between batches instead of 100.
pub const IMPORT_BATCH_FACTOR: i64 = 4;

/// How a runner (or a request doing a small job itself) claims items.
#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// The lease holder written on claimed items (a `WorkerId`).
    pub worker: String,
    pub batch: i64,
    pub lease: Duration,
}

impl From<&DeliveryConfig> for JobsConfig {
    fn from(config: &DeliveryConfig) -> JobsConfig {
        JobsConfig { worker: config.worker.to_string(), batch: config.job_batch, lease: config.lease }
    }
}

/// Who may see a job: its starter, and everyone who manages the whole account.
fn may_see(actor: &Actor, job: &JobRecord) -> bool {
    job.account_id == actor.account_id && (job.started_by == actor.user_id || actor.authority.manages_account())
}

/// The job `id` if `actor` may see it: 404 when the account has no such job, 403 when it is
/// another person's (and `actor` does not manage the whole account).
async fn visible_job(conn: &mut Conn, actor: &Actor, id: &str) -> Result<JobRecord, AppError> {
    actor.require(Permission::ViewUsers)?;
    let job = store::get(conn, id).await.step("jobs::get")?.filter(|job| job.account_id == actor.account_id).ok_or(AppError::NotFound)?;
    match may_see(actor, &job) {
        true => Ok(job),
        false => Err(AppError::Forbidden(Denied::NotPermitted)),
    }
}

/// The people a selection names, as `actor` may see them, and the selection in words.
async fn resolve(state: &AppState, conn: &mut Conn, actor: &Actor, selection: &Selection, now: i64) -> Result<(Vec<String>, String), AppError> {
    match selection {
        Selection::People(ids) => {
            if ids.len() > MAX_TICKED {
                return Err(AppError::Validation(format!(
                    "Tick at most {} people one by one; for more, select everyone matching a filter.",
                    thousands(MAX_TICKED as u64)
                )));
            }
            let mut seen = std::collections::HashSet::with_capacity(ids.len());
            let ids: Vec<String> = ids.iter().filter(|id| shared::url::is_id(id) && seen.insert(id.as_str())).cloned().collect();
            let everyone = UsersQuery::default();
            let filter = users::list_filter(state, actor, &everyone, "", now, 1);
            let visible = user_list::visible_among(conn, &filter, &ids).await.step("user_list::visible_among")?;
            let words = match ids.len() {
                1 => "1 person selected".to_string(),
                n => format!("{} people selected", thousands(n as u64)),
            };
            Ok((visible, words))
        }
        Selection::Matching(query) => {
            let query = UsersQuery::from_query_string(query);
            if let Some(scope) = &query.scope {
                if !actor.authority.reaches(scope) {
                    return Err(AppError::Forbidden(Denied::OutsideYourScopes));
                }
            }
            let search = user_store::folded(query.search.trim());
            let filter = users::list_filter(state, actor, &query, &search, now, 1);
            let ids = user_list::matching_ids(conn, &filter, MAX_JOB_PEOPLE as i64 + 1).await.step("user_list::matching_ids")?;
            if ids.len() > MAX_JOB_PEOPLE {
                return Err(AppError::Validation(format!(
                    "More than {} people match this filter, and a bulk action reaches at most that many. Narrow the filter down.",
                    thousands(MAX_JOB_PEOPLE as u64)
                )));
            }
            let place = match &query.scope {
                Some(id) => scopes::get(conn, &actor.account_id, id).await.step("scopes::get")?.map(|s| s.name),
                None => None,
            };
            Ok((ids, describe(&query, place.as_deref())))
        }
    }
}

/// How many people "select all matching" `query` selects, exactly, up to one past
/// [`MAX_JOB_PEOPLE`].
pub async fn count_matching(state: &AppState, actor: &Actor, query: &str) -> Result<u64, AppError> {
    actor.require(Permission::ViewUsers)?;
    let query = UsersQuery::from_query_string(query);
    if let Some(scope) = &query.scope {
        if !actor.authority.reaches(scope) {
            return Err(AppError::Forbidden(Denied::OutsideYourScopes));
        }
    }
    let now = state.clock.now_ms();
    let search = user_store::folded(query.search.trim());
    let filter = users::list_filter(state, actor, &query, &search, now, 1);
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let counted = user_list::count_upto(&mut conn, &filter, MAX_JOB_PEOPLE as i64 + 1).await.step("user_list::count_upto")?;
    Ok(counted as u64)
}

/// "Everyone matching: status Expired, place Sales, search "acme"".
fn describe(query: &UsersQuery, place: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(status) = query.status {
        parts.push(format!("status {}", status.label()));
    }
    if let Some(place) = place {
        parts.push(format!("place {place}"));
    }
    if !query.search.trim().is_empty() {
        parts.push(format!("search \u{201c}{}\u{201d}", query.search.trim()));
    }
    match parts.is_empty() {
        true => "Everyone".to_string(),
        false => format!("Everyone matching: {}", parts.join(", ")),
    }
}

/// Starts `action` over `selection`. Up to [`DONE_IN_REQUEST`] people it is done before this
/// returns; more are left to the runner and the job's page shows them go.
pub async fn start(state: &AppState, actor: &Actor, action: BulkAction, selection: Selection) -> Result<JobView, AppError> {
    actor.require(action.permission())?;
    // An import is started from its file (`imports::start`), never on a selection of people.
    if !BulkAction::CHOSEN.contains(&action) {
        return Err(AppError::Validation("Choose an action.".into()));
    }
    let now = state.clock.now_ms();
    let (people, words) = {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        resolve(state, &mut conn, actor, &selection, now).await?
    };
    if people.is_empty() {
        return Err(match selection {
            // Every one ticked is outside the actor's reach: the same refusal as one of them alone.
            Selection::People(ids) if !ids.is_empty() => AppError::Forbidden(Denied::OutsideYourScopes),
            _ => AppError::Validation("No one is selected. Tick people's rows, or select everyone matching a filter.".into()),
        });
    }
    let id = new_id();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    if action.sends_email() {
        budget::hold(&mut tx, state.db.engine(), &actor.account_id).await?;
        let usage = budget::usage(&mut tx, state.mail_limits, &actor.account_id, &actor.user_id, now).await?;
        if usage.left() <= 0 {
            return Err(AppError::InvalidState(usage.refusal(people.len() as i64)));
        }
    }
    let api_token_id = actor.api_token.as_ref().map(|t| t.id.as_str());
    let job = NewJob { id: &id, account_id: &actor.account_id, action, started_by: &actor.user_id, api_token_id, selection: &words, people: &people };
    store::insert(&mut tx, job, now).await.step("jobs::insert")?;
    let details = serde_json::json!({ "action": action.as_str(), "selection": words, "people": people.len() });
    record(&mut tx, &actor.account_id, Some(&actor.user_id), AuditAction::JobStarted, &id, details, now).await?;
    tx.commit().await.step("commit")?;
    tracing::info!(job = %id, action = action.as_str(), people = people.len(), "bulk action started");
    // Started and committed: a failure doing it now leaves it to the runner, never fails the start.
    if let Err(error) = run_small_or_wake(state, &id, people.len()).await {
        tracing::warn!(job = %id, ?error, "a small bulk action is left to the runner");
        state.work_signal.wake();
    }
    get(state, actor, &id).await
}

/// Does a job of up to [`DONE_IN_REQUEST`] items before returning; wakes the runner for a
/// larger one.
pub(crate) async fn run_small_or_wake(state: &AppState, id: &str, items: usize) -> Result<(), AppError> {
    if items <= DONE_IN_REQUEST {
        // On a task of its own, so a request cancelled half-way still finishes it.
        let (state_now, id_now) = (state.clone(), id.to_string());
        let config = JobsConfig::from(&DeliveryConfig::default());
        let done = tokio::spawn(async move { run_due(&state_now, &config, Some(&id_now)).await });
        done.await.map_err(|error| super::error::internal("bulk action task", error))??;
    } else {
        state.work_signal.wake();
    }
    Ok(())
}

pub(crate) async fn record(
    tx: &mut Conn,
    account_id: &str,
    actor_user_id: Option<&str>,
    action: AuditAction,
    job_id: &str,
    details: serde_json::Value,
    now: i64,
) -> Result<(), AppError> {
    let event = AuditEvent { account_id, actor_user_id, action, target_type: "job", target_id: job_id, details };
    audit::record(tx, event, now).await.step("audit::record")
}

/// Claims and does batches of open items (of `only` job, or of every running job) until
/// none is left to claim; returns how many items were settled.
pub async fn run_due(state: &AppState, config: &JobsConfig, only: Option<&str>) -> Result<u64, AppError> {
    let mut settled = 0;
    loop {
        let now = state.clock.now_ms();
        let lease_until = now + config.lease.as_millis() as i64;
        let claimed = store::claim(&state.db, only, &config.worker, now, lease_until, config.batch).await.step("jobs::claim")?;
        if claimed.is_empty() {
            return Ok(settled);
        }
        let mut by_job: Vec<(String, Vec<ClaimedItem>)> = Vec::new();
        for item in claimed {
            match by_job.last_mut() {
                Some((job, items)) if *job == item.job_id => items.push(item),
                _ => by_job.push((item.job_id.clone(), vec![item])),
            }
        }
        for (job_id, mut items) in by_job {
            if items.len() as i64 == config.batch && items[0].action == BulkAction::Import.as_str() {
                let more = config.batch * (IMPORT_BATCH_FACTOR - 1);
                items.extend(store::claim(&state.db, Some(&job_id), &config.worker, now, lease_until, more).await.step("jobs::claim")?);
            }
            settled += process(state, &job_id, items).await?;
            if state.db.engine() == crate::services::db::Engine::Sqlite {
                // SQLite has one writer, and a writer waiting for it sleeps between tries: a
                // pause between batches lets the mail lane and the requests write meanwhile
                // instead of the next batch taking the lock back at once.
                tokio::time::sleep(BATCH_PAUSE_SQLITE).await;
            }
        }
    }
}

/// Ends a job that cannot go on, with the reason, audited.
async fn stop(state: &AppState, job: &JobRecord, because: &str) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    if store::stop(&mut tx, &job.id, JobState::Failed, Some(because), now).await.step("jobs::stop")? {
        record(&mut tx, &job.account_id, None, AuditAction::JobStopped, &job.id, serde_json::json!({ "because": because }), now).await?;
        imports::fail(&mut tx, &job.id, because, now).await?;
    }
    tx.commit().await.step("commit")?;
    tracing::warn!(job = %job.id, because, "bulk action stopped");
    Ok(())
}

/// Does one batch of a job's items in one transaction; returns how many were settled.
async fn process(state: &AppState, job_id: &str, items: Vec<ClaimedItem>) -> Result<u64, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let Some(job) = store::get(&mut conn, job_id).await.step("jobs::get")? else { return Ok(0) };
    if job.state != JobState::Running {
        return Ok(0);
    }
    let Some(action) = job.action() else {
        drop(conn);
        stop(state, &job, "this version of Beckon does not know the job's action").await?;
        return Ok(0);
    };
    let actor = auth::actor_of(&mut conn, &job.started_by).await?.filter(|a| a.account_id == job.account_id);
    let account = accounts::get(&mut conn, &job.account_id).await.step("accounts::get")?;
    // Started through an API token: no more than it carries, and only while it lives.
    let token = match &job.api_token_id {
        Some(id) => Some(super::api_tokens::live(&mut conn, &job.account_id, id, state.clock.now_ms()).await?),
        None => None,
    };
    drop(conn);
    let (Some(mut actor), Some(account)) = (actor, account) else {
        stop(state, &job, "the person who started it can no longer act (deactivated or deleted)").await?;
        return Ok(0);
    };
    if let Some(token) = token {
        let Some(token) = token else {
            stop(state, &job, "the API token that started it was revoked or has expired").await?;
            return Ok(0);
        };
        token.narrow(&mut actor);
    }
    if !actor.can(action.permission()) {
        stop(state, &job, "the person who started it no longer has the rights it needs").await?;
        return Ok(0);
    }
    if let Some(token) = actor.api_token.clone() {
        return audit::via_token(token.name, process_as(state, &job, &actor, &account, action, items)).await;
    }
    process_as(state, &job, &actor, &account, action, items).await
}

/// [`process`] once the job's actor is known.
async fn process_as(
    state: &AppState,
    job: &JobRecord,
    actor: &Actor,
    account: &AccountRecord,
    action: BulkAction,
    items: Vec<ClaimedItem>,
) -> Result<u64, AppError> {
    if action == BulkAction::Import {
        return process_import(state, job, actor, account, items).await;
    }
    // An invitation action's refusals come before its writes: its batch runs without a
    // savepoint per person, and only an error (rare) makes it start again with one each.
    let unguarded = matches!(action.per_person(), PerPerson::Invitation(single) if single != shared::invitations::InvitationAction::InviteToActivate);
    if unguarded {
        if let Some(settled) = batch(state, job, actor, account, action, &items, Isolation::None).await? {
            return Ok(settled);
        }
    }
    Ok(batch(state, job, actor, account, action, &items, Isolation::SavepointEach).await?.unwrap_or(0))
}

/// How a batch keeps one person's failure from the others'.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// A savepoint around each person: a failure is rolled back to it and the batch goes on.
    SavepointEach,
    /// None: a failure rolls the whole batch back (`None` returned: do it again with savepoints).
    None,
}

/// The batch's transaction: each open item done, its outcome settled, the job's counts.
async fn batch(
    state: &AppState,
    job: &JobRecord,
    actor: &Actor,
    account: &AccountRecord,
    action: BulkAction,
    items: &[ClaimedItem],
    isolation: Isolation,
) -> Result<Option<u64>, AppError> {
    let now = state.clock.now_ms();
    let engine = state.db.engine();
    let guarded = isolation == Isolation::SavepointEach;
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let mut budget_left = i64::MAX;
    if action.sends_email() {
        budget::hold(&mut tx, engine, &account.id).await?;
        budget_left = budget::usage(&mut tx, state.mail_limits, &account.id, &actor.user_id, now).await?.left();
    }
    // Unguarded, the people's emails, audit lines and counts are written together before the
    // commit; with a savepoint each, each person's inside their savepoint, so that a write
    // that fails is that person's alone.
    let writes = if guarded { invitation_service::Writes::Now } else { invitation_service::Writes::batch() };
    let one = OnePerson { state, actor, account, priority: Priority::Bulk, now, writes: &writes };
    let (mut done, mut skipped, mut failed, mut queued) = (0i64, 0i64, 0i64, 0i64);
    let seqs: Vec<i64> = items.iter().map(|i| i.seq).collect();
    // Those settled by another worker after this one's lease ran out are left alone.
    let open = store::open_among(&mut tx, engine, &job.id, &seqs).await.step("jobs::open_among")?;
    let mut settled = Vec::with_capacity(open.len());
    let mut loaded = invitation_service::Loaded::default();
    if let PerPerson::Invitation(single) = action.per_person() {
        let user_ids: Vec<String> = items.iter().filter(|i| open.contains(&i.seq)).map(|i| i.user_id.clone()).collect();
        loaded = invitation_service::load_batch(&mut tx, &one, &user_ids, single, !guarded).await?;
    }
    for item in items.iter().filter(|i| open.contains(&i.seq)) {
        if guarded {
            sqlx::query("SAVEPOINT item").execute(&mut *tx).await.step("savepoint")?;
        }
        let outcome = if action.sends_email() && budget_left <= 0 {
            Err(Refused::skip(SkipReason::DailyBudget))
        } else {
            match action.per_person() {
                PerPerson::Invitation(single) => {
                    invitation_service::act_on_loaded(&mut tx, &one, &mut loaded, &item.user_id, single).await.map(|d| d.queued_email)
                }
                PerPerson::Person(single) => people::act_on_one(&mut tx, engine, actor, &item.user_id, single, now).await.map(|_| false),
                PerPerson::ImportRow => Err(Refused::Error(AppError::Internal)),
            }
        };
        let settled_as = match outcome {
            Ok(queued_email) => {
                if queued_email {
                    budget_left -= 1;
                    queued += 1;
                }
                done += 1;
                if guarded {
                    sqlx::query("RELEASE SAVEPOINT item").execute(&mut *tx).await.step("release savepoint")?;
                }
                ItemOutcome::Done
            }
            Err(Refused::Skip { reason, .. }) => {
                if guarded {
                    sqlx::query("ROLLBACK TO SAVEPOINT item").execute(&mut *tx).await.step("rollback to savepoint")?;
                    sqlx::query("RELEASE SAVEPOINT item").execute(&mut *tx).await.step("release savepoint")?;
                }
                skipped += 1;
                ItemOutcome::Skipped(reason)
            }
            // The database is away: the whole batch waits for its lease to run out.
            Err(Refused::Error(AppError::Unavailable)) => return Err(AppError::Unavailable),
            Err(Refused::Error(error)) if !guarded => {
                tracing::warn!(job = %job.id, user_id = %item.user_id, %error, "a bulk action failed for one person: its batch starts again with a savepoint each");
                return Ok(None);
            }
            Err(Refused::Error(error)) => {
                sqlx::query("ROLLBACK TO SAVEPOINT item").execute(&mut *tx).await.step("rollback to savepoint")?;
                sqlx::query("RELEASE SAVEPOINT item").execute(&mut *tx).await.step("release savepoint")?;
                tracing::error!(job = %job.id, user_id = %item.user_id, %error, "a bulk action failed for one person");
                failed += 1;
                ItemOutcome::Failed
            }
        };
        settled.push((item.seq, settled_as));
    }
    match writes.flush(&mut tx, actor, now).await {
        Ok(()) => {}
        Err(AppError::Unavailable) => return Err(AppError::Unavailable),
        Err(error) if !guarded => {
            tracing::warn!(job = %job.id, %error, "a bulk batch's writes failed: it starts again with a savepoint each");
            return Ok(None);
        }
        Err(error) => return Err(error),
    }
    store::settle_all(&mut tx, &job.id, &settled, now).await.step("jobs::settle_all")?;
    store::count(&mut tx, &job.id, done, skipped, failed, now).await.step("jobs::count")?;
    if store::finish_if_complete(&mut tx, &job.id, now).await.step("jobs::finish_if_complete")? {
        let finished = store::get(&mut tx, &job.id).await.step("jobs::get")?.step("jobs::get: the row must exist")?;
        let details = serde_json::json!({ "action": action.as_str(), "done": finished.done, "skipped": finished.skipped, "failed": finished.failed });
        record(&mut tx, &job.account_id, Some(&actor.user_id), AuditAction::JobFinished, &job.id, details, now).await?;
    }
    state.checkpoints.reach(points::JOB_BATCH_BEFORE_COMMIT).await;
    tx.commit().await.step("commit")?;
    state.checkpoints.reach(points::JOB_BATCH_COMMITTED).await;
    if queued > 0 {
        state.work_signal.wake_here();
    }
    Ok(Some((done + skipped + failed) as u64))
}

/// Stages a batch of an import's rows; the batch that settles the last one publishes them all
/// in its transaction, or, when the account changed so that they cannot all go live, rolls
/// everything of it back and fails the job with the reason.
async fn process_import(state: &AppState, job: &JobRecord, actor: &Actor, account: &AccountRecord, items: Vec<ClaimedItem>) -> Result<u64, AppError> {
    let now = state.clock.now_ms();
    let engine = state.db.engine();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let seqs: Vec<i64> = items.iter().map(|i| i.seq).collect();
    let still_open = store::open_among(&mut tx, engine, &job.id, &seqs).await.step("jobs::open_among")?;
    let open: Vec<ClaimedItem> = items.into_iter().filter(|i| still_open.contains(&i.seq)).collect();
    let outcomes = imports::stage(&mut tx, engine, job, actor, account, &open, now).await?;
    let (mut done, mut skipped) = (0i64, 0i64);
    let mut settled = Vec::with_capacity(open.len());
    for (item, outcome) in open.iter().zip(outcomes) {
        match outcome {
            ItemOutcome::Done => done += 1,
            _ => skipped += 1,
        }
        settled.push((item.seq, outcome));
    }
    store::settle_all(&mut tx, &job.id, &settled, now).await.step("jobs::settle_all")?;
    store::count(&mut tx, &job.id, done, skipped, 0, now).await.step("jobs::count")?;
    let mut published = false;
    if store::finish_if_complete(&mut tx, &job.id, now).await.step("jobs::finish_if_complete")? {
        state.checkpoints.reach(points::IMPORT_BEFORE_PUBLISH).await;
        match imports::publish(&mut tx, state, job, actor, now).await? {
            Ok(_) => {
                let finished = store::get(&mut tx, &job.id).await.step("jobs::get")?.step("jobs::get: the row must exist")?;
                let details = serde_json::json!({ "action": BulkAction::Import.as_str(), "done": finished.done, "skipped": finished.skipped, "failed": 0 });
                record(&mut tx, &job.account_id, Some(&actor.user_id), AuditAction::JobFinished, &job.id, details, now).await?;
                published = true;
            }
            Err(because) => {
                drop(tx);
                stop(state, job, &because).await?;
                return Ok(0);
            }
        }
    }
    state.checkpoints.reach(points::JOB_BATCH_BEFORE_COMMIT).await;
    tx.commit().await.step("commit")?;
    state.checkpoints.reach(points::JOB_BATCH_COMMITTED).await;
    if published {
        state.work_signal.wake_here();
    }
    Ok(open.len() as u64)
}

/// A job as `actor` sees it.
pub async fn get(state: &AppState, actor: &Actor, id: &str) -> Result<JobView, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let job = visible_job(&mut conn, actor, id).await?;
    view(&mut conn, actor, job, true).await
}

async fn view(conn: &mut Conn, actor: &Actor, job: JobRecord, with_skips: bool) -> Result<JobView, AppError> {
    let action = job.action().step("jobs: a known action")?;
    let starter = user_store::get(conn, &job.started_by).await.step("users::get")?;
    let started_by = starter.map(|u| if u.name.trim().is_empty() { u.email } else { u.name }).unwrap_or_default();
    let skips = match with_skips && job.skipped > 0 {
        true => store::skip_counts(conn, &job.id)
            .await
            .step("jobs::skip_counts")?
            .into_iter()
            .filter_map(|(reason, count)| Some(SkipCount { reason: SkipReason::parse(&reason)?, count: count as u64 }))
            .collect(),
        false => Vec::new(),
    };
    Ok(JobView {
        can_cancel: job.state == JobState::Running && (job.started_by == actor.user_id || actor.authority.manages_account()),
        id: job.id,
        action,
        state: job.state,
        started_by,
        started_at_ms: job.created_at,
        finished_at_ms: job.finished_at,
        selection: job.selection,
        total: job.total as u64,
        done: job.done as u64,
        skipped: job.skipped as u64,
        failed: job.failed as u64,
        skips,
        stopped_because: job.stopped_because,
    })
}

/// The Jobs list: the account's latest jobs for those who manage it, one's own otherwise.
pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<JobView>, AppError> {
    actor.require(Permission::ViewUsers)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let only = (!actor.authority.manages_account()).then_some(actor.user_id.as_str());
    let jobs = store::list(&mut conn, &actor.account_id, only, 100).await.step("jobs::list")?;
    let mut views = Vec::with_capacity(jobs.len());
    for job in jobs {
        views.push(view(&mut conn, actor, job, false).await?);
    }
    Ok(views)
}

/// Cancels a running job: what is done stays done, the rest is not started.
pub async fn cancel(state: &AppState, actor: &Actor, id: &str) -> Result<JobView, AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let job = visible_job(&mut tx, actor, id).await?;
    // Stopping an action takes the right to do it (a read-only API token only follows it).
    actor.require(job.action().map_or(Permission::ManageInvitations, BulkAction::permission))?;
    if !store::stop(&mut tx, &job.id, JobState::Cancelled, None, now).await.step("jobs::stop")? {
        return Err(AppError::InvalidState("This job has already ended.".into()));
    }
    let details = serde_json::json!({ "done": job.done, "skipped": job.skipped, "failed": job.failed, "total": job.total });
    record(&mut tx, &actor.account_id, Some(&actor.user_id), AuditAction::JobCancelled, &job.id, details, now).await?;
    // An import's staged rows never go live once its job is cancelled.
    imports::fail(&mut tx, &job.id, "the import was cancelled before it finished; nothing was imported", now).await?;
    tx.commit().await.step("commit")?;
    get(state, actor, id).await
}

/// The columns of the skipped rows' CSV.
const SKIPPED_HEADER: [&str; 4] = ["Name", "Email", "Reason", "Reason code"];

/// The job's skipped people with their reasons, as CSV (the one CSV writer).
pub async fn skipped_csv(state: &AppState, actor: &Actor, id: &str) -> Result<Vec<u8>, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let job = visible_job(&mut conn, actor, id).await?;
    if job.action() == Some(BulkAction::Import) {
        // An import's rows are lines of its file, reported with the file's columns.
        let import_id: Option<String> =
            sqlx::query_scalar("SELECT id FROM imports WHERE job_id = $1").bind(&job.id).fetch_optional(&mut *conn).await.step("imports::of_job")?;
        drop(conn);
        return imports::report_csv(state, actor, &import_id.ok_or(AppError::NotFound)?).await;
    }
    let mut out = CsvOut::with_header(&SKIPPED_HEADER)?;
    let mut after = -1;
    loop {
        let rows = store::skipped(&mut conn, &job.id, after, 1000).await.step("jobs::skipped")?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in &rows {
            let reason = SkipReason::parse(&row.reason);
            let label = reason.map(|r| r.label()).unwrap_or_default();
            out.row(&[row.name.as_str(), row.email.as_str(), label.as_str(), row.reason.as_str()])?;
        }
    }
    out.into_bytes()
}

/// The columns of the selection's CSV.
const SELECTION_HEADER: [&str; 6] = ["Name", "Email", "Status", "Roles", "Invitation sent (UTC)", "Invitation expires (UTC)"];

/// The selected people as CSV (the one CSV writer), as the Users page shows them.
pub async fn export_selection(state: &AppState, actor: &Actor, selection: &Selection) -> Result<Vec<u8>, AppError> {
    actor.require(Permission::ViewUsers)?;
    let now = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let (people, _) = resolve(state, &mut conn, actor, selection, now).await?;
    let mut out = CsvOut::with_header(&SELECTION_HEADER)?;
    for chunk in people.chunks(500) {
        let listed: Vec<ListedUser> = user_list::by_ids(&mut conn, &actor.account_id, chunk, now).await.step("user_list::by_ids")?;
        for row in users::rows(&mut conn, actor, listed, now).await? {
            let roles = shared::scopes::GrantView::list(&row.held);
            let (sent, expires) = match &row.invitation {
                Some(i) => (shared::invitations::utc_date_time(i.last_sent_at_ms), shared::invitations::utc_date_time(i.expires_at_ms)),
                None => (String::new(), String::new()),
            };
            out.row(&[row.name.as_str(), row.email.as_str(), row.status.label(), roles.as_str(), sent.as_str(), expires.as_str()])?;
        }
    }
    out.into_bytes()
}
