//! The invitation lifecycle through its services, on a real SQLite file: every action in
//! every state, expiry at its boundary, links, and races.

use crate::common;

use app::services::checkpoints::points;
use app::services::invitations::accept::{self, AcceptInput};
use app::services::invitations::service::{self, InviteRequest};
use app::services::Actor;
use common::*;
use shared::invitations::{allowed_actions, InvitationAction, ALL_ACTIONS};
use shared::permissions::Denied;
use shared::status::UserStatus;
use shared::views::{InvitationPage, UserRow, UsersQuery};
use shared::{AppError, Role};

async fn owner(app: &TestApp) -> Actor {
    app.owner().await
}

async fn actor_for(app: &TestApp, user_id: &str) -> Actor {
    app.actor_for(user_id).await
}

fn request(app: &TestApp, addresses: &str, roles: &[Role]) -> InviteRequest {
    InviteRequest { addresses: addresses.into(), grants: app.account_grants(roles), message: Some("Welcome aboard!".into()), send_despite_typos: false }
}

async fn user_id_of(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&app.state.db.pool).await.unwrap()
}

async fn row_of(app: &TestApp, actor: &Actor, email: &str) -> UserRow {
    let page = app::services::users::list(&app.state, actor, UsersQuery { search: email.into(), ..Default::default() }).await.unwrap();
    page.rows.into_iter().find(|r| r.email == email).expect("listed")
}

async fn status_of(app: &TestApp, actor: &Actor, email: &str) -> UserStatus {
    row_of(app, actor, email).await.status
}

/// The role labels of grants, as people read them.
fn labels(grants: &[shared::scopes::GrantView]) -> Vec<String> {
    grants.iter().map(|g| g.label()).collect()
}

fn link_segment(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

fn new_user_input() -> AcceptInput {
    AcceptInput { name: "Ada Lovelace".into(), password: "analytical engine 1843".into(), password_confirmation: "analytical engine 1843".into() }
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1").bind(action).fetch_one(&app.state.db.pool).await.unwrap()
}

/// An app with the owner and one invitation to ada@example.com; returns (app, owner, ada's user id, link).
async fn with_invitation() -> (TestApp, Actor, String, String) {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let outcome = service::invite(&app.state, &owner, request(&app, "ada@example.com", &[Role::Admin, Role::Hr])).await.unwrap();
    assert_eq!(outcome.invited, vec!["ada@example.com".to_string()]);
    let ada = user_id_of(&app, "ada@example.com").await;
    let link = service::copy_link(&app.state, &owner, &ada).await.unwrap();
    (app, owner, ada, link)
}

#[tokio::test]
async fn invite_creates_an_invited_user_with_the_roles_offered() {
    let (app, owner, _ada, link) = with_invitation().await;
    assert!(link.starts_with("http://127.0.0.1:3000/invite/"), "{link}");
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Invited);
    let page = app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    let row = page.rows.iter().find(|r| r.email == "ada@example.com").unwrap();
    assert_eq!(labels(&row.invitation.as_ref().unwrap().offered), vec!["Admin", "HR"]);
    assert!(row.held.is_empty(), "nothing held before accepting");
    assert_eq!(audit_count(&app, "invitation.created").await, 1);
}

#[tokio::test]
async fn the_database_holds_no_usable_link() {
    let (app, owner, ada, link) = with_invitation().await;
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
    // The admin, signed in (so a session is stored), opened the link's page too.
    let cookie = app.sign_in(OWNER_EMAIL).await;
    assert_eq!(app.get(&format!("/invite/{}", link_segment(&link)), Some(&cookie)).await.status(), axum::http::StatusCode::OK);
    let token = link.rsplit('.').next().unwrap();
    // Queued emails hold a placeholder; the worker puts the link in at send time.
    let bodies: Vec<String> = sqlx::query_scalar("SELECT text_body || html_body FROM outbox").fetch_all(&app.state.db.pool).await.unwrap();
    assert_eq!(bodies.len(), 2);
    assert!(!bodies.is_empty() && bodies.iter().all(|b| b.contains(app::services::mail::templates::LINK_PLACEHOLDER)));
    // Every column of every table…
    let dump = common::dump_database(&app.state).await;
    assert!(dump.iter().any(|row| row.starts_with("invitations")) && dump.iter().any(|row| row.starts_with("tower_sessions")), "the dump covers every table");
    assert!(dump.iter().all(|row| !row.contains(token)), "no token in any table");
    // …and, on SQLite, the database files themselves, write-ahead log included.
    if app.state.db.engine() != app::services::db::Engine::Sqlite {
        return;
    }
    let mut files = 0;
    for entry in std::fs::read_dir(&app.config.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("beckon.db") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "no token in {}", path.display());
            files += 1;
        }
    }
    assert!(files >= 2, "the database file and its write-ahead log were read");
}

#[tokio::test]
async fn a_batch_is_validated_whole_and_written_whole() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let refused = service::invite(&app.state, &owner, request(&app, "a@example.com, not-an-address, b@example.com", &[Role::Member])).await;
    assert!(matches!(refused, Err(AppError::Validation(ref m)) if m.contains("not-an-address")), "{refused:?}");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(users, 1, "nothing half-written");

    let outcome =
        service::invite(&app.state, &owner, request(&app, "a@example.com\nb@example.com; A@Example.com c@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(outcome.invited.len(), 3, "duplicates folded: {outcome:?}");
    let again = service::invite(&app.state, &owner, request(&app, "a@example.com, owner@example.com, d@example.com", &[Role::Owner])).await.unwrap();
    assert_eq!(again.invited, vec!["d@example.com".to_string()]);
    assert_eq!(
        again.skipped,
        vec![
            ("a@example.com".to_string(), "already has a pending invitation".to_string()),
            ("owner@example.com".to_string(), "already holds these roles".to_string())
        ]
    );
}

#[tokio::test]
async fn likely_typos_stop_the_batch_until_confirmed() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let warned = service::invite(&app.state, &owner, request(&app, "jhon@gmial.com, ada@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(warned.typo_warnings, vec![("jhon@gmial.com".to_string(), "jhon@gmail.com".to_string())]);
    assert!(warned.invited.is_empty());
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(users, 1, "nothing sent before confirmation");
    let sent =
        service::invite(&app.state, &owner, InviteRequest { send_despite_typos: true, ..request(&app, "jhon@gmial.com", &[Role::Member]) }).await.unwrap();
    assert_eq!(sent.invited, vec!["jhon@gmial.com".to_string()]);
}

#[tokio::test]
async fn only_owners_invite_owners_and_members_invite_nobody() {
    let app = TestApp::with_owner().await;
    app.add_active_user("admin@example.com", "admin").await;
    app.add_active_user("member@example.com", "member").await;
    let admin = actor_for(&app, &user_id_of(&app, "admin@example.com").await).await;
    let member = actor_for(&app, &user_id_of(&app, "member@example.com").await).await;
    assert_eq!(
        service::invite(&app.state, &admin, request(&app, "x@example.com", &[Role::Owner])).await.unwrap_err(),
        AppError::Forbidden(Denied::AboveYourRole { role: Role::Owner })
    );
    assert_eq!(
        service::invite(&app.state, &member, request(&app, "x@example.com", &[Role::Member])).await.unwrap_err(),
        AppError::Forbidden(Denied::NotPermitted)
    );
    service::invite(&app.state, &admin, request(&app, "x@example.com", &[Role::Admin])).await.unwrap();
    let x = user_id_of(&app, "x@example.com").await;
    assert_eq!(service::act(&app.state, &member, &x, InvitationAction::Resend).await.unwrap_err(), AppError::Forbidden(Denied::NotPermitted));
    assert_eq!(service::copy_link(&app.state, &member, &x).await.unwrap_err(), AppError::Forbidden(Denied::NotPermitted));
}

/// The README's table: what each status offers in a row's menu, in menu order.
/// The Users page's status order as the README states it.
const README_STATUS_ORDER: [UserStatus; 6] =
    [UserStatus::ProfileOnly, UserStatus::Invited, UserStatus::AwaitingConfirmation, UserStatus::Expired, UserStatus::Active, UserStatus::Deactivated];

fn readme_menu(status: UserStatus) -> Vec<InvitationAction> {
    use InvitationAction::*;
    match status {
        UserStatus::Invited => vec![Resend, CopyLink, Remind, Extend, Manage, Cancel],
        UserStatus::AwaitingConfirmation => vec![Confirm, Cancel],
        UserStatus::Expired => vec![SendNew, Cancel],
        UserStatus::ProfileOnly => vec![InviteToActivate],
        UserStatus::Active | UserStatus::Deactivated => vec![],
    }
}

/// An invitation to ada@example.com offering Admin and HR, sent by an Admin of the account;
/// returns (app, owner, the inviter's id, ada's id, link).
async fn invited_by_an_admin() -> (TestApp, Actor, String, String, String) {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let inviter = app.add_active_user("inviter@example.com", "admin").await;
    let admin = actor_for(&app, &inviter).await;
    service::invite(&app.state, &admin, request(&app, "ada@example.com", &[Role::Admin, Role::Hr])).await.unwrap();
    let ada = user_id_of(&app, "ada@example.com").await;
    let link = service::copy_link(&app.state, &owner, &ada).await.unwrap();
    (app, owner, inviter, ada, link)
}

#[tokio::test]
async fn every_action_in_every_state_is_offered_and_allowed_as_the_readme_says() {
    // For each status, the menu shows exactly the README's actions, the service does each of
    // them, and refuses every other.
    for status in [UserStatus::Invited, UserStatus::AwaitingConfirmation, UserStatus::Expired, UserStatus::ProfileOnly, UserStatus::Active] {
        for action in ALL_ACTIONS {
            let (app, owner, inviter, ada, link) = invited_by_an_admin().await;
            match status {
                UserStatus::Invited => {}
                UserStatus::AwaitingConfirmation => {
                    // The inviter loses the role that let them offer Admin, then Ada accepts.
                    sqlx::query("DELETE FROM memberships WHERE user_id = $1").bind(&inviter).execute(&app.state.db.pool).await.unwrap();
                    accept::accept(&app.state, &link_segment(&link), new_user_input(), None, None).await.unwrap();
                }
                UserStatus::Expired => app.clock.advance(chrono::Duration::days(8)),
                UserStatus::ProfileOnly => {
                    service::act(&app.state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
                }
                UserStatus::Active => {
                    accept::accept(&app.state, &link_segment(&link), new_user_input(), None, None).await.unwrap();
                }
                UserStatus::Deactivated => unreachable!(),
            }
            let row = row_of(&app, &owner, "ada@example.com").await;
            assert_eq!(row.status, status);
            assert_eq!(allowed_actions(&owner.authority, &row.subject()), readme_menu(status), "the menu of {status:?}");
            let result = match action {
                InvitationAction::CopyLink => service::copy_link(&app.state, &owner, &ada).await.map(|_| ()),
                InvitationAction::Manage => service::remove_grants(&app.state, &owner, &ada, app.account_grants(&[Role::Hr])).await.map(|_| ()),
                InvitationAction::InviteToActivate => service::invite(&app.state, &owner, request(&app, "ada@example.com", &[Role::Member]))
                    .await
                    .and_then(|o| if o.invited.is_empty() { Err(AppError::InvalidState(format!("{o:?}"))) } else { Ok(()) }),
                _ => service::act(&app.state, &owner, &ada, action).await.map(|_| ()),
            };
            // Inviting again is how an expired user gets a fresh invitation from the dialog too,
            // and how an active user is invited into a role they do not hold yet.
            let expected = readme_menu(status).contains(&action)
                || (action == InvitationAction::InviteToActivate && matches!(status, UserStatus::Expired | UserStatus::Active));
            assert_eq!(result.is_ok(), expected, "{action:?} on {status:?}: {result:?}");
            if let (false, Err(error)) = (expected, &result) {
                assert!(matches!(error, AppError::InvalidState(_)), "refused for the state, not the actor: {action:?} on {status:?}: {error:?}");
            }
        }
    }
}

#[tokio::test]
async fn resend_keeps_the_link_and_resets_expiry() {
    let (app, owner, ada, link) = with_invitation().await;
    app.clock.advance(chrono::Duration::days(6));
    let banner = service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    assert!(banner.contains("expires in 7 days"), "{banner}");
    assert_eq!(service::copy_link(&app.state, &owner, &ada).await.unwrap(), link, "same link");
    // Past the original expiry the link still opens, because expiry moved.
    app.clock.advance(chrono::Duration::days(3));
    assert!(matches!(accept::open(&app.state, &link_segment(&link), None, None).await.unwrap(), InvitationPage::Open(_)));
    assert_eq!(audit_count(&app, "invitation.resent").await, 1);
}

#[tokio::test]
async fn resend_issues_a_new_link_when_the_account_says_so() {
    let (app, owner, ada, link) = with_invitation().await;
    let settings = app::services::invitations::settings::InvitationSettings {
        expiry_days: shared::invitations::ExpiryDays::DEFAULT,
        resend_rotates_link: true,
        reminders: Default::default(),
    };
    app::services::invitations::settings::update(&app.state, &owner, settings).await.unwrap();
    service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    let new_link = service::copy_link(&app.state, &owner, &ada).await.unwrap();
    assert_ne!(new_link, link);
    assert_eq!(accept::open(&app.state, &link_segment(&link), None, None).await.unwrap(), InvitationPage::NoLongerValid);
}

#[tokio::test]
async fn a_reminder_keeps_link_and_expiry() {
    let (app, owner, ada, link) = with_invitation().await;
    app.clock.advance(chrono::Duration::days(6));
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
    assert_eq!(service::copy_link(&app.state, &owner, &ada).await.unwrap(), link);
    app.clock.advance(chrono::Duration::days(1));
    assert!(matches!(accept::open(&app.state, &link_segment(&link), None, None).await.unwrap(), InvitationPage::Expired { .. }));
}

#[tokio::test]
async fn expiry_is_exact_to_the_millisecond() {
    let (app, owner, _ada, link) = with_invitation().await;
    app.clock.advance(chrono::Duration::days(7) - chrono::Duration::milliseconds(1));
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Invited);
    assert!(matches!(accept::open(&app.state, &link_segment(&link), None, None).await.unwrap(), InvitationPage::Open(_)));
    app.clock.advance(chrono::Duration::milliseconds(1));
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Expired);
    assert!(matches!(accept::open(&app.state, &link_segment(&link), None, None).await.unwrap(), InvitationPage::Expired { .. }));
    let refused = accept::accept(&app.state, &link_segment(&link), new_user_input(), None, None).await.unwrap_err();
    assert!(refused.to_string().contains("expired"), "{refused}");
}

#[tokio::test]
async fn send_new_invitation_kills_every_earlier_link() {
    let (app, owner, ada, old) = with_invitation().await;
    app.clock.advance(chrono::Duration::days(8));
    service::act(&app.state, &owner, &ada, InvitationAction::SendNew).await.unwrap();
    let new = service::copy_link(&app.state, &owner, &ada).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(accept::open(&app.state, &link_segment(&old), None, None).await.unwrap(), InvitationPage::NoLongerValid);
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Invited);
    accept::accept(&app.state, &link_segment(&new), new_user_input(), None, None).await.unwrap();
}

#[tokio::test]
async fn cancel_drops_the_user_to_profile_only_and_kills_the_link() {
    let (app, owner, ada, link) = with_invitation().await;
    service::act(&app.state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::ProfileOnly);
    assert_eq!(accept::open(&app.state, &link_segment(&link), None, None).await.unwrap(), InvitationPage::NoLongerValid);
    assert_eq!(audit_count(&app, "invitation.cancelled").await, 1);
    // "Invite user to activate account" brings them back with a fresh link.
    service::invite(&app.state, &owner, request(&app, "ada@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Invited);
}

#[tokio::test]
async fn removing_some_roles_keeps_the_invitation_and_removing_all_cancels_it() {
    let (app, owner, ada, link) = with_invitation().await;
    let banner = service::remove_grants(&app.state, &owner, &ada, app.account_grants(&[Role::Hr])).await.unwrap();
    assert!(banner.contains("Removed HR"), "{banner}");
    match accept::open(&app.state, &link_segment(&link), None, None).await.unwrap() {
        InvitationPage::Open(open) => assert_eq!(labels(&open.offered), vec!["Admin"]),
        other => panic!("{other:?}"),
    }
    let refused = service::remove_grants(&app.state, &owner, &ada, app.account_grants(&[Role::Hr])).await.unwrap_err();
    assert!(matches!(refused, AppError::Validation(_)), "a role no longer offered: {refused:?}");
    let banner = service::remove_grants(&app.state, &owner, &ada, app.account_grants(&[Role::Admin])).await.unwrap();
    assert!(banner.contains("cancelled"), "{banner}");
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::ProfileOnly);
}

#[tokio::test]
async fn accepting_activates_the_user_with_the_roles_and_is_single_use() {
    let (app, owner, ada, link) = with_invitation().await;
    let segment = link_segment(&link);
    let accept::Accepted::Active(credentials) = accept::accept(&app.state, &segment, new_user_input(), None, None).await.unwrap() else {
        panic!("accepted with its roles");
    };
    assert_eq!(credentials.user_id, ada);
    let actor = actor_for(&app, &ada).await;
    assert_eq!(actor.authority.account_roles, vec![Role::Admin, Role::Hr]);
    assert_eq!(actor.name, "Ada Lovelace");
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Active);
    assert_eq!(accept::open(&app.state, &segment, None, None).await.unwrap(), InvitationPage::AlreadyAccepted);
    let again = accept::accept(&app.state, &segment, new_user_input(), None, None).await.unwrap_err();
    assert!(again.to_string().contains("already been accepted"), "{again}");
    assert_eq!(audit_count(&app, "invitation.accepted").await, 1);
}

fn spawn_accept(state: &app::services::AppState, segment: &str) -> tokio::task::JoinHandle<Result<accept::Accepted, AppError>> {
    let (state, segment) = (state.clone(), segment.to_string());
    tokio::spawn(async move { accept::accept(&state, &segment, new_user_input(), None, None).await })
}

async fn memberships_of(app: &TestApp, user_id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE user_id = $1").bind(user_id).fetch_one(&app.state.db.pool).await.unwrap()
}

#[tokio::test]
async fn two_accepts_that_both_passed_their_checks_have_exactly_one_winner() {
    let (app, _owner, ada, link) = with_invitation().await;
    let gates = Gates::default();
    gates.close(points::ACCEPT_BEFORE_CLAIM);
    let state = app.gated(&gates);
    let (first, second) = (spawn_accept(&state, &link_segment(&link)), spawn_accept(&state, &link_segment(&link)));
    // Both have verified the link and hashed a password; neither has claimed it yet.
    gates.arrivals(points::ACCEPT_BEFORE_CLAIM, 2).await;
    gates.open(points::ACCEPT_BEFORE_CLAIM);
    let mut results = vec![first.await.unwrap(), second.await.unwrap()];
    results.sort_by_key(|r| r.is_err());
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(results[1].as_ref().unwrap_err(), &AppError::InvalidState(shared::messages::INVITATION_ACCEPTED.into()), "the loser is told, as a conflict");
    assert_eq!(memberships_of(&app, &ada).await, 2);
    assert_eq!(audit_count(&app, "invitation.accepted").await, 1);
}

#[tokio::test]
async fn a_cancel_that_commits_while_an_accept_is_under_way_wins() {
    let (app, owner, ada, link) = with_invitation().await;
    let gates = Gates::default();
    gates.close(points::ACCEPT_BEFORE_CLAIM);
    let state = app.gated(&gates);
    let accepting = spawn_accept(&state, &link_segment(&link));
    // The accept has checked the link (still open) and the form; now the admin cancels.
    gates.arrivals(points::ACCEPT_BEFORE_CLAIM, 1).await;
    service::act(&state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
    gates.open(points::ACCEPT_BEFORE_CLAIM);
    let refused = accepting.await.unwrap().unwrap_err();
    assert_eq!(refused, AppError::InvalidState(shared::messages::INVITATION_NO_LONGER_VALID.into()));
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::ProfileOnly);
    assert_eq!(memberships_of(&app, &ada).await, 0);
}

#[tokio::test]
async fn an_accept_that_commits_while_a_cancel_is_under_way_wins() {
    let (app, owner, ada, link) = with_invitation().await;
    let gates = Gates::default();
    gates.close(points::ACT_BEFORE_BEGIN);
    let state = app.gated(&gates);
    let cancelling = {
        let (state, owner, ada) = (state.clone(), owner.clone(), ada.clone());
        tokio::spawn(async move { service::act(&state, &owner, &ada, InvitationAction::Cancel).await })
    };
    // The admin's cancel is on its way; the invitee accepts first.
    gates.arrivals(points::ACT_BEFORE_BEGIN, 1).await;
    accept::accept(&state, &link_segment(&link), new_user_input(), None, None).await.unwrap();
    gates.open(points::ACT_BEFORE_BEGIN);
    let refused = cancelling.await.unwrap().unwrap_err();
    assert_eq!(refused, AppError::InvalidState("This person has already accepted and is active.".into()));
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Active);
    assert_eq!(memberships_of(&app, &ada).await, 2);
}

#[tokio::test]
async fn a_forged_or_altered_link_shows_nothing() {
    let (app, _owner, _ada, link) = with_invitation().await;
    let segment = link_segment(&link);
    let (id, token) = segment.split_once('.').unwrap();
    let altered = format!("{id}.{}x", &token[..token.len() - 1]);
    for bad in [altered.as_str(), "garbage", &format!("{id}.AAAA"), "00000000-0000-0000-0000-000000000000.abc"] {
        assert_eq!(accept::open(&app.state, bad, None, None).await.unwrap(), InvitationPage::NotValid, "{bad}");
        let refused = accept::accept(&app.state, bad, new_user_input(), None, None).await.unwrap_err();
        assert_eq!(refused, AppError::InvalidState(shared::messages::LINK_NOT_VALID.into()), "{bad}");
    }
}

#[tokio::test]
async fn an_active_user_is_invited_into_more_roles_and_accepts_only_when_signed_in_as_that_address() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    app.add_active_user("grace@example.com", "member").await;
    let grace = user_id_of(&app, "grace@example.com").await;
    // Roles she holds already are left out; the others make an invitation she accepts.
    let outcome = service::invite(&app.state, &owner, request(&app, "grace@example.com", &[Role::Member, Role::Hr])).await.unwrap();
    assert_eq!(outcome.invited, vec!["grace@example.com".to_string()]);
    let row = row_of(&app, &owner, "grace@example.com").await;
    assert_eq!(row.status, UserStatus::Active, "still active while invited into more");
    assert_eq!(labels(&row.invitation.as_ref().unwrap().offered), vec!["HR"]);
    let again = service::invite(&app.state, &owner, request(&app, "grace@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(again.skipped, vec![("grace@example.com".to_string(), "already has a pending invitation".to_string())]);
    let segment = link_segment(&service::copy_link(&app.state, &owner, &grace).await.unwrap());

    let stranger = owner.clone();
    let refused = accept::accept(&app.state, &segment, new_user_input(), Some(&stranger), None).await.unwrap_err();
    assert!(refused.to_string().contains("Sign in as grace@example.com"), "{refused}");
    assert!(matches!(accept::open(&app.state, &segment, None, None).await.unwrap(), InvitationPage::Open(open) if open.existing_user), "not consumed");

    let grace_actor = actor_for(&app, &grace).await;
    accept::accept(
        &app.state,
        &segment,
        AcceptInput { name: String::new(), password: String::new(), password_confirmation: String::new() },
        Some(&grace_actor),
        None,
    )
    .await
    .unwrap();
    assert_eq!(actor_for(&app, &grace).await.authority.account_roles, vec![Role::Hr, Role::Member]);
    let all = service::invite(&app.state, &owner, request(&app, "grace@example.com", &[Role::Member, Role::Hr])).await.unwrap();
    assert_eq!(all.skipped, vec![("grace@example.com".to_string(), "already holds these roles".to_string())]);
}

#[tokio::test]
async fn cancelling_an_active_users_invitation_leaves_them_active_with_what_they_hold() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let grace = app.add_active_user("grace@example.com", "member").await;
    service::invite(&app.state, &owner, request(&app, "grace@example.com", &[Role::Hr])).await.unwrap();
    service::act(&app.state, &owner, &grace, InvitationAction::Cancel).await.unwrap();
    let row = row_of(&app, &owner, "grace@example.com").await;
    assert_eq!((row.status, row.invitation.is_none()), (UserStatus::Active, true));
    assert_eq!(labels(&row.held), vec!["Member"]);
}

#[tokio::test]
async fn the_sixth_send_within_an_hour_is_refused() {
    let (app, owner, ada, _link) = with_invitation().await;
    for _ in 0..4 {
        service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    }
    let refused = service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap_err();
    assert!(refused.to_string().contains("send it again in"), "{refused}");
    app.clock.advance(chrono::Duration::minutes(61));
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
}

#[tokio::test]
async fn opening_a_link_changes_nothing() {
    let (app, _owner, _ada, link) = with_invitation().await;
    let before = dump_database(&app.state).await;
    for _ in 0..3 {
        accept::open(&app.state, &link_segment(&link), None, None).await.unwrap();
        // The page itself, as a mail scanner or the invitee opens it.
        assert_eq!(app.get(&format!("/invite/{}", link_segment(&link)), None).await.status(), axum::http::StatusCode::OK);
    }
    assert_eq!(dump_database(&app.state).await, before, "every row of every table as it was");
}

#[tokio::test]
async fn the_users_list_filters_searches_sorts_and_pages() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let many: Vec<String> = (0..30).map(|i| format!("person{i:02}@example.com")).collect();
    service::invite(&app.state, &owner, request(&app, &many.join(","), &[Role::Member])).await.unwrap();
    let invited = app::services::users::list(&app.state, &owner, UsersQuery { status: Some(UserStatus::Invited), ..Default::default() }).await.unwrap();
    assert_eq!((invited.total, invited.page_count, invited.rows.len()), (30, 2, 25));
    let second = app::services::users::list(&app.state, &owner, UsersQuery { status: Some(UserStatus::Invited), page: 2, ..Default::default() }).await.unwrap();
    assert_eq!(second.rows.len(), 5);
    let found = app::services::users::list(&app.state, &owner, UsersQuery { search: "PERSON07".into(), ..Default::default() }).await.unwrap();
    assert_eq!(found.rows.iter().map(|r| r.email.as_str()).collect::<Vec<_>>(), vec!["person07@example.com"]);
    let wildcard = app::services::users::list(&app.state, &owner, UsersQuery { search: "%".into(), ..Default::default() }).await.unwrap();
    assert_eq!(wildcard.total, 0, "LIKE wildcards are taken literally");
    let by_email_desc =
        app::services::users::list(&app.state, &owner, UsersQuery { sort: shared::views::UsersSort::Email, descending: true, ..Default::default() })
            .await
            .unwrap();
    assert_eq!(by_email_desc.rows[0].email, "person29@example.com");
    app.clock.advance(chrono::Duration::days(8));
    let expired = app::services::users::list(&app.state, &owner, UsersQuery { status: Some(UserStatus::Expired), ..Default::default() }).await.unwrap();
    assert_eq!(expired.total, 30);
}

/// Where a row belongs in `sort`, worked out here from what the row shows (status, name,
/// address, invitation date), independently of the queries under test.
fn expected_key(row: &UserRow, sort: shared::views::UsersSort) -> (usize, String, i64, String) {
    use shared::views::UsersSort;
    let sort_name = match row.name.to_lowercase() {
        n if n.is_empty() => row.email.clone(),
        n => n,
    };
    let invited = row.invitation.as_ref().map_or(0, |i| i.invited_at_ms);
    match sort {
        UsersSort::Name => (0, sort_name, 0, row.email.clone()),
        UsersSort::Email => (0, String::new(), 0, row.email.clone()),
        UsersSort::Status => (README_STATUS_ORDER.iter().position(|s| *s == row.status).unwrap(), sort_name, 0, row.email.clone()),
        UsersSort::Invited => (0, String::new(), invited, row.email.clone()),
    }
}

#[tokio::test]
async fn previous_and_next_walk_every_order_both_ways_and_agree_with_typed_page_numbers() {
    use shared::views::{PageCursor, RowAt, UsersSort};
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    // 61 users: expired, invited and active, with names that sort apart from their
    // addresses, invitations sent at different times and 40 sent at the same instant.
    let early: Vec<String> = (0..7).map(|i| format!("e{i}@keyset.example")).collect();
    service::invite(&app.state, &owner, request(&app, &early.join(","), &[Role::Member])).await.unwrap();
    app.clock.advance(chrono::Duration::days(8));
    for i in 0..9 {
        service::invite(&app.state, &owner, request(&app, &format!("n{i}@keyset.example"), &[Role::Member])).await.unwrap();
        app.clock.advance(chrono::Duration::minutes(5));
    }
    let many: Vec<String> = (0..40).map(|i| format!("m{i:02}@keyset.example")).collect();
    service::invite(&app.state, &owner, request(&app, &many.join(","), &[Role::Member])).await.unwrap();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    for (i, name) in ["Zed Quist", "aaron berg", "Mia Kent", "Bea Lopez"].into_iter().enumerate() {
        let user = app::services::store::users::NewUser {
            id: &uuid::Uuid::new_v4().to_string(),
            account_id: &owner.account_id,
            email: &format!("a{i}@keyset.example"),
            name,
            status: shared::status::StoredUserStatus::Active,
            password_hash: None,
        };
        app::services::store::users::insert(&mut conn, user, app.clock_ms()).await.unwrap();
    }
    drop(conn);
    let list = |query: UsersQuery| app::services::users::list(&app.state, &owner, query);
    let everyone = list(UsersQuery { size: 100, ..Default::default() }).await.unwrap().rows;
    assert_eq!(everyone.len(), 61);
    let statuses: std::collections::HashSet<UserStatus> = everyone.iter().map(|r| r.status).collect();
    assert_eq!(statuses.len(), 3, "active, invited and expired users: {statuses:?}");
    let row_of = |email: &str| everyone.iter().find(|r| r.email == email).unwrap();
    let emails = |rows: &[UserRow]| rows.iter().map(|r| r.email.clone()).collect::<Vec<_>>();

    // Without a search, with a search read through the search index (few matches) and with
    // one too short for it (the list walked and each row tested); every row's neighbours
    // without a search, every fifth row's with one.
    for (search, step) in [("", 1), ("keyset", 5), ("ke", 5)] {
        for sort in UsersSort::ALL {
            for descending in [false, true] {
                let mut expected: Vec<UserRow> =
                    everyone.iter().filter(|r| format!("{} {}", r.name.to_lowercase(), r.email).contains(search)).cloned().collect();
                expected.sort_by_key(|row| expected_key(row, sort));
                if descending {
                    expected.reverse();
                }
                let expected = emails(&expected);
                let n = expected.len();
                let query = UsersQuery { sort, descending, search: search.into(), size: 25, ..Default::default() };
                let case = format!("{sort:?} descending={descending} search={search:?}");
                for page in 1..=3u32 {
                    let typed = list(UsersQuery { page, ..query.clone() }).await.unwrap();
                    let from = (page as usize - 1) * 25;
                    assert_eq!(emails(&typed.rows), expected[from..(from + 25).min(n)], "{case}: page {page} by its number");
                }
                for (at, email) in expected.iter().enumerate().step_by(step) {
                    let next = list(query.clone().next_page(2, row_of(email))).await.unwrap();
                    if at + 1 < n {
                        assert_eq!((next.page, emails(&next.rows)), (3, expected[at + 1..(at + 26).min(n)].to_vec()), "{case}: Next after row {at}");
                    }
                    let previous = list(query.clone().previous_page(4, row_of(email))).await.unwrap();
                    match at {
                        // Fewer rows before it than a page: the first page instead.
                        0..25 => assert_eq!((previous.page, emails(&previous.rows)), (1, expected[..25].to_vec()), "{case}: Previous before row {at}"),
                        _ => assert_eq!((previous.page, emails(&previous.rows)), (3, expected[at - 25..at].to_vec()), "{case}: Previous before row {at}"),
                    }
                }
            }
        }
    }

    // A cursor whose user has gone: the page by its number.
    let gone = RowAt { user_id: "00000000-0000-4000-8000-000000000000".into(), status: None };
    let page = list(UsersQuery { page: 2, cursor: PageCursor::After(gone), ..Default::default() }).await.unwrap();
    assert_eq!((page.page, page.rows.len()), (2, 25));

    // In the Status order an invitation expiring between two clicks does not move its row
    // to the Expired part under the reader: Next goes on after it among the Invited.
    let query = UsersQuery { sort: UsersSort::Status, size: 25, ..Default::default() };
    let first = list(query.clone()).await.unwrap();
    let last = first.rows.last().unwrap().clone();
    assert_eq!(last.status, UserStatus::Invited, "page 1 ends among the Invited");
    let next = query.clone().next_page(1, &last);
    app.clock.advance(chrono::Duration::days(8));
    let now_listed = list(UsersQuery { size: 100, ..Default::default() }).await.unwrap().rows;
    assert_eq!(now_listed.iter().find(|r| r.user_id == last.user_id).unwrap().status, UserStatus::Expired);
    let mut expected: Vec<UserRow> = now_listed.clone();
    expected.sort_by_key(|row| expected_key(row, UsersSort::Status));
    let at = expected_key(&last, UsersSort::Status);
    let after: Vec<String> =
        expected.iter().filter(|r| r.user_id != last.user_id && expected_key(r, UsersSort::Status) > at).take(25).map(|r| r.email.clone()).collect();
    assert_eq!(emails(&list(next).await.unwrap().rows), after);
}

#[tokio::test]
async fn a_cursor_naming_someone_outside_the_readers_places_is_ignored() {
    use shared::scopes::ScopeKind;
    use shared::views::{PageCursor, RowAt};
    let app = TestApp::with_owner().await;
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    let admin_id = app.add_active_user_with("admin@north.example", &[TestApp::grant(&north, Role::Admin)]).await;
    for email in ["a@north.example", "z@north.example"] {
        app.add_active_user_with(email, &[TestApp::grant(&north, Role::Member)]).await;
    }
    let outside = app.add_active_user("m@elsewhere.example", "member").await;
    let admin = actor_for(&app, &admin_id).await;
    let list =
        |cursor| app::services::users::list(&app.state, &admin, UsersQuery { sort: shared::views::UsersSort::Email, page: 2, cursor, ..Default::default() });
    let emails = |page: shared::views::UsersPage| page.rows.into_iter().map(|r| r.email).collect::<Vec<_>>();
    let mine = list(PageCursor::None).await.unwrap();
    assert_eq!(emails(mine.clone()), vec!["a@north.example", "admin@north.example", "z@north.example"]);
    // Positioned after someone they may not see, the page would tell where that person
    // sorts; the cursor is ignored instead, and the page is read by its number.
    let probed = list(PageCursor::After(RowAt { user_id: outside, status: None })).await.unwrap();
    assert_eq!((probed.page, emails(probed)), (1, emails(mine)));
    let own = list(PageCursor::After(RowAt { user_id: user_id_of(&app, "admin@north.example").await, status: None })).await.unwrap();
    assert_eq!(emails(own), vec!["z@north.example"]);
}

#[tokio::test]
async fn a_search_matching_more_than_the_count_cap_pages_by_walking_the_list() {
    use shared::views::{PageCursor, RowAt, UsersSort};
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let cap = app::services::store::user_list::SEARCH_COUNT_CAP as usize;
    let mut tx = app.state.db.pool.begin().await.unwrap();
    let mut ids = std::collections::HashMap::new();
    for i in 0..cap + 60 {
        let (id, email) = (uuid::Uuid::new_v4().to_string(), format!("w{i:04}@walking.example"));
        let name = format!("Walker {:04}", (i * 7919) % (cap + 60));
        let user = app::services::store::users::NewUser {
            id: &id,
            account_id: &owner.account_id,
            email: &email,
            name: &name,
            status: shared::status::StoredUserStatus::Active,
            password_hash: None,
        };
        app::services::store::users::insert(&mut tx, user, app.clock_ms()).await.unwrap();
        ids.insert(email, id);
    }
    tx.commit().await.unwrap();
    for (sort, descending) in [(UsersSort::Name, false), (UsersSort::Email, true)] {
        let query = UsersQuery { search: "walk".into(), sort, descending, size: 25, ..Default::default() };
        let first = app::services::users::list(&app.state, &owner, query.clone()).await.unwrap();
        assert!(first.total_capped, "more than {cap} matches: counting stopped");
        let mut expected: Vec<(String, String)> = ids
            .keys()
            .map(|email| {
                let i: usize = email[1..5].parse().unwrap();
                (format!("walker {:04}", (i * 7919) % (cap + 60)), email.clone())
            })
            .collect();
        expected.sort_by(|a, b| match sort {
            UsersSort::Email => a.1.cmp(&b.1),
            _ => a.cmp(b),
        });
        if descending {
            expected.reverse();
        }
        let expected: Vec<String> = expected.into_iter().map(|(_, email)| email).collect();
        assert_eq!(first.rows.iter().map(|r| r.email.clone()).collect::<Vec<_>>(), expected[..25]);
        for at in [24, 500, 1030] {
            let row = RowAt { user_id: ids[&expected[at]].clone(), status: None };
            let next =
                app::services::users::list(&app.state, &owner, UsersQuery { page: 2, cursor: PageCursor::After(row.clone()), ..query.clone() }).await.unwrap();
            assert_eq!(
                next.rows.iter().map(|r| r.email.clone()).collect::<Vec<_>>(),
                expected[at + 1..(at + 26).min(expected.len())],
                "{sort:?}: Next after {at}"
            );
            let previous =
                app::services::users::list(&app.state, &owner, UsersQuery { page: 3, cursor: PageCursor::Before(row), ..query.clone() }).await.unwrap();
            // Fewer rows before it than a page: the first page instead.
            let before = if at >= 25 { &expected[at - 25..at] } else { &expected[..25] };
            assert_eq!(previous.rows.iter().map(|r| r.email.clone()).collect::<Vec<_>>(), before, "{sort:?}: Previous before {at}");
        }
    }
}

#[tokio::test]
async fn an_expired_link_can_ask_the_inviter_for_a_new_invitation() {
    let (app, _owner, _ada, link) = with_invitation().await;
    let segment = link_segment(&link);
    let early = accept::request_new(&app.state, &segment, None).await.unwrap_err();
    assert!(early.to_string().contains("Only an expired invitation"), "{early}");
    app.clock.advance(chrono::Duration::days(8));
    let said = accept::request_new(&app.state, &segment, None).await.unwrap();
    assert!(said.contains("Olive Owner"), "{said}");
    let (to, subject): (String, String) =
        sqlx::query_as("SELECT recipient, subject FROM outbox WHERE kind = 'invitation_requested'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(to, OWNER_EMAIL);
    assert_eq!(subject, "ada@example.com asks for a new invitation to Acme");
    // The inviter's link opens the Users page filtered to that person, as the page reads it.
    let body: String = sqlx::query_scalar("SELECT text_body FROM outbox WHERE kind = 'invitation_requested'").fetch_one(&app.state.db.pool).await.unwrap();
    let href = body.split_whitespace().find(|w| w.contains("/users?")).expect("a link to the Users page");
    let query = shared::views::UsersQuery::from_query_string(href.split_once('?').unwrap().1);
    assert_eq!((query.status, query.search.as_str()), (Some(UserStatus::Expired), "ada@example.com"));
    assert_eq!(audit_count(&app, "invitation.new_requested").await, 1);
    for _ in 0..2 {
        accept::request_new(&app.state, &segment, None).await.unwrap();
    }
    let queued = || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox").fetch_one(&app.state.db.pool).await.unwrap() };
    let before = queued().await;
    let refused = accept::request_new(&app.state, &segment, None).await.unwrap_err();
    assert_eq!(refused, AppError::InvalidState(shared::messages::REQUEST_ALREADY_SENT.into()), "a mailbox cannot be flooded from a link");
    assert_eq!(queued().await, before, "the refused request queued nothing");
}

#[tokio::test]
async fn every_invitation_action_queues_its_email() {
    let (app, owner, ada, _link) = with_invitation().await;
    let kinds = || async {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT kind, recipient FROM outbox").fetch_all(&app.state.db.pool).await.unwrap();
        assert!(!rows.is_empty() && rows.iter().all(|(_, r)| r == "ada@example.com"), "{rows:?}");
        let count = |kind: &str| rows.iter().filter(|(k, _)| k == kind).count();
        (count("invitation"), count("reminder"))
    };
    assert_eq!(kinds().await, (1, 0), "invite");
    service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    assert_eq!(kinds().await, (2, 0), "resend");
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
    assert_eq!(kinds().await, (2, 1), "reminder");
    app.clock.advance(chrono::Duration::days(8));
    service::act(&app.state, &owner, &ada, InvitationAction::SendNew).await.unwrap();
    assert_eq!(kinds().await, (3, 1), "send new invitation");
    service::act(&app.state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
    assert_eq!(kinds().await, (3, 1), "cancelling sends nothing");
    // "Invite user to activate account" on the profile-only user.
    service::invite(&app.state, &owner, request(&app, "ada@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(kinds().await, (4, 1), "invite to activate");
}

#[tokio::test]
async fn a_room_of_invitees_behind_one_address_can_all_accept() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let office = Some("198.51.100.30".parse().unwrap());
    let emails: Vec<String> = (0..60).map(|i| format!("colleague{i:02}@example.com")).collect();
    service::invite(&app.state, &owner, request(&app, &emails.join(","), &[Role::Member])).await.unwrap();
    for email in &emails {
        let link = service::copy_link(&app.state, &owner, &user_id_of(&app, email).await).await.unwrap();
        accept::accept(&app.state, &link_segment(&link), new_user_input(), None, office).await.unwrap_or_else(|e| panic!("{email}: {e}"));
    }
    let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE status = 'active'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(active, 61);
}

#[tokio::test]
async fn refused_accepts_from_one_address_are_limited() {
    let (app, _owner, _ada, link) = with_invitation().await;
    let ip = Some("203.0.113.40".parse().unwrap());
    let (id, token) = link_segment(&link).split_once('.').map(|(i, t)| (i.to_string(), t.to_string())).unwrap();
    let forged = format!("{id}.{}", token.chars().rev().collect::<String>());
    for _ in 0..30 {
        let refused = accept::accept(&app.state, &forged, new_user_input(), None, ip).await.unwrap_err();
        assert!(refused.to_string().contains("not valid"), "{refused:?}");
    }
    let limited = accept::accept(&app.state, &link_segment(&link), new_user_input(), None, ip).await.unwrap_err();
    assert!(matches!(limited, AppError::RateLimited { .. }), "{limited:?}");
    // Another address is not affected.
    accept::accept(&app.state, &link_segment(&link), new_user_input(), None, Some("198.51.100.41".parse().unwrap())).await.unwrap();
}

#[tokio::test]
async fn sends_to_one_address_are_counted_across_cancel_invite_again_and_retries() {
    let (app, owner, ada, _link) = with_invitation().await;
    service::act(&app.state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
    service::invite(&app.state, &owner, request(&app, "ada@example.com", &[Role::Member])).await.unwrap();
    service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
    // A failed message retried by hand is one more email to that mailbox.
    let first: String = sqlx::query_scalar("SELECT id FROM outbox ORDER BY id LIMIT 1").fetch_one(&app.state.db.pool).await.unwrap();
    sqlx::query("UPDATE outbox SET state = 'failed' WHERE id = $1").bind(&first).execute(&app.state.db.pool).await.unwrap();
    app::services::mail::log::retry(&app.state, &owner, &first).await.unwrap();
    let second: String =
        sqlx::query_scalar("SELECT id FROM outbox WHERE id <> $1 ORDER BY id LIMIT 1").bind(&first).fetch_one(&app.state.db.pool).await.unwrap();
    sqlx::query("UPDATE outbox SET state = 'failed' WHERE id = $1").bind(&second).execute(&app.state.db.pool).await.unwrap();
    let before = common::dump_database(&app.state).await;
    let refused = app::services::mail::log::retry(&app.state, &owner, &second).await.unwrap_err();
    assert!(refused.to_string().starts_with("ada@example.com was sent 5 emails in the last hour"), "{refused}");
    assert_eq!(common::dump_database(&app.state).await, before, "the refused retry changed nothing");
    // Cancelling and inviting again does not start a new count either.
    service::act(&app.state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
    let again = service::invite(&app.state, &owner, request(&app, "ada@example.com", &[Role::Member])).await.unwrap();
    assert!(again.invited.is_empty());
    assert!(again.skipped[0].1.starts_with("was sent 5 emails in the last hour"), "{again:?}");
    app.clock.advance(chrono::Duration::minutes(61));
    let later = service::invite(&app.state, &owner, request(&app, "ada@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(later.invited, vec!["ada@example.com".to_string()]);
}

#[tokio::test]
async fn addresses_and_names_match_whatever_their_case_on_every_engine() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    service::invite(&app.state, &owner, request(&app, "Ünïcode@Example.COM, ZOË@example.com", &[Role::Member])).await.unwrap();
    // The same address in other cases is the same person.
    let again = service::invite(&app.state, &owner, request(&app, "ünïcode@EXAMPLE.com", &[Role::Member])).await.unwrap();
    assert_eq!(again.skipped, vec![("ünïcode@example.com".to_string(), "already has a pending invitation".to_string())]);
    let zoe = user_id_of(&app, "zoë@example.com").await;
    let link = service::copy_link(&app.state, &owner, &zoe).await.unwrap();
    let input = AcceptInput { name: "Émile Zola".into(), ..new_user_input() };
    accept::accept(&app.state, &link_segment(&link), input, None, None).await.unwrap();
    let found = |search: &'static str| {
        let (app, owner) = (&app, &owner);
        async move {
            let page = app::services::users::list(&app.state, owner, UsersQuery { search: search.into(), ..Default::default() }).await.unwrap();
            page.rows.into_iter().map(|r| r.email).collect::<Vec<_>>()
        }
    };
    assert_eq!(found("ÉMILE").await, vec!["zoë@example.com"], "a name, folded beyond ASCII");
    assert_eq!(found("émile zo").await, vec!["zoë@example.com"]);
    assert_eq!(found("ÜNÏCODE@").await, vec!["ünïcode@example.com"], "an address in any case");
    assert_eq!(found("ZOË").await, vec!["zoë@example.com"]);
    let signed_in = app::services::auth::verify_credentials(&app.state, "ZOË@Example.Com", "analytical engine 1843".into(), None).await;
    assert!(signed_in.is_ok(), "signing in with the address in any case: {signed_in:?}");
}

#[tokio::test]
async fn an_address_trying_made_up_links_is_refused_after_the_limit_while_working_links_are_never_counted() {
    use app::services::invitations::accept::FAILED_LOOKUPS_PER_IP;
    let (app, _owner, _ada, link) = with_invitation().await;
    let working = link_segment(&link);
    let before = dump_database(&app.state).await;
    let (office, guesser, neighbour): (std::net::IpAddr, std::net::IpAddr, std::net::IpAddr) =
        ("192.0.2.10".parse().unwrap(), "198.51.100.7".parse().unwrap(), "198.51.100.8".parse().unwrap());
    for _ in 0..3 * FAILED_LOOKUPS_PER_IP.max {
        assert!(matches!(accept::open(&app.state, &working, None, Some(office)).await.unwrap(), InvitationPage::Open(_)));
    }
    let forged = format!("{}.{}", working.split_once('.').unwrap().0, "bm90LXRoZS10b2tlbg");
    for _ in 0..FAILED_LOOKUPS_PER_IP.max {
        assert_eq!(accept::open(&app.state, &forged, None, Some(guesser)).await.unwrap(), InvitationPage::NotValid);
    }
    assert!(matches!(accept::open(&app.state, &forged, None, Some(guesser)).await, Err(AppError::RateLimited { .. })));
    assert!(matches!(accept::open(&app.state, &working, None, Some(guesser)).await, Err(AppError::RateLimited { .. })), "not even a working link");
    assert!(matches!(accept::request_new(&app.state, &forged, Some(guesser)).await, Err(AppError::RateLimited { .. })));
    assert!(matches!(accept::open(&app.state, &working, None, Some(neighbour)).await.unwrap(), InvitationPage::Open(_)));
    assert!(matches!(accept::open(&app.state, &working, None, Some(office)).await.unwrap(), InvitationPage::Open(_)));
    app.clock.advance(chrono::Duration::from_std(FAILED_LOOKUPS_PER_IP.window).unwrap());
    assert!(matches!(accept::open(&app.state, &working, None, Some(guesser)).await.unwrap(), InvitationPage::Open(_)), "a new window");
    // Page views write nothing to the database, however many: no counter, no row anywhere.
    assert_eq!(dump_database(&app.state).await, before);
}

#[tokio::test]
async fn extend_moves_the_expiry_on_never_back_sending_nothing_and_keeping_the_link() {
    let (app, owner, ada, link) = with_invitation().await;
    let expiry = |app: &TestApp| {
        let pool = app.state.db.pool.clone();
        let ada = ada.clone();
        async move {
            sqlx::query_as::<_, (i64, i64, i64)>(
                "SELECT i.expires_at, u.pending_expires_at, i.link_version FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.user_id = $1",
            )
            .bind(&ada)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let messages = || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox").fetch_one(&app.state.db.pool).await.unwrap() };
    let (first_expiry, _, version) = expiry(&app).await;
    let sent = messages().await;

    // Five of its seven days later, the person asks for more time.
    app.clock.advance(chrono::Duration::days(5));
    let banner = service::act(&app.state, &owner, &ada, InvitationAction::Extend).await.unwrap();
    assert!(banner.contains("Nothing was sent"), "{banner}");
    let week = 7 * 86_400_000;
    assert_eq!(expiry(&app).await, (app.clock_ms() + week, app.clock_ms() + week, version), "the list's copy moves too; the link stays");
    assert!(app.clock_ms() + week > first_expiry);
    assert_eq!(messages().await, sent, "nothing queued");
    assert_eq!(audit_count(&app, "invitation.extended").await, 1);
    assert!(service::copy_link(&app.state, &owner, &ada).await.unwrap().ends_with(&link_segment(&link)), "the same link still works");

    // A shorter period set meanwhile never brings an expiry forward.
    let before = expiry(&app).await;
    let settings = shared::views::InvitationSettings {
        expiry_days: shared::invitations::ExpiryDays::new(1).unwrap(),
        resend_rotates_link: false,
        reminders: Default::default(),
    };
    app::services::invitations::settings::update(&app.state, &owner, settings).await.unwrap();
    service::act(&app.state, &owner, &ada, InvitationAction::Extend).await.unwrap();
    assert_eq!(expiry(&app).await, before);

    // Only a pending invitation: an expired one is sent anew instead.
    app.clock.advance(chrono::Duration::days(8));
    let refused = service::act(&app.state, &owner, &ada, InvitationAction::Extend).await.unwrap_err();
    assert!(matches!(refused, AppError::InvalidState(ref m) if m.contains("expired")), "{refused:?}");
}
