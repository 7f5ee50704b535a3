use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Where services read the time from, so expiry and timeouts are tested without sleeping.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the wall clock is read (clippy.toml refuses it everywhere else).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system time moved by an adjustable offset. Tests (and the test-only time
/// control of the server) move it forward to reach an expiry.
#[derive(Default)]
pub struct ManualClock {
    offset_ms: AtomicI64,
    fixed_ms: AtomicI64,
}

impl ManualClock {
    /// A clock frozen at `at`; `advance` moves it.
    pub fn frozen_at(at: DateTime<Utc>) -> Arc<Self> {
        let clock = ManualClock::default();
        clock.fixed_ms.store(at.timestamp_millis(), Ordering::SeqCst);
        Arc::new(clock)
    }

    /// A clock that follows the system time, plus whatever `advance` adds.
    pub fn following_system() -> Arc<Self> {
        Arc::new(ManualClock::default())
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let fixed = self.fixed_ms.load(Ordering::SeqCst);
        let base = if fixed == 0 { SystemClock.now_ms() } else { fixed };
        DateTime::from_timestamp_millis(base + self.offset_ms.load(Ordering::SeqCst)).unwrap_or_else(|| SystemClock.now())
    }
}
