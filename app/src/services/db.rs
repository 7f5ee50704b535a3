//! The application's store: one pool over sqlx's `Any` driver, so the same portable SQL
//! serves SQLite (the embedded default, one machine) and PostgreSQL (several Beckon
//! processes on one database). What differs between the two is here and in `store/`.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};
use std::str::FromStr;
use std::time::Duration;

/// Which database engine a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("BECKON_DATABASE_URL must start with sqlite:// or postgres:// (it starts “{0}”)")]
    UnknownEngine(String),
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Engine {
    pub fn of_url(url: &str) -> Result<Engine, DbError> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            Err(DbError::UnknownEngine(url.chars().take_while(|c| *c != ':').collect()))
        }
    }

    fn migrator(self) -> &'static sqlx::migrate::Migrator {
        static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
        match self {
            Engine::Sqlite => &SQLITE,
            Engine::Postgres => &POSTGRES,
        }
    }
}

#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    engine: Engine,
}

pub type WriteTx = sqlx::Transaction<'static, sqlx::Any>;

/// How much of a SQLite file each connection maps by default (BECKON_SQLITE_MMAP_MB).
pub const DEFAULT_SQLITE_MMAP_MB: u64 = 256;

impl Db {
    /// Opens the database at `url` (a SQLite file is created when missing), without
    /// migrating, with SQLite's default memory map.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        Db::connect_mapping(url, DEFAULT_SQLITE_MMAP_MB).await
    }

    /// As [`Db::connect`], with SQLite reading through a memory map of up to `mmap_mb`
    /// megabytes per connection (0: no map; ignored by PostgreSQL).
    pub async fn connect_mapping(url: &str, mmap_mb: u64) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::of_url(url)?;
        let options = AnyConnectOptions::from_str(url).map_err(DbError::Connect)?.disable_statement_logging();
        let pool = match engine {
            // A connection to a file this process opened cannot be dropped by a server, so it is
            // not pinged on every acquire (a round trip to the connection's thread per page).
            Engine::Sqlite => AnyPoolOptions::new().max_connections(8).test_before_acquire(false).after_connect(move |conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers proceed while one writer commits; the busy timeout
                    // makes a second writer wait instead of failing at once. Reads through a
                    // memory map share the file's pages between the pool's connections
                    // instead of copying them into a small cache per connection.
                    let pragmas = ["PRAGMA journal_mode = WAL", "PRAGMA busy_timeout = 10000", "PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL"];
                    for pragma in pragmas {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    sqlx::query(&format!("PRAGMA mmap_size = {}", mmap_mb.saturating_mul(1 << 20))).execute(&mut *conn).await?;
                    Ok(())
                })
            }),
            // A server shared by several processes: each keeps a modest pool of its own.
            Engine::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = pool.acquire_timeout(Duration::from_secs(10)).connect_with(options).await.map_err(DbError::Connect)?;
        Ok(Db { pool, engine })
    }

    /// Opens the database (see [`Db::connect_mapping`]) and applies the pending migrations
    /// of its engine.
    pub async fn connect_and_migrate(url: &str, mmap_mb: u64) -> Result<Db, DbError> {
        let db = Db::connect_mapping(url, mmap_mb).await?;
        db.engine.migrator().run(&db.pool).await?;
        Ok(db)
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether every migration this build knows is applied (for `/readyz`).
    pub async fn migrations_applied(&self) -> Result<bool, sqlx::Error> {
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool).await?;
        Ok(applied as usize >= self.engine.migrator().iter().count())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes waits for another
    /// writer instead of failing when it upgrades.
    pub async fn write_tx(&self) -> Result<WriteTx, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Engine::Postgres => self.pool.begin().await,
        }
    }

    /// The SQLite URL for a database file, created when missing.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }
}
