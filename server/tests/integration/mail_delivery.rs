//! Email delivery against a real SMTP server (aiosmtpd) listening on loopback: what
//! arrives, deferral and recovery, permanent failure, an outage, a crashed worker.

use crate::common;

use app::services::checkpoints::points;
use app::services::mail::outbox;
use app::services::mail::transport::Transport;
use app::services::mail::worker::{dispatch_pending, DeliveryConfig, DeliveryReport};
use app::services::Actor;
use common::smtp_sink::{header, SmtpSink};
use common::*;
use shared::AppError;
use std::collections::HashSet;

fn config() -> DeliveryConfig {
    DeliveryConfig { max_attempts: 3, default_from: "beckon@example.com".into(), ..DeliveryConfig::default() }
}

async fn owner(app: &TestApp) -> Actor {
    app.owner().await
}

async fn dispatch(app: &TestApp, transport: &Transport) -> DeliveryReport {
    dispatch_pending(&app.state, transport, &config()).await.unwrap()
}

async fn states(app: &TestApp) -> Vec<(String, i64, Option<String>)> {
    sqlx::query_as("SELECT state, attempts, last_reply FROM outbox ORDER BY created_at, id").fetch_all(&app.state.db.pool).await.unwrap()
}

fn message_ids(messages: &[String]) -> Vec<String> {
    messages.iter().map(|m| header(m, "Message-ID").expect("a Message-ID").to_string()).collect()
}

#[tokio::test]
async fn a_message_arrives_with_the_right_headers_and_both_parts() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    app::services::mail::log::save_sender_settings(&app.state, &owner, "Acme Support", "support@acme.example", "help@acme.example").await.unwrap();
    app::services::mail::log::send_test(&app.state, &owner, "ada@example.com").await.unwrap();

    let report = dispatch(&app, &Transport::smtp(&sink.settings()).unwrap()).await;
    assert_eq!(report, DeliveryReport { sent: 1, deferred: 0, failed: 0 });
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(header(m, "From"), Some("\"Acme Support\" <support@acme.example>"));
    assert_eq!(header(m, "To"), Some("ada@example.com"));
    assert_eq!(header(m, "Reply-To"), Some("help@acme.example"));
    assert_eq!(header(m, "Subject"), Some("Test email from Beckon (Acme)"));
    assert!(m.contains("multipart/alternative"));
    assert!(m.contains("Content-Type: text/plain"));
    assert!(m.contains("Content-Type: text/html"));
    let (state, attempts, reply) = states(&app).await.remove(0);
    assert_eq!((state.as_str(), attempts), ("sent", 1));
    assert!(reply.unwrap().starts_with("250 "), "the server's reply is recorded");
}

#[tokio::test]
async fn an_invitation_email_carries_the_link_in_both_parts() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let request = app::services::invitations::service::InviteRequest {
        addresses: "ada@example.com".into(),
        grants: app.account_grants(&[shared::Role::Admin]),
        message: Some("See you <soon>".into()),
        send_despite_typos: false,
    };
    app::services::invitations::service::invite(&app.state, &owner, request).await.unwrap();
    dispatch(&app, &Transport::smtp(&sink.settings()).unwrap()).await;
    let ada: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'").fetch_one(&app.state.db.pool).await.unwrap();
    let link = app::services::invitations::service::copy_link(&app.state, &owner, &ada).await.unwrap();
    let message = sink.messages().remove(0);
    let unfolded = message.replace("=\r\n", "").replace("=3D", "=");
    assert_eq!(unfolded.matches(&link).count(), 4, "text part once; HTML button, and the visible link with its href");
    assert!(unfolded.contains("See you &lt;soon&gt;"), "escaped in HTML");
    assert_eq!(header(&message, "Subject"), Some("Olive Owner invited you to join Acme on Beckon"));
}

#[tokio::test]
async fn a_451_defers_with_the_reply_and_the_message_goes_out_once_the_server_recovers() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    app.queue_test_emails(1).await;
    let transport = Transport::smtp(&sink.settings()).unwrap();

    sink.answer("451");
    assert_eq!(dispatch(&app, &transport).await, DeliveryReport { sent: 0, deferred: 1, failed: 0 });
    let (state, attempts, reply) = states(&app).await.remove(0);
    assert_eq!((state.as_str(), attempts), ("deferred", 1));
    assert!(reply.unwrap().contains("451"), "the 451 reply is recorded");
    // Not due yet: nothing is tried before the backoff has passed.
    assert_eq!(dispatch(&app, &transport).await, DeliveryReport::default());

    sink.answer("ok");
    app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(dispatch(&app, &transport).await, DeliveryReport { sent: 1, deferred: 0, failed: 0 });
    assert_eq!(states(&app).await[0].0, "sent");
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn a_550_fails_the_message_with_the_reply() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    app.queue_test_emails(1).await;
    sink.answer("550");
    let report = dispatch(&app, &Transport::smtp(&sink.settings()).unwrap()).await;
    assert_eq!(report, DeliveryReport { sent: 0, deferred: 0, failed: 1 });
    let (state, _, reply) = states(&app).await.remove(0);
    assert_eq!(state, "failed");
    let reply = reply.unwrap();
    assert!(reply.contains("550") && reply.contains("No such user here"), "{reply}");
}

#[tokio::test]
async fn transient_failures_end_as_failed_after_the_last_attempt() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    app.queue_test_emails(1).await;
    sink.answer("451");
    let transport = Transport::smtp(&sink.settings()).unwrap();
    for expected in ["deferred", "deferred", "failed"] {
        dispatch(&app, &transport).await;
        assert_eq!(states(&app).await[0].0, expected);
        app.clock.advance(chrono::Duration::hours(2));
    }
}

#[tokio::test]
async fn a_whole_batch_sent_while_the_server_is_down_is_delivered_exactly_once_when_it_is_back() {
    let mut sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    app.queue_test_emails(200).await;
    let transport = Transport::smtp(&sink.settings()).unwrap();

    sink.stop();
    let report = dispatch(&app, &transport).await;
    assert_eq!(report, DeliveryReport { sent: 0, deferred: 200, failed: 0 });
    let states = states(&app).await;
    assert_eq!(states.len(), 200);
    assert!(states.iter().all(|(s, a, reply)| s == "deferred" && *a == 1 && reply.is_some()));

    sink.restart();
    app.clock.advance(chrono::Duration::minutes(2));
    let report = dispatch(&app, &transport).await;
    assert_eq!(report, DeliveryReport { sent: 200, deferred: 0, failed: 0 });
    let ids = message_ids(&sink.messages());
    assert_eq!(ids.len(), 200);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 200, "no message twice");
}

#[tokio::test]
async fn messages_claimed_by_a_worker_that_died_are_sent_by_another_once_its_lease_lapses() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    app.queue_test_emails(100).await;
    let now = app.clock_ms();
    // A worker claims 40 messages and dies before sending any of them.
    let claimed = outbox::claim(&app.state.db, "another-host/77/1", now, now + config().lease.as_millis() as i64, 40).await.unwrap();
    assert_eq!(claimed.len(), 40);

    let transport = Transport::smtp(&sink.settings()).unwrap();
    let report = dispatch(&app, &transport).await;
    assert_eq!(report.sent, 60, "the other worker leaves the dead worker's leased messages alone");

    app.clock.advance(chrono::Duration::minutes(3));
    let report = dispatch(&app, &transport).await;
    assert_eq!(report.sent, 40, "after the lease, they are taken over");
    let ids = message_ids(&sink.messages());
    assert_eq!((ids.len(), ids.iter().collect::<HashSet<_>>().len()), (100, 100), "none lost, none twice");
}

#[tokio::test]
async fn a_worker_restarted_on_its_machine_takes_back_its_earlier_runs_messages_at_once() {
    use app::services::mail::worker::{take_back_abandoned, WorkerId};
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    app.queue_test_emails(30).await;
    let now = app.clock_ms();
    let me = WorkerId::this_process(now);
    // Killed and started again: the same process id (as in a container) with an earlier start.
    let earlier_run = WorkerId { started_ms: now - 60_000, ..me.clone() };
    let other_machine = WorkerId { host: format!("{}-2", me.host), ..earlier_run.clone() };
    let running_here = WorkerId { pid: 1, ..earlier_run.clone() };
    let lease_until = now + config().lease.as_millis() as i64;
    for holder in [&earlier_run, &other_machine, &running_here] {
        assert_eq!(outbox::claim(&app.state.db, &holder.to_string(), now, lease_until, 10).await.unwrap().len(), 10);
    }
    assert_eq!(take_back_abandoned(&app.state, &me).await.unwrap(), 10);
    let transport = Transport::smtp(&sink.settings()).unwrap();
    let report = dispatch_pending(&app.state, &transport, &DeliveryConfig { worker: me, ..config() }).await.unwrap();
    assert_eq!(report.sent, 10, "its earlier run's messages now; those of a running process and of another machine wait for their lease");
    assert_eq!(sink.messages().len(), 10);
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_nothing_when_restarted() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    app.queue_test_emails(100).await;
    let transport = Transport::smtp(&sink.settings()).unwrap();
    // Every message the server accepts waits at the checkpoint before it is recorded.
    let gates = Gates::default();
    gates.close(points::DELIVERY_SENT);
    // Recording goes on beside sending: the kill waits until the 20 are written.
    gates.close(points::DELIVERY_RECORDED);
    gates.open(points::DELIVERY_RECORDED);
    let worker = {
        let (state, transport) = (app.gated(&gates), transport.clone());
        tokio::spawn(async move { dispatch_pending(&state, &transport, &config()).await })
    };
    gates.release(points::DELIVERY_SENT, 20);
    // 20 recorded as sent; then as many as the worker sends at once are delivered but not
    // yet recorded when it dies.
    let in_flight = config().concurrency;
    gates.arrivals(points::DELIVERY_SENT, 20 + in_flight).await;
    gates.arrivals(points::DELIVERY_RECORDED, 20).await;
    worker.abort();
    let _ = worker.await;
    assert_eq!(gates.arrived(points::DELIVERY_RECORDED), 20, "the others wait at the mail server's answer");
    assert_eq!(sink.messages().len(), 20 + in_flight);
    let unsent = states(&app).await.into_iter().filter(|(s, _, _)| s != "sent").count();
    assert_eq!(unsent, 100 - 20, "killed with most of its batch still unsent");

    // The restarted worker is a new process: its own connections, not the dead one's.
    app.clock.advance(chrono::Duration::minutes(3));
    dispatch(&app, &Transport::smtp(&sink.settings()).unwrap()).await;
    let not_sent: Vec<_> = states(&app).await.into_iter().filter(|(s, _, _)| s != "sent").collect();
    assert!(not_sent.is_empty(), "every message ends sent: {not_sent:?}");
    let ids = message_ids(&sink.messages());
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 100, "none lost");
    // Exactly the messages in flight at the kill (accepted, not yet recorded) arrive twice,
    // with the same Message-ID, so a mailbox shows each once.
    let twice: Vec<_> = unique.iter().filter(|id| ids.iter().filter(|i| i == *id).count() > 1).collect();
    assert_eq!(ids.len() - unique.len(), in_flight, "{} messages reached the sink; twice: {twice:?}", ids.len());
}

#[tokio::test]
async fn a_message_that_waited_in_the_queue_past_its_lease_is_claimed_again_and_sent_once() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    app.queue_test_emails(30).await;
    let transport = Transport::smtp(&sink.settings()).unwrap();
    // One at a time: the first waits at the server's answer while the rest of its claim waits
    // in the worker's queue.
    let gates = Gates::default();
    gates.close(points::DELIVERY_SENT);
    let one_at_a_time = DeliveryConfig { concurrency: 1, ..config() };
    let worker = {
        let (state, transport, config) = (app.gated(&gates), transport.clone(), one_at_a_time.clone());
        tokio::spawn(async move { dispatch_pending(&state, &transport, &config).await.unwrap() })
    };
    gates.arrivals(points::DELIVERY_SENT, 1).await;
    let in_flight = message_ids(&sink.messages());
    // The server is slow: the queued messages' leases lapse, and the worker's own next claim
    // may take them again while the first copies still wait in its queue.
    app.clock.advance(chrono::Duration::minutes(3));
    gates.open(points::DELIVERY_SENT);
    worker.await.unwrap();
    dispatch(&app, &transport).await;
    let not_sent: Vec<_> = states(&app).await.into_iter().filter(|(s, _, _)| s != "sent").collect();
    assert!(not_sent.is_empty(), "every message ends sent: {not_sent:?}");
    let ids = message_ids(&sink.messages());
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 30, "none lost");
    // The one in flight as its lease lapsed may go twice (at least once, as documented); none
    // of those that waited in the queue does.
    let twice: Vec<_> = unique.iter().filter(|id| ids.iter().filter(|i| i == *id).count() > 1).map(|id| id.to_string()).collect();
    assert!(twice.iter().all(|id| in_flight.contains(id)), "sent twice: {twice:?}, in flight: {in_flight:?}");
}

#[tokio::test]
async fn a_worker_whose_lease_lapsed_cannot_undo_what_the_worker_that_took_over_records() {
    use app::services::Clock;
    use shared::mail::DeliveryState;
    let app = TestApp::with_owner().await;
    app.queue_test_emails(1).await;
    let lease = |now: i64| now + 120_000;
    let now = app.clock.now_ms();
    let slow = outbox::claim(&app.state.db, "slow", now, lease(now), 10).await.unwrap();
    assert_eq!(slow.len(), 1);
    app.clock.advance(chrono::Duration::minutes(3));
    let now = app.clock.now_ms();
    let taken = outbox::claim(&app.state.db, "quick", now, lease(now), 10).await.unwrap();
    assert_eq!(taken.len(), 1, "the lapsed lease is taken over");
    let settle =
        |state, next_attempt_at| outbox::Settlement { id: taken[0].id.clone(), state, reply: "250 ok".into(), next_attempt_at, refund_attempt: false, at: now };
    // The slow worker's answer comes back while the other is still sending.
    outbox::settle_all(&app.state.db, "slow", &[settle(DeliveryState::Deferred, Some(now + 30_000))]).await.unwrap();
    assert_eq!(states(&app).await[0].0, "sending", "still the other worker's");
    outbox::settle_all(&app.state.db, "quick", &[settle(DeliveryState::Sent, None)]).await.unwrap();
    assert_eq!(states(&app).await[0].0, "sent", "sent once, never queued again");
}

#[tokio::test]
async fn without_smtp_messages_become_readable_eml_files() {
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    app::services::mail::log::send_test(&app.state, &owner, "ada@example.com").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = dispatch(&app, &Transport::files(dir.path().join("mail"))).await;
    assert_eq!(report.sent, 1);
    let file = std::fs::read_dir(dir.path().join("mail")).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(header(&text, "To"), Some("ada@example.com"));
    let (_, _, reply) = states(&app).await.remove(0);
    assert_eq!(reply.unwrap(), format!("written to {}", file.file_name().unwrap().to_string_lossy()), "the file's name, not the whole path");
}

#[tokio::test]
async fn a_failed_message_can_be_retried_by_hand_and_the_log_filters() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    let owner = owner(&app).await;
    let transport = Transport::smtp(&sink.settings()).unwrap();
    app::services::mail::log::send_test(&app.state, &owner, "bob@example.com").await.unwrap();
    dispatch(&app, &transport).await;
    app::services::mail::log::send_test(&app.state, &owner, "ada@example.com").await.unwrap();
    sink.answer("550");
    dispatch(&app, &transport).await;
    app::services::mail::log::send_test(&app.state, &owner, "ann@example.com").await.unwrap();
    use shared::mail::DeliveryState::{Failed, Queued, Sent};
    let log = |state, recipient: &'static str| {
        let (app, owner) = (&app, &owner);
        async move {
            let query = shared::mail::DeliveryQuery { state, recipient: recipient.into(), message: None };
            let rows = app::services::mail::log::recent(&app.state, owner, &query).await.unwrap().rows;
            rows.into_iter().map(|r| r.recipient).collect::<Vec<_>>()
        }
    };
    // One message in each state: the state filter picks exactly its own.
    assert_eq!(log(Some(Failed), "").await, vec!["ada@example.com"]);
    assert_eq!(log(Some(Sent), "").await, vec!["bob@example.com"]);
    assert_eq!(log(Some(Queued), "").await, vec!["ann@example.com"]);
    assert_eq!(log(None, "ann").await, vec!["ann@example.com"], "recipient filter alone");
    assert_eq!(log(Some(Sent), "ada").await, Vec::<String>::new(), "both filters at once");

    let failed = shared::mail::DeliveryQuery { state: Some(Failed), recipient: "ada".into(), message: None };
    let id = app::services::mail::log::recent(&app.state, &owner, &failed).await.unwrap().rows[0].id.clone();
    let one = app::services::mail::log::recent(&app.state, &owner, &shared::mail::DeliveryQuery::message(&id)).await.unwrap().rows;
    assert_eq!(one.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![id.as_str()], "the link from a Users row shows that message alone");
    app::services::mail::log::retry(&app.state, &owner, &id).await.unwrap();
    assert_eq!(
        app::services::mail::log::retry(&app.state, &owner, &id).await.unwrap_err(),
        AppError::InvalidState("Only a failed message can be retried.".into()),
        "only a failed message is retried"
    );
    sink.answer("ok");
    dispatch(&app, &transport).await;
    let row = app::services::mail::log::message(&app.state, &owner, &id).await.unwrap();
    assert_eq!(row.state, Sent);
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'email.retried'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(audited, 1);
}
