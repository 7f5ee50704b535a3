//! The set-up and sign-in services against a real SQLite file.

mod common;

use app::server::accounts::{create_owner, setup_open, OwnerSetup};
use app::server::auth::{verify_credentials, WRONG_CREDENTIALS};
use common::*;
use shared::AppError;

#[tokio::test]
async fn setup_creates_the_account_and_an_active_owner() {
    let app = spawn_app().await;
    assert!(setup_open(&app.state).await.unwrap());
    let owner = create_owner(&app.state, owner_setup()).await.unwrap();
    assert!(!setup_open(&app.state).await.unwrap());

    let (status, name, roles): (String, String, String) = sqlx::query_as(
        "SELECT u.status, u.name, m.role FROM users u JOIN memberships m ON m.user_id = u.id WHERE u.id = $1",
    )
    .bind(&owner.user_id)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), name.as_str(), roles.as_str()), ("active", "Olive Owner", "owner"));
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'account.created'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn setup_refuses_a_second_owner() {
    let app = TestApp::with_owner().await;
    let second = OwnerSetup { email: "intruder@example.com".into(), ..owner_setup() };
    let refused = create_owner(&app.state, second).await.unwrap_err();
    assert!(matches!(refused, AppError::InvalidState(_)));
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!((users, accounts), (1, 1));
}

#[tokio::test]
async fn two_simultaneous_setups_create_exactly_one_owner() {
    let app = spawn_app().await;
    let first = create_owner(&app.state, owner_setup());
    let second = create_owner(&app.state, OwnerSetup { email: "other@example.com".into(), ..owner_setup() });
    let (a, b) = tokio::join!(first, second);
    assert_eq!(a.is_ok() as u8 + b.is_ok() as u8, 1, "exactly one set-up wins: {a:?} {b:?}");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn password_hashes_are_not_plain_text() {
    let app = TestApp::with_owner().await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(!hash.contains(PASSWORD));
    assert!(hash.starts_with("$argon2id$"), "argon2id PHC string, got {hash}");
}

#[tokio::test]
async fn setup_rejects_invalid_input_without_writing() {
    let app = spawn_app().await;
    for (input, message) in [
        (OwnerSetup { email: "not-an-email".into(), ..owner_setup() }, "is not a valid email address"),
        (OwnerSetup { password_confirmation: "something else entirely".into(), ..owner_setup() }, "do not match"),
        (OwnerSetup { password: "short".into(), password_confirmation: "short".into(), ..owner_setup() }, "at least 10"),
        (OwnerSetup { account_name: "  ".into(), ..owner_setup() }, "account name"),
    ] {
        match create_owner(&app.state, input).await {
            Err(AppError::Validation(text)) => assert!(text.contains(message), "{text}"),
            other => panic!("expected a validation error about {message}, got {other:?}"),
        }
    }
    assert!(setup_open(&app.state).await.unwrap());
}

#[tokio::test]
async fn sign_in_accepts_the_right_password_with_any_email_case() {
    let app = TestApp::with_owner().await;
    let credentials = verify_credentials(&app.state, "  OWNER@Example.com ", PASSWORD.into(), None).await.unwrap();
    assert_eq!(credentials.auth_version, 0);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::with_owner().await;
    let wrong = verify_credentials(&app.state, OWNER_EMAIL, "nope nope nope".into(), None).await.unwrap_err();
    let unknown = verify_credentials(&app.state, "nobody@example.com", PASSWORD.into(), None).await.unwrap_err();
    assert_eq!(wrong, AppError::Validation(WRONG_CREDENTIALS.into()));
    assert_eq!(unknown, wrong);
}

#[tokio::test]
async fn the_eleventh_wrong_password_is_refused_even_when_right() {
    let app = TestApp::with_owner().await;
    for _ in 0..10 {
        let e = verify_credentials(&app.state, OWNER_EMAIL, "wrong password!".into(), None).await.unwrap_err();
        assert_eq!(e, AppError::Validation(WRONG_CREDENTIALS.into()));
    }
    let refused = verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), None).await.unwrap_err();
    assert!(matches!(refused, AppError::RateLimited { retry_after_secs } if retry_after_secs > 0 && retry_after_secs <= 15 * 60), "{refused:?}");
    assert!(refused.to_string().starts_with("Too many attempts, try again in 15 minutes"));

    // The window passes: the right password works again.
    app.clock.advance(chrono::Duration::minutes(16));
    verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), None).await.unwrap();
}

#[tokio::test]
async fn failures_from_one_address_are_limited_across_emails() {
    let app = TestApp::with_owner().await;
    let ip = Some("203.0.113.9".parse().unwrap());
    for i in 0..50 {
        let _ = verify_credentials(&app.state, &format!("guess{i}@example.com"), "whatever123".into(), ip).await;
    }
    let refused = verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), ip).await.unwrap_err();
    assert!(matches!(refused, AppError::RateLimited { .. }));
    // Another address is not affected.
    verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), Some("198.51.100.7".parse().unwrap())).await.unwrap();
}
