//! Who may do what: the one rule. The pages show controls from these functions and every
//! server function refuses with the same functions, so the two can never disagree.
//!
//! An actor's [`Authority`] is what they hold: roles in the account, the People permission,
//! and the places they administer. Three questions are asked of it:
//! - [`Authority::allows`]: may they use an area at all (the Users page, settings, …)?
//! - [`Authority::may_grant`]: may they give this role in this place? Account-wide managers
//!   (Owner, Admin, HR, and a Curator with People) give roles up to their own highest rank,
//!   anywhere in the account; a scope administrator (Admin held in a place) gives roles up to
//!   Admin in that place and the places below it, nowhere else. Roles rank
//!   Owner > Admin > HR > Curator > Member (an account's own roles rank with Member), so only
//!   an Owner grants Owner.
//! - [`Authority::may_act_on`]: may they act on an invitation (resend, remind, copy its link,
//!   change its roles, cancel it)? Only when they may grant every role it offers.

use crate::scopes::{Grant, ScopeKind};
use crate::{Role, RoleKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The areas of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// See the Users page: every user of the account, or a scope administrator's own people.
    ViewUsers,
    /// Invite, resend, remind, cancel: account-wide, or in the places one administers.
    ManageInvitations,
    /// Change a person's roles, deactivate and reactivate them, set a temporary password: the
    /// same people as their invitations, within the same ceiling.
    ManagePeople,
    /// Change account settings (expiry, outgoing email).
    ManageSettings,
    /// Read the delivery log of outgoing email.
    ViewDeliveryLog,
    /// Create, rename and archive organisational units, waiting areas and meeting rooms.
    ManageScopes,
    /// Define the account's own role names (Settings → Roles).
    ManageRoles,
    /// Give a Curator the People permission, or take it back.
    GrantPeople,
    /// Delete a person (their name, address and password are erased).
    DeletePeople,
    /// Read the audit log: all of it, or a scope administrator the events of their places.
    ViewAuditLog,
}

/// Why the server refused: a fixed set of reasons, each with its own message, so a refusal
/// can be shown as it is wherever it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Denied {
    /// The actor's roles do not open this area at all.
    NotPermitted,
    /// The action would grant, or touch an invitation offering, `role`, which is ranked
    /// above the actor's highest role there.
    AboveYourRole { role: Role },
    /// The action concerns a place the actor does not administer.
    OutsideYourScopes,
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
            Denied::OutsideYourScopes => f.write_str("That concerns a place you do not administer."),
        }
    }
}

/// What an API token carries of its creator's rights. Reading (the people, invitations and
/// jobs its creator sees) comes with every token; the rest only when chosen. The creator's
/// own authority, read again on every call, is narrowed to these: a token never does more
/// than its creator could in the browser at that moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenScopes {
    /// Invite, resend, remind, send new, extend, cancel, change an invitation's roles.
    pub invitations: bool,
    /// Change people's roles, deactivate and reactivate them.
    pub people: bool,
}

impl TokenScopes {
    pub const READ_ONLY: TokenScopes = TokenScopes { invitations: false, people: false };

    /// As stored and as the API names them: `read`, then `invitations` and `people`.
    pub fn names(self) -> Vec<&'static str> {
        let mut names = vec!["read"];
        if self.invitations {
            names.push("invitations");
        }
        if self.people {
            names.push("people");
        }
        names
    }

    /// Reads [`TokenScopes::names`] back; `None` for a name it does not know.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<TokenScopes> {
        let mut scopes = TokenScopes::READ_ONLY;
        for name in names {
            match name.trim() {
                "read" | "" => {}
                "invitations" => scopes.invitations = true,
                "people" => scopes.people = true,
                _ => return None,
            }
        }
        Some(scopes)
    }

    /// What the token's scopes let through of `permission`, before the creator's own roles.
    #[cfg(not(target_arch = "wasm32"))]
    fn lets_through(self, permission: Permission) -> bool {
        match permission {
            Permission::ViewUsers => true,
            Permission::ManageInvitations => self.invitations,
            Permission::ManagePeople => self.people,
            // Settings, places, roles, the logs and deleting people stay in the browser.
            Permission::ManageSettings
            | Permission::ViewDeliveryLog
            | Permission::ManageScopes
            | Permission::ManageRoles
            | Permission::GrantPeople
            | Permission::DeletePeople
            | Permission::ViewAuditLog => false,
        }
    }
}

/// What an actor holds, loaded for each request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authority {
    /// The account's own scope, where account-wide roles are held.
    pub account_scope_id: String,
    pub account_roles: Vec<Role>,
    /// The People permission an Owner or Admin gave this user: as a Curator, they manage
    /// invitations account-wide.
    pub people: bool,
    /// Every place where they hold Admin, and every place below those (archived ones left out).
    pub administered: Vec<String>,
    /// Acting through an API token: what it carries of the rest. Server-side only: the browser
    /// only ever holds a session's authority, and its pages need not carry the field's code.
    #[cfg(not(target_arch = "wasm32"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenScopes>,
}

impl Authority {
    /// An actor holding just these account-wide roles.
    pub fn of_roles(account_scope_id: impl Into<String>, roles: &[Role]) -> Authority {
        Authority { account_scope_id: account_scope_id.into(), account_roles: roles.to_vec(), ..Default::default() }
    }

    fn holds(&self, wanted: &[Role]) -> bool {
        self.account_roles.iter().any(|r| wanted.contains(r))
    }

    /// Whether they manage invitations across the whole account.
    pub fn manages_account(&self) -> bool {
        self.holds(&[Role::Owner, Role::Admin, Role::Hr]) || (self.people && self.holds(&[Role::Curator]))
    }

    /// The highest rank they grant account-wide, if they manage the account's invitations.
    fn account_ceiling(&self) -> Option<u8> {
        self.manages_account().then(|| self.account_roles.iter().map(|r| r.rank()).max()).flatten()
    }

    pub fn administers(&self, scope_id: &str) -> bool {
        scope_id != self.account_scope_id && self.administered.iter().any(|s| s == scope_id)
    }

    pub fn administers_any_place(&self) -> bool {
        !self.administered.is_empty()
    }

    pub fn allows(&self, permission: Permission) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        if self.token.is_some_and(|scopes| !scopes.lets_through(permission)) {
            return false;
        }
        match permission {
            Permission::ViewUsers | Permission::ManageInvitations | Permission::ManagePeople => self.manages_account() || self.administers_any_place(),
            Permission::ManageSettings
            | Permission::ViewDeliveryLog
            | Permission::ManageScopes
            | Permission::ManageRoles
            | Permission::GrantPeople
            | Permission::DeletePeople => self.holds(&[Role::Owner, Role::Admin]),
            Permission::ViewAuditLog => self.holds(&[Role::Owner, Role::Admin]) || self.administers_any_place(),
        }
    }

    /// Which events of the audit trail they read: `None` for all of them (an Owner or an
    /// Admin), else those concerning the places they administer.
    pub fn audit_places(&self) -> Result<Option<&[String]>, Denied> {
        self.require(Permission::ViewAuditLog)?;
        Ok((!self.holds(&[Role::Owner, Role::Admin])).then_some(self.administered.as_slice()))
    }

    pub fn require(&self, permission: Permission) -> Result<(), Denied> {
        if self.allows(permission) {
            Ok(())
        } else {
            Err(Denied::NotPermitted)
        }
    }

    /// Whether any admin page is open to them: decides the navigation and where they land.
    pub fn is_administrator(&self) -> bool {
        self.allows(Permission::ViewUsers) || self.allows(Permission::ManageSettings)
    }

    /// Whether they see (and may act in) the place `scope_id`: account-wide managers see
    /// every place, scope administrators their own.
    pub fn reaches(&self, scope_id: &str) -> bool {
        self.manages_account() || self.administers(scope_id)
    }

    /// Whether they may give `grant`.
    pub fn may_grant(&self, grant: &Grant) -> Result<(), Denied> {
        let rank = grant.role.rank();
        let in_place = self.administers(&grant.scope_id);
        let account_wide = self.account_ceiling().is_some_and(|ceiling| rank <= ceiling);
        let as_place_admin = in_place && rank <= Role::Admin.rank();
        match (account_wide || as_place_admin, grant.role.builtin()) {
            (true, _) => Ok(()),
            (false, Some(role)) if self.manages_account() || in_place => Err(Denied::AboveYourRole { role }),
            (false, _) if self.manages_account() || in_place => Err(Denied::NotPermitted),
            (false, _) => Err(Denied::OutsideYourScopes),
        }
    }

    /// Whether they may invite with, or act on an invitation offering, `offered`.
    pub fn may_act_on(&self, offered: &[Grant]) -> Result<(), Denied> {
        self.require(Permission::ManageInvitations)?;
        self.within_ceiling(offered)
    }

    /// Whether they may grant every one of `roles` (the caller has checked the area).
    pub fn within_ceiling(&self, roles: &[Grant]) -> Result<(), Denied> {
        // The highest role out of reach is the one worth naming.
        let mut refusals: Vec<Denied> = roles.iter().filter_map(|g| self.may_grant(g).err()).collect();
        refusals.sort_by_key(|d| match d {
            Denied::AboveYourRole { role } => 10 + role.rank(),
            Denied::OutsideYourScopes => 1,
            Denied::NotPermitted => 0,
        });
        refusals.pop().map_or(Ok(()), Err)
    }

    /// The built-in roles they may offer in a scope of `kind`, highest first. Owner is an
    /// account-wide role only. The account's own roles come on top, for anyone who may offer
    /// anything there.
    pub fn grantable_in(&self, scope_id: &str, kind: ScopeKind) -> Vec<Role> {
        if !self.allows(Permission::ManageInvitations) {
            return Vec::new();
        }
        Role::ALL
            .into_iter()
            .filter(|role| kind == ScopeKind::Account || *role != Role::Owner)
            .filter(|role| self.may_grant(&Grant::new(scope_id, RoleKey::Builtin(*role))).is_ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "00000000-0000-0000-0000-00000000000a";
    const NORTH: &str = "00000000-0000-0000-0000-0000000000b1";
    const SOUTH: &str = "00000000-0000-0000-0000-0000000000b2";

    fn actor(roles: &[Role]) -> Authority {
        Authority::of_roles(ACCOUNT, roles)
    }

    fn in_account(role: Role) -> Grant {
        Grant::new(ACCOUNT, role)
    }

    fn north_admin() -> Authority {
        Authority { administered: vec![NORTH.into()], ..actor(&[Role::Member]) }
    }

    #[test]
    fn members_and_curators_without_people_manage_nothing() {
        for roles in [&[Role::Member][..], &[Role::Curator]] {
            let a = actor(roles);
            for p in [Permission::ViewUsers, Permission::ManageInvitations, Permission::ManageSettings, Permission::ViewDeliveryLog, Permission::ManageScopes] {
                assert!(!a.allows(p), "{roles:?} {p:?}");
            }
            assert_eq!(a.may_act_on(&[in_account(Role::Member)]), Err(Denied::NotPermitted));
            assert!(!a.is_administrator());
        }
    }

    #[test]
    fn a_curator_with_people_manages_invitations_up_to_curator() {
        let a = Authority { people: true, ..actor(&[Role::Curator]) };
        assert!(a.allows(Permission::ManageInvitations));
        assert!(!a.allows(Permission::ManageSettings));
        assert_eq!(a.grantable_in(ACCOUNT, ScopeKind::Account), vec![Role::Curator, Role::Member]);
        assert_eq!(a.may_act_on(&[in_account(Role::Hr)]), Err(Denied::AboveYourRole { role: Role::Hr }));
        assert!(Authority { people: true, ..actor(&[Role::Member]) }.may_act_on(&[]).is_err(), "People matters only to a Curator");
    }

    #[test]
    fn each_account_manager_grants_only_up_to_their_own_rank() {
        assert_eq!(actor(&[Role::Owner]).grantable_in(ACCOUNT, ScopeKind::Account), Role::ALL.to_vec());
        assert_eq!(actor(&[Role::Admin]).grantable_in(ACCOUNT, ScopeKind::Account), vec![Role::Admin, Role::Hr, Role::Curator, Role::Member]);
        assert_eq!(actor(&[Role::Hr]).grantable_in(ACCOUNT, ScopeKind::Account), vec![Role::Hr, Role::Curator, Role::Member]);
        assert_eq!(actor(&[Role::Member, Role::Hr]).grantable_in(ACCOUNT, ScopeKind::Account), vec![Role::Hr, Role::Curator, Role::Member]);
        assert_eq!(
            actor(&[Role::Owner]).grantable_in(NORTH, ScopeKind::WaitingArea),
            vec![Role::Admin, Role::Hr, Role::Curator, Role::Member],
            "Owner is account-wide only"
        );
    }

    #[test]
    fn an_invitation_offering_a_higher_role_is_out_of_reach() {
        let hr = actor(&[Role::Hr]);
        assert_eq!(
            hr.may_act_on(&[in_account(Role::Member), in_account(Role::Owner), in_account(Role::Admin)]),
            Err(Denied::AboveYourRole { role: Role::Owner })
        );
        assert_eq!(actor(&[Role::Admin]).may_act_on(&[in_account(Role::Admin), in_account(Role::Hr)]), Ok(()));
        assert_eq!(actor(&[Role::Owner]).may_act_on(&Role::ALL.map(in_account)), Ok(()));
        assert_eq!(hr.may_act_on(&[Grant::new(NORTH, Role::Admin)]), Err(Denied::AboveYourRole { role: Role::Admin }), "the ceiling holds in places too");
        assert_eq!(Denied::AboveYourRole { role: Role::Owner }.to_string(), "Only an Owner can grant Owner, or act on an invitation that offers it.");
    }

    #[test]
    fn a_scope_administrator_reaches_their_places_only_and_up_to_admin() {
        let a = north_admin();
        assert!(a.allows(Permission::ViewUsers) && a.allows(Permission::ManageInvitations));
        assert!(!a.allows(Permission::ManageSettings) && !a.allows(Permission::ManageScopes));
        assert_eq!(a.may_act_on(&[Grant::new(NORTH, Role::Admin), Grant::new(NORTH, RoleKey::Custom("c1".into()))]), Ok(()));
        assert_eq!(a.may_act_on(&[Grant::new(NORTH, Role::Member), Grant::new(SOUTH, Role::Member)]), Err(Denied::OutsideYourScopes));
        assert_eq!(a.may_act_on(&[in_account(Role::Member)]), Err(Denied::OutsideYourScopes), "not the account's own roles");
        assert_eq!(a.grantable_in(NORTH, ScopeKind::WaitingArea), vec![Role::Admin, Role::Hr, Role::Curator, Role::Member]);
        assert_eq!(a.grantable_in(SOUTH, ScopeKind::WaitingArea), vec![]);
        assert!(a.reaches(NORTH) && !a.reaches(SOUTH));
    }

    #[test]
    fn a_token_narrows_its_creator_to_its_scopes_and_never_widens_them() {
        let owner_through = |scopes| Authority { token: Some(scopes), ..actor(&[Role::Owner]) };
        let read_only = owner_through(TokenScopes::READ_ONLY);
        assert!(read_only.allows(Permission::ViewUsers));
        assert!(!read_only.allows(Permission::ManageInvitations) && !read_only.allows(Permission::ManagePeople));
        assert_eq!(read_only.may_act_on(&[in_account(Role::Member)]), Err(Denied::NotPermitted));
        let invitations = owner_through(TokenScopes { invitations: true, people: false });
        assert_eq!(invitations.may_act_on(&[in_account(Role::Owner)]), Ok(()));
        assert!(!invitations.allows(Permission::ManagePeople));
        let people = owner_through(TokenScopes { invitations: false, people: true });
        assert!(people.allows(Permission::ManagePeople) && !people.allows(Permission::ManageInvitations));
        let everything = owner_through(TokenScopes { invitations: true, people: true });
        for area in [
            Permission::ManageSettings,
            Permission::ManageScopes,
            Permission::ManageRoles,
            Permission::GrantPeople,
            Permission::DeletePeople,
            Permission::ViewAuditLog,
            Permission::ViewDeliveryLog,
        ] {
            assert!(!everything.allows(area), "{area:?} stays in the browser");
        }
        // A Member's token carries nothing their roles do not.
        let member = Authority { token: Some(TokenScopes { invitations: true, people: true }), ..actor(&[Role::Member]) };
        assert!(!member.allows(Permission::ViewUsers) && !member.allows(Permission::ManageInvitations));
        // An HR token still stops at HR's ceiling.
        let hr = Authority { token: Some(TokenScopes { invitations: true, people: true }), ..actor(&[Role::Hr]) };
        assert_eq!(hr.may_act_on(&[in_account(Role::Admin)]), Err(Denied::AboveYourRole { role: Role::Admin }));
        assert_eq!(TokenScopes::parse(["read", "people"]), Some(TokenScopes { invitations: false, people: true }));
        assert_eq!(TokenScopes::parse(["admin"]), None);
        assert_eq!(TokenScopes::parse(TokenScopes { invitations: true, people: true }.names()), Some(TokenScopes { invitations: true, people: true }));
    }

    #[test]
    fn holding_the_account_scope_id_as_a_place_gives_nothing() {
        let a = Authority { administered: vec![ACCOUNT.into()], ..actor(&[Role::Member]) };
        assert!(!a.administers(ACCOUNT));
        assert_eq!(a.may_act_on(&[in_account(Role::Member)]), Err(Denied::OutsideYourScopes));
    }
}
