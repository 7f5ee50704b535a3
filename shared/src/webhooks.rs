//! Webhooks as Settings and the runner both speak of them: the events an endpoint can hear,
//! the address it may have, how deliveries are retried, and how they are listed.

use crate::AppError;
use serde::{Deserialize, Serialize};

/// A webhook secret starts so (the Standard Webhooks convention); the rest is base64 of the
/// key's bytes.
pub const SECRET_PREFIX: &str = "whsec_";

/// A receiver has this long to answer, from the first byte sent to the last byte of its answer.
pub const TIMEOUT_SECS: u64 = 10;

/// An endpoint that has failed every attempt for this long is disabled, and the account's
/// administrators are told.
pub const DISABLE_AFTER_DAYS: i64 = 5;

/// After a rotation, the previous secret keeps signing beside the new one this long, so the
/// receiver can switch without dropping an event.
pub const ROTATION_GRACE_HOURS: i64 = 24;

/// The waits between the attempts of one delivery, after the first: the Standard Webhooks
/// schedule (5 seconds, 5 minutes, 30 minutes, 2, 5, 10 and 10 hours), about 28 hours in all.
pub const RETRY_WAITS_SECS: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// Attempts of one delivery before it is failed (a retry by hand is one more).
pub const MAX_ATTEMPTS: i64 = RETRY_WAITS_SECS.len() as i64 + 1;

/// How much of a receiver's answer is kept to show in the delivery list.
pub const RESPONSE_EXCERPT_CHARS: usize = 300;

/// Endpoints one account may have.
pub const MAX_ENDPOINTS: usize = 20;

pub const MAX_URL_CHARS: usize = 2_000;
pub const MAX_DESCRIPTION_CHARS: usize = 120;

/// What an endpoint can hear. The name is the event's `type` in its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WebhookEvent {
    InvitationCreated,
    InvitationAccepted,
    InvitationExpired,
    InvitationCancelled,
    InvitationBounced,
    UserDeactivated,
    /// "Send test event" from Settings, to that endpoint only.
    Test,
}

impl WebhookEvent {
    /// The events an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [WebhookEvent; 6] = [
        WebhookEvent::InvitationCreated,
        WebhookEvent::InvitationAccepted,
        WebhookEvent::InvitationExpired,
        WebhookEvent::InvitationCancelled,
        WebhookEvent::InvitationBounced,
        WebhookEvent::UserDeactivated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::InvitationCreated => "invitation.created",
            WebhookEvent::InvitationAccepted => "invitation.accepted",
            WebhookEvent::InvitationExpired => "invitation.expired",
            WebhookEvent::InvitationCancelled => "invitation.cancelled",
            WebhookEvent::InvitationBounced => "invitation.bounced",
            WebhookEvent::UserDeactivated => "user.deactivated",
            WebhookEvent::Test => "webhook.test",
        }
    }

    pub fn parse(name: &str) -> Option<WebhookEvent> {
        WebhookEvent::SUBSCRIBABLE.into_iter().chain([WebhookEvent::Test]).find(|e| e.as_str() == name)
    }

    /// When it is sent, as the Settings page explains it.
    pub fn description(self) -> &'static str {
        match self {
            WebhookEvent::InvitationCreated => "an invitation is sent (one by one, in bulk, by import or through the API)",
            WebhookEvent::InvitationAccepted => "an invitee accepts and holds their roles",
            WebhookEvent::InvitationExpired => "an invitation's link expires unaccepted",
            WebhookEvent::InvitationCancelled => "an invitation is cancelled",
            WebhookEvent::InvitationBounced => "an invitation email bounces",
            WebhookEvent::UserDeactivated => "a person is deactivated",
            WebhookEvent::Test => "Send test event is pressed",
        }
    }

    /// The event an audit line of `action` about a `target_type` stands for, if any: events
    /// are written with the audit line of the change, so none can be missed or invented.
    pub fn of_audit(action: crate::audit::AuditAction, target_type: &str) -> Option<WebhookEvent> {
        use crate::audit::AuditAction as A;
        match (action, target_type) {
            (A::InvitationCreated, "invitation") => Some(WebhookEvent::InvitationCreated),
            // Accepted and holding the roles: at once, or once an administrator confirms.
            (A::InvitationAccepted | A::InvitationConfirmed, "invitation") => Some(WebhookEvent::InvitationAccepted),
            (A::InvitationCancelled, "invitation") => Some(WebhookEvent::InvitationCancelled),
            (A::InvitationBounced, "invitation") => Some(WebhookEvent::InvitationBounced),
            (A::UserDeactivated, "user") => Some(WebhookEvent::UserDeactivated),
            _ => None,
        }
    }
}

/// The stored form of an endpoint's events: their names, comma-separated, in a fixed order.
pub fn events_to_stored(events: &[WebhookEvent]) -> String {
    let mut names: Vec<&str> = WebhookEvent::SUBSCRIBABLE.into_iter().filter(|e| events.contains(e)).map(WebhookEvent::as_str).collect();
    names.dedup();
    names.join(",")
}

/// The events of a stored list (unknown names, from a later version, are left out).
pub fn events_from_stored(stored: &str) -> Vec<WebhookEvent> {
    stored.split(',').filter_map(WebhookEvent::parse).filter(|e| *e != WebhookEvent::Test).collect()
}

/// An endpoint's address, taken apart: what the sender connects to and what it asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointUrl {
    pub https: bool,
    /// A name, or an IP address (an IPv6 one without its brackets).
    pub host: String,
    pub port: u16,
    /// From the first `/`, with the query; `/` when the address has none.
    pub path_and_query: String,
}

impl EndpointUrl {
    /// Reads an `http://` or `https://` address; refuses credentials in it, fragments and
    /// anything else a receiver would not see as written.
    pub fn parse(url: &str) -> Result<EndpointUrl, AppError> {
        let bad = |why: &str| AppError::Validation(format!("The endpoint URL {why}."));
        let url = url.trim();
        if url.chars().count() > MAX_URL_CHARS {
            return Err(bad(&format!("is longer than {MAX_URL_CHARS} characters")));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("has spaces in it"));
        }
        let (https, rest) = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            _ => return Err(bad("must start with https:// (or http://)")),
        };
        if rest.contains('#') {
            return Err(bad("cannot have a fragment (#…)"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad("cannot carry a user name or password; the signature proves the sender"));
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner.split_once(']').ok_or_else(|| bad("has an unclosed [ in its host"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() || !(after.is_empty() || after.starts_with(':')) {
                return Err(bad("has no valid host name"));
            }
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let name_ok = |h: &str| h.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if host.is_empty() || !(host.parse::<std::net::IpAddr>().is_ok() || name_ok(&host)) {
            return Err(bad("has no valid host name"));
        }
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("has an invalid port"))?,
        };
        let path_and_query = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(EndpointUrl { https, host, port, path_and_query })
    }

    /// What the `Host` header says.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match (self.https, self.port) {
            (true, 443) | (false, 80) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }
}

/// Checks what the Settings form gives for an endpoint: its address, a description and the
/// events chosen (at least one).
pub fn validate_endpoint(url: &str, description: &str, events: &[WebhookEvent]) -> Result<(String, String), AppError> {
    EndpointUrl::parse(url)?;
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(AppError::Validation(format!("Keep the description under {MAX_DESCRIPTION_CHARS} characters.")));
    }
    if !events.iter().any(|e| WebhookEvent::SUBSCRIBABLE.contains(e)) {
        return Err(AppError::Validation("Choose at least one event to send.".into()));
    }
    Ok((url.trim().to_string(), description.to_string()))
}

/// Where one delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookDeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    /// Being sent by a runner now.
    Sending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed (or it could not be sent at all); it can be retried by hand.
    Failed,
}

impl WebhookDeliveryState {
    pub const ALL: [WebhookDeliveryState; 4] =
        [WebhookDeliveryState::Pending, WebhookDeliveryState::Sending, WebhookDeliveryState::Delivered, WebhookDeliveryState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookDeliveryState::Pending => "pending",
            WebhookDeliveryState::Sending => "sending",
            WebhookDeliveryState::Delivered => "delivered",
            WebhookDeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookDeliveryState> {
        WebhookDeliveryState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            WebhookDeliveryState::Pending => "Waiting",
            WebhookDeliveryState::Sending => "Sending",
            WebhookDeliveryState::Delivered => "Delivered",
            WebhookDeliveryState::Failed => "Failed",
        }
    }
}

/// The wait before attempt `attempts + 1` of a delivery that has had `attempts`, in seconds;
/// `None` once it has had them all.
pub fn retry_wait_secs(attempts: i64) -> Option<i64> {
    usize::try_from(attempts - 1).ok().and_then(|i| RETRY_WAITS_SECS.get(i)).copied()
}

/// An endpoint as Settings → Webhooks lists it. Its secret is never listed: it is shown when
/// the endpoint is made and when it is rotated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEvent>,
    pub enabled: bool,
    /// Why it was disabled, when Beckon disabled it.
    pub disabled_reason: Option<String>,
    /// Every attempt since then failed.
    pub failing_since_ms: Option<i64>,
    /// The previous secret still signs until then.
    pub previous_secret_until_ms: Option<i64>,
    pub created_at_ms: i64,
    /// Deliveries waiting or being sent, and those failed for good.
    pub pending: i64,
    pub failed: i64,
}

/// Settings → Webhooks' list, as of `now_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoints {
    pub endpoints: Vec<WebhookEndpointView>,
    pub now_ms: i64,
}

/// An endpoint just made, or its secret just rotated: the secret, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSecret {
    pub endpoint: WebhookEndpointView,
    pub secret: String,
}

/// One delivery of one event to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliveryView {
    pub id: String,
    /// The event's id: the `webhook-id` every attempt of it carries.
    pub event_id: String,
    pub event: WebhookEvent,
    pub state: WebhookDeliveryState,
    pub attempts: i64,
    /// The receiver's last status code, when it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// The start of the receiver's last answer.
    pub response_excerpt: Option<String>,
    pub created_at_ms: i64,
    pub last_attempt_at_ms: Option<i64>,
    pub next_attempt_at_ms: Option<i64>,
}

/// An endpoint's deliveries, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliveries {
    pub endpoint: WebhookEndpointView,
    pub deliveries: Vec<WebhookDeliveryView>,
    pub now_ms: i64,
}

/// What an endpoint's page does with one button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookAction {
    SendTest,
    RotateSecret,
    Remove,
    /// Of a failed delivery (its id is given instead of the endpoint's).
    RetryDelivery,
}

impl WebhookAction {
    pub const ALL: [WebhookAction; 4] = [WebhookAction::SendTest, WebhookAction::RotateSecret, WebhookAction::Remove, WebhookAction::RetryDelivery];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookAction::SendTest => "send_test",
            WebhookAction::RotateSecret => "rotate_secret",
            WebhookAction::Remove => "remove",
            WebhookAction::RetryDelivery => "retry_delivery",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookAction> {
        WebhookAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// What saving an endpoint or pressing one of its buttons did: the banner, and a secret to
/// show once (a new endpoint's, or a rotated one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDone {
    pub message: String,
    pub secret: Option<String>,
    /// The endpoint is gone.
    pub removed: bool,
}

/// The deliveries an endpoint's page shows.
pub const DELIVERIES_LISTED: i64 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_address_is_taken_apart_or_refused_with_a_reason() {
        let u = EndpointUrl::parse("https://Hooks.Example.com/in?x=1").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.path_and_query.as_str()), (true, "hooks.example.com", 443, "/in?x=1"));
        let u = EndpointUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.path_and_query.as_str()), (false, "127.0.0.1", 8080, "/"));
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        let u = EndpointUrl::parse("https://[::1]:9/x").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.host_header()), ("::1", 9, "[::1]:9".to_string()));
        for bad in [
            "https://[::1]junk/",
            "https://[nothost]/",
            "ftp://x.example",
            "hooks.example.com",
            "https://user:pw@x.example/",
            "https://x.example/#a",
            "https://x.example:0/",
            "https:///",
            "https://a b/",
        ] {
            assert!(matches!(EndpointUrl::parse(bad), Err(AppError::Validation(_))), "{bad}");
        }
    }

    #[test]
    fn events_are_stored_in_one_order_and_the_test_event_is_never_subscribed() {
        let stored = events_to_stored(&[WebhookEvent::UserDeactivated, WebhookEvent::InvitationCreated, WebhookEvent::Test]);
        assert_eq!(stored, "invitation.created,user.deactivated");
        assert_eq!(events_from_stored(&format!("{stored},webhook.test,later.event")), vec![WebhookEvent::InvitationCreated, WebhookEvent::UserDeactivated]);
        assert!(validate_endpoint("https://x.example", "", &[WebhookEvent::Test]).is_err());
    }

    #[test]
    fn a_delivery_is_tried_eight_times_over_about_a_day() {
        assert_eq!(retry_wait_secs(1), Some(5));
        assert_eq!(retry_wait_secs(7), Some(36_000));
        assert_eq!(retry_wait_secs(MAX_ATTEMPTS), None);
        let total: i64 = RETRY_WAITS_SECS.iter().sum();
        assert!((24 * 3600..30 * 3600).contains(&total), "{total}");
    }
}
