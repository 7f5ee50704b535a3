//! Every message Beckon sends, as plain text and HTML. Every value that comes from a
//! person (names, messages, addresses) is escaped in the HTML part.

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Stands in the stored message for the invitation link, which the worker puts in at send
/// time: a leaked outbox holds no usable link.
pub const LINK_PLACEHOLDER: &str = "{{beckon:invitation-link}}";

/// What an invitation email says. `link` is `LINK_PLACEHOLDER` when queued; a real link
/// carries a secret token: never log it.
pub struct InvitationEmail {
    pub account_name: String,
    pub inviter_name: String,
    pub invitee_email: String,
    pub role_labels: Vec<String>,
    pub personal_message: Option<String>,
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

pub use shared::html::escape;

/// Subject lines are single lines whatever a name contains.
fn one_line(value: &str) -> String {
    value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn layout(title: &str, body_html: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;background:#f6f7fb;margin:0;padding:24px\">\
         <div style=\"max-width:560px;margin:0 auto;background:#ffffff;border:1px solid #dde2ea;border-radius:8px;padding:28px\">{body_html}</div>\
         <p style=\"max-width:560px;margin:12px auto;color:#5b6475;font-size:12px\">Sent by Beckon.</p></body></html>",
        escape(title)
    )
}

fn button(link: &str, label: &str) -> String {
    format!(
        "<p style=\"margin:24px 0\"><a href=\"{}\" style=\"background:#3457d5;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none;display:inline-block\">{}</a></p>",
        escape(link),
        escape(label)
    )
}

fn inviter(email: &InvitationEmail) -> String {
    if email.inviter_name.trim().is_empty() {
        "An administrator".to_string()
    } else {
        email.inviter_name.clone()
    }
}

fn expiry(email: &InvitationEmail) -> String {
    email.expires_at.format("%-d %B %Y at %H:%M UTC").to_string()
}

fn invitation_body(email: &InvitationEmail, reminder: bool) -> RenderedEmail {
    let who = inviter(email);
    let roles = email.role_labels.join(", ");
    let subject = if reminder {
        one_line(&format!("Reminder: {who} invited you to join {} on Beckon", email.account_name))
    } else {
        one_line(&format!("{who} invited you to join {} on Beckon", email.account_name))
    };
    let opening = if reminder {
        format!("This is a reminder: {who} invited you ({}) to join {} as {roles}.", email.invitee_email, email.account_name)
    } else {
        format!("{who} invited you ({}) to join {} as {roles}.", email.invitee_email, email.account_name)
    };
    let mut text = format!("Hello,\n\n{opening}\n\n");
    let mut html = format!("<h1 style=\"font-size:20px\">Join {}</h1><p>{}</p>", escape(&email.account_name), escape(&opening));
    if let Some(message) = email.personal_message.as_deref().filter(|m| !m.trim().is_empty()) {
        text.push_str(&format!("{who} wrote:\n\n{}\n\n", message.lines().map(|l| format!("> {l}")).collect::<Vec<_>>().join("\n")));
        html.push_str(&format!(
            "<p>{} wrote:</p><blockquote style=\"margin:0;padding:8px 12px;border-left:3px solid #3457d5;background:#f6f7fb;white-space:pre-wrap\">{}</blockquote>",
            escape(&who),
            escape(message)
        ));
    }
    text.push_str(&format!(
        "Accept the invitation and set up your account:\n{}\n\nThis invitation expires on {}. If you did not expect it, you can ignore this email.\n",
        email.link,
        expiry(email)
    ));
    html.push_str(&button(&email.link, "Accept invitation"));
    html.push_str(&format!(
        "<p style=\"color:#5b6475;font-size:14px\">Or open this link: <a href=\"{0}\">{0}</a></p>\
         <p style=\"color:#5b6475;font-size:14px\">This invitation expires on {1}. If you did not expect it, you can ignore this email.</p>",
        escape(&email.link),
        escape(&expiry(email))
    ));
    RenderedEmail { html: layout(&subject, &html), subject, text }
}

pub fn invitation(email: &InvitationEmail) -> RenderedEmail {
    invitation_body(email, false)
}

pub fn reminder(email: &InvitationEmail) -> RenderedEmail {
    invitation_body(email, true)
}

/// To the inviter: the invitee's link expired and they ask for a new one. `link` here
/// points at the Users page, not at an invitation.
pub fn invitation_requested(email: &InvitationEmail) -> RenderedEmail {
    let subject = one_line(&format!("{} asks for a new invitation to {}", email.invitee_email, email.account_name));
    let line = format!(
        "{} tried to accept your invitation to {}, but it had expired. Send them a new invitation from the Users page.",
        email.invitee_email, email.account_name
    );
    let text = format!("Hello {},\n\n{line}\n\n{}\n", email.inviter_name, email.link);
    let html = format!("<p>Hello {},</p><p>{}</p>{}", escape(&email.inviter_name), escape(&line), button(&email.link, "Open the Users page"));
    RenderedEmail { html: layout(&subject, &html), subject, text }
}

/// "Forgot your password?": the link that lets a person choose a new one. `link` is
/// `LINK_PLACEHOLDER` when queued.
pub fn password_reset(account_name: &str, person_name: &str, email: &str, link: &str, minutes: i64) -> RenderedEmail {
    let subject = one_line(&format!("Choose a new password for {account_name} on Beckon"));
    let greeting = if person_name.trim().is_empty() { "Hello,".to_string() } else { format!("Hello {person_name},") };
    let line = format!("Someone (we hope you) asked for a new password for {email} on {account_name}.");
    let after = format!("The link works once, for {minutes} minutes. If you did not ask for it, ignore this email: your password stays as it is.");
    let text = format!("{greeting}\n\n{line}\n\nChoose a new password:\n{link}\n\n{after}\n");
    let html = format!(
        "<p>{}</p><p>{}</p>{}<p style=\"color:#5b6475;font-size:14px\">Or open this link: <a href=\"{3}\">{3}</a></p><p style=\"color:#5b6475;font-size:14px\">{4}</p>",
        escape(&greeting),
        escape(&line),
        button(link, "Choose a new password"),
        escape(link),
        escape(&after)
    );
    RenderedEmail { html: layout(&subject, &html), subject, text }
}

/// To an invitee whose acceptance waited for an administrator: it is confirmed.
pub fn access_confirmed(account_name: &str, confirmed_by: &str, role_labels: &[String], sign_in: &str) -> RenderedEmail {
    let subject = one_line(&format!("You can now sign in to {account_name} on Beckon"));
    let who = if confirmed_by.trim().is_empty() { "An administrator" } else { confirmed_by };
    let line = format!("{who} confirmed the invitation you accepted: you now hold {} in {account_name}.", role_labels.join(", "));
    let text = format!("Hello,\n\n{line}\n\nSign in:\n{sign_in}\n");
    let html = format!("<p>Hello,</p><p>{}</p>{}", escape(&line), button(sign_in, "Sign in"));
    RenderedEmail { html: layout(&subject, &html), subject, text }
}

pub fn roles_granted(account_name: &str, granted_by: &str, role_labels: &[String], sign_in: &str) -> RenderedEmail {
    let subject = one_line(&format!("New roles in {account_name} on Beckon"));
    let who = if granted_by.trim().is_empty() { "An administrator" } else { granted_by };
    let line = format!("{who} gave you {} in {account_name}. They are yours from your next page.", role_labels.join(", "));
    let text = format!("Hello,\n\n{line}\n\nSign in:\n{sign_in}\n");
    let html = format!("<p>Hello,</p><p>{}</p>{}", escape(&line), button(sign_in, "Sign in"));
    RenderedEmail { html: layout(&subject, &html), subject, text }
}

/// To the inviter: their invitation came back undelivered, and the address is held.
pub fn bounce_notice(account_name: &str, invitee: &str, reply: &str, person_page: &str) -> RenderedEmail {
    let subject = one_line(&format!("Your invitation to {invitee} bounced ({account_name})"));
    let line = format!("The invitation you sent to {invitee} in {account_name} could not be delivered. The receiving server said: {reply}");
    let hold = "Beckon will not send to this address again until it is corrected or an administrator marks it as working. Check the address with the person, then correct it on their page.";
    let text = format!("Hello,\n\n{line}\n\n{hold}\n\n{person_page}\n");
    let html = format!("<p>Hello,</p><p>{}</p><p>{}</p>{}", escape(&line), escape(hold), button(person_page, "Open their page"));
    RenderedEmail { html: layout(&subject, &html), subject, text }
}

/// To the account's administrators: a webhook endpoint failed for days and was disabled.
pub fn webhook_disabled(account_name: &str, url: &str, days: i64, settings_page: &str) -> RenderedEmail {
    let subject = one_line(&format!("A webhook endpoint was disabled ({account_name})"));
    let line =
        format!("Every delivery to the webhook endpoint {url} of {account_name} failed for {days} days, so Beckon disabled it. No more events are sent to it.");
    let fix = "Check the receiver, then enable the endpoint again in Settings → Webhooks; the deliveries that were waiting go out then, and failed ones can be retried there.";
    let text = format!("Hello,\n\n{line}\n\n{fix}\n\n{settings_page}\n");
    let html = format!("<p>Hello,</p><p>{}</p><p>{}</p>{}", escape(&line), escape(fix), button(settings_page, "Open Settings → Webhooks"));
    RenderedEmail { html: layout(&subject, &html), subject, text }
}

pub fn test_email(account_name: &str, sent_by: &str) -> RenderedEmail {
    let subject = one_line(&format!("Test email from Beckon ({account_name})"));
    let line = format!("{sent_by} sent this test from Settings → Outgoing email. If you can read it, email from {account_name} reaches this mailbox.");
    let text = format!("Hello,\n\n{line}\n");
    let html = format!("<h1 style=\"font-size:20px\">It works</h1><p>{}</p>", escape(&line));
    RenderedEmail { html: layout(&subject, &html), subject, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> InvitationEmail {
        InvitationEmail {
            account_name: "Acme <Health>".into(),
            inviter_name: "Eve \"Admin\"".into(),
            invitee_email: "ada@example.com".into(),
            role_labels: vec!["Admin".into(), "HR".into()],
            personal_message: Some("<script>alert(1)</script>\nSee you!".into()),
            link: "https://beckon.example/invite/abc.def".into(),
            expires_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn user_supplied_values_are_escaped_in_html() {
        let rendered = invitation(&sample());
        assert!(!rendered.html.contains("<script>"));
        assert!(rendered.html.contains("&lt;script&gt;"));
        assert!(rendered.html.contains("Acme &lt;Health&gt;"));
        assert!(rendered.text.contains("<script>alert(1)</script>"), "plain text stays as written");
    }

    #[test]
    fn both_parts_carry_the_link_roles_and_expiry() {
        let rendered = invitation(&sample());
        for part in [&rendered.text, &rendered.html] {
            assert!(part.contains("https://beckon.example/invite/abc.def"));
            assert!(part.contains("Admin, HR"));
            assert!(part.contains("2027"));
        }
        assert_eq!(rendered.subject, "Eve \"Admin\" invited you to join Acme <Health> on Beckon");
        assert!(reminder(&sample()).subject.starts_with("Reminder: "));
    }

    #[test]
    fn subjects_stay_on_one_line() {
        let mut email = sample();
        email.inviter_name = "Eve\r\nBcc: x@evil.example".into();
        assert!(!invitation(&email).subject.contains('\n'));
    }
}
