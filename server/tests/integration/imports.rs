//! Importing people from a CSV file: a thousand rows with bad ones among them, each verdict
//! in the preview and exactly the valid rows imported (people, invitations, roles, emails,
//! audit lines); the same file again invites nobody twice; a failure before the rows go live
//! leaves nothing; a scope administrator held to their places and the ceiling per row;
//! Profile only; the upload route's limits and refusals; the report of rejected rows.

use crate::common;

use app::services::checkpoints::points;
use app::services::imports;
use app::services::invitations::service::{self, InviteRequest};
use app::services::jobs::{self, JobsConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use shared::bulk::{BulkAction, JobState, Selection};
use shared::import::{ImportMode, ImportState, ImportView, RowChange, UploadError, Verdict};
use shared::scopes::ScopeKind;
use shared::Role;
use std::time::Duration;

fn worker() -> JobsConfig {
    JobsConfig { worker: "test-host/imports/1".into(), batch: 50, lease: Duration::from_secs(120) }
}

async fn number(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.state.db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn count(view: &ImportView, verdict: Verdict) -> u64 {
    view.counts.iter().find(|c| c.verdict == verdict).map(|c| c.count).unwrap_or(0)
}

async fn upload(app: &TestApp, actor: &app::services::Actor, text: &str) -> ImportView {
    let id = imports::upload(&app.state, actor, "people.csv", text.as_bytes()).await.unwrap().unwrap();
    imports::get(&app.state, actor, &id, None, 0).await.unwrap()
}

/// `n` valid rows `prefix-i@example.com` as Members of `place` (account-wide when empty).
fn rows(prefix: &str, n: usize, place: &str) -> String {
    (0..n).map(|i| format!("{prefix}-{i}@example.com,Person {i},Member,{place}\n")).collect()
}

#[tokio::test]
async fn a_thousand_rows_with_bad_ones_preview_each_verdict_and_import_exactly_the_valid_ones_once() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    app.create_place(ScopeKind::OrganisationalUnit, "Sales", None).await;
    let archived = app.create_place(ScopeKind::OrganisationalUnit, "Old", None).await;
    app::services::scopes::archive(&app.state, &owner, &archived).await.unwrap();
    let request =
        InviteRequest { addresses: "pending@example.com".into(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true };
    service::invite(&app.state, &owner, request).await.unwrap();
    let active = app.add_active_user("active@example.com", "member").await;

    let mut text = String::from("\u{feff}Email,Name,Role,Place,Message\r\n");
    text.push_str(&rows("p", 1000, "Sales"));
    text.push_str("not-an-address,Bad,Member,,\n");
    text.push_str("ada@gmial.com,Typo,Member,,\n");
    text.push_str("x1@example.com,Unknown role,Wizard,,\n");
    text.push_str("x2@example.com,Unknown place,Member,Nowhere,\n");
    text.push_str("x3@example.com,Archived place,Member,Old,\n");
    text.push_str("x4@example.com,No role,,,\n");
    text.push_str("P-0@EXAMPLE.COM,Same as the first,Member,Sales,\n");
    text.push_str("p-1@example.com,Adds a role,Curator,Sales,\n");
    text.push_str("pending@example.com,Already invited,Member,,\n");
    text.push_str("active@example.com,Active,Admin,,\n");
    text.push_str("x5@example.com,Owner in a place,Owner,Sales,\n");
    text.push_str("\"zoë@example.com\",\"Zoë \"\"Z\"\" Ünal, MD\",Member,,\"Line one\nline two\"\n");
    let preview = upload(&app, &owner, &text).await;
    assert_eq!(preview.total, 1012);
    assert_eq!(count(&preview, Verdict::Invite), 1001, "{:?}", preview.counts);
    assert_eq!(count(&preview, Verdict::InviteExisting), 1, "active@ into Admin, which they lack");
    assert_eq!(count(&preview, Verdict::Unchanged), 1, "pending@ already has a pending invitation");
    assert_eq!(count(&preview, Verdict::InvalidAddress), 1);
    assert_eq!(count(&preview, Verdict::LikelyTypo), 1);
    assert_eq!(count(&preview, Verdict::UnknownRole), 1);
    assert_eq!(count(&preview, Verdict::UnknownPlace), 2, "unknown, and archived");
    assert_eq!(count(&preview, Verdict::NoRole), 1);
    assert_eq!(count(&preview, Verdict::Duplicate), 1, "duplicates differing in case");
    assert_eq!(count(&preview, Verdict::JoinsRow), 1);
    assert_eq!(count(&preview, Verdict::RoleAboveYours), 1, "Owner cannot be given in a place");
    let typos = imports::get(&app.state, &owner, &preview.id, Some(Verdict::LikelyTypo), 0).await.unwrap();
    assert_eq!(typos.rows[0].detail, "ada@gmail.com");
    assert_eq!(typos.rows[0].line, 1003, "the file's line");
    // Nothing but the preview is written before the admin confirms.
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'p-%'").await, 0);

    // The admin accepts the suggestion and drops a row.
    imports::change_row(&app.state, &owner, &preview.id, 1003, RowChange::AcceptSuggestion).await.unwrap();
    imports::change_row(&app.state, &owner, &preview.id, 2, RowChange::Drop).await.unwrap();
    let changed = imports::get(&app.state, &owner, &preview.id, None, 0).await.unwrap();
    assert_eq!(count(&changed, Verdict::Dropped), 1);
    assert_eq!(count(&changed, Verdict::LikelyTypo), 0);
    assert_eq!(count(&changed, Verdict::Duplicate), 0, "with row 2 dropped, P-0 is the first of its address");
    assert_eq!(count(&changed, Verdict::Invite), 1002);

    let started = imports::start(&app.state, &owner, &preview.id, ImportMode::SendInvites).await.unwrap();
    assert_eq!(started.state, ImportState::Importing);
    let job_id = started.job_id.clone().unwrap();
    assert_eq!(jobs::run_due(&app.state, &worker(), None).await.unwrap(), 1003);
    let job = jobs::get(&app.state, &owner, &job_id).await.unwrap();
    assert_eq!((job.state, job.action, job.done, job.skipped), (JobState::Done, BulkAction::Import, 1003, 0), "{job:?}");
    let done = imports::get(&app.state, &owner, &preview.id, None, 0).await.unwrap();
    assert_eq!(done.state, ImportState::Done);

    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'p-%' AND status = 'invited'").await, 1000);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email IN ('ada@gmail.com', 'zoë@example.com')").await, 2);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email = 'ada@gmial.com' OR email LIKE 'x%'").await, 0);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE name = 'Zoë \"Z\" Ünal, MD'").await, 1);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'p-%' AND invited_at IS NOT NULL AND pending_expires_at IS NOT NULL").await, 1000);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE priority = 1 AND kind = 'invitation'").await, 1003, "one email each, bulk pace");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = 'p-0@example.com'").await, 1, "duplicates in the file: one email");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM invitations i JOIN users u ON u.id = i.user_id WHERE u.email = 'p-1@example.com'").await, 1);
    assert_eq!(
        number(&app, "SELECT COUNT(*) FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id JOIN users u ON u.id = i.user_id WHERE u.email = 'p-1@example.com'").await,
        2,
        "the later row's Curator joined its Member"
    );
    assert_eq!(
        number(&app, &format!("SELECT COUNT(*) FROM invitations WHERE user_id = '{active}' AND state = 'pending'")).await,
        1,
        "the active person invited into Admin"
    );
    assert_eq!(
        number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.created' AND details LIKE '%\"import\"%'").await,
        1003,
        "audited per row"
    );
    assert_eq!(
        number(&app, "SELECT COUNT(*) FROM audit_event_places p JOIN audit_events e ON e.id = p.event_id WHERE e.action = 'invitation.created'").await,
        1004
    );
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action IN ('job.started', 'job.finished')").await, 2);
    let text_body: String = sqlx::query_scalar("SELECT text_body FROM outbox WHERE recipient = 'zoë@example.com'").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(text_body.contains("> Line one\n> line two") && text_body.contains("Olive Owner invited you"), "{text_body}");
    let p1: String = sqlx::query_scalar("SELECT text_body FROM outbox WHERE recipient = 'p-1@example.com'").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(p1.contains("Curator \u{2014} Sales") && p1.contains("Member \u{2014} Sales"), "{p1}");

    // The report lists what was not imported, with why.
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let report = app.get(&format!("/imports/{}/report.csv", preview.id), Some(&cookie)).await;
    assert_eq!(report.status(), StatusCode::OK);
    let report = body_text(report).await;
    assert!(report.starts_with("\u{feff}Line,Email,Name,Role,Place,Verdict,Why,Verdict code\r\n"), "{report}");
    assert!(
        report.contains("1004,x1@example.com,Unknown role,Wizard,,Unknown role,The account has no role called \u{201c}Wizard\u{201d}.,unknown_role"),
        "{report}"
    );
    assert_eq!(report.lines().count(), 10, "the header and nine rows not imported: {report}");

    // The same file again invites nobody twice.
    let again = upload(&app, &owner, &text).await;
    assert_eq!(count(&again, Verdict::Invite) + count(&again, Verdict::InviteExisting), 0, "{:?}", again.counts);
    let refused = imports::start(&app.state, &owner, &again.id, ImportMode::SendInvites).await.unwrap_err();
    assert_eq!(refused.status_code(), 422, "{refused}");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'invitation'").await, 1004, "the first invite of pending@ and the import's");
}

#[tokio::test]
async fn a_failure_before_the_rows_go_live_leaves_nothing_imported_and_the_job_says_why() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let preview = upload(&app, &owner, &format!("email,name,role\n{}", rows("f", 250, ""))).await;
    assert_eq!(count(&preview, Verdict::Invite), 250);
    let started = imports::start(&app.state, &owner, &preview.id, ImportMode::SendInvites).await.unwrap();
    let gates = Gates::default();
    gates.close(points::JOB_BATCH_COMMITTED);
    let gated = app.gated(&gates);
    let running = tokio::spawn(async move { jobs::run_due(&gated, &worker(), None).await.unwrap() });
    // The first batch (two hundred rows) is staged, invisibly; meanwhile someone invites one of them.
    gates.arrivals(points::JOB_BATCH_COMMITTED, 1).await;
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'f-%'").await, 0, "staged rows are not live");
    let request = InviteRequest { addresses: "f-0@example.com".into(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true };
    service::invite(&app.state, &owner, request).await.unwrap();
    gates.open(points::JOB_BATCH_COMMITTED);
    running.await.unwrap();
    let job = jobs::get(&app.state, &owner, started.job_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    let because = job.stopped_because.clone().unwrap();
    assert!(because.contains("f-0@example.com was added to the account while the import ran; nothing was imported"), "{because}");
    let failed = imports::get(&app.state, &owner, &preview.id, None, 0).await.unwrap();
    assert_eq!((failed.state, failed.failed_because.as_deref()), (ImportState::Failed, Some(because.as_str())));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'f-%'").await, 1, "only the one invited by hand");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'f-%'").await, 1, "nothing was sent for the import");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.created'").await, 1);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'job.stopped'").await, 1);
}

#[tokio::test]
async fn a_scope_administrators_import_is_held_to_their_places_and_the_ceiling_applies_per_row() {
    let app = TestApp::with_owner().await;
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    app.create_place(ScopeKind::OrganisationalUnit, "South", None).await;
    let admin = app.add_active_user_with("north-admin@example.com", &[TestApp::grant(&north, Role::Admin)]).await;
    let scoped = app.actor_for(&admin).await;
    let mut text = String::from("email,role,place\n");
    for i in 0..150 {
        text.push_str(&format!("south-{i}@example.com,Member,South\n"));
    }
    text.push_str("in@example.com,Member,North\nwide@example.com,Member,\nowner@north.example.com,Owner,North\n");
    let preview = upload(&app, &scoped, &text).await;
    assert_eq!(count(&preview, Verdict::PlaceOutsideYours), 151, "South, and account-wide rows: {:?}", preview.counts);
    assert_eq!(count(&preview, Verdict::RoleAboveYours), 1);
    assert_eq!(count(&preview, Verdict::Invite), 1);
    let outside = imports::get(&app.state, &scoped, &preview.id, Some(Verdict::PlaceOutsideYours), 0).await.unwrap();
    assert!(outside.rows[0].detail.contains("South"), "{:?}", outside.rows[0]);
    imports::start(&app.state, &scoped, &preview.id, ImportMode::SendInvites).await.unwrap();
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'south-%' OR email LIKE 'wide%' OR email LIKE 'owner@north%'").await, 0);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email = 'in@example.com'").await, 1, "done in the request: one row");

    // A file naming only people outside their places invites none of them.
    let outside_only =
        upload(&app, &scoped, &format!("email,role,place\n{}", (0..200).map(|i| format!("o-{i}@example.com,Member,South\n")).collect::<String>())).await;
    assert_eq!(count(&outside_only, Verdict::PlaceOutsideYours), 200);
    assert_eq!(imports::start(&app.state, &scoped, &outside_only.id, ImportMode::SendInvites).await.unwrap_err().status_code(), 422);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'o-%'").await, 0);

    // HR imports Members, never Admins; another person's import is not theirs to read.
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let hr = app.actor_for(&hr).await;
    let hr_preview = upload(&app, &hr, "email,role\nm@example.com,Member\na@example.com,Admin\n").await;
    assert_eq!((count(&hr_preview, Verdict::Invite), count(&hr_preview, Verdict::RoleAboveYours)), (1, 1));
    let member = app.add_active_user("member@example.com", "member").await;
    let member = app.actor_for(&member).await;
    assert_eq!(imports::get(&app.state, &member, &hr_preview.id, None, 0).await.unwrap_err().status_code(), 403);
    assert_eq!(imports::get(&app.state, &scoped, &hr_preview.id, None, 0).await.unwrap_err().status_code(), 403);
    assert_eq!(imports::upload(&app.state, &member, "x.csv", b"email,role\nz@example.com,Member\n").await.unwrap_err().status_code(), 403);
}

#[tokio::test]
async fn profile_only_creates_people_who_are_invited_later_into_the_roles_of_their_row() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    app.create_place(ScopeKind::OrganisationalUnit, "Sales", None).await;
    let preview = upload(&app, &owner, "email,name,role,place\nlater@example.com,Later,Curator,Sales\n").await;
    imports::start(&app.state, &owner, &preview.id, ImportMode::ProfileOnly).await.unwrap();
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email = 'later@example.com' AND status = 'profile_only'").await, 1);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = 'later@example.com'").await, 0, "nothing sent");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'user.imported'").await, 1);
    let later = user_id_of(&app.state, "later@example.com").await;
    let job = jobs::start(&app.state, &owner, BulkAction::InviteToActivate, Selection::People(vec![later.clone()])).await.unwrap();
    assert_eq!(job.done, 1, "{job:?}");
    assert_eq!(
        number(&app, &format!("SELECT COUNT(*) FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id WHERE i.user_id = '{later}' AND i.state = 'pending' AND r.role = 'curator'")).await,
        1
    );
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient = 'later@example.com'").await, 1);
}

#[tokio::test]
async fn rows_past_the_accounts_daily_email_budget_are_over_budget_in_the_preview_and_are_not_imported() {
    let app = TestApp::with_daily_limit(5).await;
    let owner = app.owner().await;
    let request = InviteRequest { addresses: "early@example.com".into(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true };
    service::invite(&app.state, &owner, request).await.unwrap();
    // Four emails are left today: the first four rows in the file's order, not the last two.
    let preview = upload(&app, &owner, &format!("email,name,role,place\n{}", rows("b", 6, ""))).await;
    assert_eq!((count(&preview, Verdict::Invite), count(&preview, Verdict::OverBudget)), (4, 2), "{:?}", preview.counts);
    let over = imports::get(&app.state, &owner, &preview.id, Some(Verdict::OverBudget), 0).await.unwrap();
    assert_eq!(over.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![6, 7]);
    let started = imports::start(&app.state, &owner, &preview.id, ImportMode::SendInvites).await.unwrap();
    assert_eq!(started.state, ImportState::Done, "{started:?}");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'b-%'").await, 4);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'invitation'").await, 5, "the budget of five, spent");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email IN ('b-4@example.com', 'b-5@example.com')").await, 0);
}

/// Runs `preview`'s import as `actor` with the runner held after its first batch (200 rows
/// staged) while `between` changes the account; returns why the job failed.
async fn fails_after_a_change_between_batches(app: &TestApp, actor: &app::services::Actor, preview: &ImportView, between: &str) -> String {
    let started = imports::start(&app.state, actor, &preview.id, ImportMode::SendInvites).await.unwrap();
    let gates = Gates::default();
    gates.close(points::JOB_BATCH_COMMITTED);
    let gated = app.gated(&gates);
    let running = tokio::spawn(async move { jobs::run_due(&gated, &worker(), None).await.unwrap() });
    gates.arrivals(points::JOB_BATCH_COMMITTED, 1).await;
    sqlx::query(between).execute(&app.state.db.pool).await.unwrap();
    gates.open(points::JOB_BATCH_COMMITTED);
    running.await.unwrap();
    let job = jobs::get(&app.state, &app.owner().await, started.job_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(job.state, JobState::Failed, "{job:?}");
    assert_eq!(number(app, "SELECT COUNT(*) FROM outbox").await, 0, "nothing was sent");
    assert_eq!(number(app, "SELECT COUNT(*) FROM invitations").await, 0, "nothing was imported");
    job.stopped_because.unwrap()
}

#[tokio::test]
async fn an_importer_demoted_after_rows_above_their_new_rank_were_staged_imports_nothing() {
    let app = TestApp::with_owner().await;
    let admin = app.add_active_user("admin@example.com", "admin").await;
    let actor = app.actor_for(&admin).await;
    // The first batch stages two hundred Admin rows; the second only Member rows, which HR
    // may still give: the last batch alone would not see the Admin rows.
    let mut text = String::from("email,role\n");
    text.extend((0..200).map(|i| format!("a-{i}@example.com,Admin\n")));
    text.extend((0..50).map(|i| format!("m-{i}@example.com,Member\n")));
    let preview = upload(&app, &actor, &text).await;
    assert_eq!(count(&preview, Verdict::Invite), 250);
    let demote = format!("UPDATE memberships SET role = 'hr' WHERE user_id = '{admin}'");
    let because = fails_after_a_change_between_batches(&app, &actor, &preview, &demote).await;
    assert!(because.contains("can no longer all be given") && because.contains("Admin"), "{because}");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'a-%' OR email LIKE 'm-%'").await, 0);
}

#[tokio::test]
async fn a_person_deactivated_after_their_row_was_staged_is_not_invited_back() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let gone = app.add_active_user("gone@example.com", "member").await;
    let mut text = String::from("email,role\ngone@example.com,Curator\n");
    text.extend((0..249).map(|i| format!("n-{i}@example.com,Member\n")));
    let preview = upload(&app, &owner, &text).await;
    assert_eq!((count(&preview, Verdict::InviteExisting), count(&preview, Verdict::Invite)), (1, 249), "{:?}", preview.counts);
    let deactivate = format!("UPDATE users SET status = 'deactivated' WHERE id = '{gone}'");
    let because = fails_after_a_change_between_batches(&app, &owner, &preview, &deactivate).await;
    assert!(because.contains("gone@example.com was deactivated or deleted while the import ran"), "{because}");
    assert_eq!(number(&app, &format!("SELECT COUNT(*) FROM users WHERE id = '{gone}' AND status = 'deactivated'")).await, 1);
}

#[tokio::test]
async fn an_import_job_cannot_be_started_on_a_selection_of_people() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let refused = jobs::start(&app.state, &owner, BulkAction::Import, Selection::People(vec![owner.user_id.clone()])).await.unwrap_err();
    assert_eq!(refused.status_code(), 422, "{refused}");
    assert_eq!(number(&app, "SELECT COUNT(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn deleting_someone_who_imported_and_ran_a_job_keeps_both_and_erases_an_imported_persons_row() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let admin = app.add_active_user("admin@example.com", "admin").await;
    let actor = app.actor_for(&admin).await;
    let preview = upload(&app, &actor, "email,name,role,message\nkim@example.com,Kim Doe,Member,Hello Kim\nlee@example.com,Lee,Member,\n").await;
    imports::start(&app.state, &actor, &preview.id, ImportMode::SendInvites).await.unwrap();
    let kim = user_id_of(&app.state, "kim@example.com").await;
    let job = jobs::start(&app.state, &actor, BulkAction::Remind, Selection::People(vec![kim.clone()])).await.unwrap();
    assert_eq!(job.done, 1, "{job:?}");

    app::services::people::delete(&app.state, &owner, &admin).await.unwrap();
    let kept = jobs::get(&app.state, &owner, &job.id).await.unwrap();
    assert_eq!((kept.done, kept.started_by.as_str()), (1, ""), "the job stays, started by a deleted person");
    assert_eq!(imports::get(&app.state, &owner, &preview.id, None, 0).await.unwrap().state, ImportState::Done);

    app::services::people::delete(&app.state, &owner, &kim).await.unwrap();
    let left: Vec<(String, String, Option<String>)> = sqlx::query_as("SELECT email, name, text_body FROM import_rows WHERE import_id = $1 ORDER BY line")
        .bind(&preview.id)
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(left[0], (String::new(), String::new(), None), "Kim's row keeps nothing of her");
    assert_eq!((left[1].0.as_str(), left[1].1.as_str()), ("lee@example.com", "Lee"));
}

fn multipart(field: &str, file_name: Option<&str>, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "beckon-test-boundary";
    let disposition = match file_name {
        Some(name) => format!("form-data; name=\"{field}\"; filename=\"{name}\""),
        None => format!("form-data; name=\"{field}\""),
    };
    let mut body = format!("--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: text/csv\r\n\r\n").into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_upload(app: &TestApp, cookie: Option<&str>, origin: &str, field: &str, bytes: &[u8]) -> axum::http::Response<Body> {
    let (content_type, body) = multipart(field, Some("people.csv"), bytes);
    let mut request = Request::post(shared::import::UPLOAD_PATH).header(header::CONTENT_TYPE, content_type).header(header::ORIGIN, origin);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    app.send(request.body(Body::from(body)).unwrap()).await
}

fn location(response: &axum::http::Response<Body>) -> String {
    response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

#[tokio::test]
async fn the_upload_takes_files_past_one_megabyte_up_to_its_own_limit_and_says_what_is_wrong_with_a_bad_one() {
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    // 1.5 MB: past every other request's limit, within the import's 5 MB.
    let mut big = String::from("email,name,role\n");
    let mut i = 0;
    while big.len() < 1_500_000 {
        big.push_str(&format!("big-{i}@example.com,{},Member\n", "N".repeat(140)));
        i += 1;
    }
    let answer = post_upload(&app, Some(&cookie), ORIGIN, "file", big.as_bytes()).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert!(location(&answer).starts_with("/users/import/"), "{}", location(&answer));
    assert_eq!(number(&app, "SELECT total FROM imports").await, i as i64);

    let too_large = vec![b'a'; shared::import::DEFAULT_MAX_BYTES + 1];
    let answer = post_upload(&app, Some(&cookie), ORIGIN, "file", &too_large).await;
    let max_bytes = shared::import::DEFAULT_MAX_BYTES as u64;
    assert!(
        answer.status() == StatusCode::PAYLOAD_TOO_LARGE || location(&answer).ends_with(&UploadError::TooLarge { max_bytes }.to_query()),
        "{} {}",
        answer.status(),
        location(&answer)
    );
    let answer = post_upload(&app, Some(&cookie), ORIGIN, "file", b"email,name\na@example.com,Ok\nb@example.com,Bj\xF6rk\n").await;
    assert_eq!(location(&answer), format!("/users/import?{}", UploadError::NotUtf8 { line: 3 }.to_query()));
    let answer = post_upload(&app, Some(&cookie), ORIGIN, "file", b"name,role\nAda,Admin\n").await;
    assert_eq!(location(&answer), format!("/users/import?{}", UploadError::NoEmailColumn.to_query()));
    let answer = post_upload(&app, Some(&cookie), ORIGIN, "text", b"email;role\npasted@example.com;Member\n").await;
    assert!(location(&answer).starts_with("/users/import/"), "pasted rows, semicolons: {}", location(&answer));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM imports").await, 2, "refused files left nothing behind");

    // From another site, or nobody signed in: refused.
    assert_eq!(post_upload(&app, Some(&cookie), "https://evil.example", "file", b"email\nx@example.com\n").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(post_upload(&app, None, ORIGIN, "file", b"email\nx@example.com\n").await.status(), StatusCode::UNAUTHORIZED);
    // The template reads back as an import with nothing wrong but its example places.
    let template = body_text(app.get(shared::import::TEMPLATE_PATH, Some(&cookie)).await).await;
    assert_eq!(imports::parse(template.as_bytes(), 10).unwrap().rows.len(), 3);
}

#[tokio::test]
async fn an_importer_demoted_while_the_job_runs_imports_only_what_they_may_still_give() {
    let app = TestApp::with_owner().await;
    let admin = app.add_active_user("admin@example.com", "admin").await;
    let actor = app.actor_for(&admin).await;
    let mut text = String::from("email,role\n");
    for i in 0..100 {
        text.push_str(&format!("m-{i}@example.com,Member\n"));
    }
    for i in 0..50 {
        text.push_str(&format!("a-{i}@example.com,Admin\n"));
    }
    let preview = upload(&app, &actor, &text).await;
    assert_eq!(count(&preview, Verdict::Invite), 150);
    let started = imports::start(&app.state, &actor, &preview.id, ImportMode::SendInvites).await.unwrap();
    // Before the runner takes the job, the importer becomes HR.
    sqlx::query("UPDATE memberships SET role = 'hr' WHERE user_id = $1").bind(&admin).execute(&app.state.db.pool).await.unwrap();
    jobs::run_due(&app.state, &worker(), None).await.unwrap();
    let job = jobs::get(&app.state, &app.owner().await, started.job_id.as_deref().unwrap()).await.unwrap();
    assert_eq!((job.state, job.done, job.skipped), (JobState::Done, 100, 50), "{job:?}");
    assert_eq!(job.skips[0].reason, shared::bulk::SkipReason::RoleAboveYours(Role::Admin));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'a-%'").await, 0);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM users WHERE email LIKE 'm-%'").await, 100);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'a-%'").await, 0, "nothing sent above their rank");
}
