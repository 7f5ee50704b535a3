//! A real SMTP server on a free loopback port (tests/support/smtp_sink.py, aiosmtpd):
//! plain, or with STARTTLS or implicit TLS under certificates made for the test, and with a
//! required login.

use app::services::mail::transport::{SmtpPassword, SmtpSettings, TlsMode};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// How the sink speaks.
#[derive(Clone, Debug, Default)]
pub struct SinkOptions {
    /// `None`: plain SMTP; otherwise STARTTLS or implicit TLS.
    pub tls: Option<TlsMode>,
    /// Refuse mail until the client has said STARTTLS.
    pub require_starttls: bool,
    /// (user, password) the sink requires.
    pub login: Option<(String, String)>,
}

/// A private certificate authority, a server certificate it issued for 127.0.0.1, and a
/// second authority that issued nothing (tests/support/make_certs.sh, with openssl).
pub struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    pub fn make() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/make_certs.sh");
        let status = Command::new("bash").arg(script).arg(dir.path()).status().expect("openssl makes the test certificates");
        assert!(status.success(), "make_certs.sh failed");
        Certs { dir }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }

    fn server(&self) -> (PathBuf, PathBuf) {
        (self.dir.path().join("server.pem"), self.dir.path().join("server.key"))
    }
}

pub struct SmtpSink {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    options: SinkOptions,
    certs: Option<Certs>,
}

impl SmtpSink {
    /// Plain SMTP, no login: what most delivery tests need.
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(SinkOptions::default())
    }

    pub fn start_with(options: SinkOptions) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        let certs = options.tls.map(|_| Certs::make());
        let mut sink = SmtpSink { child: None, port: 0, dir, options, certs };
        sink.launch(0);
        sink
    }

    fn launch(&mut self, port: u16) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--store")
            .arg(self.dir.path().join("store"))
            .arg("--control")
            .arg(self.control())
            .arg("--log")
            .arg(self.dir.path().join("commands.log"));
        if let (Some(mode), Some(certs)) = (self.options.tls, &self.certs) {
            let (cert, key) = certs.server();
            command.arg("--tls").arg(if mode == TlsMode::Implicit { "implicit" } else { "starttls" }).arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if self.options.require_starttls {
            command.arg("--require-starttls");
        }
        if let Some((user, password)) = &self.options.login {
            command.arg("--auth").arg(format!("{user}:{password}"));
        }
        let mut child = command.stdout(Stdio::piped()).spawn().expect("python3 runs the SMTP sink (scripts/setup.sh test installs aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        self.port = line.trim().parse().unwrap_or_else(|_| panic!("the sink printed its port, got {line:?}"));
        self.child = Some(child);
    }

    fn control(&self) -> PathBuf {
        self.dir.path().join("control")
    }

    /// "ok", "451" or "550".
    pub fn answer(&self, mode: &str) {
        std::fs::write(self.control(), mode).unwrap();
    }

    /// Stops listening, as a mail server that is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Listens again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.launch(self.port);
    }

    /// Every message received, in arrival order.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("store"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// Every MAIL, RCPT and AUTH the sink saw, each with "tls" or "plain": how it arrived.
    pub fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("commands.log")).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// The certificates the sink serves, when it speaks TLS.
    pub fn certs(&self) -> &Certs {
        self.certs.as_ref().expect("a TLS sink")
    }

    /// Settings that reach this sink as it speaks, without credentials.
    pub fn settings(&self) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: self.options.tls.unwrap_or(TlsMode::None),
            username: None,
            password: None,
            pool_size: 4,
            timeout: std::time::Duration::from_secs(5),
            ca_file: None,
        }
    }

    /// Settings with the sink's own login and trusting `ca_file`.
    pub fn signed_in_settings(&self, ca_file: Option<PathBuf>) -> SmtpSettings {
        let (user, password) = self.options.login.clone().expect("a sink with a login");
        SmtpSettings { username: Some(user), password: Some(SmtpPassword::new(password)), ca_file, ..self.settings() }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The value of a header in a raw message.
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")))
}
