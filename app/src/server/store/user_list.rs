//! The Users page's query: filtered, searched, sorted and paged in SQL, from indexes on the
//! user's own row (see migration 0007) so that a page of a large account does not read it
//! all. The search is engine-specific (SQLite: an FTS5 trigram table; PostgreSQL: a pg_trgm
//! index); both find the same rows: every user whose "name address" contains the term.

use super::invitations::expired_sql;
use super::Conn;
use crate::server::db::Engine;
use shared::scopes::ScopeKind;
use shared::status::{StoredInvitationState, StoredUserStatus, UserStatus};
use shared::views::UsersSort;
use shared::Role;

/// Counting stops here: past it the page says "more than".
pub const COUNT_CAP: i64 = 10_000;

pub struct ListFilter<'a> {
    pub engine: Engine,
    pub account_id: &'a str,
    pub now_ms: i64,
    pub status: Option<UserStatus>,
    /// The search term, folded as names and addresses are stored; empty for none.
    pub search: &'a str,
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

/// A query with its parameters, numbered as they are added.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

enum Bind {
    Text(String),
    Int(i64),
}

impl Sql {
    fn param(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn bound_query<'q>(&'q self, mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.as_str()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }

    fn bound<'q, O>(&'q self, mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.as_str()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }
}

/// The status the page shows, from the user's row alone.
fn status_sql(now: &str) -> String {
    format!(
        "CASE WHEN u.status = '{invited}' AND {expired} THEN '{expired_name}' ELSE u.status END",
        invited = StoredUserStatus::Invited.as_str(),
        expired = expired_sql("u.pending_expires_at", now),
        expired_name = UserStatus::Expired.as_str(),
    )
}

/// `FROM … WHERE …` of the users the filter keeps, with the CTEs it needs.
fn matching(filter: &ListFilter<'_>, sql: &mut Sql) -> (String, String) {
    let mut ctes = Vec::new();
    let mut conditions = vec![format!("u.account_id = {}", sql.param(Bind::Text(filter.account_id.into())))];
    let now = sql.param(Bind::Int(filter.now_ms));
    let invited = StoredUserStatus::Invited.as_str();
    match filter.status {
        None => {}
        Some(UserStatus::Expired) => conditions.push(format!("u.status = '{invited}' AND {}", expired_sql("u.pending_expires_at", &now))),
        Some(UserStatus::Invited) => {
            conditions.push(format!("u.status = '{invited}' AND (u.pending_expires_at IS NULL OR NOT ({}))", expired_sql("u.pending_expires_at", &now)))
        }
        Some(other) => conditions.push(format!("u.status = '{}'", other.as_str())),
    }
    if !filter.search.is_empty() {
        let trigram_search = filter.search.chars().count() >= 3;
        match (filter.engine, trigram_search) {
            (Engine::Sqlite, true) => {
                // An FTS5 phrase: quotes inside it are doubled.
                let phrase = sql.param(Bind::Text(format!("\"{}\"", filter.search.replace('"', "\"\""))));
                conditions.push(format!("u.search_doc IN (SELECT rowid FROM users_search WHERE users_search MATCH {phrase})"));
            }
            // Shorter than a trigram (and on PostgreSQL, where pg_trgm serves LIKE itself).
            _ => {
                let escaped = filter.search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                let pattern = sql.param(Bind::Text(format!("%{escaped}%")));
                conditions.push(format!("(u.name_folded || ' ' || u.email) LIKE {pattern} ESCAPE '\\'"));
            }
        }
    }
    let pending = StoredInvitationState::Pending.as_str();
    let people_in = |places: &str| {
        format!(
            "u.id IN (SELECT m.user_id FROM memberships m WHERE m.scope_id IN (SELECT id FROM {places}) \
                      UNION SELECT i.user_id FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id \
                      WHERE i.state = '{pending}' AND r.scope_id IN (SELECT id FROM {places}))"
        )
    };
    if let Some(scope) = filter.scope {
        let root = sql.param(Bind::Text(scope.into()));
        ctes.push(format!("filtered(id) AS (SELECT id FROM scopes WHERE id = {root} UNION SELECT s.id FROM scopes s JOIN filtered f ON s.parent_id = f.id)"));
        conditions.push(people_in("filtered"));
    }
    if let Some(admin) = filter.administered_by {
        let admin = sql.param(Bind::Text(admin.into()));
        ctes.push(format!(
            "administered(id) AS ( \
               SELECT s.id FROM memberships m JOIN scopes s ON s.id = m.scope_id \
               WHERE m.user_id = {admin} AND m.role = '{role}' AND s.kind <> '{account}' AND s.archived_at IS NULL \
               UNION SELECT s.id FROM scopes s JOIN administered a ON s.parent_id = a.id WHERE s.archived_at IS NULL)",
            role = Role::Admin.as_str(),
            account = ScopeKind::Account.as_str()
        ));
        conditions.push(people_in("administered"));
    }
    let with = if ctes.is_empty() { String::new() } else { format!("WITH RECURSIVE {} ", ctes.join(", ")) };
    (with, format!("FROM users u WHERE {}", conditions.join(" AND ")))
}

fn order_by(sort: UsersSort, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    match sort {
        UsersSort::Name => format!("u.sort_name {dir}, u.email {dir}"),
        UsersSort::Email => format!("u.email {dir}"),
        UsersSort::Status => format!("u.status {dir}, u.sort_name {dir}, u.email {dir}"),
        // NULLs sort differently on the two engines; none of them is an invitation date.
        UsersSort::Invited => format!("COALESCE(u.invited_at, 0) {dir}, u.email {dir}"),
    }
}

fn count_sql(filter: &ListFilter<'_>) -> Sql {
    let mut count = Sql::default();
    let (with, from) = matching(filter, &mut count);
    count.text = format!("{with}SELECT COUNT(*) FROM (SELECT 1 {from} LIMIT {}) capped", COUNT_CAP + 1);
    count
}

fn page_sql(filter: &ListFilter<'_>) -> Sql {
    let mut page = Sql::default();
    let (with, from) = matching(filter, &mut page);
    let now = page.param(Bind::Int(filter.now_ms));
    let limit = page.param(Bind::Int(filter.limit));
    let offset = page.param(Bind::Int(filter.offset));
    page.text = format!(
        "{with}SELECT u.id, u.name, u.email, {status} AS status, \
                i.id AS invitation_id, i.created_at AS invited_at, i.last_sent_at, i.expires_at, i.send_count \
         FROM (SELECT u.* {from} ORDER BY {order} LIMIT {limit} OFFSET {offset}) u \
         LEFT JOIN invitations i ON i.user_id = u.id AND i.state = '{pending}' \
         ORDER BY {order}",
        status = status_sql(&now),
        order = order_by(filter.sort, filter.descending),
        pending = StoredInvitationState::Pending.as_str(),
    );
    page
}

/// How many users match (counting stops past [`COUNT_CAP`]), and the page asked for.
pub async fn page(conn: &mut Conn, filter: &ListFilter<'_>) -> sqlx::Result<(i64, Vec<ListedUser>)> {
    let count = count_sql(filter);
    let (total,): (i64,) = count.bound(sqlx::query_as(&count.text)).fetch_one(&mut *conn).await?;
    let page = page_sql(filter);
    let rows = page.bound(sqlx::query_as(&page.text)).fetch_all(&mut *conn).await?;
    Ok((total, rows))
}

/// The engine's plans for the count and the page, one line per step, for benchmarks and
/// for anyone checking which indexes a filter uses.
pub async fn explain(conn: &mut Conn, filter: &ListFilter<'_>) -> sqlx::Result<Vec<String>> {
    let mut lines = Vec::new();
    for (what, mut sql) in [("count", count_sql(filter)), ("page", page_sql(filter))] {
        lines.push(format!("-- {what}"));
        sql.text = match filter.engine {
            Engine::Sqlite => format!("EXPLAIN QUERY PLAN {}", sql.text),
            Engine::Postgres => format!("EXPLAIN {}", sql.text),
        };
        let column = match filter.engine {
            Engine::Sqlite => 3,
            Engine::Postgres => 0,
        };
        let rows: Vec<sqlx::any::AnyRow> = sql.bound_query(sqlx::query(&sql.text)).fetch_all(&mut *conn).await?;
        for row in rows {
            use sqlx::Row;
            lines.push(row.try_get::<String, _>(column)?);
        }
    }
    Ok(lines)
}

/// The users `ids` as the list shows them, by name.
pub async fn by_ids(conn: &mut Conn, account_id: &str, ids: &[String], now_ms: i64) -> sqlx::Result<Vec<ListedUser>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (4..4 + ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT u.id, u.name, u.email, {status} AS status, \
                i.id AS invitation_id, i.created_at AS invited_at, i.last_sent_at, i.expires_at, i.send_count \
         FROM users u LEFT JOIN invitations i ON i.user_id = u.id AND i.state = $3 \
         WHERE u.account_id = $1 AND u.id IN ({list}) \
         ORDER BY u.sort_name, u.email",
        status = status_sql("$2"),
    );
    let mut query = sqlx::query_as(&sql).bind(account_id).bind(now_ms).bind(StoredInvitationState::Pending.as_str());
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}
