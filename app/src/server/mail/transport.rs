//! How messages leave: SMTP through lettre's pooled transport, or, with no SMTP server
//! configured (the embedded default), `.eml` files in the data directory.

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

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
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
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
        let tls_parameters = || TlsParameters::new(settings.host.clone()).map_err(|e| format!("TLS settings for {}: {e}", settings.host));
        let tls = match settings.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(tls_parameters()?),
            TlsMode::Implicit => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout))
            .pool_config(PoolConfig::new().max_size(settings.pool_size.max(1)));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Transport::Smtp(builder.build()))
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
            Transport::Smtp(smtp) => match smtp.send(message).await {
                Ok(response) => Outcome::Sent(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" "))),
                Err(error) if error.is_permanent() => Outcome::Permanent(error.to_string()),
                Err(error) => Outcome::Transient(error.to_string()),
            },
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
