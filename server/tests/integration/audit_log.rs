//! The Audit log: pages newest first with a keyset, filters, what a place administrator
//! reads, and the CSV export streamed through the router.

use crate::common;

use app::services::audit_log;
use app::services::invitations::service::{self, InviteRequest};
use app::services::people;
use axum::http::{header, StatusCode};
use common::*;
use shared::audit::{AuditAction, AuditPerson, AuditQuery, AUDIT_EXPORT_PATH};
use shared::permissions::Denied;
use shared::scopes::{Grant, ScopeKind};
use shared::{AppError, Role};

fn invite_to(email: &str, grants: Vec<Grant>) -> InviteRequest {
    InviteRequest { addresses: email.into(), grants, message: None, send_despite_typos: false }
}

/// Every event the trail holds, newest first, as stored.
async fn stored(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT id, at FROM audit_events ORDER BY at DESC, id DESC").fetch_all(&app.state.db.pool).await.unwrap()
}

#[tokio::test]
async fn pages_walk_every_event_newest_first_once_and_filters_narrow_them() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    // Events a minute apart, several in the same millisecond too: the keyset must order
    // those by id and neither repeat nor skip one at a page's edge.
    for i in 0..120 {
        if i % 3 == 0 {
            app.clock.advance(chrono::Duration::seconds(60));
        }
        service::invite(&app.state, &owner, invite_to(&format!("p{i:03}@example.com"), app.account_grants(&[Role::Member]))).await.unwrap();
    }
    let ada = user_id_of(&app.state, "p007@example.com").await;
    people::act(&app.state, &owner, &ada, shared::people::PersonAction::Deactivate).await.unwrap();

    let mut walked = Vec::new();
    let mut query = AuditQuery::default();
    loop {
        let page = audit_log::page(&app.state, &owner, &query).await.unwrap();
        assert!(page.rows.len() <= AuditQuery::PAGE_SIZE);
        walked.extend(page.rows.iter().map(|r| (r.id.clone(), r.at_ms)));
        match page.older {
            Some(older) => query = older,
            None => break,
        }
    }
    let all = stored(&app).await;
    assert_eq!(walked, all, "three pages, newest first, each event once");
    assert_eq!(all.len(), 1 + 120 + 2, "the account, 120 invitations, a deactivation and the cancellation of the invitation it ended");

    let page = audit_log::page(&app.state, &owner, &AuditQuery::from_query_string("action=user.deactivated")).await.unwrap();
    assert_eq!(page.rows.len(), 1);
    let row = &page.rows[0];
    assert_eq!(row.action, Some(AuditAction::UserDeactivated));
    assert!(matches!(&row.actor, AuditPerson::Person { email, .. } if email == OWNER_EMAIL), "{:?}", row.actor);
    assert!(matches!(&row.person, Some(AuditPerson::Person { email, .. }) if email == "p007@example.com"), "{:?}", row.person);

    // The person filter finds both what was done to them and to their invitation.
    let about = audit_log::page(&app.state, &owner, &AuditQuery::from_query_string("person=P007%40example.com")).await.unwrap();
    let actions: Vec<_> = about.rows.iter().map(|r| r.action.unwrap()).collect();
    // The deactivation and the cancellation it made happened in the same millisecond.
    assert_eq!(actions.last(), Some(&AuditAction::InvitationCreated));
    let mut together = actions[..actions.len() - 1].to_vec();
    together.sort_by_key(|a| a.as_str());
    assert_eq!(together, [AuditAction::InvitationCancelled, AuditAction::UserDeactivated]);
    let by_owner =
        audit_log::page(&app.state, &owner, &AuditQuery::from_query_string(&format!("actor={OWNER_EMAIL}&action=invitation.created"))).await.unwrap();
    assert_eq!(by_owner.rows.len(), AuditQuery::PAGE_SIZE);
    let nobody = audit_log::page(&app.state, &owner, &AuditQuery::from_query_string("actor=ghost%40example.com")).await.unwrap();
    assert_eq!((nobody.rows.len(), nobody.unknown), (0, vec!["ghost@example.com".to_string()]));

    // Dates: the day of the first events holds them, the day before nothing.
    let start = shared::invitations::utc_date(all.last().unwrap().1);
    let day_before = shared::invitations::utc_date(all.last().unwrap().1 - 86_400_000);
    let on_day = audit_log::page(&app.state, &owner, &AuditQuery::from_query_string(&format!("from={start}&to={start}"))).await.unwrap();
    assert!(!on_day.rows.is_empty());
    let before = audit_log::page(&app.state, &owner, &AuditQuery::from_query_string(&format!("to={day_before}"))).await.unwrap();
    assert!(before.rows.is_empty());
}

#[tokio::test]
async fn a_place_administrator_reads_the_events_of_their_places_only() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    let north = app.create_place(ScopeKind::OrganisationalUnit, "North", None).await;
    let north_room = app.create_place(ScopeKind::MeetingRoom, "North room", Some(&north)).await;
    let south = app.create_place(ScopeKind::OrganisationalUnit, "South", None).await;
    let admin = app.add_active_user_with("north-admin@example.com", &[Grant::new(&north, Role::Admin)]).await;
    service::invite(&app.state, &owner, invite_to("in@example.com", vec![Grant::new(&north_room, Role::Member)])).await.unwrap();
    service::invite(&app.state, &owner, invite_to("out@example.com", vec![Grant::new(&south, Role::Member)])).await.unwrap();
    // A role taken away leaves the place in the event, though the person no longer holds it there.
    let gone = app.add_active_user_with("gone@example.com", &[Grant::new(&north_room, Role::Member), Grant::new(&north, Role::Member)]).await;
    people::remove_roles(&app.state, &owner, &gone, vec![Grant::new(&north_room, Role::Member)]).await.unwrap();
    people::remove_roles(&app.state, &owner, &gone, vec![Grant::new(&north, Role::Member)]).await.unwrap();

    let actor = app.actor_for(&admin).await;
    let page = audit_log::page(&app.state, &actor, &AuditQuery::default()).await.unwrap();
    // One frozen moment: the order among these is their ids'; what is compared is which.
    let mut seen: Vec<(String, String)> = page
        .rows
        .iter()
        .map(|r| {
            let who = match &r.person {
                Some(AuditPerson::Person { email, .. }) => email.clone(),
                _ => r.target.clone(),
            };
            (r.action.unwrap().as_str().to_string(), who)
        })
        .collect();
    seen.sort();
    let expected = [
        ("invitation.created", "in@example.com"),
        ("scope.created", "Place"),
        ("scope.created", "Place"),
        ("user.roles_removed", "gone@example.com"),
        ("user.roles_removed", "gone@example.com"),
    ];
    assert_eq!(
        seen,
        expected.map(|(a, w)| (a.to_string(), w.to_string())),
        "North, North room and what happened in them; not South, the account or the owner's other events"
    );
    let removed: Vec<String> = page.rows.iter().filter(|r| r.action == Some(AuditAction::UserRolesRemoved)).map(|r| r.details_text()).collect();
    assert!(removed.iter().any(|d| d.contains("Roles: Member in North room")), "roles in words: {removed:?}");

    // Filtered by the person (read through the person's index, each event checked for the places).
    let about = audit_log::page(&app.state, &actor, &AuditQuery::from_query_string("person=in%40example.com")).await.unwrap();
    assert_eq!(about.rows.iter().map(|r| r.action.unwrap()).collect::<Vec<_>>(), [AuditAction::InvitationCreated]);
    let outside = audit_log::page(&app.state, &actor, &AuditQuery::from_query_string("person=out%40example.com")).await.unwrap();
    assert!(outside.rows.is_empty(), "South's invitee is not theirs to read about");

    // Past a few places (here 2 + 17 rooms), one statement checks each event for any of them:
    // the same events, and still none of South's.
    for i in 0..17 {
        app.create_place(ScopeKind::MeetingRoom, &format!("North room {i}"), Some(&north)).await;
    }
    let actor = app.actor_for(&admin).await;
    assert!(actor.authority.administered.len() > 16);
    let many = audit_log::page(&app.state, &actor, &AuditQuery::default()).await.unwrap();
    assert_eq!(many.rows.len(), seen.len() + 17, "the 17 rooms' creations besides the events above");
    assert!(many.rows.iter().all(|r| !matches!(&r.person, Some(AuditPerson::Person { email, .. }) if email == "out@example.com")));

    // A member, and HR (who manages invitations but is no auditor), are refused.
    let hr = app.add_active_user("hr@example.com", "hr").await;
    let refused = audit_log::page(&app.state, &app.actor_for(&hr).await, &AuditQuery::default()).await.unwrap_err();
    assert_eq!(refused, AppError::Forbidden(Denied::NotPermitted));
}

#[tokio::test]
async fn the_export_streams_every_matching_event_as_csv_with_formulas_neutralised() {
    let app = TestApp::with_owner().await;
    let owner = app.owner().await;
    // More events than one chunk of the stream holds.
    let addresses: Vec<String> = (0..1100).map(|i| format!("x{i:04}@example.com")).collect();
    for batch in addresses.chunks(500) {
        service::invite(&app.state, &owner, invite_to(&batch.join("\n"), app.account_grants(&[Role::Member]))).await.unwrap();
    }
    // A name an invitee chose, written to look like a formula.
    sqlx::query("UPDATE users SET name = '=HYPERLINK(\"http://evil.example\",\"x\")' WHERE email = 'x0000@example.com'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let cookie = app.sign_in(OWNER_EMAIL).await;

    let response = app.get(&format!("{AUDIT_EXPORT_PATH}?action=invitation.created"), Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(response.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment; filename=\"beckon-audit-"));
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a byte-order mark for spreadsheets");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().next(), Some("Time (UTC)"));
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 1100, "every matching event, across chunks");
    assert!(records.iter().all(|r| &r[1] == "Invitation sent"));
    let mut ids: Vec<&str> = records.iter().map(|r| &r[8]).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1100, "no event twice");
    let evil = records.iter().find(|r| &r[5] == "x0000@example.com").expect("the named person's event");
    assert_eq!(&evil[4], "'=HYPERLINK(\"http://evil.example\",\"x\")", "the formula is text");

    // Compressed on its way as browsers ask, the stream ends cleanly (a stream polled past
    // its end would panic in the compression layer and cut the download).
    let request = axum::http::Request::get(format!("{AUDIT_EXPORT_PATH}?action=invitation.created"))
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the whole compressed file");
    assert!(compressed.len() > 1000);

    // Nobody signed in: 401; HR: 403; both without a byte of the log.
    let anonymous = app.get(AUDIT_EXPORT_PATH, None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.add_active_user("hr@example.com", "hr").await;
    let hr = app.get(AUDIT_EXPORT_PATH, Some(&app.sign_in("hr@example.com").await)).await;
    assert_eq!(hr.status(), StatusCode::FORBIDDEN);
    assert!(!body_text(hr).await.contains("example.com"));
}
