use super::scopes::GrantRow;
use super::Conn;
use shared::scopes::Grant;
use shared::status::{AwaitingReason, InvitationState, OpenInvitation, StoredInvitationState, StoredUserStatus, UnknownValue};
use shared::RoleKey;

/// `shared::status::is_expired` as SQL, for queries that must decide it in the database:
/// a pending invitation `{expires}` is expired once the clock `{now}` reaches it.
pub fn expired_sql(expires: &str, now: &str) -> String {
    format!("{now} >= {expires}")
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InvitationRecord {
    pub id: String,
    pub account_id: String,
    pub user_id: String,
    pub invited_by: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: StoredInvitationState,
    pub link_version: i64,
    pub personal_message: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_sent_at: i64,
    pub send_count: i64,
    /// When its invitee accepted it while its roles had to wait for an administrator.
    pub awaiting_since: Option<i64>,
    pub awaiting_reason: Option<String>,
}

impl InvitationRecord {
    pub fn state_at(&self, now_ms: i64) -> InvitationState {
        InvitationState::of(self.state, self.expires_at, self.awaiting_since.is_some(), now_ms)
    }

    /// What the status of its invitee depends on.
    pub fn as_open(&self) -> OpenInvitation {
        OpenInvitation { expires_at_ms: self.expires_at, awaiting_confirmation: self.awaiting_since.is_some() }
    }

    /// Why it waits for an administrator, if it does.
    pub fn awaiting_reason(&self) -> Result<Option<AwaitingReason>, UnknownValue> {
        self.awaiting_reason.clone().map(AwaitingReason::try_from).transpose()
    }
}

const COLUMNS: &str = "id, account_id, user_id, invited_by, state, link_version, personal_message, created_at, expires_at, last_sent_at, send_count, \
                       awaiting_since, awaiting_reason";

pub struct NewInvitation<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub user_id: &'a str,
    pub invited_by: &'a str,
    pub personal_message: Option<&'a str>,
    pub expires_at: i64,
}

pub async fn insert(conn: &mut Conn, new: NewInvitation<'_>, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO invitations (id, account_id, user_id, invited_by, state, personal_message, created_at, expires_at, last_sent_at, send_count) \
         VALUES ($1, $2, $3, $4, $8, $5, $6, $7, $6, 1)",
    )
    .bind(new.id)
    .bind(new.account_id)
    .bind(new.user_id)
    .bind(new.invited_by)
    .bind(new.personal_message)
    .bind(now_ms)
    .bind(new.expires_at)
    .bind(StoredInvitationState::Pending.as_str())
    .execute(&mut *conn)
    .await?;
    super::users::sync_open_invitation(conn, new.user_id).await
}

/// Keeps the invitee's row in step after a change to invitation `id`.
async fn sync_user(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    let user_id: Option<String> = sqlx::query_scalar("SELECT user_id FROM invitations WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    match user_id {
        Some(user_id) => super::users::sync_open_invitation(conn, &user_id).await,
        None => Ok(()),
    }
}

pub async fn add_grant(conn: &mut Conn, invitation_id: &str, grant: &Grant) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO invitation_roles (invitation_id, scope_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(invitation_id)
        .bind(&grant.scope_id)
        .bind(grant.role.as_stored())
        .execute(conn)
        .await
        .map(|_| ())
}

/// What an invitation page shows besides the invitation: read with it in one query, since
/// every view of a link needs them.
#[derive(sqlx::FromRow)]
pub struct LinkRecord {
    #[sqlx(flatten)]
    pub invitation: InvitationRecord,
    pub account_name: String,
    pub invitee_email: String,
    #[sqlx(try_from = "String")]
    pub invitee_status: StoredUserStatus,
    pub inviter_name: Option<String>,
}

/// The statement [`LinkRecord`] is read by: the invitation `$1`, its account, invitee and
/// inviter, and with `offers` one row per role it offers, in [`GrantRow`]'s columns (a LEFT
/// JOIN: one row with none when it offers none). Put together once per process by each caller.
fn link_sql(offers: bool) -> String {
    let columns = COLUMNS.split(", ").map(|c| format!("i.{c}")).collect::<Vec<_>>().join(", ");
    let (offer_columns, offer_joins) = if offers {
        (
            ", r.invitation_id AS owner_id, r.scope_id, r.role, s.name AS scope_name, s.kind AS scope_kind",
            " LEFT JOIN invitation_roles r ON r.invitation_id = i.id LEFT JOIN scopes s ON s.id = r.scope_id",
        )
    } else {
        ("", "")
    };
    format!(
        "SELECT {columns}, a.name AS account_name, u.email AS invitee_email, u.status AS invitee_status, inviter.name AS inviter_name{offer_columns} \
         FROM invitations i JOIN accounts a ON a.id = i.account_id JOIN users u ON u.id = i.user_id \
         LEFT JOIN users inviter ON inviter.id = i.invited_by{offer_joins} WHERE i.id = $1"
    )
}

pub async fn for_link(conn: &mut Conn, id: &str) -> sqlx::Result<Option<LinkRecord>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| link_sql(false));
    sqlx::query_as(&SQL).bind(id).fetch_optional(conn).await
}

/// [`for_link`] and the roles the invitation offers ([`super::scopes::offered_by`]), in one
/// statement: every view of a link needs both, and each statement is a round trip to the
/// database (on SQLite, to the connection's thread and back).
pub async fn for_link_with_offers(conn: &mut Conn, id: &str) -> sqlx::Result<Option<(LinkRecord, Vec<GrantRow>)>> {
    use sqlx::{FromRow, Row};
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| link_sql(true));
    let rows = sqlx::query(&SQL).bind(id).fetch_all(conn).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let record = LinkRecord::from_row(first)?;
    let mut offers = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<String>, _>("scope_id")?.is_some() {
            offers.push(GrantRow::from_row(row)?);
        }
    }
    Ok(Some((record, offers)))
}

pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<InvitationRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM invitations WHERE id = $1")).bind(id).fetch_optional(conn).await
}

/// The user's pending invitation (live or past its expiry), if any.
pub async fn pending_for_user(conn: &mut Conn, user_id: &str) -> sqlx::Result<Option<InvitationRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM invitations WHERE user_id = $1 AND state = $2"))
        .bind(user_id)
        .bind(StoredInvitationState::Pending.as_str())
        .fetch_optional(conn)
        .await
}

/// [`pending_for_user`], locking the invitation's row until the transaction ends (see
/// `RowLock`): for an action that decides from what it offers.
pub async fn pending_for_user_locked(conn: &mut Conn, engine: super::Engine, user_id: &str) -> sqlx::Result<Option<InvitationRecord>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM invitations WHERE user_id = $1 AND state = $2{}", super::RowLock::Update.clause(engine)))
        .bind(user_id)
        .bind(StoredInvitationState::Pending.as_str())
        .fetch_optional(conn)
        .await
}

/// [`pending_for_user_locked`] for each of `user_ids` at once, locked in the order of their
/// ids (two transactions locking overlapping sets never wait on each other in a circle).
pub async fn pending_for_users_locked(conn: &mut Conn, engine: super::Engine, user_ids: &[String]) -> sqlx::Result<Vec<InvitationRecord>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM invitations WHERE state = $1 AND user_id IN ({}) ORDER BY id{}",
        super::placeholders(2, user_ids.len()),
        super::RowLock::Update.clause(engine)
    );
    let mut query = sqlx::query_as(&sql).bind(StoredInvitationState::Pending.as_str());
    for id in user_ids {
        query = query.bind(id);
    }
    query.fetch_all(conn).await
}

/// Locks the invitation's row until the transaction ends (see `RowLock`).
pub async fn lock(conn: &mut Conn, engine: super::Engine, id: &str) -> sqlx::Result<()> {
    sqlx::query(&format!("SELECT id FROM invitations WHERE id = $1{}", super::RowLock::Update.clause(engine))).bind(id).fetch_optional(conn).await.map(|_| ())
}

/// The roles an invitation offers, by place.
pub async fn grants(conn: &mut Conn, invitation_id: &str) -> sqlx::Result<Vec<Grant>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT scope_id, role FROM invitation_roles WHERE invitation_id = $1").bind(invitation_id).fetch_all(conn).await?;
    let mut grants = rows
        .into_iter()
        .map(|(scope_id, role)| RoleKey::try_from(role).map(|role| Grant { scope_id, role }).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .collect::<sqlx::Result<Vec<_>>>()?;
    grants.sort();
    Ok(grants)
}

/// Pending invitations (not awaiting an administrator, not expired) for which a reminder of
/// their account's Settings → Invitations is due at `now_ms` and was not sent for their
/// current link; at most `limit`.
pub async fn due_for_reminder(conn: &mut Conn, now_ms: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT i.id FROM invitations i JOIN accounts a ON a.id = i.account_id \
         WHERE i.state = $2 AND i.awaiting_since IS NULL AND i.expires_at > $1 \
           AND ((a.remind_after_days IS NOT NULL AND i.last_sent_at + a.remind_after_days * 86400000 <= $1 \
                 AND (i.auto_after_version IS NULL OR i.auto_after_version <> i.link_version)) \
             OR (a.remind_before_days IS NOT NULL AND i.expires_at - a.remind_before_days * 86400000 <= $1 \
                 AND (i.auto_before_version IS NULL OR i.auto_before_version <> i.link_version))) \
           AND NOT EXISTS (SELECT 1 FROM users u JOIN held_addresses h ON h.account_id = u.account_id AND h.email = u.email AND h.released_at IS NULL WHERE u.id = i.user_id) \
         ORDER BY i.expires_at LIMIT $3",
    )
    .bind(now_ms)
    .bind(StoredInvitationState::Pending.as_str())
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Marks the automatic reminders due for the invitation's current link as sent: both when
/// both are due (one email, not two). Whether it was still pending on that link.
pub async fn mark_reminded(conn: &mut Conn, id: &str, link_version: i64, after: bool, before: bool) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE invitations SET auto_after_version = CASE WHEN $3 = 1 THEN link_version ELSE auto_after_version END, \
                                auto_before_version = CASE WHEN $4 = 1 THEN link_version ELSE auto_before_version END \
         WHERE id = $1 AND link_version = $2 AND state = $5",
    )
    .bind(id)
    .bind(link_version)
    .bind(i64::from(after))
    .bind(i64::from(before))
    .bind(StoredInvitationState::Pending.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Which automatic reminders the invitation's current link was sent: (after sending, before expiry).
pub async fn reminded(conn: &mut Conn, id: &str) -> sqlx::Result<(bool, bool)> {
    let (after, before): (i64, i64) = sqlx::query_as(
        "SELECT CASE WHEN auto_after_version = link_version THEN 1 ELSE 0 END, CASE WHEN auto_before_version = link_version THEN 1 ELSE 0 END \
         FROM invitations WHERE id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok((after == 1, before == 1))
}

/// The id of the user's latest invitation, whatever became of it.
pub async fn latest_for_user(conn: &mut Conn, user_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT id FROM invitations WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1").bind(user_id).fetch_optional(conn).await
}

pub async fn remove_grant(conn: &mut Conn, invitation_id: &str, grant: &Grant) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM invitation_roles WHERE invitation_id = $1 AND scope_id = $2 AND role = $3")
        .bind(invitation_id)
        .bind(&grant.scope_id)
        .bind(grant.role.as_stored())
        .execute(conn)
        .await
        .map(|r| r.rows_affected())
}

/// Records a send. `rotate` raises link_version (every earlier link dies, and an acceptance
/// waiting for confirmation starts over); `reissued_by` makes the sender the one who vouches
/// for it from now on (accepting re-checks what they may grant); `expires_at` moves expiry
/// when given. Only a pending invitation is touched; returns it as it is now, if it was.
pub async fn record_send(
    conn: &mut Conn,
    id: &str,
    rotate: bool,
    reissued_by: Option<&str>,
    expires_at: Option<i64>,
    now_ms: i64,
) -> sqlx::Result<Option<InvitationRecord>> {
    let updated = record_send_unsynced(conn, id, rotate, reissued_by, expires_at, now_ms).await?;
    if let Some(invitation) = &updated {
        super::users::sync_open_invitation(conn, &invitation.user_id).await?;
    }
    Ok(updated)
}

/// [`record_send`], leaving the user's row for the caller to sync (with
/// [`super::users::sync_open_invitations`], before its transaction commits).
pub async fn record_send_unsynced(
    conn: &mut Conn,
    id: &str,
    rotate: bool,
    reissued_by: Option<&str>,
    expires_at: Option<i64>,
    now_ms: i64,
) -> sqlx::Result<Option<InvitationRecord>> {
    sqlx::query_as(&format!(
        "UPDATE invitations SET send_count = send_count + 1, last_sent_at = $1, \
           link_version = link_version + $2, expires_at = COALESCE($3, expires_at), invited_by = COALESCE($6, invited_by), \
           awaiting_since = CASE WHEN $2 = 1 THEN NULL ELSE awaiting_since END, \
           awaiting_reason = CASE WHEN $2 = 1 THEN NULL ELSE awaiting_reason END \
         WHERE id = $4 AND state = $5 RETURNING {COLUMNS}"
    ))
    .bind(now_ms)
    .bind(i64::from(rotate))
    .bind(expires_at)
    .bind(id)
    .bind(StoredInvitationState::Pending.as_str())
    .bind(reissued_by)
    .fetch_optional(&mut *conn)
    .await
}

/// Moves a pending invitation's expiry to `expires_at`, sending nothing; returns whether it
/// was pending.
pub async fn extend(conn: &mut Conn, id: &str, expires_at: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE invitations SET expires_at = $1 WHERE id = $2 AND state = $3")
        .bind(expires_at)
        .bind(id)
        .bind(StoredInvitationState::Pending.as_str())
        .execute(&mut *conn)
        .await?;
    sync_user(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn cancel(conn: &mut Conn, id: &str, by: Option<&str>, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE invitations SET state = $4, cancelled_at = $1, cancelled_by = $2 WHERE id = $3 AND state = $5")
        .bind(now_ms)
        .bind(by)
        .bind(id)
        .bind(StoredInvitationState::Cancelled.as_str())
        .bind(StoredInvitationState::Pending.as_str())
        .execute(&mut *conn)
        .await?;
    sync_user(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the invitation accepted if, at this instant, it is pending, not accepted already
/// (awaiting confirmation), carries this link version and has not expired. Exactly one of
/// several simultaneous accepts gets `true`.
pub async fn claim_acceptance(conn: &mut Conn, id: &str, link_version: i64, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(&format!(
        "UPDATE invitations SET state = $4, accepted_at = $1 \
         WHERE id = $2 AND state = $5 AND link_version = $3 AND awaiting_since IS NULL AND NOT ({})",
        expired_sql("expires_at", "$1")
    ))
    .bind(now_ms)
    .bind(id)
    .bind(link_version)
    .bind(StoredInvitationState::Accepted.as_str())
    .bind(StoredInvitationState::Pending.as_str())
    .execute(&mut *conn)
    .await?;
    sync_user(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

/// The acceptance of an invitation whose roles its inviter could no longer grant: it stays
/// pending, marked as accepted and waiting for an administrator, under the same conditions as
/// [`claim_acceptance`] (one of several simultaneous accepts gets `true`).
pub async fn claim_awaiting(conn: &mut Conn, id: &str, link_version: i64, reason: AwaitingReason, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(&format!(
        "UPDATE invitations SET awaiting_since = $1, awaiting_reason = $4 \
         WHERE id = $2 AND state = $5 AND link_version = $3 AND awaiting_since IS NULL AND NOT ({})",
        expired_sql("expires_at", "$1")
    ))
    .bind(now_ms)
    .bind(id)
    .bind(link_version)
    .bind(reason.as_str())
    .bind(StoredInvitationState::Pending.as_str())
    .execute(&mut *conn)
    .await?;
    sync_user(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

/// An administrator confirms an acceptance that waits for them: the invitation is accepted,
/// if at this instant it still waits and has not expired.
pub async fn confirm(conn: &mut Conn, id: &str, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(&format!(
        "UPDATE invitations SET state = $3, accepted_at = $1 WHERE id = $2 AND state = $4 AND awaiting_since IS NOT NULL AND NOT ({})",
        expired_sql("expires_at", "$1")
    ))
    .bind(now_ms)
    .bind(id)
    .bind(StoredInvitationState::Accepted.as_str())
    .bind(StoredInvitationState::Pending.as_str())
    .execute(&mut *conn)
    .await?;
    sync_user(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

/// An administrator set the invitee's password by hand: the pending invitation (expired or
/// not) is accepted on their behalf and its links die with it.
pub async fn accept_for_invitee(conn: &mut Conn, id: &str, now_ms: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE invitations SET state = $3, accepted_at = $1 WHERE id = $2 AND state = $4")
        .bind(now_ms)
        .bind(id)
        .bind(StoredInvitationState::Accepted.as_str())
        .bind(StoredInvitationState::Pending.as_str())
        .execute(&mut *conn)
        .await?;
    sync_user(conn, id).await?;
    Ok(done.rows_affected() == 1)
}

/// The invitation's current link version (links of other versions are dead), if it exists.
pub async fn link_version(conn: &mut Conn, invitation_id: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT link_version FROM invitations WHERE id = $1").bind(invitation_id).fetch_optional(conn).await
}

/// An invitation as the API lists it, with its invitee's address.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ListedInvitation {
    #[sqlx(flatten)]
    pub invitation: InvitationRecord,
    pub email: String,
    pub name: String,
    pub accepted_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

/// Which invitations [`list`] reads.
pub struct InvitationFilter<'a> {
    pub account_id: &'a str,
    pub state: Option<InvitationState>,
    pub email: Option<&'a str>,
    /// Only those offering a role in one of these places.
    pub places: Option<&'a [String]>,
    /// Only those offering a role in one of these places too (a scope administrator's own).
    pub visible_in: Option<&'a [String]>,
    /// Strictly after this (created_at, id) in the newest-first order.
    pub after: Option<(i64, &'a str)>,
    pub now_ms: i64,
    pub limit: i64,
}

/// A page of the account's invitations, newest first, from its (account_id, created_at, id) index.
pub async fn list(conn: &mut Conn, filter: &InvitationFilter<'_>) -> sqlx::Result<Vec<ListedInvitation>> {
    let columns = COLUMNS.split(", ").map(|c| format!("i.{}", c.trim())).collect::<Vec<_>>().join(", ");
    let mut sql =
        format!("SELECT {columns}, u.email, u.name, i.accepted_at, i.cancelled_at FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.account_id = $1");
    let mut next = 2;
    let mut param = || {
        let p = format!("${next}");
        next += 1;
        p
    };
    // The clock is a parameter only for the states that depend on it.
    let uses_now = matches!(filter.state, Some(InvitationState::Pending | InvitationState::AwaitingConfirmation | InvitationState::Expired));
    let expired = if uses_now { expired_sql("i.expires_at", &param()) } else { String::new() };
    match filter.state {
        None => {}
        Some(InvitationState::Pending) => sql.push_str(&format!(" AND i.state = 'pending' AND i.awaiting_since IS NULL AND NOT ({expired})")),
        Some(InvitationState::AwaitingConfirmation) => sql.push_str(&format!(" AND i.state = 'pending' AND i.awaiting_since IS NOT NULL AND NOT ({expired})")),
        Some(InvitationState::Expired) => sql.push_str(&format!(" AND i.state = 'pending' AND {expired}")),
        Some(InvitationState::Accepted) => sql.push_str(" AND i.state = 'accepted'"),
        Some(InvitationState::Cancelled) => sql.push_str(" AND i.state = 'cancelled'"),
    }
    if filter.email.is_some() {
        sql.push_str(&format!(" AND u.email = {}", param()));
    }
    for places in [filter.places, filter.visible_in].into_iter().flatten() {
        let list: Vec<String> = places.iter().map(|_| param()).collect();
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM invitation_roles r WHERE r.invitation_id = i.id AND r.scope_id IN ({}))",
            if list.is_empty() { "NULL".to_string() } else { list.join(", ") }
        ));
    }
    if filter.after.is_some() {
        let (at, id) = (param(), param());
        // A row comparison, which both engines read as one range of the index.
        sql.push_str(&format!(" AND (i.created_at, i.id) < ({at}, {id})"));
    }
    sql.push_str(&format!(" ORDER BY i.created_at DESC, i.id DESC LIMIT {}", param()));
    let mut query = sqlx::query_as::<_, ListedInvitation>(&sql).bind(filter.account_id);
    if uses_now {
        query = query.bind(filter.now_ms);
    }
    if let Some(email) = filter.email {
        query = query.bind(email);
    }
    for places in [filter.places, filter.visible_in].into_iter().flatten() {
        for place in places {
            query = query.bind(place);
        }
    }
    if let Some((at, id)) = filter.after {
        query = query.bind(at).bind(id);
    }
    query.bind(filter.limit).fetch_all(conn).await
}

/// One invitation of the account, with its invitee's address.
pub async fn listed(conn: &mut Conn, account_id: &str, id: &str) -> sqlx::Result<Option<ListedInvitation>> {
    let columns = COLUMNS.split(", ").map(|c| format!("i.{}", c.trim())).collect::<Vec<_>>().join(", ");
    sqlx::query_as(&format!(
        "SELECT {columns}, u.email, u.name, i.accepted_at, i.cancelled_at FROM invitations i JOIN users u ON u.id = i.user_id \
         WHERE i.id = $1 AND i.account_id = $2"
    ))
    .bind(id)
    .bind(account_id)
    .fetch_optional(conn)
    .await
}
