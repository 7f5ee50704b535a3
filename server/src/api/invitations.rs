//! `/api/v1/invitations`: invite, list, read, and act on one invitation.

use super::{json, time, Body, Caller, Done, Params, Problem, RoleGrant};
use app::services::invitations::listing::{self, ListQuery, Listed};
use app::services::invitations::service::{self, InviteRequest};
use app::services::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::invitations::{InvitationAction, MAX_INVITES_PER_BATCH};
use shared::permissions::Permission;
use shared::status::InvitationState;
use utoipa::{IntoParams, ToSchema};

/// An invitation.
#[derive(Serialize, ToSchema)]
pub struct Invitation {
    pub id: String,
    /// The person invited.
    pub person_id: String,
    pub email: String,
    pub name: String,
    /// `pending`, `awaiting_confirmation`, `accepted`, `cancelled` or `expired`.
    pub state: String,
    /// The roles it offers, each in its place.
    pub roles: Vec<RoleGrant>,
    pub message: Option<String>,
    /// The person who sent it.
    pub invited_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub last_sent_at: String,
    pub send_count: i64,
    pub accepted_at: Option<String>,
    pub cancelled_at: Option<String>,
}

impl Invitation {
    fn of(listed: Listed, account_scope_id: &str) -> Invitation {
        let i = listed.invitation;
        Invitation {
            id: i.invitation.id,
            person_id: i.invitation.user_id,
            email: i.email,
            name: i.name,
            state: listed.state.as_str().to_string(),
            roles: listed.roles.iter().map(|r| RoleGrant::of(r, account_scope_id)).collect(),
            message: i.invitation.personal_message,
            invited_by: i.invitation.invited_by,
            created_at: time(i.invitation.created_at),
            expires_at: time(i.invitation.expires_at),
            last_sent_at: time(i.invitation.last_sent_at),
            send_count: i.invitation.send_count,
            accepted_at: i.accepted_at.map(time),
            cancelled_at: i.cancelled_at.map(time),
        }
    }
}

/// Whom to invite, into what.
#[derive(Deserialize, ToSchema)]
pub struct NewInvitations {
    /// The addresses to invite (up to 500 in one call).
    pub emails: Vec<String>,
    /// The roles to offer every one of them, each in its place.
    pub roles: Vec<RoleGrant>,
    /// A personal message for the email (up to 500 characters).
    #[serde(default)]
    pub message: Option<String>,
}

/// An address not invited, and why.
#[derive(Serialize, ToSchema)]
pub struct Skipped {
    pub email: String,
    /// A stable name: `already_invited`, `already_holds_roles`, `deactivated`, `address_bounced`, …
    pub reason: String,
    pub message: String,
}

/// What an invite did.
#[derive(Serialize, ToSchema)]
pub struct Invited {
    /// The addresses invited (their emails are on their way).
    pub invited: Vec<String>,
    pub skipped: Vec<Skipped>,
}

/// Invite people: everyone in the call, or (on an error) no one.
#[utoipa::path(
    post, path = "/invitations", tag = "invitations", operation_id = "create_invitations", request_body = NewInvitations,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe: the same key and body get the first answer again.")),
    responses(
        (status = 201, description = "Invited (some may be skipped, each with its reason)", body = Invited),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(State(state): State<AppState>, caller: Caller, Body(body): Body<NewInvitations>) -> Result<Response, Problem> {
    let actor = &caller.0;
    if body.emails.len() > MAX_INVITES_PER_BATCH {
        return Err(Problem::validation(format!("Invite at most {MAX_INVITES_PER_BATCH} people in one call ({} given).", body.emails.len())));
    }
    let grants = RoleGrant::parse_all(&body.roles, &actor.authority.account_scope_id)?;
    // A script sends what it means: no "did you mean …?" round trip.
    let request = InviteRequest { addresses: body.emails.join("\n"), grants, message: body.message, send_despite_typos: true };
    let outcome = service::invite(&state, actor, request).await?;
    let skipped =
        outcome.skipped.into_iter().zip(outcome.skip_reasons).map(|((email, message), reason)| Skipped { email, reason: reason.as_str(), message }).collect();
    Ok(json(StatusCode::CREATED, Invited { invited: outcome.invited, skipped }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `pending`, `awaiting_confirmation`, `accepted`, `cancelled` or `expired`.
    state: Option<String>,
    /// The invitee's address.
    email: Option<String>,
    /// Only invitations offering a role in this place.
    place_id: Option<String>,
    /// From a page's `next_cursor`.
    cursor: Option<String>,
    /// Invitations per page, 1 to 200 (50 when left out).
    limit: Option<i64>,
}

/// A page of invitations, newest first.
#[derive(Serialize, ToSchema)]
pub struct InvitationPage {
    pub data: Vec<Invitation>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

fn cursor_of(invitation: &Invitation, created_at_ms: i64) -> String {
    format!("{created_at_ms}.{}", invitation.id)
}

fn parse_cursor(text: &str) -> Option<(i64, String)> {
    let (at, id) = text.split_once('.')?;
    Some((at.parse().ok()?, id.to_string())).filter(|(at, id)| *at >= 0 && shared::url::is_id(id))
}

/// List invitations, newest first, a page at a time.
#[utoipa::path(
    get, path = "/invitations", tag = "invitations", operation_id = "list_invitations", params(ListParams),
    responses(
        (status = 200, body = InvitationPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller, Params(params): Params<ListParams>) -> Result<Response, Problem> {
    let actor = &caller.0;
    let state_filter = match params.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            InvitationState::parse(text)
                .ok_or_else(|| Problem::validation(format!("Unknown state “{text}”: use pending, awaiting_confirmation, accepted, cancelled or expired.")))?,
        ),
    };
    let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(parse_cursor(text).ok_or_else(|| Problem::validation("That cursor is not one this API gave."))?),
    };
    let limit = params.limit.unwrap_or(50);
    if !(1..=listing::MAX_PAGE).contains(&limit) {
        return Err(Problem::validation(format!("limit is 1 to {}.", listing::MAX_PAGE)));
    }
    let place = params.place_id.filter(|p| !p.is_empty());
    if place.as_deref().is_some_and(|p| !shared::url::is_id(p)) {
        return Err(Problem::validation("place_id is not a place id."));
    }
    let query = ListQuery { state: state_filter, email: params.email.filter(|e| !e.is_empty()), place, after, limit: limit + 1 };
    let mut found = listing::list(&state, actor, &query).await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let last_at = found.last().map(|l| l.invitation.invitation.created_at);
    let data: Vec<Invitation> = found.into_iter().map(|l| Invitation::of(l, &actor.authority.account_scope_id)).collect();
    let next_cursor = match (more, data.last(), last_at) {
        (true, Some(last), Some(at)) => Some(cursor_of(last, at)),
        _ => None,
    };
    Ok(json(StatusCode::OK, InvitationPage { data, next_cursor }))
}

/// One invitation.
#[utoipa::path(
    get, path = "/invitations/{id}", tag = "invitations", operation_id = "get_invitation", params(("id" = String, Path, description = "The invitation")),
    responses(
        (status = 200, body = Invitation),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
    let listed = listing::get(&state, &caller.0, &id).await?;
    Ok(json(StatusCode::OK, Invitation::of(listed, &caller.0.authority.account_scope_id)))
}

/// What an action on an invitation answers: what was done, and the person's invitation as it
/// stands now (a new one, after "send new"; absent if it could not be read back just then).
#[derive(Serialize, ToSchema)]
pub struct Acted {
    pub message: String,
    pub invitation: Option<Invitation>,
}

async fn act(state: &AppState, caller: &Caller, id: &str, action: InvitationAction) -> Result<Response, Problem> {
    let actor = &caller.0;
    // What the token lacks is said before whether the invitation is one it may see.
    actor.require(Permission::ManageInvitations)?;
    let person = listing::invitee_of_latest(state, actor, id).await?;
    let message = service::act(state, actor, &person, action).await?;
    // Done and committed: what follows only reads, and never turns the answer into a failure
    // (a retry would then do it again).
    let invitation = match listing::latest_of(state, actor, &person).await {
        Ok(listed) => Some(Invitation::of(listed, &actor.authority.account_scope_id)),
        Err(error) => {
            tracing::warn!(?error, "an invitation acted on could not be read back");
            None
        }
    };
    Ok(json(StatusCode::OK, Acted { message, invitation }))
}

macro_rules! invitation_action {
    ($name:ident, $operation:literal, $path:literal, $action:expr, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
                            post, path = $path, tag = "invitations", operation_id = $operation, params(("id" = String, Path, description = "The invitation"),
                                ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe.")),
                            responses(
                                (status = 200, body = Acted),
                                (status = 401, body = Problem, content_type = "application/problem+json"),
                                (status = 403, body = Problem, content_type = "application/problem+json"),
                                (status = 404, body = Problem, content_type = "application/problem+json"),
                                (status = 409, body = Problem, content_type = "application/problem+json"),
                                (status = 429, body = Problem, content_type = "application/problem+json"),
                            )
                        )]
        pub async fn $name(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
            act(&state, &caller, &id, $action).await
        }
    };
}

invitation_action!(resend, "resend_invitation", "/invitations/{id}/resend", InvitationAction::Resend, "Send a pending invitation's email again.");
invitation_action!(
    send_new,
    "send_new_invitation",
    "/invitations/{id}/send-new",
    InvitationAction::SendNew,
    "Send a new invitation in place of an expired one."
);
invitation_action!(remind, "remind_invitation", "/invitations/{id}/remind", InvitationAction::Remind, "Send a reminder of a pending invitation.");
invitation_action!(
    extend,
    "extend_invitation",
    "/invitations/{id}/extend",
    InvitationAction::Extend,
    "Move a pending invitation's expiry on, sending nothing."
);
invitation_action!(cancel, "cancel_invitation", "/invitations/{id}/cancel", InvitationAction::Cancel, "Cancel a pending invitation: its link stops working.");

/// Roles to take off a pending invitation.
#[derive(Deserialize, ToSchema)]
pub struct RolesChange {
    pub roles: Vec<RoleGrant>,
}

/// Take roles off a pending invitation (taking its last role cancels it).
#[utoipa::path(
    post, path = "/invitations/{id}/roles/remove", tag = "invitations", operation_id = "remove_invitation_roles", request_body = RolesChange,
    params(("id" = String, Path, description = "The invitation"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe.")),
    responses(
        (status = 200, body = Done),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_roles(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(body): Body<RolesChange>) -> Result<Response, Problem> {
    let actor = &caller.0;
    actor.require(Permission::ManageInvitations)?;
    let grants = RoleGrant::parse_all(&body.roles, &actor.authority.account_scope_id)?;
    let person = listing::invitee_of_latest(&state, actor, &id).await?;
    let message = service::remove_grants(&state, actor, &person, grants).await?;
    Ok(json(StatusCode::OK, Done { message }))
}

/// Say that a hard-bounced address works again (the person fixed their mailbox): mail may go
/// there again, and the invitation can be resent.
#[utoipa::path(
    post, path = "/invitations/{id}/address-works", tag = "invitations", operation_id = "release_bounced_address",
    params(("id" = String, Path, description = "The invitation"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe.")),
    responses(
        (status = 200, body = Done),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn address_works(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, Problem> {
    let actor = &caller.0;
    actor.require(Permission::ManageInvitations)?;
    let person = listing::invitee_of_latest(&state, actor, &id).await?;
    let message = service::release_hold(&state, actor, &person).await?;
    Ok(json(StatusCode::OK, Done { message }))
}
