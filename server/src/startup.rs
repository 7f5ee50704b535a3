//! Opening the stores and assembling the application from a [`Config`].

use crate::config::Config;
use crate::router;
use app::server::{AppState, AuthSettings, Clock, Db, SystemClock};
use leptos::config::LeptosOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::sync::Arc;
use tower_sessions_sqlx_store::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrations(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
}

/// Everything a running server is made of.
pub struct Application {
    pub state: AppState,
    pub router: axum::Router,
    pub session_store: SqliteStore,
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

pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> Result<Application, StartError> {
    let db = open_database(config).await?;
    let _link_key = crate::keys::load_or_create(&config.secret_key_file)?;
    let session_pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(
            config
                .database_url()
                .parse::<SqliteConnectOptions>()?
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(std::time::Duration::from_secs(10)),
        )
        .await?;
    let session_store = SqliteStore::new(session_pool).with_table_name("tower_sessions").map_err(|e| StartError::Database(sqlx::Error::Configuration(e.into())))?;
    session_store.migrate().await?;
    let state = AppState {
        db,
        clock,
        auth: AuthSettings { idle_timeout: config.session_idle, absolute_timeout: config.session_absolute },
        leptos_options: leptos_options(config),
    };
    let router = router::build(state.clone(), config, session_store.clone());
    Ok(Application { state, router, session_store })
}

pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
