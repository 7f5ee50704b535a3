//! Several Beckon processes on one PostgreSQL database, as behind a load balancer: two
//! `beckon serve` and two `beckon worker`. A session made by one process holds on the other,
//! a rate limit counts requests to both, and 2,000 invitations invited and resent through
//! both servers in turn reach the mail server exactly once each. Runs beside the throwaway
//! PostgreSQL server of `scripts/with-postgres.sh` (BECKON_TEST_POSTGRES); on SQLite alone
//! there is nothing to share, and it says so.

use crate::common;

use common::http::post_form;
use common::smtp_sink::{header, SmtpSink};
use common::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PUBLIC_URL: &str = "http://beckon.test";
const PEOPLE: usize = 2_000;

/// The processes, killed when the test ends however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The asset files `beckon serve` checks for at start, empty: this test never loads a page's
/// script, but the server refuses a site without the assets it was built with.
pub(crate) fn stub_site(root: &std::path::Path) {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_beckon")).parent().unwrap();
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    for name in server::startup::asset_names(bin_dir).unwrap() {
        std::fs::write(pkg.join(name), "").unwrap();
    }
}

pub(crate) fn beckon(env: &[(String, String)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beckon"));
    command.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("BECKON_LOG", "warn");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// `beckon admin create` of the owner, the password on standard input.
pub(crate) fn admin_create(env: &[(String, String)]) {
    let mut create =
        beckon(env, &["admin", "create", "--email", OWNER_EMAIL, "--name", "Olive Owner"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    writeln!(create.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(create.wait().unwrap().success(), "beckon admin create");
}

/// Starts `beckon serve` and returns it with the address it listens on.
fn serve(env: &[(String, String)]) -> (Child, String) {
    let mut child = beckon(env, &["serve"]).env("BECKON_ADDR", "127.0.0.1:0").stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on http://") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "beckon serve stopped before listening");
    }
    let addr = line.split("listening on http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    (child, addr)
}

fn invite_form(scope: &str, emails: &[String]) -> String {
    let grants = shared::url::encode_component(&shared::scopes::Grant::to_param(&[shared::scopes::Grant::new(scope, shared::Role::Member)]));
    format!("addresses={}&grants={grants}&message=&send_despite_typos=true", shared::url::encode_component(&emails.join(",")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "several processes share only a PostgreSQL database: make test runs it with scripts/with-postgres.sh and --include-ignored"]
async fn two_servers_and_two_workers_share_sessions_limits_and_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database_url(dir.path()).await.expect("BECKON_TEST_POSTGRES: this test runs on PostgreSQL (scripts/with-postgres.sh)");
    let sink = SmtpSink::start();
    let key = base64_key();
    let env: Vec<(String, String)> = [
        ("BECKON_DATABASE_URL", database.as_str()),
        ("BECKON_DATA_DIR", dir.path().to_str().unwrap()),
        ("BECKON_SECRET_KEY", key.as_str()),
        ("BECKON_PUBLIC_URL", PUBLIC_URL),
        ("BECKON_SMTP_HOST", "127.0.0.1"),
        ("BECKON_SMTP_PORT", &sink.port.to_string()),
        ("BECKON_SMTP_TLS", "none"),
        ("BECKON_SMTP_POOL_SIZE", "4"),
        ("BECKON_SITE_ROOT", dir.path().to_str().unwrap()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    stub_site(dir.path());
    admin_create(&env);
    let (a, a_addr) = serve(&env);
    let (b, b_addr) = serve(&env);
    let mut children = vec![a, b];
    children.extend((0..2).map(|_| beckon(&env, &["worker"]).stdout(Stdio::null()).spawn().unwrap()));
    let _processes = Processes(children);
    let servers = [a_addr.as_str(), b_addr.as_str()];

    // Signed in through one process, signed in on the other.
    let sign_in = format!("email={}&password={}&next=%2F", shared::url::encode_component(OWNER_EMAIL), PASSWORD.replace(' ', "+"));
    let signed_in = post_form(servers[0], "/api/sign_in", &sign_in, PUBLIC_URL, None).await;
    let cookie = signed_in.session_cookie().expect("a session");
    let listed = post_form(servers[1], "/api/list_users", "query=", PUBLIC_URL, Some(&cookie)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);

    // One limit for both: ten wrong passwords, five to each, and the eleventh is refused.
    let wrong = "email=guess%40example.com&password=not+the+password&next=%2F";
    for i in 0..10 {
        assert_eq!(post_form(servers[i % 2], "/api/sign_in", wrong, PUBLIC_URL, None).await.status, 422);
    }
    assert_eq!(post_form(servers[0], "/api/sign_in", wrong, PUBLIC_URL, None).await.status, 429);

    // 2,000 people invited through both servers, then each resent through the other one.
    let db = app::services::Db::connect(&database).await.unwrap();
    let scope: String = sqlx::query_scalar("SELECT id FROM scopes WHERE kind = 'account'").fetch_one(&db.pool).await.unwrap();
    let emails: Vec<String> = (0..PEOPLE).map(|i| format!("person{i:04}@example.com")).collect();
    for (i, batch) in emails.chunks(500).enumerate() {
        let invited = post_form(servers[i % 2], "/api/invite_people", &invite_form(&scope, batch), PUBLIC_URL, Some(&cookie)).await;
        assert_eq!(invited.status, 200, "{}", invited.body);
    }
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM users WHERE email LIKE 'person%' ORDER BY email").fetch_all(&db.pool).await.unwrap();
    assert_eq!(ids.len(), PEOPLE);
    let mut resends = tokio::task::JoinSet::new();
    for (lane, chunk) in ids.chunks(PEOPLE / 8).enumerate() {
        let (chunk, servers, cookie) = (chunk.to_vec(), [servers[0].to_string(), servers[1].to_string()], cookie.clone());
        resends.spawn(async move {
            for (i, id) in chunk.iter().enumerate() {
                let answer =
                    post_form(&servers[(lane + i) % 2], "/api/act_on_invitation", &format!("user_id={id}&action=resend"), PUBLIC_URL, Some(&cookie)).await;
                assert_eq!(answer.status, 200, "{}", answer.body);
            }
        });
    }
    resends.join_all().await;

    // Every message once: four workers claim from one outbox and none takes another's. Once
    // the outbox says every message went out, the sink holds whatever was sent at all.
    let deadline = Instant::now() + Duration::from_secs(180);
    let unsent = || sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE state <> 'sent'").fetch_one(&db.pool);
    loop {
        let waiting = unsent().await.unwrap();
        if waiting == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{waiting} of {} messages still unsent", 2 * PEOPLE);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let messages = sink.messages();
    let message_ids: HashSet<&str> = messages.iter().map(|m| header(m, "Message-ID").unwrap()).collect();
    assert_eq!((messages.len(), message_ids.len()), (2 * PEOPLE, 2 * PEOPLE), "each message exactly once");
}

fn base64_key() -> String {
    let bytes: Vec<u8> = (0..32).map(|i| (i * 7 + 3) as u8).collect();
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
