//! Decisions taken by two administrators at once, on PostgreSQL as on SQLite: a transaction
//! that decides from rows keeps them from changing until it commits (on PostgreSQL by row
//! locks; SQLite has one writer), so the second decides on what the first left. Each test
//! holds the first at a checkpoint before it commits, proves that the rows it decided on
//! cannot be locked meanwhile, then lets it finish and runs the second.

use crate::common;

use app::services::checkpoints::points;
use app::services::invitations::accept::{self, AcceptInput};
use app::services::invitations::service::{self, InviteRequest};
use app::services::scopes;
use common::*;
use shared::scopes::{Grant, ScopeKind};
use shared::status::UserStatus;
use shared::{AppError, Role};

fn invite(address: &str, grants: Vec<Grant>) -> InviteRequest {
    InviteRequest { addresses: address.into(), grants, message: None, send_despite_typos: true }
}

fn new_user() -> AcceptInput {
    AcceptInput { name: "Ada Lovelace".into(), password: "analytical engine 1843".into(), password_confirmation: "analytical engine 1843".into() }
}

async fn invitation_of(app: &TestApp, user_id: &str) -> String {
    sqlx::query_scalar("SELECT id FROM invitations WHERE user_id = $1").bind(user_id).fetch_one(&app.state.db.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invitation_into_a_place_holds_it_so_an_archiving_waits_and_then_refuses() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let ward = app.create_place(ScopeKind::OrganisationalUnit, "Ward", None).await;
    let gates = Gates::default();
    gates.close(points::INVITE_BEFORE_COMMIT);
    let inviting = {
        let (state, owner, request) = (app.gated(&gates), owner.clone(), invite("ada@example.com", vec![Grant::new(&ward, Role::Member)]));
        tokio::spawn(async move { service::invite(&state, &owner, request).await })
    };
    gates.arrivals(points::INVITE_BEFORE_COMMIT, 1).await;
    assert!(!can_lock_now(&app, "scopes", &ward, Lock::Update).await, "the place cannot be archived while the invitation is decided");
    gates.open(points::INVITE_BEFORE_COMMIT);
    inviting.await.unwrap().unwrap();
    let refused = scopes::archive(&app.state, &owner, &ward).await.unwrap_err();
    assert!(matches!(refused, AppError::InvalidState(ref m) if m.starts_with("1 open invitation offers a role in Ward")), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_archiving_holds_its_places_so_an_invitation_into_them_waits_and_then_is_refused() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let ward = app.create_place(ScopeKind::OrganisationalUnit, "Ward", None).await;
    let gates = Gates::default();
    gates.close(points::ARCHIVE_AFTER_LOCK);
    let archiving = {
        let (state, owner, ward) = (app.gated(&gates), owner.clone(), ward.clone());
        tokio::spawn(async move { scopes::archive(&state, &owner, &ward).await })
    };
    gates.arrivals(points::ARCHIVE_AFTER_LOCK, 1).await;
    assert!(!can_lock_now(&app, "scopes", &ward, Lock::Share).await, "nothing may offer a role there while it is being archived");
    gates.open(points::ARCHIVE_AFTER_LOCK);
    archiving.await.unwrap().unwrap();
    let refused = service::invite(&app.state, &owner, invite("ada@example.com", vec![Grant::new(&ward, Role::Member)])).await.unwrap_err();
    assert!(matches!(refused, AppError::Validation(ref m) if m.contains("no longer exists")), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_the_last_two_roles_at_once_cancels_the_invitation_instead_of_leaving_it_with_none() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    service::invite(&app.state, &owner, invite("ada@example.com", app.account_grants(&[Role::Admin, Role::Hr]))).await.unwrap();
    let ada = user_id_of(&app.state, "ada@example.com").await;
    let gates = Gates::default();
    gates.close(points::MANAGE_BEFORE_COMMIT);
    let first = {
        let (state, owner, ada, grants) = (app.gated(&gates), owner.clone(), ada.clone(), app.account_grants(&[Role::Admin]));
        tokio::spawn(async move { service::remove_grants(&state, &owner, &ada, grants).await })
    };
    gates.arrivals(points::MANAGE_BEFORE_COMMIT, 1).await;
    assert!(!can_lock_now(&app, "invitations", &invitation_of(&app, &ada).await, Lock::Update).await, "the invitation is held");
    gates.open(points::MANAGE_BEFORE_COMMIT);
    assert!(first.await.unwrap().unwrap().starts_with("Removed Admin"));
    let second = service::remove_grants(&app.state, &owner, &ada, app.account_grants(&[Role::Hr])).await.unwrap();
    assert!(second.starts_with("All roles removed"), "{second}");
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invitations WHERE state = 'pending'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(pending, 0, "no pending invitation is left offering nothing");
    let status: String = sqlx::query_scalar("SELECT status FROM users WHERE id = $1").bind(&ada).fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(status, UserStatus::ProfileOnly.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_role_removed_while_the_invitation_is_accepted_is_never_granted() {
    // The removal first: the acceptance waits, then grants only what is left.
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    service::invite(&app.state, &owner, invite("ada@example.com", app.account_grants(&[Role::Admin, Role::Hr]))).await.unwrap();
    let ada = user_id_of(&app.state, "ada@example.com").await;
    let link = service::copy_link(&app.state, &owner, &ada).await.unwrap();
    let gates = Gates::default();
    gates.close(points::MANAGE_BEFORE_COMMIT);
    let removing = {
        let (state, owner, ada, grants) = (app.gated(&gates), owner.clone(), ada.clone(), app.account_grants(&[Role::Admin]));
        tokio::spawn(async move { service::remove_grants(&state, &owner, &ada, grants).await })
    };
    gates.arrivals(points::MANAGE_BEFORE_COMMIT, 1).await;
    assert!(!can_lock_now(&app, "invitations", &invitation_of(&app, &ada).await, Lock::Update).await);
    gates.open(points::MANAGE_BEFORE_COMMIT);
    removing.await.unwrap().unwrap();
    accept::accept(&app.state, link.rsplit('/').next().unwrap(), new_user(), None, None).await.unwrap();
    assert_eq!(app.actor_for(&ada).await.authority.account_roles, vec![Role::Hr], "Admin was removed before the acceptance decided");

    // The acceptance first: a removal waits, then finds it accepted.
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    service::invite(&app.state, &owner, invite("ada@example.com", app.account_grants(&[Role::Admin, Role::Hr]))).await.unwrap();
    let ada = user_id_of(&app.state, "ada@example.com").await;
    let link = service::copy_link(&app.state, &owner, &ada).await.unwrap();
    let gates = Gates::default();
    gates.close(points::ACCEPT_AFTER_OFFERS);
    let accepting = {
        let (state, segment) = (app.gated(&gates), link.rsplit('/').next().unwrap().to_string());
        tokio::spawn(async move { accept::accept(&state, &segment, new_user(), None, None).await })
    };
    gates.arrivals(points::ACCEPT_AFTER_OFFERS, 1).await;
    assert!(!can_lock_now(&app, "invitations", &invitation_of(&app, &ada).await, Lock::Update).await);
    gates.open(points::ACCEPT_AFTER_OFFERS);
    accepting.await.unwrap().unwrap();
    let refused = service::remove_grants(&app.state, &owner, &ada, app.account_grants(&[Role::Admin])).await.unwrap_err();
    assert!(matches!(refused, AppError::InvalidState(_)), "{refused:?}");
}
