//! The daily budget of invitation emails (per account, per sender) and the hourly budget of
//! each recipient, which every kind of message spends.

use crate::common;

use app::services::checkpoints::points;
use app::services::invitations::service::{self, InviteRequest};
use app::services::mail::budget::DailyLimits;
use app::services::{AppState, AppStateParts};
use common::*;
use shared::invitations::InvitationAction;
use shared::{AppError, Role};

/// The app's state with daily limits of `account` for the account and `per_sender` each.
fn limited(app: &TestApp, account: i64, per_sender: i64) -> AppState {
    AppState::new(AppStateParts { mail_limits: DailyLimits { account, per_sender }, ..(*app.state).clone() })
}

fn request(app: &TestApp, addresses: &str) -> InviteRequest {
    InviteRequest { addresses: addresses.into(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true }
}

async fn queued_invitations(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind IN ('invitation', 'reminder')").fetch_one(&app.state.db.pool).await.unwrap()
}

#[tokio::test]
async fn a_batch_that_would_go_over_a_daily_budget_sends_none_of_it_and_the_budget_comes_back_after_a_day() {
    let app = TestApp::with_owner().await;
    let state = limited(&app, 5, 3);
    let owner = app.owner().await;
    let admin = app.add_active_user("admin@example.com", "admin").await;
    let admin = app.actor_for(&admin).await;
    service::invite(&state, &owner, request(&app, "a1@example.com a2@example.com a3@example.com")).await.unwrap();
    // The owner's own budget is spent: one more is refused, and nothing of it is written.
    let before = dump_database(&app.state).await;
    let refused = service::invite(&state, &owner, request(&app, "a4@example.com")).await.unwrap_err();
    assert_eq!(
        refused,
        AppError::InvalidState(
            "This email would go over the daily budget of invitation emails: you sent 3 of 3 in the last 24 hours, so 0 more can go now. Nothing was sent."
                .into()
        )
    );
    assert_eq!(dump_database(&app.state).await, before, "nothing of the refused batch is written");
    // Another sender has a budget of their own, within the account's.
    let refused = service::invite(&state, &admin, request(&app, "b1@example.com b2@example.com b3@example.com")).await.unwrap_err();
    assert!(refused.to_string().starts_with("These 3 emails would go over the daily budget of invitation emails: the account sent 3 of 5"), "{refused}");
    service::invite(&state, &admin, request(&app, "b1@example.com b2@example.com")).await.unwrap();
    assert_eq!(queued_invitations(&app).await, 5);
    // Reminders count too.
    let a1 = user_id_of(&app.state, "a1@example.com").await;
    let refused = service::act(&state, &owner, &a1, InvitationAction::Remind).await.unwrap_err();
    assert!(refused.to_string().contains("daily budget"), "{refused}");
    // The budget counts the last 24 hours.
    app.clock.advance(chrono::Duration::hours(24));
    service::act(&state, &owner, &a1, InvitationAction::Resend).await.unwrap();
    service::invite(&state, &owner, request(&app, "a4@example.com")).await.unwrap();
    // Settings says what is used.
    let settings = app::services::mail::log::sender_settings(&state, &owner).await.unwrap();
    assert_eq!((settings.budget.account_used, settings.budget.account_limit, settings.budget.sender_used, settings.budget.sender_limit), (2, 5, 2, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sender_holds_the_account_until_it_commits_so_two_never_both_spend_the_last_of_the_budget() {
    let app = TestApp::with_owner().await;
    let gates = Gates::default();
    gates.close(points::INVITE_BEFORE_COMMIT);
    let state = AppState::new(AppStateParts { mail_limits: DailyLimits { account: 5, per_sender: 5 }, ..(*app.gated(&gates)).clone() });
    let owner = app.owner().await;
    let admin = app.add_active_user("admin@example.com", "admin").await;
    let admin = app.actor_for(&admin).await;
    let account: String = sqlx::query_scalar("SELECT id FROM accounts").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(can_lock_now(&app, "accounts", &account, Lock::Update).await);
    let first = {
        let (state, request) = (state.clone(), request(&app, "a1@example.com a2@example.com a3@example.com"));
        tokio::spawn(async move { service::invite(&state, &owner, request).await })
    };
    // The first has written three and checked the budget, and has not committed: nobody else
    // may count the budget meanwhile (they would not see its three).
    gates.arrivals(points::INVITE_BEFORE_COMMIT, 1).await;
    assert!(!can_lock_now(&app, "accounts", &account, Lock::Update).await, "the account is held until the first commits");
    gates.open(points::INVITE_BEFORE_COMMIT);
    assert!(first.await.unwrap().is_ok());
    let second = service::invite(&state, &admin, request(&app, "b1@example.com b2@example.com b3@example.com")).await;
    assert!(matches!(second, Err(AppError::InvalidState(ref m)) if m.contains("daily budget")), "{second:?}");
    assert_eq!(queued_invitations(&app).await, 3);
}

#[tokio::test]
async fn test_emails_and_new_invitation_requests_spend_the_recipients_hourly_budget() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    for _ in 0..5 {
        app::services::mail::log::send_test(&app.state, &owner, "mailbox@example.com").await.unwrap();
    }
    let refused = app::services::mail::log::send_test(&app.state, &owner, "mailbox@example.com").await.unwrap_err();
    assert!(refused.to_string().contains("was sent 5 emails in the last hour"), "{refused}");

    // An expired invitation asks its inviter for a new one: a message to the inviter's mailbox.
    service::invite(&app.state, &owner, request(&app, "ada@example.com")).await.unwrap();
    let ada = user_id_of(&app.state, "ada@example.com").await;
    let link = service::copy_link(&app.state, &owner, &ada).await.unwrap();
    app.clock.advance(chrono::Duration::days(8));
    for _ in 0..5 {
        app::services::mail::log::send_test(&app.state, &owner, OWNER_EMAIL).await.unwrap();
    }
    let before = dump_database(&app.state).await;
    let refused = app::services::invitations::accept::request_new(&app.state, link.rsplit('/').next().unwrap(), None).await.unwrap_err();
    assert!(refused.to_string().starts_with("The person who invited you was sent many emails in the last hour"), "{refused}");
    assert!(!refused.to_string().contains(OWNER_EMAIL), "the inviter's address is not told");
    assert_eq!(dump_database(&app.state).await, before);
}
