//! Invitation links: `{public_url}/invite/{invitation_id}.{token}`, where the token is
//! HMAC-SHA256(secret key, id ‖ link_version) in base64url. Nothing usable is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The server's secret key for links, ready to sign. Its Debug output never shows the key.
#[derive(Clone)]
pub struct LinkKey(HmacSha256);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

/// What a link's token says about an invitation row.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenMatch {
    Current,
    /// A link of an earlier version: replaced by a newer link.
    Superseded,
    Forged,
}

impl LinkKey {
    /// The key of `key`'s bytes (HMAC takes keys of any length, so only a key that does not
    /// exist is refused).
    pub fn new(key: &[u8]) -> Result<LinkKey, hmac::digest::InvalidLength> {
        HmacSha256::new_from_slice(key).map(LinkKey)
    }

    fn mac(&self, invitation_id: &str, link_version: i64) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(invitation_id.as_bytes());
        mac.update(b"\x00");
        mac.update(&link_version.to_be_bytes());
        mac
    }

    pub fn token(&self, invitation_id: &str, link_version: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(invitation_id, link_version).finalize().into_bytes())
    }

    /// A MAC for another kind of link than an invitation's, named by `purpose` so that no
    /// token of one kind is ever a token of another.
    fn purpose_mac(&self, purpose: &str, id: &str, version: i64) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(purpose.as_bytes());
        mac.update(b"\x00");
        mac.update(id.as_bytes());
        mac.update(b"\x00");
        mac.update(&version.to_be_bytes());
        mac
    }

    /// The token of the password reset `reset_id`, made while the person's auth_version was
    /// `auth_version`.
    pub fn reset_token(&self, reset_id: &str, auth_version: i64) -> String {
        URL_SAFE_NO_PAD.encode(self.purpose_mac(RESET, reset_id, auth_version).finalize().into_bytes())
    }

    /// Whether `token` is the reset's, compared in constant time.
    pub fn reset_token_matches(&self, reset_id: &str, auth_version: i64, token: &str) -> bool {
        URL_SAFE_NO_PAD.decode(token).is_ok_and(|bytes| self.purpose_mac(RESET, reset_id, auth_version).verify_slice(&bytes).is_ok())
    }

    /// The tag of a message's own return path (VERP), so that nobody can forge a bounce for
    /// another message: 16 hex digits in lower case, because mail servers may change the case
    /// of a local part.
    pub fn return_path_tag(&self, message_id: &str) -> String {
        let bytes = self.purpose_mac(RETURN_PATH, message_id, 0).finalize().into_bytes();
        bytes[..RETURN_PATH_TAG_BYTES].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `tag` is the message's, compared in constant time.
    pub fn return_path_tag_matches(&self, message_id: &str, tag: &str) -> bool {
        let tag = tag.to_ascii_lowercase();
        if tag.len() != RETURN_PATH_TAG_BYTES * 2 || !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
        let bytes: Vec<u8> = (0..RETURN_PATH_TAG_BYTES).filter_map(|i| u8::from_str_radix(&tag[2 * i..2 * i + 2], 16).ok()).collect();
        self.purpose_mac(RETURN_PATH, message_id, 0).verify_truncated_left(&bytes).is_ok()
    }

    /// Compares in constant time against the current version, then earlier ones.
    pub fn check(&self, invitation_id: &str, current_version: i64, token: &str) -> TokenMatch {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return TokenMatch::Forged;
        };
        if self.mac(invitation_id, current_version).verify_slice(&bytes).is_ok() {
            return TokenMatch::Current;
        }
        let earliest = (current_version - 1000).max(1);
        if (earliest..current_version).rev().any(|v| self.mac(invitation_id, v).verify_slice(&bytes).is_ok()) {
            return TokenMatch::Superseded;
        }
        TokenMatch::Forged
    }
}

const RETURN_PATH: &str = "return-path";
/// 64 bits: a forger gets one guess per bounce they send, and the listener limits those.
const RETURN_PATH_TAG_BYTES: usize = 8;
const RESET: &str = "password-reset";

pub fn url(public_url: &str, invitation_id: &str, token: &str) -> String {
    format!("{public_url}{INVITE_ROUTE}{invitation_id}.{token}")
}

/// A password reset link: `{public_url}/reset/{reset_id}.{token}`.
pub fn reset_url(public_url: &str, reset_id: &str, token: &str) -> String {
    format!("{public_url}{RESET_ROUTE}{reset_id}.{token}")
}

const INVITE_ROUTE: &str = "/invite/";
const RESET_ROUTE: &str = "/reset/";

/// `path` fit for a log line: whatever follows `/invite/` or `/reset/` is cut off after the
/// link's id (`/invite/{id}.…`), since whoever reads the log must not be able to use it. The
/// path is read as decoded first, so no spelling of it (`%2E` for the dot, `%69` for a letter
/// of the route) carries a token past this.
pub fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    let decoded = if path.contains('%') { shared::url::decode_component(path).into() } else { std::borrow::Cow::Borrowed(path) };
    let Some(start) = [INVITE_ROUTE, RESET_ROUTE].iter().filter_map(|route| decoded.find(route).map(|at| at + route.len())).min() else {
        return decoded;
    };
    let rest = &decoded[start..];
    let end = rest.find('/').unwrap_or(rest.len());
    let kept = rest.get(..36).filter(|id| shared::url::is_id(id)).map_or(String::new(), |id| format!("{id}."));
    format!("{}{kept}…{}", &decoded[..start], &rest[end..]).into()
}

/// Splits the last path segment of a link into (invitation id, token).
pub fn parse(segment: &str) -> Option<(&str, &str)> {
    let (id, token) = segment.split_once('.')?;
    // A link always names the whole id.
    let id_ok = id.len() == 36 && shared::url::is_id(id);
    let token_ok = !token.is_empty() && token.len() <= 64 && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (id_ok && token_ok).then_some((id, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f";

    #[test]
    fn a_new_version_supersedes_every_earlier_link() {
        let key = LinkKey::new(&[7; 32]).unwrap();
        let v1 = key.token(ID, 1);
        let v2 = key.token(ID, 2);
        assert_ne!(v1, v2);
        assert_eq!(key.check(ID, 1, &v1), TokenMatch::Current);
        assert_eq!(key.check(ID, 2, &v1), TokenMatch::Superseded);
        assert_eq!(key.check(ID, 2, &v2), TokenMatch::Current);
    }

    #[test]
    fn another_key_or_id_or_an_altered_token_is_forged() {
        let key = LinkKey::new(&[7; 32]).unwrap();
        let token = key.token(ID, 1);
        assert_eq!(LinkKey::new(&[8; 32]).unwrap().check(ID, 1, &token), TokenMatch::Forged);
        assert_eq!(key.check("7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e50", 1, &token), TokenMatch::Forged);
        let mut altered = token.clone();
        altered.replace_range(0..1, if token.starts_with('A') { "B" } else { "A" });
        assert_eq!(key.check(ID, 1, &altered), TokenMatch::Forged);
        assert_eq!(key.check(ID, 1, "not base64!"), TokenMatch::Forged);
    }

    #[test]
    fn a_logged_path_keeps_the_invitation_but_not_its_token() {
        let token = LinkKey::new(&[7; 32]).unwrap().token(ID, 1);
        let path = format!("/invite/{ID}.{token}");
        assert_eq!(redacted_path(&path), format!("/invite/{ID}.…"));
        assert_eq!(redacted_path(&format!("/invite/{ID}.{token}/x")), format!("/invite/{ID}.…/x"));
        assert_eq!(redacted_path("/api/sign_in"), "/api/sign_in");
        for spelling in
            [format!("/invite/{ID}%2E{token}"), format!("/invite/{ID}%2e{token}"), format!("/%69nvite/{ID}.{token}"), format!("/invite/{ID}{token}")]
        {
            assert_eq!(redacted_path(&spelling), format!("/invite/{ID}.…"), "{spelling}");
        }
        assert_eq!(redacted_path(&format!("/invite/x{token}")), "/invite/…");
        assert_eq!(redacted_path(&format!("/reset/{ID}.{token}")), format!("/reset/{ID}.…"));
    }

    #[test]
    fn a_reset_token_is_no_invitation_token_and_dies_with_the_password() {
        let key = LinkKey::new(&[7; 32]).unwrap();
        let token = key.reset_token(ID, 3);
        assert!(key.reset_token_matches(ID, 3, &token));
        assert!(!key.reset_token_matches(ID, 4, &token), "the password changed since");
        assert_ne!(key.check(ID, 3, &token), TokenMatch::Current, "not an invitation's");
        assert!(!key.reset_token_matches(ID, 3, &key.token(ID, 3)));
    }

    #[test]
    fn parse_takes_only_well_formed_segments() {
        assert_eq!(parse(&format!("{ID}.abc_-9")), Some((ID, "abc_-9")));
        assert_eq!(parse("nope.abc"), None);
        assert_eq!(parse(&format!("{ID}.")), None);
        assert_eq!(parse(&format!("{ID}.a/b")), None);
    }
}
