//! Sign-in, and the session that carries it.

use super::checkpoints::points;
use super::error::Step;
use super::rate_limit::{self, Limit};
use super::store::{memberships, sign_ins, users, Conn};
use super::{passwords, Actor, AppState};
use serde::{Deserialize, Serialize};
use shared::audit::AuditAction;
use shared::password::NewPassword;
use shared::permissions::Authority;
use shared::{AppError, Email};
use std::net::IpAddr;
use std::time::Duration;
use tower_sessions::Session;

/// The one message for any wrong email/password combination: it does not say which.
pub use shared::messages::WRONG_CREDENTIALS;

/// Wrong passwords for one address from one client: that client is stopped there.
pub const FAILURES_PER_EMAIL_AND_CLIENT: Limit = Limit::per(10, Duration::from_secs(15 * 60));
/// Wrong passwords from one client, whatever the addresses.
pub const FAILURES_PER_CLIENT: Limit = Limit::per(50, Duration::from_secs(15 * 60));
/// Wrong passwords for one address from every client together: past this, each attempt for
/// it waits [`AuthSettings::slowed_attempt`](super::AuthSettings) first. None is refused for
/// it, so nobody can keep a person out of their console by failing from elsewhere.
pub const FAILURES_PER_EMAIL_BEFORE_SLOWING: Limit = Limit::per(10, Duration::from_secs(15 * 60));
/// Guesses at the current password when changing it, per person.
pub const PASSWORD_CHANGE_FAILURES: Limit = Limit::per(10, Duration::from_secs(15 * 60));

const SESSION_USER: &str = "user";
const LAST_SEEN_GRANULARITY_MS: i64 = 60_000;

/// What the session remembers of whoever signed in.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SessionUser {
    user_id: String,
    auth_version: i64,
    signed_in_at_ms: i64,
    /// Moved on each request; a session unused for the idle timeout ends. (The cookie's
    /// own expiry says the same to the browser; this check runs on the injected clock.)
    last_seen_ms: i64,
    /// Its row in `sign_ins` (absent from sessions begun before that table).
    #[serde(default)]
    sign_in_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Credentials {
    pub user_id: String,
    pub auth_version: i64,
    /// The password was a temporary one an administrator set: the next page is the one
    /// where they choose their own.
    pub must_change_password: bool,
}

/// The counters of sign-in attempts: for one address from one client, from one client, and
/// for one address from anywhere. A client with no known address counts as one client.
struct SignInCounters {
    email_and_client: Option<String>,
    client: Option<String>,
    email: Option<String>,
}

impl SignInCounters {
    fn new(email: Option<&Email>, ip: Option<IpAddr>) -> SignInCounters {
        let client = ip.map_or_else(|| "unknown".to_string(), rate_limit::client_key);
        SignInCounters {
            email_and_client: email.map(|e| format!("signin:email-client:{e}:{client}")),
            client: ip.map(|_| format!("signin:ip:{client}")),
            email: email.map(|e| email_key(e.as_str())),
        }
    }
}

fn email_key(email: &str) -> String {
    format!("signin:email:{email}")
}

/// Checks an email and password. Every attempt is counted before the password is checked,
/// in one statement per counter, so a burst of parallel guesses cannot outrun a limit:
/// - from one client, for one address, the 11th attempt within 15 minutes is refused,
///   right password or not;
/// - from one client, whatever the addresses, the 51st;
/// - for one address, from every client together, each attempt past the 10th waits
///   [`AuthSettings::slowed_attempt`](super::AuthSettings) (a second) and is never refused:
///   failing from elsewhere cannot lock a person out.
///
/// A success takes its counts back: only failures count (a room of people behind one address
/// signing in is not a flood). Each attempt runs exactly one password verification, whether
/// or not the address has an account.
pub async fn verify_credentials(state: &AppState, email: &str, password: String, ip: Option<IpAddr>) -> Result<Credentials, AppError> {
    let now = state.clock.now_ms();
    let email = Email::parse(email).ok();
    let counters = SignInCounters::new(email.as_ref(), ip);
    state.checkpoints.reach(points::SIGN_IN_BEFORE_COUNT).await;
    if let Some(key) = &counters.client {
        rate_limit::consume(&state.db.pool, key, FAILURES_PER_CLIENT, now).await?;
    }
    if let Some(key) = &counters.email_and_client {
        rate_limit::consume(&state.db.pool, key, FAILURES_PER_EMAIL_AND_CLIENT, now).await?;
    }
    if let Some(key) = &counters.email {
        if rate_limit::count_past(&state.db.pool, key, FAILURES_PER_EMAIL_BEFORE_SLOWING, now).await? {
            state.checkpoints.reach(points::SIGN_IN_SLOWED).await;
            tokio::time::sleep(state.auth.slowed_attempt).await;
        }
    }

    let candidate = match &email {
        Some(email) => {
            let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
            let users = users::find_by_email(&mut conn, email.as_str()).await.step("users::find_by_email")?;
            users.into_iter().find(|u| u.is_active() && u.password_hash.is_some())
        }
        None => None,
    };
    let stored_hash = candidate.as_ref().and_then(|u| u.password_hash.clone());
    let verified = state.passwords.verify(password, stored_hash).await?;
    match candidate.filter(|_| verified) {
        Some(user) => {
            for key in [&counters.email_and_client, &counters.email].into_iter().flatten() {
                rate_limit::clear(&state.db.pool, key).await?;
            }
            if let Some(key) = &counters.client {
                rate_limit::refund(&state.db.pool, key, FAILURES_PER_CLIENT, now).await?;
            }
            Ok(Credentials { user_id: user.id, auth_version: user.auth_version, must_change_password: user.must_change_password != 0 })
        }
        None => Err(AppError::Validation(WRONG_CREDENTIALS.into())),
    }
}

/// Forgets every failed sign-in counted for `email`, from any client (its password was
/// just reset by someone who proved they hold the mailbox).
pub async fn forget_failures(conn: &mut Conn, email: &Email) -> Result<(), AppError> {
    rate_limit::clear(&mut *conn, &email_key(email.as_str())).await?;
    rate_limit::clear_prefix(&mut *conn, &format!("signin:email-client:{email}:")).await
}

/// Starts a signed-in session under a fresh id, so an id planted before sign-in is useless.
pub async fn begin_session(state: &AppState, session: &Session, credentials: &Credentials) -> Result<(), AppError> {
    // A session signed in again (accepting an invitation signs in once more) ends the sign-in
    // it had, so no device is listed that is not there.
    let earlier = session.get::<SessionUser>(SESSION_USER).await.step("session get")?.and_then(|u| u.sign_in_id);
    session.cycle_id().await.step("session cycle_id")?;
    let now = state.clock.now_ms();
    let sign_in_id = super::store::new_id();
    let device = describe_device(super::context::user_agent().as_deref());
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    if let Some(earlier) = earlier {
        sign_ins::end(&mut conn, &earlier, now).await.step("sign_ins::end")?;
    }
    sign_ins::insert(&mut conn, &sign_in_id, &credentials.user_id, credentials.auth_version, &device, now).await.step("sign_ins::insert")?;
    drop(conn);
    let user = SessionUser {
        user_id: credentials.user_id.clone(),
        auth_version: credentials.auth_version,
        signed_in_at_ms: now,
        last_seen_ms: now,
        sign_in_id: Some(sign_in_id),
    };
    session.insert(SESSION_USER, user).await.step("session insert")
}

/// Ends the session, then its sign-in in the person's list. Signing out never waits on the
/// list: a failure to mark it ended is logged, and the housekeeping forgets it in time.
pub async fn end_session(state: &AppState, session: &Session) -> Result<(), AppError> {
    let sign_in = session.get::<SessionUser>(SESSION_USER).await.step("session get")?.and_then(|u| u.sign_in_id);
    session.flush().await.step("session flush")?;
    if let Some(id) = sign_in {
        let ended = async {
            let mut conn = state.db.pool.acquire().await?;
            sign_ins::end(&mut conn, &id, state.clock.now_ms()).await
        };
        if let Err(error) = ended.await {
            tracing::warn!(?error, sign_in = %id, "could not mark a sign-in ended");
        }
    }
    Ok(())
}

/// "Firefox on Linux", from a User-Agent header: enough for a person to recognise their
/// own devices in a list, never shown as the raw header (which anyone can write).
pub fn describe_device(user_agent: Option<&str>) -> String {
    let Some(agent) = user_agent else { return "Unknown device".into() };
    let browser = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .into_iter()
        .find(|(mark, _)| agent.contains(mark))
        .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| agent.contains(mark))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(one), None) | (None, Some(one)) => one.to_string(),
        (None, None) => "Unknown device".into(),
    }
}

/// Where `user` is signed in now, newest seen first.
pub async fn open_sign_ins(state: &AppState, conn: &mut Conn, user: &users::UserRecord) -> Result<Vec<shared::views::SignInView>, AppError> {
    let now = state.clock.now_ms();
    let (idle, absolute) = (state.auth.idle_timeout.as_millis() as i64, state.auth.absolute_timeout.as_millis() as i64);
    // `last_seen_at` moves once a minute at most: a minute's grace.
    let open = sign_ins::open_for(conn, &user.id, user.auth_version, now - idle - LAST_SEEN_GRANULARITY_MS, now - absolute).await.step("sign_ins::open_for")?;
    Ok(open.into_iter().map(|s| shared::views::SignInView { device: s.device, signed_in_at_ms: s.signed_in_at, last_seen_at_ms: s.last_seen_at }).collect())
}

/// The actor behind this session, or `None` when nobody is signed in. A session idle too
/// long or past its absolute lifetime, of a user no longer active, or from before a
/// password change is ended.
pub async fn actor(state: &AppState, session: &Session) -> Result<Option<Actor>, AppError> {
    state.checkpoints.reach(points::ACTOR_LOADING).await;
    let Some(mut stored) = session.get::<SessionUser>(SESSION_USER).await.step("session get")? else {
        return Ok(None);
    };
    let now = state.clock.now_ms();
    let absolute_ms = state.auth.absolute_timeout.as_millis() as i64;
    let idle_ms = state.auth.idle_timeout.as_millis() as i64;
    if now - stored.signed_in_at_ms > absolute_ms || now - stored.last_seen_ms > idle_ms {
        end_session(state, session).await?;
        return Ok(None);
    }
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    // Saving the session is a database write; once a minute is precise enough for an idle
    // timeout counted in minutes, and spares every other request that write.
    if now - stored.last_seen_ms >= LAST_SEEN_GRANULARITY_MS {
        stored.last_seen_ms = now;
        session.insert(SESSION_USER, &stored).await.step("session insert")?;
        if let Some(id) = &stored.sign_in_id {
            sign_ins::seen(&mut conn, id, now).await.step("sign_ins::seen")?;
        }
    }
    let user = users::get(&mut conn, &stored.user_id).await.step("users::get")?;
    let Some(user) = user.filter(|u| u.is_active() && u.auth_version == stored.auth_version) else {
        drop(conn);
        end_session(state, session).await?;
        return Ok(None);
    };
    Ok(Some(actor_from(&mut conn, user).await?))
}

/// `user` as the actor of a request or a job, with what they hold now.
async fn actor_from(conn: &mut Conn, user: users::UserRecord) -> Result<Actor, AppError> {
    let (authority, account_name) = authority_and_account(conn, &user).await?;
    Ok(Actor {
        must_change_password: user.must_change_password != 0,
        user_id: user.id,
        account_id: user.account_id,
        account_name,
        name: user.name,
        email: user.email,
        authority,
        api_token: None,
    })
}

/// `user_id` as an actor, as they stand now, if they are active: whom a job acts for, loaded
/// again for each batch so that a deactivated or demoted starter's job loses what they lost.
pub async fn actor_of(conn: &mut Conn, user_id: &str) -> Result<Option<Actor>, AppError> {
    let Some(user) = users::get(conn, user_id).await.step("users::get")?.filter(|u| u.is_active()) else { return Ok(None) };
    Ok(Some(actor_from(conn, user).await?))
}

/// What `user` holds now: the input of every permission check, read the same way for the
/// person signed in and for the inviter of an invitation being accepted.
pub async fn authority_of(conn: &mut Conn, user: &users::UserRecord) -> Result<Authority, AppError> {
    Ok(authority_and_account(conn, user).await?.0)
}

/// [`authority_of`], and the name of the user's account.
async fn authority_and_account(conn: &mut Conn, user: &users::UserRecord) -> Result<(Authority, String), AppError> {
    let held = memberships::held(conn, &user.id, &user.account_id).await.step("memberships::held")?;
    let authority = Authority {
        account_roles: held.account_roles.iter().filter_map(|r| r.builtin()).collect(),
        people: user.people_permission != 0,
        administered: held.administered,
        account_scope_id: held.account_scope_id,
        token: None,
    };
    Ok((authority, held.account_name))
}

/// The actor, or `Unauthenticated`.
pub async fn require_actor(state: &AppState, session: &Session) -> Result<Actor, AppError> {
    actor(state, session).await?.ok_or(AppError::Unauthenticated)
}

/// Replaces the actor's password. Every session of the user, this one included, ends:
/// the stored `auth_version` moves on and sessions carrying the old one are refused.
pub async fn change_password(state: &AppState, actor: &Actor, current_password: String, new_password: String, confirmation: String) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    // Guesses at the current password are limited like sign-in's, counted first.
    let key = format!("password-change:{}", actor.user_id);
    rate_limit::consume(&state.db.pool, &key, PASSWORD_CHANGE_FAILURES, now).await?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let user = users::get(&mut conn, &actor.user_id).await.step("users::get")?.ok_or(AppError::Unauthenticated)?;
    drop(conn);
    let unchanged = new_password == current_password;
    if !state.passwords.verify(current_password, user.password_hash).await? {
        return Err(AppError::Validation(shared::messages::CURRENT_PASSWORD_WRONG.into()));
    }
    rate_limit::refund(&state.db.pool, &key, PASSWORD_CHANGE_FAILURES, now).await?;
    // A temporary password kept as one's own would still be known to the admin who set it.
    if unchanged {
        return Err(AppError::Validation(shared::messages::NEW_PASSWORD_UNCHANGED.into()));
    }
    let new_password = NewPassword::parse(new_password, &confirmation, &actor.email)?;
    let hash = passwords::hash(new_password.into_inner()).await?;
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    users::set_password(&mut tx, &actor.user_id, &hash, now).await.step("users::set_password")?;
    super::audit::record(
        &mut tx,
        super::audit::AuditEvent {
            account_id: &actor.account_id,
            actor_user_id: Some(&actor.user_id),
            action: AuditAction::UserPasswordChanged,
            target_type: "user",
            target_id: &actor.user_id,
            details: serde_json::json!({}),
        },
        now,
    )
    .await
    .step("audit::record")?;
    tx.commit().await.step("commit")
}
