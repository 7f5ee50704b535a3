//! The Users page's query: filtered, searched, sorted and paged in SQL.

use super::invitations::expired_sql;
use super::Conn;
use shared::scopes::ScopeKind;
use shared::status::{StoredInvitationState, StoredUserStatus, UserStatus};
use shared::views::UsersSort;
use shared::Role;

pub struct ListFilter<'a> {
    pub account_id: &'a str,
    pub now_ms: i64,
    pub status: Option<UserStatus>,
    /// `%term%`, LIKE's own wildcards escaped.
    pub pattern: &'a str,
    /// Only people in this place or below it.
    pub scope: Option<&'a str>,
    /// Only people in the places this user administers (for a scope administrator).
    pub administered_by: Option<&'a str>,
    pub sort: UsersSort,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

#[derive(sqlx::FromRow)]
pub struct ListedUser {
    pub id: String,
    pub name: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub status: UserStatus,
    pub invitation_id: Option<String>,
    pub invited_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub send_count: Option<i64>,
}

fn order_by(sort: UsersSort, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    let key = match sort {
        UsersSort::Name => format!("CASE WHEN u.name_folded = '' THEN u.email ELSE u.name_folded END {dir}"),
        UsersSort::Email => format!("u.email {dir}"),
        UsersSort::Status => format!("u.status {dir}"),
        UsersSort::Invited => format!("COALESCE(u.invited_at, 0) {dir}"),
    };
    format!("{key}, u.email ASC")
}

/// The query both the count and the page read from, selecting `select`. Parameters:
/// $1 account, $2 now, $3 status ('' for all), $4 search pattern, $5 scope ('' for all),
/// $6 administrator ('' for an account-wide viewer).
fn matching(select: &str) -> String {
    let invited = StoredUserStatus::Invited.as_str();
    let expired = UserStatus::Expired.as_str();
    let pending = StoredInvitationState::Pending.as_str();
    let in_places = |places: &str| {
        format!(
            "(EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.scope_id IN (SELECT id FROM {places})) \
              OR EXISTS (SELECT 1 FROM invitation_roles r WHERE r.invitation_id = u.invitation_id AND r.scope_id IN (SELECT id FROM {places})))"
        )
    };
    format!(
        "WITH RECURSIVE \
           filtered(id) AS (SELECT id FROM scopes WHERE id = $5 UNION SELECT s.id FROM scopes s JOIN filtered f ON s.parent_id = f.id), \
           administered(id) AS ( \
             SELECT s.id FROM memberships m JOIN scopes s ON s.id = m.scope_id \
             WHERE m.user_id = $6 AND m.role = '{admin}' AND s.kind <> '{account}' AND s.archived_at IS NULL \
             UNION SELECT s.id FROM scopes s JOIN administered a ON s.parent_id = a.id WHERE s.archived_at IS NULL) \
         SELECT {select} FROM (SELECT u.id, u.name, u.name_folded, u.email, u.created_at, \
                      CASE WHEN u.status = '{invited}' AND {is_expired} THEN '{expired}' ELSE u.status END AS status, \
                      i.id AS invitation_id, i.created_at AS invited_at, i.last_sent_at, i.expires_at, i.send_count \
               FROM users u LEFT JOIN invitations i ON i.user_id = u.id AND i.state = '{pending}' \
               WHERE u.account_id = $1) u \
         WHERE ($3 = '' OR u.status = $3) AND (u.name_folded LIKE $4 ESCAPE '\\' OR u.email LIKE $4 ESCAPE '\\') \
           AND ($5 = '' OR {in_filtered}) AND ($6 = '' OR {in_administered})",
        admin = Role::Admin.as_str(),
        account = ScopeKind::Account.as_str(),
        is_expired = expired_sql("i.expires_at", "$2"),
        in_filtered = in_places("filtered"),
        in_administered = in_places("administered"),
    )
}

type Query<'q, O> = sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>;

/// Binds $1 to $6 of [`matching`].
fn bind_filter<'q, O>(query: Query<'q, O>, filter: &'q ListFilter<'q>) -> Query<'q, O> {
    query
        .bind(filter.account_id)
        .bind(filter.now_ms)
        .bind(filter.status.map(|s| s.as_str()).unwrap_or(""))
        .bind(filter.pattern)
        .bind(filter.scope.unwrap_or(""))
        .bind(filter.administered_by.unwrap_or(""))
}

/// How many users match, and the page of them asked for.
pub async fn page(conn: &mut Conn, filter: &ListFilter<'_>) -> sqlx::Result<(i64, Vec<ListedUser>)> {
    let count_sql = matching("COUNT(*)");
    let (total,): (i64,) = bind_filter(sqlx::query_as(&count_sql), filter).fetch_one(&mut *conn).await?;
    let page_sql = format!(
        "{} ORDER BY {} LIMIT $7 OFFSET $8",
        matching("u.id, u.name, u.email, u.status, u.invitation_id, u.invited_at, u.last_sent_at, u.expires_at, u.send_count"),
        order_by(filter.sort, filter.descending)
    );
    let rows = bind_filter(sqlx::query_as(&page_sql), filter).bind(filter.limit).bind(filter.offset).fetch_all(&mut *conn).await?;
    Ok((total, rows))
}

/// The users `ids` as the list shows them, by name.
pub async fn by_ids(conn: &mut Conn, account_id: &str, ids: &[String], now_ms: i64) -> sqlx::Result<Vec<ListedUser>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (4..4 + ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT u.id, u.name, u.email, \
                CASE WHEN u.status = '{invited}' AND {is_expired} THEN '{expired}' ELSE u.status END AS status, \
                i.id AS invitation_id, i.created_at AS invited_at, i.last_sent_at, i.expires_at, i.send_count \
         FROM users u LEFT JOIN invitations i ON i.user_id = u.id AND i.state = $3 \
         WHERE u.account_id = $1 AND u.id IN ({list}) \
         ORDER BY CASE WHEN u.name_folded = '' THEN u.email ELSE u.name_folded END, u.email",
        invited = StoredUserStatus::Invited.as_str(),
        expired = UserStatus::Expired.as_str(),
        is_expired = expired_sql("i.expires_at", "$2"),
    );
    let mut query = sqlx::query_as(&sql).bind(account_id).bind(now_ms).bind(StoredInvitationState::Pending.as_str());
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}
