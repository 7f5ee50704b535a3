//! Places (organisational units, waiting areas, meeting rooms), the account's own roles,
//! scope administrators and the People permission, through the services on a real SQLite file.

use crate::common;

use app::services::invitations::accept::{self, AcceptInput};
use app::services::invitations::service::{self, InviteRequest};
use app::services::{scopes, Actor};
use common::*;
use shared::invitations::InvitationAction;
use shared::permissions::Denied;
use shared::scopes::{Grant, ScopeKind};
use shared::status::UserStatus;
use shared::views::UsersQuery;
use shared::{AppError, Role, RoleKey};

fn invite(addresses: &str, grants: Vec<Grant>) -> InviteRequest {
    InviteRequest { addresses: addresses.into(), grants, message: None, send_despite_typos: false }
}

fn new_user() -> AcceptInput {
    AcceptInput { name: "Nia Nurse".into(), password: "analytical engine 1843".into(), password_confirmation: "analytical engine 1843".into() }
}

async fn link_segment(app: &TestApp, owner: &Actor, email: &str) -> String {
    let link = service::copy_link(&app.state, owner, &user_id_of(&app.state, email).await).await.unwrap();
    link.rsplit('/').next().unwrap().to_string()
}

async fn listed(app: &TestApp, actor: &Actor, query: UsersQuery) -> Vec<String> {
    let page = app::services::users::list(&app.state, actor, query).await.unwrap();
    page.rows.into_iter().map(|r| r.email).collect()
}

/// An account with two units, North (with a waiting area and a meeting room) and South.
struct Places {
    north: String,
    north_waiting: String,
    north_room: String,
    south: String,
}

async fn places(app: &TestApp) -> Places {
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    let north_waiting = app.create_place(ScopeKind::WaitingArea, "Waiting area North", Some(&north)).await;
    let north_room = app.create_place(ScopeKind::MeetingRoom, "Meeting room 3", Some(&north)).await;
    let south = app.create_place(ScopeKind::OrganisationalUnit, "South", None).await;
    Places { north, north_waiting, north_room, south }
}

#[tokio::test]
async fn places_sit_only_where_they_belong_and_names_are_unique_among_siblings() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let p = places(&app).await;
    let refused = scopes::create(&app.state, &owner, ScopeKind::WaitingArea, "Lobby", None).await.unwrap_err();
    assert_eq!(refused, AppError::Validation("A waiting area goes inside an organisational unit.".into()));
    let refused = scopes::create(&app.state, &owner, ScopeKind::MeetingRoom, "Room", Some(&p.north_waiting)).await.unwrap_err();
    assert!(matches!(refused, AppError::Validation(_)), "{refused:?}");
    // Units nest.
    let ward = scopes::create(&app.state, &owner, ScopeKind::OrganisationalUnit, "Ward 1", Some(&p.north)).await.unwrap();
    scopes::create(&app.state, &owner, ScopeKind::WaitingArea, "Ward 1 waiting", Some(&ward)).await.unwrap();
    let taken = scopes::create(&app.state, &owner, ScopeKind::MeetingRoom, "meeting ROOM 3", Some(&p.north)).await.unwrap_err();
    assert!(taken.to_string().contains("already exists there"), "{taken}");
    scopes::create(&app.state, &owner, ScopeKind::MeetingRoom, "Meeting room 3", Some(&p.south)).await.unwrap();
    let blank = scopes::create(&app.state, &owner, ScopeKind::MeetingRoom, "  ", Some(&p.south)).await.unwrap_err();
    assert_eq!(blank, AppError::Validation(shared::messages::PLACE_NAME_REQUIRED.into()));

    let tree = scopes::tree(&app.state, &owner, Default::default()).await.unwrap();
    let shown: Vec<(String, u32)> = tree.nodes.iter().map(|n| (n.name.clone(), n.depth)).collect();
    assert_eq!(
        shown,
        vec![
            ("North".into(), 0),
            ("Meeting room 3".into(), 1),
            ("Waiting area North".into(), 1),
            ("Ward 1".into(), 1),
            ("Ward 1 waiting".into(), 2),
            ("South".into(), 0),
            ("Meeting room 3".into(), 1),
        ],
        "each place after the one it sits in"
    );
    // A search keeps the places above a match, so it shows where it sits.
    let found = scopes::tree(&app.state, &owner, scopes::TreeQuery { search: "ward 1 wait".into(), ..Default::default() }).await.unwrap();
    assert_eq!(found.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["North", "Ward 1", "Ward 1 waiting"]);
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'scope.created'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(audited, 7);
}

#[tokio::test]
async fn a_place_with_open_invitations_is_not_archived_and_one_without_archives_with_everything_inside() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let p = places(&app).await;
    service::invite(&app.state, &owner, invite("nia@example.com", vec![Grant::new(&p.north_waiting, Role::Member)])).await.unwrap();
    let before = dump_database(&app.state).await;
    let refused = scopes::archive(&app.state, &owner, &p.north).await.unwrap_err();
    assert!(refused.to_string().starts_with("1 open invitation offers a role in North or the places inside it"), "{refused}");
    assert_eq!(dump_database(&app.state).await, before, "refused: nothing changed");

    // Once the invitation is cancelled the unit archives, with its waiting area and room.
    service::act(&app.state, &owner, &user_id_of(&app.state, "nia@example.com").await, InvitationAction::Cancel).await.unwrap();
    let said = scopes::archive(&app.state, &owner, &p.north).await.unwrap();
    assert_eq!(said, "North and the 2 places inside it are archived.");
    let live = scopes::tree(&app.state, &owner, Default::default()).await.unwrap();
    assert_eq!(live.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["South"]);
    // An archived place takes no invitations and cannot receive new places.
    let refused = service::invite(&app.state, &owner, invite("late@example.com", vec![Grant::new(&p.north_room, Role::Member)])).await.unwrap_err();
    assert!(refused.to_string().contains("no longer exists"), "{refused}");
    assert_eq!(
        scopes::create(&app.state, &owner, ScopeKind::MeetingRoom, "New", Some(&p.north)).await.unwrap_err(),
        AppError::InvalidState("North is archived. Restore it first.".into())
    );
    // Restoring the unit brings back what was archived with it.
    scopes::restore(&app.state, &owner, &p.north).await.unwrap();
    assert_eq!(scopes::tree(&app.state, &owner, Default::default()).await.unwrap().nodes.len(), 4);
}

#[tokio::test]
async fn the_database_itself_refuses_a_place_that_roles_still_point_to() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let p = places(&app).await;
    service::invite(&app.state, &owner, invite("nia@example.com", vec![Grant::new(&p.south, Role::Member)])).await.unwrap();
    app.add_active_user_with("sam@example.com", &[Grant::new(&p.north_room, Role::Member)]).await;
    for scope in [&p.south, &p.north_room] {
        let deleted = sqlx::query("DELETE FROM scopes WHERE id = $1").bind(scope).execute(&app.state.db.pool).await;
        let refused = matches!(&deleted, Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation());
        assert!(refused, "no invitation role or membership is ever left pointing nowhere: {deleted:?}");
    }
    // The control: a place nothing points to is deleted by the same statement.
    let deleted = sqlx::query("DELETE FROM scopes WHERE id = $1").bind(&p.north_waiting).execute(&app.state.db.pool).await.unwrap();
    assert_eq!(deleted.rows_affected(), 1);
}

#[tokio::test]
async fn an_invitation_with_roles_in_two_places_is_accepted_and_both_are_held() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let p = places(&app).await;
    app::services::roles::create(&app.state, &owner, "Clinician").await.unwrap();
    let clinician: String = sqlx::query_scalar("SELECT id FROM custom_roles").fetch_one(&app.state.db.pool).await.unwrap();
    let grants = vec![Grant::new(&p.north_waiting, Role::Admin), Grant::new(&p.north_room, RoleKey::Custom(clinician))];
    service::invite(&app.state, &owner, invite("nia@example.com", grants)).await.unwrap();
    let page = app::services::users::list(&app.state, &owner, UsersQuery { search: "nia".into(), ..Default::default() }).await.unwrap();
    let offered: Vec<String> = page.rows[0].invitation.as_ref().unwrap().offered.iter().map(|g| g.label()).collect();
    assert_eq!(offered, vec!["Admin — Waiting area North", "Clinician — Meeting room 3"]);
    // The link page reads the invitation and its roles in one statement: both roles, once each.
    let segment = link_segment(&app, &owner, "nia@example.com").await;
    match accept::open(&app.state, &segment, None, None).await.unwrap() {
        shared::views::InvitationPage::Open(open) => assert_eq!(open.offered.iter().map(|g| g.label()).collect::<Vec<_>>(), offered),
        other => panic!("the link is open: {other:?}"),
    }

    accept::accept(&app.state, &segment, new_user(), None, None).await.unwrap();
    let nia = app.actor_for(&user_id_of(&app.state, "nia@example.com").await).await;
    assert_eq!(nia.authority.administered, vec![p.north_waiting.clone()], "Admin in the waiting area, a member of the room");
    let held: Vec<String> = app::services::users::list(&app.state, &owner, UsersQuery { search: "nia".into(), ..Default::default() }).await.unwrap().rows[0]
        .held
        .iter()
        .map(|g| g.label())
        .collect();
    assert_eq!(held, vec!["Admin — Waiting area North", "Clinician — Meeting room 3"]);
}

#[tokio::test]
async fn managing_an_invitation_removes_the_role_in_one_place_and_keeps_the_other() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let p = places(&app).await;
    service::invite(&app.state, &owner, invite("nia@example.com", vec![Grant::new(&p.north_waiting, Role::Admin), Grant::new(&p.south, Role::Member)]))
        .await
        .unwrap();
    let nia = user_id_of(&app.state, "nia@example.com").await;
    let banner = service::remove_grants(&app.state, &owner, &nia, vec![Grant::new(&p.north_waiting, Role::Admin)]).await.unwrap();
    assert_eq!(banner, "Removed Admin from the invitation to nia@example.com.");
    let banner = service::remove_grants(&app.state, &owner, &nia, vec![Grant::new(&p.south, Role::Member)]).await.unwrap();
    assert!(banner.contains("cancelled"), "{banner}");
}

#[tokio::test]
async fn a_scope_administrator_sees_and_acts_on_the_people_of_their_places_only() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let p = places(&app).await;
    let admin_id = app.add_active_user_with("wanda@example.com", &[Grant::new(&p.north, Role::Admin)]).await;
    let wanda = app.actor_for(&admin_id).await;
    // Administering the unit reaches the waiting area and the room inside it.
    let mut reach = wanda.authority.administered.clone();
    reach.sort();
    let mut expected = vec![p.north.clone(), p.north_waiting.clone(), p.north_room.clone()];
    expected.sort();
    assert_eq!(reach, expected);

    service::invite(&app.state, &wanda, invite("in@example.com", vec![Grant::new(&p.north_waiting, Role::Admin)])).await.unwrap();
    service::invite(&app.state, &owner, invite("out@example.com", vec![Grant::new(&p.south, Role::Member)])).await.unwrap();
    service::invite(&app.state, &owner, invite("everywhere@example.com", vec![Grant::new(&app.account_scope, Role::Member)])).await.unwrap();
    let mut seen = listed(&app, &wanda, UsersQuery::default()).await;
    seen.sort();
    assert_eq!(seen, vec!["in@example.com", "wanda@example.com"], "only the people of their places");
    // How an email went (and the mail server's reply) is the Delivery log's, Owner and Admin only.
    let email_of = |page: shared::views::UsersPage| {
        page.rows.into_iter().find(|r| r.email == "in@example.com").and_then(|r| r.invitation).map(|i| i.latest_email.is_some())
    };
    let as_wanda = app::services::users::list(&app.state, &wanda, UsersQuery::default()).await.unwrap();
    let as_owner = app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    assert_eq!((email_of(as_wanda), email_of(as_owner)), (Some(false), Some(true)));
    assert_eq!(listed(&app, &owner, UsersQuery { scope: Some(p.south.clone()), ..Default::default() }).await, vec!["out@example.com"]);
    let refused = app::services::users::list(&app.state, &wanda, UsersQuery { scope: Some(p.south.clone()), ..Default::default() }).await.unwrap_err();
    assert_eq!(refused, AppError::Forbidden(Denied::OutsideYourScopes));

    // Inside: resend and cancel. Outside, and account-wide: refused, nothing changed.
    let inside = user_id_of(&app.state, "in@example.com").await;
    service::act(&app.state, &wanda, &inside, InvitationAction::Resend).await.unwrap();
    let outside = user_id_of(&app.state, "out@example.com").await;
    let before = dump_database(&app.state).await;
    assert_eq!(service::act(&app.state, &wanda, &outside, InvitationAction::Cancel).await.unwrap_err(), AppError::Forbidden(Denied::OutsideYourScopes));
    assert_eq!(service::copy_link(&app.state, &wanda, &outside).await.unwrap_err(), AppError::Forbidden(Denied::OutsideYourScopes));
    let refused = service::invite(&app.state, &wanda, invite("x@example.com", vec![Grant::new(&app.account_scope, Role::Member)])).await.unwrap_err();
    assert_eq!(refused, AppError::Forbidden(Denied::OutsideYourScopes));
    assert_eq!(scopes::detail(&app.state, &wanda, &p.south).await.unwrap_err(), AppError::Forbidden(Denied::OutsideYourScopes));
    assert_eq!(dump_database(&app.state).await, before);
    service::act(&app.state, &wanda, &inside, InvitationAction::Cancel).await.unwrap();

    // The place's page lists its people.
    service::invite(&app.state, &owner, invite("nia@example.com", vec![Grant::new(&p.north_waiting, Role::Member)])).await.unwrap();
    let detail = scopes::detail(&app.state, &wanda, &p.north_waiting).await.unwrap();
    assert_eq!(detail.invited.iter().map(|m| m.user.email.as_str()).collect::<Vec<_>>(), vec!["nia@example.com"]);
    assert_eq!(detail.path.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec!["North"]);
    let unit = scopes::detail(&app.state, &wanda, &p.north).await.unwrap();
    assert_eq!(unit.members.iter().map(|m| m.user.email.as_str()).collect::<Vec<_>>(), vec!["wanda@example.com"]);
    assert_eq!(unit.node.kind.members_title(), "Manage administrators");
}

#[tokio::test]
async fn a_curator_manages_invitations_only_with_the_people_permission() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let curator_id = app.add_active_user("cora@example.com", "curator").await;
    let cora = app.actor_for(&curator_id).await;
    let refused = service::invite(&app.state, &cora, invite("x@example.com", app.account_grants(&[Role::Member]))).await.unwrap_err();
    assert_eq!(refused, AppError::Forbidden(Denied::NotPermitted));
    assert_eq!(app::services::users::list(&app.state, &cora, UsersQuery::default()).await.unwrap_err(), AppError::Forbidden(Denied::NotPermitted));

    let said = app::services::users::set_people_permission(&app.state, &owner, &curator_id, true).await.unwrap();
    assert!(said.contains("now has the People permission"), "{said}");
    let cora = app.actor_for(&curator_id).await;
    service::invite(&app.state, &cora, invite("x@example.com", app.account_grants(&[Role::Curator]))).await.unwrap();
    let above = service::invite(&app.state, &cora, invite("y@example.com", app.account_grants(&[Role::Hr]))).await.unwrap_err();
    assert_eq!(above, AppError::Forbidden(Denied::AboveYourRole { role: Role::Hr }));
    // Only an Owner or Admin gives it, and only to a Curator.
    let hr_id = app.add_active_user("hr@example.com", "hr").await;
    let hr = app.actor_for(&hr_id).await;
    assert_eq!(app::services::users::set_people_permission(&app.state, &hr, &curator_id, false).await.unwrap_err(), AppError::Forbidden(Denied::NotPermitted));
    assert!(matches!(app::services::users::set_people_permission(&app.state, &owner, &hr_id, true).await, Err(AppError::InvalidState(_))));
    let detail = app::services::users::detail(&app.state, &owner, &curator_id).await.unwrap();
    assert!(detail.people && detail.is_curator && detail.can_grant_people);
}

#[tokio::test]
async fn the_accounts_own_roles_are_named_once_offered_anywhere_and_removed_only_when_unused() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let p = places(&app).await;
    app::services::roles::create(&app.state, &owner, "Clinician").await.unwrap();
    assert_eq!(app::services::roles::create(&app.state, &owner, "CLINICIAN").await.unwrap_err().to_string(), "The account already has a role of that name.");
    assert_eq!(app::services::roles::create(&app.state, &owner, "hr").await.unwrap_err().to_string(), shared::messages::ROLE_NAME_BUILT_IN);
    let roles = app::services::roles::list(&app.state, &owner).await.unwrap();
    let clinician = roles[0].id.clone();
    service::invite(&app.state, &owner, invite("nia@example.com", vec![Grant::new(&p.north_room, RoleKey::Custom(clinician.clone()))])).await.unwrap();
    assert_eq!(app::services::roles::list(&app.state, &owner).await.unwrap()[0].in_use, 1);
    let refused = app::services::roles::remove(&app.state, &owner, &clinician).await.unwrap_err();
    assert!(refused.to_string().contains("Remove it from them first"), "{refused}");
    app::services::roles::rename(&app.state, &owner, &clinician, "Physician").await.unwrap();
    let page = app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    let nia = page.rows.iter().find(|r| r.email == "nia@example.com").unwrap();
    assert_eq!(nia.invitation.as_ref().unwrap().offered[0].label(), "Physician — Meeting room 3");
    // An own role confers membership, not administration.
    accept::accept(&app.state, &link_segment(&app, &owner, "nia@example.com").await, new_user(), None, None).await.unwrap();
    let nia = app.actor_for(&user_id_of(&app.state, "nia@example.com").await).await;
    assert!(!nia.authority.is_administrator());
    // A role nobody holds or is offered can go.
    app::services::roles::create(&app.state, &owner, "Receptionist").await.unwrap();
    let receptionist = app::services::roles::list(&app.state, &owner).await.unwrap().into_iter().find(|r| r.name == "Receptionist").unwrap();
    app::services::roles::remove(&app.state, &owner, &receptionist.id).await.unwrap();
    assert!(matches!(
        service::invite(&app.state, &owner, invite("z@example.com", vec![Grant::new(&p.south, RoleKey::Custom(receptionist.id))])).await,
        Err(AppError::Validation(_))
    ));
}

#[tokio::test]
async fn owner_is_an_account_wide_role_only() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let p = places(&app).await;
    let refused = service::invite(&app.state, &owner, invite("x@example.com", vec![Grant::new(&p.south, Role::Owner)])).await.unwrap_err();
    assert_eq!(refused, AppError::Validation("Owner is an account-wide role; it cannot be given in South.".into()));
    let status =
        app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap().rows.iter().filter(|r| r.status == UserStatus::Invited).count();
    assert_eq!(status, 0, "nothing written");
}

#[tokio::test]
async fn restoring_a_place_never_brings_back_one_archived_on_its_own_before() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    let ward = app.create_place(ScopeKind::OrganisationalUnit, "Ward", Some(&north)).await;
    let room = app.create_place(ScopeKind::MeetingRoom, "Room", Some(&north)).await;
    app.add_active_user_with("ward.admin@example.com", &[TestApp::grant(&ward, Role::Admin)]).await;
    let cookie = app.sign_in("ward.admin@example.com").await;
    let users_page = || app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie));
    assert_eq!(users_page().await.status(), 200, "Ward's administrator has the Users page");

    // Archiving Ward is how its administrator loses their power there.
    scopes::archive(&app.state, &owner, &ward).await.unwrap();
    assert_eq!(users_page().await.status(), 403);
    assert_eq!(scopes::archive(&app.state, &owner, &ward).await.unwrap_err(), AppError::InvalidState("Ward is archived already.".into()));
    // North is archived and restored later: with the room archived with it, not Ward.
    assert_eq!(scopes::archive(&app.state, &owner, &north).await.unwrap(), "North and the 1 places inside it are archived.");
    scopes::restore(&app.state, &owner, &north).await.unwrap();
    let tree = scopes::tree(&app.state, &owner, scopes::TreeQuery { include_archived: true, ..Default::default() }).await.unwrap();
    let archived = |id: &str| tree.nodes.iter().find(|n| n.id == id).unwrap().archived;
    assert!(!archived(&north) && !archived(&room), "restored with North");
    assert!(archived(&ward), "Ward was archived on its own, before");
    assert_eq!(users_page().await.status(), 403, "Ward's administrator stays without power");
    // Restoring Ward itself is what gives it back.
    scopes::restore(&app.state, &owner, &ward).await.unwrap();
    assert_eq!(users_page().await.status(), 200);
}
