//! The `rate_limits` table: one fixed-window counter per key (see `rate_limit` for the limits).

type Any = sqlx::Any;

/// The counter of `key`: hits in its window, and when the window started.
pub async fn counter<'c>(db: impl sqlx::Executor<'c, Database = Any>, key: &str) -> sqlx::Result<Option<(i64, i64)>> {
    sqlx::query_as("SELECT hits, window_start FROM rate_limits WHERE key = $1").bind(key).fetch_optional(db).await
}

/// The counters of `keys` that exist: hits in their window and when it started, by key.
pub async fn counters(conn: &mut super::Conn, keys: &[String]) -> sqlx::Result<std::collections::HashMap<String, (i64, i64)>> {
    let mut found = std::collections::HashMap::new();
    for chunk in keys.chunks(500) {
        let sql = format!("SELECT key, hits, window_start FROM rate_limits WHERE key IN ({})", super::placeholders(1, chunk.len()));
        let mut query = sqlx::query_as::<_, (String, i64, i64)>(&sql);
        for key in chunk {
            query = query.bind(key);
        }
        for (key, hits, start) in query.fetch_all(&mut *conn).await? {
            found.insert(key, (hits, start));
        }
    }
    Ok(found)
}

/// One more hit on `key`, in one statement: a window that started at or before
/// `expired_before` starts again at `now_ms`. Returns the hits and the window's start.
pub async fn count<'c>(db: impl sqlx::Executor<'c, Database = Any>, key: &str, now_ms: i64, expired_before: i64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(&format!(
        "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) {} RETURNING hits, window_start",
        on_conflict_count("$2", "$3")
    ))
    .bind(key)
    .bind(now_ms)
    .bind(expired_before)
    .fetch_one(db)
    .await
}

/// [`count`] one more hit on each of `keys` (distinct), in one statement per 500 keys.
pub async fn count_many(conn: &mut super::Conn, keys: &[String], now_ms: i64, expired_before: i64) -> sqlx::Result<()> {
    for chunk in keys.chunks(500) {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, $1, 1)", i + 3)).collect();
        let sql = format!("INSERT INTO rate_limits (key, window_start, hits) VALUES {} {}", rows.join(", "), on_conflict_count("$1", "$2"));
        let mut query = sqlx::query(&sql).bind(now_ms).bind(expired_before);
        for key in chunk {
            query = query.bind(key);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// How an insert of one hit counts into an existing counter: a window that started at or
/// before `expired_before` starts again at `now` (both SQL expressions). [`count`] and the
/// set-based counts of an import share it.
pub fn on_conflict_count(now: &str, expired_before: &str) -> String {
    format!(
        "ON CONFLICT (key) DO UPDATE SET \
           hits = CASE WHEN rate_limits.window_start <= {expired_before} THEN 1 ELSE rate_limits.hits + 1 END, \
           window_start = CASE WHEN rate_limits.window_start <= {expired_before} THEN {now} ELSE rate_limits.window_start END"
    )
}

/// One hit fewer on `key`, if its window started after `expired_before`.
pub async fn uncount<'c>(db: impl sqlx::Executor<'c, Database = Any>, key: &str, expired_before: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE rate_limits SET hits = hits - 1 WHERE key = $1 AND hits > 0 AND window_start > $2")
        .bind(key)
        .bind(expired_before)
        .execute(db)
        .await
        .map(|_| ())
}

/// Deletes the counters whose window started at or before `at`; returns how many.
pub async fn delete_started_before<'c>(db: impl sqlx::Executor<'c, Database = Any>, at: i64) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM rate_limits WHERE window_start <= $1").bind(at).execute(db).await.map(|done| done.rows_affected())
}

pub async fn delete<'c>(db: impl sqlx::Executor<'c, Database = Any>, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM rate_limits WHERE key = $1").bind(key).execute(db).await.map(|_| ())
}

/// Deletes the counters whose key starts with `prefix`.
pub async fn delete_prefix<'c>(db: impl sqlx::Executor<'c, Database = Any>, prefix: &str) -> sqlx::Result<()> {
    let pattern = format!("{}%", super::like_literal(prefix));
    sqlx::query("DELETE FROM rate_limits WHERE key LIKE $1 ESCAPE '\\'").bind(pattern).execute(db).await.map(|_| ())
}
