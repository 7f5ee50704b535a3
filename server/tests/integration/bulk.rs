//! Bulk actions: a job over a thousand people, done once each; a runner stopped half-way and
//! started again; two runners splitting one job; a scope administrator's "select all
//! matching"; HR's skips above its rank; cancelling; the daily budget; bulk mail behind
//! single mail; the two CSV files. Each asks the database (items, outbox, audit) what was done.

use crate::common;

use app::services::checkpoints::points;
use app::services::invitations::service::{self, InviteRequest};
use app::services::jobs::{self, JobsConfig};
use app::services::store::jobs as job_store;
use axum::http::StatusCode;
use common::*;
use shared::bulk::{BulkAction, JobState, Selection, SkipReason};
use shared::scopes::{Grant, ScopeKind};
use shared::{AppError, Role};
use std::time::Duration;

fn worker(name: &str) -> JobsConfig {
    JobsConfig { worker: format!("test-host/{name}/1"), batch: 25, lease: Duration::from_secs(120) }
}

/// Invites `n` people (`prefix-0@example.com`, …) with `grants`, as `actor`, in batches.
async fn invite_many(app: &TestApp, actor: &app::services::Actor, prefix: &str, n: usize, grants: &[Grant]) {
    let addresses: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}@example.com")).collect();
    for chunk in addresses.chunks(shared::invitations::MAX_INVITES_PER_BATCH) {
        let request = InviteRequest { addresses: chunk.join(","), grants: grants.to_vec(), message: None, send_despite_typos: true };
        service::invite(&app.state, actor, request).await.unwrap();
    }
}

async fn number(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.state.db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every invited person's messages: (invitations, reminders) per address, none missing.
async fn messages_per_person(app: &TestApp, prefix: &str) -> Vec<(String, i64)> {
    sqlx::query_as(&format!("SELECT recipient, COUNT(*) FROM outbox WHERE recipient LIKE '{prefix}-%' GROUP BY recipient ORDER BY recipient"))
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bulk_resend_over_a_thousand_people_resends_each_once_audits_each_and_finishes() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "p", 1000, &app.account_grants(&[Role::Member])).await;
    let started = jobs::start(&app.state, &owner, BulkAction::Resend, Selection::Matching("status=invited".into())).await.unwrap();
    assert_eq!((started.total, started.state, started.done), (1000, JobState::Running, 0), "over a hundred: left to the runner");
    assert_eq!(started.selection, "Everyone matching: status Invited");
    let settled = jobs::run_due(&app.state, &worker("a"), None).await.unwrap();
    assert_eq!(settled, 1000);
    let job = jobs::get(&app.state, &owner, &started.id).await.unwrap();
    assert_eq!((job.state, job.done, job.skipped, job.failed), (JobState::Done, 1000, 0, 0), "{job:?}");
    let per_person = messages_per_person(&app, "p").await;
    assert_eq!(per_person.len(), 1000);
    assert!(per_person.iter().all(|(_, n)| *n == 2), "the invitation and one resend each");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE priority = 1").await, 1000, "the resends wait behind single mail");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.resent'").await, 1000, "audited per person");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action IN ('job.started', 'job.finished')").await, 2, "and the job itself");
    assert_eq!(jobs::run_due(&app.state, &worker("a"), None).await.unwrap(), 0, "nothing left to do");
}

#[tokio::test]
async fn up_to_a_hundred_people_are_done_in_the_request_and_the_rest_are_skipped_with_reasons() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "q", 3, &app.account_grants(&[Role::Member])).await;
    let active = app.add_active_user("active@example.com", "member").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(user_id_of(&app.state, &format!("q-{i}@example.com")).await);
    }
    ids.push(active.clone());
    ids.push("00000000-0000-0000-0000-0000000000ff".into());
    let job = jobs::start(&app.state, &owner, BulkAction::Cancel, Selection::People(ids)).await.unwrap();
    assert_eq!((job.state, job.total, job.done, job.skipped), (JobState::Done, 4, 3, 1), "someone of no account is dropped: {job:?}");
    assert_eq!(job.skips.len(), 1);
    assert_eq!(job.skips[0].reason, SkipReason::AlreadyAccepted, "an active person without an invitation has nothing to cancel");
    assert_eq!(job.summary(), "3 cancelled. 1 skipped: 1 already accepted.");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM invitations WHERE state = 'cancelled'").await, 3);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE priority = 1").await, 0, "cancelling sends nothing");
}

#[tokio::test]
async fn a_runner_stopped_half_way_and_started_again_does_no_one_twice() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "r", 300, &app.account_grants(&[Role::Member])).await;
    let job = jobs::start(&app.state, &owner, BulkAction::Resend, Selection::Matching("status=invited".into())).await.unwrap();
    let gates = Gates::default();
    gates.close(points::JOB_BATCH_BEFORE_COMMIT);
    let gated = app.gated(&gates);
    let first = worker("first");
    let running = tokio::spawn(async move { jobs::run_due(&gated, &first, None).await });
    gates.arrivals(points::JOB_BATCH_BEFORE_COMMIT, 1).await;
    gates.release(points::JOB_BATCH_BEFORE_COMMIT, 1);
    // The second batch has done its 25 people and is about to commit when the runner dies.
    gates.arrivals(points::JOB_BATCH_BEFORE_COMMIT, 2).await;
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    let items = job_store::items(&mut app.state.db.pool.acquire().await.unwrap(), &job.id).await.unwrap();
    assert_eq!(items.iter().filter(|i| i.2.is_some()).count(), 25, "the first batch committed, the second rolled back");
    // Its leases run out; another runner takes the rest.
    app.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(jobs::run_due(&app.state, &worker("second"), None).await.unwrap(), 275);
    let done = jobs::get(&app.state, &owner, &job.id).await.unwrap();
    assert_eq!((done.state, done.done), (JobState::Done, 300));
    let per_person = messages_per_person(&app, "r").await;
    assert_eq!(per_person.len(), 300);
    assert!(per_person.iter().all(|(_, n)| *n == 2), "no email queued twice: {:?}", per_person.iter().find(|(_, n)| *n != 2));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.resent'").await, 300, "no person done twice");
}

/// Makes the database refuse `event` ("UPDATE ON invitations") on the rows where `condition`
/// holds (in the trigger's terms, OLD and NEW), on either engine.
async fn refuse(app: &TestApp, event: &str, condition: &str) {
    let statements = match app.state.db.engine() {
        app::services::db::Engine::Sqlite => {
            vec![format!("CREATE TRIGGER refuse_one BEFORE {event} WHEN {condition} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")]
        }
        app::services::db::Engine::Postgres => vec![
            "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql".to_string(),
            format!("CREATE TRIGGER refuse_one BEFORE {event} FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION refuse_one()"),
        ],
    };
    for statement in statements {
        sqlx::query(&statement).execute(&app.state.db.pool).await.unwrap();
    }
}

#[tokio::test]
async fn an_email_the_database_refuses_fails_that_person_alone() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "g", 150, &app.account_grants(&[Role::Member])).await;
    // Written with the batch's others in one statement, then again alone with a savepoint.
    refuse(&app, "INSERT ON outbox", "NEW.recipient = 'g-7@example.com'").await;
    let started = jobs::start(&app.state, &owner, BulkAction::Resend, Selection::Matching("status=invited".into())).await.unwrap();
    assert_eq!(jobs::run_due(&app.state, &JobsConfig { batch: 100, ..worker("a") }, None).await.unwrap(), 150);
    let job = jobs::get(&app.state, &owner, &started.id).await.unwrap();
    assert_eq!((job.state, job.done, job.skipped, job.failed), (JobState::Done, 149, 0, 1), "{job:?}");
    let per_person = messages_per_person(&app, "g").await;
    assert_eq!(per_person.iter().find(|(address, _)| address == "g-7@example.com").map(|(_, n)| *n), Some(1), "its invitation only");
    assert!(per_person.iter().filter(|(address, _)| address != "g-7@example.com").all(|(_, n)| *n == 2));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.resent'").await, 149);
    assert_eq!(
        number(&app, "SELECT send_count FROM invitations i JOIN users u ON u.id = i.user_id WHERE u.email = 'g-7@example.com'").await,
        1,
        "its resend rolled back"
    );
}

#[tokio::test]
async fn one_persons_failure_is_rolled_back_alone_and_the_rest_of_the_batch_is_done_once() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "f", 150, &app.account_grants(&[Role::Member])).await;
    let failing: String = sqlx::query_scalar("SELECT i.id FROM invitations i JOIN users u ON u.id = i.user_id WHERE u.email = 'f-7@example.com'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    // The database refuses to change that one invitation: its resend fails half-way, after
    // its send was counted.
    refuse(&app, "UPDATE ON invitations", &format!("OLD.id = '{failing}'")).await;
    let sends_counted = |address: &'static str| {
        let (app, account_id) = (&app, owner.account_id.clone());
        async move {
            let key = format!("send:{account_id}:{address}");
            sqlx::query_scalar::<_, i64>("SELECT hits FROM rate_limits WHERE key = $1").bind(key).fetch_one(&app.state.db.pool).await.unwrap()
        }
    };
    assert_eq!(sends_counted("f-7@example.com").await, 1, "the invitation itself");
    // Half an hour on (within the send count's hour), a resend moves each expiry, which the
    // Users page reads from the user's row.
    app.clock.advance(chrono::Duration::minutes(30));
    let started = jobs::start(&app.state, &owner, BulkAction::Resend, Selection::Matching("status=invited".into())).await.unwrap();
    let everyone = JobsConfig { batch: 100, ..worker("a") };
    assert_eq!(jobs::run_due(&app.state, &everyone, None).await.unwrap(), 150);
    let job = jobs::get(&app.state, &owner, &started.id).await.unwrap();
    assert_eq!((job.state, job.done, job.skipped, job.failed), (JobState::Done, 149, 0, 1), "{job:?}");
    let per_person = messages_per_person(&app, "f").await;
    assert_eq!(
        per_person.iter().find(|(address, _)| address == "f-7@example.com"),
        Some(&("f-7@example.com".to_string(), 1)),
        "no resend for the one that failed"
    );
    assert!(per_person.iter().filter(|(address, _)| address != "f-7@example.com").all(|(_, n)| *n == 2), "the invitation and one resend for everyone else");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.resent'").await, 149, "audited once each");
    assert_eq!(
        number(&app, "SELECT COUNT(*) FROM audit_event_places p JOIN audit_events e ON e.id = p.event_id WHERE e.action = 'invitation.resent'").await,
        149,
        "each line found by the place of the role it offers"
    );
    assert_eq!(sends_counted("f-7@example.com").await, 1, "its counted send rolled back with it");
    assert_eq!(sends_counted("f-8@example.com").await, 2);
    let moved = "SELECT COUNT(*) FROM users u JOIN invitations i ON i.user_id = u.id AND i.state = 'pending' \
                 WHERE u.email LIKE 'f-%' AND i.expires_at > i.created_at + 3600000 * 24 * 7";
    assert_eq!(number(&app, moved).await, 149, "each resend moved the expiry");
    let stale = "SELECT COUNT(*) FROM users u JOIN invitations i ON i.user_id = u.id AND i.state = 'pending' \
                 WHERE u.email LIKE 'f-%' AND u.pending_expires_at <> i.expires_at";
    assert_eq!(number(&app, stale).await, 0, "and every user's row says so");
}

#[tokio::test]
async fn a_bulk_resend_skips_an_address_sent_its_hourly_five_and_counts_everyone_else_once() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "h", 150, &app.account_grants(&[Role::Member])).await;
    let full: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'h-3@example.com'").fetch_one(&app.state.db.pool).await.unwrap();
    // The invitation and four resends: its five in the hour.
    for _ in 0..4 {
        service::act(&app.state, &owner, &full, shared::invitations::InvitationAction::Resend).await.unwrap();
    }
    let counted = |address: &'static str| {
        let (app, account_id) = (&app, owner.account_id.clone());
        async move {
            let key = format!("send:{account_id}:{address}");
            sqlx::query_scalar::<_, i64>("SELECT hits FROM rate_limits WHERE key = $1").bind(key).fetch_one(&app.state.db.pool).await.unwrap()
        }
    };
    assert_eq!(counted("h-3@example.com").await, 5);
    app.clock.advance(chrono::Duration::minutes(10));
    let started = jobs::start(&app.state, &owner, BulkAction::Resend, Selection::Matching("status=invited".into())).await.unwrap();
    assert_eq!(jobs::run_due(&app.state, &JobsConfig { batch: 100, ..worker("a") }, None).await.unwrap(), 150);
    let job = jobs::get(&app.state, &owner, &started.id).await.unwrap();
    assert_eq!((job.done, job.skipped, job.failed), (149, 1, 0), "{job:?}");
    assert_eq!(job.skips[0].reason, SkipReason::RecipientLimit);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = 'h-3@example.com'").await, 5, "nothing more to that address");
    assert_eq!(counted("h-3@example.com").await, 5, "and the refused send not counted");
    assert_eq!(counted("h-4@example.com").await, 2, "everyone else's resend counted once");
    assert_eq!(counted("h-140@example.com").await, 2, "in the second batch too");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM rate_limits WHERE key LIKE 'send:%' AND hits = 2").await, 149);
}

#[tokio::test]
async fn two_runners_split_one_job_without_overlap() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "s", 200, &app.account_grants(&[Role::Member])).await;
    let job = jobs::start(&app.state, &owner, BulkAction::Remind, Selection::Matching("status=invited".into())).await.unwrap();
    let gates = Gates::default();
    gates.close(points::JOB_BATCH_COMMITTED);
    let gated = app.gated(&gates);
    let one = tokio::spawn(async move { jobs::run_due(&gated, &worker("one"), None).await.unwrap() });
    // The first runner has committed a batch and is held; the second takes everything left.
    gates.arrivals(points::JOB_BATCH_COMMITTED, 1).await;
    let two = jobs::run_due(&app.state, &worker("two"), None).await.unwrap();
    gates.open(points::JOB_BATCH_COMMITTED);
    let one = one.await.unwrap();
    assert_eq!((one, two), (25, 175), "each took its own batches");
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let items = job_store::items(&mut conn, &job.id).await.unwrap();
    let holders: std::collections::BTreeSet<_> = items.iter().filter_map(|i| i.3.clone()).collect();
    assert_eq!(holders.len(), 2, "both runners worked on it: {holders:?}");
    assert!(items.iter().all(|i| i.2.as_deref() == Some("done")));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'reminder'").await, 200, "one reminder each, none twice");
    assert_eq!(number(&app, "SELECT COUNT(DISTINCT recipient) FROM outbox WHERE kind = 'reminder'").await, 200);
}

#[tokio::test]
async fn a_scope_administrators_select_all_matching_reaches_only_their_people() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    let south = app.create_place(ScopeKind::OrganisationalUnit, "South", None).await;
    let admin = app.add_active_user_with("north-admin@example.com", &[Grant::new(&north, Role::Admin)]).await;
    invite_many(&app, &owner, "north", 3, &[Grant::new(&north, Role::Member)]).await;
    invite_many(&app, &owner, "south", 2, &[Grant::new(&south, Role::Member)]).await;
    invite_many(&app, &owner, "wide", 2, &app.account_grants(&[Role::Member])).await;
    let actor = app.actor_for(&admin).await;
    assert_eq!(jobs::count_matching(&app.state, &actor, "status=invited").await.unwrap(), 3, "the exact count is of their people");
    let job = jobs::start(&app.state, &actor, BulkAction::Cancel, Selection::Matching("status=invited".into())).await.unwrap();
    assert_eq!((job.total, job.done), (3, 3));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM invitations WHERE state = 'cancelled'").await, 3);
    assert_eq!(
        number(&app, "SELECT COUNT(*) FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.state = 'pending' AND u.email NOT LIKE 'north-%'").await,
        4
    );
    // Ticked people outside their places are left out before the job starts.
    let south_person = user_id_of(&app.state, "south-0@example.com").await;
    let refused = jobs::start(&app.state, &actor, BulkAction::Cancel, Selection::People(vec![south_person])).await.unwrap_err();
    assert_eq!(refused, AppError::Forbidden(shared::permissions::Denied::OutsideYourScopes));
    let refused = jobs::start(&app.state, &actor, BulkAction::Cancel, Selection::Matching(format!("scope={south}"))).await.unwrap_err();
    assert_eq!(refused.status_code(), 403, "a place outside theirs cannot be the filter");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM invitations WHERE state = 'cancelled'").await, 3, "nothing more was cancelled");
}

#[tokio::test]
async fn an_hr_bulk_resend_skips_invitations_above_hr_with_that_reason_and_sends_them_nothing() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "admin", 2, &app.account_grants(&[Role::Admin])).await;
    invite_many(&app, &owner, "member", 3, &app.account_grants(&[Role::Member])).await;
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let hr = app.actor_for(&hr).await;
    let job = jobs::start(&app.state, &hr, BulkAction::Resend, Selection::Matching("status=invited".into())).await.unwrap();
    assert_eq!((job.total, job.done, job.skipped), (5, 3, 2), "{job:?}");
    assert_eq!(job.skips[0].reason, SkipReason::RoleAboveYours(Role::Admin));
    assert!(job.summary().contains("2 offers or holds a role above yours (Admin)"), "{}", job.summary());
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'admin-%'").await, 2, "the admins got their invitation only");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'member-%'").await, 6);
    // The skipped rows, as the browser downloads them.
    let cookie = app.sign_in("hr@example.com").await;
    let csv = app.get(&format!("/jobs/{}/skipped.csv", job.id), Some(&cookie)).await;
    assert_eq!(csv.status(), StatusCode::OK);
    let text = body_text(csv).await;
    assert!(text.starts_with("\u{feff}Name,Email,Reason,Reason code\r\n"), "{text}");
    assert!(text.contains("admin-0@example.com,offers or holds a role above yours (Admin),role_above_yours:admin"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    // Somebody else's job is not theirs to read.
    let other = app.add_active_user("other-hr@example.com", "member").await;
    let other_cookie = app.sign_in("other-hr@example.com").await;
    assert_eq!(app.get(&format!("/jobs/{}/skipped.csv", job.id), Some(&other_cookie)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/jobs/{}/skipped.csv", job.id), None).await.status(), StatusCode::UNAUTHORIZED);
    let _ = other;
}

#[tokio::test]
async fn a_cancelled_job_keeps_what_was_done_and_starts_no_one_else() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "c", 150, &app.account_grants(&[Role::Member])).await;
    let job = jobs::start(&app.state, &owner, BulkAction::Extend, Selection::Matching("status=invited".into())).await.unwrap();
    let gates = Gates::default();
    gates.close(points::JOB_BATCH_COMMITTED);
    let gated = app.gated(&gates);
    let running = tokio::spawn(async move { jobs::run_due(&gated, &worker("w"), None).await.unwrap() });
    gates.arrivals(points::JOB_BATCH_COMMITTED, 1).await;
    let cancelled = jobs::cancel(&app.state, &owner, &job.id).await.unwrap();
    assert_eq!((cancelled.state, cancelled.done), (JobState::Cancelled, 25));
    gates.open(points::JOB_BATCH_COMMITTED);
    assert_eq!(running.await.unwrap(), 25, "no batch after the cancel");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.extended'").await, 25);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'job.cancelled'").await, 1);
    let again = jobs::cancel(&app.state, &owner, &job.id).await.unwrap_err();
    assert!(matches!(again, AppError::InvalidState(_)), "{again:?}");
}

#[tokio::test]
async fn a_bulk_resend_stops_at_the_daily_budget_person_by_person() {
    let app = TestApp::with_daily_limit(5).await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "b", 3, &app.account_grants(&[Role::Member])).await;
    let job = jobs::start(&app.state, &owner, BulkAction::Remind, Selection::Matching("status=invited".into())).await.unwrap();
    assert_eq!((job.done, job.skipped), (2, 1), "{job:?}");
    assert_eq!(job.skips[0].reason, SkipReason::DailyBudget);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'reminder'").await, 2);
    let refused = jobs::start(&app.state, &owner, BulkAction::Remind, Selection::Matching("status=invited".into())).await.unwrap_err();
    assert!(matches!(refused, AppError::InvalidState(ref why) if why.contains("daily")), "nothing left: the job is refused at once: {refused:?}");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM jobs").await, 1);
}

#[tokio::test]
async fn single_mail_goes_out_before_the_bulk_mail_queued_ahead_of_it() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "m", 120, &app.account_grants(&[Role::Member])).await;
    sqlx::query("UPDATE outbox SET state = 'sent'").execute(&app.state.db.pool).await.unwrap();
    jobs::start(&app.state, &owner, BulkAction::Resend, Selection::Matching("status=invited".into())).await.unwrap();
    jobs::run_due(&app.state, &worker("w"), None).await.unwrap();
    app.clock.advance(chrono::Duration::seconds(1));
    invite_many(&app, &owner, "late", 1, &app.account_grants(&[Role::Member])).await;
    let now = app.clock_ms();
    let claimed = app::services::mail::outbox::claim(&app.state.db, "w", now, now + 60_000, 1).await.unwrap();
    assert_eq!(claimed[0].recipient, "late-0@example.com", "queued last, sent first");
}

#[tokio::test]
async fn the_selection_downloads_as_csv_with_formula_cells_neutralised() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "e", 2, &app.account_grants(&[Role::Member])).await;
    let id = user_id_of(&app.state, "e-0@example.com").await;
    sqlx::query("UPDATE users SET name = '=HYPERLINK(1)' WHERE id = $1").bind(&id).execute(&app.state.db.pool).await.unwrap();
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let response = app.call(shared::bulk::SELECTION_EXPORT_PATH, &format!("ids={id}"), Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = body_text(response).await;
    assert!(text.starts_with("\u{feff}Name,Email,Status,Roles,"), "{text}");
    assert!(text.contains("'=HYPERLINK(1),e-0@example.com,Invited,"), "{text}");
    assert_eq!(text.lines().count(), 2, "the header and the one person ticked: {text}");
    let all = app.call(shared::bulk::SELECTION_EXPORT_PATH, "ids=&matching=status%3Dinvited", Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(body_text(all).await.lines().count(), 3);
    // A member, who may not list people, gets nothing of them.
    app.add_active_user("member@example.com", "member").await;
    let member = app.sign_in("member@example.com").await;
    let refused = app.call(shared::bulk::SELECTION_EXPORT_PATH, "ids=&matching=status%3Dinvited", Some(ORIGIN), Some(&member)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let forged = app.call(shared::bulk::SELECTION_EXPORT_PATH, &format!("ids={id}"), Some("https://evil.example"), Some(&cookie)).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "another site cannot make the browser post it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "NOTIFY reaches other processes on PostgreSQL only: make test runs it with scripts/with-postgres.sh and --include-ignored"]
async fn work_committed_in_one_process_wakes_the_runner_of_another_at_once() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let url = app.config.database_url.clone().expect("BECKON_TEST_POSTGRES: this test runs on PostgreSQL (scripts/with-postgres.sh)");
    // Another process on the same database, whose runner would look by itself only hourly.
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database_url = Some(url);
    let other = spawn_app_with(config, dir).await;
    let mail_dir = tempfile::tempdir().unwrap();
    let transport = app::services::mail::transport::Transport::files(mail_dir.path().to_path_buf());
    let hourly = app::services::mail::worker::DeliveryConfig { poll_interval: Duration::from_secs(3600), ..Default::default() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = tokio::spawn(app::services::runner::run(other.state.clone(), transport, hourly, async {
        let _ = stopped.await;
    }));
    let sent = |kind: &'static str| {
        let pool = app.state.db.pool.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = $1 AND state = 'sent'").bind(kind).fetch_one(&pool).await.unwrap();
            n
        }
    };
    let within = |what: &'static str, kind: &'static str, n: i64| async move {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while sent(kind).await < n {
            assert!(std::time::Instant::now() < deadline, "{what}: not done within 30 s, though the other runner was told");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    invite_many(&app, &owner, "n", 120, &app.account_grants(&[Role::Member])).await;
    within("the invitations", "invitation", 120).await;
    jobs::start(&app.state, &owner, BulkAction::Remind, Selection::Matching("status=invited".into())).await.unwrap();
    within("the bulk reminders", "reminder", 120).await;
    let _ = stop.send(());
    runner.await.unwrap();
}

#[tokio::test]
async fn invite_to_activate_invites_profile_only_people_again_with_the_roles_of_their_last_invitation() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "again", 2, &app.account_grants(&[Role::Hr])).await;
    let ids = [user_id_of(&app.state, "again-0@example.com").await, user_id_of(&app.state, "again-1@example.com").await];
    jobs::start(&app.state, &owner, BulkAction::Cancel, Selection::People(ids.to_vec())).await.unwrap();
    // Someone who was never invited (a profile made by hand) has no roles to be invited with.
    let bare = app::services::store::new_id();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let profile = app::services::store::users::NewUser {
        id: &bare,
        account_id: &owner.account_id,
        email: "bare@example.com",
        name: "",
        status: shared::status::StoredUserStatus::ProfileOnly,
        password_hash: None,
    };
    app::services::store::users::insert(&mut conn, profile, app.clock_ms()).await.unwrap();
    drop(conn);
    let mut people = ids.to_vec();
    people.push(bare);
    let job = jobs::start(&app.state, &owner, BulkAction::InviteToActivate, Selection::People(people)).await.unwrap();
    assert_eq!((job.done, job.skipped), (2, 1), "{job:?}");
    assert_eq!(job.skips[0].reason, SkipReason::NoEarlierRoles);
    let offered =
        number(&app, "SELECT COUNT(*) FROM invitations i JOIN invitation_roles r ON r.invitation_id = i.id WHERE i.state = 'pending' AND r.role = 'hr'").await;
    assert_eq!(offered, 2, "invited again as HR");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = 'again-0@example.com'").await, 2);
    // Pending now: a second run invites nobody twice.
    let again = jobs::start(&app.state, &owner, BulkAction::InviteToActivate, Selection::People(ids.to_vec())).await.unwrap();
    assert_eq!((again.done, again.skipped), (0, 2));
    assert_eq!(again.skips[0].reason, SkipReason::StillPending, "{again:?}");
}

#[tokio::test]
async fn a_job_whose_starter_lost_the_right_stops_with_that_reason_and_does_no_one() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    invite_many(&app, &owner, "d", 120, &app.account_grants(&[Role::Member])).await;
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let job = jobs::start(&app.state, &app.actor_for(&hr).await, BulkAction::Cancel, Selection::Matching("status=invited".into())).await.unwrap();
    assert_eq!(job.state, JobState::Running);
    app::services::people::remove_roles(&app.state, &owner, &hr, app.account_grants(&[Role::Hr])).await.unwrap();
    assert_eq!(jobs::run_due(&app.state, &worker("w"), None).await.unwrap(), 0);
    let stopped = jobs::get(&app.state, &owner, &job.id).await.unwrap();
    assert_eq!((stopped.state, stopped.done), (JobState::Failed, 0));
    assert_eq!(stopped.stopped_because.as_deref(), Some("the person who started it no longer has the rights it needs"));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM invitations WHERE state = 'cancelled'").await, 0);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'job.stopped'").await, 1);
}
