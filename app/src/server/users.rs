//! The Users page: every user of the account with their status, filtered, searched,
//! sorted and paged in SQL.

use super::error::internal;
use super::{Actor, AppState};
use shared::permissions::Permission;
use shared::views::{InvitationSummary, UserRow, UserStatus, UsersPage, UsersQuery, UsersSort, USERS_PAGE_SIZE};
use shared::{AppError, Role};
use std::collections::HashMap;

/// A user's status now: an invited user whose pending invitation has passed its expiry
/// is Expired. The listing query computes the same in SQL (`STATUS_SQL`).
pub fn status_of(stored: &str, pending_expires_at: Option<i64>, now_ms: i64) -> UserStatus {
    match stored {
        "active" => UserStatus::Active,
        "deactivated" => UserStatus::Deactivated,
        "invited" if pending_expires_at.is_some_and(|at| now_ms >= at) => UserStatus::Expired,
        "invited" => UserStatus::Invited,
        _ => UserStatus::ProfileOnly,
    }
}

const STATUS_SQL: &str = "CASE WHEN u.status = 'invited' AND i.expires_at <= $2 THEN 'expired' ELSE u.status END";

#[derive(sqlx::FromRow)]
struct ListedUser {
    id: String,
    name: String,
    email: String,
    status: String,
    invitation_id: Option<String>,
    invited_at: Option<i64>,
    last_sent_at: Option<i64>,
    expires_at: Option<i64>,
    send_count: Option<i64>,
}

fn order_by(sort: UsersSort, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    let key = match sort {
        UsersSort::Name => format!("CASE WHEN u.name = '' THEN u.email ELSE lower(u.name) END {dir}"),
        UsersSort::Email => format!("u.email {dir}"),
        UsersSort::Status => format!("u.status {dir}"),
        UsersSort::Invited => format!("COALESCE(u.invited_at, 0) {dir}"),
    };
    format!("{key}, u.email ASC")
}

/// `%term%` for LIKE, with LIKE's own wildcards escaped.
fn like_pattern(search: &str) -> String {
    let escaped = search.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn list(state: &AppState, actor: &Actor, query: UsersQuery) -> Result<UsersPage, AppError> {
    actor.require(Permission::ViewUsers)?;
    let now = state.clock.now_ms();
    let status = query.status.map(|s| s.as_str()).unwrap_or("");
    let pattern = like_pattern(&query.search);
    let base = format!(
        "FROM (SELECT u.id, u.name, u.email, u.created_at, {STATUS_SQL} AS status, \
                      i.id AS invitation_id, i.created_at AS invited_at, i.last_sent_at, i.expires_at, i.send_count \
               FROM users u LEFT JOIN invitations i ON i.user_id = u.id AND i.state = 'pending' \
               WHERE u.account_id = $1) u \
         WHERE ($3 = '' OR u.status = $3) AND (lower(u.name) LIKE $4 ESCAPE '\\' OR u.email LIKE $4 ESCAPE '\\')"
    );
    let mut conn = state.db.pool.acquire().await.map_err(internal)?;
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {base}"))
        .bind(&actor.account_id)
        .bind(now)
        .bind(status)
        .bind(&pattern)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
    let page_count = ((total as u32).div_ceil(USERS_PAGE_SIZE)).max(1);
    let page = query.page.clamp(1, page_count);
    let listed: Vec<ListedUser> = sqlx::query_as(&format!(
        "SELECT u.id, u.name, u.email, u.status, u.invitation_id, u.invited_at, u.last_sent_at, u.expires_at, u.send_count \
         {base} ORDER BY {} LIMIT $5 OFFSET $6",
        order_by(query.sort, query.descending)
    ))
    .bind(&actor.account_id)
    .bind(now)
    .bind(status)
    .bind(&pattern)
    .bind(i64::from(USERS_PAGE_SIZE))
    .bind(i64::from((page - 1) * USERS_PAGE_SIZE))
    .fetch_all(&mut *conn)
    .await
    .map_err(internal)?;

    let roles = roles_of(&mut conn, &listed).await?;
    let rows = listed
        .into_iter()
        .map(|u| {
            let invitation = match (u.invitation_id, u.invited_at, u.last_sent_at, u.expires_at) {
                (Some(invitation_id), Some(invited_at_ms), Some(last_sent_at_ms), Some(expires_at_ms)) => Some(InvitationSummary {
                    invitation_id,
                    invited_at_ms,
                    last_sent_at_ms,
                    expires_at_ms,
                    send_count: u.send_count.unwrap_or(0),
                }),
                _ => None,
            };
            UserRow {
                status: UserStatus::parse(&u.status).unwrap_or(UserStatus::ProfileOnly),
                roles: roles.get(&u.id).cloned().unwrap_or_default(),
                user_id: u.id,
                name: u.name,
                email: u.email,
                invitation,
            }
        })
        .collect();
    let grantable_roles = shared::permissions::grantable_roles(&actor.roles);
    Ok(UsersPage { rows, total: total as u64, page, page_count, now_ms: now, grantable_roles })
}

/// Roles held by the listed users, and for those with a pending invitation the roles offered.
async fn roles_of(conn: &mut sqlx::AnyConnection, listed: &[ListedUser]) -> Result<HashMap<String, Vec<Role>>, AppError> {
    let mut roles: HashMap<String, Vec<Role>> = HashMap::new();
    if listed.is_empty() {
        return Ok(roles);
    }
    let placeholders = (1..=listed.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT m.user_id, m.role FROM memberships m JOIN scopes s ON s.id = m.scope_id \
           WHERE s.kind = 'account' AND m.user_id IN ({placeholders}) \
         UNION \
         SELECT i.user_id, r.role FROM invitations i JOIN invitation_roles r ON r.invitation_id = i.id \
           WHERE i.state = 'pending' AND i.user_id IN ({placeholders})"
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for user in listed {
        query = query.bind(&user.id);
    }
    for (user_id, role) in query.fetch_all(conn).await.map_err(internal)? {
        if let Some(role) = Role::parse(&role) {
            roles.entry(user_id).or_default().push(role);
        }
    }
    for list in roles.values_mut() {
        list.sort();
        list.dedup();
    }
    Ok(roles)
}
