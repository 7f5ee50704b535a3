//! "Forgot your password?": a single-use link by email, for an active person only, answered
//! the same whether or not the address has an account. Opening the link changes nothing
//! (mail scanners follow links); its form's POST sets the new password and signs the person
//! in. It is also the way back in when the sign-in limit for an address is reached.

use super::audit::{self, AuditEvent};
use super::auth::{self, Credentials};
use super::error::Step;
use super::invitations::link;
use super::mail::outbox::{self, NewMessage, Priority};
use super::mail::templates;
use super::rate_limit::{self, Limit};
use super::store::password_resets::{self as store, NewReset, ResetRecord};
use super::store::{accounts, new_id, users, Conn};
use super::{passwords, AppState};
use shared::audit::AuditAction;
use shared::mail::MessageKind;
use shared::password::NewPassword;
use shared::views::ResetPage;
use shared::{messages, AppError, Email};
use std::net::IpAddr;
use std::time::Duration;

/// How long a link works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Requests from one client, whatever the addresses: past this the client is told to wait.
pub const REQUESTS_PER_CLIENT: Limit = Limit::per(10, Duration::from_secs(3600));
/// Requests for one address: past this nothing more is sent, and nobody is told (the answer
/// must not depend on whether the address has an account).
pub const REQUESTS_PER_EMAIL: Limit = Limit::per(3, Duration::from_secs(3600));
/// Links that do not work, tried by one client.
pub const FAILED_USES_PER_CLIENT: Limit = Limit::per(30, Duration::from_secs(15 * 60));

fn client(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_string(), rate_limit::client_key)
}

/// What the form says after any request, whoever the address belongs to.
pub fn requested_answer(email: &Email) -> String {
    format!(
        "If {email} belongs to an active account, we have sent it a link to choose a new password. The link works once, for {} minutes.",
        LINK_LIFETIME.as_secs() / 60
    )
}

/// Sends a link to every active person with this address (one per account), within the
/// limits, and answers the same in every case.
pub async fn request(state: &AppState, email: &str, ip: Option<IpAddr>) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    let email = Email::parse(email).map_err(|e| AppError::Validation(e.to_string()))?;
    rate_limit::consume(&state.db.pool, &format!("reset:client:{}", client(ip)), REQUESTS_PER_CLIENT, now).await?;
    let within_limit = !rate_limit::count_past(&state.db.pool, &format!("reset:email:{email}"), REQUESTS_PER_EMAIL, now).await?;
    if within_limit {
        let mut tx = state.db.write_tx().await.step("begin write transaction")?;
        let people = users::find_by_email(&mut tx, email.as_str()).await.step("users::find_by_email")?;
        let mut sent = 0;
        for person in people.iter().filter(|p| p.is_active()) {
            // The address's hourly budget of messages applies here too; past it nothing goes.
            if outbox::spend_send_budget(&mut tx, &person.account_id, &email, now).await?.is_some() {
                continue;
            }
            send_link(&mut tx, person, &email, now).await?;
            sent += 1;
        }
        tx.commit().await.step("commit")?;
        if sent > 0 {
            state.work_signal.wake();
        }
    }
    Ok(requested_answer(&email))
}

async fn send_link(tx: &mut Conn, person: &users::UserRecord, email: &Email, now: i64) -> Result<(), AppError> {
    let account = accounts::get(tx, &person.account_id).await.step("accounts::get")?.step("accounts::get: the row must exist")?;
    let id = new_id();
    let reset = NewReset {
        id: &id,
        account_id: &person.account_id,
        user_id: &person.id,
        auth_version: person.auth_version,
        expires_at: now + LINK_LIFETIME.as_millis() as i64,
    };
    store::insert(tx, reset, now).await.step("password_resets::insert")?;
    let rendered = templates::password_reset(&account.name, &person.name, email.as_str(), templates::LINK_PLACEHOLDER, (LINK_LIFETIME.as_secs() / 60) as i64);
    let message = NewMessage {
        account_id: &person.account_id,
        kind: MessageKind::PasswordReset,
        recipient: email,
        invitation_id: None,
        password_reset_id: Some(&id),
        sent_by: None,
        priority: Priority::Waited,
        rendered,
    };
    outbox::enqueue(tx, message, now).await.step("outbox::enqueue")?;
    let event = AuditEvent {
        account_id: &person.account_id,
        actor_user_id: None,
        action: AuditAction::UserPasswordResetRequested,
        target_type: "user",
        target_id: &person.id,
        details: serde_json::json!({ "email": email.as_str() }),
    };
    audit::record(tx, event, now).await.step("audit::record")
}

/// A link resolved to its reset and person, or to what the visitor is told instead.
enum Resolved {
    Live(Box<(ResetRecord, users::UserRecord)>),
    Shown(ResetPage),
}

async fn resolve(state: &AppState, conn: &mut Conn, segment: &str, now: i64) -> Result<Resolved, AppError> {
    let Some((id, token)) = link::parse(segment) else {
        return Ok(Resolved::Shown(ResetPage::NotValid));
    };
    let Some(reset) = store::get(conn, id).await.step("password_resets::get")? else {
        return Ok(Resolved::Shown(ResetPage::NotValid));
    };
    if !state.link_key.reset_token_matches(id, reset.auth_version, token) {
        return Ok(Resolved::Shown(ResetPage::NotValid));
    }
    let person = users::get(conn, &reset.user_id).await.step("users::get")?.step("users::get: the row must exist")?;
    if reset.used_at.is_some() || person.auth_version != reset.auth_version || !person.is_active() {
        return Ok(Resolved::Shown(ResetPage::NoLongerValid));
    }
    if now >= reset.expires_at {
        return Ok(Resolved::Shown(ResetPage::Expired));
    }
    Ok(Resolved::Live(Box::new((reset, person))))
}

fn refusal(page: &ResetPage) -> AppError {
    match page {
        ResetPage::Expired => AppError::InvalidState(messages::RESET_LINK_EXPIRED.into()),
        ResetPage::NoLongerValid => AppError::InvalidState(messages::RESET_LINK_USED.into()),
        ResetPage::NotValid | ResetPage::Open { .. } => AppError::InvalidState(messages::LINK_NOT_VALID.into()),
    }
}

/// What the link at `segment` shows. Reads only.
pub async fn open(state: &AppState, segment: &str) -> Result<ResetPage, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    Ok(match resolve(state, &mut conn, segment, now).await? {
        Resolved::Shown(page) => page,
        Resolved::Live(live) => {
            let (reset, person) = *live;
            let account = accounts::get(&mut conn, &reset.account_id).await.step("accounts::get")?.step("accounts::get: the row must exist")?;
            ResetPage::Open { email: person.email, account_name: account.name }
        }
    })
}

/// Sets the new password from a live link, once: the link dies, every other reset link
/// and every session of the person end (their password changed), and the failed sign-ins
/// counted for the address are forgotten. Returns who to sign in.
pub async fn complete(state: &AppState, segment: &str, password: String, confirmation: String, ip: Option<IpAddr>) -> Result<Credentials, AppError> {
    let now = state.clock.now_ms();
    let key = format!("reset:failed:{}", client(ip));
    rate_limit::consume(&state.db.pool, &key, FAILED_USES_PER_CLIENT, now).await?;
    let done = complete_once(state, segment, password, confirmation, now).await;
    if done.is_ok() {
        rate_limit::refund(&state.db.pool, &key, FAILED_USES_PER_CLIENT, now).await?;
    }
    done
}

async fn complete_once(state: &AppState, segment: &str, password: String, confirmation: String, now: i64) -> Result<Credentials, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let (reset, person) = match resolve(state, &mut conn, segment, now).await? {
        Resolved::Live(live) => *live,
        Resolved::Shown(page) => return Err(refusal(&page)),
    };
    drop(conn);
    let email = Email::parse(&person.email).step("Email::parse")?;
    let password = NewPassword::parse(password, &confirmation, email.as_str())?;
    let hash = passwords::hash(password.into_inner()).await?;
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    // Claimed first: of two uses at once, one gets here; and the password must not have
    // changed between the check above and now.
    let current = users::get(&mut tx, &person.id).await.step("users::get")?;
    let unchanged = current.as_ref().is_some_and(|p| p.auth_version == reset.auth_version && p.is_active());
    if !store::claim(&mut tx, &reset.id, now).await.step("password_resets::claim")? || !unchanged {
        return Err(refusal(&ResetPage::NoLongerValid));
    }
    users::set_password(&mut tx, &person.id, &hash, now).await.step("users::set_password")?;
    auth::forget_failures(&mut tx, &email).await?;
    let event = AuditEvent {
        account_id: &person.account_id,
        actor_user_id: Some(&person.id),
        action: AuditAction::UserPasswordReset,
        target_type: "user",
        target_id: &person.id,
        details: serde_json::json!({ "email": email.as_str() }),
    };
    audit::record(&mut tx, event, now).await.step("audit::record")?;
    tx.commit().await.step("commit")?;
    tracing::info!(user_id = %person.id, "password reset by link");
    Ok(Credentials { user_id: person.id, auth_version: reset.auth_version + 1, must_change_password: false })
}
