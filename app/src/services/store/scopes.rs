use super::{placeholders, Conn};
use shared::scopes::ScopeKind;
use shared::status::StoredInvitationState;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ScopeRecord {
    pub id: String,
    pub account_id: String,
    #[sqlx(try_from = "String")]
    pub kind: ScopeKind,
    pub name: String,
    pub parent_id: Option<String>,
    pub archived_at: Option<i64>,
    /// The archiving that put it away (see [`archive`]).
    pub archive_id: Option<String>,
}

const COLUMNS: &str = "id, account_id, kind, name, parent_id, archived_at, archive_id";

pub struct NewScope<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub kind: ScopeKind,
    pub name: &'a str,
    pub parent_id: Option<&'a str>,
}

pub async fn insert(conn: &mut Conn, scope: NewScope<'_>, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO scopes (id, account_id, kind, name, parent_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(scope.id)
        .bind(scope.account_id)
        .bind(scope.kind.as_str())
        .bind(scope.name)
        .bind(scope.parent_id)
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn get(conn: &mut Conn, account_id: &str, id: &str) -> sqlx::Result<Option<ScopeRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM scopes WHERE account_id = $1 AND id = $2")).bind(account_id).bind(id).fetch_optional(conn).await
}

/// Every scope of the account, the account's own included.
pub async fn all(conn: &mut Conn, account_id: &str) -> sqlx::Result<Vec<ScopeRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM scopes WHERE account_id = $1 ORDER BY lower(name), id")).bind(account_id).fetch_all(conn).await
}

/// Which of the scopes `ids` are live (not archived), keeping them as they are until the
/// transaction ends (see [`super::RowLock`]): an archiving waits for what decided on them.
pub async fn lock_live(conn: &mut Conn, engine: super::Engine, ids: &[String]) -> sqlx::Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT id, archived_at FROM scopes WHERE id IN ({}) ORDER BY id{}", placeholders(1, ids.len()), super::RowLock::Share.clause(engine));
    let mut query = sqlx::query_as::<_, (String, Option<i64>)>(&sql);
    for id in ids {
        query = query.bind(id);
    }
    Ok(query.fetch_all(conn).await?.into_iter().filter(|(_, archived)| archived.is_none()).map(|(id, _)| id).collect())
}

/// Locks the scopes `ids` until the transaction ends (see [`super::RowLock`]), before an
/// archiving counts what is open in them: what would offer a role there waits, or is seen.
pub async fn lock_for_archiving(conn: &mut Conn, engine: super::Engine, ids: &[String]) -> sqlx::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!("SELECT id FROM scopes WHERE id IN ({}) ORDER BY id{}", placeholders(1, ids.len()), super::RowLock::Update.clause(engine));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await.map(|_| ())
}

/// The account's own scope, where account-wide roles are held.
pub async fn account_scope_id(conn: &mut Conn, account_id: &str) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT id FROM scopes WHERE account_id = $1 AND kind = $2").bind(account_id).bind(ScopeKind::Account.as_str()).fetch_one(conn).await
}

pub async fn rename(conn: &mut Conn, id: &str, name: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE scopes SET name = $1 WHERE id = $2").bind(name).bind(id).execute(conn).await.map(|_| ())
}

/// Archives those of the scopes `ids` that are live, as the archiving `archive_id`; the ones
/// archived already keep their own archiving. Returns how many it archived.
pub async fn archive(conn: &mut Conn, ids: &[String], archive_id: &str, at: i64) -> sqlx::Result<u64> {
    let mut archived = 0;
    for id in ids {
        let done = sqlx::query("UPDATE scopes SET archived_at = $1, archive_id = $2 WHERE id = $3 AND archived_at IS NULL")
            .bind(at)
            .bind(archive_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        archived += done.rows_affected();
    }
    Ok(archived)
}

/// Brings the scopes `ids` back.
pub async fn restore(conn: &mut Conn, ids: &[String]) -> sqlx::Result<()> {
    for id in ids {
        sqlx::query("UPDATE scopes SET archived_at = NULL, archive_id = NULL WHERE id = $1").bind(id).execute(&mut *conn).await?;
    }
    Ok(())
}

/// For each place of the account (not the account itself, which the tree does not show:
/// counting there would read every membership and invitation): how many people hold a role
/// there, and how many open invitations offer one. Place by place through the scope
/// indexes, so a large account's thousands of account-wide roles are never read.
pub async fn place_counts(conn: &mut Conn, account_id: &str) -> sqlx::Result<Vec<(String, i64, i64)>> {
    sqlx::query_as(
        "SELECT s.id, \
           (SELECT COUNT(DISTINCT m.user_id) FROM memberships m WHERE m.scope_id = s.id), \
           (SELECT COUNT(DISTINCT r.invitation_id) FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id \
            WHERE r.scope_id = s.id AND i.state = $2) \
         FROM scopes s WHERE s.account_id = $1 AND s.kind <> $3",
    )
    .bind(account_id)
    .bind(StoredInvitationState::Pending.as_str())
    .bind(ScopeKind::Account.as_str())
    .fetch_all(conn)
    .await
}

/// A role held or offered, with the names to show it by.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GrantRow {
    /// The user holding it, or the invitation offering it.
    pub owner_id: String,
    pub scope_id: String,
    pub role: String,
    pub scope_name: String,
    #[sqlx(try_from = "String")]
    pub scope_kind: ScopeKind,
}

/// The roles held by each of `user_ids`.
pub async fn memberships_of(conn: &mut Conn, user_ids: &[String]) -> sqlx::Result<Vec<GrantRow>> {
    grant_rows(conn, "memberships", "user_id", user_ids).await
}

/// The roles offered by each of `invitation_ids`.
pub async fn offered_by(conn: &mut Conn, invitation_ids: &[String]) -> sqlx::Result<Vec<GrantRow>> {
    grant_rows(conn, "invitation_roles", "invitation_id", invitation_ids).await
}

/// [`memberships_of`] `user_ids` and [`offered_by`] `invitation_ids`, in one statement.
pub async fn held_and_offered(conn: &mut Conn, user_ids: &[String], invitation_ids: &[String]) -> sqlx::Result<(Vec<GrantRow>, Vec<GrantRow>)> {
    if user_ids.is_empty() || invitation_ids.is_empty() {
        return Ok((memberships_of(conn, user_ids).await?, offered_by(conn, invitation_ids).await?));
    }
    let sql = format!(
        "SELECT 'held' AS source, g.user_id AS owner_id, g.scope_id, g.role, s.name AS scope_name, s.kind AS scope_kind \
         FROM memberships g JOIN scopes s ON s.id = g.scope_id WHERE g.user_id IN ({}) \
         UNION ALL SELECT 'offered', g.invitation_id, g.scope_id, g.role, s.name, s.kind \
         FROM invitation_roles g JOIN scopes s ON s.id = g.scope_id WHERE g.invitation_id IN ({})",
        placeholders(1, user_ids.len()),
        placeholders(1 + user_ids.len(), invitation_ids.len())
    );
    let mut query = sqlx::query_as::<_, SourcedGrantRow>(&sql);
    for id in user_ids.iter().chain(invitation_ids) {
        query = query.bind(id);
    }
    let (held, offered): (Vec<_>, Vec<_>) = query.fetch_all(conn).await?.into_iter().partition(|r| r.source == "held");
    Ok((held.into_iter().map(|r| r.row).collect(), offered.into_iter().map(|r| r.row).collect()))
}

#[derive(sqlx::FromRow)]
struct SourcedGrantRow {
    source: String,
    #[sqlx(flatten)]
    row: GrantRow,
}

/// The (owner, place, role) rows of `table` whose `owner` column is one of `ids`.
async fn grant_rows(conn: &mut Conn, table: &str, owner: &str, ids: &[String]) -> sqlx::Result<Vec<GrantRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT g.{owner} AS owner_id, g.scope_id, g.role, s.name AS scope_name, s.kind AS scope_kind \
         FROM {table} g JOIN scopes s ON s.id = g.scope_id WHERE g.{owner} IN ({})",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query_as(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}

/// Users holding a role in one of `scope_ids`, and users whose open invitation offers one.
pub async fn people_in(conn: &mut Conn, scope_ids: &[String]) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    if scope_ids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let members_sql = format!("SELECT DISTINCT user_id FROM memberships WHERE scope_id IN ({})", placeholders(1, scope_ids.len()));
    let invited_sql = format!(
        "SELECT DISTINCT i.user_id FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id \
         WHERE i.state = $1 AND r.scope_id IN ({})",
        placeholders(2, scope_ids.len())
    );
    let mut members = sqlx::query_scalar(&members_sql);
    let mut invited = sqlx::query_scalar(&invited_sql).bind(StoredInvitationState::Pending.as_str());
    for id in scope_ids {
        members = members.bind(id);
        invited = invited.bind(id);
    }
    Ok((members.fetch_all(&mut *conn).await?, invited.fetch_all(&mut *conn).await?))
}

/// Open invitations offering a role in one of `scope_ids`.
pub async fn open_invitations_in(conn: &mut Conn, scope_ids: &[String]) -> sqlx::Result<i64> {
    if scope_ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "SELECT COUNT(DISTINCT i.id) FROM invitation_roles r JOIN invitations i ON i.id = r.invitation_id \
         WHERE i.state = $1 AND r.scope_id IN ({})",
        placeholders(2, scope_ids.len())
    );
    let mut query = sqlx::query_scalar(&sql).bind(StoredInvitationState::Pending.as_str());
    for id in scope_ids {
        query = query.bind(id);
    }
    query.fetch_one(conn).await
}
