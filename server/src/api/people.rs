//! `/api/v1/people`: the people of the account, and what an administrator does to them.

use super::{json, time, Body, Caller, Done, Problem, RoleGrant};
use app::services::{people, users, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::people::PersonAction;
use shared::views::{UserRow, UsersQuery};
use utoipa::{IntoParams, ToSchema};

/// A person's open invitation (pending, or past its expiry).
#[derive(Serialize, ToSchema)]
pub struct OpenInvitation {
    pub id: String,
    /// `pending`, `awaiting_confirmation` or `expired`.
    pub state: String,
    pub expires_at: String,
    pub roles: Vec<RoleGrant>,
    /// Its address bounced hard and is held: nothing is sent there until someone corrects it
    /// or says it works (`POST /invitations/{id}/address-works`).
    pub bounced: Option<Bounced>,
}

/// A hard bounce holding an address.
#[derive(Serialize, ToSchema)]
pub struct Bounced {
    /// The remote server's words: "550 5.1.1 mailbox unknown".
    pub reply: String,
    pub at: String,
}

/// A person of the account.
#[derive(Serialize, ToSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `profile_only`, `invited`, `awaiting_confirmation`, `expired`, `active` or `deactivated`.
    pub status: String,
    /// The roles they hold, each in its place.
    pub roles: Vec<RoleGrant>,
    pub invitation: Option<OpenInvitation>,
}

impl Person {
    fn of(row: UserRow, account_scope_id: &str) -> Person {
        Person {
            id: row.user_id,
            name: row.name,
            email: row.email,
            status: row.status.as_str().to_string(),
            roles: row.held.iter().map(|g| RoleGrant::of_grant(&g.grant, account_scope_id)).collect(),
            invitation: row.invitation.map(|i| OpenInvitation {
                id: i.invitation_id,
                state: i.state.as_str().to_string(),
                expires_at: time(i.expires_at_ms),
                roles: i.offered.iter().map(|g| RoleGrant::of_grant(&g.grant, account_scope_id)).collect(),
                bounced: i.held.map(|b| Bounced { reply: b.reply, at: time(b.at_ms) }),
            }),
        }
    }
}

/// The Users page's own filters, by the same names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// `profile_only`, `invited`, `awaiting_confirmation`, `expired`, `active` or `deactivated`.
    status: Option<String>,
    /// Only people holding, or invited to, a role in this place or a place below it.
    scope: Option<String>,
    /// Words of a name or an address.
    q: Option<String>,
    /// `name`, `email`, `status`, `invited`, `expires` (name when left out).
    sort: Option<String>,
    /// `desc` for descending.
    dir: Option<String>,
    /// 25, 50 or 100 people a page.
    size: Option<u32>,
    /// From a page's `next`: where the page starts.
    after: Option<String>,
    page: Option<u32>,
}

/// A page of people.
#[derive(Serialize, ToSchema)]
pub struct PersonPage {
    pub data: Vec<Person>,
    /// How many match; at least this many when `total_capped`.
    pub total: u64,
    pub total_capped: bool,
    /// The next page's address; absent on the last.
    pub next: Option<String>,
}

/// List people, as the Users page does.
#[utoipa::path(
    get, path = "/people", tag = "people", operation_id = "list_people", params(ListParams),
    responses(
        (status = 200, body = PersonPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller, RawQuery(query): RawQuery) -> Result<Response, Problem> {
    let actor = &caller.0;
    let query = UsersQuery::from_query_string(query.as_deref().unwrap_or_default());
    let page = users::list(&state, actor, query.clone()).await?;
    let next = match page.rows.last() {
        Some(last) if page.page < page.page_count => Some(format!("{}/people?{}", shared::api::API_BASE, query.next_page(page.page, last).to_query_string())),
        _ => None,
    };
    let (total, total_capped) = (page.total, page.total_capped);
    let data = page.rows.into_iter().map(|r| Person::of(r, &actor.authority.account_scope_id)).collect();
    Ok(json(StatusCode::OK, PersonPage { data, total, total_capped, next }))
}

/// One person.
#[utoipa::path(
    get, path = "/people/{id}", tag = "people", operation_id = "get_person", params(("id" = String, Path, description = "The person")),
    responses(
        (status = 200, body = Person),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
    let detail = users::detail(&state, &caller.0, &id).await?;
    Ok(json(StatusCode::OK, Person::of(detail.user, &caller.0.authority.account_scope_id)))
}

/// Roles to grant or take away.
#[derive(Deserialize, ToSchema)]
pub struct RolesChange {
    pub roles: Vec<RoleGrant>,
}

/// Grant an active person further roles at once.
#[utoipa::path(
    post, path = "/people/{id}/roles/grant", tag = "people", operation_id = "grant_person_roles", request_body = RolesChange,
    params(("id" = String, Path, description = "The person"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe.")),
    responses(
        (status = 200, body = Done),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn grant_roles(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(body): Body<RolesChange>) -> Result<Response, Problem> {
    let grants = RoleGrant::parse_all(&body.roles, &caller.0.authority.account_scope_id)?;
    let message = people::add_roles(&state, &caller.0, &id, grants).await?;
    Ok(json(StatusCode::OK, Done { message }))
}

/// Take roles a person holds away.
#[utoipa::path(
    post, path = "/people/{id}/roles/remove", tag = "people", operation_id = "remove_person_roles", request_body = RolesChange,
    params(("id" = String, Path, description = "The person"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe.")),
    responses(
        (status = 200, body = Done),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_roles(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(body): Body<RolesChange>) -> Result<Response, Problem> {
    let grants = RoleGrant::parse_all(&body.roles, &caller.0.authority.account_scope_id)?;
    let message = people::remove_roles(&state, &caller.0, &id, grants).await?;
    Ok(json(StatusCode::OK, Done { message }))
}

macro_rules! person_action {
    ($name:ident, $operation:literal, $path:literal, $action:expr, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            post, path = $path, tag = "people", operation_id = $operation,
            params(("id" = String, Path, description = "The person"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe.")),
            responses(
                (status = 200, body = Done),
                (status = 403, body = Problem, content_type = "application/problem+json"),
                (status = 404, body = Problem, content_type = "application/problem+json"),
                (status = 409, body = Problem, content_type = "application/problem+json"),
            )
        )]
        pub async fn $name(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
            let message = people::act(&state, &caller.0, &id, $action).await?;
            Ok(json(StatusCode::OK, Done { message }))
        }
    };
}

person_action!(
    deactivate,
    "deactivate_person",
    "/people/{id}/deactivate",
    PersonAction::Deactivate,
    "Deactivate a person: signed out everywhere, their pending invitation cancelled, their API tokens revoked."
);
person_action!(
    reactivate,
    "reactivate_person",
    "/people/{id}/reactivate",
    PersonAction::Reactivate,
    "Reactivate a deactivated person, with the roles they held."
);
