//! The Users page (every user of the account, or a scope administrator's own people, with
//! their status and roles by place) and a user's own page.

use super::audit::{self, AuditEvent};
use super::error::Step;
use super::grants::RoleNames;
use super::store::user_list::{self, ListFilter, ListedUser, Start};
use super::store::{scopes, users, Conn};
use super::{Actor, AppState};
use shared::audit::AuditAction;
use shared::permissions::{Denied, Permission};
use shared::status::{AwaitingReason, InvitationState, StoredInvitationState};
use shared::views::{CurrentUser, InvitationSummary, PageCursor, UserDetail, UserRow, UsersPage, UsersQuery, PAGE_SIZES};
use shared::{AppError, Role};

/// The Users list of `query` as `actor` may read it: a scope administrator sees only the
/// people of their places. `search` is the query's term, folded as names are stored.
pub fn list_filter<'a>(state: &AppState, actor: &'a Actor, query: &'a UsersQuery, search: &'a str, now: i64, limit: i64) -> ListFilter<'a> {
    ListFilter {
        engine: state.db.engine(),
        account_id: &actor.account_id,
        now_ms: now,
        status: query.status,
        search,
        scope: query.scope.as_deref(),
        administered_by: (!actor.authority.manages_account()).then_some(actor.user_id.as_str()),
        sort: query.sort,
        descending: query.descending,
        limit,
    }
}

pub async fn list(state: &AppState, actor: &Actor, query: UsersQuery) -> Result<UsersPage, AppError> {
    actor.require(Permission::ViewUsers)?;
    state.checkpoints.reach(super::checkpoints::points::USERS_LISTING).await;
    if let Some(scope) = &query.scope {
        if !actor.authority.reaches(scope) {
            return Err(AppError::Forbidden(Denied::OutsideYourScopes));
        }
    }
    let now = state.clock.now_ms();
    let search = super::store::users::folded(query.search.trim());
    let size = if PAGE_SIZES.contains(&query.size) { query.size } else { PAGE_SIZES[0] };
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let filter = list_filter(state, actor, &query, &search, now, i64::from(size));
    let counted = state.list_counts.count(&mut conn, &filter).await.step("user_list::count")?;
    let cap = user_list::count_cap(&filter);
    let total_capped = counted > cap;
    let total = counted.min(cap) as u32;
    let page_count = total.div_ceil(size).max(1);
    // Past the last page (the list shrank meanwhile): the last page instead.
    let last_page = |page: u32| if total_capped { page } else { page.min(page_count) };
    let by_number = |page: u32| Start::Offset(i64::from(page - 1) * i64::from(size));
    let mut page = last_page(query.page.max(1));
    let cursor = match &query.cursor {
        PageCursor::None => None,
        PageCursor::After(at) | PageCursor::Before(at) => user_list::key_of(&mut conn, &filter, at).await.step("user_list::key_of")?,
    };
    // A cursor whose user is gone (or is not one this reader lists): by the page number.
    let start = match (&query.cursor, cursor) {
        (PageCursor::After(_), Some(key)) => Start::After(key),
        (PageCursor::Before(_), Some(key)) => Start::Before(key),
        _ => by_number(page),
    };
    let mut listed = user_list::rows(&mut conn, &filter, &start, counted).await.step("user_list::rows")?;
    if matches!(start, Start::Before(_)) && (listed.len() as i64) < filter.limit {
        // Previous reached the top of the list (rows before it went meanwhile): page 1.
        page = 1;
        listed = user_list::rows(&mut conn, &filter, &by_number(page), counted).await.step("user_list::rows")?;
    } else if listed.is_empty() && page > 1 {
        page = last_page(page);
        listed = user_list::rows(&mut conn, &filter, &by_number(page), counted).await.step("user_list::rows")?;
    }
    let rows = rows(&mut conn, actor, listed, now).await?;
    Ok(UsersPage {
        rows,
        total: u64::from(total),
        total_capped,
        page,
        page_count: if total_capped { page_count.max(page.saturating_add(1)) } else { page_count },
        now_ms: now,
    })
}

/// The listed users with their roles held and offered, by place, and (for those who may
/// read the Delivery log) how each invitation's latest email went.
pub async fn rows(conn: &mut Conn, actor: &Actor, listed: Vec<ListedUser>, now: i64) -> Result<Vec<UserRow>, AppError> {
    let account_id = actor.account_id.as_str();
    let user_ids: Vec<String> = listed.iter().map(|u| u.id.clone()).collect();
    let invitation_ids: Vec<String> = listed.iter().filter_map(|u| u.invitation_id.clone()).collect();
    let (held, offered) = scopes::held_and_offered(conn, &user_ids, &invitation_ids).await.step("scopes::held_and_offered")?;
    let names = RoleNames::needed_by(conn, account_id, held.iter().chain(&offered)).await?;
    let (mut held, mut offered) = (names.group(held)?, names.group(offered)?);
    let mut emails = match actor.can(Permission::ViewDeliveryLog) {
        true => crate::services::mail::outbox::latest_for_invitations(conn, account_id, &invitation_ids).await.step("outbox::latest_for_invitations")?,
        false => Default::default(),
    };
    let mut rows = Vec::with_capacity(listed.len());
    for u in listed {
        let awaiting = match (u.awaiting_since, u.awaiting_reason) {
            (Some(since), Some(reason)) => Some((since, AwaitingReason::try_from(reason).step("AwaitingReason::try_from")?)),
            _ => None,
        };
        let invitation = match (u.invitation_id, u.invited_at, u.last_sent_at, u.expires_at) {
            (Some(invitation_id), Some(invited_at_ms), Some(last_sent_at_ms), Some(expires_at_ms)) => Some(InvitationSummary {
                state: InvitationState::of(StoredInvitationState::Pending, expires_at_ms, awaiting.is_some(), now),
                offered: offered.remove(&invitation_id).unwrap_or_default(),
                latest_email: emails.remove(&invitation_id),
                // Read of the person's address, as resending asks it.
                held: u.held_at.map(|at_ms| shared::mail::Bounce::held(u.held_reply.unwrap_or_default(), at_ms)),
                invitation_id,
                invited_at_ms,
                last_sent_at_ms,
                expires_at_ms,
                send_count: u.send_count.unwrap_or(0),
                awaiting,
            }),
            _ => None,
        };
        rows.push(UserRow {
            status: u.status,
            held: held.remove(&u.id).unwrap_or_default(),
            is_you: u.id == actor.user_id,
            user_id: u.id,
            name: u.name,
            email: u.email,
            invitation,
        });
    }
    Ok(rows)
}

/// One user as the Users page would list them, if the actor may see them.
async fn visible_row(conn: &mut Conn, actor: &Actor, user_id: &str, now: i64) -> Result<UserRow, AppError> {
    let listed = user_list::by_ids(conn, &actor.account_id, &[user_id.to_string()], now).await.step("user_list::by_ids")?;
    let row = rows(conn, actor, listed, now).await?.pop().ok_or(AppError::NotFound)?;
    let in_reach = actor.authority.manages_account()
        || row.held.iter().chain(row.invitation.iter().flat_map(|i| i.offered.iter())).any(|g| actor.authority.administers(&g.grant.scope_id));
    if !in_reach {
        return Err(AppError::Forbidden(Denied::OutsideYourScopes));
    }
    Ok(row)
}

/// A user's own page: status, roles by place, open invitation, and the People permission.
pub async fn detail(state: &AppState, actor: &Actor, user_id: &str) -> Result<UserDetail, AppError> {
    actor.require(Permission::ViewUsers)?;
    let now = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let row = visible_row(&mut conn, actor, user_id, now).await?;
    let record = users::get(&mut conn, user_id).await.step("users::get")?.ok_or(AppError::NotFound)?;
    let is_curator = row.held.iter().any(|g| g.grant.scope_id == actor.authority.account_scope_id && g.grant.role.builtin() == Some(Role::Curator));
    let sign_ins = if shared::people::person_actions(&actor.authority, &row.person()).contains(&shared::people::PersonAction::SignOutEverywhere) {
        super::auth::open_sign_ins(state, &mut conn, &record).await?
    } else {
        Vec::new()
    };
    Ok(UserDetail { people: record.people_permission != 0, is_curator, can_grant_people: actor.can(Permission::GrantPeople), user: row, sign_ins, now_ms: now })
}

/// Gives a Curator the People permission (they manage invitations account-wide, up to
/// Curator), or takes it back.
pub async fn set_people_permission(state: &AppState, actor: &Actor, user_id: &str, people: bool) -> Result<String, AppError> {
    actor.require(Permission::GrantPeople)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let row = visible_row(&mut tx, actor, user_id, now).await?;
    if !row.held.iter().any(|g| g.grant.scope_id == actor.authority.account_scope_id && g.grant.role.builtin() == Some(Role::Curator)) {
        return Err(AppError::InvalidState("The People permission is for Curators. Give this person the Curator role first.".into()));
    }
    users::set_people_permission(&mut tx, user_id, people, now).await.step("users::set_people_permission")?;
    let event = AuditEvent {
        account_id: &actor.account_id,
        actor_user_id: Some(&actor.user_id),
        action: if people { AuditAction::UserPeopleGranted } else { AuditAction::UserPeopleRevoked },
        target_type: "user",
        target_id: user_id,
        details: serde_json::json!({ "email": row.email }),
    };
    audit::record(&mut tx, event, now).await.step("audit::record")?;
    tx.commit().await.step("commit")?;
    Ok(if people {
        format!("{} now has the People permission: they can invite and manage invitations, up to Curator.", row.display_name())
    } else {
        format!("{} no longer has the People permission.", row.display_name())
    })
}

/// The signed-in person as the shell shows them.
pub async fn current(state: &AppState, actor: &Actor) -> Result<CurrentUser, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let held = scopes::memberships_of(&mut conn, std::slice::from_ref(&actor.user_id)).await.step("scopes::memberships_of")?;
    let held = RoleNames::needed_by(&mut conn, &actor.account_id, held.iter()).await?.group(held)?;
    Ok(CurrentUser {
        user_id: actor.user_id.clone(),
        name: actor.name.clone(),
        email: actor.email.clone(),
        account_name: actor.account_name.clone(),
        authority: actor.authority.clone(),
        held: held.into_values().next().unwrap_or_default(),
        must_change_password: actor.must_change_password,
    })
}
