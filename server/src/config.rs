//! Configuration, read once at start from the environment. The defaults make `make run`
//! work on a bare machine: SQLite and the secret key under ./data, served on 127.0.0.1:3000.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use app::services::mail::transport::{SmtpPassword, SmtpSettings, TlsMode};

/// Where `make run` and `make release` put the site of a debug and of a release build: one
/// site per profile, so neither serves the other's asset names.
pub const DEFAULT_SITE_ROOT: &str = if cfg!(debug_assertions) { "target/site" } else { "target/site-release" };

#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: the SQLite file `beckon.db` in the data directory.
    pub database_url: Option<String>,
    /// Megabytes of the SQLite file each connection reads through a memory map; 0: none.
    pub sqlite_mmap_mb: u64,
    /// Where links point and which Origin state-changing requests must come from.
    pub public_url: String,
    /// Whether BECKON_PUBLIC_URL was given; otherwise it follows the bound address.
    pub public_url_explicit: bool,
    pub site_root: PathBuf,
    pub secret_key_file: PathBuf,
    /// The key itself (base64url), for deployments that hand secrets in as variables; it
    /// wins over the file. Every process of one deployment must have the same key.
    pub secret_key: Option<String>,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub log_filter: String,
    /// BECKON_TEST_CLOCK=1: a control to move the clock forward, for browser tests only.
    pub test_clock: bool,
    /// `None`: mail is written as files under `<data dir>/mail`.
    pub smtp: Option<SmtpSettings>,
    pub mail_from: String,
    pub mail_max_attempts: i64,
    /// Invitation emails an account, and each person sending them, may queue in 24 hours.
    pub mail_limits: app::services::mail::budget::DailyLimits,
    /// BECKON_IMPORT_MAX_ROWS, BECKON_IMPORT_MAX_BYTES.
    pub import_limits: app::services::imports::ImportLimits,
    /// Reverse proxies whose X-Forwarded-For names the client (for per-address limits).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `/metrics` on the public listener needs `Authorization: Bearer` this.
    pub metrics_token: Option<String>,
    /// A listener of the operator's own for `/healthz`, `/readyz` and an open `/metrics`.
    pub metrics_addr: Option<SocketAddr>,
    /// BECKON_LOG_FORMAT=json: one JSON object per log line.
    pub log_json: bool,
    /// BECKON_SERVE_WORKER=off: `serve` answers pages only and runs no runner (mail and bulk
    /// jobs then wait for a `beckon worker` process on the same database).
    pub serve_runs_worker: bool,
    /// BECKON_BOUNCE_DOMAIN: messages leave with a return path of their own at this domain,
    /// and the bounce listener takes mail for it.
    pub bounce: Option<crate::bounces::BounceSettings>,
    /// BECKON_BOUNCE_ADDR: where the bounce listener listens (`serve` runs it when set).
    pub bounce_addr: Option<SocketAddr>,
    /// BECKON_DKIM=off: outgoing mail is not signed (on by default).
    pub dkim: bool,
    /// BECKON_DKIM_KEY_FILE and BECKON_DKIM_SELECTOR: the operator's own key, which becomes
    /// the signing key at start (otherwise one is made on first use).
    pub dkim_key: Option<(String, PathBuf)>,
    /// BECKON_WEBHOOKS_ALLOW_PRIVATE=on: webhooks may go to loopback, private and link-local
    /// addresses (off by default, so an endpoint cannot reach into the deployment's network).
    pub webhooks_allow_private: bool,
    /// BECKON_API_CALLS_PER_MINUTE: calls one API token may make in a minute.
    pub api_calls_per_minute: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where the settings come from: the environment, or a table in tests.
struct Source<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Source<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn parsed<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.var(name) {
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid { name, reason: e.to_string() }),
            None => Ok(default),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_source(&|name| std::env::var(name).ok())
    }

    /// The configuration `lookup` describes (environment variable names to values).
    pub fn from_source(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let source = Source(lookup);
        let var = |name: &str| source.var(name);

        let addr: SocketAddr = source.parsed("BECKON_ADDR", SocketAddr::from(([127, 0, 0, 1], 3000)))?;
        let data_dir = PathBuf::from(var("BECKON_DATA_DIR").unwrap_or_else(|| "data".into()));
        let public_url_explicit = var("BECKON_PUBLIC_URL").is_some();
        let public_url = var("BECKON_PUBLIC_URL").unwrap_or_else(|| format!("http://{addr}"));
        let public_url = public_url.trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid { name: "BECKON_PUBLIC_URL", reason: "it must start with http:// or https://".into() });
        }
        let idle_minutes: u64 = source.parsed("BECKON_SESSION_IDLE_MINUTES", 8 * 60)?;
        let absolute_hours: u64 = source.parsed("BECKON_SESSION_ABSOLUTE_HOURS", 7 * 24)?;
        if var("BECKON_TEST_CLOCK").as_deref() == Some("1") && !is_loopback_url(&public_url) {
            return Err(ConfigError::Invalid {
                name: "BECKON_TEST_CLOCK",
                reason: "it is for tests and runs only when the public URL is a loopback address (localhost, 127.0.0.1, [::1])".into(),
            });
        }
        // The control answers whoever reaches the listener, whatever the public URL says.
        if var("BECKON_TEST_CLOCK").as_deref() == Some("1") && !addr.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                name: "BECKON_TEST_CLOCK",
                reason: format!("it is for tests and runs only on a loopback listen address (BECKON_ADDR is {addr})"),
            });
        }
        let database_is_shared = var("BECKON_DATABASE_URL").is_some_and(|url| url.starts_with("postgres"));
        if var("BECKON_TEST_CLOCK").as_deref() == Some("1") && database_is_shared {
            return Err(ConfigError::Invalid {
                name: "BECKON_TEST_CLOCK",
                reason: "a clock moved in one process cannot hold for the others sharing a PostgreSQL database".into(),
            });
        }
        if idle_minutes == 0 || absolute_hours == 0 {
            return Err(ConfigError::Invalid { name: "BECKON_SESSION_*", reason: "timeouts must be at least 1".into() });
        }
        let smtp = match var("BECKON_SMTP_HOST") {
            None => None,
            Some(host) => {
                let tls = match var("BECKON_SMTP_TLS").as_deref().unwrap_or("starttls") {
                    "none" => TlsMode::None,
                    "starttls" => TlsMode::StartTls,
                    "tls" => TlsMode::Implicit,
                    other => return Err(ConfigError::Invalid { name: "BECKON_SMTP_TLS", reason: format!("“{other}”: use none, starttls or tls") }),
                };
                let default_port = match tls {
                    TlsMode::None => 25,
                    TlsMode::StartTls => 587,
                    TlsMode::Implicit => 465,
                };
                let username = var("BECKON_SMTP_USERNAME");
                // Credentials never cross a network in the clear.
                if tls == TlsMode::None && username.is_some() && !is_loopback_host(&host) {
                    return Err(ConfigError::Invalid {
                        name: "BECKON_SMTP_TLS",
                        reason: format!("“none” would send the SMTP password to {host} unencrypted; use starttls or tls (plain SMTP with a password is allowed only on this machine)"),
                    });
                }
                Some(SmtpSettings {
                    host,
                    port: source.parsed("BECKON_SMTP_PORT", default_port)?,
                    tls,
                    username,
                    password: var("BECKON_SMTP_PASSWORD").map(SmtpPassword::new),
                    pool_size: source.parsed("BECKON_SMTP_POOL_SIZE", 4)?,
                    timeout: Duration::from_secs(source.parsed("BECKON_SMTP_TIMEOUT_SECS", 30)?),
                    ca_file: var("BECKON_SMTP_CA_FILE").map(PathBuf::from),
                })
            }
        };
        let mail_from = var("BECKON_MAIL_FROM").unwrap_or_else(|| "beckon@localhost".into());
        if shared::Email::parse(&mail_from).is_err() && !mail_from.ends_with("@localhost") {
            return Err(ConfigError::Invalid { name: "BECKON_MAIL_FROM", reason: format!("“{mail_from}” is not an email address") });
        }
        let defaults = app::services::mail::budget::DailyLimits::default();
        let mail_limits = app::services::mail::budget::DailyLimits {
            account: source.parsed("BECKON_MAIL_DAILY_LIMIT", defaults.account)?,
            per_sender: source.parsed("BECKON_MAIL_DAILY_LIMIT_PER_SENDER", defaults.per_sender)?,
        };
        if mail_limits.account < 1 || mail_limits.per_sender < 1 {
            return Err(ConfigError::Invalid { name: "BECKON_MAIL_DAILY_LIMIT*", reason: "a daily limit must be at least 1".into() });
        }
        let import_defaults = app::services::imports::ImportLimits::default();
        let import_limits = app::services::imports::ImportLimits {
            max_rows: source.parsed("BECKON_IMPORT_MAX_ROWS", import_defaults.max_rows)?,
            max_bytes: source.parsed("BECKON_IMPORT_MAX_BYTES", import_defaults.max_bytes)?,
        };
        if import_limits.max_rows < 1 || import_limits.max_bytes < 1024 {
            return Err(ConfigError::Invalid { name: "BECKON_IMPORT_MAX_*", reason: "an import takes at least 1 row and 1024 bytes".into() });
        }
        let trusted_proxies = var("BECKON_TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| ConfigError::Invalid { name: "BECKON_TRUSTED_PROXIES", reason: format!("“{s}” is not an IP address") }))
            .collect::<Result<Vec<_>, _>>()?;
        let log_format = var("BECKON_LOG_FORMAT").unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            return Err(ConfigError::Invalid { name: "BECKON_LOG_FORMAT", reason: format!("“{log_format}”: use text or json") });
        }
        let serve_runs_worker = match var("BECKON_SERVE_WORKER").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(ConfigError::Invalid { name: "BECKON_SERVE_WORKER", reason: format!("“{other}”: use on or off") }),
        };
        let metrics_addr = match var("BECKON_METRICS_ADDR") {
            Some(raw) => Some(raw.parse().map_err(|e: std::net::AddrParseError| ConfigError::Invalid { name: "BECKON_METRICS_ADDR", reason: e.to_string() })?),
            None => None,
        };
        let bounce = match var("BECKON_BOUNCE_DOMAIN") {
            None => None,
            Some(domain) => {
                let domain = domain.trim_end_matches('.').to_ascii_lowercase();
                let label_ok = |l: &str| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !domain.contains('.') && domain != "localhost" || !domain.split('.').all(label_ok) {
                    return Err(ConfigError::Invalid {
                        name: "BECKON_BOUNCE_DOMAIN",
                        reason: format!("“{domain}” is not a domain name (for example bounces.example.com)"),
                    });
                }
                let mut settings = crate::bounces::BounceSettings::new(domain);
                settings.max_bytes = source.parsed("BECKON_BOUNCE_MAX_BYTES", settings.max_bytes)?;
                settings.sessions_per_minute = source.parsed("BECKON_BOUNCE_SESSIONS_PER_MINUTE", settings.sessions_per_minute)?;
                if settings.max_bytes < 1024 || settings.sessions_per_minute < 1 {
                    return Err(ConfigError::Invalid {
                        name: "BECKON_BOUNCE_*",
                        reason: "a bounce may have at least 1024 bytes, and a client at least 1 session a minute".into(),
                    });
                }
                Some(settings)
            }
        };
        let bounce_addr = match var("BECKON_BOUNCE_ADDR") {
            Some(raw) => Some(raw.parse().map_err(|e: std::net::AddrParseError| ConfigError::Invalid { name: "BECKON_BOUNCE_ADDR", reason: e.to_string() })?),
            None => None,
        };
        if bounce_addr.is_some() && bounce.is_none() {
            return Err(ConfigError::Invalid {
                name: "BECKON_BOUNCE_ADDR",
                reason: "set BECKON_BOUNCE_DOMAIN too: the listener takes mail for that domain only".into(),
            });
        }
        let dkim = match var("BECKON_DKIM").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(ConfigError::Invalid { name: "BECKON_DKIM", reason: format!("“{other}”: use on or off") }),
        };
        let dkim_key = match (var("BECKON_DKIM_KEY_FILE"), var("BECKON_DKIM_SELECTOR")) {
            (None, None) => None,
            (Some(file), Some(selector)) => {
                if selector.is_empty() || selector.len() > 63 || !selector.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(ConfigError::Invalid {
                        name: "BECKON_DKIM_SELECTOR",
                        reason: format!("“{selector}”: letters, digits and hyphens, at most 63"),
                    });
                }
                Some((selector, PathBuf::from(file)))
            }
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    name: "BECKON_DKIM_SELECTOR",
                    reason: "name the selector of BECKON_DKIM_KEY_FILE's key (its DNS record is <selector>._domainkey.<domain>)".into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "BECKON_DKIM_KEY_FILE",
                    reason: "BECKON_DKIM_SELECTOR names the selector of a key given in this file".into(),
                })
            }
        };
        let webhooks_allow_private = match var("BECKON_WEBHOOKS_ALLOW_PRIVATE").as_deref() {
            None | Some("off") => false,
            Some("on") => true,
            Some(other) => return Err(ConfigError::Invalid { name: "BECKON_WEBHOOKS_ALLOW_PRIVATE", reason: format!("“{other}”: use on or off") }),
        };
        let api_calls_per_minute = source.parsed("BECKON_API_CALLS_PER_MINUTE", shared::api::CALLS_PER_MINUTE)?;
        if api_calls_per_minute < 1 {
            return Err(ConfigError::Invalid { name: "BECKON_API_CALLS_PER_MINUTE", reason: "a token may make at least 1 call a minute".into() });
        }
        Ok(Config {
            api_calls_per_minute,
            webhooks_allow_private,
            dkim,
            dkim_key,
            bounce,
            bounce_addr,
            metrics_token: var("BECKON_METRICS_TOKEN"),
            metrics_addr,
            log_json: log_format == "json",
            serve_runs_worker,
            trusted_proxies,
            smtp,
            mail_from,
            mail_max_attempts: source.parsed("BECKON_MAIL_MAX_ATTEMPTS", 8)?,
            mail_limits,
            import_limits,
            sqlite_mmap_mb: source.parsed("BECKON_SQLITE_MMAP_MB", app::services::db::DEFAULT_SQLITE_MMAP_MB)?,
            addr,
            secret_key_file: var("BECKON_SECRET_KEY_FILE").map(PathBuf::from).unwrap_or_else(|| data_dir.join("secret.key")),
            secret_key: var("BECKON_SECRET_KEY"),
            database_url: var("BECKON_DATABASE_URL"),
            site_root: PathBuf::from(var("BECKON_SITE_ROOT").unwrap_or_else(|| DEFAULT_SITE_ROOT.into())),
            session_idle: Duration::from_secs(idle_minutes * 60),
            session_absolute: Duration::from_secs(absolute_hours * 3600),
            log_filter: var("BECKON_LOG").unwrap_or_else(|| "info".into()),
            test_clock: var("BECKON_TEST_CLOCK").as_deref() == Some("1"),
            public_url,
            public_url_explicit,
            data_dir,
        })
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| app::services::Db::sqlite_url(&self.data_dir.join("beckon.db")))
    }

    /// The configuration as it may be printed at start: no secrets, credentials masked.
    pub fn summary(&self) -> String {
        let mail = match &self.smtp {
            Some(smtp) => format!(
                "{}{}, pool {}{}",
                smtp.describe(),
                smtp.password.as_ref().map(|_| ", password ***").unwrap_or_default(),
                smtp.pool_size,
                smtp.ca_file.as_ref().map(|f| format!(", also trusting {}", f.display())).unwrap_or_default()
            ),
            None => format!("files in {}", self.mail_dir().display()),
        };
        let bounces = match (&self.bounce, self.bounce_addr) {
            (Some(b), Some(addr)) => format!(" · bounces to bounces+…@{} (listening on {addr})", b.domain),
            (Some(b), None) => format!(" · bounces to bounces+…@{}", b.domain),
            _ => String::new(),
        };
        format!(
            "address {} · public URL {} · data {} · database {} · site {} · mail {}{bounces}",
            self.addr,
            self.public_url,
            self.data_dir.display(),
            mask_credentials(&self.database_url()),
            self.site_root.display(),
            mail
        )
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// How mail leaves, as a sentence for Settings → Outgoing email.
    pub fn mail_transport(&self) -> String {
        match &self.smtp {
            Some(smtp) => format!("Mail goes out through {}.", smtp.describe()),
            None => format!("No SMTP server is configured: every message is written as a file under {}.", self.mail_dir().display()),
        }
    }

    /// Once the listener is bound (perhaps to port 0), the default public URL names the
    /// real address.
    pub fn bound_to(mut self, local: std::net::SocketAddr) -> Config {
        self.addr = local;
        if !self.public_url_explicit {
            self.public_url = format!("http://{local}");
        }
        self
    }

    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Whether the URL's host is this machine only: `localhost` or a loopback address.
fn is_loopback_url(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map(|(_, host)| host).unwrap_or(authority);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(h, _)| h).unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    is_loopback_host(host)
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `postgres://user:secret@host/db?sslpassword=x` → `postgres://user:***@host/db?sslpassword=***`:
/// the password of the user information, and every query parameter that names one.
fn mask_credentials(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => match base[scheme_end + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &base[..scheme_end + 3], &base[at..]),
            None => base.to_string(),
        },
        _ => base.to_string(),
    };
    let Some(query) = query else { return base };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => format!("{name}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", masked.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_source(&move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn a_password_never_crosses_the_network_in_plain_smtp() {
        let remote =
            [("BECKON_SMTP_HOST", "mail.example.com"), ("BECKON_SMTP_TLS", "none"), ("BECKON_SMTP_USERNAME", "beckon"), ("BECKON_SMTP_PASSWORD", "s3cret")];
        let refused = config(&remote).err().expect("refused");
        assert!(refused.to_string().contains("unencrypted"), "{refused}");
        let local = [("BECKON_SMTP_HOST", "127.0.0.1"), ("BECKON_SMTP_TLS", "none"), ("BECKON_SMTP_USERNAME", "beckon"), ("BECKON_SMTP_PASSWORD", "s3cret")];
        assert!(config(&local).is_ok(), "on this machine it may");
        assert!(config(&[("BECKON_SMTP_HOST", "mail.example.com"), ("BECKON_SMTP_TLS", "none")]).is_ok(), "without credentials it may");
    }

    #[test]
    fn the_sqlite_memory_map_can_be_turned_off_and_refuses_nonsense() {
        assert_eq!(config(&[]).unwrap().sqlite_mmap_mb, 256);
        assert_eq!(config(&[("BECKON_SQLITE_MMAP_MB", "0")]).unwrap().sqlite_mmap_mb, 0);
        assert!(config(&[("BECKON_SQLITE_MMAP_MB", "lots")]).err().unwrap().to_string().contains("BECKON_SQLITE_MMAP_MB"));
    }

    #[tokio::test]
    async fn each_sqlite_connection_maps_what_the_setting_says() {
        let dir = tempfile::tempdir().unwrap();
        let url = app::services::Db::sqlite_url(&dir.path().join("beckon.db"));
        for (mb, bytes) in [(0u64, 0i64), (16, 16 << 20)] {
            let db = app::services::Db::connect_mapping(&url, mb).await.unwrap();
            let mapped: i64 = sqlx::query_scalar("PRAGMA mmap_size").fetch_one(&db.pool).await.unwrap();
            assert_eq!(mapped, bytes, "BECKON_SQLITE_MMAP_MB={mb}");
        }
    }

    #[test]
    fn the_test_clock_runs_only_on_loopback_and_on_a_database_of_its_own() {
        assert!(config(&[("BECKON_TEST_CLOCK", "1")]).is_ok());
        let shared = config(&[("BECKON_TEST_CLOCK", "1"), ("BECKON_DATABASE_URL", "postgres://beckon@db/beckon")]);
        assert!(shared.err().unwrap().to_string().contains("cannot hold for the others"));
        let exposed = config(&[("BECKON_TEST_CLOCK", "1"), ("BECKON_PUBLIC_URL", "https://beckon.example.com")]);
        assert_eq!(
            exposed.err().unwrap().to_string(),
            "BECKON_TEST_CLOCK is not valid: it is for tests and runs only when the public URL is a loopback address (localhost, 127.0.0.1, [::1])"
        );
        let listening_everywhere = config(&[("BECKON_TEST_CLOCK", "1"), ("BECKON_ADDR", "0.0.0.0:3000"), ("BECKON_PUBLIC_URL", "http://127.0.0.1:3000")]);
        assert_eq!(
            listening_everywhere.err().unwrap().to_string(),
            "BECKON_TEST_CLOCK is not valid: it is for tests and runs only on a loopback listen address (BECKON_ADDR is 0.0.0.0:3000)"
        );
    }

    #[test]
    fn bounces_need_a_domain_and_dkim_keys_their_selector() {
        let both = config(&[("BECKON_BOUNCE_DOMAIN", "Bounces.Example.com."), ("BECKON_BOUNCE_ADDR", "127.0.0.1:2525")]).unwrap();
        assert_eq!(both.bounce.as_ref().map(|b| b.domain.as_str()), Some("bounces.example.com"));
        assert!(both.summary().contains("bounces to bounces+…@bounces.example.com (listening on 127.0.0.1:2525)"), "{}", both.summary());
        let alone = config(&[("BECKON_BOUNCE_ADDR", "127.0.0.1:2525")]).err().unwrap().to_string();
        assert!(alone.starts_with("BECKON_BOUNCE_ADDR is not valid: set BECKON_BOUNCE_DOMAIN too"), "{alone}");
        assert!(config(&[("BECKON_BOUNCE_DOMAIN", "not a domain")]).is_err());
        assert!(config(&[("BECKON_BOUNCE_DOMAIN", "example.com"), ("BECKON_BOUNCE_MAX_BYTES", "10")]).is_err());
        assert!(config(&[]).unwrap().dkim, "signing is on unless turned off");
        assert!(!config(&[("BECKON_DKIM", "off")]).unwrap().dkim);
        assert!(config(&[("BECKON_DKIM_KEY_FILE", "/etc/beckon/dkim.pem")]).is_err(), "a key needs its selector");
        assert!(config(&[("BECKON_DKIM_KEY_FILE", "/k.pem"), ("BECKON_DKIM_SELECTOR", "bad selector")]).is_err());
        assert!(config(&[("BECKON_DKIM_KEY_FILE", "/k.pem"), ("BECKON_DKIM_SELECTOR", "mail2026")]).is_ok());
    }

    #[test]
    fn the_smtp_password_is_never_printed() {
        let settings = [
            ("BECKON_SMTP_HOST", "mail.example.com"),
            ("BECKON_SMTP_USERNAME", "beckon"),
            ("BECKON_SMTP_PASSWORD", "s3cret-pass"),
            ("BECKON_SMTP_CA_FILE", "/etc/beckon/ca.pem"),
        ];
        let config = config(&settings).unwrap();
        let smtp = config.smtp.as_ref().unwrap();
        assert_eq!((smtp.port, smtp.tls), (587, TlsMode::StartTls), "STARTTLS on 587 by default");
        let printed = format!("{} {:?}", config.summary(), smtp);
        assert!(!printed.contains("s3cret-pass"), "{printed}");
        assert!(printed.contains("password ***") && printed.contains("also trusting /etc/beckon/ca.pem"), "{printed}");
    }

    #[test]
    fn only_loopback_public_urls_count_as_loopback() {
        for url in ["http://127.0.0.1:3000", "http://localhost", "http://[::1]:8080/x", "http://127.5.6.7"] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in ["https://beckon.example.com", "http://0.0.0.0:3000", "http://10.0.0.1", "http://localhost.evil.example", "http://127.0.0.1.evil.example"] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn database_passwords_are_masked() {
        assert_eq!(mask_credentials("postgres://beckon:s3cret@db:5432/beckon"), "postgres://beckon:***@db:5432/beckon");
        assert_eq!(mask_credentials("sqlite://data/beckon.db?mode=rwc"), "sqlite://data/beckon.db?mode=rwc");
        assert_eq!(
            mask_credentials("postgres://db/beckon?user=beckon&password=s3cret&sslmode=require&sslpassword=k3y"),
            "postgres://db/beckon?user=beckon&password=***&sslmode=require&sslpassword=***"
        );
        let config = config(&[("BECKON_DATABASE_URL", "postgres://db/beckon?user=beckon&Password=s3cret")]).unwrap();
        assert!(!config.summary().contains("s3cret"), "{}", config.summary());
    }
}
