use sqlx::any::{AnyPoolOptions, AnyConnectOptions};
use sqlx::{AnyPool, ConnectOptions};
use std::str::FromStr;
use std::time::Duration;

/// The application's store: one pool over the `Any` driver so the same portable SQL
/// serves SQLite (the embedded default) and, later, PostgreSQL.
#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    sqlite: bool,
}

pub type WriteTx = sqlx::Transaction<'static, sqlx::Any>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl Db {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn connect_and_migrate(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers proceed while one writer commits; the busy timeout
                    // makes a second writer wait instead of failing at once.
                    for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA busy_timeout = 10000", "PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL"] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Db { pool, sqlite: url.starts_with("sqlite:") })
    }

    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes waits for another
    /// writer instead of failing when it upgrades.
    pub async fn write_tx(&self) -> Result<WriteTx, sqlx::Error> {
        if self.sqlite {
            self.pool.begin_with("BEGIN IMMEDIATE").await
        } else {
            self.pool.begin().await
        }
    }

    /// The SQLite URL for a database file, created when missing.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }
}
