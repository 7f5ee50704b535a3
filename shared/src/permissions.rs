//! Who may do what. The UI shows controls from these functions and the server refuses
//! with the same functions, so the two can never disagree.

use crate::Role;

/// Things an actor can attempt that depend on their account-wide roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// See the Users page and every user of the account.
    ViewUsers,
    /// Invite, resend, remind, cancel across the account.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_manage_nothing() {
        for p in [Permission::ViewUsers, Permission::ManageInvitations, Permission::ManageSettings, Permission::ViewDeliveryLog] {
            assert!(!allows(&[Role::Member], p));
            assert!(allows(&[Role::Owner], p));
        }
    }

    #[test]
    fn hr_manages_invitations_but_not_settings() {
        assert!(allows(&[Role::Hr], Permission::ManageInvitations));
        assert!(!allows(&[Role::Hr], Permission::ManageSettings));
    }
}
