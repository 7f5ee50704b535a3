//! A real SMTP server on a free loopback port (tests/support/smtp_sink.py, aiosmtpd).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SmtpSink {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        let mut sink = SmtpSink { child: None, port: 0, dir };
        sink.launch(0);
        sink
    }

    fn launch(&mut self, port: u16) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--store")
            .arg(self.dir.path().join("store"))
            .arg("--control")
            .arg(self.control())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the SMTP sink (scripts/setup.sh test installs aiosmtpd)");
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

    pub fn settings(&self) -> app::server::mail::transport::SmtpSettings {
        app::server::mail::transport::SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: app::server::mail::transport::TlsMode::None,
            username: None,
            password: None,
            pool_size: 4,
            timeout: std::time::Duration::from_secs(5),
        }
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
