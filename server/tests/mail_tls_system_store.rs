//! Without BECKON_SMTP_CA_FILE, a mail server's certificate is checked against the
//! operating system's trust store. This file is a test binary of its own: it points the
//! system store (SSL_CERT_FILE, as an operator's `update-ca-certificates` would fill it) at the
//! test's authority, which no other test must see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure is the test's answer

mod common;

use app::services::mail::transport::{TlsMode, Transport};
use app::services::mail::worker::{dispatch_pending, DeliveryConfig};
use common::smtp_sink::{SinkOptions, SmtpSink};
use common::*;

#[tokio::test]
async fn an_authority_in_the_systems_trust_store_is_trusted_without_a_ca_file() {
    let sink =
        SmtpSink::start_with(SinkOptions { tls: Some(TlsMode::StartTls), require_starttls: true, login: Some(("beckon".into(), "relay pass 42".into())) });
    // The only test in this binary, so nothing else reads the variable meanwhile.
    std::env::set_var("SSL_CERT_FILE", sink.certs().ca());
    let app = TestApp::with_owner().await;
    app.queue_test_emails(1).await;
    let transport = Transport::smtp(&sink.signed_in_settings(None)).unwrap();
    let config = DeliveryConfig { default_from: "beckon@example.com".into(), ..DeliveryConfig::default() };
    let report = dispatch_pending(&app.state, &transport, &config).await.unwrap();
    assert_eq!(report.sent, 1, "{:?}", sqlx::query_scalar::<_, Option<String>>("SELECT last_reply FROM outbox").fetch_all(&app.state.db.pool).await.unwrap());
    assert_eq!(sink.messages().len(), 1);
}
