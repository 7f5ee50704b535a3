//! Opening the stores and assembling the application from a [`Config`].

use crate::config::Config;
use crate::router;
use crate::sessions::SessionStore;
use app::services::invitations::link::LinkKey;
use app::services::mail::transport::Transport;
use app::services::mail::worker::DeliveryConfig;
use app::services::{AppState, AppStateParts, AuthSettings, Clock, Db, ManualClock, SystemClock};
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Db(#[from] app::services::db::DbError),
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
        bounce_domain: config.bounce.as_ref().map(|b| b.domain.clone()),
        dkim: config.dkim,
        ..DeliveryConfig::default()
    }
}

impl Application {
    /// Starts the runner (mail and jobs) in this process; it stops when `shutdown` resolves.
    pub fn spawn_runner(&self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<()> {
        let worker = app::services::runner::run(self.state.clone(), self.transport.clone(), self.delivery.clone(), shutdown);
        tokio::spawn(worker)
    }
}

/// How often `serve` deletes rate-limit counters whose window is over.
pub const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

impl Application {
    /// Deletes spent rate-limit counters (in the database and this process's own) and
    /// sign-ins ended or past any session's lifetime, now and every [`HOUSEKEEPING_EVERY`].
    pub fn spawn_housekeeping(&self) -> tokio::task::JoinHandle<()> {
        self.spawn_housekeeping_every(HOUSEKEEPING_EVERY)
    }

    /// [`Application::spawn_housekeeping`] every `period`.
    pub fn spawn_housekeeping_every(&self, period: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let state = self.state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(period);
            loop {
                every.tick().await;
                state.local_limits.prune(state.clock.now_ms());
                match app::services::rate_limit::prune(&state.db.pool, state.clock.now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(counters = n, "pruned spent rate-limit counters"),
                    Err(error) => tracing::warn!(?error, "could not prune rate-limit counters"),
                }
                let begun_before = state.clock.now_ms() - state.auth.absolute_timeout.as_millis() as i64;
                if let Err(error) = app::services::store::sign_ins::prune(&state.db.pool, begun_before).await {
                    tracing::warn!(?error, "could not prune ended sign-ins");
                }
                if let Err(error) = app::services::api_tokens::prune_idempotency_keys(&state).await {
                    tracing::warn!(?error, "could not prune spent idempotency keys");
                }
                if let Err(error) = app::services::webhooks::prune(&state).await {
                    tracing::warn!(?error, "could not prune old webhook deliveries");
                }
            }
        })
    }
}

/// Opens and migrates the database; used by `serve`, `migrate` and `admin create`.
pub async fn open_database(config: &Config) -> Result<Db, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    Ok(Db::connect_and_migrate(&config.database_url(), config.sqlite_mmap_mb).await?)
}

/// The asset names the site build wrote beside this binary (hash.txt), if it hashed them.
fn asset_hashes() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    std::fs::read_to_string(exe.parent()?.join("hash.txt")).ok()
}

/// The script, wasm, stylesheet, chunk loader and chunk manifest a binary in `bin_dir`
/// serves: the hashed names of the hash.txt the site build wrote there, or the plain names
/// of an unsplit build when there is none.
pub fn asset_names(bin_dir: &std::path::Path) -> Result<Vec<String>, String> {
    let Ok(text) = std::fs::read_to_string(bin_dir.join("hash.txt")) else {
        return Ok(vec!["beckon.js".into(), "beckon_bg.wasm".into(), "beckon.css".into()]);
    };
    let hashes = app::site::parse_hashes(&text);
    match (hashes.get("js"), hashes.get("wasm"), hashes.get("css"), hashes.get("split")) {
        (Some(js), Some(wasm), Some(css), Some(split)) => Ok(vec![
            format!("beckon.{js}.js"),
            format!("beckon.{wasm}.wasm"),
            format!("beckon.{css}.css"),
            app::site::loader_name(split),
            app::site::chunk_list_name(split),
        ]),
        _ => Err("hash.txt beside the binary is not one the site build writes; build the site again (make run or make release)".into()),
    }
}

/// Refuses to serve pages whose script, wasm or stylesheet the site folder does not hold
/// (a site built for another profile, or none): they would load nothing and say nothing.
pub fn check_site(config: &Config) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot tell where this binary is: {e}"))?;
    check_site_for(config, exe.parent().unwrap_or(std::path::Path::new(".")))
}

/// [`check_site`] for a binary in `bin_dir`.
pub fn check_site_for(config: &Config, bin_dir: &std::path::Path) -> Result<(), String> {
    let names = asset_names(bin_dir)?;
    let pkg = config.site_root.join("pkg");
    let mut missing: Vec<String> = names.iter().filter(|name| !pkg.join(name).is_file()).cloned().collect();
    // The chunks the site's chunk list names (an empty list is a stub site's: nothing to check).
    if let Some(list) = names.iter().find(|n| n.ends_with(".json")).map(|n| pkg.join(n)) {
        let text = std::fs::read_to_string(&list).unwrap_or_default();
        if !text.trim().is_empty() {
            let chunks = app::site::ChunkList::parse(&text)
                .map_err(|error| format!("{} is not the chunk list the site build writes ({error}); build the site again", list.display()))?;
            missing.extend(chunks.chunk_files().into_iter().filter(|chunk| !pkg.join(chunk).is_file()));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} has no {}, the assets this binary was built with: build its site with the same profile (`make run` for a debug build, \
         `make release` for a release one, which writes target/site-release) or point BECKON_SITE_ROOT at that site",
        pkg.display(),
        missing.join(", ")
    ))
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    // The build writes hash.txt next to the binary when it gives assets hashed names.
    let hashed = asset_hashes().is_some();
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
    let work_signal = Arc::new(match db.engine() {
        app::services::db::Engine::Postgres => app::services::runner::WorkSignal::telling_others(db.pool.clone()),
        app::services::db::Engine::Sqlite => app::services::runner::WorkSignal::default(),
    });
    let state = AppState::new(AppStateParts {
        db,
        clock,
        public_url: config.public_url.clone(),
        link_key: LinkKey::new(&link_key)
            .map_err(|_| crate::keys::KeyError::Malformed("the secret key".into(), crate::keys::KeyProblem::TooShort(link_key.len())))?,
        work_signal,
        mail_from: config.mail_from.clone(),
        mail_limits: config.mail_limits,
        import_limits: config.import_limits,
        mail_transport: config.mail_transport(),
        dkim: config.dkim,
        api_calls_per_minute: config.api_calls_per_minute,
        webhooks: app::services::webhooks::Reach { allow_private: config.webhooks_allow_private, ..Default::default() },
        auth: AuthSettings { idle_timeout: config.session_idle, absolute_timeout: config.session_absolute, ..AuthSettings::default() },
        passwords: Default::default(),
        checkpoints: Default::default(),
        set_up: Default::default(),
        local_limits: Default::default(),
        list_counts: Default::default(),
        metrics: Default::default(),
        leptos_options: leptos_options(config),
    });
    if let (true, Some((selector, file))) = (config.dkim, &config.dkim_key) {
        let pem = std::fs::read_to_string(file).map_err(|e| StartError::Mail(format!("cannot read BECKON_DKIM_KEY_FILE {}: {e}", file.display())))?;
        app::services::mail::dkim::install_given(&state.db, selector, &pem, state.clock.now_ms())
            .await
            .map_err(|e| StartError::Mail(format!("BECKON_DKIM_KEY_FILE {}: {e}", file.display())))?;
    }
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
