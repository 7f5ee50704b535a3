//! The invitation lifecycle through its services, on a real SQLite file: every action in
//! every state, expiry at its boundary, links, and races.

mod common;

use app::server::invitations::accept::{self, AcceptInput};
use app::server::invitations::service::{self, InviteRequest};
use app::server::Actor;
use common::*;
use shared::invitations::{allowed_actions, InvitationAction, ALL_ACTIONS};
use shared::views::{InvitationPage, UserStatus, UsersQuery};
use shared::{AppError, Role};

async fn owner(app: &TestApp) -> Actor {
    app.owner().await
}

async fn actor_for(app: &TestApp, user_id: &str) -> Actor {
    app.actor_for(user_id).await
}

fn request(addresses: &str, roles: &[Role]) -> InviteRequest {
    InviteRequest { addresses: addresses.into(), roles: roles.to_vec(), message: Some("Welcome aboard!".into()), send_despite_typos: false }
}

async fn user_id_of(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&app.state.db.pool).await.unwrap()
}

async fn status_of(app: &TestApp, actor: &Actor, email: &str) -> UserStatus {
    let page = app::server::users::list(&app.state, actor, UsersQuery { search: email.into(), ..Default::default() }).await.unwrap();
    page.rows.iter().find(|r| r.email == email).map(|r| r.status).expect("listed")
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
    let outcome = service::invite(&app.state, &owner, request("ada@example.com", &[Role::Admin, Role::Hr])).await.unwrap();
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
    let page = app::server::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    let row = page.rows.iter().find(|r| r.email == "ada@example.com").unwrap();
    assert_eq!(row.roles, vec![Role::Admin, Role::Hr]);
    assert!(row.invitation.is_some());
    assert_eq!(audit_count(&app, "invitation.created").await, 1);
}

#[tokio::test]
async fn the_database_holds_no_usable_link() {
    let (app, owner, ada, link) = with_invitation().await;
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
    let token = link.rsplit('.').next().unwrap();
    let mut dump: Vec<String> = sqlx::query_scalar("SELECT id || '|' || link_version || '|' || COALESCE(personal_message, '') FROM invitations")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    // Queued emails hold a placeholder; the worker puts the link in at send time.
    let bodies: Vec<String> = sqlx::query_scalar("SELECT subject || text_body || html_body FROM outbox").fetch_all(&app.state.db.pool).await.unwrap();
    assert_eq!(bodies.len(), 2);
    assert!(bodies.iter().all(|b| b.contains(app::server::mail::templates::LINK_PLACEHOLDER)));
    dump.extend(bodies);
    let audit: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events").fetch_all(&app.state.db.pool).await.unwrap();
    dump.extend(audit);
    assert!(dump.iter().all(|row| !row.contains(token)), "no token anywhere in the database");
}

#[tokio::test]
async fn a_batch_is_validated_whole_and_written_whole() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let refused = service::invite(&app.state, &owner, request("a@example.com, not-an-address, b@example.com", &[Role::Member])).await;
    assert!(matches!(refused, Err(AppError::Validation(ref m)) if m.contains("not-an-address")), "{refused:?}");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(users, 1, "nothing half-written");

    let outcome = service::invite(&app.state, &owner, request("a@example.com\nb@example.com; A@Example.com c@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(outcome.invited.len(), 3, "duplicates folded: {outcome:?}");
    let again = service::invite(&app.state, &owner, request("a@example.com, owner@example.com, d@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(again.invited, vec!["d@example.com".to_string()]);
    assert_eq!(
        again.skipped,
        vec![
            ("a@example.com".to_string(), "already has a pending invitation".to_string()),
            ("owner@example.com".to_string(), "is already an active user".to_string())
        ]
    );
}

#[tokio::test]
async fn likely_typos_stop_the_batch_until_confirmed() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let warned = service::invite(&app.state, &owner, request("jhon@gmial.com, ada@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(warned.typo_warnings, vec![("jhon@gmial.com".to_string(), "jhon@gmail.com".to_string())]);
    assert!(warned.invited.is_empty());
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(users, 1, "nothing sent before confirmation");
    let sent = service::invite(&app.state, &owner, InviteRequest { send_despite_typos: true, ..request("jhon@gmial.com", &[Role::Member]) }).await.unwrap();
    assert_eq!(sent.invited, vec!["jhon@gmial.com".to_string()]);
}

#[tokio::test]
async fn only_owners_invite_owners_and_members_invite_nobody() {
    let app = TestApp::with_owner().await;
    app.add_active_user("admin@example.com", "admin").await;
    app.add_active_user("member@example.com", "member").await;
    let admin = actor_for(&app, &user_id_of(&app, "admin@example.com").await).await;
    let member = actor_for(&app, &user_id_of(&app, "member@example.com").await).await;
    assert!(matches!(service::invite(&app.state, &admin, request("x@example.com", &[Role::Owner])).await, Err(AppError::Validation(_))));
    assert_eq!(service::invite(&app.state, &member, request("x@example.com", &[Role::Member])).await.unwrap_err(), AppError::Forbidden);
    service::invite(&app.state, &admin, request("x@example.com", &[Role::Admin])).await.unwrap();
    let x = user_id_of(&app, "x@example.com").await;
    assert_eq!(service::act(&app.state, &member, &x, InvitationAction::Resend).await.unwrap_err(), AppError::Forbidden);
    assert_eq!(service::copy_link(&app.state, &member, &x).await.unwrap_err(), AppError::Forbidden);
}

#[tokio::test]
async fn every_action_in_every_state_follows_the_shared_rule() {
    // For each status, each action the rule refuses is refused by the service, and each it
    // allows goes through.
    for status in [UserStatus::Invited, UserStatus::Expired, UserStatus::ProfileOnly, UserStatus::Active] {
        for action in ALL_ACTIONS {
            let (app, owner, ada, link) = with_invitation().await;
            match status {
                UserStatus::Invited => {}
                UserStatus::Expired => app.clock.advance(chrono::Duration::days(8)),
                UserStatus::ProfileOnly => {
                    service::act(&app.state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
                }
                UserStatus::Active => {
                    accept::accept(&app.state, &link_segment(&link), new_user_input(), None, None).await.unwrap();
                }
                UserStatus::Deactivated => unreachable!(),
            }
            assert_eq!(status_of(&app, &owner, "ada@example.com").await, status);
            let allowed = allowed_actions(status).contains(&action);
            let result = match action {
                InvitationAction::CopyLink => service::copy_link(&app.state, &owner, &ada).await.map(|_| ()),
                InvitationAction::Manage => service::remove_roles(&app.state, &owner, &ada, vec![Role::Hr]).await.map(|_| ()),
                InvitationAction::InviteToActivate => service::invite(&app.state, &owner, request("ada@example.com", &[Role::Member]))
                    .await
                    .and_then(|o| if o.invited.is_empty() { Err(AppError::InvalidState(format!("{o:?}"))) } else { Ok(()) }),
                _ => service::act(&app.state, &owner, &ada, action).await.map(|_| ()),
            };
            // Inviting again is how an expired user gets a fresh invitation from the dialog too.
            let expected = allowed || (action == InvitationAction::InviteToActivate && status == UserStatus::Expired);
            assert_eq!(result.is_ok(), expected, "{action:?} on {status:?}: {result:?}");
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
    let settings = app::server::invitations::settings::InvitationSettings { expiry_days: 7, resend_rotates_link: true };
    app::server::invitations::settings::update(&app.state, &owner, settings).await.unwrap();
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
    service::invite(&app.state, &owner, request("ada@example.com", &[Role::Member])).await.unwrap();
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Invited);
}

#[tokio::test]
async fn removing_some_roles_keeps_the_invitation_and_removing_all_cancels_it() {
    let (app, owner, ada, link) = with_invitation().await;
    let banner = service::remove_roles(&app.state, &owner, &ada, vec![Role::Hr]).await.unwrap();
    assert!(banner.contains("Removed HR"), "{banner}");
    match accept::open(&app.state, &link_segment(&link), None, None).await.unwrap() {
        InvitationPage::Open(open) => assert_eq!(open.roles, vec![Role::Admin]),
        other => panic!("{other:?}"),
    }
    let banner = service::remove_roles(&app.state, &owner, &ada, vec![Role::Admin]).await.unwrap();
    assert!(banner.contains("cancelled"), "{banner}");
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::ProfileOnly);
}

#[tokio::test]
async fn accepting_activates_the_user_with_the_roles_and_is_single_use() {
    let (app, owner, ada, link) = with_invitation().await;
    let segment = link_segment(&link);
    let credentials = accept::accept(&app.state, &segment, new_user_input(), None, None).await.unwrap();
    assert_eq!(credentials.user_id, ada);
    let actor = actor_for(&app, &ada).await;
    assert_eq!(actor.roles, vec![Role::Admin, Role::Hr]);
    assert_eq!(actor.name, "Ada Lovelace");
    assert_eq!(status_of(&app, &owner, "ada@example.com").await, UserStatus::Active);
    assert_eq!(accept::open(&app.state, &segment, None, None).await.unwrap(), InvitationPage::AlreadyAccepted);
    let again = accept::accept(&app.state, &segment, new_user_input(), None, None).await.unwrap_err();
    assert!(again.to_string().contains("already been accepted"), "{again}");
    assert_eq!(audit_count(&app, "invitation.accepted").await, 1);
}

#[tokio::test]
async fn two_simultaneous_accepts_have_exactly_one_winner() {
    let (app, _owner, _ada, link) = with_invitation().await;
    let segment = link_segment(&link);
    let (a, b) = tokio::join!(
        accept::accept(&app.state, &segment, new_user_input(), None, None),
        accept::accept(&app.state, &segment, new_user_input(), None, None)
    );
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "{a:?} / {b:?}");
    let memberships: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'ada@example.com'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(memberships, 2);
}

#[tokio::test]
async fn cancel_racing_accept_leaves_one_consistent_outcome() {
    for _ in 0..5 {
        let (app, owner, ada, link) = with_invitation().await;
        let segment = link_segment(&link);
        let (cancelled, accepted) = tokio::join!(
            service::act(&app.state, &owner, &ada, InvitationAction::Cancel),
            accept::accept(&app.state, &segment, new_user_input(), None, None)
        );
        assert_eq!(cancelled.is_ok() as u8 + accepted.is_ok() as u8, 1, "{cancelled:?} / {accepted:?}");
        let status = status_of(&app, &owner, "ada@example.com").await;
        if accepted.is_ok() {
            assert_eq!(status, UserStatus::Active);
        } else {
            assert_eq!(status, UserStatus::ProfileOnly);
            let roles: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE user_id = $1").bind(&ada).fetch_one(&app.state.db.pool).await.unwrap();
            assert_eq!(roles, 0);
        }
    }
}

#[tokio::test]
async fn a_forged_or_altered_link_shows_nothing() {
    let (app, _owner, _ada, link) = with_invitation().await;
    let segment = link_segment(&link);
    let (id, token) = segment.split_once('.').unwrap();
    let altered = format!("{id}.{}x", &token[..token.len() - 1]);
    for bad in [altered.as_str(), "garbage", &format!("{id}.AAAA"), "00000000-0000-0000-0000-000000000000.abc"] {
        assert_eq!(accept::open(&app.state, bad, None, None).await.unwrap(), InvitationPage::NotValid, "{bad}");
        assert!(accept::accept(&app.state, bad, new_user_input(), None, None).await.is_err());
    }
}

#[tokio::test]
async fn an_active_user_accepts_only_when_signed_in_as_the_invited_address() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    app.add_active_user("grace@example.com", "member").await;
    let grace = user_id_of(&app, "grace@example.com").await;
    // An active user gets an invitation when another role is offered to them (scopes, later);
    // here it is made directly.
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let scope = app::server::store::accounts::account_scope_id(&mut conn, &owner.account_id).await.unwrap();
    let id = app::server::store::new_id();
    app::server::store::invitations::insert(
        &mut conn,
        app::server::store::invitations::NewInvitation { id: &id, account_id: &owner.account_id, user_id: &grace, invited_by: &owner.user_id, personal_message: None, expires_at: app.clock_ms() + 86_400_000 },
        app.clock_ms(),
    )
    .await
    .unwrap();
    app::server::store::invitations::add_role(&mut conn, &id, &scope, "hr").await.unwrap();
    drop(conn);
    let segment = format!("{id}.{}", app.state.link_key.token(&id, 1));

    let stranger = owner.clone();
    let refused = accept::accept(&app.state, &segment, new_user_input(), Some(&stranger), None).await.unwrap_err();
    assert!(refused.to_string().contains("Sign in as grace@example.com"), "{refused}");
    assert!(matches!(accept::open(&app.state, &segment, None, None).await.unwrap(), InvitationPage::Open(_)), "not consumed");

    let grace_actor = actor_for(&app, &grace).await;
    accept::accept(&app.state, &segment, AcceptInput { name: String::new(), password: String::new(), password_confirmation: String::new() }, Some(&grace_actor), None)
        .await
        .unwrap();
    assert_eq!(actor_for(&app, &grace).await.roles, vec![Role::Hr, Role::Member]);
}

#[tokio::test]
async fn the_sixth_send_within_an_hour_is_refused() {
    let (app, owner, ada, _link) = with_invitation().await;
    for _ in 0..4 {
        service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    }
    let refused = service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap_err();
    assert!(refused.to_string().contains("You can send it again in"), "{refused}");
    app.clock.advance(chrono::Duration::minutes(61));
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
}

#[tokio::test]
async fn opening_a_link_changes_nothing() {
    let (app, _owner, _ada, link) = with_invitation().await;
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(&app.state.db.pool).await.unwrap();
    for _ in 0..3 {
        accept::open(&app.state, &link_segment(&link), None, None).await.unwrap();
    }
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(&app.state.db.pool).await.unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM invitations").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!((before, state.as_str()), (after, "pending"));
}

#[tokio::test]
async fn the_users_list_filters_searches_sorts_and_pages() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let many: Vec<String> = (0..30).map(|i| format!("person{i:02}@example.com")).collect();
    service::invite(&app.state, &owner, request(&many.join(","), &[Role::Member])).await.unwrap();
    let invited = app::server::users::list(&app.state, &owner, UsersQuery { status: Some(UserStatus::Invited), ..Default::default() }).await.unwrap();
    assert_eq!((invited.total, invited.page_count, invited.rows.len()), (30, 2, 25));
    let second = app::server::users::list(&app.state, &owner, UsersQuery { status: Some(UserStatus::Invited), page: 2, ..Default::default() }).await.unwrap();
    assert_eq!(second.rows.len(), 5);
    let found = app::server::users::list(&app.state, &owner, UsersQuery { search: "PERSON07".into(), ..Default::default() }).await.unwrap();
    assert_eq!(found.rows.iter().map(|r| r.email.as_str()).collect::<Vec<_>>(), vec!["person07@example.com"]);
    let wildcard = app::server::users::list(&app.state, &owner, UsersQuery { search: "%".into(), ..Default::default() }).await.unwrap();
    assert_eq!(wildcard.total, 0, "LIKE wildcards are taken literally");
    let by_email_desc = app::server::users::list(
        &app.state,
        &owner,
        UsersQuery { sort: shared::views::UsersSort::Email, descending: true, ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(by_email_desc.rows[0].email, "person29@example.com");
    app.clock.advance(chrono::Duration::days(8));
    let expired = app::server::users::list(&app.state, &owner, UsersQuery { status: Some(UserStatus::Expired), ..Default::default() }).await.unwrap();
    assert_eq!(expired.total, 30);
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
    let (to, subject): (String, String) = sqlx::query_as("SELECT recipient, subject FROM outbox WHERE kind = 'invitation_requested'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(to, OWNER_EMAIL);
    assert_eq!(subject, "ada@example.com asks for a new invitation to Acme");
    assert_eq!(audit_count(&app, "invitation.new_requested").await, 1);
    for _ in 0..2 {
        accept::request_new(&app.state, &segment, None).await.unwrap();
    }
    assert!(accept::request_new(&app.state, &segment, None).await.is_err(), "a mailbox cannot be flooded from a link");
}

#[tokio::test]
async fn every_invitation_action_queues_its_email() {
    let (app, owner, ada, _link) = with_invitation().await;
    service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
    let kinds: Vec<(String, String)> = sqlx::query_as("SELECT kind, recipient FROM outbox ORDER BY created_at, kind")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    let kinds: Vec<&str> = kinds.iter().map(|(k, r)| { assert_eq!(r, "ada@example.com"); k.as_str() }).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "invitation").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "reminder").count(), 1);
}
