//! First start: the account and its owner.

use super::audit::{self, AuditEvent};
use super::error::Step;
use super::store::scopes::{self, NewScope};
use super::store::{accounts, memberships, new_id, users};
use super::{passwords, AppState};
use shared::audit::AuditAction;
use shared::names::{AccountName, PersonName};
use shared::password::NewPassword;
use shared::scopes::ScopeKind;
use shared::status::StoredUserStatus;
use shared::{AppError, Email, Role, RoleKey};

pub struct OwnerSetup {
    pub account_name: String,
    pub owner_name: String,
    pub email: String,
    pub password: String,
    pub password_confirmation: String,
}

/// The owner who was created, ready to be signed in.
#[derive(Clone, Debug)]
pub struct CreatedOwner {
    pub user_id: String,
    pub account_id: String,
    pub email: Email,
}

pub use shared::messages::ALREADY_SET_UP;

/// Whether the first-start set-up is still open (no owner exists yet).
pub async fn setup_open(state: &AppState) -> Result<bool, AppError> {
    use std::sync::atomic::Ordering;
    if state.set_up.load(Ordering::Relaxed) {
        return Ok(false);
    }
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let open = accounts::count(&mut conn).await.step("accounts::count")? == 0;
    if !open {
        state.set_up.store(true, Ordering::Relaxed);
    }
    Ok(open)
}

/// Creates the account and its owner in one transaction; refuses once an owner exists.
pub async fn create_owner(state: &AppState, input: OwnerSetup) -> Result<CreatedOwner, AppError> {
    let account_name = AccountName::parse(&input.account_name)?;
    let owner_name = PersonName::parse(&input.owner_name)?;
    let email = Email::parse(&input.email).map_err(|e| AppError::Validation(e.to_string()))?;
    let password = NewPassword::parse(input.password, &input.password_confirmation, email.as_str())?;
    if !setup_open(state).await? {
        return Err(AppError::InvalidState(ALREADY_SET_UP.into()));
    }
    let password_hash = passwords::hash(password.into_inner()).await?;
    state.checkpoints.reach(super::checkpoints::points::SETUP_BEFORE_WRITE).await;

    let now = state.clock.now_ms();
    let account_id = new_id();
    let user_id = new_id();
    let scope_id = new_id();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    // Both statements write, so this transaction holds the write lock from its first
    // statement; a second set-up racing this one collides on the installation key.
    accounts::insert(&mut tx, &account_id, account_name.as_str(), now).await.step("accounts::insert")?;
    if !accounts::claim_installation(&mut tx, &account_id, now).await.step("accounts::claim_installation")? {
        return Err(AppError::InvalidState(ALREADY_SET_UP.into()));
    }
    let account_scope = NewScope { id: &scope_id, account_id: &account_id, kind: ScopeKind::Account, name: account_name.as_str(), parent_id: None };
    scopes::insert(&mut tx, account_scope, now).await.step("scopes::insert")?;
    users::insert(
        &mut tx,
        users::NewUser {
            id: &user_id,
            account_id: &account_id,
            email: email.as_str(),
            name: owner_name.as_str(),
            status: StoredUserStatus::Active,
            password_hash: Some(&password_hash),
        },
        now,
    )
    .await
    .step("users::insert")?;
    memberships::grant(&mut tx, &user_id, &scope_id, &RoleKey::Builtin(Role::Owner), now).await.step("memberships::grant")?;
    audit::record(
        &mut tx,
        AuditEvent {
            account_id: &account_id,
            actor_user_id: Some(&user_id),
            action: AuditAction::AccountCreated,
            target_type: "account",
            target_id: &account_id,
            details: serde_json::json!({ "owner_email": email.as_str() }),
        },
        now,
    )
    .await
    .step("audit::record")?;
    tx.commit().await.step("commit")?;
    tracing::info!(account_id = %account_id, "account and owner created");
    Ok(CreatedOwner { user_id, account_id, email })
}
