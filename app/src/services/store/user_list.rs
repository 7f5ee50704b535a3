//! The Users page's query: filtered, searched, sorted and paged in SQL, from indexes on the
//! user's own row (see migration 0007) so that a page of a large account does not read it
//! all. The search is engine-specific (SQLite: an FTS5 trigram table; PostgreSQL: a pg_trgm
//! index); both find the same rows: every user whose "name address" contains the term.
//!
//! A search that matches few people (up to [`SEARCH_COUNT_CAP`]) reads its matches through
//! the search index and sorts them; one that matches more (or is shorter than a trigram)
//! walks the list's order through an index that holds every column the test reads, and
//! stops at a page. Either way the users' own rows are read for the page's rows only.
//!
//! A page reached by Previous or Next is read from where its neighbour ended (keyset
//! paging): the index is entered at that row's sort key, so page 2,000 costs what page 1
//! costs. The Status order is read one status at a time (each a range of the status
//! index, Expired told apart from Invited by the expiry held in that index), in the order
//! of [`UserStatus::ALL`].

use super::invitations::expired_sql;
use super::Conn;
use crate::services::db::Engine;
use shared::scopes::ScopeKind;
use shared::status::{OpenInvitation, StoredInvitationState, StoredUserStatus, UserStatus};
use shared::views::{RowAt, UsersSort};
use shared::Role;
use sqlx::any::AnyArguments;
use sqlx::Arguments;

/// Counting stops here: past it the page says "more than".
pub const COUNT_CAP: i64 = 10_000;
/// A search counts to here: one matching more is one to narrow. Up to here its matches
/// are read and sorted; past it they are dense enough to find by walking the list.
pub const SEARCH_COUNT_CAP: i64 = 1_000;

/// Where counting stops for this filter.
pub fn count_cap(filter: &ListFilter<'_>) -> i64 {
    if filter.search.is_empty() {
        COUNT_CAP
    } else {
        SEARCH_COUNT_CAP
    }
}

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
}

/// Where a page of the list starts.
#[derive(Clone, Debug)]
pub enum Start {
    /// After this many rows (a page number typed into the address).
    Offset(i64),
    /// Just after the row with this key (Next).
    After(SortKey),
    /// Just before it (Previous).
    Before(SortKey),
}

impl Start {
    /// Whether the page is read forward, from which key, after how many rows.
    fn parts(&self) -> (bool, Option<&SortKey>, i64) {
        match self {
            Start::Offset(offset) => (true, None, (*offset).max(0)),
            Start::After(key) => (true, Some(key), 0),
            Start::Before(key) => (false, Some(key), 0),
        }
    }
}

/// A user's place in every order the list offers.
#[derive(Clone, Debug)]
pub struct SortKey {
    pub status: UserStatus,
    pub sort_name: String,
    pub email: String,
    pub invited: i64,
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
    pub awaiting_since: Option<i64>,
    pub awaiting_reason: Option<String>,
    /// A pending invitation's address bounced hard and is held: the bounce's words and when.
    pub held_reply: Option<String>,
    pub held_at: Option<i64>,
}

/// A query with its parameters, numbered as they are added.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

impl Sql {
    fn param(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn arguments(&self) -> sqlx::Result<AnyArguments<'_>> {
        let mut arguments = AnyArguments::default();
        for bind in &self.binds {
            match bind {
                Bind::Text(text) => arguments.add(text.as_str()),
                Bind::Int(n) => arguments.add(*n),
            }
            .map_err(sqlx::Error::Encode)?;
        }
        Ok(arguments)
    }
}

/// The status the page shows, from the user's row alone.
fn status_sql(now: &str) -> String {
    format!(
        "CASE WHEN u.status = '{invited}' AND {expired} THEN '{expired_name}' \
              WHEN u.status = '{invited}' AND u.awaiting_since IS NOT NULL THEN '{awaiting}' ELSE u.status END",
        invited = StoredUserStatus::Invited.as_str(),
        expired = expired_sql("u.pending_expires_at", now),
        expired_name = UserStatus::Expired.as_str(),
        awaiting = UserStatus::AwaitingConfirmation.as_str(),
    )
}

/// How a search finds its users.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Each match, from the search index.
    Matches,
    /// Every user in the list's order, each tested.
    Walk,
}

/// The users a filter keeps: `{with}SELECT … FROM {from} WHERE {conditions}`.
struct Matching {
    with: String,
    from: String,
    conditions: Vec<String>,
}

/// SQLite finds terms of a trigram or longer through its FTS5 table; PostgreSQL's planner
/// uses its trigram index for LIKE by itself.
fn trigram_table(filter: &ListFilter<'_>) -> bool {
    filter.engine == Engine::Sqlite && filter.search.chars().count() >= 3
}

/// The users of `filter` whose status is `status`.
fn matching(filter: &ListFilter<'_>, status: Option<UserStatus>, reading: Reading, sql: &mut Sql) -> Matching {
    let mut ctes = Vec::new();
    let mut from = "users u".to_string();
    let mut conditions = vec![format!("u.account_id = {}", sql.param(Bind::Text(filter.account_id.into())))];
    let invited = StoredUserStatus::Invited.as_str();
    match status {
        None => {}
        Some(UserStatus::Expired) => {
            let now = sql.param(Bind::Int(filter.now_ms));
            conditions.push(format!("u.status = '{invited}' AND {}", expired_sql("u.pending_expires_at", &now)))
        }
        Some(status @ (UserStatus::Invited | UserStatus::AwaitingConfirmation)) => {
            let now = sql.param(Bind::Int(filter.now_ms));
            let awaiting = if status == UserStatus::Invited { "IS NULL" } else { "IS NOT NULL" };
            conditions.push(format!(
                "u.status = '{invited}' AND (u.pending_expires_at IS NULL OR NOT ({})) AND u.awaiting_since {awaiting}",
                expired_sql("u.pending_expires_at", &now)
            ))
        }
        Some(other) => conditions.push(format!("u.status = '{}'", other.as_str())),
    }
    if !filter.search.is_empty() {
        if reading == Reading::Matches && trigram_table(filter) {
            // An FTS5 phrase (quotes inside it doubled); CROSS JOIN keeps the matches first,
            // and each match's filters are read from the index that holds them (migration
            // 0009), which the planner would pass over for the unique one on search_doc.
            let phrase = sql.param(Bind::Text(format!("\"{}\"", filter.search.replace('"', "\"\""))));
            from = "users_search s CROSS JOIN users u INDEXED BY users_by_search_doc_filters ON u.search_doc = s.rowid".into();
            conditions.push(format!("s.users_search MATCH {phrase}"));
        } else {
            let escaped = super::like_literal(filter.search);
            let pattern = sql.param(Bind::Text(format!("%{escaped}%")));
            conditions.push(format!("(u.name_folded || ' ' || u.email) LIKE {pattern} ESCAPE '\\'"));
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
    Matching { with, from, conditions }
}

/// What names a user's row in a page read from an index: SQLite's indexes hold the rowid,
/// PostgreSQL's hold the id (see migration 0008).
fn row_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "rowid",
        Engine::Postgres => "id",
    }
}

/// The columns that order the rows of one segment (the email, unique in an account, last).
fn sort_columns(sort: UsersSort) -> &'static [&'static str] {
    match sort {
        UsersSort::Name | UsersSort::Status => &["u.sort_name", "u.email"],
        UsersSort::Email => &["u.email"],
        // NULLs sort differently on the two engines; none of them is an invitation date.
        UsersSort::Invited => &["COALESCE(u.invited_at, 0)", "u.email"],
    }
}

/// A key's values for [`sort_columns`], in their order.
fn key_values(sort: UsersSort, key: &SortKey) -> Vec<Bind> {
    let (name, email) = (Bind::Text(key.sort_name.clone()), Bind::Text(key.email.clone()));
    match sort {
        UsersSort::Name | UsersSort::Status => vec![name, email],
        UsersSort::Email => vec![email],
        UsersSort::Invited => vec![Bind::Int(key.invited), email],
    }
}

fn order_by(sort: UsersSort, ascending: bool) -> String {
    let dir = if ascending { "ASC" } else { "DESC" };
    sort_columns(sort).iter().map(|column| format!("{column} {dir}")).collect::<Vec<_>>().join(", ")
}

/// The statuses read one after the other, in the order the list shows them; `None` is
/// one read of every status the filter keeps (every order but Status).
fn segments(filter: &ListFilter<'_>) -> Vec<Option<UserStatus>> {
    match filter.sort {
        UsersSort::Status => {
            let mut statuses: Vec<_> = UserStatus::ALL.iter().copied().filter(|s| filter.status.is_none_or(|only| only == *s)).map(Some).collect();
            if filter.descending {
                statuses.reverse();
            }
            statuses
        }
        _ => vec![filter.status],
    }
}

/// Where a status stands in the list's order (every status is 0 outside the Status order).
fn rank(filter: &ListFilter<'_>, status: Option<UserStatus>) -> usize {
    match (filter.sort, status) {
        (UsersSort::Status, Some(status)) => {
            let at = UserStatus::ALL.iter().position(|s| *s == status).unwrap_or(0);
            if filter.descending {
                UserStatus::ALL.len() - 1 - at
            } else {
                at
            }
        }
        _ => 0,
    }
}

fn count_sql(filter: &ListFilter<'_>, status: Option<UserStatus>, cap: i64) -> Sql {
    let mut count = Sql::default();
    let Matching { with, from, conditions } = matching(filter, status, Reading::Matches, &mut count);
    let cap = count.param(Bind::Int(cap));
    // A term shorter than a trigram has no index: counted along the list's own index, which
    // holds what the test reads (PostgreSQL would otherwise scan the table).
    let order = match filter.search.chars().count() {
        1..3 => format!(" ORDER BY {}", order_by(filter.sort, !filter.descending)),
        _ => String::new(),
    };
    count.text = format!("{with}SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {}{order} LIMIT {cap}) capped", conditions.join(" AND "));
    count
}

/// One segment's rows in reading order: forward (the list's order) or backward from a key.
/// The page is found from the index alone; only its own rows are then read.
fn segment_sql(
    filter: &ListFilter<'_>,
    status: Option<UserStatus>,
    reading: Reading,
    from_key: Option<&SortKey>,
    forward: bool,
    limit: i64,
    offset: i64,
) -> Sql {
    let mut page = Sql::default();
    let Matching { with, from, mut conditions } = matching(filter, status, reading, &mut page);
    let ascending = forward != filter.descending;
    if let Some(key) = from_key {
        let columns = sort_columns(filter.sort);
        let values: Vec<String> = key_values(filter.sort, key).into_iter().map(|v| page.param(v)).collect();
        let op = if ascending { ">" } else { "<" };
        conditions.push(match columns.len() {
            1 => format!("{} {op} {}", columns[0], values[0]),
            _ => format!("({}) {op} ({})", columns.join(", "), values.join(", ")),
        });
    }
    let now = page.param(Bind::Int(filter.now_ms));
    let limit = page.param(Bind::Int(limit));
    let offset = page.param(Bind::Int(offset));
    let order = order_by(filter.sort, ascending);
    let row = row_name(filter.engine);
    page.text = format!(
        "{with}SELECT u.id, u.name, u.email, {status} AS status, \
                i.id AS invitation_id, i.created_at AS invited_at, i.last_sent_at, i.expires_at, i.send_count, i.awaiting_since, i.awaiting_reason, \
                h.reply AS held_reply, h.held_at \
         FROM (SELECT u.{row} AS row_name FROM {from} WHERE {conditions} ORDER BY {order} LIMIT {limit} OFFSET {offset}) found \
         JOIN users u ON u.{row} = found.row_name \
         LEFT JOIN invitations i ON i.user_id = u.id AND i.state = '{pending}' \
         LEFT JOIN held_addresses h ON i.id IS NOT NULL AND h.account_id = u.account_id AND h.email = u.email AND h.released_at IS NULL \
         ORDER BY {order}",
        status = status_sql(&now),
        conditions = conditions.join(" AND "),
        pending = StoredInvitationState::Pending.as_str(),
    );
    page
}

/// How a page of `filter` is read, given how many users it matches.
fn reading(filter: &ListFilter<'_>, matches: i64) -> Reading {
    if filter.search.is_empty() || matches > SEARCH_COUNT_CAP {
        Reading::Walk
    } else {
        Reading::Matches
    }
}

/// Whether the list's statements are kept prepared. PostgreSQL plans a kept statement once
/// for any parameters after a few runs, and that generic plan reads `LIKE $1` through the
/// trigram index even for a two-letter term, which the index cannot narrow (90 ms instead
/// of 0.4 ms for "ad" over 100,000 users): there each statement is planned for its values.
fn prepared(filter: &ListFilter<'_>) -> bool {
    filter.engine == Engine::Sqlite
}

/// How many users match; counting stops past [`count_cap`].
pub async fn count(conn: &mut Conn, filter: &ListFilter<'_>) -> sqlx::Result<i64> {
    let sql = count_sql(filter, filter.status, count_cap(filter) + 1);
    let (total,): (i64,) = sqlx::query_as_with(&sql.text, sql.arguments()?).persistent(prepared(filter)).fetch_one(&mut *conn).await?;
    Ok(total)
}

/// How long a count past the cap is taken as still past it.
pub const COUNT_MEMO_MS: i64 = 5_000;
/// At most this many filters are remembered; past it the memo starts again empty.
const COUNT_MEMO_KEYS_MAX: usize = 10_000;

/// Counts past the cap, remembered for [`COUNT_MEMO_MS`] per account and filter. Counting
/// stops at 10,001 (1,001 for a search), and reading those index entries was the largest
/// part of a view of a large account's list, paid again on every page of it; a list past the
/// cap says "more than 10,000" however it changed in the last seconds. A count within the
/// cap, an exact number people read, is counted every time. Each process keeps its own.
#[derive(Default)]
pub struct CountMemo {
    past_cap: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl CountMemo {
    /// [`count`], or the cap plus one when this filter was counted past it moments ago.
    pub async fn count(&self, conn: &mut Conn, filter: &ListFilter<'_>) -> sqlx::Result<i64> {
        let key = memo_key(filter);
        let now = filter.now_ms;
        let recent = |at: i64| at <= now && now - at < COUNT_MEMO_MS;
        if self.past_cap.lock().unwrap_or_else(|e| e.into_inner()).get(&key).is_some_and(|&at| recent(at)) {
            return Ok(count_cap(filter) + 1);
        }
        let counted = count(conn, filter).await?;
        let mut past_cap = self.past_cap.lock().unwrap_or_else(|e| e.into_inner());
        if counted > count_cap(filter) {
            if past_cap.len() >= COUNT_MEMO_KEYS_MAX {
                past_cap.clear();
            }
            past_cap.insert(key, now);
        } else {
            past_cap.remove(&key);
        }
        Ok(counted)
    }
}

/// What a count depends on: everything in the filter but its order and page.
fn memo_key(filter: &ListFilter<'_>) -> String {
    format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        filter.account_id,
        filter.status.map(|s| s.as_str()).unwrap_or(""),
        filter.search,
        filter.scope.unwrap_or(""),
        filter.administered_by.unwrap_or("")
    )
}

/// Up to `filter.limit` users from `start`, in the list's order; `matches` is what
/// [`count`] said.
pub async fn rows(conn: &mut Conn, filter: &ListFilter<'_>, start: &Start, matches: i64) -> sqlx::Result<Vec<ListedUser>> {
    let reading = reading(filter, matches);
    let (forward, key, mut offset) = start.parts();
    let key_rank = key.map(|key| rank(filter, Some(key.status)));
    let mut segments = segments(filter);
    if !forward {
        segments.reverse();
    }
    let several = segments.len() > 1;
    let mut listed: Vec<ListedUser> = Vec::new();
    for status in segments {
        let here = rank(filter, status);
        // Segments before the key's are behind the reader; the key's own is entered at the key.
        let from_key = match key_rank {
            Some(at) if (forward && here < at) || (!forward && here > at) => continue,
            Some(at) if here == at => key,
            _ => None,
        };
        if offset > 0 && several {
            let sql = count_sql(filter, status, offset);
            let (held,): (i64,) = sqlx::query_as_with(&sql.text, sql.arguments()?).persistent(prepared(filter)).fetch_one(&mut *conn).await?;
            if held < offset {
                offset -= held;
                continue;
            }
        }
        let sql = segment_sql(filter, status, reading, from_key, forward, filter.limit - listed.len() as i64, offset);
        offset = 0;
        let query = sqlx::query_as_with::<_, ListedUser, _>(&sql.text, sql.arguments()?).persistent(prepared(filter));
        listed.extend(query.fetch_all(&mut *conn).await?);
        if listed.len() as i64 >= filter.limit {
            break;
        }
    }
    if !forward {
        listed.reverse();
    }
    Ok(listed)
}

/// Where the row `at` names stands in the list's orders, if it is a user this filter's
/// reader may list (in their places; matching the search): a cursor is a position in the
/// reader's own list and never tells anything of anyone else. The status is the one the
/// page showed, when the cursor carries it.
pub async fn key_of(conn: &mut Conn, filter: &ListFilter<'_>, at: &RowAt) -> sqlx::Result<Option<SortKey>> {
    let mut sql = Sql::default();
    let Matching { with, from, mut conditions } = matching(filter, None, Reading::Walk, &mut sql);
    conditions.push(format!("u.id = {}", sql.param(Bind::Text(at.user_id.clone()))));
    sql.text = format!(
        "{with}SELECT u.status, u.pending_expires_at, u.awaiting_since, u.sort_name, u.email, COALESCE(u.invited_at, 0) FROM {from} WHERE {}",
        conditions.join(" AND ")
    );
    type Row = (String, Option<i64>, Option<i64>, String, String, i64);
    let row: Option<Row> = sqlx::query_as_with(&sql.text, sql.arguments()?).persistent(prepared(filter)).fetch_optional(conn).await?;
    let Some((stored, pending_expires_at, awaiting_since, sort_name, email, invited)) = row else { return Ok(None) };
    let stored = StoredUserStatus::try_from(stored).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let open = pending_expires_at.map(|expires_at_ms| OpenInvitation { expires_at_ms, awaiting_confirmation: awaiting_since.is_some() });
    let status = at.status.unwrap_or_else(|| UserStatus::of(stored, open, filter.now_ms));
    Ok(Some(SortKey { status, sort_name, email, invited }))
}

/// The engine's plans for the count and the first read of the page from `start`, one line
/// per step, for benchmarks and for anyone checking which indexes a filter uses.
pub async fn explain(conn: &mut Conn, filter: &ListFilter<'_>, start: &Start, matches: i64) -> sqlx::Result<Vec<String>> {
    let (forward, key, offset) = start.parts();
    let first = match (filter.sort, key) {
        (UsersSort::Status, Some(key)) => Some(key.status),
        _ => segments(filter).first().copied().unwrap_or(filter.status),
    };
    let mut lines = Vec::new();
    let page = segment_sql(filter, first, reading(filter, matches), key, forward, filter.limit, offset);
    for (what, mut sql) in [("count", count_sql(filter, filter.status, count_cap(filter) + 1)), ("page", page)] {
        lines.push(format!("-- {what}"));
        sql.text = match filter.engine {
            Engine::Sqlite => format!("EXPLAIN QUERY PLAN {}", sql.text),
            Engine::Postgres => format!("EXPLAIN {}", sql.text),
        };
        let column = match filter.engine {
            Engine::Sqlite => 3,
            Engine::Postgres => 0,
        };
        let rows: Vec<sqlx::any::AnyRow> = sqlx::query_with(&sql.text, sql.arguments()?).fetch_all(&mut *conn).await?;
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
                i.id AS invitation_id, i.created_at AS invited_at, i.last_sent_at, i.expires_at, i.send_count, i.awaiting_since, i.awaiting_reason, \
                h.reply AS held_reply, h.held_at \
         FROM users u LEFT JOIN invitations i ON i.user_id = u.id AND i.state = $3 \
         LEFT JOIN held_addresses h ON i.id IS NOT NULL AND h.account_id = u.account_id AND h.email = u.email AND h.released_at IS NULL \
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

/// Every user `filter` keeps (its status, search, place and reader), up to `max`, in the
/// list's order: the people of "select all matching this filter".
pub async fn matching_ids(conn: &mut Conn, filter: &ListFilter<'_>, max: i64) -> sqlx::Result<Vec<String>> {
    let mut sql = Sql::default();
    let Matching { with, from, conditions } = matching(filter, filter.status, Reading::Walk, &mut sql);
    let limit = sql.param(Bind::Int(max));
    sql.text = format!("{with}SELECT u.id FROM {from} WHERE {} ORDER BY {} LIMIT {limit}", conditions.join(" AND "), order_by(filter.sort, !filter.descending));
    sqlx::query_scalar_with(&sql.text, sql.arguments()?).fetch_all(conn).await
}

/// Which of `ids` `filter`'s reader may list (people of their account, and of their places
/// for a scope administrator), in the order given.
pub async fn visible_among(conn: &mut Conn, filter: &ListFilter<'_>, ids: &[String]) -> sqlx::Result<Vec<String>> {
    let mut visible = std::collections::HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut sql = Sql::default();
        let Matching { with, from, mut conditions } = matching(filter, None, Reading::Walk, &mut sql);
        let list: Vec<String> = chunk.iter().map(|id| sql.param(Bind::Text(id.clone()))).collect();
        conditions.push(format!("u.id IN ({})", list.join(", ")));
        sql.text = format!("{with}SELECT u.id FROM {from} WHERE {}", conditions.join(" AND "));
        let found: Vec<String> = sqlx::query_scalar_with(&sql.text, sql.arguments()?).fetch_all(&mut *conn).await?;
        visible.extend(found);
    }
    Ok(ids.iter().filter(|id| visible.contains(*id)).cloned().collect())
}

/// How many users `filter` keeps, counting no further than `cap`.
pub async fn count_upto(conn: &mut Conn, filter: &ListFilter<'_>, cap: i64) -> sqlx::Result<i64> {
    let sql = count_sql(filter, filter.status, cap);
    let (total,): (i64,) = sqlx::query_as_with(&sql.text, sql.arguments()?).persistent(prepared(filter)).fetch_one(&mut *conn).await?;
    Ok(total)
}
