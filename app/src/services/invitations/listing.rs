//! Invitations one by one, as the API reads them: newest first, a page after a cursor, only
//! those the actor sees (a scope administrator those offering a role in their places).

use crate::services::error::Step;
use crate::services::store::invitations::{self as store, InvitationFilter, ListedInvitation};
use crate::services::store::scopes::{self, GrantRow};
use crate::services::{Actor, AppState};
use shared::permissions::{Denied, Permission};
use shared::status::InvitationState;
use shared::AppError;
use std::collections::HashMap;

/// The most invitations one page holds.
pub const MAX_PAGE: i64 = 200;

pub struct ListQuery {
    pub state: Option<InvitationState>,
    pub email: Option<String>,
    pub place: Option<String>,
    /// After this (created_at, id).
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// An invitation with the roles it offers.
pub struct Listed {
    pub invitation: ListedInvitation,
    pub roles: Vec<GrantRow>,
    pub state: InvitationState,
}

fn visible_in(actor: &Actor) -> Option<&[String]> {
    (!actor.authority.manages_account()).then_some(actor.authority.administered.as_slice())
}

async fn with_roles(conn: &mut crate::services::store::Conn, invitations: Vec<ListedInvitation>, now: i64) -> Result<Vec<Listed>, AppError> {
    let ids: Vec<String> = invitations.iter().map(|i| i.invitation.id.clone()).collect();
    let mut roles: HashMap<String, Vec<GrantRow>> = HashMap::new();
    if !ids.is_empty() {
        for row in scopes::offered_by(conn, &ids).await.step("scopes::offered_by")? {
            roles.entry(row.owner_id.clone()).or_default().push(row);
        }
    }
    Ok(invitations
        .into_iter()
        .map(|invitation| Listed { state: invitation.invitation.state_at(now), roles: roles.remove(&invitation.invitation.id).unwrap_or_default(), invitation })
        .collect())
}

pub async fn list(state: &AppState, actor: &Actor, query: &ListQuery) -> Result<Vec<Listed>, AppError> {
    actor.require(Permission::ViewUsers)?;
    let now = state.clock.now_ms();
    let places = query.place.as_ref().map(std::slice::from_ref);
    if let Some(place) = &query.place {
        if !actor.authority.reaches(place) && *place != actor.authority.account_scope_id {
            return Err(AppError::Forbidden(Denied::OutsideYourScopes));
        }
    }
    let email = query.email.as_deref().map(|e| e.trim().to_lowercase());
    let filter = InvitationFilter {
        account_id: &actor.account_id,
        state: query.state,
        email: email.as_deref(),
        places,
        visible_in: visible_in(actor),
        after: query.after.as_ref().map(|(at, id)| (*at, id.as_str())),
        now_ms: now,
        // One more than a page, to tell whether another follows.
        limit: query.limit.clamp(1, MAX_PAGE + 1),
    };
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let found = store::list(&mut conn, &filter).await.step("invitations::list")?;
    with_roles(&mut conn, found, now).await
}

/// One invitation the actor sees.
pub async fn get(state: &AppState, actor: &Actor, id: &str) -> Result<Listed, AppError> {
    actor.require(Permission::ViewUsers)?;
    let now = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let found = store::listed(&mut conn, &actor.account_id, id).await.step("invitations::listed")?.ok_or(AppError::NotFound)?;
    let listed = with_roles(&mut conn, vec![found], now).await?.pop().ok_or(AppError::NotFound)?;
    if let Some(places) = visible_in(actor) {
        if !listed.roles.iter().any(|r| places.contains(&r.scope_id)) {
            return Err(AppError::NotFound);
        }
    }
    Ok(listed)
}

/// The invitee of invitation `id`, when it is their latest invitation: an action on an
/// invitation a newer one replaced is refused, not done to the newer one.
pub async fn invitee_of_latest(state: &AppState, actor: &Actor, id: &str) -> Result<String, AppError> {
    let listed = get(state, actor, id).await?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let latest = store::latest_for_user(&mut conn, &listed.invitation.invitation.user_id).await.step("invitations::latest_for_user")?;
    match latest {
        Some(latest) if latest != id => Err(AppError::InvalidState(format!("A newer invitation ({latest}) replaced this one: act on that one."))),
        _ => Ok(listed.invitation.invitation.user_id),
    }
}

/// The latest invitation of `person`, as the actor sees it.
pub async fn latest_of(state: &AppState, actor: &Actor, person: &str) -> Result<Listed, AppError> {
    let latest = {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        store::latest_for_user(&mut conn, person).await.step("invitations::latest_for_user")?.ok_or(AppError::NotFound)?
    };
    get(state, actor, &latest).await
}
