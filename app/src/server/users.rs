//! The Users page.

use super::error::internal;
use super::store::{memberships, users};
use super::{Actor, AppState};
use shared::permissions::Permission;
use shared::views::{UserRow, UserStatus};
use shared::{AppError, Role};

fn status_of(stored: &str) -> UserStatus {
    match stored {
        "active" => UserStatus::Active,
        "invited" => UserStatus::Invited,
        "deactivated" => UserStatus::Deactivated,
        _ => UserStatus::ProfileOnly,
    }
}

pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<UserRow>, AppError> {
    actor.require(Permission::ViewUsers)?;
    let mut conn = state.db.pool.acquire().await.map_err(internal)?;
    let records = users::list_for_account(&mut conn, &actor.account_id).await.map_err(internal)?;
    let mut rows = Vec::with_capacity(records.len());
    for user in records {
        let roles = memberships::account_roles(&mut conn, &user.id).await.map_err(internal)?;
        rows.push(UserRow {
            status: status_of(&user.status),
            roles: roles.iter().filter_map(|r| Role::parse(r)).collect(),
            user_id: user.id,
            name: user.name,
            email: user.email,
        });
    }
    Ok(rows)
}
