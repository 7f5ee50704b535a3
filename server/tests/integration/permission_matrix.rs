//! The permission matrix: every server function × every kind of actor, through the real
//! router. Allowed calls get past the permission check; refused ones answer 403 (401 when
//! nobody is signed in) and leave the database exactly as it was: no row, no outbox
//! message, no audit event. The matrix is data: a server function missing from it fails
//! the test, so a new one cannot slip in unchecked.

use crate::common;

use app::services::invitations::service::{self, InviteRequest};
use axum::http::StatusCode;
use common::*;
use shared::scopes::{Grant, ScopeKind};
use shared::{Role, RoleKey};
use std::collections::{BTreeSet, HashMap};

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Owner,
    Admin,
    Hr,
    CuratorWithPeople,
    Curator,
    /// Admin of the unit North, acting on people in a waiting area inside it.
    ScopeAdminInside,
    /// The same administrator, acting on people in the unit South.
    ScopeAdminOutside,
    Member,
    Anonymous,
}

const KINDS: [Kind; 9] = [
    Kind::Owner,
    Kind::Admin,
    Kind::Hr,
    Kind::CuratorWithPeople,
    Kind::Curator,
    Kind::ScopeAdminInside,
    Kind::ScopeAdminOutside,
    Kind::Member,
    Kind::Anonymous,
];

/// Who a row lets through.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Anyone, signed in or not (sign-in, the invitee's link, …): never a permission error.
    Public,
    /// Anyone signed in.
    SignedIn,
    /// Account-wide managers, and scope administrators (for their own people).
    ViewsPeople,
    /// Whoever may act on the target invitation or place: account-wide managers, and the
    /// scope administrator inside their place.
    ReachesTarget,
    /// Owner and Admin.
    AccountAdmins,
}

fn allowed(rule: Rule, kind: Kind) -> bool {
    use Kind::*;
    match rule {
        Rule::Public => true,
        Rule::SignedIn => kind != Anonymous,
        Rule::ViewsPeople => matches!(kind, Owner | Admin | Hr | CuratorWithPeople | ScopeAdminInside | ScopeAdminOutside),
        Rule::ReachesTarget => matches!(kind, Owner | Admin | Hr | CuratorWithPeople | ScopeAdminInside),
        Rule::AccountAdmins => matches!(kind, Owner | Admin),
    }
}

/// Everything the calls need, made fresh for each kind of actor.
struct Fixture {
    app: TestApp,
    kind: Kind,
    cookie: Option<String>,
    account_scope: String,
    north_waiting: String,
    south: String,
    /// An empty place to archive, and an archived one to restore.
    spare: String,
    archived: String,
    /// Invited people in the target place, one per action that changes them.
    targets: HashMap<&'static str, String>,
    curator: String,
    custom_role: String,
    message: String,
    failed_message: String,
}

impl Fixture {
    /// Where this kind of actor's target people are invited.
    fn place(&self) -> &str {
        if self.kind == Kind::ScopeAdminInside {
            &self.north_waiting
        } else {
            &self.south
        }
    }

    fn target(&self, key: &str) -> &str {
        &self.targets[key]
    }

    fn grants(&self, role: Role) -> String {
        shared::url::encode_component(&Grant::to_param(&[Grant::new(self.place(), role)]))
    }
}

const TARGETS: [&str; 7] = ["view", "resend", "remind", "send_new", "cancel", "copy", "remove_roles"];

async fn fixture(kind: Kind) -> Fixture {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let account_scope = app.account_scope.clone();
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    let north_waiting = app.create_place(ScopeKind::WaitingArea, "North waiting", Some(&north)).await;
    let south = app.create_place(ScopeKind::OrganisationalUnit, "South", None).await;
    let spare = app.create_place(ScopeKind::MeetingRoom, "Spare room", Some(&south)).await;
    let archived = app.create_place(ScopeKind::MeetingRoom, "Old room", Some(&south)).await;
    app::services::scopes::archive(&app.state, &owner, &archived).await.unwrap();
    let target_place = if kind == Kind::ScopeAdminInside { north_waiting.clone() } else { south.clone() };

    let mut targets = HashMap::new();
    for key in TARGETS {
        let email = format!("{}@example.com", key.replace('_', "-"));
        let request =
            InviteRequest { addresses: email.clone(), grants: vec![Grant::new(&target_place, Role::Member)], message: None, send_despite_typos: false };
        service::invite(&app.state, &owner, request).await.unwrap();
        targets.insert(key, user_id_of(&app.state, &email).await);
    }
    sqlx::query("UPDATE invitations SET expires_at = $1 WHERE user_id = $2")
        .bind(app.clock_ms() - 1)
        .bind(&targets["send_new"])
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let curator = app.add_active_user("curator-target@example.com", "curator").await;
    app::services::roles::create(&app.state, &owner, "Clinician").await.unwrap();
    let custom_role: String = sqlx::query_scalar("SELECT id FROM custom_roles").fetch_one(&app.state.db.pool).await.unwrap();
    let message = app::services::mail::log::send_test(&app.state, &owner, "log@example.com").await.unwrap();
    let failed_message = app::services::mail::log::send_test(&app.state, &owner, "bounce@example.com").await.unwrap();
    sqlx::query("UPDATE outbox SET state = 'failed' WHERE id = $1").bind(&failed_message).execute(&app.state.db.pool).await.unwrap();

    let actor_email = "actor@example.com";
    let cookie = match kind {
        Kind::Anonymous => None,
        Kind::Owner => Some(app.sign_in(OWNER_EMAIL).await),
        _ => {
            let grants = match kind {
                Kind::Admin => vec![Grant::new(&account_scope, Role::Admin)],
                Kind::Hr => vec![Grant::new(&account_scope, Role::Hr)],
                Kind::Curator | Kind::CuratorWithPeople => vec![Grant::new(&account_scope, Role::Curator)],
                Kind::ScopeAdminInside | Kind::ScopeAdminOutside => vec![Grant::new(&account_scope, Role::Member), Grant::new(&north, Role::Admin)],
                _ => vec![Grant::new(&account_scope, Role::Member)],
            };
            let id = app.add_active_user_with(actor_email, &grants).await;
            if kind == Kind::CuratorWithPeople {
                app::services::users::set_people_permission(&app.state, &owner, &id, true).await.unwrap();
            }
            Some(app.sign_in(actor_email).await)
        }
    };
    Fixture { app, kind, cookie, account_scope, north_waiting, south, spare, archived, targets, curator, custom_role, message, failed_message }
}

/// One server function called one way: its name, who may, and the form it is called with.
struct Row {
    name: &'static str,
    rule: Rule,
    form: fn(&Fixture) -> String,
}

fn rows() -> Vec<Row> {
    vec![
        Row { name: "get_current_user", rule: Rule::Public, form: |_| String::new() },
        Row { name: "get_setup_state", rule: Rule::Public, form: |_| String::new() },
        Row {
            name: "setup_owner",
            rule: Rule::Public,
            form: |_| "account_name=X&owner_name=Y&email=z%40example.com&password=a+sturdy+passphrase&password_confirmation=a+sturdy+passphrase".into(),
        },
        Row { name: "sign_in", rule: Rule::Public, form: |_| "email=nobody%40example.com&password=not+it+at+all&next=%2F".into() },
        Row { name: "get_invitation", rule: Rule::Public, form: |_| "link=00000000-0000-0000-0000-000000000000.forged".into() },
        Row {
            name: "accept_invitation",
            rule: Rule::Public,
            form: |_| "link=00000000-0000-0000-0000-000000000000.forged&name=X&password=a+sturdy+passphrase&password_confirmation=a+sturdy+passphrase".into(),
        },
        Row { name: "request_new_invitation", rule: Rule::Public, form: |_| "link=00000000-0000-0000-0000-000000000000.forged".into() },
        Row { name: "request_password_reset", rule: Rule::Public, form: |_| "email=nobody%40example.com".into() },
        Row { name: "get_password_reset", rule: Rule::Public, form: |_| "link=00000000-0000-0000-0000-000000000000.forged".into() },
        Row {
            name: "reset_password",
            rule: Rule::Public,
            form: |_| "link=00000000-0000-0000-0000-000000000000.forged&password=a+sturdy+passphrase&password_confirmation=a+sturdy+passphrase".into(),
        },
        Row {
            name: "change_password",
            rule: Rule::SignedIn,
            form: |_| "current_password=not+the+password&new_password=another+fine+passphrase&new_password_confirmation=another+fine+passphrase".into(),
        },
        Row { name: "list_users", rule: Rule::ViewsPeople, form: |_| "query=".into() },
        Row { name: "get_invite_options", rule: Rule::ViewsPeople, form: |_| String::new() },
        Row { name: "list_scopes", rule: Rule::ViewsPeople, form: |_| "search=&kind=&archived=".into() },
        Row { name: "get_user", rule: Rule::ReachesTarget, form: |f| format!("user_id={}", f.target("view")) },
        Row { name: "get_scope", rule: Rule::ReachesTarget, form: |f| format!("scope_id={}", f.place()) },
        Row {
            name: "invite_people",
            rule: Rule::ReachesTarget,
            form: |f| format!("addresses=new-person%40example.com&grants={}&message=&send_despite_typos=false", f.grants(Role::Member)),
        },
        Row { name: "act_on_invitation", rule: Rule::ReachesTarget, form: |f| format!("user_id={}&action=resend", f.target("resend")) },
        Row { name: "act_on_invitation", rule: Rule::ReachesTarget, form: |f| format!("user_id={}&action=remind", f.target("remind")) },
        Row { name: "act_on_invitation", rule: Rule::ReachesTarget, form: |f| format!("user_id={}&action=send_new", f.target("send_new")) },
        Row { name: "act_on_invitation", rule: Rule::ReachesTarget, form: |f| format!("user_id={}&action=cancel", f.target("cancel")) },
        Row { name: "get_invitation_link", rule: Rule::ReachesTarget, form: |f| format!("user_id={}", f.target("copy")) },
        Row {
            name: "remove_invitation_roles",
            rule: Rule::ReachesTarget,
            form: |f| format!("user_id={}&grants={}", f.target("remove_roles"), f.grants(Role::Member)),
        },
        Row { name: "set_people_permission", rule: Rule::AccountAdmins, form: |f| format!("user_id={}&people=on", f.curator) },
        Row { name: "get_invitation_settings", rule: Rule::AccountAdmins, form: |_| String::new() },
        Row { name: "save_invitation_settings", rule: Rule::AccountAdmins, form: |_| "expiry_days=14".into() },
        Row { name: "get_sender_settings", rule: Rule::AccountAdmins, form: |_| String::new() },
        Row { name: "save_sender_settings", rule: Rule::AccountAdmins, form: |_| "sender_name=Acme&sender_address=&reply_to=".into() },
        Row { name: "send_test_email", rule: Rule::AccountAdmins, form: |_| "to=it%40example.com".into() },
        Row { name: "list_deliveries", rule: Rule::AccountAdmins, form: |_| "query=".into() },
        Row { name: "get_delivery", rule: Rule::AccountAdmins, form: |f| format!("id={}", f.message) },
        Row { name: "retry_delivery", rule: Rule::AccountAdmins, form: |f| format!("id={}", f.failed_message) },
        Row { name: "create_scope", rule: Rule::AccountAdmins, form: |f| format!("kind=meeting_room&name=Room+9&parent_id={}", f.south) },
        Row { name: "rename_scope", rule: Rule::AccountAdmins, form: |f| format!("scope_id={}&name=South+wing", f.south) },
        Row { name: "archive_scope", rule: Rule::AccountAdmins, form: |f| format!("scope_id={}", f.spare) },
        Row { name: "restore_scope", rule: Rule::AccountAdmins, form: |f| format!("scope_id={}", f.archived) },
        Row { name: "list_custom_roles", rule: Rule::AccountAdmins, form: |_| String::new() },
        Row { name: "create_custom_role", rule: Rule::AccountAdmins, form: |_| "name=Receptionist".into() },
        Row { name: "rename_custom_role", rule: Rule::AccountAdmins, form: |f| format!("role_id={}&name=Physician", f.custom_role) },
        Row { name: "remove_custom_role", rule: Rule::AccountAdmins, form: |f| format!("role_id={}", f.custom_role) },
        // Signing out ends the session the rows above used: last.
        Row { name: "sign_out", rule: Rule::Public, form: |_| String::new() },
    ]
}

#[tokio::test]
async fn every_server_function_refuses_everyone_it_must_and_changes_nothing_when_it_does() {
    let rows = rows();
    // Every server function the router serves is in the matrix.
    let served: BTreeSet<String> = server_fn::axum::server_fn_paths().map(|(path, _)| path.trim_start_matches("/api/").to_string()).collect();
    let listed: BTreeSet<String> = rows.iter().map(|r| r.name.to_string()).collect();
    assert_eq!(served.difference(&listed).collect::<Vec<_>>(), Vec::<&String>::new(), "server functions missing from the matrix");
    assert_eq!(listed.difference(&served).collect::<Vec<_>>(), Vec::<&String>::new(), "matrix rows for functions that do not exist");

    let mut checked = 0;
    for kind in KINDS {
        let f = fixture(kind).await;
        for row in &rows {
            let path = format!("/api/{}", row.name);
            let form = (row.form)(&f);
            let before = dump_database(&f.app.state).await;
            let response = f.app.call(&path, &form, Some(ORIGIN), f.cookie.as_deref()).await;
            let status = response.status();
            let body = body_text(response).await;
            let what = format!("{} ({form}) by {kind:?}: {status} {body}", row.name);
            if allowed(row.rule, kind) {
                assert!(status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN, "allowed, yet refused: {what}");
                assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{what}");
            } else {
                let expected = if kind == Kind::Anonymous { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
                assert_eq!(status, expected, "refused with a permission error: {what}");
                assert_eq!(dump_database(&f.app.state).await, before, "a refused call changed nothing: {what}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, rows.len() * KINDS.len());
}

#[tokio::test]
async fn an_allowed_call_does_what_it_says_for_a_scope_administrator_in_their_place() {
    let f = fixture(Kind::ScopeAdminInside).await;
    let invite = f
        .app
        .call(
            "/api/invite_people",
            &format!("addresses=new-person%40example.com&grants={}&message=&send_despite_typos=false", f.grants(Role::Admin)),
            Some(ORIGIN),
            f.cookie.as_deref(),
        )
        .await;
    assert_eq!(invite.status(), StatusCode::OK, "{}", body_text(invite).await);
    let cancel = f.app.call("/api/act_on_invitation", &format!("user_id={}&action=cancel", f.target("cancel")), Some(ORIGIN), f.cookie.as_deref()).await;
    assert_eq!(cancel.status(), StatusCode::OK);
    // Owner is never a role of a place, and the account's own roles are out of their reach.
    let owner_here = shared::url::encode_component(&Grant::to_param(&[Grant::new(&f.north_waiting, RoleKey::Builtin(Role::Owner))]));
    let refused = f
        .app
        .call(
            "/api/invite_people",
            &format!("addresses=boss%40example.com&grants={owner_here}&message=&send_despite_typos=false"),
            Some(ORIGIN),
            f.cookie.as_deref(),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let account_wide = shared::url::encode_component(&Grant::to_param(&[Grant::new(&f.account_scope, Role::Member)]));
    let refused = f
        .app
        .call(
            "/api/invite_people",
            &format!("addresses=x%40example.com&grants={account_wide}&message=&send_despite_typos=false"),
            Some(ORIGIN),
            f.cookie.as_deref(),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}
