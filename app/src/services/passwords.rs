use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use shared::AppError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::error::Step;

/// Hashes on the blocking pool: argon2 is meant to be slow and must not stall the
/// async workers.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .step("password hashing task")?
    .step("password hashing")
}

async fn verify_hash(password: String, stored_hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored_hash)?;
        Ok::<bool, argon2::password_hash::Error>(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .step("password verifying task")?
    .step("password verifying")
}

/// A hash of a random password, verified against when there is no real hash to check, so
/// that an attempt takes as long whether or not the account exists.
async fn decoy_hash() -> Result<String, AppError> {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY.get_or_try_init(|| hash(uuid::Uuid::new_v4().to_string())).await.cloned()
}

/// Password checks, counted: each attempt to prove a password costs exactly one argon2
/// verification, whatever the address, and the count shows it.
#[derive(Clone, Default)]
pub struct Passwords {
    verifications: Arc<AtomicU64>,
}

impl Passwords {
    /// Checks `password` against `stored_hash`, or against a decoy when there is no hash
    /// (unknown address, account without a password): one verification either way, and
    /// `false` for the decoy.
    pub async fn verify(&self, password: String, stored_hash: Option<String>) -> Result<bool, AppError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        match stored_hash {
            Some(stored) => verify_hash(password, stored).await,
            None => verify_hash(password, decoy_hash().await?).await.map(|_| false),
        }
    }

    /// How many verifications ran since start.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}
