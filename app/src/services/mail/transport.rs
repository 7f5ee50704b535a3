//! How messages leave: SMTP through Beckon's own pool of lettre connections, or, with no SMTP
//! server configured (the embedded default), `.eml` files in the data directory.
//!
//! TLS is checked against the operating system's certificate store, plus the operator's own
//! authority when `BECKON_SMTP_CA_FILE` names one; nothing ever accepts any certificate.
//! `starttls` never falls back to plain text, and a failure the operator must fix (a
//! certificate, a password, a server without STARTTLS) is told apart from a passing one.

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
// lettre marks AsyncNetworkStream "not meant to be public"; it is still the only way to run
// implicit TLS on a socket of our own (with TCP_NODELAY). Cargo.lock pins lettre 0.11.
use lettre::address::{Address, Envelope};
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::extension::{ClientId, Extension};
use lettre::Message;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    None,
    StartTls,
    Implicit,
}

impl TlsMode {
    pub fn label(self) -> &'static str {
        match self {
            TlsMode::None => "plain SMTP",
            TlsMode::StartTls => "STARTTLS",
            TlsMode::Implicit => "TLS",
        }
    }
}

/// The SMTP password: never printed, never logged (its Debug output is masked).
#[derive(Clone)]
pub struct SmtpPassword(String);

impl SmtpPassword {
    pub fn new(password: String) -> SmtpPassword {
        SmtpPassword(password)
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Debug)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<SmtpPassword>,
    pub pool_size: u32,
    pub timeout: Duration,
    /// A PEM bundle of certificate authorities trusted besides the system's.
    pub ca_file: Option<PathBuf>,
}

impl SmtpSettings {
    /// "SMTP smtp.example.com:587 (STARTTLS, as user@example.com)", for people to read.
    pub fn describe(&self) -> String {
        let user = self.username.as_ref().map(|u| format!(", as {u}")).unwrap_or_default();
        format!("SMTP {}:{} ({}{user})", self.host, self.port, self.tls.label())
    }
}

#[derive(Clone)]
pub enum Transport {
    Smtp(Arc<SmtpPool>),
    Files(PathBuf),
}

/// Up to `pool_size` SMTP connections, kept open between messages. Our own pool rather
/// than lettre's, for two reasons: its sockets get TCP_NODELAY (lettre writes a message
/// and its final "." separately, and without NODELAY the second write waits for the
/// server's delayed ACK: about 40 ms per message), and a connection whose send was
/// interrupted is dropped, never handed to the next message half-way through a transaction.
pub struct SmtpPool {
    settings: SmtpSettings,
    tls: Option<TlsParameters>,
    hello: ClientId,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    permits: Semaphore,
}

/// What happened to one send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent(String),
    /// Worth trying again later: 4xx replies, refused connections, timeouts.
    Transient(String),
    /// The server refused for good (5xx), or the message cannot be built.
    Permanent(String),
    /// Nothing will pass until the operator changes something: the server's certificate is
    /// not trusted, the password is refused, STARTTLS is not offered.
    Misconfigured(String),
}

pub const WRONG_CREDENTIALS: &str = "The SMTP server refused the username or password.";

/// The deepest cause of an error: lettre's own wrapping says only "Connection error".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The TLS error inside `error`, if any (tokio-rustls hands it over inside an io::Error).
fn rustls_error<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return Some(tls);
        }
        cause = e.source();
    }
    None
}

/// 5xx replies are permanent; everything else (4xx, network, timeouts) may pass.
fn classify(error: &lettre::transport::smtp::Error) -> Outcome {
    if let Some(code) = error.status() {
        // lettre says "permanent error (550): …"; the reply reads "550 …".
        let text = root_cause(error);
        let reply = if text.starts_with(&code.to_string()) { text } else { format!("{code} {text}") };
        return if error.is_permanent() { Outcome::Permanent(reply) } else { Outcome::Transient(reply) };
    }
    Outcome::Transient(root_cause(error))
}

impl SmtpPool {
    /// A failed TLS handshake: the certificate, or a server that does not speak TLS, is
    /// the operator's to fix; anything else (a reset connection) may pass.
    fn tls_failure(&self, error: &lettre::transport::smtp::Error) -> Outcome {
        use rustls::CertificateError as C;
        let host = &self.settings.host;
        let fix = "Set BECKON_SMTP_CA_FILE or fix the server's certificate.";
        match rustls_error(error) {
            Some(rustls::Error::InvalidCertificate(C::UnknownIssuer)) => {
                Outcome::Misconfigured(format!("The SMTP server's certificate is not trusted (issuer unknown). {fix}"))
            }
            Some(rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. })) => {
                Outcome::Misconfigured(format!("The SMTP server's certificate is not for {host}. Check BECKON_SMTP_HOST or fix the server's certificate."))
            }
            Some(rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. })) => {
                Outcome::Misconfigured("The SMTP server's certificate has expired. Renew the server's certificate.".into())
            }
            Some(rustls::Error::InvalidCertificate(other)) => Outcome::Misconfigured(format!("The SMTP server's certificate is not valid ({other:?}). {fix}")),
            Some(rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } | rustls::Error::InappropriateHandshakeMessage { .. }) => {
                Outcome::Misconfigured(format!(
                    "The SMTP server on port {} did not answer with TLS. Check BECKON_SMTP_TLS and BECKON_SMTP_PORT (STARTTLS is usually 587, TLS 465).",
                    self.settings.port
                ))
            }
            _ => classify(error),
        }
    }

    fn auth_failure(error: &lettre::transport::smtp::Error) -> Outcome {
        match error.status().map(u16::from) {
            Some(530 | 534 | 535 | 538) => Outcome::Misconfigured(WRONG_CREDENTIALS.into()),
            _ if error.is_client() => Outcome::Misconfigured(
                "The SMTP server offers no way to sign in that Beckon supports (PLAIN or LOGIN). Check BECKON_SMTP_TLS: many servers offer sign-in only after STARTTLS.".into(),
            ),
            _ => classify(error),
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Outcome> {
        let s = &self.settings;
        let tcp = tokio::net::TcpStream::connect((s.host.as_str(), s.port))
            .await
            .map_err(|e| Outcome::Transient(format!("cannot connect to {}:{}: {e}", s.host, s.port)))?;
        let _ = tcp.set_nodelay(true);
        let mut connection = match (&self.tls, s.tls) {
            (Some(tls), TlsMode::Implicit) => {
                // Implicit TLS starts encrypted; the handshake runs on our own socket (with
                // NODELAY) before SMTP begins on top of it.
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                stream.upgrade_tls(tls.clone()).await.map_err(|e| self.tls_failure(&e))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(Encrypted(stream)), &self.hello).await.map_err(|e| classify(&e))?
            }
            _ => {
                let mut connection = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await.map_err(|e| classify(&e))?;
                if let (Some(tls), TlsMode::StartTls) = (&self.tls, s.tls) {
                    if !connection.server_info().supports_feature(Extension::StartTls) {
                        connection.abort().await;
                        return Err(Outcome::Misconfigured(
                            "The SMTP server does not offer STARTTLS, so nothing was sent: Beckon never falls back to plain text. Use BECKON_SMTP_TLS=tls for a server that speaks TLS from the start (port 465).".into(),
                        ));
                    }
                    connection.starttls(tls.clone(), &self.hello).await.map_err(|e| self.tls_failure(&e))?;
                }
                connection
            }
        };
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            let credentials = Credentials::new(user.clone(), password.expose().to_string());
            if let Err(error) = connection.auth(&[Mechanism::Plain, Mechanism::Login], &credentials).await {
                connection.abort().await;
                return Err(Self::auth_failure(&error));
            }
        }
        Ok(connection)
    }

    async fn send(&self, message: &Message, envelope: &Envelope) -> Outcome {
        let Ok(_permit) = self.permits.acquire().await else {
            return Outcome::Transient("the SMTP pool is closed".into());
        };
        let bytes = message.formatted();
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let reused = pooled.is_some();
        let attempt = |connection: Option<AsyncSmtpConnection>| async {
            let mut connection = match connection {
                Some(c) => c,
                None => self.connect().await.map_err(|outcome| (outcome, true))?,
            };
            match connection.send(envelope, &bytes).await {
                Ok(response) => {
                    let reply = format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "));
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(connection);
                    }
                    Ok(reply)
                }
                Err(error) => {
                    connection.abort().await;
                    Err((classify(&error), error.is_transient() || error.is_permanent()))
                }
            }
        };
        let first = tokio::time::timeout(self.settings.timeout, attempt(pooled)).await;
        match first {
            Ok(Ok(reply)) => Outcome::Sent(reply),
            // A kept connection the server has since closed: try once on a fresh one.
            Ok(Err((_, false))) if reused => match tokio::time::timeout(self.settings.timeout, attempt(None)).await {
                Ok(Ok(reply)) => Outcome::Sent(reply),
                Ok(Err((outcome, _))) => outcome,
                Err(_) => Outcome::Transient("the SMTP server did not answer in time".into()),
            },
            Ok(Err((outcome, _))) => outcome,
            Err(_) => Outcome::Transient("the SMTP server did not answer in time".into()),
        }
    }
}

/// An SMTP connection running inside an already encrypted stream, for implicit TLS: lettre's
/// stream speaks the `futures` IO traits, its connections want tokio's.
#[derive(Debug)]
#[allow(deprecated)]
struct Encrypted(AsyncNetworkStream);

impl tokio::io::AsyncRead for Encrypted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        match futures::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, unfilled) {
            Poll::Ready(Ok(read)) => {
                buf.advance(read);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for Encrypted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        futures::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        futures::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        futures::io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

/// The parts of a message the transport needs.
pub struct Outgoing<'a> {
    pub id: &'a str,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub created_at_ms: i64,
    /// The envelope's sender, where bounces go: the message's own address (VERP) when a
    /// bounce domain is set, otherwise the From address.
    pub return_path: Option<String>,
    /// Signs the message (DKIM) for its From domain.
    pub dkim: Option<Arc<lettre::message::DkimConfig>>,
}

/// TLS for `settings`: the system's authorities, plus the operator's CA file if named.
fn tls_parameters(settings: &SmtpSettings) -> Result<Option<TlsParameters>, String> {
    if settings.tls == TlsMode::None {
        return Ok(None);
    }
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read BECKON_SMTP_CA_FILE {}: {e}", path.display()))?;
        let authority = Certificate::from_pem(&pem).map_err(|e| format!("BECKON_SMTP_CA_FILE {} holds no PEM certificate: {e}", path.display()))?;
        builder = builder.add_root_certificate(authority);
    }
    builder.build().map(Some).map_err(|e| format!("TLS settings for {}: {}", settings.host, root_cause(&e)))
}

impl Transport {
    pub fn smtp(settings: &SmtpSettings) -> Result<Transport, String> {
        Ok(Transport::Smtp(Arc::new(SmtpPool {
            tls: tls_parameters(settings)?,
            settings: settings.clone(),
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(settings.pool_size.max(1) as usize),
        })))
    }

    pub fn files(dir: PathBuf) -> Transport {
        Transport::Files(dir)
    }

    pub fn describe(&self) -> String {
        match self {
            Transport::Smtp(pool) => pool.settings.describe(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        }
    }

    pub async fn send(&self, outgoing: Outgoing<'_>) -> Outcome {
        let mut message = match build(&outgoing) {
            Ok(message) => message,
            Err(why) => return Outcome::Permanent(why),
        };
        if let Some(dkim) = outgoing.dkim.clone() {
            // An RSA signature is about a millisecond of arithmetic: off the threads that
            // answer pages.
            message = match tokio::task::spawn_blocking(move || {
                message.sign(&dkim);
                message
            })
            .await
            {
                Ok(signed) => signed,
                Err(error) => return Outcome::Transient(format!("signing the message stopped: {error}")),
            };
        }
        let envelope = match envelope(&message, outgoing.return_path.as_deref()) {
            Ok(envelope) => envelope,
            Err(why) => return Outcome::Permanent(why),
        };
        match self {
            Transport::Smtp(pool) => pool.send(&message, &envelope).await,
            Transport::Files(dir) => {
                let path = dir.join(format!("{}-{}.eml", outgoing.created_at_ms, outgoing.id));
                // As a mailbox would store it: the envelope's sender on top.
                let mut bytes = match envelope.from() {
                    Some(from) => format!("Return-Path: <{from}>\r\n").into_bytes(),
                    None => Vec::new(),
                };
                bytes.extend_from_slice(&message.formatted());
                let written = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(&path, bytes).await
                };
                match written.await {
                    // The folder is the operator's to know; the name tells messages apart.
                    Ok(()) => Outcome::Sent(format!("written to {}", path.file_name().unwrap_or_default().to_string_lossy())),
                    Err(error) => Outcome::Transient(format!("cannot write {}: {error}", path.display())),
                }
            }
        }
    }
}

/// The message's envelope, with `return_path` as its sender when given.
fn envelope(message: &Message, return_path: Option<&str>) -> Result<Envelope, String> {
    match return_path {
        None => Ok(message.envelope().clone()),
        Some(path) => {
            let from: Address = path.parse().map_err(|e| format!("return path {path}: {e}"))?;
            Envelope::new(Some(from), message.envelope().to().to_vec()).map_err(|e| e.to_string())
        }
    }
}

fn build(outgoing: &Outgoing<'_>) -> Result<Message, String> {
    let to: Mailbox = outgoing.to.parse().map_err(|e| format!("recipient {}: {e}", outgoing.to))?;
    let sent_at = std::time::UNIX_EPOCH + Duration::from_millis(outgoing.created_at_ms.max(0) as u64);
    let mut builder = Message::builder()
        .from(outgoing.from.clone())
        .to(to)
        .subject(outgoing.subject)
        .date(sent_at)
        // A stable id lets a mailbox recognise a message delivered twice after a crash.
        .message_id(Some(format!("<{}@beckon>", outgoing.id)));
    if let Some(reply_to) = &outgoing.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(outgoing.text.to_string()))
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(outgoing.html.to_string())),
        )
        .map_err(|e| e.to_string())
}
