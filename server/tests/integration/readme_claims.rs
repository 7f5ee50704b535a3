//! What the README says Beckon does, each claim held by a test (the others live beside the
//! features they belong to).

use crate::common;

use app::services::invitations::service::{self, InviteRequest};
use app::services::mail::transport::{TlsMode, Transport};
use app::services::mail::worker::{dispatch_pending, DeliveryConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::smtp_sink::{SinkOptions, SmtpSink};
use common::*;
use shared::invitations::InvitationAction;
use shared::permissions::Denied;
use shared::scopes::{Grant, ScopeKind};
use shared::views::UsersQuery;
use shared::{AppError, Role};

fn invite(app: &TestApp, addresses: &str, roles: &[Role]) -> InviteRequest {
    InviteRequest { addresses: addresses.into(), grants: app.account_grants(roles), message: None, send_despite_typos: true }
}

async fn number(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.state.db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `app` with its router rebuilt on `config` changed by `tweak`.
fn rebuilt(mut app: TestApp, tweak: impl FnOnce(&mut server::Config)) -> TestApp {
    tweak(&mut app.config);
    app.router = server::router::build(app.state.clone(), &app.config, app.session_store.clone(), None);
    app
}

#[tokio::test]
async fn an_invitation_takes_ten_accepts_in_fifteen_minutes_then_waits() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    service::invite(&app.state, &owner, invite(&app, "ada@example.com", &[Role::Member])).await.unwrap();
    let link = service::copy_link(&app.state, &owner, &user_id_of(&app.state, "ada@example.com").await).await.unwrap();
    let segment = link.rsplit('/').next().unwrap();
    let input = |password: &str| app::services::invitations::accept::AcceptInput {
        name: "Ada".into(),
        password: password.into(),
        password_confirmation: password.into(),
    };
    for n in 0..10u8 {
        // From ten addresses, so that no address's own limit is what stops them.
        let client = Some(std::net::IpAddr::from([203, 0, 113, n]));
        let weak = app::services::invitations::accept::accept(&app.state, segment, input("short"), None, client).await.unwrap_err();
        assert!(matches!(weak, AppError::Validation(_)), "{weak:?}");
    }
    let limited =
        app::services::invitations::accept::accept(&app.state, segment, input("analytical engine 1843"), None, Some("198.51.100.1".parse().unwrap())).await;
    assert!(matches!(limited, Err(AppError::RateLimited { .. })), "{limited:?}");
    app.clock.advance(chrono::Duration::minutes(15));
    app::services::invitations::accept::accept(&app.state, segment, input("analytical engine 1843"), None, Some("198.51.100.1".parse().unwrap()))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_session_cookie_is_secure_under_https() {
    let app = rebuilt(TestApp::with_owner().await, |c| c.public_url = "https://beckon.example.com".into());
    let form = format!("email={}&password={}&next=%2F", shared::url::encode_component(OWNER_EMAIL), PASSWORD.replace(' ', "+"));
    let response = app.call(sign_in_path(), &form, Some("https://beckon.example.com"), None).await;
    assert!(response.status().is_success() || response.status().is_redirection(), "{}", response.status());
    let cookie =
        response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).find(|c| c.starts_with("beckon_session=")).unwrap();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn hashed_assets_are_cached_for_good_and_unhashed_ones_revalidated() {
    let app = TestApp::with_owner().await;
    let pkg = app.config.site_root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("beckon.0123abcd.js"), "export {};").unwrap();
    let cache = |app: &TestApp| {
        let request = Request::get("/pkg/beckon.0123abcd.js").body(Body::empty()).unwrap();
        let router = app.router.clone();
        async move { tower::ServiceExt::oneshot(router, request).await.unwrap().headers()[header::CACHE_CONTROL].to_str().unwrap().to_string() }
    };
    assert_eq!(cache(&app).await, "no-cache", "a site built without hashed names");
    let mut parts = (*app.state).clone();
    parts.leptos_options.hash_files = true;
    let hashed = server::router::build(app::services::AppState::new(parts), &app.config, app.session_store.clone(), None);
    let mut app = app;
    app.router = hashed;
    assert_eq!(cache(&app).await, "public, max-age=31536000, immutable");
}

#[tokio::test]
async fn readyz_answers_503_while_a_migration_is_missing_and_the_operators_listener_has_health_and_readiness() {
    let app = TestApp::with_owner().await;
    use app::services::Clock;
    app.state.metrics.worker_finished_pass(app.clock.now_ms());
    let operations = server::router::operations(app.state.clone());
    let get = |path: &str| {
        let (router, request) = (operations.clone(), Request::get(path).body(Body::empty()).unwrap());
        async move { tower::ServiceExt::oneshot(router, request).await.unwrap() }
    };
    let healthz = get("/healthz").await;
    assert_eq!(healthz.status(), StatusCode::OK);
    assert_eq!(body_text(healthz).await, "ok");
    assert_eq!(get("/readyz").await.status(), StatusCode::OK);
    // A build newer than the database: one of its migrations is not applied.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)").execute(&app.state.db.pool).await.unwrap();
    for response in [get("/readyz").await, app.get("/readyz", None).await] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_text(response).await, r#"{"database":"ok","migrations":"failing","worker":"ok"}"#);
    }
}

#[tokio::test]
async fn the_housekeeping_deletes_spent_rate_limit_counters_every_ten_minutes() {
    assert_eq!(server::startup::HOUSEKEEPING_EVERY, std::time::Duration::from_secs(600), "the README's ten minutes");
    let dir = tempfile::tempdir().unwrap();
    let clock = app::services::ManualClock::frozen_at(chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().into());
    let application = server::startup::build(&test_config(dir.path()), clock.clone()).await.unwrap();
    let pool = &application.state.db.pool;
    let day = app::services::rate_limit::LONGEST_WINDOW.as_millis() as i64;
    use app::services::Clock;
    for (key, start) in [("spent", clock.now_ms() - day - 1), ("live", clock.now_ms())] {
        sqlx::query("INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1)").bind(key).bind(start).execute(pool).await.unwrap();
    }
    // The same loop `serve` runs, on a shorter period so the test need not wait ten minutes.
    let housekeeping = application.spawn_housekeeping_every(std::time::Duration::from_millis(20));
    let started = std::time::Instant::now();
    loop {
        let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM rate_limits ORDER BY key").fetch_all(pool).await.unwrap();
        if keys == ["live"] {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "spent counters still there: {keys:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    housekeeping.abort();
}

#[tokio::test]
async fn a_session_is_written_at_most_once_a_minute() {
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let sessions = || async { dump_database(&app.state).await.into_iter().filter(|row| row.starts_with("tower_sessions")).collect::<Vec<_>>() };
    let signed_in = sessions().await;
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::seconds(19));
        assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await.status(), 200);
        assert_eq!(sessions().await, signed_in, "not written within the minute");
    }
    app.clock.advance(chrono::Duration::seconds(4));
    assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await.status(), 200);
    assert_ne!(sessions().await, signed_in, "written once a minute has passed");
}

#[tokio::test]
async fn every_invitation_action_is_audited_with_who_did_it() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    service::invite(&app.state, &owner, invite(&app, "ada@example.com", &[Role::Admin, Role::Hr])).await.unwrap();
    let ada = user_id_of(&app.state, "ada@example.com").await;
    service::act(&app.state, &owner, &ada, InvitationAction::Remind).await.unwrap();
    service::copy_link(&app.state, &owner, &ada).await.unwrap();
    service::remove_grants(&app.state, &owner, &ada, app.account_grants(&[Role::Hr])).await.unwrap();
    service::act(&app.state, &owner, &ada, InvitationAction::Resend).await.unwrap();
    app.clock.advance(chrono::Duration::days(8));
    service::act(&app.state, &owner, &ada, InvitationAction::SendNew).await.unwrap();
    service::act(&app.state, &owner, &ada, InvitationAction::Cancel).await.unwrap();
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_events WHERE target_type = 'invitation' AND actor_user_id = $1 ORDER BY at, action")
            .bind(&owner.user_id)
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            "invitation.created",
            "invitation.link_copied",
            "invitation.reminded",
            "invitation.resent",
            "invitation.roles_removed",
            "invitation.cancelled",
            "invitation.reissued"
        ]
    );
}

#[tokio::test]
async fn invite_people_takes_at_most_500_addresses_at_once() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let many = (0..501).map(|n| format!("p{n}@example.com")).collect::<Vec<_>>().join(" ");
    let before = dump_database(&app.state).await;
    let refused = service::invite(&app.state, &owner, invite(&app, &many, &[Role::Member])).await.unwrap_err();
    assert_eq!(refused, AppError::Validation("Invite at most 500 people at once (501 given).".into()));
    assert_eq!(dump_database(&app.state).await, before);
    let five_hundred = (0..500).map(|n| format!("p{n}@example.com")).collect::<Vec<_>>().join(" ");
    assert_eq!(service::invite(&app.state, &owner, invite(&app, &five_hundred, &[Role::Member])).await.unwrap().invited.len(), 500);
}

#[tokio::test]
async fn the_users_page_stops_counting_at_10000_and_says_more_than() {
    let app = TestApp::with_owner().await;
    let account: String = sqlx::query_scalar("SELECT id FROM accounts").fetch_one(&app.state.db.pool).await.unwrap();
    let mut tx = app.state.db.write_tx().await.unwrap();
    for n in 0..app::services::store::user_list::COUNT_CAP {
        let (id, email) = (app::services::store::new_id(), format!("person{n:05}@example.com"));
        let user = app::services::store::users::NewUser {
            id: &id,
            account_id: &account,
            email: &email,
            name: "",
            status: shared::status::StoredUserStatus::ProfileOnly,
            password_hash: None,
        };
        app::services::store::users::insert(&mut tx, user, app.clock_ms()).await.unwrap();
    }
    tx.commit().await.unwrap();
    let owner = app.owner().await;
    let page = app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    assert_eq!((page.total, page.total_capped), (10_000, true), "10,001 people, counted to 10,000");
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let html = body_text(app.get("/users", Some(&cookie)).await).await;
    assert!(html.contains("More than 10,000 users"), "the caption says so");
    assert!(html.contains("Showing 1–25 of more than 10,000"), "and the pager");

    // A count past the cap stands for COUNT_MEMO_MS; then the list is counted again.
    sqlx::query("DELETE FROM users WHERE email LIKE 'person00%'").execute(&app.state.db.pool).await.unwrap();
    let page = app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    assert_eq!((page.total, page.total_capped), (10_000, true), "counted past the cap a moment ago");
    app.clock.advance(chrono::Duration::milliseconds(app::services::store::user_list::COUNT_MEMO_MS));
    let page = app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    assert_eq!((page.total, page.total_capped), (9_001, false), "9,000 people and the owner, counted again");
    // A count within the cap is never taken from memory.
    sqlx::query("DELETE FROM users WHERE email LIKE 'person01%'").execute(&app.state.db.pool).await.unwrap();
    let page = app::services::users::list(&app.state, &owner, UsersQuery::default()).await.unwrap();
    assert_eq!((page.total, page.total_capped), (8_001, false), "counted at once");
}

#[tokio::test]
async fn the_place_filter_narrows_the_users_page_and_it_works_without_javascript() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let ward = app.create_place(ScopeKind::OrganisationalUnit, "Ward", None).await;
    let room = app.create_place(ScopeKind::MeetingRoom, "Room 1", Some(&ward)).await;
    let elsewhere = app.create_place(ScopeKind::OrganisationalUnit, "Elsewhere", None).await;
    for (email, place) in [("in-ward@example.com", &ward), ("in-room@example.com", &room), ("outside@example.com", &elsewhere)] {
        service::invite(
            &app.state,
            &owner,
            InviteRequest { addresses: email.into(), grants: vec![Grant::new(place, Role::Member)], message: None, send_despite_typos: true },
        )
        .await
        .unwrap();
    }
    let query = UsersQuery { scope: Some(ward.clone()), ..Default::default() };
    let listed: Vec<String> = app::services::users::list(&app.state, &owner, query.clone()).await.unwrap().rows.into_iter().map(|r| r.email).collect();
    assert_eq!(listed, ["in-room@example.com", "in-ward@example.com"], "the place and the places inside it");
    // The page as the server renders it, which is all a browser without JavaScript has.
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let page = app.get(&query.href(), Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    let html = body_text(page).await;
    assert!(html.contains("in-ward@example.com") && html.contains("in-room@example.com") && !html.contains("outside@example.com"), "{html}");
    assert!(html.contains(r#"<form method="get" action="/users""#), "a GET form applies the filters without JavaScript");
}

/// A mail server that accepts the connection and never says a word.
async fn silent_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

#[tokio::test]
async fn an_smtp_server_that_does_not_answer_in_time_defers_the_message_with_the_timeout() {
    let app = TestApp::with_owner().await;
    app.queue_test_emails(1).await;
    let sink = SmtpSink::start();
    let settings = app::services::mail::transport::SmtpSettings { port: silent_server().await, timeout: std::time::Duration::from_secs(1), ..sink.settings() };
    let config = DeliveryConfig { default_from: "beckon@example.com".into(), ..DeliveryConfig::default() };
    let report = dispatch_pending(&app.state, &Transport::smtp(&settings).unwrap(), &config).await.unwrap();
    assert_eq!((report.sent, report.deferred), (0, 1));
    let reply: Option<String> = sqlx::query_scalar("SELECT last_reply FROM outbox").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(reply.as_deref().unwrap_or_default().to_lowercase().contains("time"), "{reply:?}");
}

#[tokio::test]
async fn the_smtp_password_is_never_logged() {
    let captured = LogCapture::start(|sink| {
        tracing_subscriber::fmt().with_writer(move || CapturedLog(sink.clone())).with_max_level(tracing::Level::TRACE).with_ansi(false).finish()
    });
    let sink =
        SmtpSink::start_with(SinkOptions { tls: Some(TlsMode::StartTls), require_starttls: true, login: Some(("beckon".into(), "relay pass 42".into())) });
    let app = TestApp::with_owner().await;
    app.queue_test_emails(2).await;
    let config = DeliveryConfig { default_from: "beckon@example.com".into(), ..DeliveryConfig::default() };
    let transport = Transport::smtp(&sink.signed_in_settings(Some(sink.certs().ca()))).unwrap();
    assert_eq!(dispatch_pending(&app.state, &transport, &config).await.unwrap().sent, 2);
    // A wrong password is said in the log as refused, never written out either.
    let mut wrong = sink.signed_in_settings(Some(sink.certs().ca()));
    wrong.password = Some(app::services::mail::transport::SmtpPassword::new("not the relay pass".into()));
    app.queue_test_emails(1).await;
    dispatch_pending(&app.state, &Transport::smtp(&wrong).unwrap(), &config).await.unwrap();
    let log = captured.text();
    assert!(!log.is_empty(), "the deliveries were logged");
    for secret in ["relay pass 42", "not the relay pass", "cmVsYXkgcGFzcyA0Mg"] {
        assert!(!log.contains(secret), "{secret} in:\n{log}");
    }
}

#[test]
fn the_smtp_port_follows_the_tls_setting_and_the_pool_size_reaches_the_worker() {
    let config = |pairs: &[(&str, &str)]| {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        server::Config::from_source(&move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
    };
    for (tls, port) in [("none", 25), ("starttls", 587), ("tls", 465)] {
        let c = config(&[("BECKON_SMTP_HOST", "mail.example.com"), ("BECKON_SMTP_TLS", tls)]);
        assert_eq!(c.smtp.unwrap().port, port, "{tls}");
    }
    let c = config(&[("BECKON_SMTP_HOST", "mail.example.com"), ("BECKON_SMTP_PORT", "2525")]);
    assert_eq!(c.smtp.as_ref().unwrap().port, 2525);
    let c = config(&[("BECKON_SMTP_HOST", "mail.example.com"), ("BECKON_SMTP_POOL_SIZE", "7")]);
    assert_eq!(server::startup::delivery_config(&c).concurrency, 7, "the worker sends as many at once as the pool holds");
}

#[test]
fn trusted_proxies_are_read_from_the_environment() {
    let config = |value: &str| {
        let value = value.to_string();
        server::Config::from_source(&move |name| (name == "BECKON_TRUSTED_PROXIES").then(|| value.clone()))
    };
    let proxies = config("10.0.0.2, 2001:db8::7").unwrap().trusted_proxies;
    assert_eq!(proxies, vec!["10.0.0.2".parse::<std::net::IpAddr>().unwrap(), "2001:db8::7".parse().unwrap()]);
    assert_eq!(config("10.0.0.2, proxy.internal").err().unwrap().to_string(), "BECKON_TRUSTED_PROXIES is not valid: “proxy.internal” is not an IP address");
}

#[test]
fn beckon_migrate_and_help_do_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let beckon = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_beckon"))
            .args(args)
            .env_clear()
            .env("BECKON_DATA_DIR", dir.path())
            .env("BECKON_LOG", "warn")
            .output()
            .unwrap()
    };
    let migrated = beckon(&["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert_eq!(String::from_utf8_lossy(&migrated.stdout).trim(), "The database is up to date.");
    assert!(dir.path().join("beckon.db").exists(), "the SQLite file, created");
    let help = beckon(&["help", "worker"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Run only the runner of durable work: email delivery and bulk jobs"), "{help:?}");
    let overview = beckon(&["--help"]);
    let text = String::from_utf8_lossy(&overview.stdout);
    for command in ["serve", "migrate", "worker", "admin", "precompress"] {
        assert!(text.contains(command), "{command} in:\n{text}");
    }
}

#[tokio::test]
async fn an_owner_takes_the_people_permission_back() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let cora = app.add_active_user("cora@example.com", "curator").await;
    app::services::users::set_people_permission(&app.state, &owner, &cora, true).await.unwrap();
    app::services::users::list(&app.state, &app.actor_for(&cora).await, UsersQuery::default()).await.unwrap();
    let said = app::services::users::set_people_permission(&app.state, &owner, &cora, false).await.unwrap();
    assert!(said.contains("no longer has the People permission"), "{said}");
    let refused = app::services::users::list(&app.state, &app.actor_for(&cora).await, UsersQuery::default()).await.unwrap_err();
    assert_eq!(refused, AppError::Forbidden(Denied::NotPermitted));
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'user.people_revoked'").await, 1);
}

#[tokio::test]
async fn an_active_person_accepts_by_signing_in_through_the_accept_form() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let nia = app.add_active_user("nia@example.com", "member").await;
    service::invite(&app.state, &owner, invite(&app, "nia@example.com", &[Role::Hr])).await.unwrap();
    let link = service::copy_link(&app.state, &owner, &nia).await.unwrap();
    let segment = link.rsplit('/').next().unwrap();
    let wrong = app.call("/api/accept_invitation", &format!("link={segment}&email=nia%40example.com&password=not+the+password"), Some(ORIGIN), None).await;
    assert_eq!(wrong.status(), 422);
    let form = format!("link={segment}&email=nia%40example.com&password={}", PASSWORD.replace(' ', "+"));
    let accepted = app.call("/api/accept_invitation", &form, Some(ORIGIN), None).await;
    assert!(accepted.status().is_success() || accepted.status().is_redirection(), "{}", accepted.status());
    assert!(session_cookie(&accepted).is_some(), "signed in");
    assert_eq!(app.actor_for(&nia).await.authority.account_roles, vec![Role::Hr, Role::Member]);
}

#[tokio::test]
async fn a_changed_expiry_period_applies_to_the_next_invitation() {
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    assert_eq!(app.call("/api/save_invitation_settings", "expiry_days=14", Some(ORIGIN), Some(&cookie)).await.status(), 200);
    let owner = app.owner().await;
    service::invite(&app.state, &owner, invite(&app, "ada@example.com", &[Role::Member])).await.unwrap();
    let expires: i64 = number(&app, "SELECT expires_at FROM invitations").await;
    assert_eq!(expires - app.clock_ms(), 14 * 86_400_000);
}

#[tokio::test]
async fn a_place_is_renamed_and_the_renaming_audited() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let ward = app.create_place(ScopeKind::OrganisationalUnit, "Ward", None).await;
    let said = app::services::scopes::rename(&app.state, &owner, &ward, "Ward A").await.unwrap();
    assert_eq!(said, "Ward is now called Ward A.");
    let tree = app::services::scopes::tree(&app.state, &owner, Default::default()).await.unwrap();
    assert_eq!(tree.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["Ward A"]);
    assert_eq!(number(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'scope.renamed'").await, 1);
}

#[tokio::test]
async fn pages_refuse_whoever_may_not_see_them() {
    let app = TestApp::with_owner().await;
    app.add_active_user("hr@example.com", "hr").await;
    let hr = app.sign_in("hr@example.com").await;
    let deliveries = app.get("/deliveries", Some(&hr)).await;
    assert_eq!(deliveries.status(), StatusCode::FORBIDDEN, "the Delivery log for HR");
    assert!(body_text(deliveries).await.contains(&Denied::NotPermitted.to_string()), "it says why");
    // Settings is everyone's own page (their account, their password); the account's settings
    // are on it only for those who may change them.
    let owner = app.sign_in(OWNER_EMAIL).await;
    let (for_owner, for_hr) = (body_text(app.get("/settings", Some(&owner)).await).await, body_text(app.get("/settings", Some(&hr)).await).await);
    for section in [">Outgoing email<", ">Invitations<", ">Roles<"] {
        assert!(for_owner.contains(section), "the owner's Settings has {section}");
        assert!(!for_hr.contains(section), "HR's Settings has no {section}");
    }
    assert!(for_hr.contains(">Your password<"));
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    let south = app.create_place(ScopeKind::OrganisationalUnit, "South", None).await;
    app.add_active_user_with("wanda@example.com", &[TestApp::grant(&north, Role::Admin)]).await;
    let wanda = app.sign_in("wanda@example.com").await;
    assert_eq!(app.get(&format!("/organisation/{north}"), Some(&wanda)).await.status(), StatusCode::OK);
    let elsewhere = app.get(&format!("/organisation/{south}"), Some(&wanda)).await;
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
    assert!(body_text(elsewhere).await.contains(&Denied::OutsideYourScopes.to_string()));
    app.add_active_user("member@example.com", "member").await;
    let member = app.sign_in("member@example.com").await;
    assert_eq!(app.get("/users", Some(&member)).await.status(), StatusCode::FORBIDDEN);
    let anonymous = app.get("/users", None).await;
    assert_eq!(anonymous.status(), StatusCode::FOUND);
    assert_eq!(anonymous.headers()[header::LOCATION], "/signin?next=/users");
}
