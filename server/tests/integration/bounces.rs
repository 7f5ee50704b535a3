//! Bounces over real SMTP sessions: the worker's return path seen by a sink, and reports of
//! each kind sent to the listener (hard, soft, several recipients, without a report part, an
//! automatic reply, a forged tag, another domain, too big, too many sessions), with what
//! the admin then sees and may do: the row, the held resend, the notice, the audit line.

use crate::common;

use app::services::invitations::reminders;
use app::services::invitations::service::{self, InviteRequest};
use app::services::jobs;
use app::services::mail::bounces;
use app::services::mail::transport::Transport;
use app::services::mail::worker::{dispatch_pending, DeliveryConfig};
use common::smtp_sink::{header, SmtpSink};
use common::*;
use server::bounces::BounceSettings;
use shared::bulk::{BulkAction, Selection, SkipReason};
use shared::invitations::InvitationAction;
use shared::mail::BounceKind;
use shared::views::UsersQuery;
use shared::{AppError, Role};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const DOMAIN: &str = "bounces.example.com";
const INVITEE: &str = "lost@example.org";

/// A listener on a free loopback port for `app`, with `settings`.
async fn listener(app: &TestApp, settings: BounceSettings) -> u16 {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(server::bounces::serve(socket, settings, app.state.clone(), std::future::pending()));
    port
}

async fn default_listener(app: &TestApp) -> u16 {
    listener(app, BounceSettings::new(DOMAIN.into())).await
}

/// One SMTP client session: each command with the reply it got (the first line of it), the
/// greeting first. `data` is sent after DATA when the server answered 354.
async fn session(port: u16, from: &str, recipients: &[String], data: Option<&str>) -> Vec<String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
        let mut first = String::new();
        loop {
            let mut line = String::new();
            if read.read_line(&mut line).await.unwrap() == 0 {
                return if first.is_empty() { "closed".into() } else { first };
            }
            if first.is_empty() {
                first = line.trim_end().to_string();
            }
            // "250-…" continues; "250 …" ends the reply.
            if line.as_bytes().get(3) != Some(&b'-') {
                return first;
            }
        }
    }
    let mut replies = vec![reply(&mut read).await];
    if !replies[0].starts_with("220") {
        return replies;
    }
    let mut commands = vec!["EHLO mx.example.org".to_string(), format!("MAIL FROM:<{from}>")];
    commands.extend(recipients.iter().map(|r| format!("RCPT TO:<{r}>")));
    commands.push("DATA".into());
    for command in commands {
        if write.write_all(format!("{command}\r\n").as_bytes()).await.is_err() {
            break;
        }
        let answer = reply(&mut read).await;
        let go_on = answer.starts_with('2') || answer.starts_with('3') || (command.starts_with("RCPT") && answer.starts_with('5'));
        replies.push(answer.clone());
        if answer.starts_with("354") {
            let body = data.unwrap_or_default().replace("\r\n", "\n").replace('\n', "\r\n");
            let stuffed: String = body.split("\r\n").map(|l| if l.starts_with('.') { format!(".{l}\r\n") } else { format!("{l}\r\n") }).collect();
            write.write_all(stuffed.as_bytes()).await.unwrap();
            write.write_all(b".\r\n").await.unwrap();
            replies.push(reply(&mut read).await);
        }
        if !go_on {
            break;
        }
    }
    let _ = write.write_all(b"QUIT\r\n").await;
    replies
}

/// An invitation to `email` from the owner, and its message's id.
async fn invite(app: &TestApp, email: &str) -> String {
    let owner = app.owner().await;
    let request = InviteRequest { addresses: email.into(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: false };
    service::invite(&app.state, &owner, request).await.unwrap();
    sqlx::query_scalar("SELECT id FROM outbox WHERE recipient = $1 AND kind = 'invitation' ORDER BY created_at DESC LIMIT 1")
        .bind(email)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

fn return_path(app: &TestApp, message_id: &str) -> String {
    bounces::return_path(&app.state.link_key, message_id, DOMAIN)
}

/// A delivery status notification (RFC 3464) for `groups`: (recipient, action, status, diagnostic).
fn dsn(groups: &[(&str, &str, &str, &str)]) -> String {
    let per_recipient: String = groups
        .iter()
        .map(|(recipient, action, status, diagnostic)| {
            format!("\nFinal-Recipient: rfc822; {recipient}\nAction: {action}\nStatus: {status}\nRemote-MTA: dns; mx.example.org\nDiagnostic-Code: smtp; {diagnostic}\n")
        })
        .collect();
    format!(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: <bounces@{DOMAIN}>\nSubject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B0\"\n\n--B0\nContent-Type: text/plain\n\nThis is the mail system. Your message could not be delivered.\n\n--B0\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\nArrival-Date: Mon, 7 Dec 2026 10:00:00 +0000\n{per_recipient}\n--B0\nContent-Type: text/rfc822-headers\n\nSubject: You are invited\n.hidden dot-stuffed line\n\n--B0--\n"
    )
}

fn hard_dsn() -> String {
    dsn(&[(INVITEE, "failed", "5.1.1", "550 5.1.1 <lost@example.org>: Recipient address rejected: User unknown in virtual mailbox table")])
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.state.db.pool).await.unwrap()
}

async fn bounce_of(app: &TestApp, message_id: &str) -> (Option<String>, Option<String>) {
    sqlx::query_as("SELECT bounce_kind, bounce_reply FROM outbox WHERE id = $1").bind(message_id).fetch_one(&app.state.db.pool).await.unwrap()
}

#[tokio::test]
async fn the_worker_sends_each_message_from_its_own_return_path() {
    let sink = SmtpSink::start();
    let app = TestApp::with_owner().await;
    let id = invite(&app, INVITEE).await;
    let config = DeliveryConfig { default_from: "beckon@example.com".into(), bounce_domain: Some(DOMAIN.into()), ..DeliveryConfig::default() };
    dispatch_pending(&app.state, &Transport::smtp(&sink.settings()).unwrap(), &config).await.unwrap();
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let path = header(&messages[0], "Return-Path").unwrap();
    assert_eq!(path, format!("<{}>", return_path(&app, &id)), "the envelope's sender is the message's own address");
    assert!(path.starts_with(&format!("<bounces+{id}.")), "{path}");
    assert_eq!(bounces::message_of(&app.state.link_key, path, DOMAIN), Some(id), "and the listener reads it back");
    assert!(header(&messages[0], "From").unwrap().contains("beckon@example.com"), "the From header is unchanged");

    // Without a bounce domain the envelope's sender is the From address.
    invite(&app, "plain@example.org").await;
    let plain = DeliveryConfig { bounce_domain: None, ..config };
    dispatch_pending(&app.state, &Transport::smtp(&sink.settings()).unwrap(), &plain).await.unwrap();
    assert_eq!(header(&sink.messages()[1], "Return-Path"), Some("<beckon@example.com>"));
}

#[tokio::test]
async fn a_hard_bounce_is_shown_holds_the_address_tells_the_inviter_once_and_is_audited() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let id = invite(&app, INVITEE).await;
    let port = default_listener(&app).await;
    let replies = session(port, "", &[return_path(&app, &id)], Some(&hard_dsn())).await;
    assert_eq!(replies.last().unwrap(), "250 2.0.0 Received", "{replies:?}");

    let (kind, reply) = bounce_of(&app, &id).await;
    assert_eq!(kind.as_deref(), Some("hard"));
    assert_eq!(reply.as_deref(), Some("550 5.1.1 <lost@example.org>: Recipient address rejected: User unknown in virtual mailbox table"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM held_addresses WHERE email = 'lost@example.org'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.bounced' AND actor_user_id IS NULL").await, 1);
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM outbox WHERE kind = 'bounce_notice' AND recipient = '{OWNER_EMAIL}'")).await,
        1,
        "the inviter is told"
    );

    // The Users row: the bounce in the remote server's words, and the hold.
    let page = app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    let row = page.rows.iter().find(|r| r.email == INVITEE).unwrap();
    let invitation = row.invitation.as_ref().unwrap();
    let email = invitation.latest_email.as_ref().unwrap();
    assert_eq!(email.headline(), "Email bounced");
    assert_eq!(
        email.bounce.as_ref().unwrap().sentence(),
        "Bounced: 550 5.1.1 <lost@example.org>: Recipient address rejected: User unknown in virtual mailbox table (remote server's words)"
    );
    assert!(invitation.held.is_some());
    // And the Delivery log.
    let logged = app::services::mail::log::message(&app.state, &owner, &id).await.unwrap();
    assert_eq!(logged.bounce.unwrap().kind, BounceKind::Hard);

    // Resend and reminder are refused, and nothing is queued.
    let user = user_id_of(&app.state, INVITEE).await;
    let queued = count(&app, "SELECT COUNT(*) FROM outbox").await;
    for action in [InvitationAction::Resend, InvitationAction::Remind] {
        match service::act(&app.state, &owner, &user, action).await {
            Err(AppError::InvalidState(message)) => assert!(message.starts_with("lost@example.org bounced (550 5.1.1"), "{message}"),
            other => panic!("{action:?} answered {other:?}"),
        }
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox").await, queued, "nothing was sent");

    // The same bounce again (a retried report, the return path in capitals, named twice):
    // taken, and nothing more recorded, told or audited.
    let shouted = return_path(&app, &id).to_uppercase().replace("BOUNCES.EXAMPLE.COM", DOMAIN);
    let again = session(port, "", &[shouted.clone(), shouted], Some(&hard_dsn())).await;
    assert_eq!(again.last().unwrap(), "250 2.0.0 Received", "{again:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'bounce_notice'").await, 1, "one notice");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.bounced'").await, 1, "one audit line");
    let mut metrics = String::new();
    app.state.metrics.render(&mut metrics);
    assert!(metrics.contains("beckon_bounces_total{kind=\"hard\"} 1"), "{metrics}");

    // Marked as working, the address takes a resend again; audited.
    let banner = service::release_hold(&app.state, &owner, &user).await.unwrap();
    assert_eq!(banner, "lost@example.org is marked as working: you can resend the invitation now.");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'address.hold_released'").await, 1);
    service::act(&app.state, &owner, &user, InvitationAction::Resend).await.unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox").await, queued + 1);
    assert!(matches!(service::release_hold(&app.state, &owner, &user).await, Err(AppError::InvalidState(_))), "nothing is held now");
    // A late copy of the report does not hold the address again, nor a late bounce of
    // another message sent before the release; one of a message sent after it does.
    let held = "SELECT COUNT(*) FROM held_addresses WHERE released_at IS NULL";
    session(port, "", &[return_path(&app, &id)], Some(&hard_dsn())).await;
    assert_eq!(count(&app, held).await, 0);
    let earlier: String = sqlx::query_scalar("SELECT id FROM outbox WHERE recipient = $1 AND kind = 'invitation' AND bounce_kind IS NULL")
        .bind(INVITEE)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET created_at = created_at - 60000 WHERE id = $1").bind(&earlier).execute(&app.state.db.pool).await.unwrap();
    session(port, "", &[return_path(&app, &earlier)], Some(&hard_dsn())).await;
    assert_eq!(count(&app, held).await, 0, "sent before the release: the admin said the address works since");
    app.clock.advance(chrono::Duration::minutes(1));
    service::act(&app.state, &owner, &user, InvitationAction::Remind).await.unwrap();
    let after: String =
        sqlx::query_scalar("SELECT id FROM outbox WHERE recipient = $1 AND kind = 'reminder'").bind(INVITEE).fetch_one(&app.state.db.pool).await.unwrap();
    session(port, "", &[return_path(&app, &after)], Some(&hard_dsn())).await;
    assert_eq!(count(&app, held).await, 1, "sent after the release: held again");

    // Deleting the person erases the address from the hold and from the inviter's notice.
    session(
        port,
        "",
        &[return_path(&app, &invite(&app, "second@example.org").await)],
        Some(&dsn(&[("second@example.org", "failed", "5.1.1", "550 5.1.1 gone")])),
    )
    .await;
    let second = user_id_of(&app.state, "second@example.org").await;
    app::services::people::delete(&app.state, &owner, &second).await.unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM held_addresses WHERE email = 'second@example.org'").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE text_body LIKE '%second@example.org%' OR subject LIKE '%second@example.org%'").await, 0);
}

#[tokio::test]
async fn a_soft_bounce_is_shown_and_holds_nothing_and_never_replaces_a_hard_one() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let id = invite(&app, INVITEE).await;
    let port = default_listener(&app).await;
    let soft = dsn(&[(INVITEE, "delayed", "4.2.2", "452 4.2.2 Mailbox full")]);
    assert_eq!(session(port, "", &[return_path(&app, &id)], Some(&soft)).await.last().unwrap(), "250 2.0.0 Received");
    assert_eq!(bounce_of(&app, &id).await, (Some("soft".into()), Some("452 4.2.2 Mailbox full".into())));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM held_addresses").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE kind = 'bounce_notice'").await, 0, "nobody is told of a delay");
    let user = user_id_of(&app.state, INVITEE).await;
    service::act(&app.state, &owner, &user, InvitationAction::Remind).await.unwrap();

    // A hard bounce outranks it; a later soft one leaves the hard one.
    session(port, "", &[return_path(&app, &id)], Some(&hard_dsn())).await;
    session(port, "", &[return_path(&app, &id)], Some(&soft)).await;
    assert_eq!(bounce_of(&app, &id).await.0.as_deref(), Some("hard"));
}

#[tokio::test]
async fn a_report_on_several_recipients_is_read_for_the_messages_own() {
    let app = TestApp::with_owner().await;
    let id = invite(&app, INVITEE).await;
    let port = default_listener(&app).await;
    let report = dsn(&[
        ("someone-else@example.org", "failed", "5.1.1", "550 5.1.1 unknown user"),
        (INVITEE, "delayed", "4.4.1", "421 4.4.1 Connection timed out"),
        ("third@example.org", "delivered", "2.0.0", "250 2.0.0 OK"),
    ]);
    session(port, "", &[return_path(&app, &id)], Some(&report)).await;
    assert_eq!(bounce_of(&app, &id).await, (Some("soft".into()), Some("421 4.4.1 Connection timed out".into())), "ours, not the first failure");
}

#[tokio::test]
async fn a_bounce_without_a_report_part_is_read_from_its_text() {
    let app = TestApp::with_owner().await;
    let id = invite(&app, INVITEE).await;
    let port = default_listener(&app).await;
    let qmail = format!(
        "From: MAILER-DAEMON@mx.example.net\nTo: {}\nSubject: failure notice\n\nHi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<lost@example.org>:\n192.0.2.7 does not like recipient.\nRemote host said: 550 5.7.1 <lost@example.org>... Mailbox disabled for this recipient\nGiving up on 192.0.2.7.\n",
        return_path(&app, &id)
    );
    session(port, "", &[return_path(&app, &id)], Some(&qmail)).await;
    let (kind, reply) = bounce_of(&app, &id).await;
    assert_eq!(kind.as_deref(), Some("hard"));
    assert_eq!(reply.as_deref(), Some("Remote host said: 550 5.7.1 <lost@example.org>... Mailbox disabled for this recipient"));
}

#[tokio::test]
async fn an_automatic_reply_is_told_apart_and_ignored() {
    let app = TestApp::with_owner().await;
    let id = invite(&app, INVITEE).await;
    let port = default_listener(&app).await;
    let away = format!(
        "From: Lost <{INVITEE}>\nTo: {}\nSubject: Automatic reply: You are invited\nAuto-Submitted: auto-replied\n\nI am away until 5.1.2027 and will answer in 5 days.\n",
        return_path(&app, &id)
    );
    let replies = session(port, INVITEE, &[return_path(&app, &id)], Some(&away)).await;
    assert_eq!(replies.last().unwrap(), "250 2.0.0 Received", "taken, so the sender does not try again");
    assert_eq!(bounce_of(&app, &id).await, (None, None));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.bounced'").await, 0);
}

#[tokio::test]
async fn a_forged_tag_another_domain_and_a_message_too_big_are_refused() {
    let app = TestApp::with_owner().await;
    let id = invite(&app, INVITEE).await;
    let settings = BounceSettings { max_bytes: 4096, ..BounceSettings::new(DOMAIN.into()) };
    let port = listener(&app, settings).await;

    let forged = format!("bounces+{id}.0123456789abcdef@{DOMAIN}");
    let replies = session(port, "", &[forged], Some(&hard_dsn())).await;
    assert_eq!(replies[3], "550 5.1.1 No such return path here", "{replies:?}");
    assert_eq!(replies[4], "503 5.5.1 RCPT first", "no DATA without a valid recipient");
    // Another message's tag does not fit this id either.
    let other = invite(&app, "other@example.org").await;
    let swapped = return_path(&app, &other).replace(&other, &id);
    assert_eq!(session(port, "", &[swapped], None).await[3], "550 5.1.1 No such return path here");

    let relay = session(port, "", &["someone@example.net".to_string()], None).await;
    assert!(relay[3].starts_with("550 5.7.1 Relaying denied"), "{relay:?}");

    let declared = session(port, "", &[], None).await;
    assert_eq!(declared[2], "250 2.1.0 OK");
    // Too many refused recipients close the session.
    let guesses: Vec<String> = (0..25).map(|i| format!("bounces+{id}.{i:016x}@{DOMAIN}")).collect();
    let replies = session(port, "", &guesses, None).await;
    assert_eq!(replies.iter().filter(|r| r.starts_with("550 5.1.1")).count(), 20, "{replies:?}");
    assert!(replies.iter().any(|r| r.starts_with("421 4.7.0 Too many commands")), "{replies:?}");

    let big = format!("{}{}", hard_dsn(), format!("{}\n", "x".repeat(70)).repeat(80));
    let replies = session(port, "", &[return_path(&app, &id)], Some(&big)).await;
    assert_eq!(replies.last().unwrap(), "552 5.3.4 Message too big: at most 4096 bytes");
    assert_eq!(bounce_of(&app, &id).await, (None, None), "nothing recorded from it");

    // A size declared too big is refused before anything is sent.
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    read.read_line(&mut line).await.unwrap();
    write.write_all(b"HELO mx\r\nMAIL FROM:<> SIZE=999999\r\n").await.unwrap();
    line.clear();
    read.read_line(&mut line).await.unwrap();
    line.clear();
    read.read_line(&mut line).await.unwrap();
    assert_eq!(line.trim_end(), "552 5.3.4 Message too big: at most 4096 bytes");
}

#[tokio::test]
async fn a_client_opening_too_many_sessions_is_turned_away() {
    let app = TestApp::with_owner().await;
    let settings = BounceSettings { sessions_per_minute: 2, ..BounceSettings::new(DOMAIN.into()) };
    let port = listener(&app, settings).await;
    assert!(session(port, "", &[], None).await[0].starts_with("220"));
    assert!(session(port, "", &[], None).await[0].starts_with("220"));
    assert_eq!(session(port, "", &[], None).await[0], "421 4.7.0 Too many connections, try again later");
}

#[tokio::test]
async fn bulk_resend_and_automatic_reminders_pass_a_held_address_by() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let id = invite(&app, INVITEE).await;
    invite(&app, "fine@example.org").await;
    let port = default_listener(&app).await;
    session(port, "", &[return_path(&app, &id)], Some(&hard_dsn())).await;

    let people = vec![user_id_of(&app.state, INVITEE).await, user_id_of(&app.state, "fine@example.org").await];
    let job = jobs::start(&app.state, &owner, BulkAction::Resend, Selection::People(people)).await.unwrap();
    assert_eq!((job.done, job.skipped), (1, 1), "{job:?}");
    assert_eq!(job.skips[0].reason, SkipReason::AddressBounced);
    assert_eq!(job.summary(), "1 resent. 1 skipped: 1 the address bounced (correct it, or mark it as working).");

    let reminders = shared::invitations::AutoReminders { after_sending_days: Some(1), before_expiry_days: None };
    let new = shared::views::InvitationSettings { expiry_days: shared::invitations::ExpiryDays::new(7).unwrap(), resend_rotates_link: true, reminders };
    app::services::invitations::settings::update(&app.state, &owner, new).await.unwrap();
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(reminders::run_due(&app.state).await.unwrap(), 1, "only the address that works is reminded");
    assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM outbox WHERE kind = 'reminder' AND recipient = '{INVITEE}'")).await, 0);
}

/// The real binary, as an operator runs it: `beckon serve` with BECKON_BOUNCE_DOMAIN and
/// BECKON_BOUNCE_ADDR sends an invitation (as a file, no SMTP server configured) from its own
/// return path, and takes the bounce sent back to that path on its listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beckon_serve_with_a_bounce_address_sends_from_the_return_path_and_takes_its_bounce() {
    use crate::multi_process::{admin_create, beckon, stub_site};
    use std::io::BufRead;
    use std::process::Stdio;
    const PUBLIC_URL: &str = "http://beckon.test";
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [
        ("BECKON_DATA_DIR", dir.path().to_str().unwrap()),
        ("BECKON_PUBLIC_URL", PUBLIC_URL),
        ("BECKON_SITE_ROOT", dir.path().to_str().unwrap()),
        ("BECKON_BOUNCE_DOMAIN", DOMAIN),
        ("BECKON_BOUNCE_ADDR", "127.0.0.1:0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    stub_site(dir.path());
    admin_create(&env);

    let mut child = beckon(&env, &["serve"]).env("BECKON_ADDR", "127.0.0.1:0").stdout(Stdio::piped()).spawn().unwrap();
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let _child = Killed(child);
    let (mut bounce_port, mut addr) = (None, None);
    while addr.is_none() {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "beckon serve stopped before listening");
        if let Some(rest) = line.split("Bounces received on smtp://").nth(1) {
            bounce_port = rest.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.split_whitespace().next().map(str::to_string);
        }
    }
    let (addr, bounce_port) = (addr.unwrap(), bounce_port.expect("serve says where bounces are received"));

    let sign_in = format!("email={}&password={}&next=%2F", shared::url::encode_component(OWNER_EMAIL), PASSWORD.replace(' ', "+"));
    let cookie = common::http::post_form(&addr, "/api/sign_in", &sign_in, PUBLIC_URL, None).await.session_cookie().expect("a session");
    let db = app::services::Db::connect(&app::services::Db::sqlite_url(&dir.path().join("beckon.db"))).await.unwrap();
    let scope: String = sqlx::query_scalar("SELECT id FROM scopes WHERE kind = 'account'").fetch_one(&db.pool).await.unwrap();
    let grants = shared::url::encode_component(&shared::scopes::Grant::to_param(&[shared::scopes::Grant::new(&scope, Role::Member)]));
    let form = format!("addresses={}&grants={grants}&message=&send_despite_typos=true", shared::url::encode_component(INVITEE));
    let invited = common::http::post_form(&addr, "/api/invite_people", &form, PUBLIC_URL, Some(&cookie)).await;
    assert_eq!(invited.status, 200, "{}", invited.body);

    // The runner in serve writes the message as a file; its Return-Path is the message's own.
    let mail_dir = dir.path().join("mail");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let written = loop {
        let files: Vec<_> = std::fs::read_dir(&mail_dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        if let Some(file) = files.iter().find(|p| p.extension().is_some_and(|x| x == "eml")) {
            break std::fs::read_to_string(file).unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "the invitation was not written within 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let path = header(&written, "Return-Path").expect("a Return-Path").trim_matches(['<', '>']).to_string();
    assert!(path.starts_with("bounces+") && path.ends_with(&format!("@{DOMAIN}")), "{path}");

    let replies = session(bounce_port, "", std::slice::from_ref(&path), Some(&hard_dsn())).await;
    assert_eq!(replies.last().unwrap(), "250 2.0.0 Received", "{replies:?}");
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM held_addresses WHERE email = $1").bind(INVITEE).fetch_one(&db.pool).await.unwrap();
    assert_eq!(held, 1, "the bounce was recorded through the real listener");
}
