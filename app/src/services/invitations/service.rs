//! What administrators do with invitations. Each function authorises the actor, checks
//! the action against the one rule in `shared::invitations`, and writes the change, its
//! email (outbox) and its audit line in one transaction.

use super::{link, notify};
use crate::services::audit::{self, AuditEvent};
use crate::services::checkpoints::points;
use crate::services::error::{Refused, Step};
use crate::services::grants::{check_grants, RoleNames};
use crate::services::mail::budget;
use crate::services::mail::outbox::{self, Priority};
use crate::services::store::invitations::{self as store, InvitationRecord, NewInvitation};
use crate::services::store::scopes::GrantRow;
use crate::services::store::users::{self, UserRecord};
use crate::services::store::{accounts, memberships, new_id, scopes, Conn, Engine};
use crate::services::{Actor, AppState};
use shared::audit::AuditAction;
use shared::bulk::SkipReason;
use shared::invitations::{refusal, split_addresses, InvitationAction, Subject, MAX_INVITES_PER_BATCH, MAX_MESSAGE_CHARS};
use shared::permissions::Permission;
use shared::scopes::Grant;
use shared::status::{InvitationState, StoredUserStatus, UserStatus};
use shared::views::InviteOutcome;
use shared::{typos, AppError, Email, RoleKey};
use std::collections::{HashMap, HashSet};

pub struct InviteRequest {
    pub addresses: String,
    /// The roles to offer, each in its place (the account's own scope for account-wide roles).
    pub grants: Vec<Grant>,
    pub message: Option<String>,
    /// The admin saw the "did you mean …?" warnings and sends as typed.
    pub send_despite_typos: bool,
}

fn parse_addresses(raw: &str) -> Result<Vec<Email>, AppError> {
    let pieces = split_addresses(raw);
    if pieces.is_empty() {
        return Err(AppError::Validation("Enter at least one email address.".into()));
    }
    if pieces.len() > MAX_INVITES_PER_BATCH {
        return Err(AppError::Validation(format!("Invite at most {MAX_INVITES_PER_BATCH} people at once ({} given).", pieces.len())));
    }
    let mut emails: Vec<Email> = Vec::with_capacity(pieces.len());
    let mut seen = HashSet::new();
    let mut invalid = Vec::new();
    for piece in pieces {
        match Email::parse(piece) {
            Ok(email) if seen.insert(email.clone()) => emails.push(email),
            Ok(_) => {}
            Err(error @ shared::email::EmailError::GrowsInLowerCase(_)) => return Err(AppError::Validation(error.to_string())),
            Err(_) => invalid.push(piece.to_string()),
        }
    }
    if !invalid.is_empty() {
        return Err(AppError::Validation(format!("Not valid email addresses: {}. Nothing was sent.", invalid.join(", "))));
    }
    Ok(emails)
}

/// Invites everyone in the request, or no one: one transaction for the whole batch. An
/// active user is invited into the roles they do not hold yet; they accept by signing in.
pub async fn invite(state: &AppState, actor: &Actor, request: InviteRequest) -> Result<InviteOutcome, AppError> {
    actor.require(Permission::ManageInvitations)?;
    let emails = parse_addresses(&request.addresses)?;
    let mut grants = request.grants;
    grants.sort();
    grants.dedup();
    if grants.is_empty() {
        return Err(AppError::Validation("Choose at least one role.".into()));
    }
    actor.authority.may_act_on(&grants).map_err(AppError::Forbidden)?;
    let message = request.message.map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
    if message.as_ref().is_some_and(|m| m.chars().count() > MAX_MESSAGE_CHARS) {
        return Err(AppError::Validation(format!("Keep the personal message under {MAX_MESSAGE_CHARS} characters.")));
    }
    if !request.send_despite_typos {
        let typo_warnings: Vec<(String, String)> = emails.iter().filter_map(|e| typos::suggestion(e).map(|s| (e.to_string(), s))).collect();
        if !typo_warnings.is_empty() {
            return Ok(InviteOutcome { typo_warnings, ..Default::default() });
        }
    }

    let now = state.clock.now_ms();
    let mut outcome = InviteOutcome::default();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    budget::hold(&mut tx, state.db.engine(), &actor.account_id).await?;
    check_grants(&mut tx, state.db.engine(), actor, &grants).await?;
    let account = accounts::get(&mut tx, &actor.account_id).await.step("accounts::get")?.ok_or(AppError::NotFound)?;
    let one = OnePerson { state, actor, account: &account, priority: Priority::Waited, now, writes: &Writes::Now };
    for email in emails {
        match invite_one(&mut tx, &one, &email, &grants, message.as_deref()).await {
            Ok(_) => outcome.invited.push(email.to_string()),
            Err(Refused::Skip { reason, message }) => {
                outcome.skipped.push((email.to_string(), message.unwrap_or_else(|| reason.label())));
                outcome.skip_reasons.push(reason);
            }
            Err(Refused::Error(error)) => return Err(error),
        }
    }
    // All or nothing: a batch that would go over the daily budget sends none of it.
    budget::check_queued(&mut tx, state.mail_limits, &actor.account_id, &actor.user_id, outcome.invited.len() as i64, now).await?;
    state.checkpoints.reach(points::INVITE_BEFORE_COMMIT).await;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    tracing::info!(invited = outcome.invited.len(), skipped = outcome.skipped.len(), "invitations sent");
    Ok(outcome)
}

/// Invites one address into `grants` (checked by the caller: the actor may grant them, the
/// places are live) in the caller's transaction: a new person, or an existing one into the
/// roles they lack, an expired invitation of theirs replaced. The one function "Invite
/// people" and the bulk "Invite user to activate account" share. The caller checks the daily
/// budget and wakes the runner.
pub async fn invite_one(tx: &mut Conn, ctx: &OnePerson<'_>, email: &Email, grants: &[Grant], message: Option<&str>) -> Result<Done, Refused> {
    let (actor, now) = (ctx.actor, ctx.now);
    let existing = users::find_in_account(tx, &actor.account_id, email.as_str()).await.step("users::find_in_account")?;
    let (offered, replaces) = match &existing {
        Some(user) => plan_for_existing(tx, actor, user, grants, now).await?,
        None => (grants.to_vec(), None),
    };
    if let Some(wait) = outbox::spend_send_budget(tx, &actor.account_id, email, now).await? {
        return Err(Refused::Skip { reason: SkipReason::RecipientLimit, message: Some(outbox::budget_spent(wait)) });
    }
    if let Some(old) = &replaces {
        cancel(tx, old, actor, now).await?;
    }
    let user_id = match existing {
        Some(user) => {
            if !user.is_active() {
                users::set_status(tx, &user.id, StoredUserStatus::Invited, now).await.step("users::set_status")?;
            }
            user.id
        }
        None => {
            let id = new_id();
            let new_user = users::NewUser {
                id: &id,
                account_id: &actor.account_id,
                email: email.as_str(),
                name: "",
                status: StoredUserStatus::Invited,
                password_hash: None,
            };
            users::insert(tx, new_user, now).await.step("users::insert")?;
            id
        }
    };
    let invitation_id = new_id();
    let new_invitation = NewInvitation {
        id: &invitation_id,
        account_id: &actor.account_id,
        user_id: &user_id,
        invited_by: &actor.user_id,
        personal_message: message,
        expires_at: ctx.account.invitation_expiry_days.expiry_from(now),
    };
    store::insert(tx, new_invitation, now).await.step("invitations::insert")?;
    for grant in &offered {
        store::add_grant(tx, &invitation_id, grant).await.step("invitations::add_grant")?;
    }
    let invitation = store::get(tx, &invitation_id).await.step("invitations::get")?.step("invitations::get: the row must exist")?;
    let from = notify::From { account_name: &ctx.account.name, inviter_name: &actor.name, sent_by: Some(&actor.user_id), priority: ctx.priority };
    notify::invitation(tx, from, email, &invitation, notify::Wording::Invitation, now).await?;
    let details = serde_json::json!({ "email": email.as_str(), "grants": offered });
    record(tx, actor, AuditAction::InvitationCreated, &invitation_id, details, now).await?;
    Ok(Done { banner: format!("Invitation sent to {email}."), queued_email: true })
}

/// Invites a person who is Profile only (their invitation was cancelled, or they were
/// reactivated before setting up their account) again, into the roles their latest invitation
/// offered: the bulk "Invite user to activate account". One person, in the caller's
/// transaction, by the same rule and the same [`invite_one`] as "Invite people".
pub async fn invite_to_activate(tx: &mut Conn, ctx: &OnePerson<'_>, user_id: &str) -> Result<Done, Refused> {
    let (actor, engine) = (ctx.actor, ctx.state.db.engine());
    let target = load_target(tx, engine, actor, user_id, InvitationAction::InviteToActivate, ctx.now).await?;
    let grants = match store::latest_for_user(tx, &target.user.id).await.step("invitations::latest_for_user")? {
        Some(id) => store::grants(tx, &id).await.step("invitations::grants")?,
        None => Vec::new(),
    };
    if grants.is_empty() {
        return Err(Refused::skip(SkipReason::NoEarlierRoles));
    }
    if let Err(denied) = actor.authority.may_act_on(&grants) {
        return Err(Refused::skip(denied.into()));
    }
    match check_grants(tx, engine, actor, &grants).await {
        Ok(()) => {}
        Err(AppError::Forbidden(denied)) => return Err(Refused::skip(denied.into())),
        // A place of theirs archived, a custom role removed: say which, as "Invite people" would.
        Err(AppError::Validation(why) | AppError::InvalidState(why)) => return Err(Refused::Skip { reason: SkipReason::NotNow, message: Some(why) }),
        Err(other) => return Err(other.into()),
    }
    let email = Email::parse(&target.user.email).step("Email::parse")?;
    invite_one(tx, ctx, &email, &grants, None).await
}

/// What inviting an address that already has a user comes to: the roles to offer, and the
/// expired invitation the new one replaces; or why not.
pub(crate) async fn plan_for_existing(
    tx: &mut Conn,
    actor: &Actor,
    user: &UserRecord,
    grants: &[Grant],
    now: i64,
) -> Result<(Vec<Grant>, Option<InvitationRecord>), Refused> {
    let pending = store::pending_for_user(tx, &user.id).await.step("invitations::pending_for_user")?;
    let status = UserStatus::of(user.status, pending.as_ref().map(InvitationRecord::as_open), now);
    let open = pending.as_ref().map(|p| p.state_at(now));
    let skip = |reason, prose: &str| Err(Refused::Skip { reason, message: Some(prose.to_string()) });
    match status {
        UserStatus::Deactivated => skip(SkipReason::Deactivated, "is deactivated"),
        _ if open == Some(InvitationState::Pending) => skip(SkipReason::AlreadyInvited, "already has a pending invitation"),
        _ if open == Some(InvitationState::AwaitingConfirmation) => {
            skip(SkipReason::AwaitingConfirmation, "accepted an invitation that waits for an administrator to confirm it")
        }
        UserStatus::Active => {
            let mut new_grants = Vec::new();
            for grant in grants {
                if !memberships::roles_in(tx, &user.id, &grant.scope_id).await.step("memberships::roles_in")?.contains(&grant.role) {
                    new_grants.push(grant.clone());
                }
            }
            if new_grants.is_empty() {
                skip(SkipReason::AlreadyHoldsRoles, "already holds these roles")
            } else {
                replace_expired(tx, actor, pending, new_grants).await
            }
        }
        UserStatus::Invited | UserStatus::AwaitingConfirmation | UserStatus::Expired | UserStatus::ProfileOnly => {
            replace_expired(tx, actor, pending, grants.to_vec()).await
        }
    }
}

/// An expired invitation gives way to the new one, if it is one the actor may act on.
async fn replace_expired(
    tx: &mut Conn,
    actor: &Actor,
    expired: Option<InvitationRecord>,
    grants: Vec<Grant>,
) -> Result<(Vec<Grant>, Option<InvitationRecord>), Refused> {
    if let Some(old) = &expired {
        if let Err(denied) = actor.authority.may_act_on(&store::grants(tx, &old.id).await.step("invitations::grants")?) {
            return Err(Refused::Skip { reason: denied.into(), message: Some(format!("has an expired invitation you cannot replace ({denied})")) });
        }
    }
    Ok((grants, expired))
}

async fn record(tx: &mut Conn, actor: &Actor, action: AuditAction, invitation_id: &str, details: serde_json::Value, now: i64) -> Result<(), AppError> {
    let event =
        AuditEvent { account_id: &actor.account_id, actor_user_id: Some(&actor.user_id), action, target_type: "invitation", target_id: invitation_id, details };
    audit::record(tx, event, now).await.step("audit::record")
}

/// A user of the actor's account and their open invitation, with the roles it offers.
struct Target {
    user: UserRecord,
    invitation: Option<InvitationRecord>,
    subject: Subject,
    /// The roles the invitation offers with their places' names, as read once for the
    /// decision and the email.
    offers: Vec<GrantRow>,
    /// Its address hard-bounced and is held.
    held: Option<shared::mail::Bounce>,
}

/// Loads the user `action` is about and refuses the action unless the one rule in
/// `shared::invitations` allows it for this actor, on this invitation, in this state.
///
/// On PostgreSQL the invitation's row is locked until the transaction ends: two actions on it
/// at once (removing its last two roles, a removal while it is accepted) take turns, and the
/// second decides on what the first left.
async fn load_target(tx: &mut Conn, engine: Engine, actor: &Actor, user_id: &str, action: InvitationAction, now: i64) -> Result<Target, Refused> {
    let mut targets = load_targets(tx, engine, actor, std::slice::from_ref(&user_id.to_string()), action, now).await?;
    targets.remove(user_id).unwrap_or(Err(Refused::skip(SkipReason::Gone)))
}

/// [`load_target`] of each of `user_ids`, read in a few statements for all of them (a bulk
/// job's batch): the users, their pending invitations (locked), the roles those offer and
/// which addresses are held.
async fn load_targets(
    tx: &mut Conn,
    engine: Engine,
    actor: &Actor,
    user_ids: &[String],
    action: InvitationAction,
    now: i64,
) -> Result<HashMap<String, Result<Target, Refused>>, Refused> {
    let users: Vec<UserRecord> =
        users::get_many(tx, user_ids).await.step("users::get_many")?.into_iter().filter(|u| u.account_id == actor.account_id).collect();
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let mut invitations: HashMap<String, InvitationRecord> = HashMap::new();
    for invitation in store::pending_for_users_locked(tx, engine, &ids).await.step("invitations::pending_for_users_locked")? {
        invitations.entry(invitation.user_id.clone()).or_insert(invitation);
    }
    let invitation_ids: Vec<String> = invitations.values().map(|i| i.id.clone()).collect();
    let mut offers: HashMap<String, Vec<GrantRow>> = HashMap::new();
    for row in scopes::offered_by(tx, &invitation_ids).await.step("scopes::offered_by")? {
        offers.entry(row.owner_id.clone()).or_default().push(row);
    }
    // For every action, so that an action that sends can never miss it.
    let emails: Vec<String> = users.iter().filter(|u| invitations.contains_key(&u.id)).map(|u| u.email.clone()).collect();
    let mut held = crate::services::store::bounces::held_among(tx, &actor.account_id, &emails).await.step("bounces::held_among")?;
    let mut targets: HashMap<String, Result<Target, Refused>> = user_ids.iter().map(|id| (id.clone(), Err(Refused::skip(SkipReason::Gone)))).collect();
    for user in users {
        let invitation = invitations.remove(&user.id);
        let offers = invitation.as_ref().and_then(|i| offers.remove(&i.id)).unwrap_or_default();
        let held = held.remove(&user.email);
        targets.insert(user.id.clone(), target_of(actor, user, invitation, offers, held, action, now));
    }
    Ok(targets)
}

/// What the one rule says of `action` on this person, as read.
fn target_of(
    actor: &Actor,
    user: UserRecord,
    invitation: Option<InvitationRecord>,
    offers: Vec<GrantRow>,
    held: Option<shared::mail::Bounce>,
    action: InvitationAction,
    now: i64,
) -> Result<Target, Refused> {
    let mut offered = offers
        .iter()
        .map(|row| RoleKey::parse_stored(&row.role).map(|role| Grant { scope_id: row.scope_id.clone(), role }))
        .collect::<Option<Vec<Grant>>>()
        .step("invitation_roles: a known role")?;
    offered.sort();
    // An invitation offering nothing (none can be made; a database changed by hand) names no
    // place, so no scope administrator reaches it: only account-wide managers act on it.
    if invitation.is_some() && offered.is_empty() && !actor.authority.manages_account() {
        return Err(Refused::skip(SkipReason::OutsideYourPlaces));
    }
    let subject = Subject {
        status: UserStatus::of(user.status, invitation.as_ref().map(InvitationRecord::as_open), now),
        invitation: invitation.as_ref().map(|i| i.state_at(now)),
        offered,
    };
    if let Some(reason) = refusal(&actor.authority, action, &subject) {
        return Err(Refused::skip(reason));
    }
    Ok(Target { user, invitation, subject, offers, held })
}

/// Another request changed the invitation between reading and writing it (an engine
/// without SQLite's single writer lets that happen): a conflict to retry, not a failure.
fn changed_meanwhile() -> Refused {
    Refused::skip(SkipReason::ChangedMeanwhile)
}

async fn cancel(tx: &mut Conn, invitation: &InvitationRecord, actor: &Actor, now: i64) -> Result<(), Refused> {
    if store::cancel(tx, &invitation.id, Some(&actor.user_id), now).await.step("invitations::cancel")? {
        Ok(())
    } else {
        Err(changed_meanwhile())
    }
}

/// Cancels the target's invitation; a user who was only invited drops to Profile only, an
/// active user invited into more roles stays active with what they hold.
async fn cancel_target(tx: &mut Conn, target: &Target, invitation: &InvitationRecord, actor: &Actor, now: i64) -> Result<(), Refused> {
    cancel(tx, invitation, actor, now).await?;
    if !target.user.is_active() {
        users::set_status(tx, &target.user.id, StoredUserStatus::ProfileOnly, now).await.step("users::set_status")?;
    }
    Ok(())
}

fn pending(target: &Target) -> Result<&InvitationRecord, Refused> {
    target.invitation.as_ref().ok_or(Refused::skip(SkipReason::NoPendingInvitation))
}

fn display_name(user: &UserRecord) -> String {
    shared::names::name_and_address(&user.name, &user.email)
}

/// Resend, remind, send a new invitation, extend or cancel: returns the banner to show.
pub async fn act(state: &AppState, actor: &Actor, user_id: &str, action: InvitationAction) -> Result<String, AppError> {
    actor.require(Permission::ManageInvitations)?;
    if action == InvitationAction::Confirm {
        return confirm(state, actor, user_id).await;
    }
    state.checkpoints.reach(points::ACT_BEFORE_BEGIN).await;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    budget::hold(&mut tx, state.db.engine(), &actor.account_id).await?;
    let account = accounts::get(&mut tx, &actor.account_id).await.step("accounts::get")?.ok_or(AppError::NotFound)?;
    let done =
        act_on_one(&mut tx, &OnePerson { state, actor, account: &account, priority: Priority::Waited, now, writes: &Writes::Now }, user_id, action).await?;
    if done.queued_email {
        budget::check_queued(&mut tx, state.mail_limits, &actor.account_id, &actor.user_id, 1, now).await?;
    }
    tx.commit().await.step("commit")?;
    if done.queued_email {
        state.work_signal.wake();
    }
    Ok(done.banner)
}

/// What a person's action runs with, inside the caller's transaction (which [`budget::hold`]s
/// the account when it may send).
pub struct OnePerson<'a> {
    pub state: &'a AppState,
    pub actor: &'a Actor,
    pub account: &'a accounts::AccountRecord,
    /// Bulk mail waits behind single mail.
    pub priority: Priority,
    pub now: i64,
    pub writes: &'a Writes,
}

/// Where a resend's (or reminder's, or new invitation's) email and audit line go: written at
/// once, or kept for the batch, which writes all of its people's in a statement or two each
/// before it commits ([`Writes::flush`]). Either both of a person's are kept or neither.
pub enum Writes {
    Now,
    Batch(std::sync::Mutex<Kept>),
}

/// What a batch keeps for its commit.
#[derive(Default)]
pub struct Kept {
    emails_and_lines: Vec<(notify::OfferingMessage, AuditLine)>,
    /// Users whose invitation changed: their rows take its dates (idempotent, so one whose
    /// change was rolled back to its savepoint is merely synced to what it still is).
    users_to_sync: Vec<String>,
    /// The batch's people's send counters as read (`None` inside: no counter yet), by key,
    /// when the batch counts its sends together; each is used once (one person an address).
    counters: Option<HashMap<String, Option<(i64, i64)>>>,
    /// Send counters the batch allowed one more on; counted with the email, when it is kept.
    allowed: HashSet<String>,
    /// Send counters to count one more on before the commit.
    counted: Vec<String>,
}

/// A person's audit line on their invitation, by the actor of the batch.
pub struct AuditLine {
    action: AuditAction,
    invitation_id: String,
    details: serde_json::Value,
}

impl Writes {
    pub fn batch() -> Writes {
        Writes::Batch(Default::default())
    }

    async fn email_and_audit(&self, tx: &mut Conn, actor: &Actor, message: notify::OfferingMessage, line: AuditLine, now: i64) -> Result<(), AppError> {
        match self {
            Writes::Now => {
                outbox::enqueue(tx, message.as_new(), now).await.step("outbox::enqueue")?;
                record(tx, actor, line.action, &line.invitation_id, line.details, now).await
            }
            Writes::Batch(kept) => {
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                // The send is counted with its email, not before: a person refused in between
                // sends nothing and is counted for nothing.
                let key = message.send_budget_key();
                if kept.allowed.remove(&key) {
                    kept.counted.push(key);
                }
                kept.emails_and_lines.push((message, line));
                Ok(())
            }
        }
    }

    /// Reads the send counters of `emails` once for the batch, which then counts its sends
    /// together before it commits. Only for a batch whose failure rolls all of it back: one
    /// person rolled back to a savepoint would still be counted.
    async fn read_send_counters(&self, tx: &mut Conn, account_id: &str, emails: &[String]) -> Result<(), AppError> {
        let Writes::Batch(kept) = self else { return Ok(()) };
        let keys: Vec<String> = emails.iter().map(|email| outbox::send_budget_key(account_id, email)).collect();
        let mut found = crate::services::store::rate_limits::counters(tx, &keys).await.step("rate_limits::counters")?;
        let counters = keys.into_iter().map(|key| (key.clone(), found.remove(&key))).collect();
        kept.lock().unwrap_or_else(|e| e.into_inner()).counters = Some(counters);
        Ok(())
    }

    /// [`outbox::spend_send_budget`], or its answer from the counter the batch read.
    async fn spend_send_budget(&self, tx: &mut Conn, account_id: &str, email: &Email, now: i64) -> Result<Option<u64>, AppError> {
        if let Writes::Batch(kept) = self {
            let key = outbox::send_budget_key(account_id, email.as_str());
            let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(counter) = kept.counters.as_mut().and_then(|counters| counters.remove(&key)) {
                let spent = outbox::send_budget_spent(counter, now);
                if spent.is_none() {
                    kept.allowed.insert(key);
                }
                return Ok(spent);
            }
        }
        outbox::spend_send_budget(tx, account_id, email, now).await
    }

    /// Records a send of the invitation; its user's row is synced now or with the batch.
    async fn record_send(
        &self,
        tx: &mut Conn,
        invitation_id: &str,
        rotate: bool,
        reissued_by: Option<&str>,
        expires_at: Option<i64>,
        now: i64,
    ) -> sqlx::Result<Option<InvitationRecord>> {
        match self {
            Writes::Now => store::record_send(tx, invitation_id, rotate, reissued_by, expires_at, now).await,
            Writes::Batch(kept) => {
                let updated = store::record_send_unsynced(tx, invitation_id, rotate, reissued_by, expires_at, now).await?;
                if let Some(invitation) = &updated {
                    kept.lock().unwrap_or_else(|e| e.into_inner()).users_to_sync.push(invitation.user_id.clone());
                }
                Ok(updated)
            }
        }
    }

    /// Writes what the batch kept, in the batch's transaction.
    pub async fn flush(&self, tx: &mut Conn, actor: &Actor, now: i64) -> Result<(), AppError> {
        let Writes::Batch(kept) = self else { return Ok(()) };
        let Kept { emails_and_lines: kept, users_to_sync, counted, .. } = std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()));
        users::sync_open_invitations(tx, &users_to_sync).await.step("users::sync_open_invitations")?;
        crate::services::rate_limit::count_many(tx, &counted, outbox::SENDS_PER_RECIPIENT, now).await?;
        if kept.is_empty() {
            return Ok(());
        }
        let messages: Vec<_> = kept.iter().map(|(message, ..)| message.as_new()).collect();
        outbox::enqueue_many(tx, &messages, now).await.step("outbox::enqueue_many")?;
        let events: Vec<AuditEvent> = kept
            .iter()
            .map(|(_, line)| AuditEvent {
                account_id: &actor.account_id,
                actor_user_id: Some(&actor.user_id),
                action: line.action,
                target_type: "invitation",
                target_id: &line.invitation_id,
                details: line.details.clone(),
            })
            .collect();
        audit::record_many(tx, &events, now).await.step("audit::record_many")
    }
}

/// What one person's action did.
pub struct Done {
    pub banner: String,
    /// An email was queued (the caller checks the daily budget and wakes the runner).
    pub queued_email: bool,
}

/// Resend, remind, send new, extend or cancel for one person, in the caller's transaction:
/// the one function the single action and the bulk job share. A refusal may leave writes
/// in the transaction (a spent send budget): the caller rolls back to before it.
pub async fn act_on_one(tx: &mut Conn, ctx: &OnePerson<'_>, user_id: &str, action: InvitationAction) -> Result<Done, Refused> {
    if action == InvitationAction::InviteToActivate {
        return invite_to_activate(tx, ctx, user_id).await;
    }
    let target = load_target(tx, ctx.state.db.engine(), ctx.actor, user_id, action, ctx.now).await?;
    act_on_target(tx, ctx, target, action).await
}

/// What a batch of a bulk job acts on, read for all its people at once (a few statements
/// instead of a few per person); each is then acted on by [`act_on_loaded`].
#[derive(Default)]
pub struct Loaded(HashMap<String, Result<Target, Refused>>);

/// Reads `user_ids` for `action` in the caller's transaction, locking their invitations;
/// with `count_sends_together` (a batch that is rolled back whole on a failure), their send
/// counters too.
pub async fn load_batch(
    tx: &mut Conn,
    ctx: &OnePerson<'_>,
    user_ids: &[String],
    action: InvitationAction,
    count_sends_together: bool,
) -> Result<Loaded, AppError> {
    if action == InvitationAction::InviteToActivate {
        return Ok(Loaded::default());
    }
    let targets = match load_targets(tx, ctx.state.db.engine(), ctx.actor, user_ids, action, ctx.now).await {
        Ok(targets) => targets,
        Err(Refused::Error(error)) => return Err(error),
        Err(Refused::Skip { .. }) => return Err(AppError::Internal),
    };
    if count_sends_together && sends(action) {
        let emails: Vec<String> = targets.values().filter_map(|t| t.as_ref().ok()).map(|t| t.user.email.clone()).collect();
        ctx.writes.read_send_counters(tx, &ctx.actor.account_id, &emails).await?;
    }
    Ok(Loaded(targets))
}

/// Whether `action` sends the invitee an email (only to read the batch's send counters
/// ahead: an action missing here still counts its sends, one statement each).
fn sends(action: InvitationAction) -> bool {
    matches!(action, InvitationAction::Resend | InvitationAction::Remind | InvitationAction::SendNew)
}

/// [`act_on_one`] for a person of a batch read by [`load_batch`] for the same action.
pub async fn act_on_loaded(tx: &mut Conn, ctx: &OnePerson<'_>, loaded: &mut Loaded, user_id: &str, action: InvitationAction) -> Result<Done, Refused> {
    if action == InvitationAction::InviteToActivate {
        return invite_to_activate(tx, ctx, user_id).await;
    }
    let target = loaded.0.remove(user_id).unwrap_or(Err(Refused::skip(SkipReason::Gone)))?;
    act_on_target(tx, ctx, target, action).await
}

async fn act_on_target(tx: &mut Conn, ctx: &OnePerson<'_>, target: Target, action: InvitationAction) -> Result<Done, Refused> {
    let (actor, account, now) = (ctx.actor, ctx.account, ctx.now);
    let invitation = pending(&target)?.clone();
    let who = display_name(&target.user);
    let email = Email::parse(&target.user.email).step("Email::parse")?;
    let new_expiry = account.invitation_expiry_days.expiry_from(now);
    let quiet = |banner: String| Ok(Done { banner, queued_email: false });

    let (wording, rotate, expires_at, audit_action, banner) = match action {
        InvitationAction::Resend => {
            let rotate = account.resend_rotates_link != 0;
            let banner = if rotate {
                format!(
                    "Invitation resent to {who} with a new link; earlier links no longer work. It expires {}.",
                    shared::invitations::time_until(new_expiry, now)
                )
            } else {
                format!("Invitation resent to {who}. It now expires {}.", shared::invitations::time_until(new_expiry, now))
            };
            (notify::Wording::Invitation, rotate, Some(new_expiry), AuditAction::InvitationResent, banner)
        }
        InvitationAction::Remind => (notify::Wording::Reminder, false, None, AuditAction::InvitationReminded, format!("Reminder sent to {who}.")),
        InvitationAction::SendNew => (
            notify::Wording::Invitation,
            true,
            Some(new_expiry),
            AuditAction::InvitationReissued,
            format!("New invitation sent to {who}. Earlier links no longer work."),
        ),
        InvitationAction::Extend => {
            // Never earlier than it was: extending a fresh invitation changes nothing.
            let until = new_expiry.max(invitation.expires_at);
            if !store::extend(tx, &invitation.id, until).await.step("invitations::extend")? {
                return Err(changed_meanwhile());
            }
            let details = serde_json::json!({ "email": target.user.email, "from": shared::invitations::utc_date_time(invitation.expires_at), "to": shared::invitations::utc_date_time(until) });
            record(tx, actor, AuditAction::InvitationExtended, &invitation.id, details, now).await?;
            return quiet(format!("Invitation to {who} extended: it now expires {}. Nothing was sent.", shared::invitations::time_until(until, now)));
        }
        InvitationAction::Cancel => {
            cancel_target(tx, &target, &invitation, actor, now).await?;
            record(tx, actor, AuditAction::InvitationCancelled, &invitation.id, serde_json::json!({ "email": target.user.email }), now).await?;
            return quiet(format!("Invitation to {who} cancelled. Its link no longer works."));
        }
        InvitationAction::CopyLink | InvitationAction::Manage | InvitationAction::InviteToActivate | InvitationAction::Confirm => {
            return Err(AppError::InvalidState("That action has its own control.".into()).into());
        }
    };
    if let Some(bounce) = target.held {
        return Err(Refused::Skip { reason: SkipReason::AddressBounced, message: Some(shared::mail::held_message(&target.user.email, &bounce.reply)) });
    }
    if let Some(wait) = ctx.writes.spend_send_budget(tx, &actor.account_id, &email, now).await? {
        return Err(Refused::Skip { reason: SkipReason::RecipientLimit, message: Some(format!("{email} {}.", outbox::budget_spent(wait))) });
    }
    // Resending or sending anew re-issues the invitation: the sender vouches for it now.
    let reissued_by = (action != InvitationAction::Remind).then_some(actor.user_id.as_str());
    let Some(updated) = ctx.writes.record_send(tx, &invitation.id, rotate, reissued_by, expires_at, now).await.step("invitations::record_send")? else {
        return Err(changed_meanwhile());
    };
    let inviter = match &updated.invited_by {
        // Resending re-issues it in the actor's name: nothing to read.
        Some(id) if *id == actor.user_id => actor.name.clone(),
        Some(id) => users::get(tx, id).await.step("users::get")?.map(|u| u.name).unwrap_or_else(|| actor.name.clone()),
        None => actor.name.clone(),
    };
    let from = notify::From { account_name: &account.name, inviter_name: &inviter, sent_by: Some(&actor.user_id), priority: ctx.priority };
    let message = notify::offering_message(tx, from, &email, &updated, target.offers, wording).await?;
    let details = serde_json::json!({ "email": target.user.email, "new_link": rotate });
    let line = AuditLine { action: audit_action, invitation_id: invitation.id.clone(), details };
    ctx.writes.email_and_audit(tx, actor, message, line, now).await?;
    Ok(Done { banner, queued_email: true })
}

/// Lets a hard-bounced address receive mail again, for someone who knows it works now: who
/// may resend the invitation may (by the one rule). Returns the banner.
pub async fn release_hold(state: &AppState, actor: &Actor, user_id: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageInvitations)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = load_target(&mut tx, state.db.engine(), actor, user_id, InvitationAction::Resend, now).await.map_err(AppError::from)?;
    let invitation = pending(&target).map_err(AppError::from)?.clone();
    if !crate::services::store::bounces::release(&mut tx, &actor.account_id, &target.user.email, now).await.step("bounces::release")? {
        return Err(AppError::InvalidState(format!("{} is not held: nothing bounced there, or it was marked as working already.", target.user.email)));
    }
    record(&mut tx, actor, AuditAction::AddressHoldReleased, &invitation.id, serde_json::json!({ "email": target.user.email }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!("{} is marked as working: you can resend the invitation now.", target.user.email))
}

/// Confirms an acceptance that waits for an administrator (its inviter could no longer grant
/// every role it offers when it was accepted): grants those roles, makes a new invitee active
/// with the name and password they chose, and tells them by email. Only someone who may grant
/// every one of its roles may (403 otherwise, by the one rule), and not while a place it
/// offers a role in is archived.
pub async fn confirm(state: &AppState, actor: &Actor, user_id: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageInvitations)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = load_target(&mut tx, state.db.engine(), actor, user_id, InvitationAction::Confirm, now).await?;
    let invitation = pending(&target)?.clone();
    let places: Vec<String> = target.subject.offered.iter().map(|g| g.scope_id.clone()).collect();
    let live = scopes::lock_live(&mut tx, state.db.engine(), &places).await.step("scopes::lock_live")?;
    if places.iter().any(|id| !live.contains(id)) {
        return Err(AppError::InvalidState("A place this invitation offers a role in is archived. Restore it first, or cancel the invitation.".into()));
    }
    if !store::confirm(&mut tx, &invitation.id, now).await.step("invitations::confirm")? {
        return Err(changed_meanwhile().into());
    }
    for grant in &target.subject.offered {
        memberships::grant(&mut tx, &target.user.id, &grant.scope_id, &grant.role, now).await.step("memberships::grant")?;
    }
    if !target.user.is_active() {
        users::set_status(&mut tx, &target.user.id, StoredUserStatus::Active, now).await.step("users::set_status")?;
    }
    let account = accounts::get(&mut tx, &actor.account_id).await.step("accounts::get")?.ok_or(AppError::NotFound)?;
    let email = Email::parse(&target.user.email).step("Email::parse")?;
    let untold = outbox::spend_send_budget(&mut tx, &actor.account_id, &email, now).await?;
    if untold.is_none() {
        notify::access_confirmed(&mut tx, &state.public_url, &account.name, &actor.name, &email, &invitation, now).await?;
    }
    record(
        &mut tx,
        actor,
        AuditAction::InvitationConfirmed,
        &invitation.id,
        serde_json::json!({ "email": target.user.email, "grants": target.subject.offered }),
        now,
    )
    .await?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    let who = display_name(&target.user);
    Ok(match untold {
        None => format!("Confirmed: {who} now holds the roles of the invitation, and was told by email."),
        Some(wait) => format!("Confirmed: {who} now holds the roles of the invitation. No email was sent: {email} {}.", outbox::budget_spent(wait)),
    })
}

/// The current link of a pending invitation, for the admin to share directly.
pub async fn copy_link(state: &AppState, actor: &Actor, user_id: &str) -> Result<String, AppError> {
    actor.require(Permission::ManageInvitations)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = load_target(&mut tx, state.db.engine(), actor, user_id, InvitationAction::CopyLink, now).await?;
    let invitation = pending(&target)?;
    let url = link::url(&state.public_url, &invitation.id, &state.link_key.token(&invitation.id, invitation.link_version));
    record(&mut tx, actor, AuditAction::InvitationLinkCopied, &invitation.id, serde_json::json!({ "email": target.user.email }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(url)
}

/// Removes roles from a pending invitation; removing the last one cancels it.
pub async fn remove_grants(state: &AppState, actor: &Actor, user_id: &str, grants: Vec<Grant>) -> Result<String, AppError> {
    actor.require(Permission::ManageInvitations)?;
    if grants.is_empty() {
        return Err(AppError::Validation("Select the roles to remove.".into()));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = load_target(&mut tx, state.db.engine(), actor, user_id, InvitationAction::Manage, now).await?;
    let invitation = pending(&target)?.clone();
    if grants.iter().any(|g| !target.subject.offered.contains(g)) {
        return Err(AppError::Validation("The invitation does not offer one of those roles. Reload the page to see it now.".into()));
    }
    for grant in &grants {
        store::remove_grant(&mut tx, &invitation.id, grant).await.step("invitations::remove_grant")?;
    }
    let remaining = store::grants(&mut tx, &invitation.id).await.step("invitations::grants")?;
    record(&mut tx, actor, AuditAction::InvitationRolesRemoved, &invitation.id, serde_json::json!({ "grants": grants }), now).await?;
    let who = display_name(&target.user);
    let banner = if remaining.is_empty() {
        cancel_target(&mut tx, &target, &invitation, actor, now).await?;
        record(
            &mut tx,
            actor,
            AuditAction::InvitationCancelled,
            &invitation.id,
            serde_json::json!({ "email": target.user.email, "reason": "all roles removed" }),
            now,
        )
        .await?;
        format!("All roles removed: the invitation to {who} is cancelled.")
    } else {
        let names = RoleNames::load(&mut tx, &actor.account_id).await?;
        let labels = grants.iter().map(|g| names.label(&g.role)).collect::<Vec<_>>().join(", ");
        format!("Removed {labels} from the invitation to {who}.")
    };
    state.checkpoints.reach(points::MANAGE_BEFORE_COMMIT).await;
    tx.commit().await.step("commit")?;
    Ok(banner)
}
