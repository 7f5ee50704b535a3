//! The application's store: one pool over sqlx's `Any` driver, so the same portable SQL
//! serves SQLite (the embedded default, one machine) and PostgreSQL (several Beckon
//! processes on one database). What differs between the two is here and in `store/`.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions};
use std::str::FromStr;
use std::sync::Arc;
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
    /// Where it is (for a connection of its own outside the pool: the runner's LISTEN).
    url: Arc<str>,
}

/// How long a request waits for a connection (or for one to be made) before it is told the
/// database cannot be reached: long enough for a busy moment, short enough that pages say so
/// promptly while the database is down.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

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
        let connections = match Engine::of_url(url)? {
            Engine::Sqlite => 8,
            Engine::Postgres => 16,
        };
        Db::connect_sized(url, mmap_mb, connections).await
    }

    /// As [`Db::connect_mapping`], with a pool of at most `connections` connections.
    pub async fn connect_sized(url: &str, mmap_mb: u64, connections: u32) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let engine = Engine::of_url(url)?;
        let options = AnyConnectOptions::from_str(url).map_err(DbError::Connect)?.disable_statement_logging();
        let pool = match engine {
            // A connection to a file this process opened cannot be dropped by a server, so it is
            // not pinged on every acquire (a round trip to the connection's thread per page).
            Engine::Sqlite => AnyPoolOptions::new().max_connections(connections).test_before_acquire(false).after_connect(move |conn, _meta| {
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
            // A server shared by several processes: each keeps a modest pool of its own. A
            // connection is not pinged on every acquire (a round trip per page); once one has
            // failed (the server restarted), those opened before are checked as they are
            // taken, and the dead ones replaced.
            Engine::Postgres => AnyPoolOptions::new().max_connections(connections).test_before_acquire(false).before_acquire(|conn, meta| {
                Box::pin(async move {
                    if health::opened_before_trouble(meta.age) {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            }),
        };
        let pool = pool.acquire_timeout(ACQUIRE_TIMEOUT).connect_with(options).await.map_err(DbError::Connect)?;
        Ok(Db { pool, engine, url: url.into() })
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

    /// The PostgreSQL server's URL; none for SQLite.
    pub fn postgres_url(&self) -> Option<String> {
        (self.engine == Engine::Postgres).then(|| self.url.to_string())
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
        let conn = self.pool.acquire().await?;
        let mut tx = WriteTx { conn: Some(conn), open: true, webhook_events_seen: crate::services::webhooks::events::written() };
        let begin = match self.engine {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        };
        // Open from here on: a request cancelled while BEGIN is on its way still rolls back.
        if let Err(error) = sqlx::query(begin).execute(&mut *tx).await {
            // Nothing began; the connection may be broken.
            tx.discard();
            return Err(error);
        }
        Ok(tx)
    }

    /// The SQLite URL for a database file, created when missing.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }
}

/// A write transaction, begun, committed and rolled back by Beckon itself rather than by
/// sqlx's `Transaction`, whose bookkeeping can disagree with the database: a COMMIT that
/// failed (a full disk, on SQLite, rolls the transaction back by itself) or a request
/// cancelled while its BEGIN was under way (sqlx 0.8.6, issues 4385 and 4393) sent the
/// connection back to the pool still inside a transaction, or marked as if it were, and every
/// later request drawing it failed. Here the transaction counts as open from before BEGIN is
/// sent; dropped without a commit (an error, a refusal, a cancelled request), it is rolled
/// back on a task of its own, and a connection whose COMMIT or ROLLBACK failed is closed
/// rather than returned. No statement is added to a transaction that goes well.
pub struct WriteTx {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    open: bool,
    /// The webhook events written in this process when it began: once committed, it wakes
    /// the delivery lanes if that moved (`webhooks::events`).
    webhook_events_seen: u64,
}

impl WriteTx {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        sqlx::query("COMMIT").execute(&mut *self).await?;
        self.open = false;
        crate::services::webhooks::events::committed(self.webhook_events_seen);
        Ok(())
    }

    /// Ends it now (dropping it would too, later).
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let done = sqlx::query("ROLLBACK").execute(&mut *self).await;
        match done {
            Ok(_) => self.open = false,
            Err(_) => self.discard(),
        }
        done.map(|_| ())
    }

    /// Closes the connection instead of returning it to the pool.
    fn discard(&mut self) {
        self.open = false;
        if let Some(conn) = self.conn.as_mut() {
            conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &sqlx::AnyConnection {
        // Only `Drop` takes the connection out.
        self.conn.as_deref().unwrap_or_else(|| unreachable!("a transaction holds its connection until it is dropped"))
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        self.conn.as_deref_mut().unwrap_or_else(|| unreachable!("a transaction holds its connection until it is dropped"))
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let (true, Some(mut conn)) = (self.open, self.conn.take()) else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                        tracing::debug!(%error, "rolling back an abandoned transaction failed: its connection is closed");
                        conn.close_on_drop();
                    }
                });
            }
            // No runtime to roll back on: closing the connection ends the transaction.
            Err(_) => conn.close_on_drop(),
        }
    }
}

/// How the pool learns that its connections may be dead (the database restarted, a network
/// cut): a failure of that kind marks the moment, and every connection opened before it is
/// pinged as it is next taken, so the dead ones are replaced instead of failing a request each.
pub mod health {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    static TROUBLE: Mutex<Option<Instant>> = Mutex::new(None);

    /// A connection failed as a dead or unreachable one does.
    pub fn connection_failed() {
        *TROUBLE.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether a connection of this age was opened before the last such failure.
    pub fn opened_before_trouble(age: Duration) -> bool {
        let trouble = *TROUBLE.lock().unwrap_or_else(|e| e.into_inner());
        trouble.is_some_and(|at| Instant::now().checked_sub(age).is_none_or(|opened| opened <= at))
    }
}
