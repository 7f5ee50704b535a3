//! `/api/v1`: JSON for scripts and other systems, authorised by an API token alone. These
//! routes sit outside the session layer and the cross-site check that guard the browser's
//! forms: a script sends no Origin, and a token, unlike a cookie, is never sent by a browser
//! on another site's behalf. Each handler calls the service the pages call.

mod idempotency;
mod invitations;
mod jobs;
mod people;
mod problem;

use app::services::{api_tokens, audit, Actor, AppState};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
pub use problem::Problem;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Beckon API",
        version = "1",
        description = "Invite people, follow and revoke their invitations, administer people and run bulk actions. \
                       Every call is authorised by an API token (`Authorization: Bearer bk_live_…`) made in Settings → API tokens; \
                       it acts as the person who made it, with at most the scopes chosen. Errors are RFC 9457 problem details."
    ),
    servers((url = "/api/v1")),
    modifiers(&BearerToken),
    security(("token" = [])),
    tags(
        (name = "invitations", description = "Invite people and act on their invitations."),
        (name = "people", description = "The people of the account."),
        (name = "jobs", description = "Bulk actions over many people, done in the background."),
    )
)]
struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("bk_live_…").build()));
    }
}

/// The API's routes and the OpenAPI document describing exactly them: both come from one
/// list, so neither can name a route the other lacks.
fn parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(invitations::create, invitations::list))
        .routes(routes!(invitations::get))
        .routes(routes!(invitations::resend))
        .routes(routes!(invitations::send_new))
        .routes(routes!(invitations::remind))
        .routes(routes!(invitations::extend))
        .routes(routes!(invitations::cancel))
        .routes(routes!(invitations::remove_roles))
        .routes(routes!(invitations::address_works))
        .routes(routes!(people::list))
        .routes(routes!(people::get))
        .routes(routes!(people::grant_roles))
        .routes(routes!(people::remove_roles))
        .routes(routes!(people::deactivate))
        .routes(routes!(people::reactivate))
        .routes(routes!(jobs::start, jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::cancel))
        .split_for_parts()
}

/// The OpenAPI document, as `/api/v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| parts().1).clone()
}

/// `/api/v1`, to nest under [`shared::api::API_BASE`].
pub fn router(state: AppState) -> Router<AppState> {
    let (routes, _) = parts();
    routes
        .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::replay_or_keep))
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
        .route("/openapi.json", axum::routing::get(openapi_json))
        .fallback(|| async { Problem::not_found("No such route in the API: see /api/v1/openapi.json.").into_response() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed().into_response() })
}

async fn openapi_json() -> Response {
    let mut response = axum::Json(openapi()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    response
}

/// Who calls: the token's creator as they stand now, narrowed to the token. Every audit line
/// the call writes names the token.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let bearer = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(|v| {
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            rest.to_string()
        } else {
            String::new()
        }
    });
    let actor = match api_tokens::authenticate(&state, bearer.as_deref()).await {
        Ok(Ok(actor)) => actor,
        Ok(Err(refusal)) => return Problem::token(refusal).into_response(),
        Err(error) => return Problem::from(error).into_response(),
    };
    let token = actor.api_token.as_ref().map(|t| t.name.clone()).unwrap_or_default();
    let method = request.method().to_string();
    let uri = request.extensions().get::<axum::extract::OriginalUri>().map(|o| o.0.clone()).unwrap_or_else(|| request.uri().clone());
    let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    request.extensions_mut().insert(actor.clone());
    let response = audit::via_token(token, next.run(request)).await;
    // Written once the call is answered (its status known), outside its transaction: a
    // refused call changed nothing but is on the record.
    if let Err(error) = api_tokens::record_call(&state, &actor, &method, &path, response.status().as_u16()).await {
        tracing::warn!(%error, "could not write an API call's audit line");
    }
    response
}

/// The caller, as [`authenticate`] left them.
pub(crate) type Caller = axum::Extension<Actor>;

/// A JSON body, refused as problem details when it cannot be read.
pub(crate) struct Body<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Body<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(Problem::unreadable_body(rejection)),
        }
    }
}

/// Query parameters, refused as problem details when they cannot be read.
pub(crate) struct Params<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(Problem::validation(format!("The query string could not be read: {}", rejection.body_text()))),
        }
    }
}

/// A JSON answer.
pub(crate) fn json<T: Serialize>(status: axum::http::StatusCode, value: T) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(value)).into_response()
}

/// A moment, as the API writes it: RFC 3339 in UTC.
pub(crate) fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
}

/// A role in a place.
#[derive(Clone, Debug, Serialize, serde::Deserialize, ToSchema)]
pub(crate) struct RoleGrant {
    /// The place (organisational unit, waiting area, meeting room); left out for an
    /// account-wide role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_id: Option<String>,
    /// `owner`, `admin`, `hr`, `curator`, `member`, or `custom:{id}` for one of the account's own roles.
    pub role: String,
}

impl RoleGrant {
    fn of(row: &app::services::store::scopes::GrantRow, account_scope_id: &str) -> RoleGrant {
        RoleGrant { place_id: (row.scope_id != account_scope_id).then(|| row.scope_id.clone()), role: row.role.clone() }
    }

    fn of_grant(grant: &shared::scopes::Grant, account_scope_id: &str) -> RoleGrant {
        RoleGrant { place_id: (grant.scope_id != account_scope_id).then(|| grant.scope_id.clone()), role: grant.role.as_stored() }
    }

    /// The grants `roles` name, each checked.
    fn parse_all(roles: &[RoleGrant], account_scope_id: &str) -> Result<Vec<shared::scopes::Grant>, Problem> {
        roles
            .iter()
            .map(|r| {
                let role = shared::RoleKey::parse_stored(r.role.trim())
                    .ok_or_else(|| Problem::validation(format!("Unknown role “{}”: use owner, admin, hr, curator, member or custom:{{id}}.", r.role)))?;
                let scope = r.place_id.clone().unwrap_or_else(|| account_scope_id.to_string());
                if !shared::url::is_id(&scope) {
                    return Err(Problem::validation(format!("“{scope}” is not a place id.")));
                }
                Ok(shared::scopes::Grant::new(scope, role))
            })
            .collect()
    }
}

/// What an action did, in words.
#[derive(Serialize, ToSchema)]
pub(crate) struct Done {
    pub message: String,
}
