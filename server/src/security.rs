//! The guard every request passes: it refuses cross-site state changes and bodies over
//! the size limit, and puts the security headers, with a fresh CSP nonce, on every response.

use app::services::invitations::link::redacted_path;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rand::RngCore;
use shared::error::MAX_REQUEST_BYTES;
use shared::AppError;
use std::net::{IpAddr, SocketAddr};

/// The nonce of this response's Content-Security-Policy; the page renders its scripts with it.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);

#[derive(Clone, Debug)]
pub struct SecurityPolicy {
    /// Origins a state-changing request may come from (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    pub https: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed (BECKON_TRUSTED_PROXIES).
    pub trusted_proxies: Vec<IpAddr>,
    /// The one request allowed past [`MAX_REQUEST_BYTES`]: an import's upload, up to this.
    pub import_upload_bytes: usize,
}

impl SecurityPolicy {
    /// Trusts the public URL's origin; when that is a loopback address, also its other
    /// loopback spellings, so `localhost` and `127.0.0.1` both work out of the box.
    pub fn for_public_url(public_url: &str, trusted_proxies: Vec<IpAddr>) -> SecurityPolicy {
        let origin = origin_of(public_url);
        let mut allowed = vec![origin.clone()];
        if let Some((scheme, rest)) = origin.split_once("://") {
            let port = rest.rsplit_once(':').filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit())).map(|(_, p)| format!(":{p}")).unwrap_or_default();
            let host = rest.strip_suffix(port.as_str()).unwrap_or(rest);
            if ["localhost", "127.0.0.1", "[::1]"].contains(&host) {
                for alias in ["localhost", "127.0.0.1", "[::1]"] {
                    let candidate = format!("{scheme}://{alias}{port}");
                    if !allowed.contains(&candidate) {
                        allowed.push(candidate);
                    }
                }
            }
        }
        SecurityPolicy {
            allowed_origins: allowed,
            https: public_url.starts_with("https://"),
            trusted_proxies,
            import_upload_bytes: upload_limit(shared::import::DEFAULT_MAX_BYTES),
        }
    }

    /// This policy, taking import files of up to `max_bytes` (BECKON_IMPORT_MAX_BYTES).
    pub fn with_import_files_up_to(self, max_bytes: usize) -> SecurityPolicy {
        SecurityPolicy { import_upload_bytes: upload_limit(max_bytes), ..self }
    }

    /// The client behind a request: the peer, unless the peer is a trusted proxy; then the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its
    /// left could have been written by the client). The walk stops at an entry it cannot
    /// read, and the last proxy's own address is used: skipping it could let a client's
    /// made-up entry be taken for the real one.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut current = peer;
        let entries = headers.get_all(X_FORWARDED_FOR).iter().rev().filter_map(|v| v.to_str().ok()).flat_map(|v| v.rsplit(','));
        for entry in entries {
            if !self.trusted_proxies.contains(&current) {
                break;
            }
            match parse_forwarded_address(entry) {
                Some(ip) => current = ip,
                None => break,
            }
        }
        current
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// One `X-Forwarded-For` entry: `ip`, `ip:port`, `[v6]` or `[v6]:port`.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok());
        return port_ok.then(|| inside.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)).flatten();
    }
    entry.parse::<SocketAddr>().ok().filter(SocketAddr::is_ipv4).map(|a| a.ip())
}

fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(slash) => url[..after_scheme + slash].to_string(),
        None => url.to_string(),
    }
}

fn new_nonce() -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a state-changing request comes from our own pages: by its Origin, or where a
/// browser sends none, by `Sec-Fetch-Site` or the Referer. A request with none is refused.
fn from_own_pages(headers: &HeaderMap, policy: &SecurityPolicy) -> bool {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = text(header::ORIGIN) {
        return policy.allowed_origins.iter().any(|o| o == origin);
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    if let Some(referer) = text(header::REFERER) {
        return policy.allowed_origins.iter().any(|o| referer == o || referer.starts_with(&format!("{o}/")));
    }
    false
}

fn is_api(path: &str) -> bool {
    path.strip_prefix(shared::api::API_BASE).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// A request refused before it reached the application: a readable page for a form
/// posted by a browser, the typed error for scripts and the hydrated page.
fn refusal(error: AppError, html: bool) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::BAD_REQUEST);
    if html {
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Request refused · Beckon</title></head>\
             <body><main><h1>Request refused</h1><p>{}</p><p><a href=\"/\">Go to Beckon</a></p></main></body></html>",
            shared::html::escape(&error.to_string())
        );
        (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
    } else {
        let body = serde_json::to_string(&error).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// The bytes an upload of a file of `max_bytes` may take: the file, and the form around it.
pub(crate) fn upload_limit(max_bytes: usize) -> usize {
    max_bytes + 64 * 1024
}

/// Lets through a body of at most [`MAX_REQUEST_BYTES`]: a declared length is checked
/// before anything is read; a body without one is read up to the limit. An import's upload
/// may be larger, and is left to its handler to read as a stream (it stops at its limit).
async fn within_body_limit(request: Request<Body>, policy: &SecurityPolicy) -> Result<Request<Body>, AppError> {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let upload = request.method() == Method::POST && request.uri().path() == shared::import::UPLOAD_PATH;
    let limit = if upload { policy.import_upload_bytes } else { MAX_REQUEST_BYTES };
    match declared {
        Some(length) if length > limit as u64 => Err(AppError::TooLarge),
        None if upload => Ok(request),
        // The server reads no more than the declared length.
        Some(_) => Ok(request),
        None if !changes_state(request.method()) => Ok(request),
        None => {
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.map_err(|_| AppError::TooLarge)?;
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
    }
}

/// The Content-Security-Policy around a response's nonce.
const CSP_BEFORE_NONCE: &str = "default-src 'self'; script-src 'self' 'nonce-";
const CSP_AFTER_NONCE: &str = "' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The headers every response carries besides its CSP (and, over HTTPS, HSTS).
const FIXED_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
    (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (HeaderName::from_static("permissions-policy"), HeaderValue::from_static("camera=(), microphone=(), geolocation=()")),
];

fn set_security_headers(headers: &mut HeaderMap, nonce: &str, https: bool) {
    // A nonce is URL-safe base64, always a valid header value.
    if let Ok(csp) = HeaderValue::try_from([CSP_BEFORE_NONCE, nonce, CSP_AFTER_NONCE].concat()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    for (name, value) in FIXED_HEADERS {
        headers.insert(name, value);
    }
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Refuses what [`SecurityPolicy`] refuses, passes the rest to `inner`, and puts the security
/// headers on every answer.
pub async fn guard<Answer: std::future::Future<Output = Response>>(
    policy: &SecurityPolicy,
    request: Request<Body>,
    inner: impl FnOnce(Request<Body>) -> Answer,
) -> Response {
    let nonce = new_nonce();
    let html = wants_html(request.headers());
    // The API is authorised by a bearer token, which no browser sends for another site.
    let mut response = if changes_state(request.method()) && !is_api(request.uri().path()) && !from_own_pages(request.headers(), policy) {
        tracing::warn!(method = %request.method(), path = %redacted_path(request.uri().path()), "refused a cross-site state-changing request");
        refusal(AppError::CrossSite, html)
    } else {
        match within_body_limit(request, policy).await {
            Err(error) => refusal(error, html),
            Ok(mut request) => {
                if let Some(peer) = request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) {
                    let client = policy.client_ip(peer, request.headers());
                    request.extensions_mut().insert(app::services::context::ClientIp(client));
                }
                request.extensions_mut().insert(CspNonce(nonce.clone()));
                inner(request).await
            }
        }
    };
    set_security_headers(response.headers_mut(), &nonce, policy.https);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let p = SecurityPolicy::for_public_url("https://beckon.example.com", vec![proxy]);
        let forwarded = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(p.client_ip(proxy, &forwarded), "203.0.113.7".parse::<IpAddr>().unwrap());
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(p.client_ip(stranger, &forwarded), stranger, "anyone else's header is ignored");
        assert_eq!(p.client_ip(proxy, &HeaderMap::new()), proxy);
    }

    #[test]
    fn forwarded_entries_with_ports_are_read_and_an_unreadable_one_ends_the_walk() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let inner: IpAddr = "10.0.0.3".parse().unwrap();
        let p = SecurityPolicy::for_public_url("https://beckon.example.com", vec![proxy, inner]);
        let client = |xff: &str| p.client_ip(proxy, &headers(&[("x-forwarded-for", xff)]));
        assert_eq!(client("203.0.113.7:51234"), "203.0.113.7".parse::<IpAddr>().unwrap());
        assert_eq!(client("[2001:db8::7]:443"), "2001:db8::7".parse::<IpAddr>().unwrap());
        assert_eq!(client("[2001:db8::8]"), "2001:db8::8".parse::<IpAddr>().unwrap());
        assert_eq!(client("2001:db8::9"), "2001:db8::9".parse::<IpAddr>().unwrap());
        assert_eq!(client("203.0.113.7, 10.0.0.3:80"), "203.0.113.7".parse::<IpAddr>().unwrap(), "through a second trusted proxy");
        // Not skipped: the unreadable entry stops the walk at the proxy that wrote it.
        assert_eq!(client("203.0.113.7, garbage"), proxy);
        assert_eq!(client("203.0.113.7, garbage, 10.0.0.3"), inner, "the proxy that passed on the unreadable entry");
        assert_eq!(client("203.0.113.7:99999"), proxy, "a port out of range is unreadable");
    }

    #[test]
    fn loopback_public_urls_accept_their_aliases() {
        let p = SecurityPolicy::for_public_url("http://127.0.0.1:3000", vec![]);
        assert!(from_own_pages(&headers(&[("origin", "http://localhost:3000")]), &p));
        assert!(!from_own_pages(&headers(&[("origin", "http://localhost:3001")]), &p));
    }

    #[test]
    fn foreign_null_and_missing_origins_are_refused() {
        let p = SecurityPolicy::for_public_url("https://beckon.example.com", vec![]);
        assert!(from_own_pages(&headers(&[("origin", "https://beckon.example.com")]), &p));
        assert!(!from_own_pages(&headers(&[("origin", "https://evil.example")]), &p));
        assert!(!from_own_pages(&headers(&[("origin", "null")]), &p));
        assert!(!from_own_pages(&HeaderMap::new(), &p));
        assert!(!from_own_pages(&headers(&[("sec-fetch-site", "cross-site")]), &p));
        assert!(from_own_pages(&headers(&[("sec-fetch-site", "same-origin")]), &p));
        assert!(from_own_pages(&headers(&[("referer", "https://beckon.example.com/signin")]), &p));
        assert!(!from_own_pages(&headers(&[("referer", "https://beckon.example.com.evil.example/")]), &p));
    }
}
