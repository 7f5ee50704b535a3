//! "Forgot your password?": the link by email, through the services and the router.

use crate::common;

use app::services::auth::verify_credentials;
use app::services::invitations::link;
use app::services::password_reset::{self, requested_answer};
use common::*;
use shared::views::ResetPage;
use shared::{messages, AppError, Email};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// The reset links queued for `email`, newest last, as the worker would send them.
async fn links_for(app: &TestApp, email: &str) -> Vec<String> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT r.id, r.auth_version FROM password_resets r JOIN outbox o ON o.password_reset_id = r.id WHERE o.recipient = $1 ORDER BY r.created_at, o.created_at",
    )
    .bind(email)
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    rows.into_iter().map(|(id, version)| link::reset_url(&app.state.public_url, &id, &app.state.link_key.reset_token(&id, version))).collect()
}

fn segment(link: &str) -> &str {
    link.rsplit('/').next().unwrap()
}

async fn outbox_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&app.state.db.pool).await.unwrap()
}

#[tokio::test]
async fn the_answer_is_the_same_whether_or_not_the_address_has_an_account_and_only_an_active_person_gets_a_link() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    // Someone invited but not yet active has no password to reset.
    let request = app::services::invitations::service::InviteRequest {
        addresses: "invited@example.com".into(),
        grants: app.account_grants(&[shared::Role::Member]),
        message: None,
        send_despite_typos: true,
    };
    app::services::invitations::service::invite(&app.state, &owner, request).await.unwrap();
    let before = outbox_count(&app).await;
    for email in ["nobody@example.com", "invited@example.com"] {
        let answer = password_reset::request(&app.state, email, None).await.unwrap();
        assert_eq!(answer, requested_answer(&Email::parse(email).unwrap()));
    }
    assert_eq!(outbox_count(&app).await, before, "nothing was queued for them");
    let answer = password_reset::request(&app.state, " Owner@Example.com ", None).await.unwrap();
    assert_eq!(answer, requested_answer(&Email::parse(OWNER_EMAIL).unwrap()), "the same words");
    assert_eq!(links_for(&app, OWNER_EMAIL).await.len(), 1);
    let kind: String = sqlx::query_scalar("SELECT kind FROM outbox WHERE recipient = $1").bind(OWNER_EMAIL).fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(kind, "password_reset");
}

#[tokio::test]
async fn a_link_sets_the_password_once_ends_every_session_and_signs_the_person_in() {
    let app = TestApp::with_owner().await;
    let old_session = app.sign_in(OWNER_EMAIL).await;
    password_reset::request(&app.state, OWNER_EMAIL, None).await.unwrap();
    let link = links_for(&app, OWNER_EMAIL).await.pop().unwrap();
    // No usable token in the database: the outbox holds a placeholder.
    let token = link.rsplit('.').next().unwrap();
    assert!(common::dump_database(&app.state).await.iter().all(|row| !row.contains(token)), "no token stored");

    // Opening the link (a mail scanner, the person) changes nothing.
    let before = common::dump_database(&app.state).await;
    assert_eq!(password_reset::open(&app.state, segment(&link)).await.unwrap(), ResetPage::Open { email: OWNER_EMAIL.into(), account_name: "Acme".into() });
    assert_eq!(app.get(&format!("/reset/{}", segment(&link)), None).await.status(), 200);
    assert_eq!(common::dump_database(&app.state).await, before, "a view writes nothing");

    let weak = password_reset::complete(&app.state, segment(&link), "short".into(), "short".into(), None).await.unwrap_err();
    assert!(matches!(weak, AppError::Validation(_)), "{weak:?}");
    let credentials = password_reset::complete(&app.state, segment(&link), NEW_PASSWORD.into(), NEW_PASSWORD.into(), None).await.unwrap();
    assert_eq!(credentials.auth_version, 1);
    verify_credentials(&app.state, OWNER_EMAIL, NEW_PASSWORD.into(), None).await.unwrap();
    assert!(verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), None).await.is_err(), "the old password is gone");
    assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&old_session)).await.status(), 401, "the old session ended");
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'user.password_reset'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(audited, 1);

    // Single use.
    let again = password_reset::complete(&app.state, segment(&link), "another fine passphrase".into(), "another fine passphrase".into(), None).await;
    assert_eq!(again.unwrap_err(), AppError::InvalidState(messages::RESET_LINK_USED.into()));
    assert_eq!(password_reset::open(&app.state, segment(&link)).await.unwrap(), ResetPage::NoLongerValid);
}

#[tokio::test]
async fn a_link_dies_after_30_minutes_and_when_the_password_changes_otherwise_and_a_forged_one_shows_nothing() {
    let app = TestApp::with_owner().await;
    password_reset::request(&app.state, OWNER_EMAIL, None).await.unwrap();
    password_reset::request(&app.state, OWNER_EMAIL, None).await.unwrap();
    let links = links_for(&app, OWNER_EMAIL).await;
    assert_eq!(links.len(), 2);
    // The second link is used: the first dies with the old password.
    password_reset::complete(&app.state, segment(&links[1]), NEW_PASSWORD.into(), NEW_PASSWORD.into(), None).await.unwrap();
    assert_eq!(password_reset::open(&app.state, segment(&links[0])).await.unwrap(), ResetPage::NoLongerValid);

    password_reset::request(&app.state, OWNER_EMAIL, None).await.unwrap();
    let fresh = links_for(&app, OWNER_EMAIL).await.pop().unwrap();
    app.clock.advance(chrono::Duration::minutes(29));
    assert!(matches!(password_reset::open(&app.state, segment(&fresh)).await.unwrap(), ResetPage::Open { .. }));
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(password_reset::open(&app.state, segment(&fresh)).await.unwrap(), ResetPage::Expired);
    let late = password_reset::complete(&app.state, segment(&fresh), "yet another passphrase".into(), "yet another passphrase".into(), None).await;
    assert_eq!(late.unwrap_err(), AppError::InvalidState(messages::RESET_LINK_EXPIRED.into()));

    // An altered token, or an invitation's token for the same id, is not a reset link.
    let (id, token) = segment(&fresh).split_once('.').unwrap();
    let altered = format!("{id}.{}", token.chars().rev().collect::<String>());
    assert_eq!(password_reset::open(&app.state, &altered).await.unwrap(), ResetPage::NotValid);
    let invitation_token = format!("{id}.{}", app.state.link_key.token(id, 0));
    assert_eq!(password_reset::open(&app.state, &invitation_token).await.unwrap(), ResetPage::NotValid);
}

#[tokio::test]
async fn a_reset_is_the_way_back_in_when_the_sign_in_limit_is_reached() {
    let app = TestApp::with_owner().await;
    let owner_address = Some("198.51.100.9".parse().unwrap());
    for _ in 0..10 {
        let _ = verify_credentials(&app.state, OWNER_EMAIL, "wrong password!".into(), owner_address).await;
    }
    assert!(matches!(verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), owner_address).await, Err(AppError::RateLimited { .. })));
    password_reset::request(&app.state, OWNER_EMAIL, owner_address).await.unwrap();
    let link = links_for(&app, OWNER_EMAIL).await.pop().unwrap();
    password_reset::complete(&app.state, segment(&link), NEW_PASSWORD.into(), NEW_PASSWORD.into(), owner_address).await.unwrap();
    // The failures counted for the address are forgotten with the old password.
    verify_credentials(&app.state, OWNER_EMAIL, NEW_PASSWORD.into(), owner_address).await.unwrap();
}

#[tokio::test]
async fn requests_are_throttled_per_client_openly_and_per_address_silently() {
    let app = TestApp::with_owner().await;
    let client = Some("203.0.113.40".parse().unwrap());
    for n in 0..3 {
        password_reset::request(&app.state, OWNER_EMAIL, Some(std::net::IpAddr::from([198, 51, 100, n]))).await.unwrap();
    }
    // A fourth request for the address: the same answer, no fourth email.
    let answer = password_reset::request(&app.state, OWNER_EMAIL, Some("198.51.100.200".parse().unwrap())).await.unwrap();
    assert_eq!(answer, requested_answer(&Email::parse(OWNER_EMAIL).unwrap()));
    assert_eq!(links_for(&app, OWNER_EMAIL).await.len(), 3);
    // One client asking for many addresses is told to wait past its limit.
    for n in 0..10 {
        password_reset::request(&app.state, &format!("someone{n}@example.com"), client).await.unwrap();
    }
    let refused = password_reset::request(&app.state, "someone.else@example.com", client).await.unwrap_err();
    assert!(matches!(refused, AppError::RateLimited { .. }), "{refused:?}");
}

#[tokio::test]
async fn the_reset_works_through_the_router_and_signs_in() {
    let app = TestApp::with_owner().await;
    let requested = app.call("/api/request_password_reset", &format!("email={}", shared::url::encode_component(OWNER_EMAIL)), Some(ORIGIN), None).await;
    assert_eq!(requested.status(), 200);
    let link = links_for(&app, OWNER_EMAIL).await.pop().unwrap();
    let form = format!("link={}&password=a+brand+new+passphrase&password_confirmation=a+brand+new+passphrase", segment(&link));
    let done = app.call("/api/reset_password", &form, Some(ORIGIN), None).await;
    assert!(done.status().is_success() || done.status().is_redirection(), "{}", done.status());
    let cookie = session_cookie(&done).expect("signed in");
    assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await.status(), 200);
    // A cross-site post to the reset is refused.
    let refused = app.call("/api/reset_password", &form, Some("https://evil.example"), None).await;
    assert_eq!(refused.status(), 403);
}
