//! DKIM: messages as the sink received them carry a signature that dkimpy, an independent
//! verifier, accepts with the TXT record Settings shows (and refuses once the message is
//! changed); a rotated key signs from then on while the old record stays listed until
//! removed; an operator's own key becomes the signing key.

use crate::common;

use app::services::mail::dkim;
use app::services::mail::transport::Transport;
use app::services::mail::worker::{dispatch_pending, DeliveryConfig};
use app::services::{AppState, AppStateParts};
use common::smtp_sink::{header, SmtpSink};
use common::*;
use shared::AppError;
use std::io::Write;
use std::process::{Command, Stdio};

/// What dkimpy says of `message` given the record `name` = `value`: "pass …" or "fail …".
fn verify(message: &str, name: &str, value: &str) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/dkim_verify.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(name)
        .arg(value)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs dkimpy (scripts/setup.sh test installs it)");
    child.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn signing(app: &TestApp) -> AppState {
    AppState::new(AppStateParts { dkim: true, ..(*app.state).clone() })
}

fn config() -> DeliveryConfig {
    DeliveryConfig { default_from: "beckon@example.com".into(), dkim: true, ..DeliveryConfig::default() }
}

/// Sends a test email to `to` through the sink; returns it as received.
async fn send(app: &TestApp, sink: &SmtpSink, to: &str) -> String {
    let owner = app.owner().await;
    app::services::mail::log::send_test(&app.state, &owner, to).await.unwrap();
    dispatch_pending(&app.state, &Transport::smtp(&sink.settings()).unwrap(), &config()).await.unwrap();
    sink.messages().into_iter().find(|m| header(m, "To") == Some(to)).expect("the message arrived")
}

fn signature_tag(message: &str, tag: &str) -> String {
    // The header may be folded: unfold it first.
    let unfolded = message.replace("\r\n ", " ").replace("\r\n\t", " ").replace("\n ", " ");
    let signature = header(&unfolded, "DKIM-Signature").expect("a DKIM-Signature header");
    signature.split(';').map(str::trim).find_map(|t| t.strip_prefix(&format!("{tag}="))).unwrap_or_default().to_string()
}

#[tokio::test]
async fn every_message_is_signed_and_an_independent_verifier_accepts_it_with_the_record_settings_shows() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let state = signing(&app);
    app::services::mail::log::save_sender_settings(&app.state, &owner, "Acme", "invites@acme.example", "").await.unwrap();

    // Settings makes the key before the first message, so its record can be published first.
    let settings = dkim::settings(&state, &owner).await.unwrap();
    assert!(settings.enabled);
    assert_eq!(settings.domain, "acme.example");
    assert_eq!(settings.keys.len(), 1);
    let first = settings.keys[0].clone();
    assert!(first.signing);
    assert_eq!(first.record_name, format!("{}._domainkey.acme.example", first.selector));
    assert!(first.record_value.starts_with("v=DKIM1; k=rsa; p=MIIBIjAN"), "an RSA-2048 public key: {}", first.record_value);

    let message = send(&app, &sink, "ada@example.com").await;
    assert_eq!(signature_tag(&message, "d"), "acme.example");
    assert_eq!(signature_tag(&message, "s"), first.selector);
    assert_eq!(signature_tag(&message, "a"), "rsa-sha256");
    let verdict = verify(&message, &first.record_name, &first.record_value);
    assert!(verdict.starts_with("pass"), "{verdict}");
    let changed = message.replace("Subject: Test email", "Subject: Tset email");
    assert_ne!(changed, message);
    assert!(verify(&changed, &first.record_name, &first.record_value).starts_with("fail"), "the verifier really checks");

    // Rotated: the new key signs; the old record stays listed for mail still on its way.
    let banner = dkim::rotate(&state, &owner).await.unwrap();
    assert!(banner.starts_with("Mail is now signed with the key beckon"), "{banner}");
    let keys = dkim::settings(&state, &owner).await.unwrap().keys;
    assert_eq!(keys.len(), 2);
    let (new, old) = (keys[0].clone(), keys[1].clone());
    assert!(new.signing && !old.signing && old.selector == first.selector && new.selector != first.selector);
    let later = send(&app, &sink, "bo@example.com").await;
    assert_eq!(signature_tag(&later, "s"), new.selector);
    assert!(verify(&later, &new.record_name, &new.record_value).starts_with("pass"));
    assert!(verify(&message, &old.record_name, &old.record_value).starts_with("pass"), "mail signed before still checks with the old record");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'settings.dkim_rotated'").await, 1);

    // The signing key cannot be removed; the old one can.
    assert!(matches!(dkim::remove(&state, &owner, &new.selector).await, Err(AppError::InvalidState(_))));
    dkim::remove(&state, &owner, &old.selector).await.unwrap();
    assert_eq!(dkim::settings(&state, &owner).await.unwrap().keys.len(), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'settings.dkim_removed'").await, 1);
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.state.db.pool).await.unwrap()
}

#[tokio::test]
async fn two_workers_making_the_first_key_at_once_make_one() {
    let app = TestApp::with_owner().await;
    let now = app.clock_ms();
    let (a, b) = tokio::join!(dkim::signing_key(&app.state.db, now), dkim::signing_key(&app.state.db, now + 1000));
    assert_eq!(a.unwrap().selector, b.unwrap().selector, "both sign with the same key");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM dkim_keys WHERE retired_at IS NULL").await, 1);
}

#[tokio::test]
async fn an_operators_own_key_becomes_the_signing_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dkim.pem");
    let made = Command::new("openssl").args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"]).arg(&key).output().unwrap();
    assert!(made.status.success(), "openssl makes a key");
    let public = Command::new("openssl").args(["pkey", "-pubout", "-outform", "DER", "-in"]).arg(&key).output().unwrap();
    use base64::Engine as _;
    let public = base64::engine::general_purpose::STANDARD.encode(public.stdout);

    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let pem = std::fs::read_to_string(&key).unwrap();
    dkim::install_given(&app.state.db, "ops2026", &pem, app.clock_ms()).await.unwrap();
    dkim::install_given(&app.state.db, "ops2026", &pem, app.clock_ms()).await.unwrap();
    let keys = dkim::settings(&signing(&app), &owner).await.unwrap().keys;
    assert_eq!(keys.len(), 1, "installed once, however often the server starts");
    assert_eq!(keys[0].selector, "ops2026");
    assert_eq!(keys[0].record_value, format!("v=DKIM1; k=rsa; p={public}"), "the record is the operator's public key");
    let message = send(&app, &sink, "cy@example.com").await;
    assert!(verify(&message, &keys[0].record_name, &keys[0].record_value).starts_with("pass"));
    assert!(dkim::install_given(&app.state.db, "ops2026", "not a key", app.clock_ms()).await.is_err());

    // Rotated in Settings since, the server starting again with the same key file keeps the
    // newer key signing.
    dkim::rotate(&signing(&app), &owner).await.unwrap();
    dkim::install_given(&app.state.db, "ops2026", &pem, app.clock_ms()).await.unwrap();
    let keys = dkim::settings(&signing(&app), &owner).await.unwrap().keys;
    assert!(keys[0].signing && keys[0].selector != "ops2026" && keys[1].selector == "ops2026" && !keys[1].signing);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'settings.dkim_rotated'").await, 1);
}
