//! The places of an account that roles are held in: the account itself, organisational
//! units (which may nest), and the waiting areas and meeting rooms inside them.

use crate::roles::RoleKey;
use crate::status::UnknownValue;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScopeKind {
    Account,
    OrganisationalUnit,
    WaitingArea,
    MeetingRoom,
}

impl ScopeKind {
    pub const ALL: [ScopeKind; 4] = [ScopeKind::Account, ScopeKind::OrganisationalUnit, ScopeKind::WaitingArea, ScopeKind::MeetingRoom];
    /// The kinds an administrator creates (the account scope comes with the account).
    pub const PLACES: [ScopeKind; 3] = [ScopeKind::OrganisationalUnit, ScopeKind::WaitingArea, ScopeKind::MeetingRoom];

    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Account => "account",
            ScopeKind::OrganisationalUnit => "organisational_unit",
            ScopeKind::WaitingArea => "waiting_area",
            ScopeKind::MeetingRoom => "meeting_room",
        }
    }

    pub fn parse(s: &str) -> Option<ScopeKind> {
        ScopeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ScopeKind::Account => "Account",
            ScopeKind::OrganisationalUnit => "Organisational unit",
            ScopeKind::WaitingArea => "Waiting area",
            ScopeKind::MeetingRoom => "Meeting room",
        }
    }

    /// What the scope's members page is called: an organisational unit's people are its
    /// administrators (as in the products admins know), everywhere else its users.
    pub fn members_title(self) -> &'static str {
        match self {
            ScopeKind::OrganisationalUnit => "Manage administrators",
            _ => "Manage users",
        }
    }

    /// Where a scope of this kind may sit: organisational units in the account or in another
    /// unit; waiting areas and meeting rooms inside a unit.
    pub fn may_sit_in(self, parent: ScopeKind) -> bool {
        match self {
            ScopeKind::Account => false,
            ScopeKind::OrganisationalUnit => matches!(parent, ScopeKind::Account | ScopeKind::OrganisationalUnit),
            ScopeKind::WaitingArea | ScopeKind::MeetingRoom => parent == ScopeKind::OrganisationalUnit,
        }
    }
}

impl TryFrom<String> for ScopeKind {
    type Error = UnknownValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ScopeKind::parse(&value).ok_or(UnknownValue { what: "scope kind", value })
    }
}

impl fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A role in a scope: what an invitation offers and a membership holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    pub scope_id: String,
    pub role: RoleKey,
}

impl Grant {
    pub fn new(scope_id: impl Into<String>, role: impl Into<RoleKey>) -> Grant {
        Grant { scope_id: scope_id.into(), role: role.into() }
    }

    /// Grants as a form sends them: `{scope id}~{role}` joined by commas.
    pub fn to_param(grants: &[Grant]) -> String {
        grants.iter().map(|g| format!("{}~{}", g.scope_id, g.role.as_stored())).collect::<Vec<_>>().join(",")
    }

    /// Reads [`Grant::to_param`]; `None` when any piece is not a grant.
    pub fn parse_param(text: &str) -> Option<Vec<Grant>> {
        text.split(',')
            .filter(|piece| !piece.is_empty())
            .map(|piece| {
                let (scope, role) = piece.split_once('~')?;
                crate::url::is_id(scope).then(|| RoleKey::parse_stored(role).map(|role| Grant { scope_id: scope.to_string(), role })).flatten()
            })
            .collect()
    }
}

/// A grant as people read it: the role's name, and where it applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub grant: Grant,
    pub role_label: String,
    pub scope_name: String,
    pub scope_kind: ScopeKind,
}

impl GrantView {
    /// "Admin" for an account-wide role, "Clinician — Meeting room 3" for one in a place.
    pub fn label(&self) -> String {
        match self.scope_kind {
            ScopeKind::Account => self.role_label.clone(),
            _ => format!("{} — {}", self.role_label, self.scope_name),
        }
    }

    /// The labels of `grants`, comma-separated: "Admin, Clinician — Meeting room 3".
    pub fn list(grants: &[GrantView]) -> String {
        grants.iter().map(GrantView::label).collect::<Vec<_>>().join(", ")
    }

    /// At most `shown` labels and "+N more" for the rest, for a table cell that stays one
    /// line or two: "Admin, HR +2 more". The full list goes in the cell's title.
    pub fn compact(grants: &[GrantView], shown: usize) -> String {
        let labels: Vec<String> = grants.iter().map(GrantView::label).collect();
        match labels.len().checked_sub(shown) {
            Some(rest) if rest > 0 => format!("{} +{rest} more", labels[..shown].join(", ")),
            _ => labels.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    #[test]
    fn long_role_lists_read_compactly() {
        let view = |role: Role| GrantView {
            grant: Grant { scope_id: "s".into(), role: role.into() },
            role_label: role.label().into(),
            scope_name: "Acme".into(),
            scope_kind: ScopeKind::Account,
        };
        let grants = [view(Role::Admin), view(Role::Hr), view(Role::Curator), view(Role::Member)];
        assert_eq!(GrantView::compact(&grants, 2), "Admin, HR +2 more");
        assert_eq!(GrantView::compact(&grants[..2], 2), "Admin, HR");
        assert_eq!(GrantView::compact(&grants[..3], 3), "Admin, HR, Curator");
        assert_eq!(GrantView::compact(&[], 2), "");
    }

    #[test]
    fn places_sit_where_the_products_put_them() {
        assert!(ScopeKind::OrganisationalUnit.may_sit_in(ScopeKind::Account));
        assert!(ScopeKind::OrganisationalUnit.may_sit_in(ScopeKind::OrganisationalUnit));
        assert!(ScopeKind::WaitingArea.may_sit_in(ScopeKind::OrganisationalUnit));
        assert!(!ScopeKind::WaitingArea.may_sit_in(ScopeKind::Account));
        assert!(!ScopeKind::MeetingRoom.may_sit_in(ScopeKind::WaitingArea));
        assert!(!ScopeKind::Account.may_sit_in(ScopeKind::OrganisationalUnit));
    }

    #[test]
    fn grants_round_trip_through_a_form() {
        let grants = vec![
            Grant::new("7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f", Role::Admin),
            Grant::new("11111111-2222-3333-4444-555555555555", RoleKey::Custom("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee".into())),
        ];
        assert_eq!(Grant::parse_param(&Grant::to_param(&grants)), Some(grants));
        assert_eq!(Grant::parse_param(""), Some(vec![]));
        assert_eq!(Grant::parse_param("x~admin"), None);
        assert_eq!(Grant::parse_param("7b0c5d4e~root"), None);
    }
}
