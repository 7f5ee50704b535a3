//! The set-up and sign-in services against a real SQLite file.

use crate::common;

use app::services::accounts::{create_owner, setup_open, OwnerSetup};
use app::services::auth::{verify_credentials, WRONG_CREDENTIALS};
use app::services::checkpoints::points;
use common::*;
use shared::AppError;

#[tokio::test]
async fn setup_creates_the_account_and_an_active_owner() {
    let app = spawn_app().await;
    assert!(setup_open(&app.state).await.unwrap());
    let owner = create_owner(&app.state, owner_setup()).await.unwrap();
    assert!(!setup_open(&app.state).await.unwrap());

    let (status, name, roles): (String, String, String) =
        sqlx::query_as("SELECT u.status, u.name, m.role FROM users u JOIN memberships m ON m.user_id = u.id WHERE u.id = $1")
            .bind(&owner.user_id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), name.as_str(), roles.as_str()), ("active", "Olive Owner", "owner"));
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'account.created'").fetch_one(&app.state.db.pool).await.unwrap();
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
async fn two_setups_that_both_found_none_create_exactly_one_owner() {
    let app = spawn_app().await;
    let gates = Gates::default();
    gates.close(points::SETUP_BEFORE_WRITE);
    let state = app.gated(&gates);
    let spawn = |setup: OwnerSetup| {
        let state = state.clone();
        tokio::spawn(async move { create_owner(&state, setup).await })
    };
    let (first, second) = (spawn(owner_setup()), spawn(OwnerSetup { email: "other@example.com".into(), ..owner_setup() }));
    // Both have seen that no owner exists and are about to write one.
    gates.arrivals(points::SETUP_BEFORE_WRITE, 2).await;
    gates.open(points::SETUP_BEFORE_WRITE);
    let mut results = vec![first.await.unwrap(), second.await.unwrap()];
    results.sort_by_key(|r| r.is_err());
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(results[1].as_ref().unwrap_err(), &AppError::InvalidState(app::services::accounts::ALREADY_SET_UP.into()), "the loser is told, as a conflict");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&app.state.db.pool).await.unwrap();
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!((users, accounts), (1, 1), "nothing of the loser is left");
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
async fn the_eleventh_wrong_password_from_one_client_is_refused_there_even_when_right_and_nowhere_else() {
    let app = TestApp::with_owner().await;
    let attacker = Some("203.0.113.66".parse().unwrap());
    for _ in 0..10 {
        let e = verify_credentials(&app.state, OWNER_EMAIL, "wrong password!".into(), attacker).await.unwrap_err();
        assert_eq!(e, AppError::Validation(WRONG_CREDENTIALS.into()));
    }
    let refused = verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), attacker).await.unwrap_err();
    assert!(matches!(refused, AppError::RateLimited { retry_after_secs } if retry_after_secs > 0 && retry_after_secs <= 15 * 60), "{refused:?}");
    assert!(refused.to_string().starts_with("Too many attempts, try again in 15 minutes"));
    // The owner, from their own address, is not locked out by someone else's failures.
    verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), Some("198.51.100.7".parse().unwrap())).await.unwrap();

    // The window passes: the right password works again from the attacker's address too.
    app.clock.advance(chrono::Duration::minutes(16));
    verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), attacker).await.unwrap();
}

/// The state of `app` with sign-in attempts slowed by `slowed` and each slowed attempt
/// counted in the returned counter.
fn counting_slowed_attempts(app: &TestApp, slowed: std::time::Duration) -> (app::services::AppState, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let checkpoints = app::services::checkpoints::Checkpoints::new(move |point| {
        if point == points::SIGN_IN_SLOWED {
            counted.fetch_add(1, Ordering::SeqCst);
        }
        Box::pin(async {})
    });
    let auth = app::services::AuthSettings { slowed_attempt: slowed, ..app.state.auth.clone() };
    let state = app::services::AppState::new(app::services::AppStateParts { checkpoints, auth, ..(*app.state).clone() });
    (state, count)
}

#[tokio::test]
async fn failures_from_everywhere_slow_attempts_for_an_address_but_never_refuse_the_right_password() {
    use std::sync::atomic::Ordering;
    assert_eq!(app::services::AuthSettings::default().slowed_attempt, std::time::Duration::from_secs(1), "the rule the README states");
    let app = TestApp::with_owner().await;
    let (state, slowed) = counting_slowed_attempts(&app, std::time::Duration::ZERO);
    // A hundred clients guess once each: none reaches its own limit.
    for i in 0..100u8 {
        let client = Some(std::net::IpAddr::from([203, 0, 113, i]));
        let e = verify_credentials(&state, OWNER_EMAIL, format!("guess number {i}"), client).await.unwrap_err();
        assert_eq!(e, AppError::Validation(WRONG_CREDENTIALS.into()), "guess {i} is answered, not refused");
    }
    assert_eq!(slowed.load(Ordering::SeqCst), 90, "every attempt past the tenth failure for the address was slowed");
    // The owner, from a client that never failed, signs in: slowed, not refused.
    verify_credentials(&state, OWNER_EMAIL, PASSWORD.into(), Some("198.51.100.7".parse().unwrap())).await.unwrap();
    assert_eq!(slowed.load(Ordering::SeqCst), 91);
    // A success forgets the failures: the next attempt is not slowed.
    verify_credentials(&state, OWNER_EMAIL, PASSWORD.into(), Some("198.51.100.7".parse().unwrap())).await.unwrap();
    assert_eq!(slowed.load(Ordering::SeqCst), 91);
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

#[tokio::test]
async fn every_sign_in_attempt_runs_exactly_one_password_verification() {
    let app = TestApp::with_owner().await;
    let count = || app.state.passwords.verifications();
    for (email, password) in
        [(OWNER_EMAIL, "a wrong password"), ("nobody@example.com", "a wrong password"), ("not an address", "a wrong password"), (OWNER_EMAIL, PASSWORD)]
    {
        let before = count();
        let _ = verify_credentials(&app.state, email, password.into(), None).await;
        assert_eq!(count() - before, 1, "{email}: one verification, so the time taken tells nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_guesses_for_one_address_reach_the_password_check_exactly_ten_times() {
    let app = TestApp::with_owner().await;
    let gates = Gates::default();
    gates.close(points::SIGN_IN_BEFORE_COUNT);
    let state = app.gated(&gates);
    let before = app.state.passwords.verifications();
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..50 {
        let state = state.clone();
        guesses.spawn(async move { verify_credentials(&state, OWNER_EMAIL, format!("guess number {i}"), Some("203.0.113.9".parse().unwrap())).await });
    }
    // All fifty have started and none has been counted: then they all go at once.
    gates.arrivals(points::SIGN_IN_BEFORE_COUNT, 50).await;
    gates.open(points::SIGN_IN_BEFORE_COUNT);
    let results = guesses.join_all().await;
    let checked = app.state.passwords.verifications() - before;
    assert_eq!(checked, 10, "guesses that reached the password check");
    let limited = results.iter().filter(|r| matches!(r, Err(AppError::RateLimited { .. }))).count();
    assert_eq!(limited, 40, "every other guess was refused by the limit: {results:?}");
    let wrong = results.iter().filter(|r| matches!(r, Err(AppError::Validation(m)) if m == WRONG_CREDENTIALS)).count();
    assert_eq!(wrong, 10);
}

#[tokio::test]
async fn successful_sign_ins_from_one_address_are_not_counted_against_it() {
    let app = TestApp::with_owner().await;
    let office = Some("198.51.100.20".parse().unwrap());
    // More colleagues than the per-address failure limit sign in from one office address.
    for _ in 0..60 {
        verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), office).await.unwrap();
    }
    // Failures still count: 50 wrong passwords from that address, then even the right one waits.
    for i in 0..50 {
        let _ = verify_credentials(&app.state, &format!("guess{i}@example.com"), "whatever123".into(), office).await;
    }
    assert!(matches!(verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), office).await, Err(AppError::RateLimited { .. })));
}

#[tokio::test]
async fn ipv6_clients_are_limited_by_their_64() {
    let app = TestApp::with_owner().await;
    for i in 0..50 {
        let ip = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
        let _ = verify_credentials(&app.state, &format!("guess{i}@example.com"), "whatever123".into(), Some(ip)).await;
    }
    let same_network = Some("2001:db8:1:2:ffff::1".parse().unwrap());
    assert!(matches!(verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), same_network).await, Err(AppError::RateLimited { .. })));
    let next_network = Some("2001:db8:1:3::1".parse().unwrap());
    verify_credentials(&app.state, OWNER_EMAIL, PASSWORD.into(), next_network).await.unwrap();
}

#[tokio::test]
async fn spent_rate_limit_counters_are_pruned_and_live_ones_kept() {
    use app::services::rate_limit::{self, LONGEST_WINDOW};
    let app = TestApp::with_owner().await;
    let pool = &app.state.db.pool;
    for n in 0..3 {
        assert!(verify_credentials(&app.state, &format!("nobody{n}@example.com"), "wrong".into(), None).await.is_err());
    }
    let counters = || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM rate_limits").fetch_one(pool).await.unwrap() };
    let spent = counters().await;
    // Each attempt counts for its address, and for its address from its client.
    assert_eq!(spent, 6, "each address counted");
    assert_eq!(rate_limit::prune(pool, app.clock_ms()).await.unwrap(), 0, "nothing is spent yet");

    app.clock.advance(chrono::Duration::from_std(LONGEST_WINDOW).unwrap());
    assert!(verify_credentials(&app.state, "later@example.com", "wrong".into(), None).await.is_err());
    assert_eq!(rate_limit::prune(pool, app.clock_ms()).await.unwrap(), spent as u64, "every counter from a day ago");
    assert_eq!(counters().await, 2, "the ones counted just now stay");
}
