use shared::AppError;
use std::fmt::Display;

/// Turns an unexpected failure into the one safe message a user sees; the cause goes
/// to the log only.
pub fn internal<E: Display>(cause: E) -> AppError {
    tracing::error!(error = %cause, "internal error");
    AppError::Internal
}
