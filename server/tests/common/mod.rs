//! A Beckon built in-process on a fresh SQLite file, driven through its real router.
#![allow(dead_code)]

pub mod http;
pub mod postgres;
pub mod proxy;
pub mod smtp_sink;

use app::services::accounts::{create_owner, OwnerSetup};
use app::services::store::{memberships, new_id, scopes, users};
use app::services::{AppState, ManualClock};
use axum::body::Body;
use axum::http::{header, Request, Response};
use server::startup;
use server::Config;
use shared::scopes::{Grant, ScopeKind};
use shared::status::StoredUserStatus;
use shared::{Role, RoleKey};
use std::sync::Arc;
use tower::ServiceExt;

pub const ORIGIN: &str = "http://127.0.0.1:3000";
pub const OWNER_EMAIL: &str = "owner@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub router: axum::Router,
    pub session_store: server::sessions::SessionStore,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub config: Config,
    /// The account's own scope, once the owner exists.
    pub account_scope: String,
    _dir: tempfile::TempDir,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        addr: "127.0.0.1:3000".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        database_url: None,
        sqlite_mmap_mb: app::services::db::DEFAULT_SQLITE_MMAP_MB,
        public_url: ORIGIN.into(),
        public_url_explicit: true,
        site_root: dir.join("site"),
        secret_key_file: dir.join("secret.key"),
        secret_key: None,
        session_idle: std::time::Duration::from_secs(3600),
        session_absolute: std::time::Duration::from_secs(24 * 3600),
        log_filter: "warn".into(),
        test_clock: false,
        smtp: None,
        mail_from: "beckon@example.com".into(),
        mail_max_attempts: 3,
        mail_limits: Default::default(),
        import_limits: Default::default(),
        trusted_proxies: vec![],
        metrics_token: None,
        metrics_addr: None,
        log_json: false,
        serve_runs_worker: true,
        bounce: None,
        bounce_addr: None,
        // Signing is tested where it is the point (a key takes a moment to make).
        dkim: false,
        dkim_key: None,
        webhooks_allow_private: false,
        api_calls_per_minute: shared::api::CALLS_PER_MINUTE,
    }
}

/// With BECKON_TEST_POSTGRES set (the URL of a PostgreSQL server the tests may create
/// databases on, as `scripts/with-postgres.sh` gives), every test gets a fresh database
/// there; otherwise a fresh SQLite file.
pub async fn test_database_url(dir: &std::path::Path) -> Option<String> {
    let admin = std::env::var("BECKON_TEST_POSTGRES").ok().filter(|v| !v.is_empty())?;
    use sqlx::Connection;
    let name = format!("beckon_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("the test PostgreSQL server answers");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    let _ = dir;
    let (base, _) = admin.rsplit_once('/').expect("a database URL ending in /database");
    Some(format!("{base}/{name}"))
}

pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database_url = test_database_url(dir.path()).await;
    spawn_app_with(config, dir).await
}

/// A Beckon built on `config` (its data in `dir`), without an owner yet.
pub async fn spawn_app_with(config: Config, dir: tempfile::TempDir) -> TestApp {
    let clock = ManualClock::frozen_at(chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().into());
    let application = startup::build(&config, clock.clone()).await.expect("the application starts");
    TestApp {
        router: application.router,
        session_store: application.session_store,
        state: application.state,
        clock,
        config,
        account_scope: String::new(),
        _dir: dir,
    }
}

pub fn owner_setup() -> OwnerSetup {
    OwnerSetup {
        account_name: "Acme".into(),
        owner_name: "Olive Owner".into(),
        email: OWNER_EMAIL.into(),
        password: PASSWORD.into(),
        password_confirmation: PASSWORD.into(),
    }
}

impl TestApp {
    pub async fn with_owner() -> TestApp {
        TestApp::owned(spawn_app().await).await
    }

    /// A Beckon with its owner whose accounts may send `per_day` invitation emails a day (and
    /// each sender as many).
    pub async fn with_daily_limit(per_day: i64) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.database_url = test_database_url(dir.path()).await;
        config.mail_limits = app::services::mail::budget::DailyLimits { account: per_day, per_sender: per_day };
        TestApp::on(config, dir).await
    }

    /// A Beckon built on `config`, with its owner.
    pub async fn on(config: Config, dir: tempfile::TempDir) -> TestApp {
        TestApp::owned(spawn_app_with(config, dir).await).await
    }

    async fn owned(mut app: TestApp) -> TestApp {
        let owner = create_owner(&app.state, owner_setup()).await.expect("owner created");
        let mut conn = app.state.db.pool.acquire().await.unwrap();
        app.account_scope = scopes::account_scope_id(&mut conn, &owner.account_id).await.unwrap();
        drop(conn);
        app
    }

    /// `roles` account-wide, as an invitation offers them.
    pub fn account_grants(&self, roles: &[Role]) -> Vec<Grant> {
        roles.iter().map(|r| Grant::new(self.account_scope.clone(), *r)).collect()
    }

    /// Adds an active user holding `role` in the account scope (invitations are the
    /// product's way; tests of other features take this shortcut).
    pub async fn add_active_user(&self, email: &str, role: &str) -> String {
        let role = Role::parse(role).expect("a built-in role");
        self.add_active_user_with(email, &self.account_grants(&[role])).await
    }

    /// Adds an active user holding `grants`; returns their id.
    pub async fn add_active_user_with(&self, email: &str, grants: &[Grant]) -> String {
        let hash = app::services::passwords::hash(PASSWORD.into()).await.unwrap();
        let mut conn = self.state.db.pool.acquire().await.unwrap();
        let account_id: String = sqlx::query_scalar("SELECT id FROM accounts").fetch_one(&mut *conn).await.unwrap();
        let id = new_id();
        users::insert(
            &mut conn,
            users::NewUser { id: &id, account_id: &account_id, email, name: "Test User", status: StoredUserStatus::Active, password_hash: Some(&hash) },
            self.clock_ms(),
        )
        .await
        .unwrap();
        for grant in grants {
            memberships::grant(&mut conn, &id, &grant.scope_id, &grant.role, self.clock_ms()).await.unwrap();
        }
        id
    }

    /// Creates a place as the owner; `parent` `None` puts it in the account.
    pub async fn create_place(&self, kind: ScopeKind, name: &str, parent: Option<&str>) -> String {
        let owner = self.owner().await;
        app::services::scopes::create(&self.state, &owner, kind, name, parent).await.expect("place created")
    }

    /// Grants `role` in `scope`.
    pub fn grant(scope: &str, role: impl Into<RoleKey>) -> Grant {
        Grant::new(scope, role)
    }

    /// Queues `n` test emails in one transaction, as a bulk action would.
    pub async fn queue_test_emails(&self, n: usize) {
        use app::services::mail::outbox::{enqueue, NewMessage, Priority};
        let account_id: String = sqlx::query_scalar("SELECT id FROM accounts").fetch_one(&self.state.db.pool).await.unwrap();
        let mut tx = self.state.db.write_tx().await.unwrap();
        for i in 0..n {
            let to = shared::Email::parse(&format!("person{i:05}@example.com")).unwrap();
            let message = NewMessage {
                account_id: &account_id,
                kind: shared::mail::MessageKind::TestEmail,
                recipient: &to,
                invitation_id: None,
                password_reset_id: None,
                sent_by: None,
                priority: Priority::Waited,
                rendered: app::services::mail::templates::test_email("Acme", "Olive"),
            };
            enqueue(&mut tx, message, self.clock_ms()).await.unwrap();
        }
        tx.commit().await.unwrap();
    }

    /// The actor a request signed in as `user_id` would carry.
    pub async fn actor_for(&self, user_id: &str) -> app::services::Actor {
        let session = tower_sessions::Session::new(None, Arc::new(self.session_store.clone()), None);
        let mut conn = self.state.db.pool.acquire().await.unwrap();
        let user = users::get(&mut conn, user_id).await.unwrap().unwrap();
        drop(conn);
        let credentials =
            app::services::auth::Credentials { user_id: user.id, auth_version: user.auth_version, must_change_password: user.must_change_password != 0 };
        app::services::auth::begin_session(&self.state, &session, &credentials).await.unwrap();
        app::services::auth::require_actor(&self.state, &session).await.unwrap()
    }

    pub async fn owner(&self) -> app::services::Actor {
        let id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(OWNER_EMAIL).fetch_one(&self.state.db.pool).await.unwrap();
        self.actor_for(&id).await
    }

    pub fn clock_ms(&self) -> i64 {
        use app::services::Clock;
        self.clock.now_ms()
    }

    /// Sends `request` through the router. A page or a call answers in milliseconds; one
    /// still unanswered after a minute is waiting for something that will never come, and
    /// fails the test with its address instead of holding the whole run.
    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        let target = format!("{} {}", request.method(), request.uri());
        tokio::time::timeout(std::time::Duration::from_secs(60), self.router.clone().oneshot(request))
            .await
            .unwrap_or_else(|_| panic!("{target} got no answer within a minute"))
            .unwrap()
    }

    /// Serves the router on a free loopback port, as `beckon serve` does; returns host:port.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let service = self.router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        addr
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Response<Body> {
        let mut builder = Request::get(path);
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        self.send(builder.body(Body::empty()).unwrap()).await
    }

    /// Calls a server function the way the hydrated page does.
    pub async fn call(&self, path: &str, form: &str, origin: Option<&str>, cookie: Option<&str>) -> Response<Body> {
        let mut builder = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").header(header::ACCEPT, "application/json");
        if let Some(origin) = origin {
            builder = builder.header(header::ORIGIN, origin);
        }
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        self.send(builder.body(Body::from(form.to_string())).unwrap()).await
    }

    /// Signs in through the server function and returns the session cookie.
    pub async fn sign_in(&self, email: &str) -> String {
        let response = self.call(sign_in_path(), &format!("email={email}&password={}&next=%2F", PASSWORD.replace(' ', "+")), Some(ORIGIN), None).await;
        assert!(response.status().is_success() || response.status().is_redirection(), "sign-in failed: {}", response.status());
        session_cookie(&response).expect("a session cookie")
    }
}

pub fn sign_in_path() -> &'static str {
    <app::server_fns::SignIn as server_fn::ServerFn>::PATH
}

/// The Users page's query, all defaults.
pub const LIST_USERS_FORM: &str = "query=";

pub fn list_users_path() -> &'static str {
    <app::server_fns::ListUsers as server_fn::ServerFn>::PATH
}

pub fn session_cookie(response: &Response<Body>) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("beckon_session="))
        .map(|v| v.split(';').next().unwrap().to_string())
}

pub async fn body_text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024).await.unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every row of every table, every column as text (`table | column=value | …`), to prove
/// what a request changed or left alone, and what the database holds.
pub async fn dump_database(state: &AppState) -> Vec<String> {
    use app::services::db::Engine;
    use sqlx::Row;
    let sqlite = state.db.engine() == Engine::Sqlite;
    let tables: Vec<String> = if sqlite {
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetch_all(&state.db.pool).await.unwrap()
    } else {
        sqlx::query_scalar(
            "SELECT CASE WHEN table_schema = 'public' THEN table_name::text ELSE table_schema || '.' || table_name END FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(&state.db.pool)
        .await
        .unwrap()
    };
    let mut lines = Vec::new();
    for table in tables {
        let columns: Vec<String> = if sqlite {
            sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid").bind(&table).fetch_all(&state.db.pool).await.unwrap()
        } else {
            let (schema, name) = table.split_once('.').unwrap_or(("public", table.as_str()));
            sqlx::query_scalar("SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position")
                .bind(schema)
                .bind(name)
                .fetch_all(&state.db.pool)
                .await
                .unwrap()
        };
        // Blobs (session data, checksums) come as hex and are read back as lossy text, so the
        // readable runs inside them are searchable too.
        let select = columns
            .iter()
            .map(|c| {
                if sqlite {
                    format!("CASE WHEN typeof(\"{c}\") = 'blob' THEN 'x:' || hex(\"{c}\") ELSE CAST(\"{c}\" AS TEXT) END")
                } else {
                    format!("CAST(\"{c}\" AS TEXT)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let quoted = table.split('.').map(|part| format!("\"{part}\"")).collect::<Vec<_>>().join(".");
        let rows = sqlx::query(&format!("SELECT {select} FROM {quoted}")).fetch_all(&state.db.pool).await.unwrap();
        let mut table_lines: Vec<String> = rows
            .iter()
            .map(|row| {
                let values = columns.iter().enumerate().map(|(i, c)| format!("{c}={}", readable(row.get::<Option<String>, _>(i))));
                std::iter::once(table.clone()).chain(values).collect::<Vec<_>>().join(" | ")
            })
            .collect();
        table_lines.sort();
        lines.extend(table_lines);
    }
    lines
}

fn readable(value: Option<String>) -> String {
    match value {
        None => "NULL".into(),
        // SQLite blobs as 'x:' || hex, PostgreSQL bytea as '\x' hex.
        Some(v) => match v.strip_prefix("x:").or_else(|| v.strip_prefix("\\x")) {
            Some(hex) => {
                let bytes: Vec<u8> = (0..hex.len()).step_by(2).filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            None => v,
        },
    }
}

pub async fn user_id_of(state: &AppState, email: &str) -> String {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&state.db.pool).await.unwrap()
}

/// Holds requests at the services' named checkpoints until the test lets them on, so a
/// race test can make each interleaving happen instead of hoping for it.
#[derive(Clone, Default)]
pub struct Gates {
    gates: Arc<std::sync::Mutex<std::collections::HashMap<&'static str, Arc<Gate>>>>,
}

struct Gate {
    arrived: tokio::sync::watch::Sender<usize>,
    pass: tokio::sync::Semaphore,
}

impl Gates {
    /// From now on, every request reaching `point` waits there until released.
    pub fn close(&self, point: &'static str) {
        let gate = Gate { arrived: tokio::sync::watch::channel(0).0, pass: tokio::sync::Semaphore::new(0) };
        self.gates.lock().unwrap().insert(point, Arc::new(gate));
    }

    fn gate(&self, point: &str) -> Arc<Gate> {
        self.gates.lock().unwrap().get(point).cloned().unwrap_or_else(|| panic!("gate {point} was never closed"))
    }

    pub fn checkpoints(&self) -> app::services::checkpoints::Checkpoints {
        let gates = self.gates.clone();
        app::services::checkpoints::Checkpoints::new(move |point| {
            let gate = gates.lock().unwrap().get(point).cloned();
            Box::pin(async move {
                if let Some(gate) = gate {
                    gate.arrived.send_modify(|n| *n += 1);
                    gate.pass.acquire().await.expect("gate open").forget();
                }
            })
        })
    }

    /// Waits (at most 10 s, then fails the test) until `n` requests have reached `point`.
    pub async fn arrivals(&self, point: &'static str, n: usize) {
        let mut arrived = self.gate(point).arrived.subscribe();
        let reached = tokio::time::timeout(std::time::Duration::from_secs(10), arrived.wait_for(|count| *count >= n)).await;
        assert!(reached.is_ok(), "{n} requests did not reach {point} within 10 s");
    }

    /// How many requests have reached `point` since it was closed.
    pub fn arrived(&self, point: &'static str) -> usize {
        *self.gate(point).arrived.borrow()
    }

    /// Lets `n` held (or future) requests past `point`.
    pub fn release(&self, point: &'static str, n: usize) {
        self.gate(point).pass.add_permits(n);
    }

    /// Lets every request past `point`, now and later.
    pub fn open(&self, point: &'static str) {
        self.release(point, tokio::sync::Semaphore::MAX_PERMITS / 2);
    }
}

impl TestApp {
    /// The application's state with `gates` installed at its checkpoints.
    pub fn gated(&self, gates: &Gates) -> AppState {
        self.state.with_checkpoints(gates.checkpoints())
    }
}

impl TestApp {
    /// The form "Invite people" posts for `email` with `role` account-wide.
    pub fn invite_form(&self, email: &str, role: Role) -> String {
        let grants = Grant::to_param(&self.account_grants(&[role]));
        format!("addresses={}&grants={}&message=&send_despite_typos=false", shared::url::encode_component(email), shared::url::encode_component(&grants))
    }
}

/// Everything logged on this thread while it lives, captured by the subscriber `start` builds
/// around the shared buffer.
pub struct LogCapture {
    lines: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _default: tracing::subscriber::DefaultGuard,
    _second: tracing::Dispatch,
}

impl LogCapture {
    pub fn start<S: tracing::Subscriber + Send + Sync + 'static>(subscriber: impl FnOnce(std::sync::Arc<std::sync::Mutex<Vec<u8>>>) -> S) -> LogCapture {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let default = tracing::subscriber::set_default(subscriber(lines.clone()));
        // With a single registered subscriber, tracing decides whether a call site is wanted
        // by asking the default of whichever thread reaches it first, and caches the answer
        // for all: another test thread would settle "nobody listens" for a line this test
        // waits for. A second, unused registration makes it ask every live subscriber.
        let second = tracing::Dispatch::new(tracing_subscriber::registry());
        tracing::callsite::rebuild_interest_cache();
        LogCapture { lines, _default: default, _second: second }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().unwrap()).into_owned()
    }
}

/// The writer half of [`LogCapture`]: appends to its buffer.
pub struct CapturedLog(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How strongly [`can_lock_now`] tries to lock a row.
#[derive(Clone, Copy, Debug)]
pub enum Lock {
    /// As a transaction that decides from the row and may not let it change (FOR SHARE).
    Share,
    /// As one that changes what hangs on it (FOR NO KEY UPDATE, the services' `RowLock::Update`).
    Update,
}

/// Whether another connection could lock the row `id` of `table` right now, without waiting:
/// on PostgreSQL by a row lock with NOWAIT, on SQLite by the write lock (which a write
/// transaction holds for the whole database). Proves that a transaction held at a checkpoint
/// keeps what it decided on from changing under it.
pub async fn can_lock_now(app: &TestApp, table: &str, id: &str, lock: Lock) -> bool {
    use sqlx::Connection;
    let url = app.config.database_url();
    match app.state.db.engine() {
        app::services::db::Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            let clause = match lock {
                Lock::Share => "FOR SHARE",
                Lock::Update => "FOR NO KEY UPDATE",
            };
            let free = sqlx::query(&format!("SELECT id FROM {table} WHERE id = $1 {clause} NOWAIT")).bind(id).fetch_all(&mut *tx).await.is_ok();
            tx.rollback().await.ok();
            free
        }
        app::services::db::Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("PRAGMA busy_timeout = 0").execute(&mut conn).await.unwrap();
            let free = sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.is_ok();
            if free {
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
            }
            free
        }
    }
}
