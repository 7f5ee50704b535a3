use super::checkpoints::Checkpoints;
use super::invitations::link::LinkKey;
use super::metrics::Metrics;
use super::passwords::Passwords;
use super::{Clock, Db};
use leptos::config::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;

/// Session and sign-in settings the services need.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute_timeout: Duration,
    /// How long a sign-in attempt waits once its address has failed too often from everywhere
    /// (`auth::FAILURES_PER_EMAIL_BEFORE_SLOWING`).
    pub slowed_attempt: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            idle_timeout: Duration::from_secs(8 * 3600),
            absolute_timeout: Duration::from_secs(7 * 24 * 3600),
            slowed_attempt: Duration::from_secs(1),
        }
    }
}

/// Everything a request may need, built once at start and handed to every render and
/// server function as context. A page clones it dozens of times (each context lookup is a
/// clone), so it is one shared allocation: a clone counts a reference instead of copying
/// three strings and the Leptos options.
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

impl AppState {
    pub fn new(parts: AppStateParts) -> AppState {
        AppState(Arc::new(parts))
    }

    /// This state with other checkpoints (where tests hold requests to order them).
    pub fn with_checkpoints(&self, checkpoints: Checkpoints) -> AppState {
        AppState::new(AppStateParts { checkpoints, ..(*self.0).clone() })
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Clone)]
pub struct AppStateParts {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    /// Links are built from this configured address, never from a request's Host.
    pub public_url: String,
    pub link_key: LinkKey,
    /// Woken after work is committed (a message queued, a job started), so the runner
    /// takes it at once.
    pub work_signal: Arc<super::runner::WorkSignal>,
    /// The sender address of accounts that set none.
    pub mail_from: String,
    /// The daily budget of invitation emails, per account and per sender.
    pub mail_limits: super::mail::budget::DailyLimits,
    /// The most rows and bytes an import file may have.
    pub import_limits: super::imports::ImportLimits,
    /// How mail leaves, as configured, for Settings to say.
    pub mail_transport: String,
    /// Outgoing mail is signed with DKIM (BECKON_DKIM, on unless turned off).
    pub dkim: bool,
    /// Calls one API token may make in a minute (BECKON_API_CALLS_PER_MINUTE).
    pub api_calls_per_minute: i64,
    /// Where webhooks may be sent, how names are resolved, and how long a receiver has.
    pub webhooks: super::webhooks::Reach,
    pub auth: AuthSettings,
    pub passwords: Passwords,
    /// Where tests hold requests to order them; empty in production.
    pub checkpoints: Checkpoints,
    /// Set once an owner is known to exist: set-up never reopens, so the sign-in and set-up
    /// pages stop asking the database.
    pub set_up: Arc<std::sync::atomic::AtomicBool>,
    /// Rate-limit counters this process keeps alone (failed link lookups).
    pub local_limits: Arc<super::rate_limit::LocalCounters>,
    /// The Users lists counted past their cap moments ago.
    pub list_counts: Arc<super::store::user_list::CountMemo>,
    /// This process's counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    pub leptos_options: LeptosOptions,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
