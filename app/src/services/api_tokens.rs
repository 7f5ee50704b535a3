//! API tokens: made in Settings → API tokens, shown once, kept only as a hash. A call through
//! one acts as the person who made it, as they stand at that moment (deactivated: refused;
//! demoted: less), narrowed to the token's scopes.

use super::audit::{self, AuditEvent};
use super::error::Step;
use super::rate_limit::{self, Limit};
use super::store::api_tokens::{self as store, NewToken, TokenRecord};
use super::store::{new_id, Conn};
use super::{auth, Actor, AppState};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use shared::api::{validate_new_token, ApiTokenView, ApiTokens, CreatedToken, IDEMPOTENCY_HOURS, TOKEN_PREFIX};
use shared::audit::AuditAction;
use shared::names::name_and_address;
use shared::permissions::{Permission, TokenScopes};
use shared::AppError;
use std::time::Duration;

/// Why a bearer token was not taken. Each is its own answer, so whoever runs the script can
/// tell a typo from a token someone revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// Not a token Beckon made.
    Unknown,
    Revoked,
    Expired,
    /// The person who made it is deactivated or deleted.
    CreatorInactive,
}

impl TokenRefusal {
    pub fn message(self) -> &'static str {
        match self {
            TokenRefusal::Missing => "Send an API token in the Authorization header: `Authorization: Bearer bk_live_…`.",
            TokenRefusal::Unknown => "That is not a valid API token.",
            TokenRefusal::Revoked => "That API token was revoked.",
            TokenRefusal::Expired => "That API token has expired.",
            TokenRefusal::CreatorInactive => "The person who made that API token is deactivated; their tokens no longer work.",
        }
    }
}

/// A token that may be used now.
#[derive(Clone, Debug)]
pub struct LiveToken {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub scopes: TokenScopes,
}

impl LiveToken {
    /// `actor` (the token's creator as they stand now) as this token lets them act.
    pub fn narrow(&self, actor: &mut Actor) {
        actor.authority.token = Some(self.scopes);
        actor.api_token = Some(super::actor::TokenRef { id: self.id.clone(), name: self.name.clone() });
    }
}

fn hash(secret: &str) -> String {
    sha256_hex(&[secret.as_bytes()])
}

/// The SHA-256 of `parts` one after the other, in hex: a token's stored hash, a request's
/// fingerprint for its Idempotency-Key.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn stored_scopes(scopes: TokenScopes) -> String {
    scopes.names().join(",")
}

fn parse_scopes(record: &TokenRecord) -> Result<TokenScopes, AppError> {
    TokenScopes::parse(record.scopes.split(','))
        .ok_or_else(|| super::error::internal("api token scopes", super::error::Fault::StoredValue(format!("unknown scopes {:?}", record.scopes))))
}

/// The token `id` of `account_id` if it is live at `now`, as a job started through it reads it.
pub async fn live(conn: &mut Conn, account_id: &str, id: &str, now: i64) -> Result<Option<LiveToken>, AppError> {
    let Some(record) = store::get(conn, account_id, id).await.step("api_tokens::get")? else { return Ok(None) };
    if record.revoked_at.is_some() || record.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    Ok(Some(LiveToken { scopes: parse_scopes(&record)?, id: record.id, name: record.name, user_id: record.user_id }))
}

/// The actor a call with `Authorization: Bearer <secret>` acts as, narrowed to the token's
/// scopes, after counting the call against the token's rate limit.
pub async fn authenticate(state: &AppState, secret: Option<&str>) -> Result<Result<Actor, TokenRefusal>, AppError> {
    let Some(secret) = secret.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(Err(TokenRefusal::Missing)) };
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(Err(TokenRefusal::Unknown));
    }
    let now = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let Some(record) = store::by_secret_hash(&mut conn, &hash(secret)).await.step("api_tokens::by_secret_hash")? else {
        return Ok(Err(TokenRefusal::Unknown));
    };
    if record.revoked_at.is_some() {
        return Ok(Err(TokenRefusal::Revoked));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err(TokenRefusal::Expired));
    }
    let Some(mut actor) = auth::actor_of(&mut conn, &record.user_id).await?.filter(|a| a.account_id == record.account_id) else {
        return Ok(Err(TokenRefusal::CreatorInactive));
    };
    let calls = Limit::per(state.api_calls_per_minute, Duration::from_secs(60));
    rate_limit::consume(&mut *conn, &format!("api:{}", record.id), calls, now).await?;
    store::touch(&mut conn, &record.id, now).await.step("api_tokens::touch")?;
    let token = LiveToken { scopes: parse_scopes(&record)?, id: record.id, name: record.name, user_id: record.user_id };
    token.narrow(&mut actor);
    Ok(Ok(actor))
}

fn view(record: TokenRecord, owner: String, viewer: &Actor) -> Result<ApiTokenView, AppError> {
    Ok(ApiTokenView {
        scopes: parse_scopes(&record)?,
        hint: format!("{TOKEN_PREFIX}…{}", record.last_four),
        mine: record.user_id == viewer.user_id,
        owner,
        id: record.id,
        name: record.name,
        created_at_ms: record.created_at,
        expires_at_ms: record.expires_at,
        last_used_at_ms: record.last_used_at,
        revoked_at_ms: record.revoked_at,
    })
}

/// Who may hold tokens: anyone an admin page is open to. Tokens are made in the browser only.
fn require_maker(actor: &Actor) -> Result<(), AppError> {
    if actor.api_token.is_some() || !actor.authority.is_administrator() {
        return Err(AppError::Forbidden(shared::permissions::Denied::NotPermitted));
    }
    Ok(())
}

/// Makes a token carrying `scopes` of the actor's rights; its secret is in the answer, and
/// nowhere else ever again.
pub async fn create(state: &AppState, actor: &Actor, name: &str, scopes: TokenScopes, expires_in_days: Option<u32>) -> Result<CreatedToken, AppError> {
    require_maker(actor)?;
    let name = validate_new_token(name, expires_in_days)?;
    // A token carries only rights its maker holds now (and is narrowed again on every call).
    if scopes.invitations {
        actor.require(Permission::ManageInvitations)?;
    }
    if scopes.people {
        actor.require(Permission::ManagePeople)?;
    }
    let now = state.clock.now_ms();
    let mut random = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
    let secret = format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random));
    let last_four: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let id = new_id();
    let expires_at = expires_in_days.map(|days| now + i64::from(days) * 86_400_000);
    let stored = stored_scopes(scopes);
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let token = NewToken {
        id: &id,
        account_id: &actor.account_id,
        user_id: &actor.user_id,
        name: &name,
        secret_hash: &hash(&secret),
        last_four: &last_four,
        scopes: &stored,
        expires_at,
    };
    store::insert(&mut tx, &token, now).await.step("api_tokens::insert")?;
    let details = serde_json::json!({ "name": name, "scopes": scopes.names(), "expires_at": expires_at });
    record(&mut tx, actor, AuditAction::ApiTokenCreated, &id, details, now).await?;
    let record = store::get(&mut tx, &actor.account_id, &id).await.step("api_tokens::get")?.ok_or(AppError::NotFound)?;
    tx.commit().await.step("commit")?;
    Ok(CreatedToken { token: view(record, name_and_address(&actor.name, &actor.email), actor)?, secret })
}

async fn record(tx: &mut Conn, actor: &Actor, action: AuditAction, id: &str, details: serde_json::Value, now: i64) -> Result<(), AppError> {
    let event = AuditEvent { account_id: &actor.account_id, actor_user_id: Some(&actor.user_id), action, target_type: "api_token", target_id: id, details };
    audit::record(tx, event, now).await.step("audit::record")
}

/// Whether the actor sees (and may revoke) every token of the account, not only their own.
fn sees_all(actor: &Actor) -> bool {
    actor.can(Permission::ManageSettings)
}

/// The actor's tokens; an Owner's or an Admin's page lists everyone's, so a token of someone
/// who left can be revoked.
pub async fn list(state: &AppState, actor: &Actor) -> Result<ApiTokens, AppError> {
    require_maker(actor)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let only = (!sees_all(actor)).then_some(actor.user_id.as_str());
    let listed = store::list(&mut conn, &actor.account_id, only).await.step("api_tokens::list")?;
    let tokens = listed.into_iter().map(|t| view(t.token, name_and_address(&t.owner_name, &t.owner_email), actor)).collect::<Result<_, _>>()?;
    Ok(ApiTokens { tokens, now_ms: state.clock.now_ms() })
}

/// Revokes a token at once: its next call is refused.
pub async fn revoke(state: &AppState, actor: &Actor, id: &str) -> Result<String, AppError> {
    require_maker(actor)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let token = store::get(&mut tx, &actor.account_id, id).await.step("api_tokens::get")?.ok_or(AppError::NotFound)?;
    if token.user_id != actor.user_id && !sees_all(actor) {
        return Err(AppError::Forbidden(shared::permissions::Denied::NotPermitted));
    }
    if !store::revoke(&mut tx, id, &actor.user_id, now).await.step("api_tokens::revoke")? {
        return Err(AppError::InvalidState(format!("The token “{}” is already revoked.", token.name)));
    }
    record(&mut tx, actor, AuditAction::ApiTokenRevoked, id, serde_json::json!({ "name": token.name }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("The token “{}” is revoked: calls made with it are refused from now on.", token.name))
}

/// Writes the audit line of one call through a token: who, which token, the method, the path
/// with its query, and the status it was answered with. Every call has one, reads and
/// refusals included; what a call changed has lines of its own as well.
pub async fn record_call(state: &AppState, actor: &Actor, method: &str, path: &str, status: u16) -> Result<(), AppError> {
    let Some(token) = &actor.api_token else { return Ok(()) };
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let details = serde_json::json!({ "api_token": token.name, "method": method, "path": path, "status": status });
    record(&mut conn, actor, AuditAction::ApiCall, &token.id, details, state.clock.now_ms()).await
}

/// How far back an `Idempotency-Key` is kept.
pub fn idempotency_kept_since(now: i64) -> i64 {
    now - IDEMPOTENCY_HOURS * 3_600_000
}

/// Forgets the API's idempotency keys older than the keeping time.
pub async fn prune_idempotency_keys(state: &AppState) -> Result<u64, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    store::prune_keys(&mut conn, idempotency_kept_since(state.clock.now_ms())).await.step("api_tokens::prune_keys")
}
