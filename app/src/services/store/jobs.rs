//! Jobs and their items (migration 0017): a bulk action's people, claimed by the runner in
//! leased batches.

use super::{Conn, Engine};
use crate::services::db::Db;
use shared::bulk::{BulkAction, ItemOutcome, JobState};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct JobRecord {
    pub id: String,
    pub account_id: String,
    pub action: String,
    pub started_by: String,
    pub api_token_id: Option<String>,
    pub selection: String,
    #[sqlx(try_from = "String")]
    pub state: JobState,
    pub total: i64,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    pub stopped_because: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl JobRecord {
    pub fn action(&self) -> Option<BulkAction> {
        BulkAction::parse(&self.action)
    }
}

const COLUMNS: &str =
    "id, account_id, action, started_by, api_token_id, selection, state, total, done, skipped, failed, stopped_because, created_at, finished_at";

pub struct NewJob<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub action: BulkAction,
    pub started_by: &'a str,
    /// Started through this API token.
    pub api_token_id: Option<&'a str>,
    pub selection: &'a str,
    pub people: &'a [String],
}

/// Rows per INSERT of items: well within either engine's limit of parameters.
const ITEMS_PER_STATEMENT: usize = 500;

/// Writes the job and one item per person, in the caller's transaction.
pub async fn insert(conn: &mut Conn, job: NewJob<'_>, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, account_id, action, started_by, selection, state, total, created_at, updated_at, api_token_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(job.id)
    .bind(job.account_id)
    .bind(job.action.as_str())
    .bind(job.started_by)
    .bind(job.selection)
    .bind(JobState::Running.as_str())
    .bind(job.people.len() as i64)
    .bind(now_ms)
    .bind(job.api_token_id)
    .execute(&mut *conn)
    .await?;
    for (chunk_number, chunk) in job.people.chunks(ITEMS_PER_STATEMENT).enumerate() {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("($1, ${}, ${})", 2 + 2 * i, 3 + 2 * i)).collect();
        let sql = format!("INSERT INTO job_items (job_id, seq, user_id) VALUES {}", rows.join(", "));
        let mut query = sqlx::query(&sql).bind(job.id);
        for (i, user_id) in chunk.iter().enumerate() {
            query = query.bind((chunk_number * ITEMS_PER_STATEMENT + i) as i64).bind(user_id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<JobRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1")).bind(id).fetch_optional(conn).await
}

/// The account's jobs, newest first; only `started_by`'s when given.
pub async fn list(conn: &mut Conn, account_id: &str, started_by: Option<&str>, limit: i64) -> sqlx::Result<Vec<JobRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM jobs WHERE account_id = $1 AND ($2 IS NULL OR started_by = $2) ORDER BY created_at DESC, id DESC LIMIT $3"))
        .bind(account_id)
        .bind(started_by)
        .bind(limit)
        .fetch_all(conn)
        .await
}

/// How many of the job's people were skipped for each reason, most first.
pub async fn skip_counts(conn: &mut Conn, job_id: &str) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT reason, COUNT(*) FROM job_items WHERE job_id = $1 AND outcome = $2 GROUP BY reason ORDER BY COUNT(*) DESC, reason")
        .bind(job_id)
        .bind(ItemOutcome::SKIPPED)
        .fetch_all(conn)
        .await
}

/// A skipped person, for the skipped rows' CSV.
#[derive(sqlx::FromRow)]
pub struct SkippedRow {
    pub seq: i64,
    pub name: String,
    pub email: String,
    pub reason: String,
}

/// Up to `limit` skipped people after item `after_seq`, in the job's order.
pub async fn skipped(conn: &mut Conn, job_id: &str, after_seq: i64, limit: i64) -> sqlx::Result<Vec<SkippedRow>> {
    sqlx::query_as(
        "SELECT i.seq, COALESCE(u.name, '') AS name, COALESCE(u.email, '') AS email, i.reason FROM job_items i LEFT JOIN users u ON u.id = i.user_id \
         WHERE i.job_id = $1 AND i.outcome = $4 AND i.seq > $2 ORDER BY i.seq LIMIT $3",
    )
    .bind(job_id)
    .bind(after_seq)
    .bind(limit)
    .bind(ItemOutcome::SKIPPED)
    .fetch_all(conn)
    .await
}

/// An item claimed by a runner.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ClaimedItem {
    pub job_id: String,
    pub seq: i64,
    pub user_id: String,
    /// The job's action (`BulkAction::as_str`): an import's batch is larger.
    pub action: String,
}

/// Takes up to `limit` open items of running jobs (oldest job first; only `job_id`'s when
/// given) whose lease is free or lapsed, for `worker` until `lease_until`. One statement: on
/// SQLite under its write lock, on PostgreSQL skipping the rows another worker holds, so two
/// workers never take the same item.
pub async fn claim(db: &Db, job_id: Option<&str>, worker: &str, now_ms: i64, lease_until: i64, limit: i64) -> sqlx::Result<Vec<ClaimedItem>> {
    let lock = match db.engine() {
        Engine::Sqlite => "",
        Engine::Postgres => "FOR UPDATE OF i SKIP LOCKED",
    };
    sqlx::query_as(&format!(
        "UPDATE job_items SET lease_until = $1, leased_by = $2 \
         WHERE (job_id, seq) IN (SELECT i.job_id, i.seq FROM job_items i JOIN jobs j ON j.id = i.job_id \
                                 WHERE j.state = '{running}' AND ($5 IS NULL OR j.id = $5) AND i.outcome IS NULL \
                                   AND (i.lease_until IS NULL OR i.lease_until <= $3) \
                                 ORDER BY j.created_at, i.job_id, i.seq LIMIT $4 {lock}) \
         RETURNING job_id, seq, user_id, (SELECT action FROM jobs WHERE id = job_items.job_id) AS action",
        running = JobState::Running.as_str(),
    ))
    .bind(lease_until)
    .bind(worker)
    .bind(now_ms)
    .bind(limit)
    .bind(job_id)
    .fetch_all(&db.pool)
    .await
}

/// Which of `seqs` are still open, locking them until the transaction ends (PostgreSQL): a
/// worker whose lease lapsed and the one that took it over never both do one. One statement
/// for a batch.
pub async fn open_among(conn: &mut Conn, engine: Engine, job_id: &str, seqs: &[i64]) -> sqlx::Result<Vec<i64>> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let lock = match engine {
        Engine::Sqlite => "",
        Engine::Postgres => " FOR UPDATE",
    };
    let sql = format!("SELECT seq FROM job_items WHERE job_id = $1 AND seq IN ({}) AND outcome IS NULL ORDER BY seq{lock}", super::placeholders(2, seqs.len()));
    let mut query = sqlx::query_scalar(&sql).bind(job_id);
    for seq in seqs {
        query = query.bind(*seq);
    }
    query.fetch_all(conn).await
}

/// What a batch's items came to, recorded in the transaction that did them: one statement per
/// outcome (and reason) among them.
pub async fn settle_all(conn: &mut Conn, job_id: &str, settled: &[(i64, ItemOutcome)], now_ms: i64) -> sqlx::Result<()> {
    let mut groups: Vec<(ItemOutcome, Vec<i64>)> = Vec::new();
    for (seq, outcome) in settled {
        match groups.iter_mut().find(|(o, _)| o == outcome) {
            Some((_, seqs)) => seqs.push(*seq),
            None => groups.push((*outcome, vec![*seq])),
        }
    }
    for (outcome, seqs) in groups {
        let sql = format!(
            "UPDATE job_items SET outcome = $1, reason = $2, processed_at = $3, lease_until = NULL WHERE job_id = $4 AND seq IN ({})",
            super::placeholders(5, seqs.len())
        );
        let mut query = sqlx::query(&sql).bind(outcome.as_str()).bind(outcome.reason().map(|r| r.as_str())).bind(now_ms).bind(job_id);
        for seq in seqs {
            query = query.bind(seq);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds a batch's outcomes to the job's counts.
pub async fn count(conn: &mut Conn, job_id: &str, done: i64, skipped: i64, failed: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET done = done + $1, skipped = skipped + $2, failed = failed + $3, updated_at = $4 WHERE id = $5")
        .bind(done)
        .bind(skipped)
        .bind(failed)
        .bind(now_ms)
        .bind(job_id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Marks a running job done once no item is open; whether this call did.
pub async fn finish_if_complete(conn: &mut Conn, job_id: &str, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, finished_at = $2, updated_at = $2 WHERE id = $3 AND state = $4 \
         AND NOT EXISTS (SELECT 1 FROM job_items WHERE job_id = $3 AND outcome IS NULL)",
    )
    .bind(JobState::Done.as_str())
    .bind(now_ms)
    .bind(job_id)
    .bind(JobState::Running.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a running job as `state` (cancelled, failed); whether it was running.
pub async fn stop(conn: &mut Conn, job_id: &str, state: JobState, because: Option<&str>, now_ms: i64) -> sqlx::Result<bool> {
    let stopped = sqlx::query("UPDATE jobs SET state = $1, stopped_because = $2, finished_at = $3, updated_at = $3 WHERE id = $4 AND state = $5")
        .bind(state.as_str())
        .bind(because)
        .bind(now_ms)
        .bind(job_id)
        .bind(JobState::Running.as_str())
        .execute(conn)
        .await?;
    Ok(stopped.rows_affected() == 1)
}

/// Lets the items `worker` leased be claimed at once (it gave them back, or it is gone).
pub async fn release_leases(db: &Db, worker: &str, now_ms: i64) -> sqlx::Result<u64> {
    sqlx::query("UPDATE job_items SET lease_until = $1 WHERE leased_by = $2 AND outcome IS NULL AND lease_until > $1")
        .bind(now_ms)
        .bind(worker)
        .execute(&db.pool)
        .await
        .map(|done| done.rows_affected())
}

/// The workers holding a live lease on some item.
pub async fn lease_holders(db: &Db, now_ms: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT DISTINCT leased_by FROM job_items WHERE outcome IS NULL AND lease_until > $1 AND leased_by IS NOT NULL")
        .bind(now_ms)
        .fetch_all(&db.pool)
        .await
}

/// The user ids of some items, for a test or a report: `(seq, user_id, outcome, leased_by)`.
pub async fn items(conn: &mut Conn, job_id: &str) -> sqlx::Result<Vec<(i64, String, Option<String>, Option<String>)>> {
    sqlx::query_as("SELECT seq, user_id, outcome, leased_by FROM job_items WHERE job_id = $1 ORDER BY seq").bind(job_id).fetch_all(conn).await
}
