//! What an administrator may do to a person (not to their invitation: see `invitations`):
//! change their roles, set a temporary password, deactivate, reactivate, correct the address
//! of their invitation, sign them out everywhere, delete them. The person's page and the row
//! menu show exactly what [`person_actions`] allows and the server refuses the rest with
//! [`ensure_person_action`].
//!
//! Who: the people managers of `permissions` (account-wide managers, scope administrators),
//! within their ceiling. A person ranks by every role they hold or are offered: an actor acts
//! on them only if they may grant each of those roles (nobody acts on someone ranked above
//! themselves), and a scope administrator only on people with a role in their places and
//! none elsewhere. Nobody deactivates, demotes or deletes themselves; the last active Owner
//! stays (the server counts Owners in the transaction that would remove one).

use crate::bulk::SkipReason;
use crate::permissions::{Authority, Denied, Permission};
use crate::scopes::Grant;
use crate::status::UserStatus;
use crate::{AppError, Role, RoleKey};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PersonAction {
    /// Grant further roles to an active person at once.
    AddRoles,
    /// Take roles the person holds away.
    RemoveRoles,
    /// Confirm a person who never set up their account with a temporary password they must
    /// change at their first sign-in (for an invitation email that never arrives).
    SetPassword,
    /// Correct the address a pending invitation went to (a typo).
    CorrectAddress,
    /// End every sign-in of the person.
    SignOutEverywhere,
    Deactivate,
    Reactivate,
    /// Erase the person's name, address and password; the audit trail keeps a tombstone.
    Delete,
}

impl PersonAction {
    pub const ALL: [PersonAction; 8] = [
        PersonAction::AddRoles,
        PersonAction::RemoveRoles,
        PersonAction::SetPassword,
        PersonAction::CorrectAddress,
        PersonAction::SignOutEverywhere,
        PersonAction::Deactivate,
        PersonAction::Reactivate,
        PersonAction::Delete,
    ];

    pub fn label(self) -> &'static str {
        match self {
            PersonAction::AddRoles => "Add roles",
            PersonAction::RemoveRoles => "Remove roles",
            PersonAction::SetPassword => "Set password",
            PersonAction::CorrectAddress => "Correct email address",
            PersonAction::SignOutEverywhere => "Sign out everywhere",
            PersonAction::Deactivate => "Deactivate",
            PersonAction::Reactivate => "Reactivate",
            PersonAction::Delete => "Delete person",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PersonAction::AddRoles => "add_roles",
            PersonAction::RemoveRoles => "remove_roles",
            PersonAction::SetPassword => "set_password",
            PersonAction::CorrectAddress => "correct_address",
            PersonAction::SignOutEverywhere => "sign_out_everywhere",
            PersonAction::Deactivate => "deactivate",
            PersonAction::Reactivate => "reactivate",
            PersonAction::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<PersonAction> {
        PersonAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the row's "•••" menu offers it (the rest live on the person's page: changing
    /// roles needs the list of them, and deleting is kept one page away from a slip).
    pub fn in_row_menu(self) -> bool {
        matches!(self, PersonAction::SetPassword | PersonAction::CorrectAddress | PersonAction::Deactivate | PersonAction::Reactivate)
    }
}

/// The person an action is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonSubject {
    pub status: UserStatus,
    /// The roles they hold.
    pub held: Vec<Grant>,
    /// The roles their open invitation offers.
    pub offered: Vec<Grant>,
    /// The actor themselves.
    pub is_self: bool,
}

impl PersonSubject {
    fn every_role(&self) -> Vec<Grant> {
        self.held.iter().chain(&self.offered).cloned().collect()
    }

    /// Whether they hold Owner (account-wide, the only place Owner is held).
    pub fn is_owner(&self) -> bool {
        self.held.iter().any(|g| g.role == RoleKey::Builtin(Role::Owner))
    }
}

/// Whether `actor` reaches `person` at all: a people manager who may grant every role the
/// person holds or is offered, and for a scope administrator, someone with a role in their
/// places.
pub fn may_manage(actor: &Authority, person: &PersonSubject) -> Result<(), Denied> {
    actor.require(Permission::ManagePeople)?;
    let roles = person.every_role();
    if !actor.manages_account() && !roles.iter().any(|g| actor.administers(&g.scope_id)) {
        return Err(Denied::OutsideYourScopes);
    }
    actor.within_ceiling(&roles)
}

/// What the person's situation allows, in the page's order.
fn actions_for(person: &PersonSubject) -> Vec<PersonAction> {
    use PersonAction::*;
    let mut actions = match person.status {
        UserStatus::Active => vec![AddRoles, RemoveRoles, SignOutEverywhere, Deactivate, Delete],
        UserStatus::Invited | UserStatus::Expired => vec![SetPassword, CorrectAddress, Deactivate, Delete],
        UserStatus::ProfileOnly => vec![SetPassword, Deactivate, Delete],
        UserStatus::AwaitingConfirmation => vec![Deactivate, Delete],
        UserStatus::Deactivated => vec![Reactivate, Delete],
    };
    if person.held.is_empty() {
        actions.retain(|a| *a != RemoveRoles);
    }
    if person.is_self {
        actions.retain(|a| matches!(a, AddRoles | SignOutEverywhere));
    }
    actions
}

/// The actions `actor` may take on `person`: nothing when they may not manage this person
/// at all, and Delete only for an Owner or an Admin.
pub fn person_actions(actor: &Authority, person: &PersonSubject) -> Vec<PersonAction> {
    if may_manage(actor, person).is_err() {
        return Vec::new();
    }
    let mut actions = actions_for(person);
    if !actor.allows(Permission::DeletePeople) {
        actions.retain(|a| *a != PersonAction::Delete);
    }
    actions
}

/// Why [`person_actions`] does not offer `action`, if it does not.
pub fn person_refusal(actor: &Authority, action: PersonAction, person: &PersonSubject) -> Option<SkipReason> {
    if let Err(denied) = may_manage(actor, person) {
        return Some(denied.into());
    }
    if action == PersonAction::Delete {
        if let Err(denied) = actor.require(Permission::DeletePeople) {
            return Some(denied.into());
        }
    }
    if actions_for(person).contains(&action) {
        return None;
    }
    Some(match (action, person.status) {
        (_, _) if person.is_self => SkipReason::Yourself,
        (PersonAction::RemoveRoles, _) => SkipReason::NoRoles,
        (PersonAction::Reactivate, _) => SkipReason::NotDeactivated,
        (_, UserStatus::Deactivated) => SkipReason::Deactivated,
        (PersonAction::SetPassword, UserStatus::Active) => SkipReason::HasSetUpAccount,
        (PersonAction::SetPassword, _) => SkipReason::NotSetUp,
        (PersonAction::CorrectAddress, _) => SkipReason::NotPendingAddress,
        (PersonAction::AddRoles, _) => SkipReason::NotActive,
        _ => SkipReason::NotNow,
    })
}

/// Refuses what [`person_actions`] does not offer: 403 when the actor may not manage this
/// person (or delete anyone), otherwise a state error saying why not now.
pub fn ensure_person_action(actor: &Authority, action: PersonAction, person: &PersonSubject) -> Result<(), AppError> {
    person_refusal(actor, action, person).map_or(Ok(()), |reason| Err(reason.into_error()))
}

/// The refusal when an action would leave the account without an active Owner.
pub const LAST_OWNER: &str = "The account must keep at least one active Owner: make someone else an Owner first.";

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "00000000-0000-0000-0000-00000000000a";
    const NORTH: &str = "00000000-0000-0000-0000-0000000000b1";
    const SOUTH: &str = "00000000-0000-0000-0000-0000000000b2";

    fn person(status: UserStatus, held: &[Grant]) -> PersonSubject {
        PersonSubject { status, held: held.to_vec(), offered: Vec::new(), is_self: false }
    }

    fn actor(roles: &[Role]) -> Authority {
        Authority::of_roles(ACCOUNT, roles)
    }

    #[test]
    fn each_status_offers_what_the_readme_lists() {
        use PersonAction::*;
        let owner = actor(&[Role::Owner]);
        let member = [Grant::new(ACCOUNT, Role::Member)];
        let cases: [(UserStatus, &[PersonAction]); 6] = [
            (UserStatus::Active, &[AddRoles, RemoveRoles, SignOutEverywhere, Deactivate, Delete]),
            (UserStatus::Invited, &[SetPassword, CorrectAddress, Deactivate, Delete]),
            (UserStatus::Expired, &[SetPassword, CorrectAddress, Deactivate, Delete]),
            (UserStatus::ProfileOnly, &[SetPassword, Deactivate, Delete]),
            (UserStatus::AwaitingConfirmation, &[Deactivate, Delete]),
            (UserStatus::Deactivated, &[Reactivate, Delete]),
        ];
        for (status, expected) in cases {
            assert_eq!(person_actions(&owner, &person(status, &member)), expected.to_vec(), "{status:?}");
        }
        let row_menu: Vec<PersonAction> = person_actions(&owner, &person(UserStatus::Deactivated, &member)).into_iter().filter(|a| a.in_row_menu()).collect();
        assert_eq!(row_menu, vec![Reactivate], "a deactivated row's menu offers Reactivate only");
    }

    #[test]
    fn nobody_acts_on_someone_ranked_above_them_and_only_owners_and_admins_delete() {
        let hr = actor(&[Role::Hr]);
        let admin_person = person(UserStatus::Active, &[Grant::new(ACCOUNT, Role::Admin)]);
        assert_eq!(person_actions(&hr, &admin_person), vec![]);
        assert_eq!(ensure_person_action(&hr, PersonAction::Deactivate, &admin_person), Err(AppError::Forbidden(Denied::AboveYourRole { role: Role::Admin })));
        let in_north = person(UserStatus::Active, &[Grant::new(NORTH, Role::Admin)]);
        assert_eq!(ensure_person_action(&hr, PersonAction::Deactivate, &in_north), Err(AppError::Forbidden(Denied::AboveYourRole { role: Role::Admin })));
        let peer = person(UserStatus::Active, &[Grant::new(ACCOUNT, Role::Hr)]);
        assert!(person_actions(&hr, &peer).contains(&PersonAction::Deactivate), "an equal rank is within reach");
        assert!(!person_actions(&hr, &peer).contains(&PersonAction::Delete));
        assert_eq!(ensure_person_action(&hr, PersonAction::Delete, &peer), Err(AppError::Forbidden(Denied::NotPermitted)));
        assert!(person_actions(&actor(&[Role::Admin]), &peer).contains(&PersonAction::Delete));
        let member = actor(&[Role::Member]);
        assert_eq!(ensure_person_action(&member, PersonAction::Deactivate, &peer), Err(AppError::Forbidden(Denied::NotPermitted)));
    }

    #[test]
    fn a_scope_administrator_acts_only_on_people_whose_every_role_is_in_their_places() {
        let north_admin = Authority { administered: vec![NORTH.into()], ..actor(&[Role::Member]) };
        let in_north = person(UserStatus::Active, &[Grant::new(NORTH, Role::Member)]);
        assert!(person_actions(&north_admin, &in_north).contains(&PersonAction::Deactivate));
        assert!(!person_actions(&north_admin, &in_north).contains(&PersonAction::Delete));
        let also_south = person(UserStatus::Active, &[Grant::new(NORTH, Role::Member), Grant::new(SOUTH, Role::Member)]);
        assert_eq!(ensure_person_action(&north_admin, PersonAction::Deactivate, &also_south), Err(AppError::Forbidden(Denied::OutsideYourScopes)));
        let account_wide = person(UserStatus::Active, &[Grant::new(ACCOUNT, Role::Member)]);
        assert_eq!(ensure_person_action(&north_admin, PersonAction::Deactivate, &account_wide), Err(AppError::Forbidden(Denied::OutsideYourScopes)));
        let nobody = person(UserStatus::ProfileOnly, &[]);
        assert_eq!(
            ensure_person_action(&north_admin, PersonAction::SetPassword, &nobody),
            Err(AppError::Forbidden(Denied::OutsideYourScopes)),
            "no role in their places"
        );
    }

    #[test]
    fn nobody_deactivates_demotes_or_deletes_themselves() {
        let me = PersonSubject { is_self: true, ..person(UserStatus::Active, &[Grant::new(ACCOUNT, Role::Owner)]) };
        let owner = actor(&[Role::Owner]);
        assert_eq!(person_actions(&owner, &me), vec![PersonAction::AddRoles, PersonAction::SignOutEverywhere]);
        for action in [PersonAction::Deactivate, PersonAction::RemoveRoles, PersonAction::Delete] {
            assert_eq!(ensure_person_action(&owner, action, &me), Err(AppError::InvalidState("You cannot do that to yourself.".into())));
        }
    }

    #[test]
    fn a_password_is_set_only_for_someone_who_never_set_up_their_account() {
        let owner = actor(&[Role::Owner]);
        let active = person(UserStatus::Active, &[Grant::new(ACCOUNT, Role::Member)]);
        let refused = ensure_person_action(&owner, PersonAction::SetPassword, &active);
        assert!(matches!(refused, Err(AppError::InvalidState(ref why)) if why.contains("password reset link")), "{refused:?}");
        assert_eq!(ensure_person_action(&owner, PersonAction::SetPassword, &person(UserStatus::Expired, &[])), Ok(()));
    }
}
