//! First start: the account and its owner.

use super::audit::{self, AuditEvent};
use super::error::internal;
use super::store::{accounts, memberships, new_id, users};
use super::{passwords, AppState};
use shared::{password, AppError, Email, Role};

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
    let mut conn = state.db.pool.acquire().await.map_err(internal)?;
    Ok(accounts::count(&mut conn).await.map_err(internal)? == 0)
}

fn required(value: &str, what: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(AppError::Validation(format!("Enter {what}.")));
    }
    if value.chars().count() > 100 {
        return Err(AppError::Validation(format!("Use at most 100 characters for {what}.")));
    }
    Ok(value.to_string())
}

/// Creates the account and its owner in one transaction; refuses once an owner exists.
pub async fn create_owner(state: &AppState, input: OwnerSetup) -> Result<CreatedOwner, AppError> {
    let account_name = required(&input.account_name, "the account name")?;
    let owner_name = required(&input.owner_name, "your name")?;
    let email = Email::parse(&input.email).map_err(|e| AppError::Validation(e.to_string()))?;
    if input.password != input.password_confirmation {
        return Err(AppError::Validation(shared::messages::PASSWORDS_DIFFER.into()));
    }
    if let Some(why) = password::weakness(&input.password, email.as_str()) {
        return Err(AppError::Validation(why.into()));
    }
    if !setup_open(state).await? {
        return Err(AppError::InvalidState(ALREADY_SET_UP.into()));
    }
    let password_hash = passwords::hash(input.password).await?;
    state.checkpoints.reach(super::checkpoints::points::SETUP_BEFORE_WRITE).await;

    let now = state.clock.now_ms();
    let account_id = new_id();
    let user_id = new_id();
    let scope_id = new_id();
    let mut tx = state.db.write_tx().await.map_err(internal)?;
    // Both statements write, so this transaction holds the write lock from its first
    // statement; a second set-up racing this one collides on the installation key.
    accounts::insert(&mut tx, &account_id, &account_name, now).await.map_err(internal)?;
    let claimed = sqlx::query("INSERT INTO installation (singleton, account_id, created_at) VALUES (1, $1, $2) ON CONFLICT DO NOTHING")
        .bind(&account_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    if claimed.rows_affected() == 0 {
        return Err(AppError::InvalidState(ALREADY_SET_UP.into()));
    }
    accounts::insert_scope(&mut tx, &scope_id, &account_id, "account", &account_name, now).await.map_err(internal)?;
    users::insert(
        &mut tx,
        users::NewUser {
            id: &user_id,
            account_id: &account_id,
            email: email.as_str(),
            name: &owner_name,
            status: "active",
            password_hash: Some(&password_hash),
        },
        now,
    )
    .await
    .map_err(internal)?;
    memberships::grant(&mut tx, &user_id, &scope_id, Role::Owner.as_str(), now).await.map_err(internal)?;
    audit::record(
        &mut tx,
        AuditEvent {
            account_id: &account_id,
            actor_user_id: Some(&user_id),
            action: "account.created",
            target_type: "account",
            target_id: &account_id,
            details: serde_json::json!({ "owner_email": email.as_str() }),
        },
        now,
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    tracing::info!(account_id = %account_id, "account and owner created");
    Ok(CreatedOwner { user_id, account_id, email })
}
