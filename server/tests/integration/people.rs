//! People administration: roles taken away and given, deactivation, a temporary password, a
//! corrected address. Each checks what the action did in the database and what it refuses,
//! through the services and, where a session matters, through the router.

use crate::common;

use app::services::invitations::service::{self, InviteRequest};
use app::services::people;
use axum::http::{header, StatusCode};
use common::*;
use shared::people::{PersonAction, LAST_OWNER};
use shared::permissions::Denied;
use shared::views::InvitationPage;
use shared::{AppError, Role};

fn invite(app: &TestApp, email: &str, roles: &[Role]) -> InviteRequest {
    InviteRequest { addresses: email.into(), grants: app.account_grants(roles), message: None, send_despite_typos: false }
}

async fn scalar(app: &TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sql).bind(id).fetch_one(&app.state.db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn status_of(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM users WHERE id = $1").bind(id).fetch_one(&app.state.db.pool).await.unwrap()
}

/// The current link of the person's invitation, as "Copy link" gives it.
async fn link_for(app: &TestApp, email: &str) -> String {
    let owner = app.owner().await;
    let url = service::copy_link(&app.state, &owner, &user_id_of(&app.state, email).await).await.unwrap();
    url.split("/invite/").nth(1).unwrap().to_string()
}

async fn list_users_status(app: &TestApp, cookie: &str) -> StatusCode {
    app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(cookie)).await.status()
}

#[tokio::test]
async fn a_removed_role_stops_working_at_the_next_request() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let cookie = app.sign_in("hr@example.com").await;
    assert_eq!(list_users_status(&app, &cookie).await, StatusCode::OK, "HR sees the Users page");
    let banner = people::remove_roles(&app.state, &owner, &hr, app.account_grants(&[Role::Hr])).await.unwrap();
    assert!(banner.contains("1 role removed"), "{banner}");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM memberships WHERE user_id = $1", &hr).await, 0);
    assert_eq!(list_users_status(&app, &cookie).await, StatusCode::FORBIDDEN, "the same session, the next request");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'user.roles_removed' AND target_id = $1", &hr).await, 1);
    // A role they do not hold is not "removed".
    let refused = people::remove_roles(&app.state, &owner, &hr, app.account_grants(&[Role::Admin])).await.unwrap_err();
    assert!(matches!(refused, AppError::InvalidState(_)), "no role left to remove: {refused:?}");
}

#[tokio::test]
async fn a_deactivated_person_is_signed_out_their_invitation_cancelled_and_reactivation_sends_nothing() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let ada = app.add_active_user("ada@example.com", "hr").await;
    let cookie = app.sign_in("ada@example.com").await;
    // Invited into a further role meanwhile: that invitation goes with the deactivation.
    service::invite(&app.state, &owner, invite(&app, "ada@example.com", &[Role::Admin])).await.unwrap();
    let outbox_before = scalar(&app, "SELECT COUNT(*) FROM outbox WHERE recipient <> $1", "").await;
    let banner = people::act(&app.state, &owner, &ada, PersonAction::Deactivate).await.unwrap();
    assert!(banner.contains("pending invitation is cancelled"), "{banner}");
    assert_eq!(status_of(&app, &ada).await, "deactivated");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM invitations WHERE state = 'pending' AND user_id = $1", &ada).await, 0);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM memberships WHERE user_id = $1", &ada).await, 1, "roles kept for the record");
    assert_eq!(list_users_status(&app, &cookie).await, StatusCode::UNAUTHORIZED, "their open session is refused");
    let signing_in = app.call(sign_in_path(), &format!("email=ada%40example.com&password={}&next=%2F", PASSWORD.replace(' ', "+")), Some(ORIGIN), None).await;
    assert_eq!(signing_in.status(), StatusCode::UNPROCESSABLE_ENTITY, "and they cannot sign in");
    // Deactivated: the menu's only action is Reactivate; the others are refused with why.
    let again = people::act(&app.state, &owner, &ada, PersonAction::Deactivate).await.unwrap_err();
    assert_eq!(again, AppError::InvalidState("This person is deactivated. Reactivate them first.".into()));

    people::act(&app.state, &owner, &ada, PersonAction::Reactivate).await.unwrap();
    assert_eq!(status_of(&app, &ada).await, "active");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox WHERE recipient <> $1", "").await, outbox_before, "reactivating sends nothing");
    assert_eq!(list_users_status(&app, &cookie).await, StatusCode::UNAUTHORIZED, "the old session stays ended");
    let cookie = app.sign_in("ada@example.com").await;
    assert_eq!(list_users_status(&app, &cookie).await, StatusCode::OK, "back with the role they held");
    for action in ["user.deactivated", "user.reactivated"] {
        assert_eq!(scalar(&app, &format!("SELECT COUNT(*) FROM audit_events WHERE action = '{action}' AND target_id = $1"), &ada).await, 1, "{action}");
    }
}

#[tokio::test]
async fn nobody_acts_on_someone_ranked_above_them_and_a_refusal_changes_nothing() {
    let app = TestApp::with_owner().await;
    let admin = app.add_active_user("admin@example.com", "admin").await;
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let hr_actor = app.actor_for(&hr).await;
    let before = dump_database(&app.state).await;
    assert_eq!(
        people::act(&app.state, &hr_actor, &admin, PersonAction::Deactivate).await,
        Err(AppError::Forbidden(Denied::AboveYourRole { role: Role::Admin }))
    );
    assert_eq!(
        people::remove_roles(&app.state, &hr_actor, &admin, app.account_grants(&[Role::Admin])).await,
        Err(AppError::Forbidden(Denied::AboveYourRole { role: Role::Admin }))
    );
    assert_eq!(
        people::add_roles(&app.state, &hr_actor, &hr, app.account_grants(&[Role::Admin])).await,
        Err(AppError::Forbidden(Denied::AboveYourRole { role: Role::Admin })),
        "nor gives a role above their own, to themselves or anyone"
    );
    assert_eq!(people::act(&app.state, &hr_actor, &hr, PersonAction::Deactivate).await, Err(AppError::InvalidState("You cannot do that to yourself.".into())));
    assert_eq!(dump_database(&app.state).await, before);
}

#[tokio::test]
async fn the_last_active_owner_stays() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let second = app.add_active_user("second@example.com", "owner").await;
    let second_actor = app.actor_for(&second).await;
    // Two owners: one may deactivate the other.
    people::act(&app.state, &owner, &second, PersonAction::Deactivate).await.unwrap();
    // The other, as it stood before (what a simultaneous request of theirs holds), may no
    // longer take away the last active Owner, by deactivation or by removing the role.
    let before = dump_database(&app.state).await;
    assert_eq!(people::act(&app.state, &second_actor, &owner.user_id, PersonAction::Deactivate).await, Err(AppError::InvalidState(LAST_OWNER.into())));
    assert_eq!(
        people::remove_roles(&app.state, &second_actor, &owner.user_id, app.account_grants(&[Role::Owner])).await,
        Err(AppError::InvalidState(LAST_OWNER.into()))
    );
    assert_eq!(dump_database(&app.state).await, before);
    // With a second active Owner again, the role can go.
    people::act(&app.state, &owner, &second, PersonAction::Reactivate).await.unwrap();
    people::remove_roles(&app.state, &second_actor, &owner.user_id, app.account_grants(&[Role::Owner])).await.unwrap();
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM memberships WHERE role = 'owner' AND user_id = $1", &owner.user_id).await, 0);
}

#[tokio::test]
async fn roles_given_to_an_active_person_are_theirs_at_once_and_they_are_told() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let ada = app.add_active_user("ada@example.com", "member").await;
    let banner = people::add_roles(&app.state, &owner, &ada, app.account_grants(&[Role::Hr])).await.unwrap();
    assert!(banner.contains("was told by email"), "{banner}");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM memberships WHERE role = 'hr' AND user_id = $1", &ada).await, 1);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'roles_granted' AND recipient = $1", "ada@example.com").await, 1);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'user.roles_granted' AND target_id = $1", &ada).await, 1);
    // Only an active person gets roles at once; an invited one is invited into them.
    service::invite(&app.state, &owner, invite(&app, "grace@example.com", &[Role::Member])).await.unwrap();
    let grace = user_id_of(&app.state, "grace@example.com").await;
    let refused = people::add_roles(&app.state, &owner, &grace, app.account_grants(&[Role::Hr])).await.unwrap_err();
    assert!(matches!(refused, AppError::InvalidState(ref why) if why.contains("invite them")), "{refused:?}");
}

#[tokio::test]
async fn a_temporary_password_activates_with_the_offered_roles_kills_the_link_and_must_be_changed_first() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    service::invite(&app.state, &owner, invite(&app, "ada@example.com", &[Role::Hr])).await.unwrap();
    let ada = user_id_of(&app.state, "ada@example.com").await;
    let link = link_for(&app, "ada@example.com").await;
    let mail_before = scalar(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = $1", "ada@example.com").await;
    let weak = people::set_password(&app.state, &owner, &ada, "short".into(), "short".into()).await.unwrap_err();
    assert!(matches!(weak, AppError::Validation(_)), "the strength rule: {weak:?}");
    people::set_password(&app.state, &owner, &ada, PASSWORD.into(), PASSWORD.into()).await.unwrap();
    assert_eq!(status_of(&app, &ada).await, "active");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM memberships WHERE role = 'hr' AND user_id = $1", &ada).await, 1, "the offered role");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = $1", "ada@example.com").await, mail_before, "never emailed");
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'user.password_set'").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(!details.contains("horse"), "the password is not in the audit trail: {details}");
    let page = app::services::invitations::accept::open(&app.state, &link, None, None).await.unwrap();
    assert_eq!(page, InvitationPage::AlreadyAccepted, "the old link is done");
    // Once set, it is not set again: that would take the account over.
    let again = people::set_password(&app.state, &owner, &ada, PASSWORD.into(), PASSWORD.into()).await.unwrap_err();
    assert!(matches!(again, AppError::InvalidState(ref why) if why.contains("password reset link")), "{again:?}");

    // Signing in lands on choosing a password, and nothing else answers until then.
    let signing_in =
        app.call(sign_in_path(), &format!("email=ada%40example.com&password={}&next=%2Fusers", PASSWORD.replace(' ', "+")), Some(ORIGIN), None).await;
    assert!(signing_in.status().is_success() || signing_in.status().is_redirection());
    let location = signing_in.headers().get(header::LOCATION).or_else(|| signing_in.headers().get("serverfnredirect")).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(location.as_deref(), Some("/choose-password"));
    let cookie = session_cookie(&signing_in).unwrap();
    let refused = app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(body_text(refused).await.contains("PasswordChangeRequired"));
    let page = app.get("/users", Some(&cookie)).await;
    assert_eq!((page.status(), page.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::FOUND, "/choose-password"));
    // Keeping the temporary password (which the admin knows) is not choosing one.
    let same = format!("current_password={0}&new_password={0}&new_password_confirmation={0}", PASSWORD.replace(' ', "+"));
    let kept = app.call(<app::server_fns::ChangePassword as server_fn::ServerFn>::PATH, &same, Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(kept.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(kept).await.contains(shared::messages::NEW_PASSWORD_UNCHANGED));
    assert_eq!(scalar(&app, "SELECT must_change_password FROM users WHERE id = $1", &ada).await, 1);
    let chosen = "my very own passphrase";
    let form = format!(
        "current_password={}&new_password={}&new_password_confirmation={}",
        PASSWORD.replace(' ', "+"),
        chosen.replace(' ', "+"),
        chosen.replace(' ', "+")
    );
    let change = app.call(<app::server_fns::ChangePassword as server_fn::ServerFn>::PATH, &form, Some(ORIGIN), Some(&cookie)).await;
    assert!(change.status().is_success() || change.status().is_redirection(), "{}", change.status());
    assert_eq!(scalar(&app, "SELECT must_change_password FROM users WHERE id = $1", &ada).await, 0);
    let signing_in = app.call(sign_in_path(), &format!("email=ada%40example.com&password={}&next=%2F", chosen.replace(' ', "+")), Some(ORIGIN), None).await;
    let cookie = session_cookie(&signing_in).unwrap();
    assert_eq!(list_users_status(&app, &cookie).await, StatusCode::OK, "HR, with their own password");
}

#[tokio::test]
async fn a_corrected_address_gets_the_invitation_and_the_old_link_dies() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    service::invite(&app.state, &owner, invite(&app, "ada@exmaple.com", &[Role::Member])).await.unwrap();
    let ada = user_id_of(&app.state, "ada@exmaple.com").await;
    let old = link_for(&app, "ada@exmaple.com").await;
    app.add_active_user("taken@example.com", "member").await;
    let before = dump_database(&app.state).await;
    assert_eq!(
        people::correct_address(&app.state, &owner, &ada, "taken@example.com").await,
        Err(AppError::Validation("taken@example.com already belongs to someone in this account.".into()))
    );
    assert!(matches!(people::correct_address(&app.state, &owner, &ada, "not an address").await, Err(AppError::Validation(_))));
    assert_eq!(dump_database(&app.state).await, before, "a refusal changes nothing");

    let banner = people::correct_address(&app.state, &owner, &ada, "ada@example.com").await.unwrap();
    assert!(banner.contains("now goes to ada@example.com"), "{banner}");
    assert_eq!(user_id_of(&app.state, "ada@example.com").await, ada, "the same person, their history kept");
    assert_eq!(app::services::invitations::accept::open(&app.state, &old, None, None).await.unwrap(), InvitationPage::NoLongerValid);
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'invitation' AND recipient = $1", "ada@example.com").await, 1, "sent to the new address");
    let new = link_for(&app, "ada@example.com").await;
    assert!(matches!(app::services::invitations::accept::open(&app.state, &new, None, None).await.unwrap(), InvitationPage::Open(_)));
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'invitation.address_corrected'").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(details.contains("ada@exmaple.com") && details.contains("ada@example.com"), "{details}");
}

#[tokio::test]
async fn a_deleted_person_is_erased_signed_out_and_remembered_in_the_trail_as_deleted() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let cookie = app.sign_in("hr@example.com").await;
    // What they did stays: an invitation they sent, and its message.
    service::invite(&app.state, &app.actor_for(&hr).await, invite(&app, "newcomer@example.com", &[Role::Member])).await.unwrap();
    // What was about them goes: a reset link to their address.
    app::services::password_reset::request(&app.state, "hr@example.com", None).await.unwrap();
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = $1", "hr@example.com").await, 1);

    // HR may not delete anyone, nobody deletes themselves.
    let hr_actor = app.actor_for(&hr).await;
    let newcomer = user_id_of(&app.state, "newcomer@example.com").await;
    assert_eq!(people::delete(&app.state, &hr_actor, &newcomer).await.unwrap_err(), AppError::Forbidden(Denied::NotPermitted));
    assert!(matches!(people::delete(&app.state, &owner, &owner.user_id).await.unwrap_err(), AppError::InvalidState(_)));

    let messages_before = scalar(&app, "SELECT COUNT(*) FROM outbox WHERE account_id = $1", &owner.account_id).await;
    let banner = people::delete(&app.state, &owner, &hr).await.unwrap();
    assert!(banner.contains("is deleted"), "{banner}");
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM users WHERE id = $1 OR email = 'hr@example.com'", &hr).await, 0);
    for sql in [
        "SELECT COUNT(*) FROM memberships WHERE user_id = $1",
        "SELECT COUNT(*) FROM password_resets WHERE user_id = $1",
        "SELECT COUNT(*) FROM invitations WHERE invited_by = $1",
        "SELECT COUNT(*) FROM audit_events WHERE subject_user_id = $1 AND details LIKE '%hr@example.com%'",
    ] {
        assert_eq!(scalar(&app, sql, &hr).await, 0, "{sql}");
    }
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = $1", "hr@example.com").await, 0, "no message to their address is kept");
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM outbox WHERE account_id = $1", &owner.account_id).await,
        messages_before,
        "the messages stay counted (deleting someone gives no sending budget back), blanked"
    );
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox WHERE state = 'queued' AND recipient = $1", "").await, 0, "a blanked message is never sent");
    for sql in [
        "SELECT COUNT(*) FROM audit_events WHERE details LIKE '%' || $1 || '%'",
        "SELECT COUNT(*) FROM rate_limits WHERE key LIKE '%' || $1 || '%'",
        "SELECT COUNT(*) FROM outbox WHERE text_body LIKE '%' || $1 || '%' OR html_body LIKE '%' || $1 || '%'",
    ] {
        assert_eq!(scalar(&app, sql, "hr@example.com").await, 0, "{sql}");
    }
    assert_eq!(scalar(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = $1", "newcomer@example.com").await, 1, "the invitation they sent stays");
    assert_eq!(status_of(&app, &newcomer).await, "invited");
    assert_eq!(list_users_status(&app, &cookie).await, StatusCode::UNAUTHORIZED, "their open session ends");

    // The trail: the deletion by the owner, about "a deleted person", with the roles they had;
    // the invitation they sent is now the doing of a deleted person.
    let log = app::services::audit_log::page(&app.state, &owner, &shared::audit::AuditQuery::default()).await.unwrap();
    let deleted = log.rows.iter().find(|r| r.action == Some(shared::audit::AuditAction::UserDeleted)).expect("the deletion is audited");
    assert_eq!(deleted.person, Some(shared::audit::AuditPerson::Deleted));
    assert_eq!(deleted.details_text(), "Roles: HR in Acme");
    let sent = log.rows.iter().find(|r| r.action == Some(shared::audit::AuditAction::InvitationCreated)).unwrap();
    assert_eq!(sent.actor, shared::audit::AuditPerson::Deleted);
    assert!(log.rows.iter().all(|r| !r.details_text().contains("hr@example.com")), "their address is nowhere in the log");
}

/// Signs in as `email` from a browser announcing `user_agent`; returns the session cookie.
async fn sign_in_from(app: &TestApp, email: &str, user_agent: &str) -> String {
    sign_in_again(app, email, user_agent, None).await
}

/// [`sign_in_from`] on the session `cookie` names, if any.
async fn sign_in_again(app: &TestApp, email: &str, user_agent: &str, cookie: Option<&str>) -> String {
    let form = format!("email={}&password={}&next=%2F", shared::url::encode_component(email), PASSWORD.replace(' ', "+"));
    let mut request = axum::http::Request::post(sign_in_path());
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let request = request
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::ORIGIN, ORIGIN)
        .header(header::USER_AGENT, user_agent)
        .body(axum::body::Body::from(form))
        .unwrap();
    session_cookie(&app.send(request).await).expect("a session cookie")
}

#[tokio::test]
async fn a_persons_page_lists_where_they_are_signed_in_until_they_sign_out_or_are_signed_out_everywhere() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let firefox = sign_in_from(&app, "hr@example.com", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0").await;
    app.clock.advance(chrono::Duration::minutes(5));
    let phone = sign_in_from(
        &app,
        "hr@example.com",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    )
    .await;
    let devices = |detail: shared::views::UserDetail| detail.sign_ins.into_iter().map(|s| s.device).collect::<Vec<_>>();
    let detail = app::services::users::detail(&app.state, &owner, &hr).await.unwrap();
    assert_eq!(devices(detail), ["Safari on iPhone", "Firefox on Linux"], "newest seen first");

    // Signing in again in the same browser replaces its sign-in instead of adding one.
    let firefox_ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    app.clock.advance(chrono::Duration::minutes(1));
    let firefox = sign_in_again(&app, "hr@example.com", firefox_ua, Some(&firefox)).await;
    let detail = app::services::users::detail(&app.state, &owner, &hr).await.unwrap();
    assert_eq!(devices(detail), ["Firefox on Linux", "Safari on iPhone"]);

    // Using one moves its "last seen" (once a minute at most).
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(list_users_status(&app, &firefox).await, StatusCode::OK);
    let detail = app::services::users::detail(&app.state, &owner, &hr).await.unwrap();
    assert_eq!(detail.sign_ins[0].device, "Firefox on Linux");
    assert_eq!(detail.sign_ins[0].last_seen_at_ms, app.clock_ms());

    // Signing out ends that one only.
    let sign_out = <app::server_fns::SignOut as server_fn::ServerFn>::PATH;
    assert!(app.call(sign_out, "", Some(ORIGIN), Some(&phone)).await.status().is_success());
    assert_eq!(devices(app::services::users::detail(&app.state, &owner, &hr).await.unwrap()), ["Firefox on Linux"]);

    // "Sign out everywhere" ends the rest, and the list says so.
    people::act(&app.state, &owner, &hr, PersonAction::SignOutEverywhere).await.unwrap();
    assert_eq!(list_users_status(&app, &firefox).await, StatusCode::UNAUTHORIZED);
    assert!(app::services::users::detail(&app.state, &owner, &hr).await.unwrap().sign_ins.is_empty());

    // HR may sign a Curator out, so sees where they are; where an Owner is signed in is not
    // HR's to see.
    let curator = app.add_active_user("curator@example.com", "curator").await;
    let hr_actor = app.actor_for(&hr).await;
    sign_in_from(&app, "curator@example.com", "curl/8.0").await;
    assert_eq!(devices(app::services::users::detail(&app.state, &hr_actor, &curator).await.unwrap()), ["Unknown device"]);
    assert!(!app::services::users::detail(&app.state, &owner, &owner.user_id).await.unwrap().sign_ins.is_empty(), "the owner is signed in");
    assert!(app::services::users::detail(&app.state, &hr_actor, &owner.user_id).await.unwrap().sign_ins.is_empty());
}
