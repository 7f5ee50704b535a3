//! Webhooks: events written with their change, delivered by the runner's lane to a receiver
//! that really listens on loopback, signed in the Standard Webhooks format, retried once
//! after a failure and never again after a success, refused when a name resolves inside the
//! deployment's network at send time, announced once when an invitation expires, and an
//! endpoint disabled (and its administrators told) after five days of failures.

use crate::common;

use app::services::invitations::accept::{self, AcceptInput};
use app::services::invitations::service::{self, InviteRequest};
use app::services::webhooks::client::{Reach, Resolver};
use app::services::webhooks::delivery::{self, LaneConfig};
use app::services::webhooks::{self as webhooks, events};
use app::services::{AppState, AppStateParts};
use axum::http::HeaderMap;
use common::*;
use shared::invitations::InvitationAction;
use shared::people::PersonAction;
use shared::webhooks::{WebhookDeliveryState, WebhookEvent};
use shared::{AppError, Role};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// A webhook receiver on a free loopback port, answering the statuses it is given in turn
/// (the last one from then on).
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answers = Arc::new(answers.to_vec());
        let router = {
            let got = got.clone();
            axum::Router::new().fallback(move |headers: HeaderMap, body: String| {
                let (got, answers) = (got.clone(), answers.clone());
                async move {
                    let mut got = got.lock().unwrap();
                    let status = answers[got.len().min(answers.len() - 1)];
                    got.push(Received { headers, body });
                    (axum::http::StatusCode::from_u16(status).unwrap(), format!("answer {}", got.len()))
                }
            })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { addr, got }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/beckon", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The bodies received, as JSON.
    fn events(&self) -> Vec<serde_json::Value> {
        self.received().iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect()
    }
}

/// The app's state with webhooks allowed to loopback (as the operator's setting does), or
/// with `reach` as given.
fn with_reach(app: &TestApp, reach: Reach) -> AppState {
    AppState::new(AppStateParts { webhooks: reach, ..(*app.state).clone() })
}

fn loopback_allowed(app: &TestApp) -> AppState {
    with_reach(app, Reach { allow_private: true, ..Reach::default() })
}

fn lane() -> LaneConfig {
    LaneConfig::new("test-runner".into())
}

async fn invite(state: &AppState, owner: &app::services::Actor, email: &str) -> String {
    let grants = vec![TestApp::grant(&account_scope(state).await, Role::Member)];
    let request = InviteRequest { addresses: email.into(), grants, message: None, send_despite_typos: false };
    service::invite(state, owner, request).await.unwrap();
    user_id_of(state, email).await
}

async fn account_scope(state: &AppState) -> String {
    sqlx::query_scalar("SELECT id FROM scopes WHERE kind = 'account'").fetch_one(&state.db.pool).await.unwrap()
}

async fn number(state: &AppState, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&state.db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Checks a request's Standard Webhooks signature against `secret` (the specification's
/// recipe, written out here; the browser test checks with an independent implementation).
fn signed_with(received: &Received, secret: &str) -> bool {
    let header = |name: &str| received.headers.get(name).unwrap().to_str().unwrap().to_string();
    let expected = delivery::signature(&[secret], &header("webhook-id"), header("webhook-timestamp").parse().unwrap(), &received.body).unwrap();
    header("webhook-signature").split(' ').any(|s| s == expected)
}

#[tokio::test]
async fn a_receiver_answering_500_then_200_gets_the_event_exactly_once_after_the_retry() {
    let app = TestApp::with_owner().await;
    let state = loopback_allowed(&app);
    let owner = app.owner().await;
    let receiver = Receiver::start(&[500, 200]).await;
    let made = webhooks::create(&state, &owner, &receiver.url(), "HR system", &[WebhookEvent::InvitationCreated]).await.unwrap();
    assert!(made.secret.starts_with("whsec_"));
    invite(&state, &owner, "ada@example.com").await;

    assert_eq!(delivery::run_due(&state, &lane()).await.unwrap(), 1);
    assert_eq!(receiver.received().len(), 1, "the first attempt reached the receiver");
    // Not due again until the schedule's wait has passed.
    assert_eq!(delivery::run_due(&state, &lane()).await.unwrap(), 0);
    let listed = webhooks::deliveries(&state, &owner, &made.endpoint.id).await.unwrap();
    let first = &listed.deliveries[0];
    assert_eq!((first.state, first.attempts, first.last_status), (WebhookDeliveryState::Pending, 1, Some(500)));
    assert_eq!(first.response_excerpt.as_deref(), Some("answer 1"));

    app.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(delivery::run_due(&state, &lane()).await.unwrap(), 1);
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(delivery::run_due(&state, &lane()).await.unwrap(), 0, "a delivered event is never sent again");

    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"], "a retry carries the event's id");
    assert_eq!(got[0].body, got[1].body, "every attempt sends the same bytes");
    assert!(got.iter().all(|r| signed_with(r, &made.secret)));
    let event = &receiver.events()[1];
    assert_eq!(event["type"], "invitation.created");
    assert_eq!(event["data"]["invitation"]["email"], "ada@example.com");
    assert_eq!(event["data"]["invitation"]["roles"][0]["role_name"], "Member");
    let listed = webhooks::deliveries(&state, &owner, &made.endpoint.id).await.unwrap();
    assert_eq!((listed.deliveries[0].state, listed.deliveries[0].attempts), (WebhookDeliveryState::Delivered, 2));
    assert_eq!(listed.endpoint.failing_since_ms, None, "a success ends the run of failures");
}

/// Answers `first` once, then `then` forever: a name whose owner points it at a public
/// address while Beckon checks it, and at loopback when Beckon sends.
struct Rebinding {
    first: SocketAddr,
    then: SocketAddr,
    asked: Mutex<usize>,
}

impl Resolver for Rebinding {
    fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        let mut asked = self.asked.lock().unwrap();
        *asked += 1;
        let answer = if *asked == 1 { self.first } else { self.then };
        Box::pin(async move { Ok(vec![answer]) })
    }
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_when_the_event_is_sent_is_refused() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let receiver = Receiver::start(&[200]).await;
    let public: SocketAddr = "93.184.216.34:80".parse().unwrap();
    let resolver = Arc::new(Rebinding { first: public, then: receiver.addr, asked: Mutex::new(0) });
    let state = with_reach(&app, Reach { allow_private: false, resolver: resolver.clone(), ..Reach::default() });
    let url = format!("http://hooks.rebind.example:{}/in", receiver.addr.port());
    let made = webhooks::create(&state, &owner, &url, "", &[WebhookEvent::InvitationCreated]).await.unwrap();
    invite(&state, &owner, "ada@example.com").await;

    assert_eq!(delivery::run_due(&state, &lane()).await.unwrap(), 1);
    assert_eq!(*resolver.asked.lock().unwrap(), 2, "resolved again when sending");
    assert!(receiver.received().is_empty(), "nothing reached the loopback receiver");
    let listed = webhooks::deliveries(&state, &owner, &made.endpoint.id).await.unwrap();
    let refused = listed.deliveries[0].last_error.clone().unwrap();
    assert!(refused.starts_with("Refused: hooks.rebind.example leads to a loopback address, inside this deployment's network."), "{refused}");
    assert!(!refused.contains("127.0.0.1"), "the address is not said: {refused}");

    // An address of the deployment's own is refused when the endpoint is made, too.
    for inside in ["http://127.0.0.1:9/x", "http://10.0.0.8/x", "http://169.254.169.254/latest/meta-data", "http://[::1]:9/"] {
        let error = webhooks::create(&state, &owner, inside, "", &[WebhookEvent::InvitationCreated]).await.unwrap_err();
        assert!(matches!(&error, AppError::Validation(m) if m.starts_with("Refused:")), "{inside}: {error:?}");
    }
}

#[tokio::test]
async fn a_receiver_that_cannot_be_reached_costs_one_attempt_per_batch_not_one_per_event() {
    let app = TestApp::with_owner().await;
    let state = loopback_allowed(&app);
    let owner = app.owner().await;
    // A port nobody listens on any more.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let made = webhooks::create(&state, &owner, &format!("http://{closed}/in"), "", &[WebhookEvent::InvitationCreated]).await.unwrap();
    let lane = LaneConfig { concurrency: 1, ..lane() };
    for i in 0..5 {
        invite(&state, &owner, &format!("p{i}@example.com")).await;
    }
    assert_eq!(delivery::run_due(&state, &lane).await.unwrap(), 1, "one attempt; the others were put back untried");
    let listed = webhooks::deliveries(&state, &owner, &made.endpoint.id).await.unwrap().deliveries;
    let mut attempts: Vec<i64> = listed.iter().map(|d| d.attempts).collect();
    attempts.sort();
    assert_eq!(attempts, [0, 0, 0, 0, 1]);
    assert!(listed.iter().all(|d| d.state == WebhookDeliveryState::Pending));
}

#[tokio::test]
async fn each_change_writes_its_event_for_the_endpoints_that_hear_it_and_a_refused_one_writes_none() {
    let app = TestApp::with_owner().await;
    let state = loopback_allowed(&app);
    let owner = app.owner().await;
    let everything = Receiver::start(&[200]).await;
    let only_accepts = Receiver::start(&[200]).await;
    webhooks::create(&state, &owner, &everything.url(), "", &WebhookEvent::SUBSCRIBABLE).await.unwrap();
    webhooks::create(&state, &owner, &only_accepts.url(), "", &[WebhookEvent::InvitationAccepted]).await.unwrap();

    let ada = invite(&state, &owner, "ada@example.com").await;
    let bob = invite(&state, &owner, "bob@example.com").await;
    let link = service::copy_link(&state, &owner, &ada).await.unwrap();
    let input = AcceptInput { name: "Ada Lovelace".into(), password: "analytical engine 1843".into(), password_confirmation: "analytical engine 1843".into() };
    accept::accept(&state, link.rsplit('/').next().unwrap(), input, None, None).await.unwrap();
    service::act(&state, &owner, &bob, InvitationAction::Cancel).await.unwrap();
    app::services::people::act(&state, &owner, &ada, PersonAction::Deactivate).await.unwrap();
    // Deactivating someone invited cancels their invitation: that is said too.
    let carol = invite(&state, &owner, "carol@example.com").await;
    app::services::people::act(&state, &owner, &carol, PersonAction::Deactivate).await.unwrap();
    let before = number(&state, "SELECT COUNT(*) FROM webhook_events").await;
    // Cancelling again is refused: no event.
    service::act(&state, &owner, &bob, InvitationAction::Cancel).await.unwrap_err();
    assert_eq!(number(&state, "SELECT COUNT(*) FROM webhook_events").await, before, "a refused change writes no event");

    delivery::run_due(&state, &lane()).await.unwrap();
    let types: Vec<String> = everything.events().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "invitation.accepted",
            "invitation.cancelled",
            "invitation.cancelled",
            "invitation.created",
            "invitation.created",
            "invitation.created",
            "user.deactivated",
            "user.deactivated"
        ]
    );
    let carols =
        everything.events().into_iter().find(|e| e["type"] == "invitation.cancelled" && e["data"]["invitation"]["email"] == "carol@example.com").unwrap();
    assert_eq!(carols["data"]["reason"], "person deactivated");
    let accepts = only_accepts.events();
    assert_eq!(accepts.len(), 1);
    assert_eq!(accepts[0]["type"], "invitation.accepted");
    assert_eq!(accepts[0]["data"]["invitation"]["state"], "accepted");
    assert_eq!(accepts[0]["data"]["invitation"]["user_id"], ada.as_str());
    let deactivated = everything.events().into_iter().find(|e| e["type"] == "user.deactivated" && e["data"]["user"]["id"] == ada.as_str()).unwrap();
    assert_eq!(deactivated["data"]["user"]["email"], "ada@example.com");
    assert_eq!(deactivated["data"]["by_user_id"], owner.user_id.as_str());
    // Ids are unique per event, the same for both endpoints' deliveries of it.
    let ids: std::collections::BTreeSet<String> = everything.received().iter().map(|r| r.headers["webhook-id"].to_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 8);
    assert!(ids.contains(only_accepts.received()[0].headers["webhook-id"].to_str().unwrap()));
}

#[tokio::test]
async fn an_expired_invitation_is_announced_once_and_none_from_before_the_endpoint() {
    let app = TestApp::with_owner().await;
    let state = loopback_allowed(&app);
    let owner = app.owner().await;
    let old = invite(&state, &owner, "old@example.com").await;
    sqlx::query("UPDATE invitations SET expires_at = $1 WHERE user_id = $2").bind(app.clock_ms() - 1).bind(&old).execute(&state.db.pool).await.unwrap();
    let receiver = Receiver::start(&[200]).await;
    webhooks::create(&state, &owner, &receiver.url(), "", &[WebhookEvent::InvitationExpired]).await.unwrap();
    assert_eq!(events::sweep_expired(&state).await.unwrap(), 0, "the first sweep starts now");

    let ada = invite(&state, &owner, "ada@example.com").await;
    let expires_at: i64 = sqlx::query_scalar("SELECT expires_at FROM invitations WHERE user_id = $1").bind(&ada).fetch_one(&state.db.pool).await.unwrap();
    app.clock.advance(chrono::Duration::milliseconds(expires_at - app.clock_ms() + 1));
    // Two runners sweeping at once announce it once.
    let (a, b) = tokio::join!(events::sweep_expired(&state), events::sweep_expired(&state));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(events::sweep_expired(&state).await.unwrap(), 0);
    delivery::run_due(&state, &lane()).await.unwrap();
    let got = receiver.events();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["type"], "invitation.expired");
    assert_eq!(got[0]["data"]["invitation"]["email"], "ada@example.com");
    assert_eq!(got[0]["data"]["invitation"]["state"], "expired");
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_and_the_administrators_are_told() {
    let app = TestApp::with_owner().await;
    let state = loopback_allowed(&app);
    let owner = app.owner().await;
    let receiver = Receiver::start(&[503]).await;
    let made = webhooks::create(&state, &owner, &receiver.url(), "", &[WebhookEvent::InvitationCreated]).await.unwrap();
    for day in 0..6 {
        invite(&state, &owner, &format!("day{day}@example.com")).await;
        delivery::run_due(&state, &lane()).await.unwrap();
        let enabled = number(&state, &format!("SELECT enabled FROM webhook_endpoints WHERE id = '{}'", made.endpoint.id)).await;
        assert_eq!(enabled, i64::from(day < 5), "day {day}");
        app.clock.advance(chrono::Duration::days(1));
    }
    let listed = webhooks::list(&state, &owner).await.unwrap();
    assert_eq!(listed.endpoints[0].disabled_reason.as_deref(), Some("Every delivery failed for 5 days."));
    let told = number(&state, &format!("SELECT COUNT(*) FROM outbox WHERE kind = 'webhook_disabled' AND recipient = '{OWNER_EMAIL}'")).await;
    assert_eq!(told, 1, "the owner is told once");
    assert_eq!(number(&state, "SELECT COUNT(*) FROM audit_events WHERE action = 'webhook.disabled'").await, 1);
    // Disabled: nothing more is sent, and a test event is refused.
    let sent = receiver.received().len();
    invite(&state, &owner, "after@example.com").await;
    app.clock.advance(chrono::Duration::days(1));
    delivery::run_due(&state, &lane()).await.unwrap();
    assert_eq!(receiver.received().len(), sent);
    assert!(matches!(webhooks::send_test(&state, &owner, &made.endpoint.id).await, Err(AppError::InvalidState(_))));
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_until_the_grace_period_ends() {
    let app = TestApp::with_owner().await;
    let state = loopback_allowed(&app);
    let owner = app.owner().await;
    let receiver = Receiver::start(&[200]).await;
    let made = webhooks::create(&state, &owner, &receiver.url(), "", &[WebhookEvent::InvitationCreated]).await.unwrap();
    let rotated = webhooks::rotate_secret(&state, &owner, &made.endpoint.id).await.unwrap();
    assert_ne!(rotated.secret, made.secret);
    webhooks::send_test(&state, &owner, &made.endpoint.id).await.unwrap();
    delivery::run_due(&state, &lane()).await.unwrap();
    let first = &receiver.received()[0];
    assert_eq!(first.headers["webhook-signature"].to_str().unwrap().split(' ').count(), 2);
    assert!(signed_with(first, &made.secret) && signed_with(first, &rotated.secret));
    assert_eq!(receiver.events()[0]["type"], "webhook.test");

    app.clock.advance(chrono::Duration::hours(25));
    webhooks::send_test(&state, &owner, &made.endpoint.id).await.unwrap();
    delivery::run_due(&state, &lane()).await.unwrap();
    let second = &receiver.received()[1];
    assert!(signed_with(second, &rotated.secret));
    assert!(!signed_with(second, &made.secret), "the previous secret no longer signs");
}

#[tokio::test]
async fn a_failed_delivery_is_retried_by_hand_and_a_runner_that_died_leaves_its_deliveries_to_another() {
    let app = TestApp::with_owner().await;
    let state = loopback_allowed(&app);
    let owner = app.owner().await;
    let receiver = Receiver::start(&[500, 500, 500, 500, 500, 500, 500, 500, 200]).await;
    let made = webhooks::create(&state, &owner, &receiver.url(), "", &[WebhookEvent::InvitationCreated]).await.unwrap();
    invite(&state, &owner, "ada@example.com").await;
    for _ in 0..shared::webhooks::MAX_ATTEMPTS {
        delivery::run_due(&state, &lane()).await.unwrap();
        app.clock.advance(chrono::Duration::hours(11));
    }
    let failed = webhooks::deliveries(&state, &owner, &made.endpoint.id).await.unwrap().deliveries.remove(0);
    assert_eq!((failed.state, failed.attempts), (WebhookDeliveryState::Failed, shared::webhooks::MAX_ATTEMPTS));
    webhooks::retry(&state, &owner, &failed.id).await.unwrap();
    assert!(matches!(webhooks::retry(&state, &owner, &failed.id).await, Err(AppError::InvalidState(_))), "only a failed one");
    delivery::run_due(&state, &lane()).await.unwrap();
    let done = webhooks::deliveries(&state, &owner, &made.endpoint.id).await.unwrap().deliveries.remove(0);
    assert_eq!(done.state, WebhookDeliveryState::Delivered);

    // A runner claims a delivery and dies before sending: once its lease lapses another
    // takes it and sends it.
    webhooks::send_test(&state, &owner, &made.endpoint.id).await.unwrap();
    let now = app.clock_ms();
    let claimed = app::services::store::webhooks::claim(&state.db, "dead-runner", now, now + 120_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(delivery::run_due(&state, &lane()).await.unwrap(), 0, "leased to the other runner");
    app.clock.advance(chrono::Duration::seconds(121));
    assert_eq!(delivery::run_due(&state, &lane()).await.unwrap(), 1);
    assert_eq!(receiver.events().last().unwrap()["type"], "webhook.test");

    // Ended deliveries are kept 30 days, then forgotten with their events.
    assert_eq!(webhooks::prune(&state).await.unwrap(), 0);
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(webhooks::prune(&state).await.unwrap(), 2);
    assert_eq!(number(&state, "SELECT COUNT(*) FROM webhook_events").await, 0);
}

#[tokio::test]
async fn deleting_a_person_erases_the_events_about_them_and_stops_their_deliveries() {
    let app = TestApp::with_owner().await;
    let state = loopback_allowed(&app);
    let owner = app.owner().await;
    let receiver = Receiver::start(&[200]).await;
    webhooks::create(&state, &owner, &receiver.url(), "", &[WebhookEvent::InvitationCreated]).await.unwrap();
    let ada = invite(&state, &owner, "ada@example.com").await;
    app::services::people::delete(&state, &owner, &ada).await.unwrap();
    delivery::run_due(&state, &lane()).await.unwrap();
    assert!(receiver.received().is_empty());
    assert_eq!(number(&state, "SELECT COUNT(*) FROM webhook_events WHERE payload LIKE '%ada@example.com%'").await, 0);
    assert_eq!(number(&state, "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'failed'").await, 1);
}
