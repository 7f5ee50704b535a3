//! Reminders Beckon sends by itself, over a simulated fortnight with the injected clock: each
//! exactly once per link at its moment, again for a new link, never for an invitation
//! cancelled or accepted, audited as sent by Beckon, and off until an admin turns them on.

use crate::common;

use app::services::invitations::reminders;
use app::services::invitations::service::{self, InviteRequest};
use app::services::invitations::settings;
use common::*;
use shared::invitations::{AutoReminders, ExpiryDays, InvitationAction};
use shared::views::InvitationSettings;
use shared::Role;

async fn reminders_to(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'reminder' AND recipient = $1").bind(email).fetch_one(&app.state.db.pool).await.unwrap()
}

#[tokio::test]
async fn each_automatic_reminder_goes_once_per_link_at_its_moment_over_a_fortnight() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    for email in ["ana@example.com", "ben@example.com", "cy@example.com"] {
        let request = InviteRequest { addresses: email.into(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: false };
        service::invite(&app.state, &owner, request).await.unwrap();
    }
    // Off by default: a fortnight would pass without one.
    assert_eq!(reminders::run_due(&app.state).await.unwrap(), 0);
    let reminders = AutoReminders { after_sending_days: Some(3), before_expiry_days: Some(2) };
    let new = InvitationSettings { expiry_days: ExpiryDays::new(7).unwrap(), resend_rotates_link: true, reminders };
    settings::update(&app.state, &owner, new).await.unwrap();

    let mut sent_at_hours = Vec::new();
    for hour in 1..=14 * 24 {
        app.clock.advance(chrono::Duration::hours(1));
        if hour == 24 {
            service::act(&app.state, &owner, &user_id_of(&app.state, "ben@example.com").await, InvitationAction::Cancel).await.unwrap();
            let cy = user_id_of(&app.state, "cy@example.com").await;
            app::services::people::set_password(&app.state, &owner, &cy, "a sturdy passphrase".into(), "a sturdy passphrase".into()).await.unwrap();
        }
        if hour == 144 {
            // A new link on day 6: its own reminders become due, counted from now.
            service::act(&app.state, &owner, &user_id_of(&app.state, "ana@example.com").await, InvitationAction::Resend).await.unwrap();
        }
        let before = reminders_to(&app, "ana@example.com").await;
        reminders::run_due(&app.state).await.unwrap();
        if reminders_to(&app, "ana@example.com").await > before {
            sent_at_hours.push(hour);
        }
    }
    // Sent at hour 0, expiring at 168: 3 days after (72), 2 days before expiry (120); sent
    // again at 144 with a new link expiring at 312: 216 and 264.
    assert_eq!(sent_at_hours, vec![72, 120, 216, 264]);
    assert_eq!(reminders_to(&app, "ben@example.com").await, 0, "never after a cancel");
    assert_eq!(reminders_to(&app, "cy@example.com").await, 0, "never after they set up their account");
    let by_beckon: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.reminded' AND actor_user_id IS NULL")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(by_beckon, 4, "audited as sent by Beckon");
    let bulk: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'reminder' AND priority = 1 AND sent_by IS NULL")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(bulk, 4, "behind mail someone waits for, counted for nobody's own budget");
}

#[tokio::test]
async fn the_reminder_settings_must_fall_while_an_invitation_is_open() {
    let seven = ExpiryDays::new(7).unwrap();
    assert_eq!(AutoReminders::parse("", " ", seven).unwrap(), AutoReminders::default(), "empty: off");
    assert_eq!(AutoReminders::parse("3", "2", seven).unwrap(), AutoReminders { after_sending_days: Some(3), before_expiry_days: Some(2) });
    for (after, before) in [("0", ""), ("7", ""), ("", "7"), ("two", ""), ("-1", "")] {
        let refused = AutoReminders::parse(after, before, seven).unwrap_err();
        assert!(refused.to_string().contains("from 1 to 6"), "{after}/{before}: {refused}");
    }
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let saved = app.call("/api/save_invitation_settings", "expiry_days=7&remind_after_days=3&remind_before_days=", Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(saved.status(), axum::http::StatusCode::OK);
    let read = settings::get(&app.state, &app.owner().await).await.unwrap();
    assert_eq!(read.reminders, AutoReminders { after_sending_days: Some(3), before_expiry_days: None });
    let refused = app.call("/api/save_invitation_settings", "expiry_days=7&remind_after_days=9", Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(refused.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
}
