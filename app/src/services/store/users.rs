use super::Conn;
use shared::status::StoredUserStatus;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub status: StoredUserStatus,
    pub password_hash: Option<String>,
    pub auth_version: i64,
    pub people_permission: i64,
    /// Set with a temporary password: nothing opens before they choose their own.
    pub must_change_password: i64,
}

impl UserRecord {
    pub fn is_active(&self) -> bool {
        self.status == StoredUserStatus::Active
    }
}

pub(crate) const COLUMNS: &str = "id, account_id, email, name, status, password_hash, auth_version, people_permission, must_change_password";

pub struct NewUser<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub status: StoredUserStatus,
    pub password_hash: Option<&'a str>,
}

pub async fn insert(conn: &mut Conn, user: NewUser<'_>, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, account_id, email, name, name_folded, sort_name, status, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $8, $9, $5, $6, $7, $7)",
    )
    .bind(user.id)
    .bind(user.account_id)
    .bind(user.email)
    .bind(user.name)
    .bind(user.status.as_str())
    .bind(user.password_hash)
    .bind(now_ms)
    .bind(folded(user.name))
    .bind(sort_name(user.name, user.email))
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1")).bind(id).fetch_optional(conn).await
}

/// [`get`] for each of `ids` (those that exist, in no particular order).
pub async fn get_many(conn: &mut Conn, ids: &[String]) -> sqlx::Result<Vec<UserRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id IN ({})", super::placeholders(1, ids.len()));
    let mut query = sqlx::query_as(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}

/// [`get`], keeping the row as it is until the transaction ends (see [`super::RowLock`]):
/// for decisions that depend on what the person is or holds.
pub async fn get_locked(conn: &mut Conn, engine: super::Engine, id: &str) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1{}", super::RowLock::Share.clause(engine))).bind(id).fetch_optional(conn).await
}

/// Users with this (normalised) email in any account.
pub async fn find_by_email(conn: &mut Conn, email: &str) -> sqlx::Result<Vec<UserRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1 ORDER BY created_at")).bind(email).fetch_all(conn).await
}

/// Stores a new password hash and moves `auth_version` on, which ends every session
/// signed in with the old password.
pub async fn set_password(conn: &mut Conn, id: &str, password_hash: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $1, auth_version = auth_version + 1, must_change_password = 0, updated_at = $2 \
         WHERE id = $3",
    )
    .bind(password_hash)
    .bind(now_ms)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The user with this (normalised) email in the account.
pub async fn find_in_account(conn: &mut Conn, account_id: &str, email: &str) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE account_id = $1 AND email = $2")).bind(account_id).bind(email).fetch_optional(conn).await
}

/// The users of the account with any of these (normalised) emails, 500 asked at a time.
pub async fn find_all_in_account<S: AsRef<str>>(conn: &mut Conn, account_id: &str, emails: &[S]) -> sqlx::Result<Vec<UserRecord>> {
    let mut found = Vec::new();
    for chunk in emails.chunks(500) {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE account_id = $1 AND email IN ({})", super::placeholders(2, chunk.len()));
        let mut query = sqlx::query_as::<_, UserRecord>(&sql).bind(account_id);
        for email in chunk {
            query = query.bind(email.as_ref().to_string());
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

pub async fn set_status(conn: &mut Conn, id: &str, status: StoredUserStatus, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3").bind(status.as_str()).bind(now_ms).bind(id).execute(conn).await.map(|_| ())
}

/// A new user's first sign-in details, set when they accept their invitation.
pub async fn activate(conn: &mut Conn, id: &str, name: &str, password_hash: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET status = $1, name = $2, password_hash = $3, updated_at = $4, name_folded = $6, \
           sort_name = CASE WHEN $6 = '' THEN email ELSE $6 END WHERE id = $5",
    )
    .bind(StoredUserStatus::Active.as_str())
    .bind(name)
    .bind(password_hash)
    .bind(now_ms)
    .bind(id)
    .bind(folded(name))
    .execute(conn)
    .await
    .map(|_| ())
}

/// A name and password an invitee chose while their access waits for an administrator's
/// confirmation: they are kept, and the person stays as they were (not active yet).
pub async fn set_profile(conn: &mut Conn, id: &str, name: &str, password_hash: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET name = $1, password_hash = $2, updated_at = $3, name_folded = $5, \
           sort_name = CASE WHEN $5 = '' THEN email ELSE $5 END WHERE id = $4",
    )
    .bind(name)
    .bind(password_hash)
    .bind(now_ms)
    .bind(id)
    .bind(folded(name))
    .execute(conn)
    .await
    .map(|_| ())
}

/// A name as search and sorting compare it (the `name_folded` column).
pub fn folded(name: &str) -> String {
    name.to_lowercase()
}

/// What the Users page sorts by name on: the folded name, or the address when there is none.
pub fn sort_name(name: &str, email: &str) -> String {
    match folded(name.trim()) {
        n if n.is_empty() => email.to_string(),
        n => n,
    }
}

/// Copies the dates of the user's open invitation (none: NULL) onto their row, where the
/// Users page filters and sorts on them. Called by every change of an invitation's state or
/// expiry, in its transaction.
pub async fn sync_open_invitation(conn: &mut Conn, user_id: &str) -> sqlx::Result<()> {
    sync_open_invitations(conn, std::slice::from_ref(&user_id.to_string())).await
}

/// [`sync_open_invitation`] for several users in one statement (a bulk job's batch).
pub async fn sync_open_invitations(conn: &mut Conn, user_ids: &[String]) -> sqlx::Result<()> {
    for chunk in user_ids.chunks(500) {
        let sql = format!("UPDATE users SET {} WHERE id IN ({})", open_invitation_assignments(), super::placeholders(1, chunk.len()));
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The SET clause [`sync_open_invitation`] keeps a user's row in step by, for statements
/// that sync many rows at once (an import).
pub fn open_invitation_assignments() -> String {
    let pending = shared::status::StoredInvitationState::Pending.as_str();
    format!(
        "invited_at = (SELECT i.created_at FROM invitations i WHERE i.user_id = users.id AND i.state = '{pending}'), \
         pending_expires_at = (SELECT i.expires_at FROM invitations i WHERE i.user_id = users.id AND i.state = '{pending}'), \
         awaiting_since = (SELECT i.awaiting_since FROM invitations i WHERE i.user_id = users.id AND i.state = '{pending}')"
    )
}

pub async fn set_people_permission(conn: &mut Conn, id: &str, people: bool, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET people_permission = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(people))
        .bind(now_ms)
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// [`get`], locking the row against every other change until the transaction ends (see
/// [`super::RowLock`]): for an action that changes the person.
pub async fn get_for_update(conn: &mut Conn, engine: super::Engine, id: &str) -> sqlx::Result<Option<UserRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1{}", super::RowLock::Update.clause(engine))).bind(id).fetch_optional(conn).await
}

/// Moves `auth_version` on: every session of the user ends at its next request.
pub async fn end_sessions(conn: &mut Conn, id: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET auth_version = auth_version + 1, updated_at = $1 WHERE id = $2").bind(now_ms).bind(id).execute(conn).await.map(|_| ())
}

/// An administrator's temporary password: the person is active, every earlier session
/// ends, and they must choose their own password before anything else.
pub async fn set_temporary_password(conn: &mut Conn, id: &str, password_hash: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET status = $1, password_hash = $2, must_change_password = 1, auth_version = auth_version + 1, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(StoredUserStatus::Active.as_str())
    .bind(password_hash)
    .bind(now_ms)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A corrected address (and the sort name that falls back on it).
pub async fn set_email(conn: &mut Conn, id: &str, email: &str, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email = $1, sort_name = CASE WHEN name_folded = '' THEN $1 ELSE sort_name END, updated_at = $2 WHERE id = $3")
        .bind(email)
        .bind(now_ms)
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Erases a person: their invitations, roles, reset links and sign-ins go; the messages to
/// their address keep their place in the delivery log (and in the sending budgets) with the
/// address and contents blanked, and any not yet sent never will be; the events about them,
/// or naming their address, keep no details; the counters kept under their address go; and
/// their row itself. What others did stays, pointing at an id that names nobody now: the
/// audit trail's "a deleted person", and so do the jobs and imports they started. Their
/// sessions die with the row (nobody to load).
pub async fn erase(conn: &mut Conn, account_id: &str, user_id: &str, email: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET recipient = '', subject = '', text_body = '', html_body = '', last_reply = NULL, bounce_reply = NULL, \
           state = CASE WHEN state IN ('queued', 'deferred') THEN 'failed' ELSE state END \
         WHERE account_id = $1 AND (recipient = $3 OR invitation_id IN (SELECT id FROM invitations WHERE user_id = $2) \
           OR password_reset_id IN (SELECT id FROM password_resets WHERE user_id = $2))",
    )
    .bind(account_id)
    .bind(user_id)
    .bind(email)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM held_addresses WHERE account_id = $1 AND email = $2").bind(account_id).bind(email).execute(&mut *conn).await?;
    super::webhooks::erase_subject(conn, account_id, user_id).await?;
    // The notices telling an inviter that their invitation bounced name the person too.
    sqlx::query(
        "UPDATE outbox SET subject = '', text_body = '', html_body = '', bounce_reply = NULL, \
           state = CASE WHEN state IN ('queued', 'deferred') THEN 'failed' ELSE state END \
         WHERE account_id = $1 AND kind = $2 AND text_body LIKE $3 ESCAPE '\\'",
    )
    .bind(account_id)
    .bind(shared::mail::MessageKind::BounceNotice.as_str())
    .bind(format!("%{}%", super::like_literal(email)))
    .execute(&mut *conn)
    .await?;
    // The address as a JSON string value anywhere in an event's details.
    let quoted = format!("%\"{}\"%", like_escaped(email));
    sqlx::query("UPDATE audit_events SET details = '{}' WHERE account_id = $1 AND details LIKE $2 ESCAPE '\\'")
        .bind(account_id)
        .bind(&quoted)
        .execute(&mut *conn)
        .await?;
    let exact = [
        crate::services::store::outbox::send_budget_key(account_id, email),
        format!("signin:email:{email}"),
        format!("reset:email:{email}"),
        format!("password-change:{user_id}"),
    ];
    sqlx::query("DELETE FROM rate_limits WHERE key IN ($1, $2, $3, $4) OR key LIKE $5 ESCAPE '\\'")
        .bind(&exact[0])
        .bind(&exact[1])
        .bind(&exact[2])
        .bind(&exact[3])
        .bind(format!("signin:email-client:{}:%", like_escaped(email)))
        .execute(&mut *conn)
        .await?;
    // The rows of imports that named them keep their line and verdict, not their details.
    sqlx::query(
        "UPDATE import_rows SET email = '', address = NULL, name = '', message = NULL, detail = '', audit_details = NULL, \
           subject = NULL, text_body = NULL, html_body = NULL \
         WHERE import_id IN (SELECT id FROM imports WHERE account_id = $1) AND (address = $3 OR lower(email) = $3 OR user_id = $2 OR existing_user_id = $2)",
    )
    .bind(account_id)
    .bind(user_id)
    .bind(email)
    .execute(&mut *conn)
    .await?;
    let statements = [
        "DELETE FROM invitation_roles WHERE invitation_id IN (SELECT id FROM invitations WHERE user_id = $2 AND account_id = $1)",
        "DELETE FROM invitations WHERE user_id = $2 AND account_id = $1",
        "UPDATE invitations SET invited_by = NULL WHERE invited_by = $2 AND account_id = $1",
        "UPDATE invitations SET cancelled_by = NULL WHERE cancelled_by = $2 AND account_id = $1",
        "DELETE FROM password_resets WHERE user_id = $2 AND account_id = $1",
        "DELETE FROM memberships WHERE user_id = $2 AND scope_id IN (SELECT id FROM scopes WHERE account_id = $1)",
        "DELETE FROM sign_ins WHERE user_id = $2 AND user_id IN (SELECT id FROM users WHERE account_id = $1)",
        "UPDATE audit_events SET details = '{}' WHERE account_id = $1 AND subject_user_id = $2",
        // Their scripts' kept answers name the people those scripts invited.
        "DELETE FROM api_idempotency_keys WHERE token_id IN (SELECT id FROM api_tokens WHERE user_id = $2 AND account_id = $1)",
        "DELETE FROM users WHERE id = $2 AND account_id = $1",
    ];
    for sql in statements {
        sqlx::query(sql).bind(account_id).bind(user_id).execute(&mut *conn).await?;
    }
    Ok(())
}

/// `text` matched literally by LIKE … ESCAPE '\\'.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
