use serde::{Deserialize, Serialize};
use std::fmt;

/// A role held in a scope. Account-wide roles are held in the account's own scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Owner,
    Admin,
    #[serde(rename = "HR")]
    Hr,
    Curator,
    Member,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Owner, Role::Admin, Role::Hr, Role::Curator, Role::Member];

    /// The stable name stored in the database and used in forms.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Hr => "hr",
            Role::Curator => "curator",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Where the role stands: Owner > Admin > HR > Curator > Member. Nobody grants, or acts
    /// on an invitation offering, a role ranked above their own highest.
    pub fn rank(self) -> u8 {
        match self {
            Role::Owner => 4,
            Role::Admin => 3,
            Role::Hr => 2,
            Role::Curator => 1,
            Role::Member => 0,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Hr => "HR",
            Role::Curator => "Curator",
            Role::Member => "Member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A role as offered in an invitation or held in a scope: one of the built-in ranks, or one
/// of the account's own role names ("Clinician"), identified by its id. An account's own
/// roles grant membership, not administration, and rank with Member.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RoleKey {
    Builtin(Role),
    Custom(String),
}

const CUSTOM_PREFIX: &str = "custom:";

impl RoleKey {
    pub fn rank(&self) -> u8 {
        match self {
            RoleKey::Builtin(role) => role.rank(),
            RoleKey::Custom(_) => Role::Member.rank(),
        }
    }

    pub fn builtin(&self) -> Option<Role> {
        match self {
            RoleKey::Builtin(role) => Some(*role),
            RoleKey::Custom(_) => None,
        }
    }

    /// As stored and sent in forms: `admin`, or `custom:{id}`.
    pub fn as_stored(&self) -> String {
        match self {
            RoleKey::Builtin(role) => role.as_str().to_string(),
            RoleKey::Custom(id) => format!("{CUSTOM_PREFIX}{id}"),
        }
    }

    pub fn parse_stored(text: &str) -> Option<RoleKey> {
        match text.strip_prefix(CUSTOM_PREFIX) {
            Some(id) if crate::url::is_id(id) => Some(RoleKey::Custom(id.to_string())),
            Some(_) => None,
            None => Role::parse(text).map(RoleKey::Builtin),
        }
    }
}

impl From<Role> for RoleKey {
    fn from(role: Role) -> Self {
        RoleKey::Builtin(role)
    }
}

impl TryFrom<String> for RoleKey {
    type Error = crate::status::UnknownValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RoleKey::parse_stored(&value).ok_or(crate::status::UnknownValue { what: "role", value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_keys_round_trip_and_custom_roles_rank_with_member() {
        for key in [RoleKey::Builtin(Role::Hr), RoleKey::Custom("7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f".into())] {
            assert_eq!(RoleKey::parse_stored(&key.as_stored()), Some(key));
        }
        assert_eq!(RoleKey::parse_stored("custom:"), None);
        assert_eq!(RoleKey::parse_stored("custom:x y"), None);
        assert_eq!(RoleKey::Custom("a".into()).rank(), Role::Member.rank());
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
