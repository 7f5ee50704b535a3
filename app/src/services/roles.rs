//! Settings → Roles: the account's own role names ("Clinician", "Receptionist"), which an
//! invitation can offer in any place. They grant membership, not administration. Also what
//! "Invite people" may offer a given admin.

use super::audit::{self, AuditEvent};
use super::error::{internal, Step};
use super::store::{custom_roles, is_unique_violation, new_id, scopes, Conn};
use super::{Actor, AppState};
use shared::audit::AuditAction;
use shared::names::RoleName;
use shared::permissions::Permission;
use shared::scopes::ScopeKind;
use shared::views::{CustomRole, InviteOptions, PlaceOption, RoleOption};
use shared::{AppError, RoleKey};

pub async fn list(state: &AppState, actor: &Actor) -> Result<Vec<CustomRole>, AppError> {
    actor.require(Permission::ManageRoles)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let roles = custom_roles::list(&mut conn, &actor.account_id).await.step("custom_roles::list")?;
    Ok(roles.into_iter().map(|r| CustomRole { id: r.id, name: r.name, in_use: r.in_use }).collect())
}

async fn record(conn: &mut Conn, actor: &Actor, action: AuditAction, role_id: &str, details: serde_json::Value, now: i64) -> Result<(), AppError> {
    let event = AuditEvent { account_id: &actor.account_id, actor_user_id: Some(&actor.user_id), action, target_type: "role", target_id: role_id, details };
    audit::record(conn, event, now).await.step("audit::record")
}

/// The database's unique name index also folds ASCII case only; this check folds every case.
async fn ensure_name_free(conn: &mut Conn, actor: &Actor, name: &RoleName, except: Option<&str>) -> Result<(), AppError> {
    let existing = custom_roles::list(conn, &actor.account_id).await.step("custom_roles::list")?;
    if existing.iter().any(|r| Some(r.id.as_str()) != except && r.name.to_lowercase() == name.as_str().to_lowercase()) {
        return Err(name_taken());
    }
    Ok(())
}

fn name_taken() -> AppError {
    AppError::Validation("The account already has a role of that name.".into())
}

#[track_caller]
fn unique_or_internal(error: sqlx::Error) -> AppError {
    if is_unique_violation(&error) {
        name_taken()
    } else {
        internal("custom_roles write", error)
    }
}

pub async fn create(state: &AppState, actor: &Actor, name: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageRoles)?;
    let name = RoleName::parse_custom(name)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    ensure_name_free(&mut tx, actor, &name, None).await?;
    let id = new_id();
    custom_roles::insert(&mut tx, &id, &actor.account_id, name.as_str(), now).await.map_err(unique_or_internal)?;
    record(&mut tx, actor, AuditAction::RoleCreated, &id, serde_json::json!({ "name": name.as_str() }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("The role {name} is added. Invitations can now offer it in any place."))
}

pub async fn rename(state: &AppState, actor: &Actor, id: &str, name: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageRoles)?;
    let name = RoleName::parse_custom(name)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    ensure_name_free(&mut tx, actor, &name, Some(id)).await?;
    if !custom_roles::rename(&mut tx, &actor.account_id, id, name.as_str()).await.map_err(unique_or_internal)? {
        return Err(AppError::NotFound);
    }
    record(&mut tx, actor, AuditAction::RoleRenamed, id, serde_json::json!({ "name": name.as_str() }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("The role is now called {name}."))
}

/// Removes a role nobody holds and no open invitation offers.
pub async fn remove(state: &AppState, actor: &Actor, id: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageRoles)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let roles = custom_roles::list(&mut tx, &actor.account_id).await.step("custom_roles::list")?;
    let role = roles.into_iter().find(|r| r.id == id).ok_or(AppError::NotFound)?;
    if role.in_use > 0 {
        return Err(AppError::InvalidState(format!(
            "{} is held by people or offered by open invitations ({} in all). Remove it from them first, or rename it.",
            role.name, role.in_use
        )));
    }
    custom_roles::delete(&mut tx, &actor.account_id, id).await.step("custom_roles::delete")?;
    record(&mut tx, actor, AuditAction::RoleRemoved, id, serde_json::json!({ "name": role.name }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("The role {} is removed.", role.name))
}

/// The places the actor may invite into (the account first, when they manage it; then
/// every live place they reach, in tree order) and the roles they may offer in each.
pub async fn invite_options(state: &AppState, actor: &Actor) -> Result<InviteOptions, AppError> {
    actor.require(Permission::ManageInvitations)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let custom = custom_roles::list(&mut conn, &actor.account_id).await.step("custom_roles::list")?;
    let tree = super::scopes::tree(state, actor, Default::default()).await;
    let nodes = match tree {
        Ok(tree) => tree.nodes,
        Err(AppError::Forbidden(_)) => Vec::new(),
        Err(other) => return Err(other),
    };
    let account_scope_id = scopes::account_scope_id(&mut conn, &actor.account_id).await.step("scopes::account_scope_id")?;
    let account = std::iter::once((account_scope_id, actor.account_name.clone(), ScopeKind::Account, 0));
    let places = account.chain(nodes.into_iter().filter(|n| !n.archived).map(|n| (n.id, n.name, n.kind, n.depth + 1)));
    let options = places
        .filter_map(|(scope_id, name, kind, depth)| {
            let builtin = actor.authority.grantable_in(&scope_id, kind);
            if builtin.is_empty() {
                return None;
            }
            let roles = builtin
                .into_iter()
                .map(|r| RoleOption { key: RoleKey::Builtin(r), label: r.label().to_string() })
                .chain(custom.iter().map(|c| RoleOption { key: RoleKey::Custom(c.id.clone()), label: c.name.clone() }))
                .collect();
            Some(PlaceOption { scope_id, name, kind, depth, roles })
        })
        .collect();
    Ok(InviteOptions { places: options })
}
