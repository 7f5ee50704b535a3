//! `/api/v1` over a real socket: every route × every kind of token (the permission matrix's
//! token column), idempotent retries, problem details for each kind of bad input, and tokens
//! that are revoked, expired or whose creator lost their rights.

use crate::common;

use app::services::api_tokens;
use app::services::invitations::service::{self, InviteRequest};
use common::http::{request, Answer};
use common::*;
use shared::permissions::TokenScopes;
use shared::scopes::{Grant, ScopeKind};
use shared::Role;
use std::collections::HashMap;

const ALL_SCOPES: TokenScopes = TokenScopes { invitations: true, people: true };
const INVITATIONS_ONLY: TokenScopes = TokenScopes { invitations: true, people: false };
const PEOPLE_ONLY: TokenScopes = TokenScopes { invitations: false, people: true };

/// Calls the API at `addr` with `token`.
async fn call(addr: &str, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("Authorization", b.as_str())).collect();
    request(addr, method, &format!("/api/v1{path}"), &headers, body).await
}

/// A token of `user_id`'s with `scopes`; returns its secret.
async fn token_of(app: &TestApp, user_id: &str, scopes: TokenScopes) -> String {
    let actor = app.actor_for(user_id).await;
    api_tokens::create(&app.state, &actor, "Test script", scopes, None).await.unwrap().secret
}

fn assert_problem(answer: &Answer, status: u16, kind: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/problem+json"), "{}", answer.body);
    let problem = answer.json();
    assert_eq!(problem["type"], format!("/api/v1/problems/{kind}"), "{}", answer.body);
    assert_eq!(problem["status"], status);
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", answer.body);
}

/// Who holds the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Owner,
    Admin,
    Hr,
    CuratorWithPeople,
    /// Admin of the unit North, acting on people in a waiting area inside it.
    ScopeAdminInside,
    /// The same administrator, acting on people in the unit South.
    ScopeAdminOutside,
}

const KINDS: [Kind; 6] = [Kind::Owner, Kind::Admin, Kind::Hr, Kind::CuratorWithPeople, Kind::ScopeAdminInside, Kind::ScopeAdminOutside];

/// What a route needs of the token besides its creator's roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Needs {
    Read,
    Invitations,
    People,
}

impl Needs {
    fn carried_by(self, scopes: TokenScopes) -> bool {
        match self {
            Needs::Read => true,
            Needs::Invitations => scopes.invitations,
            Needs::People => scopes.people,
        }
    }
}

struct Fixture {
    app: TestApp,
    addr: String,
    actor: String,
    place: String,
    /// Invited people in the target place, by the route that acts on them.
    targets: HashMap<&'static str, String>,
    owners_job: String,
}

impl Fixture {
    fn target(&self, key: &str) -> &str {
        &self.targets[key]
    }

    async fn invitation_of(&self, key: &str) -> String {
        sqlx::query_scalar("SELECT id FROM invitations WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1")
            .bind(self.target(key))
            .fetch_one(&self.app.state.db.pool)
            .await
            .unwrap()
    }
}

const INVITED: [&str; 10] = ["view", "resend", "remind", "extend", "send_new", "cancel", "remove_role", "job", "owners_job", "held"];
const ACTIVE: [&str; 4] = ["deactivate", "reactivate", "grant", "take"];

async fn fixture(kind: Kind) -> Fixture {
    let app = TestApp::with_owner().await;
    let addr = app.serve().await;
    let owner = app.owner().await;
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    let north_waiting = app.create_place(ScopeKind::WaitingArea, "North waiting", Some(&north)).await;
    let south = app.create_place(ScopeKind::OrganisationalUnit, "South", None).await;
    let place = if kind == Kind::ScopeAdminInside { north_waiting.clone() } else { south.clone() };
    let mut targets = HashMap::new();
    for key in INVITED {
        let email = format!("{}@example.com", key.replace('_', "-"));
        // Two roles for the one whose roles are changed: an invitation keeps at least one.
        let grants = vec![Grant::new(&place, Role::Member), Grant::new(&place, Role::Curator)];
        let grants = if key == "remove_role" { grants } else { grants[..1].to_vec() };
        service::invite(&app.state, &owner, InviteRequest { addresses: email.clone(), grants, message: None, send_despite_typos: true }).await.unwrap();
        targets.insert(key, user_id_of(&app.state, &email).await);
    }
    for key in ACTIVE {
        let email = format!("{key}@example.com");
        targets.insert(key, app.add_active_user_with(&email, &[Grant::new(&place, Role::Member)]).await);
    }
    app::services::people::act(&app.state, &owner, &targets["reactivate"], shared::people::PersonAction::Deactivate).await.unwrap();
    // An invitation expiring within the hour, for Extend to move on, and one expired.
    sqlx::query("UPDATE invitations SET expires_at = $1 WHERE user_id = $2")
        .bind(app.clock_ms() + 3_600_000)
        .bind(&targets["extend"])
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE invitations SET expires_at = $1 WHERE user_id = $2")
        .bind(app.clock_ms() - 1)
        .bind(&targets["send_new"])
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    // An address that bounced, held until someone says it works.
    {
        let mut conn = app.state.db.pool.acquire().await.unwrap();
        app::services::store::bounces::hold(&mut conn, &owner.account_id, "held@example.com", "m", app.clock_ms(), "550 5.1.1 unknown", app.clock_ms())
            .await
            .unwrap();
    }
    let owners_job = app::services::store::new_id();
    {
        let mut tx = app.state.db.write_tx().await.unwrap();
        let people = [targets["owners_job"].clone()];
        let job = app::services::store::jobs::NewJob {
            id: &owners_job,
            account_id: &owner.account_id,
            action: shared::bulk::BulkAction::Remind,
            started_by: &owner.user_id,
            api_token_id: None,
            selection: "1 person selected",
            people: &people,
        };
        app::services::store::jobs::insert(&mut tx, job, app.clock_ms()).await.unwrap();
        tx.commit().await.unwrap();
    }
    let account = app.account_scope.clone();
    let actor = match kind {
        Kind::Owner => owner.user_id.clone(),
        _ => {
            let grants = match kind {
                Kind::Admin => vec![Grant::new(&account, Role::Admin)],
                Kind::Hr => vec![Grant::new(&account, Role::Hr)],
                Kind::CuratorWithPeople => vec![Grant::new(&account, Role::Curator)],
                _ => vec![Grant::new(&account, Role::Member), Grant::new(&north, Role::Admin)],
            };
            let id = app.add_active_user_with("actor@example.com", &grants).await;
            if kind == Kind::CuratorWithPeople {
                app::services::users::set_people_permission(&app.state, &owner, &id, true).await.unwrap();
            }
            id
        }
    };
    Fixture { app, addr, actor, place, targets, owners_job }
}

/// Who a route lets through (of those whose token carries what it needs).
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// Account-wide managers and scope administrators.
    ViewsPeople,
    /// Whoever reaches the target person or invitation.
    ReachesTarget,
    /// Those who manage the whole account (another person's bulk job).
    ManagesAccount,
}

fn allowed(rule: Rule, kind: Kind) -> bool {
    match rule {
        Rule::ViewsPeople => true,
        Rule::ReachesTarget => kind != Kind::ScopeAdminOutside,
        Rule::ManagesAccount => !matches!(kind, Kind::ScopeAdminInside | Kind::ScopeAdminOutside),
    }
}

/// One route called one way.
struct Route {
    method: &'static str,
    path: fn(&Fixture, &str) -> String,
    body: fn(&Fixture) -> Option<String>,
    needs: Needs,
    rule: Rule,
    ok: u16,
    /// What a caller the rule leaves out gets: 403, or 404 where the API does not say the
    /// thing exists (an invitation outside the caller's places).
    refused: u16,
    /// A query an allowed call must change (`None`: it reads).
    changes: Option<fn(&Fixture) -> String>,
}

fn routes() -> Vec<Route> {
    let roles_body = |f: &Fixture| Some(format!(r#"{{"roles":[{{"place_id":"{}","role":"member"}}]}}"#, f.place));
    vec![
        Route {
            method: "GET",
            path: |_, _| "/invitations".into(),
            body: |_| None,
            needs: Needs::Read,
            rule: Rule::ViewsPeople,
            ok: 200,
            refused: 403,
            changes: None,
        },
        Route {
            method: "GET",
            path: |_, i| format!("/invitations/{i}"),
            body: |_| None,
            needs: Needs::Read,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 404,
            changes: None,
        },
        Route {
            method: "POST",
            path: |_, _| "/invitations".into(),
            body: |f| Some(format!(r#"{{"emails":["new-person@example.com"],"roles":[{{"place_id":"{}","role":"member"}}]}}"#, f.place)),
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 201,
            refused: 403,
            changes: Some(|_| "SELECT COUNT(*) FROM users WHERE email = 'new-person@example.com'".into()),
        },
        Route {
            method: "POST",
            path: |_, i| format!("/invitations/{i}/resend"),
            body: |_| None,
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 404,
            changes: Some(|f| format!("SELECT send_count FROM invitations WHERE user_id = '{}'", f.target("resend"))),
        },
        Route {
            method: "POST",
            path: |_, i| format!("/invitations/{i}/remind"),
            body: |_| None,
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 404,
            changes: Some(|f| {
                format!(
                    "SELECT COUNT(*) FROM outbox o JOIN invitations i ON i.id = o.invitation_id WHERE o.kind = 'reminder' AND i.user_id = '{}'",
                    f.target("remind")
                )
            }),
        },
        Route {
            method: "POST",
            path: |_, i| format!("/invitations/{i}/extend"),
            body: |_| None,
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 404,
            changes: Some(|f| format!("SELECT expires_at FROM invitations WHERE user_id = '{}'", f.target("extend"))),
        },
        Route {
            method: "POST",
            path: |_, i| format!("/invitations/{i}/send-new"),
            body: |_| None,
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 404,
            changes: Some(|f| format!("SELECT link_version FROM invitations WHERE user_id = '{}'", f.target("send_new"))),
        },
        Route {
            method: "POST",
            path: |_, i| format!("/invitations/{i}/cancel"),
            body: |_| None,
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 404,
            changes: Some(|f| format!("SELECT COUNT(*) FROM invitations WHERE state = 'cancelled' AND user_id = '{}'", f.target("cancel"))),
        },
        Route {
            method: "POST",
            path: |_, i| format!("/invitations/{i}/roles/remove"),
            body: |f| Some(format!(r#"{{"roles":[{{"place_id":"{}","role":"curator"}}]}}"#, f.place)),
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 404,
            changes: Some(|f| {
                format!("SELECT COUNT(*) FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id WHERE i.user_id = '{}'", f.target("remove_role"))
            }),
        },
        Route {
            method: "POST",
            path: |_, i| format!("/invitations/{i}/address-works"),
            body: |_| None,
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 404,
            changes: Some(|_| "SELECT COUNT(*) FROM held_addresses WHERE released_at IS NULL".into()),
        },
        Route {
            method: "GET",
            path: |_, _| "/people".into(),
            body: |_| None,
            needs: Needs::Read,
            rule: Rule::ViewsPeople,
            ok: 200,
            refused: 403,
            changes: None,
        },
        Route {
            method: "GET",
            path: |f, _| format!("/people/{}", f.target("view")),
            body: |_| None,
            needs: Needs::Read,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 403,
            changes: None,
        },
        Route {
            method: "POST",
            path: |f, _| format!("/people/{}/deactivate", f.target("deactivate")),
            body: |_| None,
            needs: Needs::People,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 403,
            changes: Some(|f| format!("SELECT status FROM users WHERE id = '{}'", f.target("deactivate"))),
        },
        Route {
            method: "POST",
            path: |f, _| format!("/people/{}/reactivate", f.target("reactivate")),
            body: |_| None,
            needs: Needs::People,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 403,
            changes: Some(|f| format!("SELECT status FROM users WHERE id = '{}'", f.target("reactivate"))),
        },
        Route {
            method: "POST",
            path: |f, _| format!("/people/{}/roles/grant", f.target("grant")),
            body: |f| Some(format!(r#"{{"roles":[{{"place_id":"{}","role":"curator"}}]}}"#, f.place)),
            needs: Needs::People,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 403,
            changes: Some(|f| format!("SELECT COUNT(*) FROM memberships WHERE user_id = '{}'", f.target("grant"))),
        },
        Route {
            method: "POST",
            path: |f, _| format!("/people/{}/roles/remove", f.target("take")),
            body: roles_body,
            needs: Needs::People,
            rule: Rule::ReachesTarget,
            ok: 200,
            refused: 403,
            changes: Some(|f| format!("SELECT COUNT(*) FROM memberships WHERE user_id = '{}'", f.target("take"))),
        },
        Route {
            method: "POST",
            path: |_, _| "/jobs".into(),
            body: |f| Some(format!(r#"{{"action":"cancel","person_ids":["{}"]}}"#, f.target("job"))),
            needs: Needs::Invitations,
            rule: Rule::ReachesTarget,
            ok: 202,
            refused: 403,
            changes: Some(|f| format!("SELECT COUNT(*) FROM invitations WHERE state = 'cancelled' AND user_id = '{}'", f.target("job"))),
        },
        Route { method: "GET", path: |_, _| "/jobs".into(), body: |_| None, needs: Needs::Read, rule: Rule::ViewsPeople, ok: 200, refused: 403, changes: None },
        Route {
            method: "GET",
            path: |f, _| format!("/jobs/{}", f.owners_job),
            body: |_| None,
            needs: Needs::Read,
            rule: Rule::ManagesAccount,
            ok: 200,
            refused: 403,
            changes: None,
        },
        Route {
            method: "POST",
            path: |f, _| format!("/jobs/{}/cancel", f.owners_job),
            body: |_| None,
            needs: Needs::Invitations,
            rule: Rule::ManagesAccount,
            ok: 200,
            refused: 403,
            changes: Some(|f| format!("SELECT COUNT(*) FROM jobs WHERE state = 'cancelled' AND id = '{}'", f.owners_job)),
        },
    ]
}

/// The invitation a route's path names: that of the person the route acts on.
async fn invitation_for(f: &Fixture, route: &Route) -> String {
    let probe = (route.path)(f, "ID");
    let key = match probe.as_str() {
        "/invitations/ID/resend" => "resend",
        "/invitations/ID/remind" => "remind",
        "/invitations/ID/extend" => "extend",
        "/invitations/ID/send-new" => "send_new",
        "/invitations/ID/cancel" => "cancel",
        "/invitations/ID/roles/remove" => "remove_role",
        "/invitations/ID/address-works" => "held",
        _ => "view",
    };
    f.invitation_of(key).await
}

async fn number(f: &Fixture, sql: &str) -> String {
    let row: (String,) =
        sqlx::query_as(&format!("SELECT CAST(({sql}) AS TEXT)")).fetch_one(&f.app.state.db.pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.0
}

#[tokio::test]
async fn every_route_answers_each_kind_of_token_as_the_permission_rule_says_and_a_refused_call_changes_nothing() {
    let routes = routes();
    // Every route the API serves is in this matrix, and nothing else.
    let documented: Vec<(String, String)> =
        server::api::openapi().paths.paths.iter().flat_map(|(path, item)| operations(item).into_iter().map(move |m| (m.to_string(), path.clone()))).collect();
    let fixture_for_paths = fixture(Kind::Owner).await;
    let mut listed: Vec<(String, String)> = routes
        .iter()
        .map(|r| {
            let path = (r.path)(&fixture_for_paths, "{id}");
            let path = path.replace(&fixture_for_paths.owners_job, "{id}");
            let path = fixture_for_paths.targets.values().fold(path, |p, id| p.replace(id.as_str(), "{id}"));
            (r.method.to_string(), path)
        })
        .collect();
    listed.sort();
    listed.dedup();
    let mut documented_sorted = documented.clone();
    documented_sorted.sort();
    assert_eq!(listed, documented_sorted, "the matrix covers exactly the routes the API serves");
    drop(fixture_for_paths);

    for kind in KINDS {
        let f = fixture(kind).await;
        // First the tokens that lack a scope: each route needing it is refused and changes nothing.
        for scopes in [TokenScopes::READ_ONLY, INVITATIONS_ONLY, PEOPLE_ONLY] {
            let token = token_of(&f.app, &f.actor, scopes).await;
            for route in routes.iter().filter(|r| !r.needs.carried_by(scopes)) {
                let path = (route.path)(&f, &invitation_for(&f, route).await);
                let before = dump_database(&f.app.state).await;
                let answer = call(&f.addr, route.method, &path, Some(&token), (route.body)(&f).as_deref()).await;
                let what = format!("{} {path} by {kind:?} with {scopes:?}: {} {}", route.method, answer.status, answer.body);
                assert_eq!((answer.status, answer.json()["type"].as_str()), (403, Some("/api/v1/problems/not_permitted")), "{what}");
                let after = dump_database(&f.app.state).await;
                // The call itself is counted, the token's last use noted and the call put on
                // the record; nothing else.
                let counted = |row: &&String| row.starts_with("rate_limits") || row.starts_with("api_tokens") || row.contains("action=api_token.call");
                let recorded = |dump: &[String]| dump.iter().filter(|row| row.contains("action=api_token.call")).count();
                assert_eq!(recorded(&after), recorded(&before) + 1, "the refused call is on the record: {what}");
                let changed: Vec<&String> = after
                    .iter()
                    .filter(|row| !before.contains(row))
                    .chain(before.iter().filter(|row| !after.contains(row)))
                    .filter(|row| !counted(row))
                    .collect();
                assert!(changed.is_empty(), "a refused call changed nothing: {what}: {changed:?}");
            }
        }
        // Then a token carrying everything: the creator's roles decide.
        let token = token_of(&f.app, &f.actor, ALL_SCOPES).await;
        for route in &routes {
            let path = (route.path)(&f, &invitation_for(&f, route).await);
            let was = match route.changes {
                Some(query) => Some(number(&f, &query(&f)).await),
                None => None,
            };
            let answer = call(&f.addr, route.method, &path, Some(&token), (route.body)(&f).as_deref()).await;
            let what = format!("{} {path} by {kind:?}: {} {}", route.method, answer.status, answer.body);
            if allowed(route.rule, kind) {
                assert_eq!(answer.status, route.ok, "allowed: {what}");
                assert_eq!(answer.header("content-type"), Some("application/json"), "{what}");
                if let (Some(query), Some(was)) = (route.changes, was) {
                    assert_ne!(number(&f, &query(&f)).await, was, "an allowed call did its work: {what}");
                }
            } else {
                assert_eq!(answer.status, route.refused, "refused: {what}");
                assert_eq!(answer.header("content-type"), Some("application/problem+json"), "{what}");
                if let (Some(query), Some(was)) = (route.changes, was) {
                    assert_eq!(number(&f, &query(&f)).await, was, "a refused call changed nothing: {what}");
                }
            }
        }
    }
}

fn operations(item: &utoipa::openapi::path::PathItem) -> Vec<&'static str> {
    let mut methods = Vec::new();
    for (method, operation) in [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("DELETE", &item.delete), ("PATCH", &item.patch)] {
        if operation.is_some() {
            methods.push(method);
        }
    }
    methods
}

#[tokio::test]
async fn every_documented_route_is_served_and_takes_no_undocumented_method() {
    let app = TestApp::with_owner().await;
    let addr = app.serve().await;
    let doc = server::api::openapi();
    assert_eq!(serde_json::to_value(&doc).unwrap()["openapi"], "3.1.0");
    let mut ids: Vec<String> = serde_json::to_value(&doc).unwrap()["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values().filter_map(|op| op["operationId"].as_str().map(str::to_string)).collect::<Vec<_>>())
        .collect();
    let operation_count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), operation_count, "every operation has an id of its own: {ids:?}");
    let served = request(&addr, "GET", "/api/v1/openapi.json", &[], None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.json(), serde_json::to_value(&doc).unwrap(), "the document served is the one the routes come from");
    for (path, item) in &doc.paths.paths {
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        let methods = operations(item);
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let answer = call(&addr, method, &concrete, None, None).await;
            if methods.contains(&method) {
                // Served: it asks for a token (an unknown route would be 404).
                assert_problem(&answer, 401, "token_missing");
            } else {
                assert_problem(&answer, 405, "method_not_allowed");
            }
        }
    }
    assert_problem(&call(&addr, "GET", "/no-such-thing", None, None).await, 404, "not_found");
}

#[tokio::test]
async fn bad_input_of_each_kind_gets_problem_details_with_its_own_type() {
    let app = TestApp::with_owner().await;
    let addr = app.serve().await;
    let owner = app.owner().await;
    let token = token_of(&app, &owner.user_id, ALL_SCOPES).await;
    let auth = format!("Bearer {token}");
    let post = |path: &'static str, content_type: &'static str, body: String| {
        let (addr, auth) = (addr.clone(), auth.clone());
        async move { request(&addr, "POST", &format!("/api/v1{path}"), &[("Authorization", &auth), ("Content-Type", content_type)], Some(&body)).await }
    };
    assert_problem(&call(&addr, "GET", "/invitations", None, None).await, 401, "token_missing");
    assert_problem(&call(&addr, "GET", "/invitations", Some("bk_live_not-a-real-token"), None).await, 401, "token_invalid");
    assert_problem(&call(&addr, "GET", "/invitations", Some("some-other-scheme"), None).await, 401, "token_invalid");
    let answer = call(&addr, "GET", "/invitations", None, None).await;
    assert_eq!(answer.header("www-authenticate"), Some("Bearer realm=\"beckon\""));
    assert_problem(&post("/invitations", "application/json", "{not json".into()).await, 400, "malformed_json");
    assert_problem(&post("/invitations", "text/plain", "{}".into()).await, 415, "unsupported_media_type");
    assert_problem(&post("/invitations", "application/json", r#"{"emails":["a@example.com"]}"#.into()).await, 422, "validation");
    assert_problem(&post("/invitations", "application/json", r#"{"emails":["a@example.com"],"roles":[{"role":"wizard"}]}"#.into()).await, 422, "validation");
    assert_problem(&post("/invitations", "application/json", r#"{"emails":["not an address"],"roles":[{"role":"member"}]}"#.into()).await, 422, "validation");
    let many: Vec<String> = (0..501).map(|i| format!("\"p{i}@example.com\"")).collect();
    assert_problem(
        &post("/invitations", "application/json", format!(r#"{{"emails":[{}],"roles":[{{"role":"member"}}]}}"#, many.join(","))).await,
        422,
        "validation",
    );
    assert_problem(&call(&addr, "GET", "/invitations?cursor=nonsense", Some(&token), None).await, 422, "validation");
    assert_problem(&call(&addr, "GET", "/invitations?state=lost", Some(&token), None).await, 422, "validation");
    assert_problem(&call(&addr, "GET", "/invitations?limit=0", Some(&token), None).await, 422, "validation");
    assert_problem(&call(&addr, "GET", "/invitations/00000000-0000-0000-0000-000000000000", Some(&token), None).await, 404, "not_found");
    assert_problem(&post("/jobs", "application/json", r#"{"action":"explode","person_ids":[]}"#.into()).await, 422, "validation");
    // A situation, named as the bulk results name it.
    service::invite(
        &app.state,
        &owner,
        InviteRequest { addresses: "ada@example.com".into(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true },
    )
    .await
    .unwrap();
    let invitation: String = sqlx::query_scalar("SELECT id FROM invitations").fetch_one(&app.state.db.pool).await.unwrap();
    assert_problem(&call(&addr, "POST", &format!("/invitations/{invitation}/send-new"), Some(&token), None).await, 409, "still_pending");
    // Nothing of the above was done.
    let invited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invitations").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(invited, 1);
}

#[tokio::test]
async fn two_parallel_retries_of_one_create_invite_once_and_a_later_retry_gets_the_same_answer() {
    let gates = Gates::default();
    let app = TestApp::with_owner().await;
    let state = app.gated(&gates);
    let router = server::router::build(state.clone(), &app.config, app.session_store.clone(), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await });
    let owner = app.owner().await;
    let token = token_of(&app, &owner.user_id, ALL_SCOPES).await;
    let auth = format!("Bearer {token}");
    let body = r#"{"emails":["once@example.com"],"roles":[{"role":"member"}]}"#;
    let send = |key: &'static str, body: &'static str| {
        let (addr, auth) = (addr.clone(), auth.clone());
        async move { request(&addr, "POST", "/api/v1/invitations", &[("Authorization", &auth), ("Idempotency-Key", key)], Some(body)).await }
    };

    gates.close(app::services::checkpoints::points::API_IDEMPOTENCY_CLAIMED);
    let first = tokio::spawn(send("retry-1", body));
    gates.arrivals(app::services::checkpoints::points::API_IDEMPOTENCY_CLAIMED, 1).await;
    // The retry arrives while the first is being done: told so, not done again.
    let second = send("retry-1", body).await;
    assert_problem(&second, 409, "idempotency_in_progress");
    gates.open(app::services::checkpoints::points::API_IDEMPOTENCY_CLAIMED);
    let first = first.await.unwrap();
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["invited"], serde_json::json!(["once@example.com"]));
    // A later retry gets the first answer again, marked as a replay.
    let third = send("retry-1", body).await;
    assert_eq!((third.status, third.header("idempotent-replayed")), (201, Some("true")), "{}", third.body);
    assert_eq!(third.json(), first.json());
    // The same key with another request is refused.
    let other = send("retry-1", r#"{"emails":["twice@example.com"],"roles":[{"role":"member"}]}"#).await;
    assert_problem(&other, 422, "idempotency_key_reused");
    let invitations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invitations").fetch_one(&app.state.db.pool).await.unwrap();
    let emails: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient = 'once@example.com'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!((invitations, emails), (1, 1), "invited once, one email");
    // A refusal did nothing and keeps nothing: corrected, the same key is done.
    let refused = send("retry-2", r#"{"emails":["fixed@example.com"],"roles":[{"role":"wizard"}]}"#).await;
    assert_problem(&refused, 422, "validation");
    let fixed = send("retry-2", r#"{"emails":["fixed@example.com"],"roles":[{"role":"member"}]}"#).await;
    assert_eq!(fixed.status, 201, "{}", fixed.body);
    // A client that hangs up while its request is being done: the work finishes, its answer is kept.
    gates.close(app::services::checkpoints::points::API_IDEMPOTENCY_CLAIMED);
    let gone = tokio::spawn(send("retry-3", r#"{"emails":["hung-up@example.com"],"roles":[{"role":"member"}]}"#));
    gates.arrivals(app::services::checkpoints::points::API_IDEMPOTENCY_CLAIMED, 1).await;
    gone.abort();
    let _ = gone.await;
    gates.open(app::services::checkpoints::points::API_IDEMPOTENCY_CLAIMED);
    let kept = async {
        loop {
            let status: Option<i64> =
                sqlx::query_scalar("SELECT status FROM api_idempotency_keys WHERE idempotency_key = 'retry-3'").fetch_one(&app.state.db.pool).await.unwrap();
            if status.is_some() {
                break status;
            }
            tokio::task::yield_now().await;
        }
    };
    assert_eq!(tokio::time::timeout(std::time::Duration::from_secs(30), kept).await.unwrap(), Some(201));
    let retried = send("retry-3", r#"{"emails":["hung-up@example.com"],"roles":[{"role":"member"}]}"#).await;
    assert_eq!((retried.status, retried.header("idempotent-replayed")), (201, Some("true")), "{}", retried.body);
    // After 24 hours the key is free again.
    app.clock.advance(chrono::Duration::hours(25));
    let later = send("retry-1", r#"{"emails":["later@example.com"],"roles":[{"role":"member"}]}"#).await;
    assert_eq!(later.status, 201, "{}", later.body);
}

#[tokio::test]
async fn a_revoked_an_expired_a_demoted_creators_and_a_deactivated_creators_token_are_refused_and_a_maker_can_be_deleted() {
    let app = TestApp::with_owner().await;
    let addr = app.serve().await;
    let owner = app.owner().await;
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let hr_actor = app.actor_for(&hr).await;
    let revoked = api_tokens::create(&app.state, &hr_actor, "Revoked", ALL_SCOPES, None).await.unwrap();
    let expiring = api_tokens::create(&app.state, &hr_actor, "Expiring", ALL_SCOPES, Some(7)).await.unwrap();
    let kept = api_tokens::create(&app.state, &hr_actor, "Kept", ALL_SCOPES, None).await.unwrap();
    for token in [&revoked, &expiring, &kept] {
        assert_eq!(call(&addr, "GET", "/invitations", Some(&token.secret), None).await.status, 200);
    }
    // An Admin revokes another's token; it stops at once.
    api_tokens::revoke(&app.state, &owner, &revoked.token.id).await.unwrap();
    assert_problem(&call(&addr, "GET", "/invitations", Some(&revoked.secret), None).await, 401, "token_revoked");
    app.clock.advance(chrono::Duration::days(8));
    assert_problem(&call(&addr, "GET", "/invitations", Some(&expiring.secret), None).await, 401, "token_expired");
    // Demoted to Member: the token loses what its creator lost, reads included.
    let invite = r#"{"emails":["x@example.com"],"roles":[{"role":"member"}]}"#;
    sqlx::query("UPDATE memberships SET role = 'member' WHERE user_id = $1").bind(&hr).execute(&app.state.db.pool).await.unwrap();
    assert_problem(&call(&addr, "POST", "/invitations", Some(&kept.secret), Some(invite)).await, 403, "not_permitted");
    assert_problem(&call(&addr, "GET", "/invitations", Some(&kept.secret), None).await, 403, "not_permitted");
    // Deactivated: their tokens are revoked, and stay so when they come back.
    let lasting = api_tokens::create(&app.state, &owner, "Owner's", ALL_SCOPES, None).await.unwrap();
    app::services::people::act(&app.state, &owner, &hr, shared::people::PersonAction::Deactivate).await.unwrap();
    assert_problem(&call(&addr, "GET", "/invitations", Some(&kept.secret), None).await, 401, "token_revoked");
    app::services::people::act(&app.state, &owner, &hr, shared::people::PersonAction::Reactivate).await.unwrap();
    assert_problem(&call(&addr, "GET", "/invitations", Some(&kept.secret), None).await, 401, "token_revoked");
    // A person who made tokens can be deleted; nobody else's token is touched.
    app::services::people::delete(&app.state, &owner, &hr).await.unwrap();
    assert_eq!(call(&addr, "GET", "/invitations", Some(&lasting.secret), None).await.status, 200);
    let theirs: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL").bind(&hr).fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(theirs, 0);
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = 'x@example.com'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(users, 0);
}

#[tokio::test]
async fn a_token_acts_only_through_its_header_cookies_and_origin_are_ignored_and_its_changes_name_it_in_the_audit_log() {
    let app = TestApp::with_owner().await;
    let addr = app.serve().await;
    let owner = app.owner().await;
    let created = api_tokens::create(&app.state, &owner, "HR sync", INVITATIONS_ONLY, None).await.unwrap();
    assert!(created.secret.starts_with("bk_live_") && created.secret.len() > 40, "{}", created.secret);
    let stored: String = sqlx::query_scalar("SELECT secret_hash FROM api_tokens").fetch_one(&app.state.db.pool).await.unwrap();
    assert!(!stored.contains(&created.secret[8..]), "only a hash is kept");
    // A signed-in browser's cookie opens nothing here.
    let cookie = app.sign_in(OWNER_EMAIL).await;
    let with_cookie = request(&addr, "GET", "/api/v1/invitations", &[("Cookie", &cookie)], None).await;
    assert_problem(&with_cookie, 401, "token_missing");
    // A script sends no Origin, or any: the token decides.
    let auth = format!("Bearer {}", created.secret);
    let body = format!(r#"{{"emails":["ada@example.com"],"roles":[{{"place_id":"{}","role":"member"}}]}}"#, app.account_scope);
    let answer = request(&addr, "POST", "/api/v1/invitations", &[("Authorization", &auth), ("Origin", "https://elsewhere.example")], Some(&body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(answer.header("set-cookie").is_none(), "no session is made");
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'invitation.created'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&details).unwrap()["api_token"], "HR sync", "{details}");
    let last_used: Option<i64> = sqlx::query_scalar("SELECT last_used_at FROM api_tokens").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(last_used, Some(app.clock_ms()));
    let made: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'api_token.created'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(made, 1);
    // Every call through the token is on the record, a read and a refusal too.
    let read = request(&addr, "GET", "/api/v1/invitations?limit=5", &[("Authorization", &auth)], None).await;
    assert_eq!(read.status, 200);
    let refused = request(&addr, "POST", "/api/v1/people/nobody/deactivate", &[("Authorization", &auth)], Some("{}")).await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    let calls: Vec<String> = sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'api_token.call' ORDER BY at, details")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    let calls: Vec<serde_json::Value> = calls.iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    let said: Vec<(String, String, u64)> =
        calls.iter().map(|c| (c["method"].as_str().unwrap().into(), c["path"].as_str().unwrap().into(), c["status"].as_u64().unwrap())).collect();
    assert!(said.contains(&("POST".into(), "/api/v1/invitations".into(), 201)), "{said:?}");
    assert!(said.contains(&("GET".into(), "/api/v1/invitations?limit=5".into(), 200)), "{said:?}");
    assert!(said.contains(&("POST".into(), "/api/v1/people/nobody/deactivate".into(), 404)), "{said:?}");
    assert!(calls.iter().all(|c| c["api_token"] == "HR sync"));
}

#[tokio::test]
async fn the_cursor_pages_through_every_invitation_once_newest_first_with_the_filters() {
    let app = TestApp::with_owner().await;
    let addr = app.serve().await;
    let owner = app.owner().await;
    let token = token_of(&app, &owner.user_id, TokenScopes::READ_ONLY).await;
    let addresses: Vec<String> = (0..213).map(|i| format!("p{i:03}@example.com")).collect();
    for chunk in addresses.chunks(50) {
        service::invite(
            &app.state,
            &owner,
            InviteRequest { addresses: chunk.join(","), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true },
        )
        .await
        .unwrap();
        app.clock.advance(chrono::Duration::minutes(1));
    }
    let cancelled = user_id_of(&app.state, "p003@example.com").await;
    service::act(&app.state, &owner, &cancelled, shared::invitations::InvitationAction::Cancel).await.unwrap();
    let mut seen = Vec::new();
    let mut path = "/invitations?limit=20".to_string();
    loop {
        let page = call(&addr, "GET", &path, Some(&token), None).await.json();
        for invitation in page["data"].as_array().unwrap() {
            seen.push((invitation["created_at"].as_str().unwrap().to_string(), invitation["email"].as_str().unwrap().to_string()));
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/invitations?limit=20&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 213, "every invitation once: {seen:?}");
    let mut emails: Vec<&str> = seen.iter().map(|(_, e)| e.as_str()).collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 213);
    // The largest page still says where the next one starts.
    let largest = call(&addr, "GET", "/invitations?limit=200", Some(&token), None).await.json();
    assert_eq!(largest["data"].as_array().unwrap().len(), 200);
    let rest = call(&addr, "GET", &format!("/invitations?limit=200&cursor={}", largest["next_cursor"].as_str().expect("a next page")), Some(&token), None)
        .await
        .json();
    assert_eq!((rest["data"].as_array().unwrap().len(), rest["next_cursor"].as_str()), (13, None));
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");
    let only = call(&addr, "GET", "/invitations?state=cancelled", Some(&token), None).await.json();
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    assert_eq!(only["data"][0]["email"], "p003@example.com");
    let pending = call(&addr, "GET", "/invitations?state=pending&email=P007%40example.com", Some(&token), None).await.json();
    assert_eq!(pending["data"][0]["email"], "p007@example.com", "{pending}");
    assert_eq!(pending["data"][0]["roles"], serde_json::json!([{ "role": "member" }]));
}

#[tokio::test]
async fn a_token_calls_at_most_its_limit_a_minute() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let token = token_of(&app, &owner.user_id, TokenScopes::READ_ONLY).await;
    let get = |token: String| {
        let request = axum::http::Request::get("/api/v1/jobs").header("Authorization", format!("Bearer {token}")).body(axum::body::Body::empty()).unwrap();
        app.send(request)
    };
    for _ in 0..shared::api::CALLS_PER_MINUTE {
        assert_eq!(get(token.clone()).await.status(), 200);
    }
    let refused = get(token.clone()).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let other = token_of(&app, &owner.user_id, TokenScopes::READ_ONLY).await;
    assert_eq!(get(other).await.status(), 200, "the limit is per token");
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(get(token).await.status(), 200, "a new minute");
}

#[tokio::test]
async fn the_operator_sets_how_many_calls_a_token_may_make_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.database_url = test_database_url(dir.path()).await;
    config.api_calls_per_minute = 3;
    let app = TestApp::on(config, dir).await;
    let owner = app.owner().await;
    let token = token_of(&app, &owner.user_id, TokenScopes::READ_ONLY).await;
    for _ in 0..3 {
        let request = axum::http::Request::get("/api/v1/jobs").header("Authorization", format!("Bearer {token}")).body(axum::body::Body::empty()).unwrap();
        assert_eq!(app.send(request).await.status(), 200);
    }
    let request = axum::http::Request::get("/api/v1/jobs").header("Authorization", format!("Bearer {token}")).body(axum::body::Body::empty()).unwrap();
    assert_eq!(app.send(request).await.status(), 429);
}

#[tokio::test]
async fn a_bulk_action_started_through_a_token_runs_with_no_more_than_it_carries_and_stops_when_it_is_revoked() {
    use app::services::jobs::{self, JobsConfig};
    let app = TestApp::with_owner().await;
    let addr = app.serve().await;
    let owner = app.owner().await;
    let addresses: Vec<String> = (0..240).map(|i| format!("b{i}@example.com")).collect();
    for chunk in addresses.chunks(120) {
        service::invite(
            &app.state,
            &owner,
            InviteRequest { addresses: chunk.join(","), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true },
        )
        .await
        .unwrap();
    }
    let config = JobsConfig { worker: "test-host/api/1".into(), batch: 25, lease: std::time::Duration::from_secs(120) };
    // Over a hundred people: left to the runner, which acts with the token's narrowed rights.
    let created = api_tokens::create(&app.state, &owner, "Nightly", INVITATIONS_ONLY, None).await.unwrap();
    let start = |body: &'static str| call(&addr, "POST", "/jobs", Some(&created.secret), Some(body));
    let resend = start(r#"{"action":"extend","matching":"status=invited"}"#).await;
    assert_eq!(resend.status, 202, "{}", resend.body);
    assert_eq!(resend.json()["state"], "running");
    jobs::run_due(&app.state, &config, None).await.unwrap();
    let done = call(&addr, "GET", &format!("/jobs/{}", resend.json()["id"].as_str().unwrap()), Some(&created.secret), None).await.json();
    assert_eq!((done["state"].as_str(), done["done"].as_u64()), (Some("done"), Some(240)), "{done}");
    let through: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.extended' AND details LIKE '%\"api_token\":\"Nightly\"%'")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(through, 240, "each person's line names the token");
    // A deactivation needs the people scope this token lacks.
    assert_problem(&start(r#"{"action":"deactivate","matching":"status=invited"}"#).await, 403, "not_permitted");
    // Revoked while its job waits: the job stops and does no one.
    let cancel = start(r#"{"action":"cancel","matching":"status=invited"}"#).await;
    assert_eq!(cancel.status, 202, "{}", cancel.body);
    api_tokens::revoke(&app.state, &owner, &created.token.id).await.unwrap();
    jobs::run_due(&app.state, &config, None).await.unwrap();
    let stopped = jobs::get(&app.state, &owner, cancel.json()["id"].as_str().unwrap()).await.unwrap();
    assert_eq!((stopped.state, stopped.done), (shared::bulk::JobState::Failed, 0));
    assert_eq!(stopped.stopped_because.as_deref(), Some("the API token that started it was revoked or has expired"));
    let cancelled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invitations WHERE state = 'cancelled'").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(cancelled, 0);
}

/// The commands of the README's API section, each continuation joined into one line.
fn readme_api_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme.split("## The API\n").nth(1).expect("the README has an API section");
    let section = section.split("\n## ").next().unwrap();
    let block = section.split("```sh\n").nth(1).expect("with a block of examples").split("```").next().unwrap();
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in block.lines().filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty()) {
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

#[tokio::test]
async fn the_readme_curl_examples_run_against_a_real_server_and_do_what_they_say() {
    let app = TestApp::with_owner().await;
    let addr = app.serve().await;
    let owner = app.owner().await;
    let place = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    service::invite(
        &app.state,
        &owner,
        InviteRequest { addresses: "pat@example.com".into(), grants: app.account_grants(&[Role::Member]), message: None, send_despite_typos: true },
    )
    .await
    .unwrap();
    let invitation: String = sqlx::query_scalar("SELECT id FROM invitations").fetch_one(&app.state.db.pool).await.unwrap();
    let person = app.add_active_user("leaving@example.com", "member").await;
    let token = token_of(&app, &owner.user_id, ALL_SCOPES).await;
    let commands = readme_api_commands();
    assert!(commands.len() >= 10, "{commands:#?}");
    for command in commands {
        let env = [
            ("BECKON_URL", format!("http://{addr}")),
            ("BECKON_TOKEN", token.clone()),
            ("INVITATION_ID", invitation.clone()),
            ("PLACE_ID", place.clone()),
            ("PERSON_ID", person.clone()),
        ];
        let run = command.clone();
        let output = tokio::task::spawn_blocking(move || std::process::Command::new("sh").arg("-c").arg(&run).envs(env).output().unwrap()).await.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command}\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap_or_else(|e| panic!("{command} answered JSON: {e}: {stdout}"));
    }
    let count = |sql: &'static str| {
        let pool = app.state.db.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(count("SELECT COUNT(*) FROM users WHERE email IN ('ada@example.com', 'grace@example.com', 'lin@example.com')").await, 3);
    assert_eq!(count("SELECT COUNT(*) FROM invitations i JOIN invitation_roles r ON r.invitation_id = i.id WHERE r.role = 'admin'").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM outbox WHERE recipient = 'pat@example.com' AND kind = 'invitation'").await, 2, "resent");
    assert_eq!(count("SELECT COUNT(*) FROM outbox WHERE recipient = 'pat@example.com' AND kind = 'reminder'").await, 1, "reminded by the job");
    assert_eq!(count("SELECT COUNT(*) FROM users WHERE status = 'deactivated'").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM jobs WHERE action = 'remind'").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.personal_message = 'Welcome aboard!'").await, 2);
}
