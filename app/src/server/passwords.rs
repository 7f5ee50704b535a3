use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use shared::AppError;

use super::error::internal;

/// Hashes on the blocking pool: argon2 is meant to be slow and must not stall the
/// async workers.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(internal)?
    .map_err(internal)
}

pub async fn verify(password: String, stored_hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored_hash)?;
        Ok::<bool, argon2::password_hash::Error>(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(internal)?
    .map_err(internal)
}

/// A hash of a random password, verified against when the email is unknown so that
/// sign-in takes as long whether or not the account exists.
pub async fn decoy_hash() -> &'static str {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async { hash(uuid::Uuid::new_v4().to_string()).await.unwrap_or_default() })
        .await
}
