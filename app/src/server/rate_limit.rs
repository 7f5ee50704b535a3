//! Fixed-window counters kept in the database, shared by every process on it.

use super::error::internal;
use shared::AppError;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max: i64,
    pub window: Duration,
}

impl Limit {
    pub const fn per(max: i64, window: Duration) -> Self {
        Limit { max, window }
    }

    fn window_ms(&self) -> i64 {
        self.window.as_millis() as i64
    }
}

fn refusal(window_start: i64, limit: Limit, now_ms: i64) -> AppError {
    let retry_ms = (window_start + limit.window_ms() - now_ms).max(1000);
    AppError::RateLimited { retry_after_secs: (retry_ms as u64).div_ceil(1000) }
}

/// Refuses when `key` has already reached its limit in the current window, without counting.
pub async fn check<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str, limit: Limit, now_ms: i64) -> Result<(), AppError> {
    let row: Option<(i64, i64)> = sqlx::query_as("SELECT hits, window_start FROM rate_limits WHERE key = $1")
        .bind(key)
        .fetch_optional(db)
        .await
        .map_err(internal)?;
    match row {
        Some((hits, start)) if start > now_ms - limit.window_ms() && hits >= limit.max => Err(refusal(start, limit, now_ms)),
        _ => Ok(()),
    }
}

/// Counts one event against `key` and returns the count in the current window with its start.
async fn hit<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str, limit: Limit, now_ms: i64) -> Result<(i64, i64), AppError> {
    sqlx::query_as(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END, \
           window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
         RETURNING hits, window_start",
    )
    .bind(key)
    .bind(now_ms)
    .bind(now_ms - limit.window_ms())
    .fetch_one(db)
    .await
    .map_err(internal)
}

/// Records a failed attempt (sign-in, accept) against `key`.
pub async fn record_failure<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str, limit: Limit, now_ms: i64) -> Result<(), AppError> {
    hit(db, key, limit, now_ms).await.map(|_| ())
}

/// Counts one use of `key` and refuses it when that goes over the limit.
pub async fn consume<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str, limit: Limit, now_ms: i64) -> Result<(), AppError> {
    let (hits, start) = hit(db, key, limit, now_ms).await?;
    if hits > limit.max {
        return Err(refusal(start, limit, now_ms));
    }
    Ok(())
}

pub async fn clear<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM rate_limits WHERE key = $1").bind(key).execute(db).await.map_err(internal)?;
    Ok(())
}
