//! Mail through the relays operators run: a real SMTP server (aiosmtpd) speaking STARTTLS or
//! implicit TLS under a private certificate authority made for the test, with a login.

use crate::common;

use app::services::mail::transport::{TlsMode, Transport, WRONG_CREDENTIALS};
use app::services::mail::worker::{dispatch_pending, DeliveryConfig, DeliveryReport};
use common::smtp_sink::{SinkOptions, SmtpSink};
use common::*;
use shared::mail::DeliveryState;

const UNTRUSTED: &str = "The SMTP server's certificate is not trusted (issuer unknown). Set BECKON_SMTP_CA_FILE or fix the server's certificate.";

fn config() -> DeliveryConfig {
    DeliveryConfig { max_attempts: 3, default_from: "beckon@example.com".into(), ..DeliveryConfig::default() }
}

fn tls_sink(tls: TlsMode) -> SmtpSink {
    SmtpSink::start_with(SinkOptions { tls: Some(tls), require_starttls: tls == TlsMode::StartTls, login: Some(("beckon".into(), "relay pass 42".into())) })
}

async fn dispatch(app: &TestApp, transport: &Transport) -> DeliveryReport {
    dispatch_pending(&app.state, transport, &config()).await.unwrap()
}

/// (state, attempts, last reply) of every message, oldest first.
async fn outbox(app: &TestApp) -> Vec<(String, i64, Option<String>)> {
    sqlx::query_as("SELECT state, attempts, last_reply FROM outbox ORDER BY created_at, id").fetch_all(&app.state.db.pool).await.unwrap()
}

async fn send_test_email(app: &TestApp) -> String {
    let owner = app.owner().await;
    app::services::mail::log::send_test(&app.state, &owner, "it@example.com").await.unwrap()
}

async fn test_email_row(app: &TestApp, id: &str) -> shared::mail::DeliveryRow {
    app::services::mail::log::message(&app.state, &app.owner().await, id).await.unwrap()
}

#[tokio::test]
async fn starttls_with_a_login_delivers_and_everything_after_hello_is_encrypted() {
    let sink = tls_sink(TlsMode::StartTls);
    let app = TestApp::with_owner().await;
    let id = send_test_email(&app).await;
    let transport = Transport::smtp(&sink.signed_in_settings(Some(sink.certs().ca()))).unwrap();
    assert_eq!(dispatch(&app, &transport).await, DeliveryReport { sent: 1, deferred: 0, failed: 0 });
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.commands(), vec!["AUTH tls", "MAIL tls", "RCPT tls"]);
    assert!(test_email_row(&app, &id).await.last_reply.unwrap().starts_with("250 "));
}

#[tokio::test]
async fn implicit_tls_with_a_login_delivers() {
    let sink = tls_sink(TlsMode::Implicit);
    let app = TestApp::with_owner().await;
    app.queue_test_emails(3).await;
    let transport = Transport::smtp(&sink.signed_in_settings(Some(sink.certs().ca()))).unwrap();
    let report = dispatch(&app, &transport).await;
    assert_eq!(report, DeliveryReport { sent: 3, deferred: 0, failed: 0 }, "{:?}", outbox(&app).await);
    assert_eq!(sink.messages().len(), 3);
    assert!(!sink.commands().is_empty() && sink.commands().iter().all(|c| c.ends_with(" tls")), "{:?}", sink.commands());
}

#[tokio::test]
async fn a_wrong_password_is_said_plainly_and_held_mail_goes_out_once_it_is_fixed() {
    let sink = tls_sink(TlsMode::StartTls);
    let app = TestApp::with_owner().await;
    let test_email = send_test_email(&app).await;
    let owner = app.owner().await;
    let invite = app::services::invitations::service::InviteRequest {
        addresses: "ada@example.com".into(),
        grants: app.account_grants(&[shared::Role::Member]),
        message: None,
        send_despite_typos: false,
    };
    app::services::invitations::service::invite(&app.state, &owner, invite).await.unwrap();
    let mut wrong = sink.signed_in_settings(Some(sink.certs().ca()));
    wrong.password = Some(app::services::mail::transport::SmtpPassword::new("not the password".into()));
    dispatch(&app, &Transport::smtp(&wrong).unwrap()).await;

    // The test email shows the problem at once; the invitation waits without using up attempts.
    let row = test_email_row(&app, &test_email).await;
    assert_eq!((row.state, row.last_reply.as_deref()), (DeliveryState::Failed, Some(WRONG_CREDENTIALS)));
    let invitation: (String, i64, Option<String>) =
        sqlx::query_as("SELECT state, attempts, last_reply FROM outbox WHERE kind = 'invitation'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(invitation, ("deferred".into(), 0, Some(WRONG_CREDENTIALS.into())));
    let settings = app::services::mail::log::sender_settings(&app.state, &owner).await.unwrap();
    assert_eq!(settings.problem.map(|p| p.text), Some(WRONG_CREDENTIALS.to_string()), "Settings → Outgoing email shows it");
    assert!(!sink.commands().is_empty() && sink.commands().iter().all(|c| c == "AUTH tls"), "nothing but the refused login: {:?}", sink.commands());

    // The operator fixes the password; the held invitation goes out on the next try.
    app.clock.advance(chrono::Duration::minutes(6));
    let fixed = Transport::smtp(&sink.signed_in_settings(Some(sink.certs().ca()))).unwrap();
    assert_eq!(dispatch(&app, &fixed).await.sent, 1);
    assert_eq!(sink.messages().len(), 1);
    assert!(app::services::mail::log::sender_settings(&app.state, &owner).await.unwrap().problem.is_none(), "the problem is cleared");
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_is_refused_until_the_ca_file_names_it() {
    let sink = tls_sink(TlsMode::StartTls);
    let app = TestApp::with_owner().await;
    for ca_file in [None, Some(sink.certs().other_ca())] {
        let id = send_test_email(&app).await;
        dispatch(&app, &Transport::smtp(&sink.signed_in_settings(ca_file)).unwrap()).await;
        let row = test_email_row(&app, &id).await;
        assert_eq!((row.state, row.last_reply.as_deref()), (DeliveryState::Failed, Some(UNTRUSTED)));
    }
    assert!(sink.commands().is_empty(), "no login, no mail before the certificate checked out: {:?}", sink.commands());
    let id = send_test_email(&app).await;
    dispatch(&app, &Transport::smtp(&sink.signed_in_settings(Some(sink.certs().ca()))).unwrap()).await;
    assert_eq!(test_email_row(&app, &id).await.state, DeliveryState::Sent);
    let outbox = outbox(&app).await;
    assert!(!outbox.is_empty() && outbox.iter().all(|(_, _, reply)| !reply.as_deref().unwrap_or_default().contains("Connection error")));
}

#[tokio::test]
async fn a_server_without_starttls_is_refused_and_nothing_crosses_in_the_clear() {
    let sink = SmtpSink::start_with(SinkOptions { login: Some(("beckon".into(), "relay pass 42".into())), ..Default::default() });
    let app = TestApp::with_owner().await;
    let id = send_test_email(&app).await;
    let mut settings = sink.signed_in_settings(None);
    settings.tls = TlsMode::StartTls;
    dispatch(&app, &Transport::smtp(&settings).unwrap()).await;
    let row = test_email_row(&app, &id).await;
    assert_eq!(row.state, DeliveryState::Failed);
    assert!(row.last_reply.as_deref().unwrap().starts_with("The SMTP server does not offer STARTTLS, so nothing was sent"), "{row:?}");
    assert!(sink.commands().is_empty(), "no password and no mail went out in plain text: {:?}", sink.commands());
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_says_which_setting_to_check() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    let id = send_test_email(&app).await;
    let mut settings = sink.settings();
    settings.tls = TlsMode::Implicit;
    dispatch(&app, &Transport::smtp(&settings).unwrap()).await;
    let reply = test_email_row(&app, &id).await.last_reply.unwrap();
    assert!(reply.contains("did not answer with TLS") && reply.contains("BECKON_SMTP_TLS"), "{reply}");
}

#[tokio::test]
async fn a_refused_connection_reads_plainly() {
    let mut sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    let settings = sink.settings();
    sink.stop();
    send_test_email(&app).await;
    dispatch(&app, &Transport::smtp(&settings).unwrap()).await;
    let (state, attempts, reply) = outbox(&app).await.remove(0);
    assert_eq!((state.as_str(), attempts), ("deferred", 1), "a server that is down is worth trying again");
    let reply = reply.unwrap();
    assert!(reply.starts_with(&format!("cannot connect to 127.0.0.1:{}", settings.port)) && !reply.contains("Connection error"), "{reply}");
}
