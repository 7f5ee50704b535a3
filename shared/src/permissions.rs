//! Who may do what. The UI shows controls from these functions and the server refuses
//! with the same functions, so the two can never disagree.
//!
//! Two rules decide every invitation action: the actor's roles must carry the permission
//! ([`allows`]), and every role the invitation offers must be within the actor's ceiling
//! ([`may_act_on`]): roles rank Owner > Admin > HR > Curator > Member, and nobody grants, or
//! acts on an invitation offering, a role ranked above their own highest.

use crate::Role;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Things an actor can attempt that depend on their account-wide roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// See the Users page and every user of the account.
    ViewUsers,
    /// Invite, resend, remind, cancel across the account (within the role ceiling).
    ManageInvitations,
    /// Change account settings (expiry, outgoing email).
    ManageSettings,
    /// Read the delivery log of outgoing email.
    ViewDeliveryLog,
}

pub fn allows(roles: &[Role], permission: Permission) -> bool {
    let any = |wanted: &[Role]| roles.iter().any(|r| wanted.contains(r));
    match permission {
        Permission::ViewUsers | Permission::ManageInvitations => any(&[Role::Owner, Role::Admin, Role::Hr]),
        Permission::ManageSettings | Permission::ViewDeliveryLog => any(&[Role::Owner, Role::Admin]),
    }
}

/// Whether any admin page is open to these roles: decides the navigation and the
/// landing page after sign-in.
pub fn is_administrator(roles: &[Role]) -> bool {
    allows(roles, Permission::ViewUsers) || allows(roles, Permission::ManageSettings)
}

/// Why the server refused: a fixed set of reasons, each with its own message, so a
/// refusal can be shown as it is wherever it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Denied {
    /// The actor's roles do not carry the permission at all.
    NotPermitted,
    /// The action would grant, or touch an invitation offering, `role`, which is ranked
    /// above the actor's highest role.
    AboveYourRole { role: Role },
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::NotPermitted => f.write_str("You do not have permission to do that."),
            Denied::AboveYourRole { role } => {
                let who = match role {
                    Role::Owner => "an Owner",
                    Role::Admin => "an Admin or an Owner",
                    Role::Hr => "HR, an Admin or an Owner",
                    Role::Curator | Role::Member => "someone with a higher role",
                };
                write!(f, "Only {who} can grant {}, or act on an invitation that offers it.", role.label())
            }
        }
    }
}

/// The highest-ranked of `roles`.
pub fn ceiling(roles: &[Role]) -> Option<Role> {
    roles.iter().copied().max_by_key(|r| r.rank())
}

/// Whether `actor_roles` may grant `role`: it ranks at or below the actor's highest role.
/// Owner is the top rank, so only an Owner grants Owner.
pub fn may_grant(actor_roles: &[Role], role: Role) -> bool {
    ceiling(actor_roles).is_some_and(|top| role.rank() <= top.rank())
}

/// The roles an actor may offer in an invitation, highest first. Empty for an actor who
/// may not invite at all.
pub fn grantable_roles(actor_roles: &[Role]) -> Vec<Role> {
    if !allows(actor_roles, Permission::ManageInvitations) {
        return Vec::new();
    }
    Role::ALL.into_iter().filter(|r| may_grant(actor_roles, *r)).collect()
}

/// Whether the actor may invite with, or act on an invitation offering, `offered`: they
/// manage invitations, and every offered role is within their ceiling.
pub fn may_act_on(actor_roles: &[Role], offered: &[Role]) -> Result<(), Denied> {
    if !allows(actor_roles, Permission::ManageInvitations) {
        return Err(Denied::NotPermitted);
    }
    match offered.iter().copied().filter(|r| !may_grant(actor_roles, *r)).max_by_key(|r| r.rank()) {
        Some(role) => Err(Denied::AboveYourRole { role }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_manage_nothing() {
        for p in [Permission::ViewUsers, Permission::ManageInvitations, Permission::ManageSettings, Permission::ViewDeliveryLog] {
            assert!(!allows(&[Role::Member], p));
            assert!(allows(&[Role::Owner], p));
        }
        assert_eq!(grantable_roles(&[Role::Member]), vec![]);
        assert_eq!(may_act_on(&[Role::Member], &[Role::Member]), Err(Denied::NotPermitted));
    }

    #[test]
    fn hr_manages_invitations_but_not_settings() {
        assert!(allows(&[Role::Hr], Permission::ManageInvitations));
        assert!(!allows(&[Role::Hr], Permission::ManageSettings));
    }

    #[test]
    fn each_actor_grants_only_up_to_their_own_rank() {
        assert_eq!(grantable_roles(&[Role::Owner]), Role::ALL.to_vec());
        assert_eq!(grantable_roles(&[Role::Admin]), vec![Role::Admin, Role::Hr, Role::Curator, Role::Member]);
        assert_eq!(grantable_roles(&[Role::Hr]), vec![Role::Hr, Role::Curator, Role::Member]);
        assert_eq!(grantable_roles(&[Role::Member, Role::Hr]), vec![Role::Hr, Role::Curator, Role::Member], "the highest role counts");
        assert_eq!(grantable_roles(&[Role::Curator]), vec![], "a curator manages no invitations");
    }

    #[test]
    fn an_invitation_offering_a_higher_role_is_out_of_reach() {
        assert_eq!(may_act_on(&[Role::Hr], &[Role::Member, Role::Owner, Role::Admin]), Err(Denied::AboveYourRole { role: Role::Owner }));
        assert_eq!(may_act_on(&[Role::Admin], &[Role::Admin, Role::Hr]), Ok(()));
        assert_eq!(may_act_on(&[Role::Admin], &[Role::Owner]), Err(Denied::AboveYourRole { role: Role::Owner }));
        assert_eq!(may_act_on(&[Role::Owner], &Role::ALL), Ok(()));
        assert_eq!(
            Denied::AboveYourRole { role: Role::Owner }.to_string(),
            "Only an Owner can grant Owner, or act on an invitation that offers it."
        );
    }
}
