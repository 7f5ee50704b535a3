//! `beckon bounces`: a small SMTP server that receives the bounces of Beckon's own messages
//! (`serve` runs it too when BECKON_BOUNCE_ADDR is set). It takes mail only for a valid
//! return path of a message (`app::services::mail::bounces`), never relays, limits the
//! size of a message, the sessions at once and the sessions per client and minute, and
//! answers 250 only once what came back is recorded (the sender keeps it otherwise).

use app::services::mail::bounces::{self, Report};
use app::services::store::bounces as store;
use app::services::AppState;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

#[derive(Clone, Debug)]
pub struct BounceSettings {
    /// The domain of every return path (BECKON_BOUNCE_DOMAIN).
    pub domain: String,
    /// The largest message taken, in bytes (BECKON_BOUNCE_MAX_BYTES).
    pub max_bytes: usize,
    /// Sessions one client address may open in a minute (BECKON_BOUNCE_SESSIONS_PER_MINUTE).
    pub sessions_per_minute: u32,
    /// Sessions open at once, from everyone.
    pub max_sessions: usize,
    /// How long the listener waits for the client's next line.
    pub idle_timeout: Duration,
    /// How long a session may last in all.
    pub session_timeout: Duration,
}

impl BounceSettings {
    pub fn new(domain: String) -> BounceSettings {
        BounceSettings {
            domain,
            max_bytes: 512 * 1024,
            sessions_per_minute: 60,
            max_sessions: 64,
            idle_timeout: Duration::from_secs(60),
            session_timeout: Duration::from_secs(300),
        }
    }
}

/// Recipients in one envelope: a bounce names one return path; a few allow a report
/// covering several messages.
const MAX_RECIPIENTS: usize = 10;
/// RFC 5321 allows 512 octets for a command line; text lines may reach 1000.
const MAX_LINE: usize = 1000;
/// Commands in one session, and recipients refused in one session, before it is closed: a
/// sender of bounces needs a handful; a guesser of tags gets few guesses per session.
const MAX_COMMANDS: usize = 100;
const MAX_REFUSED_RECIPIENTS: usize = 20;
/// Sessions one client address may hold open at once.
const OPEN_PER_CLIENT: u32 = 8;

/// Sessions per client address: opened in the current minute, and open now.
#[derive(Default)]
struct Sessions {
    minute: Mutex<(Option<Instant>, HashMap<IpAddr, u32>)>,
    open: Mutex<HashMap<IpAddr, u32>>,
}

impl Sessions {
    fn admit(&self, ip: IpAddr, limit: u32) -> bool {
        let Ok(mut guard) = self.minute.lock() else { return false };
        let (started, counts) = &mut *guard;
        if started.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *started = Some(Instant::now());
            counts.clear();
        }
        let count = counts.entry(ip).or_default();
        *count += 1;
        *count <= limit
    }

    /// Counts a session of `ip` open until the guard drops; none past [`OPEN_PER_CLIENT`].
    fn open(self: &Arc<Self>, ip: IpAddr) -> Option<OpenSession> {
        let mut open = self.open.lock().ok()?;
        let count = open.entry(ip).or_default();
        if *count >= OPEN_PER_CLIENT {
            return None;
        }
        *count += 1;
        Some(OpenSession { sessions: self.clone(), ip })
    }
}

struct OpenSession {
    sessions: Arc<Sessions>,
    ip: IpAddr,
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        if let Ok(mut open) = self.sessions.open.lock() {
            if let Some(count) = open.get_mut(&self.ip) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

/// Serves bounces on `listener` until `shutdown` resolves.
pub async fn serve(listener: TcpListener, settings: BounceSettings, state: AppState, shutdown: impl std::future::Future<Output = ()>) {
    let settings = Arc::new(settings);
    let sessions = Arc::new(Sessions::default());
    let open = Arc::new(Semaphore::new(settings.max_sessions));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(%error, "the bounce listener could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (settings, state, sessions, open) = (settings.clone(), state.clone(), sessions.clone(), open.clone());
        tokio::spawn(async move {
            let permit = open.try_acquire_owned();
            let held = sessions.open(peer.ip());
            let admitted = permit.is_ok() && held.is_some() && sessions.admit(peer.ip(), settings.sessions_per_minute);
            if !admitted {
                let mut stream = stream;
                let _ = stream.write_all(b"421 4.7.0 Too many connections, try again later\r\n").await;
                return;
            }
            match tokio::time::timeout(settings.session_timeout, session(stream, peer, &settings, &state)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, %peer, "a bounce session ended early"),
                Err(_) => tracing::debug!(%peer, "a bounce session lasted too long and was closed"),
            }
        });
    }
}

/// The envelope of the message being received.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    /// The messages the recipients are return paths of.
    messages: Vec<String>,
}

async fn session(stream: TcpStream, peer: SocketAddr, settings: &BounceSettings, state: &AppState) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let domain = &settings.domain;
    write.write_all(format!("220 {domain} Beckon bounce receiver ESMTP\r\n").as_bytes()).await?;
    let mut greeted = false;
    let mut envelope = Envelope::default();
    let mut line = Vec::new();
    let (mut commands, mut refused) = (0, 0);
    loop {
        commands += 1;
        if commands > MAX_COMMANDS || refused >= MAX_REFUSED_RECIPIENTS {
            write.write_all(b"421 4.7.0 Too many commands in one session, closing\r\n").await?;
            return Ok(());
        }
        line.clear();
        match next_line(&mut read, &mut line, MAX_LINE + 2, settings.idle_timeout).await? {
            None => {
                write.write_all(b"421 4.4.2 Idle too long, closing\r\n").await?;
                return Ok(());
            }
            Some(0) => return Ok(()),
            Some(_) => {}
        }
        if !line.ends_with(b"\n") {
            write.write_all(b"500 5.5.2 Line too long\r\n").await?;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let command = text.trim_end_matches(['\r', '\n']);
        let verb = command.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        let argument = command.get(verb.len()..).unwrap_or_default().trim();
        let reply: String = match verb.as_str() {
            "EHLO" => {
                greeted = true;
                envelope = Envelope::default();
                format!("250-{domain}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES", settings.max_bytes)
            }
            "HELO" => {
                greeted = true;
                envelope = Envelope::default();
                format!("250 {domain}")
            }
            "MAIL" if !greeted => "503 5.5.1 Say EHLO first".into(),
            "MAIL" if envelope.from.is_some() => "503 5.5.1 Sender already given".into(),
            "MAIL" => match path_of(argument, "FROM:") {
                None => "501 5.5.4 Syntax: MAIL FROM:<address>".into(),
                Some((_, params)) if declared_size(params).is_some_and(|size| size > settings.max_bytes) => {
                    format!("552 5.3.4 Message too big: at most {} bytes", settings.max_bytes)
                }
                Some((path, _)) => {
                    envelope.from = Some(path);
                    "250 2.1.0 OK".into()
                }
            },
            "RCPT" if envelope.from.is_none() => "503 5.5.1 MAIL first".into(),
            "RCPT" if envelope.messages.len() >= MAX_RECIPIENTS => "452 4.5.3 Too many recipients".into(),
            "RCPT" => match path_of(argument, "TO:") {
                None => "501 5.5.4 Syntax: RCPT TO:<address>".into(),
                Some((path, _)) => match bounces::message_of(&state.link_key, &path, domain) {
                    Some(message) => {
                        // The same return path twice is one message, recorded once.
                        if !envelope.messages.contains(&message) {
                            envelope.messages.push(message);
                        }
                        "250 2.1.5 OK".into()
                    }
                    None => {
                        refused += 1;
                        match path.rsplit_once('@').is_some_and(|(_, at)| at.eq_ignore_ascii_case(domain)) {
                            true => "550 5.1.1 No such return path here".into(),
                            false => "550 5.7.1 Relaying denied: this server takes bounces of its own messages only".into(),
                        }
                    }
                },
            },
            "DATA" if envelope.messages.is_empty() => "503 5.5.1 RCPT first".into(),
            "DATA" => {
                write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let body = match read_data(&mut read, settings).await? {
                    Data::Complete(body) => body,
                    Data::TooBig => {
                        envelope = Envelope::default();
                        write.write_all(format!("552 5.3.4 Message too big: at most {} bytes\r\n", settings.max_bytes).as_bytes()).await?;
                        continue;
                    }
                    Data::Closed => return Ok(()),
                };
                let messages = std::mem::take(&mut envelope.messages);
                envelope = Envelope::default();
                match take(state, &messages, &body).await {
                    Ok(()) => "250 2.0.0 Received".into(),
                    Err(error) => {
                        tracing::warn!(%error, %peer, "a bounce could not be recorded; the sender will try again");
                        "451 4.3.0 Cannot record this now, try again later".into()
                    }
                }
            }
            "RSET" => {
                envelope = Envelope::default();
                "250 2.0.0 OK".into()
            }
            "NOOP" => "250 2.0.0 OK".into(),
            "VRFY" => "252 2.5.2 Cannot verify".into(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 Command not implemented".into(),
        };
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
    }
}

/// Reads up to `limit` bytes of the next line into `line`: None when the client was silent
/// for `timeout`, Some(0) when it closed.
async fn next_line(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut Vec<u8>,
    limit: usize,
    timeout: Duration,
) -> std::io::Result<Option<usize>> {
    let mut limited = read.take(limit as u64);
    match tokio::time::timeout(timeout, limited.read_until(b'\n', line)).await {
        Err(_) => Ok(None),
        Ok(read) => read.map(Some),
    }
}

enum Data {
    Complete(Vec<u8>),
    TooBig,
    Closed,
}

/// The message up to the line holding a single dot, dots unstuffed; past the size limit the
/// rest is read and dropped, so the session can go on.
async fn read_data(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, settings: &BounceSettings) -> std::io::Result<Data> {
    let mut body = Vec::new();
    let mut too_big = false;
    let mut line = Vec::new();
    // A line longer than a read is taken in pieces: only a piece that starts a line may end
    // the message or lose a stuffed dot.
    let mut at_line_start = true;
    loop {
        line.clear();
        match next_line(read, &mut line, MAX_LINE * 8, settings.idle_timeout).await? {
            None | Some(0) => return Ok(Data::Closed),
            Some(_) => {}
        }
        let starts_line = std::mem::replace(&mut at_line_start, line.ends_with(b"\n"));
        if starts_line && (line == b".\r\n" || line == b".\n") {
            return Ok(if too_big { Data::TooBig } else { Data::Complete(body) });
        }
        if too_big {
            continue;
        }
        let content = if starts_line { line.strip_prefix(b".").unwrap_or(&line) } else { &line[..] };
        if body.len() + content.len() > settings.max_bytes {
            too_big = true;
            body = Vec::new();
            continue;
        }
        body.extend_from_slice(content);
    }
}

/// Reads what came back for each message and records the bounces among it.
async fn take(state: &AppState, messages: &[String], body: &[u8]) -> Result<(), shared::AppError> {
    use app::services::error::Step;
    for id in messages {
        let message = {
            let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
            store::message(&mut conn, id).await.step("bounces::message")?
        };
        let Some(message) = message else { continue };
        match bounces::read_report(body, &message.recipient) {
            Report::Bounce { kind, reply } => {
                bounces::record(state, id, kind, &reply).await?;
                tracing::info!(message = %id, kind = kind.as_str(), %reply, "bounce recorded");
            }
            Report::AutoReply => tracing::debug!(message = %id, "an automatic reply came back; not a bounce"),
            Report::NotABounce => tracing::debug!(message = %id, "mail came back that reports no failure"),
        }
    }
    Ok(())
}

/// `FROM:<path> PARAMS` → (path, params), the path without its brackets.
fn path_of<'a>(argument: &'a str, keyword: &str) -> Option<(String, &'a str)> {
    let rest = argument.get(..keyword.len()).filter(|k| k.eq_ignore_ascii_case(keyword)).map(|_| argument[keyword.len()..].trim_start())?;
    let rest = rest.strip_prefix('<')?;
    let (path, params) = rest.split_once('>')?;
    Some((path.trim().to_string(), params.trim()))
}

/// The SIZE= a client declares with MAIL FROM.
fn declared_size(params: &str) -> Option<usize> {
    params.split_whitespace().find_map(|p| p.get(..5).filter(|k| k.eq_ignore_ascii_case("SIZE=")).and_then(|_| p[5..].parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sizes_are_read_from_the_envelope_commands() {
        assert_eq!(path_of("FROM:<> SIZE=100", "FROM:"), Some((String::new(), "SIZE=100")));
        assert_eq!(path_of("from: <a@b.c>", "FROM:"), Some(("a@b.c".into(), "")));
        assert_eq!(path_of("TO:a@b.c", "TO:"), None);
        assert_eq!(declared_size("BODY=8BITMIME size=2048"), Some(2048));
        assert_eq!(declared_size("BODY=8BITMIME"), None);
    }

    #[test]
    fn a_client_gets_its_sessions_per_minute_and_no_more() {
        let sessions = Sessions::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!((0..3).all(|_| sessions.admit(a, 3)));
        assert!(!sessions.admit(a, 3));
        assert!(sessions.admit(b, 3), "another client has its own count");
    }
}
