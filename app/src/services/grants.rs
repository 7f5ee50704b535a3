//! Roles as people read them: a stored role and place turned into "Clinician — Meeting room 3".

use super::error::Step;
use super::store::scopes::GrantRow;
use super::store::{custom_roles, scopes, Conn, Engine};
use super::Actor;
use shared::scopes::{Grant, GrantView, ScopeKind};
use shared::{AppError, Role, RoleKey};
use std::collections::HashMap;

/// The names of the account's own roles, to label them.
#[derive(Default)]
pub struct RoleNames(HashMap<String, String>);

impl RoleNames {
    pub async fn load(conn: &mut Conn, account_id: &str) -> Result<RoleNames, AppError> {
        let roles = custom_roles::list(conn, account_id).await.step("custom_roles::list")?;
        Ok(RoleNames(roles.into_iter().map(|r| (r.id, r.name)).collect()))
    }

    /// The names [`RoleNames::group`] needs for `rows`, read only when one of them is one of
    /// the account's own roles (most lists show built-in roles alone).
    pub async fn needed_by<'a>(conn: &mut Conn, account_id: &str, mut rows: impl Iterator<Item = &'a GrantRow>) -> Result<RoleNames, AppError> {
        match rows.any(|r| matches!(RoleKey::parse_stored(&r.role), Some(RoleKey::Custom(_)))) {
            true => RoleNames::load(conn, account_id).await,
            false => Ok(RoleNames::default()),
        }
    }

    pub fn label(&self, key: &RoleKey) -> String {
        match key {
            RoleKey::Builtin(role) => role.label().to_string(),
            // Only closed invitations can still name a role that was removed since.
            RoleKey::Custom(id) => self.0.get(id).cloned().unwrap_or_else(|| "Removed role".into()),
        }
    }

    pub fn knows(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// The stored rows as grants people can read, grouped by their owner (user or
    /// invitation), account-wide roles first, then by place and role.
    pub fn group(&self, rows: Vec<GrantRow>) -> Result<HashMap<String, Vec<GrantView>>, AppError> {
        let mut grouped: HashMap<String, Vec<GrantView>> = HashMap::new();
        for row in rows {
            let role = RoleKey::try_from(row.role).step("RoleKey::try_from")?;
            let view = GrantView {
                role_label: self.label(&role),
                grant: Grant { scope_id: row.scope_id, role },
                scope_name: row.scope_name,
                scope_kind: row.scope_kind,
            };
            grouped.entry(row.owner_id).or_default().push(view);
        }
        for list in grouped.values_mut() {
            list.sort_by(|a, b| (a.scope_kind, a.scope_name.to_lowercase(), &a.grant.role).cmp(&(b.scope_kind, b.scope_name.to_lowercase(), &b.grant.role)));
        }
        Ok(grouped)
    }
}

/// Refuses grants that cannot exist: a place of another account or archived, Owner outside
/// the account scope, a role name the account does not have.
///
/// On PostgreSQL the places are share-locked until the transaction ends, so an archiving of
/// one of them waits for this invitation, and then sees it open and refuses.
pub async fn check_grants(tx: &mut Conn, engine: Engine, actor: &Actor, grants: &[Grant]) -> Result<(), AppError> {
    let names = RoleNames::load(tx, &actor.account_id).await?;
    let places: Vec<String> = grants.iter().map(|g| g.scope_id.clone()).collect();
    scopes::lock_live(tx, engine, &places).await.step("scopes::lock_live")?;
    for grant in grants {
        let scope = scopes::get(tx, &actor.account_id, &grant.scope_id).await.step("scopes::get")?;
        let Some(scope) = scope.filter(|s| s.archived_at.is_none()) else {
            return Err(AppError::Validation("One of the places chosen no longer exists. Reload the page and choose again.".into()));
        };
        match &grant.role {
            RoleKey::Builtin(Role::Owner) if scope.kind != ScopeKind::Account => {
                return Err(AppError::Validation(format!("Owner is an account-wide role; it cannot be given in {}.", scope.name)));
            }
            RoleKey::Custom(id) if !names.knows(id) => {
                return Err(AppError::Validation("One of the roles chosen no longer exists. Reload the page and choose again.".into()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The labels of `grants` as people read them ("Admin", "Clinician — Room 3").
pub async fn labels(conn: &mut Conn, account_id: &str, grants: &[Grant]) -> Result<Vec<String>, AppError> {
    let names = RoleNames::load(conn, account_id).await?;
    let mut labels = Vec::with_capacity(grants.len());
    for grant in grants {
        let scope = scopes::get(conn, account_id, &grant.scope_id).await.step("scopes::get")?.ok_or(AppError::NotFound)?;
        let view = GrantView { role_label: names.label(&grant.role), grant: grant.clone(), scope_name: scope.name, scope_kind: scope.kind };
        labels.push(view.label());
    }
    Ok(labels)
}
