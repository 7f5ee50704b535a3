use super::Conn;
use shared::RoleKey;

pub async fn grant(conn: &mut Conn, user_id: &str, scope_id: &str, role: &RoleKey, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO memberships (user_id, scope_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(scope_id)
        .bind(role.as_stored())
        .bind(now_ms)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The roles a user holds in one scope.
pub async fn roles_in(conn: &mut Conn, user_id: &str, scope_id: &str) -> sqlx::Result<Vec<RoleKey>> {
    let stored: Vec<String> = sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND scope_id = $2 ORDER BY role")
        .bind(user_id)
        .bind(scope_id)
        .fetch_all(conn)
        .await?;
    stored.into_iter().map(|r| RoleKey::try_from(r).map_err(|e| sqlx::Error::Decode(Box::new(e)))).collect()
}

/// What decides what a person may do, read in one statement (a page asks for it on every
/// request): the account's name and own scope, the roles held there, and every live place
/// the person administers with the places below them.
pub struct Held {
    pub account_name: String,
    pub account_scope_id: String,
    pub account_roles: Vec<RoleKey>,
    pub administered: Vec<String>,
}

pub async fn held(conn: &mut Conn, user_id: &str, account_id: &str) -> sqlx::Result<Held> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "WITH RECURSIVE administered(id) AS ( \
           SELECT s.id FROM memberships m JOIN scopes s ON s.id = m.scope_id \
           WHERE m.user_id = $1 AND m.role = $2 AND s.kind <> $3 AND s.archived_at IS NULL \
           UNION SELECT s.id FROM scopes s JOIN administered a ON s.parent_id = a.id WHERE s.archived_at IS NULL) \
         SELECT 'account', a.name, s.id FROM accounts a JOIN scopes s ON s.account_id = a.id AND s.kind = $3 WHERE a.id = $4 \
         UNION ALL SELECT 'role', m.role, '' FROM memberships m JOIN scopes s ON s.id = m.scope_id \
           WHERE m.user_id = $1 AND s.account_id = $4 AND s.kind = $3 \
         UNION ALL SELECT 'administers', id, '' FROM administered",
    )
    .bind(user_id)
    .bind(shared::Role::Admin.as_str())
    .bind(shared::scopes::ScopeKind::Account.as_str())
    .bind(account_id)
    .fetch_all(conn)
    .await?;
    let mut held = Held { account_name: String::new(), account_scope_id: String::new(), account_roles: Vec::new(), administered: Vec::new() };
    let mut account_found = false;
    for (what, value, extra) in rows {
        match what.as_str() {
            "account" => {
                (held.account_name, held.account_scope_id, account_found) = (value, extra, true);
            }
            "role" => held.account_roles.push(RoleKey::try_from(value).map_err(|e| sqlx::Error::Decode(Box::new(e)))?),
            _ => held.administered.push(value),
        }
    }
    if !account_found {
        return Err(sqlx::Error::RowNotFound);
    }
    held.account_roles.sort_by_key(|r| r.as_stored());
    Ok(held)
}

/// Every role the user holds, by place.
pub async fn held_by(conn: &mut Conn, user_id: &str) -> sqlx::Result<Vec<shared::scopes::Grant>> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT scope_id, role FROM memberships WHERE user_id = $1").bind(user_id).fetch_all(conn).await?;
    let mut grants = rows
        .into_iter()
        .map(|(scope_id, role)| RoleKey::try_from(role).map(|role| shared::scopes::Grant { scope_id, role }).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .collect::<sqlx::Result<Vec<_>>>()?;
    grants.sort();
    Ok(grants)
}

/// Takes a role away; how many rows went (0: it was not held).
pub async fn revoke(conn: &mut Conn, user_id: &str, grant: &shared::scopes::Grant) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND scope_id = $2 AND role = $3")
        .bind(user_id)
        .bind(&grant.scope_id)
        .bind(grant.role.as_stored())
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
}

/// How many active people hold Owner in the account's own scope.
pub async fn active_owners(conn: &mut Conn, account_scope_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.scope_id = $1 AND m.role = $2 AND u.status = $3")
        .bind(account_scope_id)
        .bind(shared::Role::Owner.as_str())
        .bind(shared::status::StoredUserStatus::Active.as_str())
        .fetch_one(conn)
        .await
}
