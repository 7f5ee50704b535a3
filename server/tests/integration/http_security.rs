//! The security baseline, through the real router: headers, CSRF by Origin, 401/403,
//! session hygiene.

use crate::common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use std::sync::Arc;

fn csp_nonce(response: &axum::http::Response<Body>) -> String {
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    let start = csp.find("'nonce-").expect("a nonce in the CSP") + 7;
    csp[start..start + csp[start..].find('\'').unwrap()].to_string()
}

fn assert_security_headers(response: &axum::http::Response<Body>) {
    let h = response.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::with_owner().await;
    let invite = "/invite/7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f.forged";
    for path in ["/signin", "/setup", "/no/such/page", invite] {
        let response = app.get(path, None).await;
        assert_security_headers(&response);
    }
    let missing = app.get("/no/such/page", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&missing);
    // A link that does not verify: the generic page, naming no account, email or person.
    let forged = app.get(invite, None).await;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    let html = body_text(forged).await;
    assert!(html.contains("This link is not valid"));
    assert!(!html.contains("Acme") && !html.contains("@"), "{html}");
}

#[tokio::test]
async fn hsts_is_sent_only_when_the_public_url_is_https() {
    let app = TestApp::with_owner().await;
    assert!(app.get("/signin", None).await.headers().get("strict-transport-security").is_none());

    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.public_url = "https://beckon.example.com".into();
    let https = server::startup::build(&config, server::startup::system_clock()).await.unwrap();
    let response = tower::ServiceExt::oneshot(https.router, Request::get("/signin").body(Body::empty()).unwrap()).await.unwrap();
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    let cookie_test = response.headers().get(header::SET_COOKIE);
    assert!(cookie_test.is_none(), "no session is created for an anonymous page view");
}

#[tokio::test]
async fn the_csp_nonce_is_fresh_per_response_and_on_every_script() {
    let app = TestApp::with_owner().await;
    let first = app.get("/signin", None).await;
    let second = app.get("/signin", None).await;
    let (n1, n2) = (csp_nonce(&first), csp_nonce(&second));
    assert_ne!(n1, n2);
    assert!(n1.len() >= 22, "at least 128 bits: {n1}");
    let html = body_text(first).await;
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1, "the page has its hydration script");
    assert_eq!(html.matches(&format!("nonce=\"{n1}\"")).count(), scripts, "every script carries this response's nonce:\n{html}");
}

#[tokio::test]
async fn a_server_function_call_from_another_site_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let form = "account_name=Evil&owner_name=Eve&email=eve%40evil.example&password=a+sturdy+passphrase&password_confirmation=a+sturdy+passphrase";
    let path = <app::server_fns::SetupOwner as server_fn::ServerFn>::PATH;

    for origin in [Some("https://evil.example"), Some("null"), None] {
        let refused = app.call(path, form, origin, None).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "origin {origin:?}");
        assert_security_headers(&refused);
        let body = body_text(refused).await;
        assert!(body.contains("CrossSite"), "{body}");
    }
    assert!(app::services::accounts::setup_open(&app.state).await.unwrap(), "nothing was created");

    let accepted = app.call(path, form, Some(ORIGIN), None).await;
    assert!(accepted.status().is_success(), "{}", accepted.status());
    assert!(!app::services::accounts::setup_open(&app.state).await.unwrap());
}

#[tokio::test]
async fn a_plain_form_post_from_another_site_gets_a_readable_page() {
    let app = TestApp::with_owner().await;
    let request = Request::post(sign_in_path())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from("email=a%40b.co&password=x&next=%2F"))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(body_text(response).await.contains(&shared::html::escape(&shared::AppError::CrossSite.to_string())), "the refusal, as HTML text");
}

#[tokio::test]
async fn admin_functions_answer_401_without_a_session_and_403_to_a_member() {
    let app = TestApp::with_owner().await;
    let anonymous = app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(body_text(anonymous).await.contains("Unauthenticated"));

    app.add_active_user("member@example.com", "member").await;
    let member = app.sign_in("member@example.com").await;
    let forbidden = app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&member)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert!(body_text(forbidden).await.contains("Forbidden"));

    let owner = app.sign_in(OWNER_EMAIL).await;
    let allowed = app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&owner)).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(body_text(allowed).await.contains("member@example.com"));
}

#[tokio::test]
async fn sign_in_replaces_a_planted_session_and_sets_a_safe_cookie() {
    use tower_sessions::SessionStore;
    let app = TestApp::with_owner().await;
    // An attacker plants a real, stored anonymous session in the victim's browser.
    let planted = tower_sessions::Session::new(None, Arc::new(app.session_store.clone()), None);
    planted.insert("visited", true).await.unwrap();
    planted.save().await.unwrap();
    let planted_id = planted.id().expect("a stored session");
    assert!(app.session_store.load(&planted_id).await.unwrap().is_some(), "the planted session exists in the store");
    let planted_cookie = format!("beckon_session={planted_id}");

    let form = format!("email={OWNER_EMAIL}&password={}&next=%2Fusers", PASSWORD.replace(' ', "+"));
    let response = app.call(sign_in_path(), &form, Some(ORIGIN), Some(&planted_cookie)).await;
    assert!(response.status().is_success(), "{}", response.status());
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http in tests: {set_cookie}");
    let cookie = session_cookie(&response).unwrap();
    assert_ne!(cookie, planted_cookie, "signed in under a new id");
    // The planted id is dead: gone from the store, and not signed in when replayed.
    assert!(app.session_store.load(&planted_id).await.unwrap().is_none(), "the planted session was deleted");
    assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&planted_cookie)).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let sign_out = <app::server_fns::SignOut as server_fn::ServerFn>::PATH;
    assert!(app.call(sign_out, "", Some(ORIGIN), Some(&cookie)).await.status().is_success());
    // Replaying the old cookie does not bring the session back.
    let replay = app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn changing_the_password_ends_every_session_of_that_user() {
    let app = TestApp::with_owner().await;
    let here = app.sign_in(OWNER_EMAIL).await;
    let elsewhere = app.sign_in(OWNER_EMAIL).await;
    let change = <app::server_fns::ChangePassword as server_fn::ServerFn>::PATH;
    let form =
        format!("current_password={}&new_password=another+fine+passphrase&new_password_confirmation=another+fine+passphrase", PASSWORD.replace(' ', "+"));
    let response = app.call(change, &form, Some(ORIGIN), Some(&here)).await;
    assert!(response.status().is_success(), "{}", response.status());
    for cookie in [&here, &elsewhere] {
        assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(cookie)).await.status(), StatusCode::UNAUTHORIZED);
    }
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'user.password_changed'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_even_when_used() {
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    // Used every 50 minutes (within the idle timeout) for 23 h 20 min: still signed in.
    for _ in 0..28 {
        app.clock.advance(chrono::Duration::minutes(50));
        assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await.status(), StatusCode::OK);
    }
    // Past 24 hours since sign-in: ended, however recently used.
    app.clock.advance(chrono::Duration::minutes(50));
    assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_admin_page_signed_out_redirects_to_sign_in_with_the_way_back() {
    let app = TestApp::with_owner().await;
    let request = Request::get("/users").header(header::ACCEPT, "text/html").body(Body::empty()).unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], "/signin?next=/users");
}

#[tokio::test]
async fn sign_in_never_redirects_off_site() {
    let app = TestApp::with_owner().await;
    let form = format!("email={OWNER_EMAIL}&password={}&next=https%3A%2F%2Fevil.example%2F", PASSWORD.replace(' ', "+"));
    let request = Request::post(sign_in_path())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(form))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], "/");
}

#[tokio::test]
async fn a_session_unused_past_its_idle_timeout_ends_and_use_keeps_it_alive() {
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::minutes(50));
        assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await.status(), StatusCode::OK);
    }
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(app.call(list_users_path(), LIST_USERS_FORM, Some(ORIGIN), Some(&cookie)).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn too_many_sign_in_attempts_answer_429_to_a_script() {
    let app = TestApp::with_owner().await;
    let wrong = format!("email={OWNER_EMAIL}&password=wrong+password&next=%2F");
    for _ in 0..10 {
        assert_eq!(app.call(sign_in_path(), &wrong, Some(ORIGIN), None).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The 11th attempt is refused even with the right password.
    let right = format!("email={OWNER_EMAIL}&password={}&next=%2F", PASSWORD.replace(' ', "+"));
    let refused = app.call(sign_in_path(), &right, Some(ORIGIN), None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(body_text(refused).await.contains("RateLimited"));
}

#[tokio::test]
async fn the_sixth_send_of_an_invitation_within_the_hour_is_refused_through_the_router() {
    let app = TestApp::with_owner().await;
    let owner = app.sign_in(OWNER_EMAIL).await;
    let invite = <app::server_fns::InvitePeople as server_fn::ServerFn>::PATH;
    let invited = app.call(invite, &app.invite_form("ada@example.com", shared::Role::Member), Some(ORIGIN), Some(&owner)).await;
    assert_eq!(invited.status(), StatusCode::OK, "{}", body_text(invited).await);
    let ada: String = sqlx::query_scalar("SELECT id FROM users WHERE email = 'ada@example.com'").fetch_one(&app.state.db.pool).await.unwrap();
    let act = <app::server_fns::ActOnInvitation as server_fn::ServerFn>::PATH;
    let resend = format!("user_id={ada}&action=resend");
    for _ in 0..4 {
        assert_eq!(app.call(act, &resend, Some(ORIGIN), Some(&owner)).await.status(), StatusCode::OK);
    }
    let refused = app.call(act, &resend, Some(ORIGIN), Some(&owner)).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(body_text(refused).await.contains("send it again in"));
    let sends: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(sends, 5, "the refused send queued nothing");
}

#[tokio::test]
async fn the_start_page_redirects_on_the_server() {
    let fresh = spawn_app().await;
    // As a script or `curl` asks (no Accept header): a redirect still, never an empty page.
    let html_get = |path: &str, cookie: Option<&str>| {
        let mut builder = Request::get(path);
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder.body(Body::empty()).unwrap()
    };
    let response = fresh.send(html_get("/", None)).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()[header::LOCATION], "/setup");

    let app = TestApp::with_owner().await;
    let response = app.send(html_get("/", None)).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()[header::LOCATION], "/signin");
    let owner = app.sign_in(OWNER_EMAIL).await;
    let response = app.send(html_get("/", Some(&owner))).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()[header::LOCATION], "/users");
    // Someone without an admin role stays and sees their account.
    app.add_active_user("member@example.com", "member").await;
    let member = app.sign_in("member@example.com").await;
    let response = app.send(html_get("/", Some(&member))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body_text(response).await.contains("You are signed in as"));
}

#[tokio::test]
async fn no_link_token_reaches_the_log() {
    let captured = LogCapture::start(|sink| {
        tracing_subscriber::fmt().with_writer(move || CapturedLog(sink.clone())).with_max_level(tracing::Level::TRACE).with_ansi(false).finish()
    });

    let app = TestApp::with_owner().await;
    let owner = app.sign_in(OWNER_EMAIL).await;
    let invite = <app::server_fns::InvitePeople as server_fn::ServerFn>::PATH;
    app.call(invite, &app.invite_form("ada@example.com", shared::Role::Member), Some(ORIGIN), Some(&owner)).await;
    let ada = user_id_of(&app.state, "ada@example.com").await;
    let copied = app.call(<app::server_fns::GetInvitationLink as server_fn::ServerFn>::PATH, &format!("user_id={ada}"), Some(ORIGIN), Some(&owner)).await;
    let link: String = serde_json::from_str(&body_text(copied).await).unwrap();
    let segment = link.rsplit('/').next().unwrap().to_string();
    let token = segment.split_once('.').unwrap().1.to_string();

    let (id, _) = segment.split_once('.').unwrap();
    // Every spelling of the link's address opens it, and none may write its token down.
    for path in [
        format!("/invite/{segment}"),
        format!("/invite/{id}%2E{token}"),
        format!("/invite/{id}%2e{token}?utm_source=mail"),
        format!("/invite/{segment}?{token}"),
    ] {
        assert_eq!(app.get(&path, None).await.status(), StatusCode::OK, "{path}");
    }
    // A forged cross-site post to the link's own address is refused, and logged.
    for path in [format!("/invite/{segment}"), format!("/invite/{id}%2E{token}")] {
        let refused = app.call(&path, "name=x", Some("https://evil.example"), None).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let accept = <app::server_fns::AcceptInvitation as server_fn::ServerFn>::PATH;
    let form = format!("link={segment}&name=Ada&password=short&password_confirmation=short");
    assert_eq!(app.call(accept, &form, Some(ORIGIN), None).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let form = format!("link={segment}&name=Ada&password=analytical+engine+1843&password_confirmation=analytical+engine+1843");
    assert!(app.call(accept, &form, Some(ORIGIN), None).await.status().is_success());

    let log = captured.text();
    assert!(log.contains("refused a cross-site state-changing request"), "the refusal is logged:\n{log}");
    assert!(log.contains(&format!("/invite/{}.…", segment.split_once('.').unwrap().0)), "with the link's id:\n{log}");
    assert!(!log.contains(&token), "the token is in the log:\n{log}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_and_a_clear_message() {
    let app = TestApp::with_owner().await;
    let big = format!("email=a%40b.co&password={}&next=%2F", "x".repeat(3 * 1024 * 1024));
    // A server function called by the page (declared length), and by a script streaming it.
    let response = app.call(sign_in_path(), &big, Some(ORIGIN), None).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body_text(response).await, r#""TooLarge""#);
    let mut request = Request::post(sign_in_path())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    assert_eq!(app.send(request).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A plain form post from a browser without JavaScript gets a readable page.
    request = Request::post(sign_in_path())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "text/html")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from(big))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let page = body_text(response).await;
    assert!(page.contains("The request is too large (at most 1 MB)."), "{page}");
    assert!(!page.contains("length limit"), "{page}");
}

#[tokio::test]
async fn a_malformed_call_gets_no_library_error_text() {
    let app = TestApp::with_owner().await;
    let invite = <app::server_fns::InvitePeople as server_fn::ServerFn>::PATH;
    for (path, form) in [(sign_in_path(), ""), (sign_in_path(), "email=only"), (invite, "addresses=a&roles=&message=&send_despite_typos=maybe")] {
        let response = app.call(path, form, Some(ORIGIN), None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form}");
        assert_eq!(body_text(response).await, r#""Transport""#, "{form}: only our own fixed error");
    }
    // The same through a browser that accepts compressed answers.
    let request = Request::post(sign_in_path())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
        .header(header::ORIGIN, ORIGIN)
        .body(Body::from("email=only"))
        .unwrap();
    assert_eq!(app.send(request).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_test_clock_moves_only_by_a_sane_number_of_hours() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let clock = app::services::ManualClock::frozen_at(chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").unwrap().into());
    let application = server::startup::build_with_test_clock(&config, clock.clone(), Some(clock.clone())).await.unwrap();
    let post = |hours: &str| {
        Request::post("/__test/clock")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ORIGIN, ORIGIN)
            .body(Body::from(format!("hours={hours}")))
            .unwrap()
    };
    use app::services::Clock;
    let start = clock.now_ms();
    for bad in ["-1", "87840.01", "1e300", "NaN", "inf", "99999999999999999999", "two"] {
        let response = tower::ServiceExt::oneshot(application.router.clone(), post(bad)).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(clock.now_ms(), start, "refused steps do not move the clock");
    let response = tower::ServiceExt::oneshot(application.router.clone(), post("1.5")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(clock.now_ms() - start, 90 * 60_000);
    // The bounds themselves are steps it takes: nothing, and ten years of 366 days.
    for hours in ["0", "87840"] {
        assert_eq!(tower::ServiceExt::oneshot(application.router.clone(), post(hours)).await.unwrap().status(), StatusCode::OK, "{hours}");
    }
    assert_eq!(clock.now_ms() - start, 90 * 60_000 + 87_840 * 3_600_000);
}

/// Starting an application beside pages being served (as tests do all the time, and as a
/// process that builds a second router would): every page still gets its answer. Leptos
/// lists routes with resource loads switched off for the whole process, so a listing per
/// start left a page rendered at that moment waiting for its data forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_rendered_while_another_application_starts_gets_its_answer() {
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let gates = Gates::default();
    let router = server::router::build(app.gated(&gates), &app.config, app.session_store.clone(), None);
    for round in 0..3 {
        // The page is under way: it holds at its data's first step until the other application
        // has started completely, on a thread and a runtime of its own.
        gates.close(app::services::checkpoints::points::ACTOR_LOADING);
        let page = {
            let (router, cookie) = (router.clone(), cookie.clone());
            tokio::spawn(async move {
                let request = axum::http::Request::get("/users").header(header::COOKIE, cookie).body(Body::empty()).unwrap();
                tower::ServiceExt::oneshot(router, request).await.unwrap().status()
            })
        };
        gates.arrivals(app::services::checkpoints::points::ACTOR_LOADING, 1).await;
        let builder = std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                server::startup::build(&test_config(dir.path()), server::startup::system_clock()).await.unwrap();
            });
        });
        let started = std::time::Instant::now();
        while !builder.is_finished() {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "the other application did not start within a minute");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        builder.join().expect("the other application started");
        gates.open(app::services::checkpoints::points::ACTOR_LOADING);
        let status = tokio::time::timeout(std::time::Duration::from_secs(60), page).await.expect("the page answers").unwrap();
        assert_eq!(status, StatusCode::OK, "round {round}");
    }
}

/// The `<head>` of a rendered page.
fn head_of(html: &str) -> &str {
    let start = html.find("<head>").expect("a head");
    &html[start..start + html[start..].find("</head>").expect("the head ends")]
}

/// Names that try to close the title and add elements to the admin's page.
const HOSTILE_NAMES: [&str; 2] =
    [r#"Eve</title><meta http-equiv="refresh" content="0;url=http://evil.example/">"#, r#"Mallory & "Co" 'Ltd' <script>alert(1)</script>"#];

/// Asserts `html`'s head holds exactly one title, saying `name` as text, and no element made
/// from the name.
fn assert_title_is_text(html: &str, name: &str) {
    let head = head_of(html);
    assert_eq!(head.matches("<title>").count(), 1, "one title:\n{head}");
    assert_eq!(head.matches("</title>").count(), 1, "one title:\n{head}");
    assert!(!head.contains("<meta http-equiv") && !head.contains("<script>alert"), "an element from the name:\n{head}");
    let title = &head[head.find("<title>").unwrap() + 7..head.find("</title>").unwrap()];
    assert_eq!(title, format!("{} · Beckon", shared::html::escape(name)), "the name as text");
}

#[tokio::test]
async fn markup_in_a_person_or_place_name_stays_text_in_the_page_head() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    for (i, name) in HOSTILE_NAMES.into_iter().enumerate() {
        // An invitee chooses the name as they accept.
        let email = format!("eve{i}@example.com");
        let request = app::services::invitations::service::InviteRequest {
            addresses: email.clone(),
            grants: app.account_grants(&[shared::Role::Member]),
            message: None,
            send_despite_typos: true,
        };
        app::services::invitations::service::invite(&app.state, &owner, request).await.unwrap();
        let eve = user_id_of(&app.state, &email).await;
        let link = app::services::invitations::service::copy_link(&app.state, &owner, &eve).await.unwrap();
        let input = app::services::invitations::accept::AcceptInput {
            name: name.into(),
            password: "analytical engine 1843".into(),
            password_confirmation: "analytical engine 1843".into(),
        };
        app::services::invitations::accept::accept(&app.state, link.rsplit('/').next().unwrap(), input, None, None).await.unwrap();
        let page = app.get(&format!("/users/{eve}"), Some(&cookie)).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_title_is_text(&body_text(page).await, name);

        // An admin names a place.
        let place = app.create_place(shared::scopes::ScopeKind::OrganisationalUnit, &format!("Unit {i}"), None).await;
        app::services::scopes::rename(&app.state, &owner, &place, name).await.unwrap();
        let page = app.get(&format!("/organisation/{place}"), Some(&cookie)).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_title_is_text(&body_text(page).await, name);
    }
}

#[tokio::test]
async fn a_page_number_past_any_list_with_a_cursor_is_answered_and_an_address_that_grows_in_lower_case_is_refused_clearly() {
    let app = TestApp::with_owner().await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    // More matches for a search than it counts (so the page number is taken as it is), and a
    // full page after the cursor (so the page links to the next one).
    let account: String = sqlx::query_scalar("SELECT id FROM accounts").fetch_one(&app.state.db.pool).await.unwrap();
    let mut tx = app.state.db.write_tx().await.unwrap();
    for n in 0..=app::services::store::user_list::SEARCH_COUNT_CAP {
        let (id, email) = (app::services::store::new_id(), format!("person{n:04}@example.com"));
        let user = app::services::store::users::NewUser {
            id: &id,
            account_id: &account,
            email: &email,
            name: "Pat",
            status: shared::status::StoredUserStatus::ProfileOnly,
            password_hash: None,
        };
        app::services::store::users::insert(&mut tx, user, app.clock_ms()).await.unwrap();
    }
    tx.commit().await.unwrap();
    let first = user_id_of(&app.state, "person0000@example.com").await;
    let query = format!("q=person&sort=email&page=4294967295&after={first}");
    let listed = app.call(list_users_path(), &format!("query={}", shared::url::encode_component(&query)), Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/users?{query}"), Some(&cookie)).await.status(), StatusCode::OK, "the page renders too");

    let invite = <app::server_fns::InvitePeople as server_fn::ServerFn>::PATH;
    let refused = app.call(invite, &app.invite_form("İstanbul@example.com", shared::Role::Member), Some(ORIGIN), Some(&cookie)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body_text(refused).await.contains("grow when written in lower case"));
}

/// A page reads who is signed in once and each of its lists once, however often its
/// components are built while it renders (leptos-rs/leptos#4688: a `Suspense` builds its
/// children once to find their resources and again to render them).
#[tokio::test]
async fn a_page_view_reads_who_is_signed_in_and_each_list_once() {
    use app::services::checkpoints::points::{ACTOR_LOADING, PLACES_READING, USERS_LISTING};
    let app = TestApp::with_owner().await;
    app.create_place(shared::scopes::ScopeKind::OrganisationalUnit, "Ward", None).await;
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let gates = Gates::default();
    let router = server::router::build(app.gated(&gates), &app.config, app.session_store.clone(), None);
    for path in ["/users", "/users?status=invited&q=ada", "/organisation"] {
        for point in [ACTOR_LOADING, USERS_LISTING, PLACES_READING] {
            gates.close(point);
            gates.open(point);
        }
        let request = axum::http::Request::get(path).header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
        let response = tower::ServiceExt::oneshot(router.clone(), request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = body_text(response).await;
        assert!(html.contains("Ward"), "{path}: the page shows the place it read");
        // Organisation reads two lists of places: the tree, and the units a new place may go in.
        let (users, places) = if path.starts_with("/users") { (1, 1) } else { (0, 2) };
        assert_eq!(
            (gates.arrived(ACTOR_LOADING), gates.arrived(USERS_LISTING), gates.arrived(PLACES_READING)),
            (1, users, places),
            "{path}: who is signed in, the Users list, the places"
        );
    }
}
