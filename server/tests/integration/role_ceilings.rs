//! Role ceilings through the services: every invitation action × every actor × an
//! invitation offering each role. Allowed calls succeed; refused ones fail with a
//! permission error and leave the database exactly as it was.

use crate::common;

use app::services::invitations::service::{self, InviteRequest};
use app::services::Actor;
use common::*;
use shared::invitations::InvitationAction;
use shared::permissions::Denied;
use shared::status::UserStatus;
use shared::{AppError, Role};

/// What an admin can do to an invitation, each in the state where it applies.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    Invite,
    Resend,
    Remind,
    SendNew,
    CopyLink,
    Manage,
    Cancel,
    InviteToActivate,
}

const CASES: [Case; 8] = [Case::Invite, Case::Resend, Case::Remind, Case::SendNew, Case::CopyLink, Case::Manage, Case::Cancel, Case::InviteToActivate];

impl Case {
    /// The state the target must be in first.
    fn needs(self) -> Option<UserStatus> {
        match self {
            Case::Invite => None,
            Case::SendNew => Some(UserStatus::Expired),
            Case::InviteToActivate => Some(UserStatus::ProfileOnly),
            _ => Some(UserStatus::Invited),
        }
    }
}

fn request(app: &TestApp, email: &str, roles: &[Role]) -> InviteRequest {
    InviteRequest { addresses: email.into(), grants: app.account_grants(roles), message: None, send_despite_typos: false }
}

fn target(offered: Role) -> String {
    format!("offered-{}@example.com", offered.as_str())
}

/// Who acts: each built-in role held account-wide, and a Curator given the People permission.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Role(Role),
    CuratorWithPeople,
}

const ACTORS: [Who; 6] =
    [Who::Role(Role::Owner), Who::Role(Role::Admin), Who::Role(Role::Hr), Who::CuratorWithPeople, Who::Role(Role::Curator), Who::Role(Role::Member)];

/// The rule as the README states it, written out independently of `shared::permissions`:
/// Owner, Admin, HR, and a Curator with People manage invitations, each up to their own
/// rank; nobody else manages any.
fn expected(actor: Who, offered: Role) -> Result<(), Denied> {
    let ceiling = match actor {
        Who::Role(Role::Owner) => 4,
        Who::Role(Role::Admin) => 3,
        Who::Role(Role::Hr) => 2,
        Who::CuratorWithPeople => 1,
        Who::Role(Role::Curator | Role::Member) => return Err(Denied::NotPermitted),
    };
    let rank = match offered {
        Role::Owner => 4,
        Role::Admin => 3,
        Role::Hr => 2,
        Role::Curator => 1,
        Role::Member => 0,
    };
    if rank <= ceiling {
        Ok(())
    } else {
        Err(Denied::AboveYourRole { role: offered })
    }
}

async fn run(app: &TestApp, actor: &Actor, case: Case, offered: Role) -> Result<(), AppError> {
    let email = target(offered);
    let user_id = || user_id_of(&app.state, &email);
    match case {
        Case::Invite | Case::InviteToActivate => {
            let outcome = service::invite(&app.state, actor, request(app, &email, &[offered])).await?;
            assert_eq!(outcome.invited, vec![email.clone()], "{outcome:?}");
            Ok(())
        }
        Case::CopyLink => service::copy_link(&app.state, actor, &user_id().await).await.map(|_| ()),
        Case::Manage => service::remove_grants(&app.state, actor, &user_id().await, app.account_grants(&[offered])).await.map(|_| ()),
        Case::Resend => service::act(&app.state, actor, &user_id().await, InvitationAction::Resend).await.map(|_| ()),
        Case::Remind => service::act(&app.state, actor, &user_id().await, InvitationAction::Remind).await.map(|_| ()),
        Case::SendNew => service::act(&app.state, actor, &user_id().await, InvitationAction::SendNew).await.map(|_| ()),
        Case::Cancel => service::act(&app.state, actor, &user_id().await, InvitationAction::Cancel).await.map(|_| ()),
    }
}

#[tokio::test]
async fn every_action_by_every_actor_on_every_offered_role_follows_the_ceiling() {
    for case in CASES {
        for who in ACTORS {
            let app = TestApp::with_owner().await;
            let owner = app.owner().await;
            let role = match who {
                Who::Role(role) => role,
                Who::CuratorWithPeople => Role::Curator,
            };
            let id = app.add_active_user("actor@example.com", role.as_str()).await;
            if who == Who::CuratorWithPeople {
                app::services::users::set_people_permission(&app.state, &owner, &id, true).await.unwrap();
            }
            let actor = app.actor_for(&id).await;
            // The owner prepares one target per offered role, in the state the action needs.
            if let Some(needed) = case.needs() {
                for offered in Role::ALL {
                    service::invite(&app.state, &owner, request(&app, &target(offered), &[offered])).await.unwrap();
                    if needed == UserStatus::ProfileOnly {
                        let id = user_id_of(&app.state, &target(offered)).await;
                        service::act(&app.state, &owner, &id, InvitationAction::Cancel).await.unwrap();
                    }
                }
                if needed == UserStatus::Expired {
                    app.clock.advance(chrono::Duration::days(8));
                }
            }
            for offered in Role::ALL {
                let before = dump_database(&app.state).await;
                let result = run(&app, &actor, case, offered).await;
                match expected(who, offered) {
                    Ok(()) => assert!(result.is_ok(), "{case:?} by {who:?} on {offered:?}: {result:?}"),
                    Err(denied) => {
                        assert_eq!(result, Err(AppError::Forbidden(denied)), "{case:?} by {who:?} on {offered:?}");
                        assert_eq!(dump_database(&app.state).await, before, "{case:?} by {who:?} on {offered:?} changed nothing");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn a_refusal_names_the_role_that_is_out_of_reach() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    app.add_active_user("hr@example.com", "hr").await;
    let hr = app.actor_for(&user_id_of(&app.state, "hr@example.com").await).await;
    service::invite(&app.state, &owner, request(&app, "boss@example.com", &[Role::Owner])).await.unwrap();
    let boss = user_id_of(&app.state, "boss@example.com").await;
    let refused = service::copy_link(&app.state, &hr, &boss).await.unwrap_err();
    assert_eq!(refused.to_string(), "Only an Owner can grant Owner, or act on an invitation that offers it.");
    let refused = service::invite(&app.state, &hr, request(&app, "deputy@example.com", &[Role::Member, Role::Admin])).await.unwrap_err();
    assert_eq!(refused.to_string(), "Only an Admin or an Owner can grant Admin, or act on an invitation that offers it.");
}

#[tokio::test]
async fn an_expired_invitation_above_the_actor_is_not_replaced_by_inviting_again() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    app.add_active_user("hr@example.com", "hr").await;
    let hr = app.actor_for(&user_id_of(&app.state, "hr@example.com").await).await;
    service::invite(&app.state, &owner, request(&app, "boss@example.com", &[Role::Owner])).await.unwrap();
    app.clock.advance(chrono::Duration::days(8));
    let before = dump_database(&app.state).await;
    let outcome = service::invite(&app.state, &hr, request(&app, "boss@example.com", &[Role::Member])).await.unwrap();
    assert!(outcome.invited.is_empty(), "{outcome:?}");
    assert!(outcome.skipped[0].1.contains("cannot replace"), "{outcome:?}");
    assert_eq!(dump_database(&app.state).await, before);
}

#[tokio::test]
async fn invite_people_offers_only_grantable_roles() {
    let app = TestApp::with_owner().await;
    app.add_active_user("hr@example.com", "hr").await;
    let hr = app.actor_for(&user_id_of(&app.state, "hr@example.com").await).await;
    let options = app::services::roles::invite_options(&app.state, &hr).await.unwrap();
    let account = &options.places[0];
    let offered: Vec<shared::RoleKey> = account.roles.iter().map(|r| r.key.clone()).collect();
    assert_eq!(offered, [Role::Hr, Role::Curator, Role::Member].map(shared::RoleKey::Builtin).to_vec());
}
