//! Accepting re-checks the inviter's authority at that moment: a link never outlives its
//! sender's rights. When the inviter could no longer grant every role the invitation offers,
//! nothing is granted and the invitation waits for an administrator who can confirm it.

use crate::common;

use app::services::checkpoints::points;
use app::services::invitations::accept::{self, AcceptInput, Accepted};
use app::services::invitations::service::{self, InviteRequest};
use app::services::Actor;
use common::*;
use shared::invitations::InvitationAction;
use shared::permissions::Denied;
use shared::scopes::{Grant, ScopeKind};
use shared::status::{AwaitingReason, UserStatus};
use shared::views::{InvitationPage, UsersQuery};
use shared::{messages, AppError, Role};

const PASSWORD_CHOSEN: &str = "analytical engine 1843";

fn new_user() -> AcceptInput {
    AcceptInput { name: "Ada Lovelace".into(), password: PASSWORD_CHOSEN.into(), password_confirmation: PASSWORD_CHOSEN.into() }
}

fn segment(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

/// An Admin of the account (the inviter) invites ada@example.com to `grants`; returns the
/// owner, the inviter's id, ada's id and the link.
async fn invited(app: &TestApp, grants: Vec<Grant>) -> (Actor, String, String, String) {
    let owner = app.owner().await;
    let inviter = app.add_active_user("inviter@example.com", "admin").await;
    let admin = app.actor_for(&inviter).await;
    let request = InviteRequest { addresses: "ada@example.com".into(), grants, message: None, send_despite_typos: false };
    service::invite(&app.state, &admin, request).await.unwrap();
    let ada = user_id_of(&app.state, "ada@example.com").await;
    let link = service::copy_link(&app.state, &owner, &ada).await.unwrap();
    (owner, inviter, ada, link)
}

async fn count(app: &TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sql).bind(id).fetch_one(&app.state.db.pool).await.unwrap()
}

async fn status_of(app: &TestApp, owner: &Actor, email: &str) -> UserStatus {
    let page = app::services::users::list(&app.state, owner, UsersQuery { search: email.into(), ..Default::default() }).await.unwrap();
    page.rows.into_iter().find(|r| r.email == email).unwrap().status
}

/// Accepts as a new user and asserts it waits, for `reason`, having granted nothing.
async fn accept_waits(app: &TestApp, owner: &Actor, ada: &str, link: &str, reason: AwaitingReason) {
    let accepted = accept::accept(&app.state, &segment(link), new_user(), None, None).await.unwrap();
    assert!(matches!(accepted, Accepted::AwaitingConfirmation(r) if r == reason), "{accepted:?}");
    assert_eq!(count(app, "SELECT COUNT(*) FROM memberships WHERE user_id = $1", ada).await, 0, "nothing granted");
    assert_eq!(status_of(app, owner, "ada@example.com").await, UserStatus::AwaitingConfirmation);
    assert!(app::services::auth::verify_credentials(&app.state, "ada@example.com", PASSWORD_CHOSEN.into(), None).await.is_err(), "no sign-in yet");
    let page = accept::open(&app.state, &segment(link), None, None).await.unwrap();
    assert_eq!(page, InvitationPage::AwaitingConfirmation { account_name: "Acme".into() });
    let again = accept::accept(&app.state, &segment(link), new_user(), None, None).await.unwrap_err();
    assert_eq!(again, AppError::InvalidState(messages::INVITATION_AWAITING.into()), "accepted once");
    let audited =
        count(app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.awaiting_confirmation' AND details LIKE '%' || $1 || '%'", reason.as_str())
            .await;
    assert_eq!(audited, 1);
    let row =
        app::services::users::list(&app.state, owner, UsersQuery { search: "ada@example.com".into(), ..Default::default() }).await.unwrap().rows.remove(0);
    assert_eq!(row.invitation.unwrap().awaiting.map(|(_, r)| r), Some(reason), "the row says why");
}

#[tokio::test]
async fn an_inviter_who_lost_the_role_that_granted_it_leaves_the_acceptance_waiting() {
    let app = TestApp::with_owner().await;
    let (owner, inviter, ada, link) = invited(&app, app.account_grants(&[Role::Admin])).await;
    // The inviter is demoted to HR after sending it.
    sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(&inviter).execute(&app.state.db.pool).await.unwrap();
    app::services::store::memberships::grant(&mut app.state.db.pool.acquire().await.unwrap(), &inviter, &app.account_scope, &Role::Hr.into(), app.clock_ms())
        .await
        .unwrap();
    accept_waits(&app, &owner, &ada, &link, AwaitingReason::InviterLacksAuthority).await;
}

#[tokio::test]
async fn an_inviter_no_longer_active_or_gone_leaves_the_acceptance_waiting() {
    for (reason, change) in [
        (AwaitingReason::InviterInactive, "UPDATE users SET status = 'deactivated' WHERE id = $1"),
        (AwaitingReason::InviterGone, "UPDATE invitations SET invited_by = NULL WHERE invited_by = $1"),
    ] {
        let app = TestApp::with_owner().await;
        let (owner, inviter, ada, link) = invited(&app, app.account_grants(&[Role::Member])).await;
        sqlx::query(change).bind(&inviter).execute(&app.state.db.pool).await.unwrap();
        accept_waits(&app, &owner, &ada, &link, reason).await;
    }
}

#[tokio::test]
async fn a_role_in_an_archived_place_leaves_the_acceptance_waiting_and_is_confirmed_only_once_restored() {
    let app = TestApp::with_owner().await;
    let ward = app.create_place(ScopeKind::OrganisationalUnit, "Ward", None).await;
    let (owner, _inviter, ada, link) = invited(&app, vec![Grant::new(&ward, Role::Member)]).await;
    // Archiving refuses a place with open invitations; a place archived all the same (by
    // hand in the database, or a future path) must not be granted into.
    sqlx::query("UPDATE scopes SET archived_at = 1 WHERE id = $1").bind(&ward).execute(&app.state.db.pool).await.unwrap();
    accept_waits(&app, &owner, &ada, &link, AwaitingReason::PlaceArchived).await;
    let refused = service::act(&app.state, &owner, &ada, InvitationAction::Confirm).await.unwrap_err();
    assert!(refused.to_string().contains("archived"), "{refused}");
    sqlx::query("UPDATE scopes SET archived_at = NULL WHERE id = $1").bind(&ward).execute(&app.state.db.pool).await.unwrap();
    service::act(&app.state, &owner, &ada, InvitationAction::Confirm).await.unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM memberships WHERE user_id = $1", &ada).await, 1);
}

#[tokio::test]
async fn confirming_grants_the_roles_activates_the_invitee_and_tells_them_and_only_someone_who_may_grant_them_all_may() {
    let app = TestApp::with_owner().await;
    let (owner, inviter, ada, link) = invited(&app, app.account_grants(&[Role::Admin, Role::Hr])).await;
    sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(&inviter).execute(&app.state.db.pool).await.unwrap();
    accept_waits(&app, &owner, &ada, &link, AwaitingReason::InviterLacksAuthority).await;

    // HR may not grant Admin: the one rule refuses, and nothing changes.
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let hr = app.actor_for(&hr).await;
    let before = dump_database(&app.state).await;
    let refused = service::act(&app.state, &hr, &ada, InvitationAction::Confirm).await.unwrap_err();
    assert_eq!(refused, AppError::Forbidden(Denied::AboveYourRole { role: Role::Admin }));
    assert_eq!(dump_database(&app.state).await, before);

    let banner = service::act(&app.state, &owner, &ada, InvitationAction::Confirm).await.unwrap();
    assert!(banner.starts_with("Confirmed: Ada Lovelace"), "{banner}");
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Active);
    let ada_actor = app.actor_for(&ada).await;
    assert_eq!(ada_actor.authority.account_roles, vec![Role::Admin, Role::Hr]);
    app::services::auth::verify_credentials(&app.state, "ada@example.com", PASSWORD_CHOSEN.into(), None).await.expect("the password chosen when accepting");
    let told = count(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'access_confirmed' AND recipient = $1", "ada@example.com").await;
    assert_eq!(told, 1, "the invitee is told by email");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.confirmed' AND actor_user_id = $1", &owner.user_id).await, 1);
    assert_eq!(accept::open(&app.state, &segment(&link), None, None).await.unwrap(), InvitationPage::AlreadyAccepted);
    let twice = service::act(&app.state, &owner, &ada, InvitationAction::Confirm).await.unwrap_err();
    assert!(matches!(twice, AppError::InvalidState(_)), "{twice:?}");
}

#[tokio::test]
async fn a_waiting_acceptance_keeps_its_expiry_and_can_be_cancelled() {
    let app = TestApp::with_owner().await;
    let (owner, inviter, ada, link) = invited(&app, app.account_grants(&[Role::Admin])).await;
    sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(&inviter).execute(&app.state.db.pool).await.unwrap();
    accept_waits(&app, &owner, &ada, &link, AwaitingReason::InviterLacksAuthority).await;
    app.clock.advance(chrono::Duration::days(7));
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Expired, "its expiry is unchanged");
    let late = service::act(&app.state, &owner, &ada, InvitationAction::Confirm).await.unwrap_err();
    assert!(matches!(late, AppError::InvalidState(_)), "{late:?}");
    service::act(&app.state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::ProfileOnly);
}

#[tokio::test]
async fn an_active_person_invited_into_more_roles_by_an_inviter_who_lost_them_stays_active_and_waits() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let inviter = app.add_active_user("inviter@example.com", "admin").await;
    let nia = app.add_active_user("nia@example.com", "member").await;
    let admin = app.actor_for(&inviter).await;
    let request = InviteRequest { addresses: "nia@example.com".into(), grants: app.account_grants(&[Role::Hr]), message: None, send_despite_typos: false };
    service::invite(&app.state, &admin, request).await.unwrap();
    let link = service::copy_link(&app.state, &owner, &nia).await.unwrap();
    sqlx::query("UPDATE users SET status = 'deactivated' WHERE id = $1").bind(&inviter).execute(&app.state.db.pool).await.unwrap();
    let nia_actor = app.actor_for(&nia).await;
    let accepted = accept::accept(&app.state, &segment(&link), new_user(), Some(&nia_actor), None).await.unwrap();
    assert!(matches!(accepted, Accepted::AwaitingConfirmation(AwaitingReason::InviterInactive)), "{accepted:?}");
    assert_eq!(status_of(&app, &owner, "nia@example.com").await, UserStatus::Active);
    assert_eq!(app.actor_for(&nia).await.authority.account_roles, vec![Role::Member], "HR waits for confirmation");
    service::act(&app.state, &owner, &nia, InvitationAction::Confirm).await.unwrap();
    assert_eq!(app.actor_for(&nia).await.authority.account_roles, vec![Role::Hr, Role::Member]);
}

#[tokio::test]
async fn resending_makes_the_sender_vouch_for_the_invitation() {
    let app = TestApp::with_owner().await;
    let (owner, inviter, ada, link) = invited(&app, app.account_grants(&[Role::Admin])).await;
    sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(&inviter).execute(&app.state.db.pool).await.unwrap();
    // The owner resends it: the same link, now sent by someone who may grant Admin.
    service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    let accepted = accept::accept(&app.state, &segment(&link), new_user(), None, None).await.unwrap();
    assert!(matches!(accepted, Accepted::Active(_)), "{accepted:?}");
}

#[tokio::test]
async fn the_loser_of_an_accept_race_is_told_the_invitation_was_accepted_not_to_sign_in() {
    let app = TestApp::with_owner().await;
    let (_owner, _inviter, _ada, link) = invited(&app, app.account_grants(&[Role::Member])).await;
    let gates = Gates::default();
    gates.close(points::ACCEPT_AFTER_RESOLVE);
    let state = app.gated(&gates);
    let loser = {
        let (state, segment) = (state.clone(), segment(&link));
        tokio::spawn(async move { accept::accept(&state, &segment, new_user(), None, None).await })
    };
    // The loser has read the invitation (open, its invitee new); the winner accepts meanwhile.
    gates.arrivals(points::ACCEPT_AFTER_RESOLVE, 1).await;
    let won = accept::accept(&app.state, &segment(&link), new_user(), None, None).await.unwrap();
    assert!(matches!(won, Accepted::Active(_)));
    gates.open(points::ACCEPT_AFTER_RESOLVE);
    let lost = loser.await.unwrap().unwrap_err();
    assert_eq!(lost, AppError::InvalidState(messages::INVITATION_ACCEPTED.into()));
}
