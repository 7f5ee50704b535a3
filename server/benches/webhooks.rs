//! Webhook deliveries into a receiver on loopback: events written by inviting people (one
//! event each), then the runner's lane sends them, signed, each on a connection of its own.
//! Not a test: it prints deliveries a second.
//!     cargo bench -p server --bench webhooks                              (SQLite)
//!     scripts/with-postgres.sh cargo bench -p server --bench webhooks    (PostgreSQL)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // bench code: a failure is the bench's answer

#[path = "../tests/common/mod.rs"]
mod common;

use app::services::invitations::service::{self, InviteRequest};
use app::services::webhooks::client::Reach;
use app::services::webhooks::delivery::{self, LaneConfig};
use app::services::{AppState, AppStateParts};
use common::TestApp;
use shared::webhooks::WebhookEvent;
use shared::Role;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

const EVENTS: usize = 2_000;
const RUNS: usize = 3;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let received = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let received = received.clone();
        axum::Router::new().fallback(move |_body: String| {
            let received = received.clone();
            async move {
                received.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        })
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    for run in 0..RUNS {
        let app = TestApp::with_owner().await;
        let engine = app.state.db.engine();
        let state = AppState::new(AppStateParts { webhooks: Reach { allow_private: true, ..Reach::default() }, ..(*app.state).clone() });
        let owner = app.owner().await;
        app::services::webhooks::create(&state, &owner, &url, "", &[WebhookEvent::InvitationCreated]).await.unwrap();
        for batch in 0..EVENTS / 500 {
            let addresses: Vec<String> = (0..500).map(|i| format!("p{batch}-{i}@example.com")).collect();
            let request = InviteRequest {
                addresses: addresses.join(", "),
                grants: vec![TestApp::grant(&app.account_scope, Role::Member)],
                message: None,
                send_despite_typos: false,
            };
            service::invite(&state, &owner, request).await.unwrap();
        }
        let before = received.load(Ordering::Relaxed);
        let started = Instant::now();
        let attempted = delivery::run_due(&state, &LaneConfig::new("bench".into())).await.unwrap();
        let took = started.elapsed().as_secs_f64();
        assert_eq!(attempted, EVENTS);
        assert_eq!(received.load(Ordering::Relaxed) - before, EVENTS);
        let delivered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'").fetch_one(&state.db.pool).await.unwrap();
        assert_eq!(delivered as usize, EVENTS);
        println!("{engine:?}: run {}: {EVENTS} deliveries in {took:.2} s: {:.0} a second", run + 1, EVENTS as f64 / took);
    }
}
