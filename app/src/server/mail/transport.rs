//! How messages leave: SMTP through lettre's pooled transport, or, with no SMTP server
//! configured (the embedded default), `.eml` files in the data directory.

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    None,
    StartTls,
    Implicit,
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<String>,
    pub pool_size: u32,
    pub timeout: Duration,
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
    hello: ClientId,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    permits: Semaphore,
}

impl SmtpPool {
    async fn connect(&self) -> Result<AsyncSmtpConnection, Outcome> {
        let s = &self.settings;
        let tls = || TlsParameters::new(s.host.clone()).map_err(|e| Outcome::Permanent(format!("TLS settings for {}: {e}", s.host)));
        let smtp_error = |e: lettre::transport::smtp::Error| classify(&e);
        let mut connection = match s.tls {
            // Implicit TLS starts encrypted, so lettre opens that socket itself.
            TlsMode::Implicit => AsyncSmtpConnection::connect_tokio1((s.host.as_str(), s.port), Some(s.timeout), &self.hello, Some(tls()?), None)
                .await
                .map_err(smtp_error)?,
            TlsMode::None | TlsMode::StartTls => {
                let tcp = tokio::net::TcpStream::connect((s.host.as_str(), s.port))
                    .await
                    .map_err(|e| Outcome::Transient(format!("cannot connect to {}:{}: {e}", s.host, s.port)))?;
                let _ = tcp.set_nodelay(true);
                let mut connection = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await.map_err(smtp_error)?;
                if s.tls == TlsMode::StartTls {
                    connection.starttls(tls()?, &self.hello).await.map_err(smtp_error)?;
                }
                connection
            }
        };
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            let credentials = Credentials::new(user.clone(), password.clone());
            connection.auth(&[Mechanism::Plain, Mechanism::Login], &credentials).await.map_err(smtp_error)?;
        }
        Ok(connection)
    }

    async fn send(&self, message: &Message) -> Outcome {
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
            match connection.send(message.envelope(), &bytes).await {
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

/// 5xx replies are permanent; everything else (4xx, network, timeouts) may pass.
fn classify(error: &lettre::transport::smtp::Error) -> Outcome {
    if error.is_permanent() {
        Outcome::Permanent(error.to_string())
    } else {
        Outcome::Transient(error.to_string())
    }
}

/// What happened to one send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent(String),
    /// Worth trying again later: 4xx replies, refused connections, timeouts.
    Transient(String),
    /// The server refused for good (5xx), or the message cannot be built.
    Permanent(String),
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
}

impl Transport {
    pub fn smtp(settings: &SmtpSettings) -> Result<Transport, String> {
        if settings.tls != TlsMode::None {
            TlsParameters::new(settings.host.clone()).map_err(|e| format!("TLS settings for {}: {e}", settings.host))?;
        }
        Ok(Transport::Smtp(Arc::new(SmtpPool {
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
            Transport::Smtp(_) => "SMTP".into(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        }
    }

    pub async fn send(&self, outgoing: Outgoing<'_>) -> Outcome {
        let message = match build(&outgoing) {
            Ok(message) => message,
            Err(why) => return Outcome::Permanent(why),
        };
        match self {
            Transport::Smtp(pool) => pool.send(&message).await,
            Transport::Files(dir) => {
                let path = dir.join(format!("{}-{}.eml", outgoing.created_at_ms, outgoing.id));
                let written = async {
                    tokio::fs::create_dir_all(dir).await?;
                    tokio::fs::write(&path, message.formatted()).await
                };
                match written.await {
                    Ok(()) => Outcome::Sent(format!("written to {}", path.display())),
                    Err(error) => Outcome::Transient(format!("cannot write {}: {error}", path.display())),
                }
            }
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
