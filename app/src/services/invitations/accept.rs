//! The invitee's side: what a link shows (never changing anything: mail scanners follow
//! links), accepting it (single-use, in one transaction), and asking for a new one.

use super::link::{self, TokenMatch};
use super::notify;
use crate::services::audit::{self, AuditEvent};
use crate::services::auth::Credentials;
use crate::services::checkpoints::points;
use crate::services::db::Engine;
use crate::services::error::Step;
use crate::services::rate_limit::{self, Limit};
use crate::services::store::invitations::InvitationRecord;
use crate::services::store::invitations::{self as store, LinkRecord};
use crate::services::store::{accounts, memberships, scopes, users, Conn};
use crate::services::{passwords, Actor, AppState};
use shared::audit::AuditAction;
use shared::names::PersonName;
use shared::password::NewPassword;
use shared::scopes::Grant;
use shared::status::{AwaitingReason, InvitationState, StoredUserStatus};
use shared::views::{InvitationPage, OpenInvitation};
use shared::{messages, AppError, Email};
use std::net::IpAddr;
use std::time::Duration;

/// Links that do not verify, per client address: a working link cannot be guessed, so only
/// someone trying made-up links gets here. Valid links are never counted, so a room of
/// invitees behind one office address can all open theirs.
pub const FAILED_LOOKUPS_PER_IP: Limit = Limit::per(120, Duration::from_secs(60));
/// Refused accepts per client address (wrong password on "sign in and accept", a link
/// that does not work, a form that does not pass); accepts that succeed are not counted.
pub const FAILED_ACCEPTS_PER_IP: Limit = Limit::per(30, Duration::from_secs(15 * 60));
pub const ACCEPTS_PER_INVITATION: Limit = Limit::per(10, Duration::from_secs(15 * 60));
pub const REQUESTS_PER_INVITATION: Limit = Limit::per(3, Duration::from_secs(24 * 3600));

fn lookup_key(ip: IpAddr) -> String {
    format!("invite:lookup:{}", rate_limit::client_key(ip))
}

fn accept_key(ip: IpAddr) -> String {
    format!("invite:accept:{}", rate_limit::client_key(ip))
}

/// Counts a link that does not verify against its visitor's address (in this process: see
/// `LocalCounters`).
fn count_failed_lookup(state: &AppState, ip: Option<IpAddr>, page: &InvitationPage) {
    if let (Some(ip), InvitationPage::NotValid) = (ip, page) {
        state.local_limits.record_failure(&lookup_key(ip), FAILED_LOOKUPS_PER_IP, state.clock.now_ms());
    }
}

/// Refuses a visitor whose address has tried too many links that do not verify.
fn check_lookups(state: &AppState, ip: Option<IpAddr>, now_ms: i64) -> Result<(), AppError> {
    match ip {
        Some(ip) => state.local_limits.check(&lookup_key(ip), FAILED_LOOKUPS_PER_IP, now_ms),
        None => Ok(()),
    }
}

/// A link resolved to its invitation, or to what the visitor is told instead.
enum Resolved {
    Open(Box<LinkRecord>),
    Shown(InvitationPage),
}

async fn resolve(state: &AppState, conn: &mut sqlx::AnyConnection, segment: &str) -> Result<Resolved, AppError> {
    let Some((id, token)) = link::parse(segment) else {
        return Ok(Resolved::Shown(InvitationPage::NotValid));
    };
    let record = store::for_link(conn, id).await.step("invitations::for_link")?;
    Ok(classify(state, id, token, record))
}

/// What the link with `id` and `token` leads to, given the invitation read for `id`.
fn classify(state: &AppState, id: &str, token: &str, record: Option<LinkRecord>) -> Resolved {
    let Some(record) = record else {
        return Resolved::Shown(InvitationPage::NotValid);
    };
    match state.link_key.check(id, record.invitation.link_version, token) {
        TokenMatch::Forged => return Resolved::Shown(InvitationPage::NotValid),
        TokenMatch::Superseded => return Resolved::Shown(InvitationPage::NoLongerValid),
        TokenMatch::Current => {}
    }
    let page = match record.invitation.state_at(state.clock.now_ms()) {
        InvitationState::Pending => return Resolved::Open(Box::new(record)),
        InvitationState::AwaitingConfirmation => InvitationPage::AwaitingConfirmation { account_name: record.account_name },
        InvitationState::Accepted => InvitationPage::AlreadyAccepted,
        InvitationState::Cancelled => InvitationPage::NoLongerValid,
        InvitationState::Expired => InvitationPage::Expired { account_name: record.account_name },
    };
    Resolved::Shown(page)
}

fn refusal(page: InvitationPage) -> AppError {
    AppError::InvalidState(
        match page {
            InvitationPage::Expired { .. } => messages::INVITATION_EXPIRED,
            InvitationPage::AlreadyAccepted => messages::INVITATION_ACCEPTED,
            InvitationPage::AwaitingConfirmation { .. } => messages::INVITATION_AWAITING,
            InvitationPage::NoLongerValid => messages::INVITATION_NO_LONGER_VALID,
            InvitationPage::NotValid | InvitationPage::Open(_) => messages::LINK_NOT_VALID,
        }
        .into(),
    )
}

/// What the link at `segment` shows. Reads only.
pub async fn open(state: &AppState, segment: &str, viewer: Option<&Actor>, ip: Option<IpAddr>) -> Result<InvitationPage, AppError> {
    let now = state.clock.now_ms();
    check_lookups(state, ip, now)?;
    let shown = |page: InvitationPage| {
        count_failed_lookup(state, ip, &page);
        Ok(page)
    };
    let Some((id, token)) = link::parse(segment) else {
        return shown(InvitationPage::NotValid);
    };
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    // The roles come with the invitation: one statement per view, whatever the link holds.
    let (record, offers) = match store::for_link_with_offers(&mut conn, id).await.step("invitations::for_link_with_offers")? {
        Some((record, offers)) => (Some(record), offers),
        None => (None, Vec::new()),
    };
    let record = match classify(state, id, token, record) {
        Resolved::Open(record) => *record,
        Resolved::Shown(page) => return shown(page),
    };
    let offered = notify::offered_as_read(&mut conn, &record.invitation, offers).await?;
    let invitation = record.invitation;
    Ok(InvitationPage::Open(OpenInvitation {
        account_name: record.account_name,
        existing_user: record.invitee_status == StoredUserStatus::Active,
        inviter_name: record.inviter_name.unwrap_or_default(),
        email: record.invitee_email,
        offered,
        personal_message: invitation.personal_message,
        expires_at_ms: invitation.expires_at,
        now_ms: now,
        signed_in_as: viewer.map(|a| a.email.clone()),
    }))
}

pub struct AcceptInput {
    pub name: String,
    pub password: String,
    pub password_confirmation: String,
}

/// How an acceptance ended.
#[derive(Clone, Debug)]
pub enum Accepted {
    /// The invitee holds the roles; sign them in.
    Active(Credentials),
    /// Its inviter could no longer grant every role it offers: nothing was granted, and an
    /// administrator who can must confirm it. A new invitee's name and password are kept.
    AwaitingConfirmation(AwaitingReason),
}

/// Accepts the invitation: activates the user (new users set their name and password),
/// grants the invitation's roles and marks it accepted, all at once, if its inviter may still
/// grant every one of them; otherwise it waits for an administrator's confirmation.
/// Each attempt is counted against the visitor's address first; a success takes it back.
pub async fn accept(state: &AppState, segment: &str, input: AcceptInput, viewer: Option<&Actor>, ip: Option<IpAddr>) -> Result<Accepted, AppError> {
    let now = state.clock.now_ms();
    if let Some(ip) = ip {
        rate_limit::consume(&state.db.pool, &accept_key(ip), FAILED_ACCEPTS_PER_IP, now).await?;
    }
    let accepted = accept_once(state, segment, input, viewer, now).await;
    if let (Some(ip), Ok(_)) = (ip, &accepted) {
        rate_limit::refund(&state.db.pool, &accept_key(ip), FAILED_ACCEPTS_PER_IP, now).await?;
    }
    accepted
}

async fn accept_once(state: &AppState, segment: &str, input: AcceptInput, viewer: Option<&Actor>, now: i64) -> Result<Accepted, AppError> {
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    // The invitation and its invitee as one statement read them: whether the invitee is a new
    // user is decided from the same moment as whether the invitation is open, so an accept
    // that lost a race to another is told the invitation was accepted, not to sign in.
    let record = match resolve(state, &mut conn, segment).await? {
        Resolved::Open(record) => record,
        Resolved::Shown(page) => return Err(refusal(page)),
    };
    drop(conn);
    state.checkpoints.reach(points::ACCEPT_AFTER_RESOLVE).await;
    let invitation = record.invitation;
    rate_limit::consume(&state.db.pool, &format!("invite:accept:invitation:{}", invitation.id), ACCEPTS_PER_INVITATION, now).await?;

    let existing_user = record.invitee_status == StoredUserStatus::Active;
    let new_password = if existing_user {
        // Bound to the invited address: only that user, signed in, may accept.
        if viewer.map(|a| a.user_id.as_str()) != Some(invitation.user_id.as_str()) {
            return Err(AppError::InvalidState(format!("Sign in as {} to accept this invitation.", record.invitee_email)));
        }
        None
    } else {
        let name = PersonName::parse(&input.name)?;
        let password = NewPassword::parse(input.password, &input.password_confirmation, &record.invitee_email)?;
        Some((name, passwords::hash(password.into_inner()).await?))
    };

    state.checkpoints.reach(points::ACCEPT_BEFORE_CLAIM).await;
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    // What it offers is read under its lock: a role removed meanwhile is not granted.
    store::lock(&mut tx, state.db.engine(), &invitation.id).await.step("invitations::lock")?;
    let offered = store::grants(&mut tx, &invitation.id).await.step("invitations::grants")?;
    state.checkpoints.reach(points::ACCEPT_AFTER_OFFERS).await;
    if offered.is_empty() {
        return Err(refusal(InvitationPage::NoLongerValid));
    }
    let awaiting = inviter_may_grant(&mut tx, state.db.engine(), &invitation, &offered).await?;
    let claimed = match awaiting {
        None => store::claim_acceptance(&mut tx, &invitation.id, invitation.link_version, now).await.step("invitations::claim_acceptance")?,
        Some(reason) => store::claim_awaiting(&mut tx, &invitation.id, invitation.link_version, reason, now).await.step("invitations::claim_awaiting")?,
    };
    if !claimed {
        // Someone else got there first (another accept, a cancel, a new link), or it just expired.
        drop(tx);
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        return Err(match resolve(state, &mut conn, segment).await? {
            Resolved::Shown(page) => refusal(page),
            Resolved::Open(_) => AppError::InvalidState(messages::ACCEPT_RETRY.into()),
        });
    }
    let details = serde_json::json!({ "email": record.invitee_email, "existing_user": existing_user });
    let (action, outcome) = match awaiting {
        None => {
            if let Some((name, hash)) = &new_password {
                users::activate(&mut tx, &invitation.user_id, name.as_str(), hash, now).await.step("users::activate")?;
            }
            for grant in &offered {
                memberships::grant(&mut tx, &invitation.user_id, &grant.scope_id, &grant.role, now).await.step("memberships::grant")?;
            }
            let invitee = users::get(&mut tx, &invitation.user_id).await.step("users::get")?.step("users::get: the row must exist")?;
            (
                AuditAction::InvitationAccepted,
                Accepted::Active(Credentials { user_id: invitee.id, auth_version: invitee.auth_version, must_change_password: false }),
            )
        }
        Some(reason) => {
            // The account exists (a new invitee's name and password are kept) and holds nothing
            // from this invitation until an administrator confirms it.
            if let Some((name, hash)) = &new_password {
                users::set_profile(&mut tx, &invitation.user_id, name.as_str(), hash, now).await.step("users::set_profile")?;
            }
            (AuditAction::InvitationAwaitingConfirmation, Accepted::AwaitingConfirmation(reason))
        }
    };
    let details = match awaiting {
        Some(reason) => serde_json::json!({ "email": record.invitee_email, "existing_user": existing_user, "reason": reason.as_str() }),
        None => details,
    };
    let event = AuditEvent {
        account_id: &invitation.account_id,
        actor_user_id: Some(&invitation.user_id),
        action,
        target_type: "invitation",
        target_id: &invitation.id,
        details,
    };
    audit::record(&mut tx, event, now).await.step("audit::record")?;
    tx.commit().await.step("commit")?;
    tracing::info!(invitation_id = %invitation.id, awaiting = ?awaiting, "invitation accepted");
    Ok(outcome)
}

/// Whether the invitation's inviter may, at this moment, grant every role it offers: they
/// still exist, are active, hold a role that grants each of them, and each place is live.
/// `None` when they may; otherwise why not. On PostgreSQL the inviter's and the places' rows
/// are locked until the transaction ends, so a change of their authority or an archiving
/// waits for the acceptance (or the acceptance for it) instead of slipping between.
pub async fn inviter_may_grant(tx: &mut Conn, engine: Engine, invitation: &InvitationRecord, offered: &[Grant]) -> Result<Option<AwaitingReason>, AppError> {
    let places: Vec<String> = offered.iter().map(|g| g.scope_id.clone()).collect();
    let live = scopes::lock_live(tx, engine, &places).await.step("scopes::lock_live")?;
    if places.iter().any(|id| !live.contains(id)) {
        return Ok(Some(AwaitingReason::PlaceArchived));
    }
    let inviter = match &invitation.invited_by {
        Some(id) => users::get_locked(tx, engine, id).await.step("users::get_locked")?,
        None => None,
    };
    let Some(inviter) = inviter.filter(|i| i.account_id == invitation.account_id) else {
        return Ok(Some(AwaitingReason::InviterGone));
    };
    if !inviter.is_active() {
        return Ok(Some(AwaitingReason::InviterInactive));
    }
    let authority = crate::services::auth::authority_of(tx, &inviter).await?;
    Ok(authority.may_act_on(offered).err().map(|_| AwaitingReason::InviterLacksAuthority))
}

/// From an expired link: tells the inviter the invitee wants a new invitation.
pub async fn request_new(state: &AppState, segment: &str, ip: Option<IpAddr>) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    check_lookups(state, ip, now)?;
    let verified = match link::parse(segment) {
        Some((id, token)) => {
            let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
            let invitation = store::get(&mut conn, id).await.step("invitations::get")?;
            invitation.filter(|i| state.link_key.check(id, i.link_version, token) == TokenMatch::Current)
        }
        None => None,
    };
    let Some(verified) = verified else {
        count_failed_lookup(state, ip, &InvitationPage::NotValid);
        return Err(refusal(InvitationPage::NotValid));
    };
    let id = verified.id.as_str();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let invitation = store::get(&mut tx, id)
        .await
        .step("invitations::get")?
        .filter(|i| i.link_version == verified.link_version)
        .ok_or_else(|| refusal(InvitationPage::NoLongerValid))?;
    if invitation.state_at(now) != InvitationState::Expired {
        return Err(AppError::InvalidState(messages::REQUEST_ONLY_WHEN_EXPIRED.into()));
    }
    rate_limit::consume(&mut *tx, &format!("invite:request:{id}"), REQUESTS_PER_INVITATION, now).await.map_err(|e| match e {
        AppError::RateLimited { .. } => AppError::InvalidState(messages::REQUEST_ALREADY_SENT.into()),
        other => other,
    })?;
    let account = accounts::get(&mut tx, &invitation.account_id).await.step("accounts::get")?.step("accounts::get: the row must exist")?;
    let invitee = users::get(&mut tx, &invitation.user_id).await.step("users::get")?.step("users::get: the row must exist")?;
    let inviter = match &invitation.invited_by {
        Some(by) => users::get(&mut tx, by).await.step("users::get")?,
        None => None,
    };
    let Some(inviter) = inviter else {
        return Err(AppError::InvalidState(messages::INVITER_UNREACHABLE.into()));
    };
    let inviter_email = Email::parse(&inviter.email).step("Email::parse")?;
    // A request is one more message to the inviter's mailbox, counted like any other (and
    // said without naming the inviter's address).
    if let Some(wait) = crate::services::mail::outbox::spend_send_budget(&mut tx, &invitation.account_id, &inviter_email, now).await? {
        return Err(AppError::InvalidState(format!(
            "The person who invited you was sent many emails in the last hour. Try again in {}.",
            shared::error::wait_phrase(wait)
        )));
    }
    notify::new_invitation_requested(&mut tx, state, &account.name, &inviter_email, &inviter.name, &invitee.email, &invitation, now).await?;
    let event = AuditEvent {
        account_id: &invitation.account_id,
        actor_user_id: None,
        action: AuditAction::InvitationNewRequested,
        target_type: "invitation",
        target_id: &invitation.id,
        details: serde_json::json!({ "email": invitee.email }),
    };
    audit::record(&mut tx, event, now).await.step("audit::record")?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    let who = if inviter.name.is_empty() { "the person who invited you".to_string() } else { inviter.name };
    Ok(format!("We have asked {who} to send you a new invitation."))
}
