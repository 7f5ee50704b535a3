//! The permission matrix: every server function × every kind of actor, through the real
//! router. Each row says the status an allowed call answers and what it changes; an allowed
//! call must answer exactly that and change it, a refused one answers 403 (401 when nobody
//! is signed in) and leaves the database exactly as it was: no row, no outbox message, no
//! audit event. The matrix is data: a server function missing from it fails the test, so a
//! new one cannot slip in unchecked.

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
    /// Owner, Admin and scope administrators (for the events of their places).
    ReadsAudit,
    /// Those who manage the whole account's people: Owner, Admin, HR, a Curator with People
    /// (another person's bulk job).
    ManagesAccount,
}

fn allowed(rule: Rule, kind: Kind) -> bool {
    use Kind::*;
    match rule {
        Rule::Public => true,
        Rule::SignedIn => kind != Anonymous,
        Rule::ViewsPeople => matches!(kind, Owner | Admin | Hr | CuratorWithPeople | ScopeAdminInside | ScopeAdminOutside),
        Rule::ReachesTarget => matches!(kind, Owner | Admin | Hr | CuratorWithPeople | ScopeAdminInside),
        Rule::AccountAdmins => matches!(kind, Owner | Admin),
        Rule::ReadsAudit => matches!(kind, Owner | Admin | ScopeAdminInside | ScopeAdminOutside),
        Rule::ManagesAccount => matches!(kind, Owner | Admin | Hr | CuratorWithPeople),
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
    /// A bulk job the owner started, still running (no runner runs here).
    owners_job: String,
    /// An import the owner previewed: line 2 to drop, line 3 to import.
    owners_import: String,
    /// An API token the owner made.
    owners_token: String,
    /// Webhook endpoints the owner made: one to change, one to remove; and a failed delivery.
    owners_webhook: String,
    spare_webhook: String,
    failed_webhook_delivery: String,
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

const TARGETS: [&str; 15] = [
    "view",
    "held",
    "resend",
    "remind",
    "extend",
    "send_new",
    "cancel",
    "copy",
    "remove_roles",
    "deactivate",
    "set_password",
    "correct",
    "delete",
    "bulk_cancel",
    "owners_job",
];
/// Active people in the target place, one per action that changes them ("reactivate" is
/// deactivated below: keeping their roles, they stay within a scope administrator's reach).
const ACTIVE_TARGETS: [&str; 4] = ["sign_out", "take_role", "give_role", "reactivate"];

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
    for key in ACTIVE_TARGETS {
        let email = format!("{}@example.com", key.replace('_', "-"));
        targets.insert(key, app.add_active_user_with(&email, &[Grant::new(&target_place, Role::Member)]).await);
    }
    app::services::people::act(&app.state, &owner, &targets["reactivate"], shared::people::PersonAction::Deactivate).await.unwrap();
    // An invitation expiring within the hour, for Extend to move on.
    sqlx::query("UPDATE invitations SET expires_at = $1 WHERE user_id = $2")
        .bind(app.clock_ms() + 3_600_000)
        .bind(&targets["extend"])
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE invitations SET expires_at = $1 WHERE user_id = $2")
        .bind(app.clock_ms() - 1)
        .bind(&targets["send_new"])
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    // An address that bounced, held until someone marks it as working.
    {
        let mut conn = app.state.db.pool.acquire().await.unwrap();
        app::services::store::bounces::hold(&mut conn, &owner.account_id, "held@example.com", "m", app.clock_ms(), "550 5.1.1 unknown", app.clock_ms())
            .await
            .unwrap();
    }
    // A DKIM key rotated out, for removing.
    sqlx::query("INSERT INTO dkim_keys (selector, private_key_pem, public_key_base64, created_at, retired_at) VALUES ('old-key', '', '', 1, 2)")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let curator = app.add_active_user("curator-target@example.com", "curator").await;
    app::services::roles::create(&app.state, &owner, "Clinician").await.unwrap();
    let custom_role: String = sqlx::query_scalar("SELECT id FROM custom_roles").fetch_one(&app.state.db.pool).await.unwrap();
    let message = app::services::mail::log::send_test(&app.state, &owner, "log@example.com").await.unwrap();
    let failed_message = app::services::mail::log::send_test(&app.state, &owner, "bounce@example.com").await.unwrap();
    sqlx::query("UPDATE outbox SET state = 'failed' WHERE id = $1").bind(&failed_message).execute(&app.state.db.pool).await.unwrap();
    let owners_job = app::services::store::new_id();
    {
        let mut tx = app.state.db.write_tx().await.unwrap();
        let people = [targets["owners_job"].clone()];
        let job = app::services::store::jobs::NewJob {
            id: &owners_job,
            account_id: &owner.account_id,
            action: shared::bulk::BulkAction::Remind,
            started_by: &owner.user_id,
            api_token_id: None,
            selection: "1 person selected",
            people: &people,
        };
        app::services::store::jobs::insert(&mut tx, job, app.clock_ms()).await.unwrap();
        tx.commit().await.unwrap();
    }

    let import_file = b"email,role\nmatrix-drop@example.com,Member\nmatrix-import@example.com,Member\n";
    let owners_import = app::services::imports::upload(&app.state, &owner, "matrix.csv", import_file).await.unwrap().unwrap();

    let no_scopes = shared::permissions::TokenScopes::READ_ONLY;
    let owners_token = app::services::api_tokens::create(&app.state, &owner, "Owner's script", no_scopes, None).await.unwrap().token.id;

    let webhook_events = [shared::webhooks::WebhookEvent::InvitationCreated];
    let owners_webhook = app::services::webhooks::create(&app.state, &owner, "http://93.184.216.34/hooks", "", &webhook_events).await.unwrap().endpoint.id;
    let spare_webhook = app::services::webhooks::create(&app.state, &owner, "http://93.184.216.34/spare", "", &webhook_events).await.unwrap().endpoint.id;
    app::services::webhooks::send_test(&app.state, &owner, &owners_webhook).await.unwrap();
    let failed_webhook_delivery: String =
        sqlx::query_scalar("UPDATE webhook_deliveries SET state = 'failed' RETURNING id").fetch_one(&app.state.db.pool).await.unwrap();

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
    Fixture {
        app,
        kind,
        cookie,
        account_scope,
        north_waiting,
        south,
        spare,
        archived,
        targets,
        curator,
        custom_role,
        message,
        failed_message,
        owners_job,
        owners_import,
        owners_token,
        owners_webhook,
        spare_webhook,
        failed_webhook_delivery,
    }
}

/// One server function called one way: its name, who may, the form it is called with, the
/// status an allowed call answers, and a query whose answer an allowed call must change
/// (`None`: it reads, and the status says it answered).
struct Row {
    name: &'static str,
    rule: Rule,
    form: fn(&Fixture) -> String,
    ok: u16,
    changes: Option<fn(&Fixture) -> String>,
}

const FORGED_LINK: &str = "link=00000000-0000-0000-0000-000000000000.forged";

fn rows() -> Vec<Row> {
    let row = |name, rule, form, ok, changes| Row { name, rule, form, ok, changes };
    let reads = |name, rule, form| Row { name, rule, form, ok: 200, changes: None };
    vec![
        reads("get_current_user", Rule::Public, |_| String::new()),
        reads("get_setup_state", Rule::Public, |_| String::new()),
        // Set-up is closed once an owner exists: a conflict for everyone, nothing written.
        row(
            "setup_owner",
            Rule::Public,
            |_| "account_name=X&owner_name=Y&email=z%40example.com&password=a+sturdy+passphrase&password_confirmation=a+sturdy+passphrase".into(),
            409,
            None,
        ),
        row("sign_in", Rule::Public, |_| "email=nobody%40example.com&password=not+it+at+all&next=%2F".into(), 422, None),
        // A link that does not verify shows the generic page, and cannot be acted on.
        reads("get_invitation", Rule::Public, |_| FORGED_LINK.into()),
        row(
            "accept_invitation",
            Rule::Public,
            |_| format!("{FORGED_LINK}&name=X&password=a+sturdy+passphrase&password_confirmation=a+sturdy+passphrase"),
            409,
            None,
        ),
        row("request_new_invitation", Rule::Public, |_| FORGED_LINK.into(), 409, None),
        row(
            "request_password_reset",
            Rule::Public,
            |_| format!("email={}", shared::url::encode_component(OWNER_EMAIL)),
            200,
            Some(|_| "SELECT COUNT(*) FROM password_resets".into()),
        ),
        reads("get_password_reset", Rule::Public, |_| FORGED_LINK.into()),
        row("reset_password", Rule::Public, |_| format!("{FORGED_LINK}&password=a+sturdy+passphrase&password_confirmation=a+sturdy+passphrase"), 409, None),
        row(
            "change_password",
            Rule::SignedIn,
            |_| "current_password=not+the+password&new_password=another+fine+passphrase&new_password_confirmation=another+fine+passphrase".into(),
            422,
            None,
        ),
        reads("list_users", Rule::ViewsPeople, |_| "query=".into()),
        reads("list_audit_events", Rule::ReadsAudit, |_| "query=".into()),
        reads("get_invite_options", Rule::ViewsPeople, |_| String::new()),
        reads("list_scopes", Rule::ViewsPeople, |_| "search=&kind=&archived=".into()),
        reads("get_user", Rule::ReachesTarget, |f| format!("user_id={}", f.target("view"))),
        reads("get_scope", Rule::ReachesTarget, |f| format!("scope_id={}", f.place())),
        row(
            "invite_people",
            Rule::ReachesTarget,
            |f| format!("addresses=new-person%40example.com&grants={}&message=&send_despite_typos=false", f.grants(Role::Member)),
            200,
            Some(|_| {
                "SELECT COUNT(*) FROM invitations i JOIN users u ON u.id = i.user_id WHERE u.email = 'new-person@example.com' AND i.state = 'pending'".into()
            }),
        ),
        row(
            "act_on_invitation",
            Rule::ReachesTarget,
            |f| format!("user_id={}&action=resend", f.target("resend")),
            200,
            Some(|f| format!("SELECT send_count FROM invitations WHERE user_id = '{}'", f.target("resend"))),
        ),
        row(
            "act_on_invitation",
            Rule::ReachesTarget,
            |f| format!("user_id={}&action=remind", f.target("remind")),
            200,
            Some(|f| {
                format!(
                    "SELECT COUNT(*) FROM outbox o JOIN invitations i ON i.id = o.invitation_id WHERE o.kind = 'reminder' AND i.user_id = '{}'",
                    f.target("remind")
                )
            }),
        ),
        row(
            "act_on_invitation",
            Rule::ReachesTarget,
            |f| format!("user_id={}&action=extend", f.target("extend")),
            200,
            Some(|f| format!("SELECT expires_at FROM invitations WHERE user_id = '{}'", f.target("extend"))),
        ),
        row(
            "act_on_invitation",
            Rule::ReachesTarget,
            |f| format!("user_id={}&action=send_new", f.target("send_new")),
            200,
            Some(|f| format!("SELECT link_version FROM invitations WHERE user_id = '{}'", f.target("send_new"))),
        ),
        row(
            "act_on_invitation",
            Rule::ReachesTarget,
            |f| format!("user_id={}&action=cancel", f.target("cancel")),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM invitations WHERE state = 'cancelled' AND user_id = '{}'", f.target("cancel"))),
        ),
        row(
            "release_bounced_address",
            Rule::ReachesTarget,
            |f| format!("user_id={}", f.target("held")),
            200,
            Some(|_| "SELECT COUNT(*) FROM held_addresses WHERE released_at IS NULL".into()),
        ),
        row(
            "get_invitation_link",
            Rule::ReachesTarget,
            |f| format!("user_id={}", f.target("copy")),
            200,
            Some(|f| {
                format!("SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.link_copied' AND target_id IN (SELECT id FROM invitations WHERE user_id = '{}')", f.target("copy"))
            }),
        ),
        row(
            "remove_invitation_roles",
            Rule::ReachesTarget,
            |f| format!("user_id={}&grants={}", f.target("remove_roles"), f.grants(Role::Member)),
            200,
            Some(|f| {
                format!("SELECT COUNT(*) FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id WHERE i.user_id = '{}'", f.target("remove_roles"))
            }),
        ),
        row(
            "act_on_person",
            Rule::ReachesTarget,
            |f| format!("user_id={}&action=deactivate", f.target("deactivate")),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM users WHERE status = 'deactivated' AND id = '{}'", f.target("deactivate"))),
        ),
        row(
            "act_on_person",
            Rule::ReachesTarget,
            |f| format!("user_id={}&action=reactivate", f.target("reactivate")),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM users WHERE status = 'deactivated' AND id = '{}'", f.target("reactivate"))),
        ),
        row(
            "act_on_person",
            Rule::ReachesTarget,
            |f| format!("user_id={}&action=sign_out_everywhere", f.target("sign_out")),
            200,
            Some(|f| format!("SELECT auth_version FROM users WHERE id = '{}'", f.target("sign_out"))),
        ),
        row(
            "remove_person_roles",
            Rule::ReachesTarget,
            |f| format!("user_id={}&grants={}", f.target("take_role"), f.grants(Role::Member)),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM memberships WHERE user_id = '{}'", f.target("take_role"))),
        ),
        row(
            "add_person_roles",
            Rule::ReachesTarget,
            |f| format!("user_id={}&grants={}", f.target("give_role"), f.grants(Role::Curator)),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM memberships WHERE user_id = '{}'", f.target("give_role"))),
        ),
        row(
            "set_person_password",
            Rule::ReachesTarget,
            |f| format!("user_id={}&password=a+sturdy+passphrase&password_confirmation=a+sturdy+passphrase", f.target("set_password")),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM users WHERE status = 'active' AND must_change_password = 1 AND id = '{}'", f.target("set_password"))),
        ),
        row(
            "delete_person",
            Rule::AccountAdmins,
            |f| format!("user_id={}", f.target("delete")),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM users WHERE id = '{}'", f.target("delete"))),
        ),
        row(
            "correct_invitation_address",
            Rule::ReachesTarget,
            |f| format!("user_id={}&email=corrected%40example.com", f.target("correct")),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM users WHERE email = 'corrected@example.com' AND id = '{}'", f.target("correct"))),
        ),
        row(
            "set_people_permission",
            Rule::AccountAdmins,
            |f| format!("user_id={}&people=on", f.curator),
            200,
            Some(|f| format!("SELECT people_permission FROM users WHERE id = '{}'", f.curator)),
        ),
        row(
            "start_bulk_action",
            Rule::ReachesTarget,
            |f| format!("action=cancel&ids={}", f.target("bulk_cancel")),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM invitations WHERE state = 'cancelled' AND user_id = '{}'", f.target("bulk_cancel"))),
        ),
        reads("count_matching", Rule::ViewsPeople, |_| "query=status%3Dinvited".into()),
        reads("list_jobs", Rule::ViewsPeople, |_| String::new()),
        reads("get_job", Rule::ManagesAccount, |f| format!("id={}", f.owners_job)),
        row(
            "cancel_job",
            Rule::ManagesAccount,
            |f| format!("id={}", f.owners_job),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM jobs WHERE state = 'cancelled' AND id = '{}'", f.owners_job)),
        ),
        reads("get_import", Rule::ManagesAccount, |f| format!("id={}&page=0", f.owners_import)),
        row(
            "change_import_row",
            Rule::ManagesAccount,
            |f| format!("id={}&line=2&change=drop", f.owners_import),
            200,
            Some(|_| "SELECT COUNT(*) FROM import_rows WHERE dropped = 1".into()),
        ),
        row(
            "start_import",
            Rule::ManagesAccount,
            |f| format!("id={}&mode=send_invites", f.owners_import),
            200,
            Some(|_| "SELECT COUNT(*) FROM users WHERE email = 'matrix-import@example.com'".into()),
        ),
        reads("list_api_tokens", Rule::ViewsPeople, |_| String::new()),
        row(
            "create_api_token",
            Rule::ViewsPeople,
            |_| "name=Matrix+script&expires_in_days=30&invitations=on".into(),
            200,
            Some(|_| "SELECT COUNT(*) FROM api_tokens".into()),
        ),
        row(
            "revoke_api_token",
            Rule::AccountAdmins,
            |f| format!("id={}", f.owners_token),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NOT NULL AND id = '{}'", f.owners_token)),
        ),
        reads("list_webhooks", Rule::AccountAdmins, |_| String::new()),
        reads("list_webhook_deliveries", Rule::AccountAdmins, |f| format!("id={}", f.owners_webhook)),
        row(
            "save_webhook",
            Rule::AccountAdmins,
            |_| "id=&url=http%3A%2F%2F93.184.216.34%2Fnew&description=Matrix&invitation_accepted=on".into(),
            200,
            Some(|_| "SELECT COUNT(*) FROM webhook_endpoints".into()),
        ),
        row(
            "save_webhook",
            Rule::AccountAdmins,
            |f| format!("id={}&url=http%3A%2F%2F93.184.216.34%2Fhooks&description=Changed&enabled=on&invitation_cancelled=on", f.owners_webhook),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM webhook_endpoints WHERE description = 'Changed' AND id = '{}'", f.owners_webhook)),
        ),
        row(
            "act_on_webhook",
            Rule::AccountAdmins,
            |f| format!("id={}&action=rotate_secret", f.owners_webhook),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM webhook_endpoints WHERE previous_secret IS NOT NULL AND id = '{}'", f.owners_webhook)),
        ),
        row(
            "act_on_webhook",
            Rule::AccountAdmins,
            |f| format!("id={}&action=send_test", f.owners_webhook),
            200,
            Some(|_| "SELECT COUNT(*) FROM webhook_events WHERE event_type = 'webhook.test'".into()),
        ),
        row(
            "act_on_webhook",
            Rule::AccountAdmins,
            |f| format!("id={}&action=retry_delivery", f.failed_webhook_delivery),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending' AND id = '{}'", f.failed_webhook_delivery)),
        ),
        row(
            "act_on_webhook",
            Rule::AccountAdmins,
            |f| format!("id={}&action=remove", f.spare_webhook),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM webhook_endpoints WHERE id = '{}'", f.spare_webhook)),
        ),
        reads("get_invitation_settings", Rule::AccountAdmins, |_| String::new()),
        row("save_invitation_settings", Rule::AccountAdmins, |_| "expiry_days=14".into(), 200, Some(|_| "SELECT invitation_expiry_days FROM accounts".into())),
        reads("get_sender_settings", Rule::AccountAdmins, |_| String::new()),
        reads("get_dkim_settings", Rule::AccountAdmins, |_| String::new()),
        row("rotate_dkim_key", Rule::AccountAdmins, |_| String::new(), 200, Some(|_| "SELECT COUNT(*) FROM dkim_keys".into())),
        row("remove_dkim_key", Rule::AccountAdmins, |_| "selector=old-key".into(), 200, Some(|_| "SELECT COUNT(*) FROM dkim_keys".into())),
        row(
            "save_sender_settings",
            Rule::AccountAdmins,
            |_| "sender_name=Acme+Clinic&sender_address=&reply_to=".into(),
            200,
            Some(|_| "SELECT COUNT(*) FROM accounts WHERE sender_name = 'Acme Clinic'".into()),
        ),
        row(
            "send_test_email",
            Rule::AccountAdmins,
            |_| "to=it%40example.com".into(),
            200,
            Some(|_| "SELECT COUNT(*) FROM outbox WHERE kind = 'test_email'".into()),
        ),
        reads("list_deliveries", Rule::AccountAdmins, |_| "query=".into()),
        reads("get_delivery", Rule::AccountAdmins, |f| format!("id={}", f.message)),
        row(
            "retry_delivery",
            Rule::AccountAdmins,
            |f| format!("id={}", f.failed_message),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM outbox WHERE state = 'queued' AND id = '{}'", f.failed_message)),
        ),
        row(
            "create_scope",
            Rule::AccountAdmins,
            |f| format!("kind=meeting_room&name=Room+9&parent_id={}", f.south),
            200,
            Some(|_| "SELECT COUNT(*) FROM scopes WHERE name = 'Room 9'".into()),
        ),
        row(
            "rename_scope",
            Rule::AccountAdmins,
            |f| format!("scope_id={}&name=South+wing", f.south),
            200,
            Some(|_| "SELECT COUNT(*) FROM scopes WHERE name = 'South wing'".into()),
        ),
        row(
            "archive_scope",
            Rule::AccountAdmins,
            |f| format!("scope_id={}", f.spare),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM scopes WHERE archived_at IS NOT NULL AND id = '{}'", f.spare)),
        ),
        row(
            "restore_scope",
            Rule::AccountAdmins,
            |f| format!("scope_id={}", f.archived),
            200,
            Some(|f| format!("SELECT COUNT(*) FROM scopes WHERE archived_at IS NULL AND id = '{}'", f.archived)),
        ),
        reads("list_custom_roles", Rule::AccountAdmins, |_| String::new()),
        row("create_custom_role", Rule::AccountAdmins, |_| "name=Receptionist".into(), 200, Some(|_| "SELECT COUNT(*) FROM custom_roles".into())),
        row(
            "rename_custom_role",
            Rule::AccountAdmins,
            |f| format!("role_id={}&name=Physician", f.custom_role),
            200,
            Some(|_| "SELECT COUNT(*) FROM custom_roles WHERE name = 'Physician'".into()),
        ),
        row("remove_custom_role", Rule::AccountAdmins, |f| format!("role_id={}", f.custom_role), 200, Some(|_| "SELECT COUNT(*) FROM custom_roles".into())),
        // Signing out ends the session the rows above used: last.
        reads("sign_out", Rule::Public, |_| String::new()),
    ]
}

/// The answer of a query with a single number (counts, versions, flags).
async fn number(f: &Fixture, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&f.app.state.db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn every_server_function_refuses_everyone_it_must_and_changes_nothing_when_it_does() {
    let rows = rows();
    // Every server function the router serves is in the matrix.
    let served: BTreeSet<String> = server_fn::axum::server_fn_paths().map(|(path, _)| path.trim_start_matches("/api/").to_string()).collect();
    let listed: BTreeSet<String> = rows.iter().map(|r| r.name.to_string()).collect();
    assert_eq!(served.difference(&listed).collect::<Vec<_>>(), Vec::<&String>::new(), "server functions missing from the matrix");
    assert_eq!(listed.difference(&served).collect::<Vec<_>>(), Vec::<&String>::new(), "matrix rows for functions that do not exist");

    for kind in KINDS {
        let f = fixture(kind).await;
        for row in &rows {
            let path = format!("/api/{}", row.name);
            let form = (row.form)(&f);
            let before = dump_database(&f.app.state).await;
            let changes = row.changes.map(|query| query(&f));
            let was = match &changes {
                Some(sql) => Some(number(&f, sql).await),
                None => None,
            };
            let response = f.app.call(&path, &form, Some(ORIGIN), f.cookie.as_deref()).await;
            let status = response.status();
            let body = body_text(response).await;
            let what = format!("{} ({form}) by {kind:?}: {status} {body}", row.name);
            if allowed(row.rule, kind) {
                assert_eq!(status.as_u16(), row.ok, "allowed: {what}");
                if let (Some(sql), Some(was)) = (&changes, was) {
                    assert_ne!(number(&f, sql).await, was, "an allowed call did its work ({sql}): {what}");
                }
            } else {
                let expected = if kind == Kind::Anonymous { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
                assert_eq!(status, expected, "refused with a permission error: {what}");
                assert_eq!(dump_database(&f.app.state).await, before, "a refused call changed nothing: {what}");
            }
        }
    }
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
    assert_eq!(invite.status(), StatusCode::OK);
    let outcome: shared::views::InviteOutcome = serde_json::from_str(&body_text(invite).await).unwrap();
    assert_eq!(outcome.invited, vec!["new-person@example.com".to_string()], "{outcome:?}");
    let offered = number(&f, &format!("SELECT COUNT(*) FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id JOIN users u ON u.id = i.user_id WHERE u.email = 'new-person@example.com' AND r.scope_id = '{}' AND r.role = 'admin'", f.north_waiting)).await;
    assert_eq!(offered, 1, "invited as Admin of their waiting area");
    let cancel = f.app.call("/api/act_on_invitation", &format!("user_id={}&action=cancel", f.target("cancel")), Some(ORIGIN), f.cookie.as_deref()).await;
    assert_eq!(cancel.status(), StatusCode::OK);
    assert_eq!(number(&f, &format!("SELECT COUNT(*) FROM invitations WHERE state = 'cancelled' AND user_id = '{}'", f.target("cancel"))).await, 1, "cancelled");
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
