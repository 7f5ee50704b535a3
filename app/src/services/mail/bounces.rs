//! Bounces: each message leaves with a return path of its own (VERP), `bounces+{id}.{tag}@`
//! the bounce domain, the tag a MAC so nobody can forge a bounce for another message. What
//! comes back to it is read here: a delivery status notification (RFC 3464), a bounce
//! without one, or an automatic reply that is no bounce at all. A hard bounce holds the
//! address, tells the inviter once, and is audited; a soft one is shown and nothing more.

use super::outbox::{NewMessage, Priority};
use super::templates;
use crate::services::audit::{self, AuditEvent};
use crate::services::error::Step;
use crate::services::invitations::link::LinkKey;
use crate::services::store::{bounces as store, invitations, users};
use crate::services::AppState;
use mail_parser::{MessageParser, MimeHeaders};
use shared::audit::AuditAction;
use shared::mail::{BounceKind, MessageKind};
use shared::{AppError, Email};

const LOCAL_PREFIX: &str = "bounces+";
/// The longest reply kept from a bounce: the remote server's words, not its whole report.
const REPLY_CHARS: usize = 300;

/// The return path of message `message_id` at `domain`.
pub fn return_path(key: &LinkKey, message_id: &str, domain: &str) -> String {
    format!("{LOCAL_PREFIX}{message_id}.{}@{domain}", key.return_path_tag(message_id))
}

/// The message `address` is the return path of, when it is at `domain` and its tag is right.
pub fn message_of(key: &LinkKey, address: &str, domain: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, at) = address.rsplit_once('@')?;
    if !at.eq_ignore_ascii_case(domain) {
        return None;
    }
    let local = local.to_ascii_lowercase();
    let (id, tag) = local.strip_prefix(LOCAL_PREFIX)?.rsplit_once('.')?;
    (shared::url::is_id(id) && key.return_path_tag_matches(id, tag)).then(|| id.to_string())
}

/// What a message that came back to a return path says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    Bounce {
        kind: BounceKind,
        reply: String,
    },
    /// An automatic reply (out of office, vacation): the message was delivered.
    AutoReply,
    /// Nothing about a failure: a delivery confirmation, a person's answer.
    NotABounce,
}

/// Reads a message sent back for `recipient`'s copy.
pub fn read_report(raw: &[u8], recipient: &str) -> Report {
    let Some(message) = MessageParser::default().parse(raw) else { return Report::NotABounce };
    let dsn = message.parts.iter().find(|part| {
        part.content_type().is_some_and(|t| {
            t.ctype().eq_ignore_ascii_case("message")
                && t.subtype().is_some_and(|s| s.eq_ignore_ascii_case("delivery-status") || s.eq_ignore_ascii_case("global-delivery-status"))
        })
    });
    if let Some(part) = dsn {
        return delivery_status(&String::from_utf8_lossy(part.contents()), recipient);
    }
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    let subject = message.subject().unwrap_or_default().to_lowercase();
    let from = message.from().and_then(|f| f.first()).and_then(|a| a.address()).unwrap_or_default().to_ascii_lowercase();
    let from_daemon = ["mailer-daemon@", "postmaster@", "mail-daemon@"].iter().any(|p| from.starts_with(p));
    let failure_subject =
        ["undeliver", "delivery status notification", "failure notice", "delivery failure", "mail delivery failed", "returned mail", "delivery has failed"]
            .iter()
            .any(|s| subject.contains(s));
    let text: String = message.text_bodies().filter_map(|p| p.text_contents()).collect::<Vec<_>>().join("\n");
    // Without a status to read nothing is recorded: holding an address takes evidence.
    if from_daemon || failure_subject {
        if let Some(bounce) = bounce_in_text(&text, recipient) {
            return bounce;
        }
    }
    let auto_submitted = header("Auto-Submitted").is_some_and(|v| v != "no");
    let auto_header = ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"].iter().any(|h| message.header_raw(*h).is_some())
        || header("Precedence").is_some_and(|v| v == "auto_reply");
    let auto_subject =
        ["auto:", "automatic reply", "autoreply", "auto-reply", "out of office", "out of the office", "vacation"].iter().any(|s| subject.contains(s));
    if auto_submitted || auto_header || auto_subject {
        return Report::AutoReply;
    }
    Report::NotABounce
}

/// The per-recipient fields of a `message/delivery-status` part: the group for `recipient`,
/// or else the first that failed or was delayed.
fn delivery_status(text: &str, recipient: &str) -> Report {
    // Fields may be folded onto continuation lines; groups are separated by blank lines.
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            if groups.last().is_some_and(|g| !g.is_empty()) {
                groups.push(Vec::new());
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = groups.last_mut().and_then(|g| g.last_mut()) {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            if let Some(group) = groups.last_mut() {
                group.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
    }
    let field = |group: &[(String, String)], name: &str| group.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    // "rfc822; someone@example.com" names the address; the type is not needed.
    let address = |value: String| value.rsplit(';').next().unwrap_or_default().trim().trim_matches(['<', '>']).to_ascii_lowercase();
    let recipients: Vec<&Vec<(String, String)>> =
        groups.iter().skip(1).filter(|g| field(g, "final-recipient").is_some() || field(g, "action").is_some()).collect();
    let ours = recipients
        .iter()
        .find(|g| ["final-recipient", "original-recipient"].iter().any(|n| field(g, n).map(address).is_some_and(|a| a.eq_ignore_ascii_case(recipient))));
    let failing = |g: &&&Vec<(String, String)>| field(g, "action").is_some_and(|a| ["failed", "delayed"].contains(&a.to_ascii_lowercase().as_str()));
    let Some(group) = ours.or_else(|| recipients.iter().find(failing)) else { return Report::NotABounce };
    let action = field(group, "action").unwrap_or_default().to_ascii_lowercase();
    let status = field(group, "status").unwrap_or_default();
    let kind = match (action.as_str(), BounceKind::of_status(&status)) {
        ("delivered" | "relayed" | "expanded", _) => return Report::NotABounce,
        ("delayed", _) => BounceKind::Soft,
        (_, Some(kind)) => kind,
        ("failed", None) => BounceKind::Hard,
        _ => return Report::NotABounce,
    };
    let diagnostic = field(group, "diagnostic-code").map(|d| match d.split_once(';') {
        Some((_, words)) => words.trim().to_string(),
        None => d,
    });
    let reply = match diagnostic {
        Some(words) if words.contains(status.as_str()) || status.is_empty() => words,
        Some(words) => format!("{status} {words}"),
        None => status,
    };
    Report::Bounce { kind, reply: shorten(&reply) }
}

/// A bounce without a report part: the first line giving an enhanced status code (5.1.1),
/// or an SMTP reply code (550), preferring a line naming the recipient.
fn bounce_in_text(text: &str, recipient: &str) -> Option<Report> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let recipient = recipient.to_ascii_lowercase();
    let line = lines
        .iter()
        .find(|l| status_in(l).is_some() && l.to_ascii_lowercase().contains(&recipient))
        .or_else(|| lines.iter().find(|l| status_in(l).is_some()))?;
    let kind = status_in(line)?;
    Some(Report::Bounce { kind, reply: shorten(line) })
}

/// The class of the first status in `line`: "5.1.1", or a reply code "550" standing alone.
fn status_in(line: &str) -> Option<BounceKind> {
    let bytes = line.as_bytes();
    let standalone = |start: usize, end: usize| {
        (start == 0 || !bytes[start - 1].is_ascii_alphanumeric() && bytes[start - 1] != b'.')
            && (end == bytes.len() || !bytes[end].is_ascii_alphanumeric() && (bytes[end] != b'.' || end + 1 == bytes.len() || !bytes[end + 1].is_ascii_digit()))
    };
    for start in 0..bytes.len() {
        if !matches!(bytes[start], b'4' | b'5') {
            continue;
        }
        // An enhanced status code: class.subject.detail.
        let mut end = start + 1;
        let mut digits_ok = true;
        for _ in 0..2 {
            if bytes.get(end) != Some(&b'.') {
                digits_ok = false;
                break;
            }
            let first = end + 1;
            end = first;
            while end < bytes.len() && bytes[end].is_ascii_digit() && end - first < 3 {
                end += 1;
            }
            if end == first {
                digits_ok = false;
                break;
            }
        }
        if digits_ok && standalone(start, end) {
            return BounceKind::of_status(&line[start..end]);
        }
        // A three-digit reply code.
        if bytes.len() >= start + 3 && bytes[start + 1].is_ascii_digit() && bytes[start + 2].is_ascii_digit() && standalone(start, start + 3) {
            return BounceKind::of_status(&line[start..start + 3]);
        }
    }
    None
}

fn shorten(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(REPLY_CHARS) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

/// What recording a bounce did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// False when a soft bounce came after a hard one (the hard one stays).
    pub changed: bool,
    /// The address was held by this bounce.
    pub held: bool,
    /// The inviter was sent a notice.
    pub noticed: bool,
}

/// Records a bounce of message `message_id`, in one transaction: on the message, the hold on
/// its address (hard), the audit line, and the inviter's notice (once per hold). None when
/// the message is no longer in the outbox.
pub async fn record(state: &AppState, message_id: &str, kind: BounceKind, reply: &str) -> Result<Option<Recorded>, AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let Some(message) = store::message(&mut tx, message_id).await.step("bounces::message")? else { return Ok(None) };
    // A deleted person's messages are kept blanked: nothing to hold or tell.
    if message.recipient.is_empty() {
        return Ok(None);
    }
    if !store::record(&mut tx, message_id, kind, reply, now).await.step("bounces::record")? {
        return Ok(Some(Recorded { changed: false, held: false, noticed: false }));
    }
    let held = kind == BounceKind::Hard
        && store::hold(&mut tx, &message.account_id, &message.recipient, message_id, message.created_at, reply, now).await.step("bounces::hold")?;
    let (target_type, target_id) = match &message.invitation_id {
        Some(id) => ("invitation", id.as_str()),
        None => ("message", message_id),
    };
    let details = serde_json::json!({ "email": message.recipient, "bounce": kind.as_str(), "reply": reply, "message": message_id });
    let event = AuditEvent { account_id: &message.account_id, actor_user_id: None, action: AuditAction::InvitationBounced, target_type, target_id, details };
    audit::record(&mut tx, event, now).await.step("audit::record")?;
    let mut noticed = false;
    if let (true, Some(invitation_id), MessageKind::Invitation | MessageKind::Reminder) = (held, &message.invitation_id, message.kind) {
        noticed = notify_inviter(&mut tx, state, &message.account_id, invitation_id, &message.recipient, reply, now).await?;
    }
    tx.commit().await.step("commit")?;
    state.metrics.record_bounce(kind);
    if noticed {
        state.work_signal.wake();
    }
    Ok(Some(Recorded { changed: true, held, noticed }))
}

/// Tells who sent the invitation (who re-issued it last, else who first sent it) that it
/// bounced, unless they are gone or deactivated.
async fn notify_inviter(
    tx: &mut crate::services::store::Conn,
    state: &AppState,
    account_id: &str,
    invitation_id: &str,
    invitee: &str,
    reply: &str,
    now: i64,
) -> Result<bool, AppError> {
    let Some(invitation) = invitations::get(tx, invitation_id).await.step("invitations::get")? else { return Ok(false) };
    let Some(inviter_id) = invitation.invited_by.as_deref() else { return Ok(false) };
    let Some(inviter) = users::get(tx, inviter_id).await.step("users::get")? else { return Ok(false) };
    if inviter.status == shared::status::StoredUserStatus::Deactivated || inviter.email.is_empty() {
        return Ok(false);
    }
    let Ok(to) = Email::parse(&inviter.email) else { return Ok(false) };
    let Some(account) = crate::services::store::accounts::get(tx, account_id).await.step("accounts::get")? else { return Ok(false) };
    let page = format!("{}/users/{}", state.public_url, invitation.user_id);
    let rendered = templates::bounce_notice(&account.name, invitee, reply, &page);
    let message = NewMessage {
        account_id,
        kind: MessageKind::BounceNotice,
        recipient: &to,
        invitation_id: None,
        password_reset_id: None,
        sent_by: None,
        priority: Priority::Waited,
        rendered,
    };
    super::outbox::enqueue(tx, message, now).await.step("outbox::enqueue")?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(fields: &str) -> String {
        format!(
            "From: MAILER-DAEMON@mx.example.net\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n{fields}\r\n--b--\r\n"
        )
    }

    #[test]
    fn a_delivered_report_is_no_bounce_and_a_folded_diagnostic_is_read_whole() {
        let delivered = report("Final-Recipient: rfc822; a@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n");
        assert_eq!(read_report(delivered.as_bytes(), "a@example.org"), Report::NotABounce);
        let folded = report("Final-Recipient: rfc822;<A@Example.org>\r\nAction: failed\r\nStatus: 5.2.1\r\nDiagnostic-Code: smtp; 550 5.2.1 The email account\r\n  that you tried to reach is disabled\r\n");
        let expected = Report::Bounce { kind: BounceKind::Hard, reply: "550 5.2.1 The email account that you tried to reach is disabled".into() };
        assert_eq!(read_report(folded.as_bytes(), "a@example.org"), expected, "the recipient is matched whatever its case and brackets");
        let bare = report("Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.10\r\n");
        assert_eq!(read_report(bare.as_bytes(), "a@example.org"), Report::Bounce { kind: BounceKind::Hard, reply: "5.1.10".into() }, "the status alone");
    }

    #[test]
    fn a_status_is_told_from_a_date_or_a_version_in_the_text() {
        assert_eq!(status_in("550-5.1.1 The email account does not exist"), Some(BounceKind::Hard));
        assert_eq!(status_in("said: 452 4.2.2 over quota"), Some(BounceKind::Soft));
        assert_eq!(status_in("I am back on 5.1.2027"), None);
        assert_eq!(status_in("version 4.5"), None);
        assert_eq!(status_in("order 5501 shipped"), None);
        assert_eq!(status_in("5.7.1"), Some(BounceKind::Hard));
    }

    #[test]
    fn a_message_that_is_neither_a_bounce_nor_an_auto_reply_is_ignored() {
        let reply = "From: Ada <a@example.org>\r\nSubject: Re: You are invited\r\n\r\nThanks, I will join on 5.1.\r\n";
        assert_eq!(read_report(reply.as_bytes(), "a@example.org"), Report::NotABounce);
        let vacation = "From: Ada <a@example.org>\r\nSubject: Out of Office\r\n\r\nBack soon.\r\n";
        assert_eq!(read_report(vacation.as_bytes(), "a@example.org"), Report::AutoReply);
    }
}
