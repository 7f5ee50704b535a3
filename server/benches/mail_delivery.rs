//! Delivery throughput: 5,000 queued messages sent to a real SMTP server on loopback
//! (aiosmtpd), in plain SMTP and over STARTTLS with a login, with SMTP pools of 1 and 8
//! connections, then plain SMTP with pool 8 and every message signed with DKIM (RSA-2048), as
//! a deployment sends by default. Not a test: it prints figures.
//!     cargo bench -p server --bench mail_delivery
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the test's answer

#[path = "../tests/common/mod.rs"]
mod common;

use app::services::mail::transport::{TlsMode, Transport};
use app::services::mail::worker::{dispatch_pending, DeliveryConfig};
use common::smtp_sink::{SinkOptions, SmtpSink};
use common::TestApp;
use std::time::Instant;

const MESSAGES: usize = 5_000;

#[tokio::main]
async fn main() {
    println!("delivering {MESSAGES} queued messages to an SMTP server on loopback");
    for (encrypted, pool_size, dkim) in [(false, 1u32, false), (false, 8, false), (true, 1, false), (true, 8, false), (false, 8, true)] {
        {
            let sink = if encrypted {
                SmtpSink::start_with(SinkOptions {
                    tls: Some(TlsMode::StartTls),
                    require_starttls: true,
                    login: Some(("beckon".into(), "relay pass 42".into())),
                })
            } else {
                SmtpSink::start()
            };
            let app = TestApp::with_owner().await;
            app.queue_test_emails(MESSAGES).await;
            let mut settings = if encrypted { sink.signed_in_settings(Some(sink.certs().ca())) } else { sink.settings() };
            settings.pool_size = pool_size;
            let transport = Transport::smtp(&settings).unwrap();
            let config = DeliveryConfig { concurrency: pool_size as usize, default_from: "beckon@example.com".into(), dkim, ..DeliveryConfig::default() };
            if dkim {
                // The key exists before the clock starts, as it does once a deployment has sent.
                app::services::mail::dkim::signing_key(&app.state.db, app.clock_ms()).await.unwrap();
            }
            let started = Instant::now();
            let report = dispatch_pending(&app.state, &transport, &config).await.unwrap();
            let elapsed = started.elapsed();
            assert_eq!(report.sent, MESSAGES, "{report:?}");
            assert_eq!(sink.messages().len(), MESSAGES);
            println!(
                "{}{}, pool size {pool_size}: {MESSAGES} sent in {:.2} s = {:.0} messages/s",
                if encrypted { "STARTTLS + AUTH" } else { "plain SMTP" },
                if dkim { ", DKIM-signed" } else { "" },
                elapsed.as_secs_f64(),
                MESSAGES as f64 / elapsed.as_secs_f64()
            );
        }
    }
}
