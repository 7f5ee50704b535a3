//! Roles as people read them: a stored role and place turned into "Clinician — Meeting room 3".

use super::error::Step;
use super::store::scopes::GrantRow;
use super::store::{custom_roles, Conn};
use shared::scopes::{Grant, GrantView};
use shared::{AppError, RoleKey};
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
