//! A PostgreSQL cluster of a test's own (Debian's server programs, as
//! `scripts/with-postgres.sh` uses them), which the test may stop and start under a running
//! Beckon: never the one other tests share.

use std::path::PathBuf;
use std::process::Command;

pub struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    /// As root, the cluster runs as this unprivileged user (PostgreSQL refuses root).
    owner: Option<&'static str>,
}

impl Cluster {
    pub fn start() -> Cluster {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let found = Command::new(format!("{root}/scripts/setup.sh")).arg("postgres-bin").output().unwrap();
        assert!(found.status.success(), "{}", String::from_utf8_lossy(&found.stderr));
        let bin = PathBuf::from(String::from_utf8(found.stdout).unwrap().trim());
        let dir = tempfile::tempdir().unwrap();
        let is_root = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false);
        let owner = is_root.then_some("beckon-pg");
        if let Some(user) = owner {
            let exists = Command::new("id").arg(user).output().map(|o| o.status.success()).unwrap_or(false);
            if !exists {
                Command::new("useradd").args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user]).status().unwrap();
            }
            Command::new("chown").args([user, &dir.path().display().to_string()]).status().unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = Cluster { bin, dir, port, owner };
        let data = cluster.data().display().to_string();
        cluster.run("initdb", &["-D", &data, "-U", "beckon", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
        cluster.up();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program).display().to_string();
        let mut command = match self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", &program]);
                c
            }
            None => Command::new(&program),
        };
        let out = command.args(args).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let data = self.data().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        // Durable like a real server: a crash must lose nothing committed.
        let options = format!("-h 127.0.0.1 -p {} -k {}", self.port, self.dir.path().display());
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-w", "-o", &options, "start"]);
    }

    /// Stops it as a crash or a failover does: at once, every connection cut.
    pub fn crash(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
    }

    pub fn url(&self) -> String {
        format!("postgres://beckon@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let program = self.bin.join("pg_ctl").display().to_string();
        let mut command = match self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", &program]);
                c
            }
            None => Command::new(&program),
        };
        let _ = command.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}
