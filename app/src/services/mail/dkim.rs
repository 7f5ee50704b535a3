//! DKIM: every message is signed (RSA-2048, relaxed/relaxed) for the domain of its From
//! address, with the deployment's key. The key is made on first use and kept in the
//! database, so every process signing for one deployment uses the same one; an operator may
//! hand in their own (BECKON_DKIM_KEY_FILE). Settings → Outgoing email shows the TXT record
//! to publish and rotates the key (a new selector; the old record is listed until removed).
//! Nothing here looks at DNS: whether the record is published is for the operator to check.

use crate::services::db::Db;
use crate::services::error::Step;
use crate::services::store::bounces::{self as store, DkimKey};
use crate::services::{Actor, AppState};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use lettre::message::header::HeaderName;
use lettre::message::{DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use shared::audit::AuditAction;
use shared::mail::{DkimKey as KeyView, DkimSettings};
use shared::permissions::Permission;
use shared::AppError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bits of a generated key: many receivers ignore Ed25519-only signatures, and 1024 is weak.
const KEY_BITS: usize = 2048;

/// The headers signed. One absent from a message is signed as empty, so nobody can add it.
/// Not Content-Type: lettre writes a multipart's with its body, after signing has read the
/// headers (signing it made every signature fail an independent verifier).
const SIGNED_HEADERS: [&str; 7] = ["From", "To", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version"];

/// A key as PKCS#1 PEM with its public half for DNS, from an operator's PEM (PKCS#1 or #8).
pub fn key_from_pem(selector: &str, pem: &str, now_ms: i64) -> Result<DkimKey, String> {
    let private = RsaPrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
        .map_err(|e| format!("not an RSA private key in PEM (PKCS#1 or PKCS#8): {e}"))?;
    to_record(selector, &private, now_ms)
}

fn to_record(selector: &str, private: &RsaPrivateKey, now_ms: i64) -> Result<DkimKey, String> {
    let private_key_pem = private.to_pkcs1_pem(LineEnding::LF).map_err(|e| e.to_string())?.to_string();
    let public = RsaPublicKey::from(private).to_public_key_der().map_err(|e| e.to_string())?;
    Ok(DkimKey { selector: selector.to_string(), private_key_pem, public_key_base64: STANDARD.encode(public.as_bytes()), created_at: now_ms, retired_at: None })
}

/// A new key; seconds of arithmetic, so off the async threads.
async fn generate(selector: String, now_ms: i64) -> Result<DkimKey, AppError> {
    tokio::task::spawn_blocking(move || {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS).map_err(|e| e.to_string())?;
        to_record(&selector, &private, now_ms)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|made| made)
    .map_err(|error| {
        tracing::error!(%error, "cannot make a DKIM key");
        AppError::Internal
    })
}

/// `beckon`, the UTC day and a random tag: a new name at each rotation, readable in DNS.
fn selector_at(now_ms: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    format!("beckon{}{:04x}", at.format("%Y%m%d"), rand::random::<u16>())
}

/// Adds `key` as the signing key in one transaction, with `audit`'s line when given. With
/// `only_if_none`, only when there is no signing key yet (two processes starting at once make
/// one). Whether it was added.
async fn add(db: &Db, key: &DkimKey, only_if_none: bool, audit: Option<(&Actor, i64)>) -> Result<bool, AppError> {
    let mut tx = db.write_tx().await.step("begin write transaction")?;
    if db.engine() == crate::services::db::Engine::Postgres {
        // SQLite's write transaction holds the database already.
        sqlx::query("LOCK TABLE dkim_keys IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.step("lock dkim_keys")?;
    }
    let keys = store::dkim_keys(&mut tx).await.step("bounces::dkim_keys")?;
    if only_if_none && keys.iter().any(|k| k.retired_at.is_none()) {
        return Ok(false);
    }
    if !store::add_dkim_key(&mut tx, key).await.step("bounces::add_dkim_key")? {
        return Ok(false);
    }
    if let Some((actor, now)) = audit {
        let details = serde_json::json!({ "selector": key.selector });
        super::log::record(&mut tx, actor, AuditAction::DkimKeyRotated, "dkim_key", &key.selector, details, now).await?;
    }
    tx.commit().await.step("commit")?;
    Ok(true)
}

/// The key mail is signed with now, made if there is none.
pub async fn signing_key(db: &Db, now_ms: i64) -> Result<DkimKey, AppError> {
    let current = |keys: Vec<DkimKey>| keys.into_iter().find(|k| k.retired_at.is_none());
    let mut conn = db.pool.acquire().await.step("acquire connection")?;
    if let Some(key) = current(store::dkim_keys(&mut conn).await.step("bounces::dkim_keys")?) {
        return Ok(key);
    }
    drop(conn);
    let key = generate(selector_at(now_ms), now_ms).await?;
    if add(db, &key, true, None).await? {
        tracing::info!(selector = %key.selector, "made the DKIM key outgoing mail is signed with (Settings → Outgoing email shows its DNS record)");
    }
    let mut conn = db.pool.acquire().await.step("acquire connection")?;
    current(store::dkim_keys(&mut conn).await.step("bounces::dkim_keys")?).ok_or(AppError::Internal)
}

/// An operator's own key (BECKON_DKIM_KEY_FILE, BECKON_DKIM_SELECTOR) becomes the signing
/// key at start, unless it is already.
pub async fn install_given(db: &Db, selector: &str, pem: &str, now_ms: i64) -> Result<(), String> {
    let key = key_from_pem(selector, pem, now_ms)?;
    let mut conn = db.pool.acquire().await.map_err(|e| e.to_string())?;
    let keys = store::dkim_keys(&mut conn).await.map_err(|e| e.to_string())?;
    drop(conn);
    // Installed before: it stays as it is, even rotated out since in Settings (the newer
    // key's record is what is published now).
    match keys.iter().find(|k| k.selector == key.selector) {
        Some(known) if known.public_key_base64 == key.public_key_base64 => Ok(()),
        Some(_) => Err(format!("the selector {selector} names another key in the database already; choose a new BECKON_DKIM_SELECTOR")),
        None => add(db, &key, false, None).await.map(|_| ()).map_err(|e| e.to_string()),
    }
}

/// Signs messages with one key for any From domain; each domain's configuration is made once.
pub struct Signer {
    key: DkimKey,
    configs: Mutex<HashMap<String, Arc<DkimConfig>>>,
}

impl Signer {
    pub fn new(key: DkimKey) -> Signer {
        Signer { key, configs: Mutex::new(HashMap::new()) }
    }

    /// The configuration for mail from `domain`.
    pub fn config(&self, domain: &str) -> Result<Arc<DkimConfig>, String> {
        let domain = domain.to_ascii_lowercase();
        if let Some(config) = self.configs.lock().ok().and_then(|c| c.get(&domain).cloned()) {
            return Ok(config);
        }
        let signing_key = DkimSigningKey::new(&self.key.private_key_pem, DkimSigningAlgorithm::Rsa).map_err(|e| format!("the DKIM key cannot sign: {e}"))?;
        let headers = SIGNED_HEADERS.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
        let canonicalization = DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
        let config = Arc::new(DkimConfig::new(self.key.selector.clone(), domain.clone(), signing_key, headers, canonicalization));
        if let Ok(mut configs) = self.configs.lock() {
            configs.insert(domain, config.clone());
        }
        Ok(config)
    }
}

/// The domain of an address (what follows the last @).
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
}

/// Settings → Outgoing email → DKIM.
pub async fn settings(state: &AppState, actor: &Actor) -> Result<DkimSettings, AppError> {
    actor.require(Permission::ManageSettings)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let sender = crate::services::mail::outbox::sender(&state.db, &actor.account_id).await.step("outbox::sender")?.unwrap_or_default();
    let address = sender.sender_address.filter(|a| !a.is_empty()).unwrap_or_else(|| state.mail_from.clone());
    let domain = domain_of(&address).to_string();
    if state.dkim {
        signing_key(&state.db, state.clock.now_ms()).await?;
    }
    let keys = store::dkim_keys(&mut conn).await.step("bounces::dkim_keys")?;
    let keys = keys
        .into_iter()
        .map(|k| KeyView {
            record_name: KeyView::record_name(&k.selector, &domain),
            record_value: KeyView::record_value(&k.public_key_base64),
            signing: k.retired_at.is_none(),
            selector: k.selector,
            created_at_ms: k.created_at,
            retired_at_ms: k.retired_at,
        })
        .collect();
    Ok(DkimSettings { enabled: state.dkim, domain, keys })
}

/// A new key signs from now on; the one before stays listed (and published) until removed.
pub async fn rotate(state: &AppState, actor: &Actor) -> Result<String, AppError> {
    actor.require(Permission::ManageSettings)?;
    let now = state.clock.now_ms();
    let key = generate(selector_at(now), now).await?;
    if !add(&state.db, &key, false, Some((actor, now))).await? {
        return Err(AppError::InvalidState("A key was made under that name a moment ago. Try again.".into()));
    }
    Ok(format!(
        "Mail is now signed with the key {}. Publish its TXT record; keep the old record until mail signed with it has arrived (a few days), then remove the old key.",
        key.selector
    ))
}

/// Removes a key rotated out (never the signing key).
pub async fn remove(state: &AppState, actor: &Actor, selector: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageSettings)?;
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    if !store::remove_retired_dkim_key(&mut tx, selector).await.step("bounces::remove_retired_dkim_key")? {
        return Err(AppError::InvalidState("Only a key rotated out can be removed: the signing key stays until another replaces it.".into()));
    }
    let details = serde_json::json!({ "selector": selector });
    super::log::record(&mut tx, actor, AuditAction::DkimKeyRemoved, "dkim_key", selector, details, state.clock.now_ms()).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("The key {selector} is removed: its DNS record can go too."))
}
