//! Sessions live in the database, whichever engine it is, so any process serves any request.

use app::services::db::{health, Engine, ACQUIRE_TIMEOUT};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The session store of the configured engine.
#[derive(Clone, Debug)]
pub enum SessionStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionStore {
    /// Opens the store on the database at `url` and creates its table when missing. The
    /// store keeps a small pool of its own: its library speaks the engine's own driver.
    pub async fn open(url: &str, engine: Engine) -> Result<SessionStore, sqlx::Error> {
        let store = match engine {
            Engine::Sqlite => {
                let options = url
                    .parse::<SqliteConnectOptions>()?
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(std::time::Duration::from_secs(10));
                let pool = SqlitePoolOptions::new().max_connections(4).acquire_timeout(ACQUIRE_TIMEOUT).connect_with(options).await?;
                let store = SqliteStore::new(pool).with_table_name("tower_sessions").map_err(|e| sqlx::Error::Configuration(e.into()))?;
                store.migrate().await?;
                SessionStore::Sqlite(store)
            }
            Engine::Postgres => {
                // As the application's own pool: no ping per request; after a connection has
                // failed (the server restarted), those opened before are checked as taken.
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if health::opened_before_trouble(meta.age) {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect(url)
                    .await?;
                let store = PostgresStore::new(pool);
                store.migrate().await?;
                SessionStore::Postgres(store)
            }
        };
        Ok(store)
    }
}

#[async_trait::async_trait]
impl session_store::SessionStore for SessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.create(record).await,
            SessionStore::Postgres(s) => s.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.save(record).await,
            SessionStore::Postgres(s) => s.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SessionStore::Sqlite(s) => s.load(id).await,
            SessionStore::Postgres(s) => s.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.delete(id).await,
            SessionStore::Postgres(s) => s.delete(id).await,
        }
    }
}

#[async_trait::async_trait]
impl ExpiredDeletion for SessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            SessionStore::Sqlite(s) => s.delete_expired().await,
            SessionStore::Postgres(s) => s.delete_expired().await,
        }
    }
}
