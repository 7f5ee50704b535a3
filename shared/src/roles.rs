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

/// Kinds of scope a role can be held in. The account scope holds account-wide roles;
/// the others are the organisational places of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScopeKind {
    Account,
    OrganisationalUnit,
    WaitingArea,
    MeetingRoom,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Account => "account",
            ScopeKind::OrganisationalUnit => "organisational_unit",
            ScopeKind::WaitingArea => "waiting_area",
            ScopeKind::MeetingRoom => "meeting_room",
        }
    }

    pub fn parse(s: &str) -> Option<ScopeKind> {
        [ScopeKind::Account, ScopeKind::OrganisationalUnit, ScopeKind::WaitingArea, ScopeKind::MeetingRoom]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
