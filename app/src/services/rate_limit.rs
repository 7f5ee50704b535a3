//! Fixed-window counters kept in the database, shared by every process on it.
//!
//! Limits that guard something slow (a password check) or costly (an email) are consumed
//! before the work, in one statement, so a burst of parallel requests cannot all slip
//! through between a read and a write; work that succeeded gives its count back
//! ([`refund`]) when only failures should count.

use super::error::Step;
use super::store::rate_limits as store;
use shared::AppError;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max: i64,
    pub window: Duration,
}

impl Limit {
    pub const fn per(max: i64, window: Duration) -> Self {
        // Pruning forgets counters older than this; a limit must not need them.
        assert!(window.as_secs() <= LONGEST_WINDOW.as_secs(), "a limit's window is longer than LONGEST_WINDOW");
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
    consume_read(store::counter(db, key).await.step("rate_limits::counter")?, limit, now_ms)
}

/// Refuses, as [`consume`] would, one more use of a counter (hits, window start) read earlier
/// in the transaction that will count it.
pub fn consume_read(counter: Option<(i64, i64)>, limit: Limit, now_ms: i64) -> Result<(), AppError> {
    match counter {
        Some((_, start)) if reached(counter, limit, now_ms) => Err(refusal(start, limit, now_ms)),
        _ => Ok(()),
    }
}

/// Whether a counter (hits, window start) read earlier has reached `limit` at `now_ms`.
pub fn reached(counter: Option<(i64, i64)>, limit: Limit, now_ms: i64) -> bool {
    counter.is_some_and(|(hits, start)| start > now_ms - limit.window_ms() && hits >= limit.max)
}

/// Counts one event against `key` and returns the count in the current window with its start.
async fn hit<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str, limit: Limit, now_ms: i64) -> Result<(i64, i64), AppError> {
    store::count(db, key, now_ms, now_ms - limit.window_ms()).await.step("rate_limits::count")
}

/// One more use of each of `keys` (distinct), decided earlier from counters read in the same
/// transaction ([`consume_read`]), counted in one statement.
pub async fn count_many(conn: &mut super::store::Conn, keys: &[String], limit: Limit, now_ms: i64) -> Result<(), AppError> {
    store::count_many(conn, keys, now_ms, now_ms - limit.window_ms()).await.step("rate_limits::count_many")
}

/// Gives back one use consumed in the current window: the attempt succeeded, and only
/// failures count against this key.
pub async fn refund<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str, limit: Limit, now_ms: i64) -> Result<(), AppError> {
    store::uncount(db, key, now_ms - limit.window_ms()).await.step("rate_limits::uncount")
}

/// How per-address limits name a client: an IPv4 address as it is, an IPv6 address by its
/// /64 (one customer network hands out a whole /64, so counting single addresses there
/// would count nothing). IPv4 addresses written as IPv6 (`::ffff:a.b.c.d`) count as IPv4.
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Counts one use of `key` and refuses it when that goes over the limit.
pub async fn consume<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str, limit: Limit, now_ms: i64) -> Result<(), AppError> {
    let (hits, start) = hit(db, key, limit, now_ms).await?;
    if hits > limit.max {
        return Err(refusal(start, limit, now_ms));
    }
    Ok(())
}

/// The longest window of any limit: a counter whose window started before this is over
/// for every limit, so it can go.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Deletes the counters whose window ended; returns how many. Without it every client
/// address that ever failed a lookup or a sign-in would keep a row forever.
pub async fn prune<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, now_ms: i64) -> Result<u64, AppError> {
    store::delete_started_before(db, now_ms - LONGEST_WINDOW.as_millis() as i64).await.step("rate_limits::delete_started_before")
}

/// Counters kept by this process alone, for a limit where a database read on every request
/// would cost more than what it guards: failed link lookups, checked on every view of an
/// invitation page. A link cannot be guessed, so the limit only keeps someone trying made-up
/// links from using the page as a free probe; with several processes each counts its own
/// share, which is harmless here. Limits on passwords and sends stay in the database.
#[derive(Default)]
pub struct LocalCounters {
    windows: std::sync::Mutex<std::collections::HashMap<String, (i64, i64)>>,
}

/// At most this many keys are kept: the memory stays bounded whatever the number of
/// addresses trying. When full, spent windows go first, then the older half of the rest, so a
/// new key is always counted and the sweep's cost is spread over many new keys.
pub const LOCAL_KEYS_MAX: usize = 100_000;

impl LocalCounters {
    /// Refuses when `key` has already reached `limit` in its current window.
    pub fn check(&self, key: &str, limit: Limit, now_ms: i64) -> Result<(), AppError> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some(&(start, hits)) if start > now_ms - limit.window_ms() && hits >= limit.max => Err(refusal(start, limit, now_ms)),
            _ => Ok(()),
        }
    }

    /// Counts one failure against `key`.
    pub fn record_failure(&self, key: &str, limit: Limit, now_ms: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= LOCAL_KEYS_MAX && !windows.contains_key(key) {
            windows.retain(|_, &mut (start, _)| start > now_ms - limit.window_ms());
            if windows.len() > LOCAL_KEYS_MAX * 3 / 4 {
                let mut starts: Vec<i64> = windows.values().map(|&(start, _)| start).collect();
                let middle = starts.len() / 2;
                let (_, &mut median, _) = starts.select_nth_unstable(middle);
                windows.retain(|_, &mut (start, _)| start > median);
            }
        }
        let window = windows.entry(key.to_string()).or_insert((now_ms, 0));
        if window.0 <= now_ms - limit.window_ms() {
            *window = (now_ms, 0);
        }
        window.1 += 1;
    }

    /// Drops the counters whose window started before `LONGEST_WINDOW`; returns how many.
    pub fn prune(&self, now_ms: i64) -> usize {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let before = windows.len();
        windows.retain(|_, &mut (start, _)| start > now_ms - LONGEST_WINDOW.as_millis() as i64);
        before - windows.len()
    }

    pub fn len(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub async fn clear<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str) -> Result<(), AppError> {
    store::delete(db, key).await.step("rate_limits::delete")
}

/// Deletes every counter whose key starts with `prefix`.
pub async fn clear_prefix<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, prefix: &str) -> Result<(), AppError> {
    store::delete_prefix(db, prefix).await.step("rate_limits::delete_prefix")
}

/// Counts one use of `key` and says whether that went over the limit, refusing nothing: for
/// a limit past which attempts are slowed rather than stopped.
pub async fn count_past<'c>(db: impl sqlx::Executor<'c, Database = sqlx::Any>, key: &str, limit: Limit, now_ms: i64) -> Result<bool, AppError> {
    let (hits, _) = hit(db, key, limit, now_ms).await?;
    Ok(hits > limit.max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_counters_refuse_past_the_limit_until_the_window_ends_and_are_pruned() {
        let counters = LocalCounters::default();
        let limit = Limit::per(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(counters.check("a", limit, 1_000).is_ok());
            counters.record_failure("a", limit, 1_000);
        }
        assert!(matches!(counters.check("a", limit, 2_000), Err(AppError::RateLimited { retry_after_secs: 59 })));
        assert!(counters.check("b", limit, 2_000).is_ok(), "another key is not held back");
        assert!(counters.check("a", limit, 61_000).is_ok(), "a new window");
        counters.record_failure("a", limit, 61_000);
        assert!(counters.check("a", limit, 61_000).is_ok(), "counted from one again");
        assert_eq!(counters.prune(61_000 + LONGEST_WINDOW.as_millis() as i64), 1);
        assert!(counters.is_empty());
    }

    #[test]
    fn full_local_counters_make_room_and_still_count_a_new_key() {
        let counters = LocalCounters::default();
        let limit = Limit::per(1, Duration::from_secs(60));
        // Every window still live: a burst from many addresses within ten seconds.
        let at = |n: usize| 1_000_000 + (n / 10) as i64;
        for n in 0..LOCAL_KEYS_MAX {
            counters.record_failure(&format!("k{n}"), limit, at(n));
        }
        assert_eq!(counters.len(), LOCAL_KEYS_MAX);
        let now = at(LOCAL_KEYS_MAX);
        counters.record_failure("newcomer", limit, now);
        assert!(counters.check("newcomer", limit, now).is_err(), "counted, so refused past its limit");
        assert!(counters.len() <= LOCAL_KEYS_MAX / 2 + 1, "{}", counters.len());
        assert!(counters.check(&format!("k{}", LOCAL_KEYS_MAX - 1), limit, now).is_err(), "the newest stay");
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        assert_eq!(client_key(a), "2001:db8:1:2::/64");
        assert_eq!(client_key("::ffff:203.0.113.9".parse().unwrap()), "203.0.113.9");
        assert_eq!(client_key("203.0.113.9".parse().unwrap()), "203.0.113.9");
    }
}
