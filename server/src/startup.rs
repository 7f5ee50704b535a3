//! Opening the stores and assembling the application from a [`Config`].

use crate::config::Config;
use crate::router;
use app::server::invitations::link::LinkKey;
use app::server::mail::transport::Transport;
use app::server::mail::worker::DeliveryConfig;
use app::server::{AppState, AuthSettings, Clock, Db, ManualClock, SystemClock};
use leptos::config::LeptosOptions;
use crate::sessions::SessionStore;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Db(#[from] app::server::db::DbError),
    #[error("cannot open the session store: {0}")]
    Sessions(#[from] sqlx::Error),
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error("cannot set up mail delivery: {0}")]
    Mail(String),
}

/// Everything a running server is made of.
pub struct Application {
    pub state: AppState,
    pub router: axum::Router,
    pub session_store: SessionStore,
    pub transport: Transport,
    pub delivery: DeliveryConfig,
}

/// The mail transport the configuration asks for.
pub fn transport(config: &Config) -> Result<Transport, StartError> {
    match &config.smtp {
        Some(smtp) => Transport::smtp(smtp).map_err(StartError::Mail),
        None => Ok(Transport::files(config.mail_dir())),
    }
}

pub fn delivery_config(config: &Config) -> DeliveryConfig {
    DeliveryConfig {
        max_attempts: config.mail_max_attempts,
        concurrency: config.smtp.as_ref().map(|s| s.pool_size as usize).unwrap_or(4),
        default_from: config.mail_from.clone(),
        ..DeliveryConfig::default()
    }
}

impl Application {
    /// Starts the delivery worker in this process; it stops when `shutdown` resolves.
    pub fn spawn_delivery_worker(&self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<()> {
        let worker = app::server::mail::worker::run(self.state.clone(), self.transport.clone(), self.delivery.clone(), shutdown);
        tokio::spawn(worker)
    }
}

/// Opens and migrates the database; used by `serve`, `migrate` and `admin create`.
pub async fn open_database(config: &Config) -> Result<Db, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    Ok(Db::connect_and_migrate(&config.database_url()).await?)
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    // The build writes hash.txt next to the binary when it gives assets hashed names.
    let hashed = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("hash.txt").exists())).unwrap_or(false);
    LeptosOptions::builder()
        .output_name("beckon")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .hash_files(hashed)
        .build()
}

/// Builds the application on `clock`. With `test_clock` (BECKON_TEST_CLOCK=1, for the
/// browser tests only) the router also gets a control that moves that clock forward.
pub async fn build_with_test_clock(config: &Config, clock: Arc<dyn Clock>, test_clock: Option<Arc<ManualClock>>) -> Result<Application, StartError> {
    let db = open_database(config).await?;
    let link_key = crate::keys::load(config.secret_key.as_deref(), &config.secret_key_file)?;
    let session_store = SessionStore::open(&config.database_url(), db.engine()).await?;
    let state = AppState {
        db,
        clock,
        public_url: config.public_url.clone(),
        link_key: LinkKey::new(link_key),
        outbox_signal: Arc::new(tokio::sync::Notify::new()),
        mail_from: config.mail_from.clone(),
        mail_transport: config.mail_transport(),
        auth: AuthSettings { idle_timeout: config.session_idle, absolute_timeout: config.session_absolute },
        passwords: Default::default(),
        checkpoints: Default::default(),
        metrics: Default::default(),
        leptos_options: leptos_options(config),
    };
    let router = router::build(state.clone(), config, session_store.clone(), test_clock);
    Ok(Application { state, router, session_store, transport: transport(config)?, delivery: delivery_config(config) })
}

pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> Result<Application, StartError> {
    build_with_test_clock(config, clock, None).await
}

/// The clock `serve` runs on: the system's, or with BECKON_TEST_CLOCK=1 one the browser
/// tests can move forward.
pub fn serving_clock(config: &Config) -> (Arc<dyn Clock>, Option<Arc<ManualClock>>) {
    if config.test_clock {
        tracing::warn!("BECKON_TEST_CLOCK is on: POST /__test/clock moves time forward. Never use this in production.");
        let clock = ManualClock::following_system();
        (clock.clone(), Some(clock))
    } else {
        (system_clock(), None)
    }
}
