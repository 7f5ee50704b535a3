//! Sends one webhook: resolves the endpoint's host at that moment, refuses addresses inside
//! the deployment's own networks unless the operator allows them, connects to exactly the
//! address it checked (so a name that resolves elsewhere a moment later, DNS rebinding,
//! changes nothing), and speaks HTTP/1.1, over TLS for `https://`, under one deadline.

use http_body_util::BodyExt;
use shared::webhooks::{EndpointUrl, RESPONSE_EXCERPT_CHARS};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Turns a host name into addresses. The system's in production; tests give one that
/// answers what they need (a name that resolves to loopback, say).
pub trait Resolver: Send + Sync {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The system's resolver.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// Why an address is not sent to, when it is one of the deployment's own.
pub fn inside(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_private() {
                Some("a private address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if v4.is_unspecified() || a == 0 {
                Some("an unspecified address")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("a broadcast or multicast address")
            } else if a == 100 && (b & 0xc0) == 64 {
                Some("a shared (carrier-grade NAT) address")
            } else if (a, b) == (192, 0) && v4.octets()[2] == 0 || a == 198 && (b & 0xfe) == 18 || a >= 240 {
                Some("a reserved address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let v4 = |high: u16, low: u16| IpAddr::V4(std::net::Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8));
            if let Some(v4) = v6.to_ipv4_mapped() {
                inside(IpAddr::V4(v4))
            } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified()) {
                // NAT64, or IPv4-compatible: the IPv4 address it reaches.
                inside(v4(s[6], s[7]))
            } else if s[0] == 0x2002 {
                // 6to4: the IPv4 address of the relay's far end.
                inside(v4(s[1], s[2]))
            } else if (s[0], s[1]) == (0x2001, 0) || (s[0], s[1]) == (0x64, 0xff9b) && s[2] == 1 {
                Some("a tunnelled or translated address")
            } else if (s[0] & 0xffc0) == 0xfec0 {
                Some("a private address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("an unspecified address")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("a private address")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a broadcast or multicast address")
            } else {
                None
            }
        }
    }
}

/// Where webhooks may go and how long a receiver has.
#[derive(Clone)]
pub struct Reach {
    /// BECKON_WEBHOOKS_ALLOW_PRIVATE=on: loopback, private and link-local addresses too.
    pub allow_private: bool,
    pub resolver: Arc<dyn Resolver>,
    pub timeout: Duration,
}

impl Default for Reach {
    fn default() -> Self {
        Reach { allow_private: false, resolver: Arc::new(SystemResolver), timeout: Duration::from_secs(shared::webhooks::TIMEOUT_SECS) }
    }
}

/// What the receiver answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The start of its body, as text.
    pub excerpt: String,
}

/// Why nothing was answered. The text is what the delivery list shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotSent(pub String);

/// The addresses `url` may be sent to now, or why none.
pub async fn addresses(reach: &Reach, url: &EndpointUrl) -> Result<Vec<SocketAddr>, NotSent> {
    let found = match url.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, url.port)],
        Err(_) => match tokio::time::timeout(reach.timeout, reach.resolver.resolve(&url.host, url.port)).await {
            Ok(Ok(found)) if !found.is_empty() => found,
            Ok(Ok(_)) => return Err(NotSent(format!("{} has no address.", url.host))),
            Ok(Err(error)) => return Err(NotSent(format!("{} could not be resolved: {error}.", url.host))),
            Err(_) => return Err(NotSent(format!("Resolving {} took longer than {} seconds.", url.host, reach.timeout.as_secs()))),
        },
    };
    if !reach.allow_private {
        // One address of the deployment's own among several is refused too: which one a
        // connection would reach is the name owner's choice.
        // Which address it was is not said: that would map the deployment's network.
        if let Some(what) = found.iter().find_map(|a| inside(a.ip())) {
            return Err(NotSent(format!(
                "Refused: {} leads to {what}, inside this deployment's network. Webhooks go to public addresses only (the operator can allow others with BECKON_WEBHOOKS_ALLOW_PRIVATE=on).",
                url.host
            )));
        }
    }
    Ok(found)
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "a system certificate could not be read for webhooks");
            }
            roots.add_parsable_certificates(found.certs);
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
                .unwrap_or_else(|error| unreachable!("ring offers the default protocol versions: {error}"));
            Arc::new(config)
        })
        .clone()
}

/// POSTs `body` with `headers` to `url`, within the reach's deadline (resolving, connecting,
/// sending, and reading the answer's start).
pub async fn post(reach: &Reach, url: &EndpointUrl, headers: &[(&'static str, String)], body: String) -> Result<Answer, NotSent> {
    let deadline = reach.timeout;
    match tokio::time::timeout(deadline, post_now(reach, url, headers, body)).await {
        Ok(done) => done,
        Err(_) => Err(NotSent(format!("No answer within {} seconds.", deadline.as_secs()))),
    }
}

async fn post_now(reach: &Reach, url: &EndpointUrl, headers: &[(&'static str, String)], body: String) -> Result<Answer, NotSent> {
    let targets = addresses(reach, url).await?;
    let mut last_error = None;
    let mut stream = None;
    for target in &targets {
        match tokio::net::TcpStream::connect(target).await {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(error) => last_error = Some(format!("Could not connect to {target}: {error}.")),
        }
    }
    let Some(stream) = stream else { return Err(NotSent(last_error.unwrap_or_else(|| "No address to connect to.".into()))) };
    let _ = stream.set_nodelay(true);
    let io: Box<dyn Io> = if url.https {
        let name = rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|_| NotSent(format!("{} is not a name TLS can check.", url.host)))?;
        let connector = tokio_rustls::TlsConnector::from(tls_config());
        match connector.connect(name, stream).await {
            Ok(tls) => Box::new(tls),
            Err(error) => return Err(NotSent(format!("TLS with {} failed: {error}.", url.host))),
        }
    } else {
        Box::new(stream)
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await.map_err(|error| NotSent(format!("HTTP failed: {error}.")))?;
    let connection = tokio::spawn(connection);
    let mut request = http::Request::post(&url.path_and_query)
        .header(http::header::HOST, url.host_header())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, concat!("Beckon-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header(http::header::CONNECTION, "close");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request =
        request.body(http_body_util::Full::new(bytes::Bytes::from(body))).map_err(|error| NotSent(format!("The request could not be built: {error}.")))?;
    let answered = sender.send_request(request).await;
    let result = match answered {
        Ok(response) => {
            let status = response.status().as_u16();
            let excerpt = read_start(response.into_body()).await;
            Ok(Answer { status, excerpt })
        }
        Err(error) => Err(NotSent(format!("The receiver closed the connection without an answer: {error}."))),
    };
    connection.abort();
    result
}

/// The first characters of a body, reading no more than needed for them.
async fn read_start(mut body: hyper::body::Incoming) -> String {
    let limit = RESPONSE_EXCERPT_CHARS * 4;
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&bytes).chars().take(RESPONSE_EXCERPT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployments_own_networks_are_inside_and_public_ones_are_not() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "::10.0.0.1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "64:ff9b:1::1",
            "fec0::1",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(inside(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::"] {
            assert_eq!(inside(ip.parse().unwrap()), None, "{ip}");
        }
    }
}
