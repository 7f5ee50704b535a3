//! Server-side failures. A service answers with the browser-safe `AppError`; what went
//! wrong inside it (which step, where, and the cause) goes to the log, converted in one
//! place: `From<StepFailed> for AppError`.

use shared::AppError;
use std::panic::Location;

/// The cause of an unexpected failure.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("password hash: {0}")]
    PasswordHash(#[from] argon2::password_hash::Error),
    #[error("blocking task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("request context: {0}")]
    Context(String),
    /// A stored value that no longer parses (written by another version, or by hand).
    #[error("stored value: {0}")]
    StoredValue(String),
    /// Stored data that breaks an invariant (a row that must exist).
    #[error("{0}")]
    Invariant(String),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl From<leptos::server_fn::error::ServerFnErrorErr> for Fault {
    fn from(error: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        Fault::Context(error.to_string())
    }
}

impl From<shared::email::EmailError> for Fault {
    fn from(error: shared::email::EmailError) -> Self {
        Fault::StoredValue(error.to_string())
    }
}

impl From<shared::status::UnknownValue> for Fault {
    fn from(error: shared::status::UnknownValue) -> Self {
        Fault::StoredValue(error.to_string())
    }
}

/// A fault in a named step of an operation. The operation itself is named by the request's
/// span (route and request id), which the log line carries.
#[derive(Debug, thiserror::Error)]
#[error("{step} failed at {at}: {fault}")]
pub struct StepFailed {
    pub step: &'static str,
    pub at: &'static Location<'static>,
    #[source]
    pub fault: Fault,
}

impl From<StepFailed> for AppError {
    fn from(failed: StepFailed) -> Self {
        match outage(&failed.fault) {
            Some(Outage::Full) => {
                tracing::error!(step = failed.step, error = %failed.fault, "database or disk is full: nothing can be written until space is freed");
                AppError::Unavailable
            }
            Some(Outage::Unreachable) => {
                super::db::health::connection_failed();
                tracing::warn!(step = failed.step, error = %failed.fault, "the database cannot be reached");
                AppError::Unavailable
            }
            None => {
                tracing::error!(step = failed.step, at = %failed.at, error = %failed.fault, "internal error");
                AppError::Internal
            }
        }
    }
}

/// A failure that is the database's state, not a fault of the request: answered 503 with
/// `Retry-After`, since the same request will work once it passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// Restarting, down, a network cut, no connection to be had in time.
    Unreachable,
    /// No space left for writes (SQLite's SQLITE_FULL, PostgreSQL's disk_full).
    Full,
}

/// What kind of outage `fault` is, if it is one.
pub fn outage(fault: &Fault) -> Option<Outage> {
    match fault {
        Fault::Database(error) => database_outage(error),
        // The session store's library hands its database errors on as text.
        Fault::Session(error) => {
            let text = error.to_string();
            let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
            if has(&["database or disk is full", "could not extend file", "No space left"]) {
                Some(Outage::Full)
            } else if has(&[
                "pool timed out",
                "error communicating with database",
                "Connection refused",
                "connection reset",
                "terminating connection",
                "PoolClosed",
                "closed",
            ]) {
                Some(Outage::Unreachable)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn database_outage(error: &sqlx::Error) -> Option<Outage> {
    use sqlx::Error as E;
    match error {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => Some(Outage::Unreachable),
        E::Database(database) => {
            let code = database.code()?;
            match code.parse::<i64>() {
                // SQLite's result codes: FULL; and BUSY (past the busy timeout), READONLY,
                // IOERR, CANTOPEN, by their primary code.
                Ok(sqlite) => match sqlite & 0xff {
                    13 => Some(Outage::Full),
                    5 | 8 | 10 | 14 => Some(Outage::Unreachable),
                    _ => None,
                },
                // PostgreSQL's SQLSTATE: disk_full; connection exceptions, too many
                // connections, out of memory, shutting down or starting up, system errors.
                Err(_) if code == "53100" => Some(Outage::Full),
                Err(_) if ["08", "53", "57", "58"].iter().any(|class| code.starts_with(class)) => Some(Outage::Unreachable),
                Err(_) => None,
            }
        }
        _ => None,
    }
}

/// Names the step a fallible call is, so its failure is logged with that name and the
/// caller's source location, and the browser sees only `AppError::Internal`.
pub trait Step<T> {
    fn step(self, step: &'static str) -> Result<T, AppError>;
}

impl<T, E: Into<Fault>> Step<T> for Result<T, E> {
    #[track_caller]
    fn step(self, step: &'static str) -> Result<T, AppError> {
        let at = Location::caller();
        self.map_err(|e| StepFailed { step, at, fault: e.into() }.into())
    }
}

impl<T> Step<T> for Option<T> {
    /// A row or value that must be there is not (or did not convert).
    #[track_caller]
    fn step(self, step: &'static str) -> Result<T, AppError> {
        let at = Location::caller();
        self.ok_or_else(|| StepFailed { step, at, fault: Fault::Invariant("absent or out of range".into()) }.into())
    }
}

/// An unexpected failure outside a named step (a broken invariant found by a check).
#[track_caller]
pub fn internal(step: &'static str, fault: impl Into<Fault>) -> AppError {
    StepFailed { step, at: Location::caller(), fault: fault.into() }.into()
}

/// How one person's action, run inside a caller's transaction (a single action's own, or a
/// bulk job's batch), was not done: refused for a [`SkipReason`] (with the sentence a single
/// action shows, when it says more than the reason's own), or failed.
#[derive(Debug)]
pub enum Refused {
    Skip { reason: shared::bulk::SkipReason, message: Option<String> },
    Error(AppError),
}

impl Refused {
    pub fn skip(reason: shared::bulk::SkipReason) -> Refused {
        Refused::Skip { reason, message: None }
    }
}

impl From<AppError> for Refused {
    fn from(error: AppError) -> Refused {
        Refused::Error(error)
    }
}

impl From<Refused> for AppError {
    fn from(refused: Refused) -> AppError {
        match refused {
            Refused::Skip { message: Some(message), .. } => AppError::InvalidState(message),
            Refused::Skip { reason, message: None } => reason.into_error(),
            Refused::Error(error) => error,
        }
    }
}
