//! What an administrator does to a person: change their roles, set a temporary password,
//! deactivate and reactivate them, correct the address of their invitation, sign them out
//! everywhere. Each decides with the one rule in `shared::people`, inside the transaction
//! that writes the change and its audit line, on the person's row locked until it ends.

use super::audit::{self, AuditEvent};
use super::error::{Refused, Step};
use super::invitations::notify;
use super::mail::{budget, outbox};
use super::store::api_tokens as api_token_store;
use super::store::invitations::{self as invitation_store, InvitationRecord};
use super::store::{accounts, memberships, scopes, users, Conn, Engine};
use super::{Actor, AppState};
use shared::audit::AuditAction;
use shared::bulk::SkipReason;
use shared::password::NewPassword;
use shared::people::{person_refusal, PersonAction, PersonSubject};
use shared::permissions::Permission;
use shared::scopes::Grant;
use shared::status::{StoredUserStatus, UserStatus};
use shared::{AppError, Email, Role, RoleKey};

/// The person an action is about, as it stands in the action's transaction.
struct Target {
    user: users::UserRecord,
    invitation: Option<InvitationRecord>,
    subject: PersonSubject,
}

impl Target {
    fn who(&self) -> String {
        if self.user.name.trim().is_empty() {
            self.user.email.clone()
        } else {
            self.user.name.clone()
        }
    }
}

/// Loads the person, locked until the transaction ends (on PostgreSQL; SQLite's writer holds
/// everything), and refuses `action` unless the one rule allows it.
async fn load_target(tx: &mut Conn, engine: Engine, actor: &Actor, user_id: &str, action: PersonAction, now: i64) -> Result<Target, Refused> {
    let user = users::get_for_update(tx, engine, user_id).await.step("users::get_for_update")?.filter(|u| u.account_id == actor.account_id);
    let user = user.ok_or(Refused::skip(SkipReason::Gone))?;
    let invitation = invitation_store::pending_for_user_locked(tx, engine, &user.id).await.step("invitations::pending_for_user_locked")?;
    let offered = match &invitation {
        Some(invitation) => invitation_store::grants(tx, &invitation.id).await.step("invitations::grants")?,
        None => Vec::new(),
    };
    let held = memberships::held_by(tx, &user.id).await.step("memberships::held_by")?;
    let status = UserStatus::of(user.status, invitation.as_ref().map(InvitationRecord::as_open), now);
    let subject = PersonSubject { status, held, offered, is_self: user.id == actor.user_id };
    if let Some(reason) = person_refusal(&actor.authority, action, &subject) {
        return Err(Refused::skip(reason));
    }
    Ok(Target { user, invitation, subject })
}

async fn record(tx: &mut Conn, actor: &Actor, action: AuditAction, target: &Target, details: serde_json::Value, now: i64) -> Result<(), AppError> {
    let event =
        AuditEvent { account_id: &actor.account_id, actor_user_id: Some(&actor.user_id), action, target_type: "user", target_id: &target.user.id, details };
    audit::record(tx, event, now).await.step("audit::record")
}

/// Refuses a change that would leave the account without an active Owner. The account's row
/// is locked first (PostgreSQL), so two such changes at once count one after the other.
async fn keep_an_owner(tx: &mut Conn, engine: Engine, actor: &Actor, target: &Target) -> Result<(), Refused> {
    accounts::lock(tx, engine, &actor.account_id).await.step("accounts::lock")?;
    let owners = memberships::active_owners(tx, &actor.authority.account_scope_id).await.step("memberships::active_owners")?;
    let counted = i64::from(target.user.is_active() && target.subject.is_owner());
    if owners - counted < 1 {
        return Err(Refused::skip(SkipReason::LastOwner));
    }
    Ok(())
}

/// Deactivate, Reactivate, Sign out everywhere.
pub async fn act(state: &AppState, actor: &Actor, user_id: &str, action: PersonAction) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let banner = act_on_one(&mut tx, state.db.engine(), actor, user_id, action, now).await?;
    tx.commit().await.step("commit")?;
    Ok(banner)
}

/// Deactivate, Reactivate or Sign out everywhere for one person, in the caller's
/// transaction: the one function the single action and the bulk job share. Sends nothing.
pub async fn act_on_one(tx: &mut Conn, engine: Engine, actor: &Actor, user_id: &str, action: PersonAction, now: i64) -> Result<String, Refused> {
    let target = load_target(tx, engine, actor, user_id, action, now).await?;
    let who = target.who();
    let banner = match action {
        PersonAction::Deactivate => {
            if target.subject.is_owner() {
                keep_an_owner(tx, engine, actor, &target).await?;
            }
            // They keep their roles for the record; none works while they are deactivated.
            let cancelled = match &target.invitation {
                Some(invitation) => invitation_store::cancel(tx, &invitation.id, Some(&actor.user_id), now).await.step("invitations::cancel")?,
                None => false,
            };
            users::set_status(tx, &target.user.id, StoredUserStatus::Deactivated, now).await.step("users::set_status")?;
            users::end_sessions(tx, &target.user.id, now).await.step("users::end_sessions")?;
            // Revoked, not paused: reactivating someone never brings their scripts back.
            let tokens = api_token_store::revoke_all_of(tx, &target.user.id, &actor.user_id, now).await.step("api_tokens::revoke_all_of")?;
            let details = serde_json::json!({ "email": target.user.email, "invitation_cancelled": cancelled, "api_tokens_revoked": tokens });
            if let (true, Some(invitation)) = (cancelled, &target.invitation) {
                // A cancellation like any other: its own line, and its webhook event.
                let details = serde_json::json!({ "email": target.user.email, "reason": "person deactivated" });
                let event = AuditEvent {
                    account_id: &actor.account_id,
                    actor_user_id: Some(&actor.user_id),
                    action: AuditAction::InvitationCancelled,
                    target_type: "invitation",
                    target_id: &invitation.id,
                    details,
                };
                audit::record(tx, event, now).await.step("audit::record")?;
            }
            record(tx, actor, AuditAction::UserDeactivated, &target, details, now).await?;
            match cancelled {
                true => format!("{who} is deactivated: signed out everywhere, and their pending invitation is cancelled."),
                false => format!("{who} is deactivated and signed out everywhere."),
            }
        }
        PersonAction::Reactivate => {
            // Back as they were: active with their roles if they had set up their account.
            let status = if target.user.password_hash.is_some() { StoredUserStatus::Active } else { StoredUserStatus::ProfileOnly };
            users::set_status(tx, &target.user.id, status, now).await.step("users::set_status")?;
            record(tx, actor, AuditAction::UserReactivated, &target, serde_json::json!({ "email": target.user.email, "status": status.as_str() }), now).await?;
            match status {
                StoredUserStatus::Active => format!("{who} is active again, with the roles they held. Nothing was sent."),
                _ => format!("{who} is reactivated. They never set up their account: invite them to activate it."),
            }
        }
        PersonAction::SignOutEverywhere => {
            users::end_sessions(tx, &target.user.id, now).await.step("users::end_sessions")?;
            record(tx, actor, AuditAction::UserSignedOutEverywhere, &target, serde_json::json!({ "email": target.user.email }), now).await?;
            format!("{who} is signed out everywhere.")
        }
        _ => return Err(AppError::InvalidState("That action has its own control.".into()).into()),
    };
    Ok(banner)
}

/// Takes roles an active (or deactivated) person holds away; they stop working at the
/// person's next request.
pub async fn remove_roles(state: &AppState, actor: &Actor, user_id: &str, grants: Vec<Grant>) -> Result<String, AppError> {
    if grants.is_empty() {
        return Err(AppError::Validation("Select the roles to remove.".into()));
    }
    let now = state.clock.now_ms();
    let engine = state.db.engine();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = load_target(&mut tx, engine, actor, user_id, PersonAction::RemoveRoles, now).await?;
    if grants.iter().any(|g| !target.subject.held.contains(g)) {
        return Err(AppError::Validation("They do not hold one of those roles. Reload the page to see them now.".into()));
    }
    if grants.iter().any(|g| g.role == RoleKey::Builtin(Role::Owner)) {
        keep_an_owner(&mut tx, engine, actor, &target).await?;
    }
    for grant in &grants {
        memberships::revoke(&mut tx, &target.user.id, grant).await.step("memberships::revoke")?;
    }
    record(&mut tx, actor, AuditAction::UserRolesRemoved, &target, serde_json::json!({ "email": target.user.email, "grants": grants }), now).await?;
    tx.commit().await.step("commit")?;
    let n = grants.len();
    Ok(format!("{n} role{} removed from {}. It stops working at their next page.", if n == 1 { "" } else { "s" }, target.who()))
}

/// Grants an active person further roles at once, and tells them by email.
pub async fn add_roles(state: &AppState, actor: &Actor, user_id: &str, grants: Vec<Grant>) -> Result<String, AppError> {
    actor.require(Permission::ManagePeople)?;
    if grants.is_empty() {
        return Err(AppError::Validation("Choose at least one role to give.".into()));
    }
    for grant in &grants {
        actor.authority.may_grant(grant).map_err(AppError::Forbidden)?;
    }
    let now = state.clock.now_ms();
    let engine = state.db.engine();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = load_target(&mut tx, engine, actor, user_id, PersonAction::AddRoles, now).await?;
    let new: Vec<Grant> = grants.into_iter().filter(|g| !target.subject.held.contains(g)).collect();
    if new.is_empty() {
        return Err(AppError::Validation("They already hold those roles.".into()));
    }
    super::grants::check_grants(&mut tx, engine, actor, &new).await?;
    for grant in &new {
        memberships::grant(&mut tx, &target.user.id, &grant.scope_id, &grant.role, now).await.step("memberships::grant")?;
    }
    let email = Email::parse(&target.user.email).step("Email::parse")?;
    let untold = outbox::spend_send_budget(&mut tx, &actor.account_id, &email, now).await?;
    if untold.is_none() {
        let labels = super::grants::labels(&mut tx, &actor.account_id, &new).await?;
        notify::roles_granted(&mut tx, &state.public_url, &actor.account_name, &actor.name, &actor.account_id, &email, &labels, now).await?;
    }
    record(&mut tx, actor, AuditAction::UserRolesGranted, &target, serde_json::json!({ "email": target.user.email, "grants": new }), now).await?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    let who = target.who();
    Ok(match untold {
        None => format!("{who} now holds the new roles, and was told by email."),
        Some(wait) => format!("{who} now holds the new roles. No email was sent: {email} {}.", outbox::budget_spent(wait)),
    })
}

/// Sets a temporary password for someone who never set up their account (seed 004's fallback
/// when the invitation email does not arrive): they become active with the roles their
/// invitation offered, its links die, and at their first sign-in they must choose their own
/// password. The password is never shown again, logged or emailed.
pub async fn set_password(state: &AppState, actor: &Actor, user_id: &str, password: String, confirmation: String) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    let engine = state.db.engine();
    // Decided before the transaction, and again inside it: hashing takes a while (and 19 MiB)
    // and must neither hold the writer nor be spent on a call that would be refused.
    let email = {
        let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
        load_target(&mut conn, engine, actor, user_id, PersonAction::SetPassword, now).await?.user.email
    };
    let password = NewPassword::parse(password, &confirmation, &email)?;
    let hash = super::passwords::hash(password.into_inner()).await?;
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = load_target(&mut tx, engine, actor, user_id, PersonAction::SetPassword, now).await?;
    if target.user.email != email {
        return Err(AppError::InvalidState("This person's address changed a moment ago. Reload the page and try again.".into()));
    }
    let granted = match &target.invitation {
        Some(invitation) => {
            let places: Vec<String> = target.subject.offered.iter().map(|g| g.scope_id.clone()).collect();
            let live = scopes::lock_live(&mut tx, engine, &places).await.step("scopes::lock_live")?;
            if places.iter().any(|id| !live.contains(id)) {
                return Err(AppError::InvalidState(
                    "A place their invitation offers a role in is archived. Restore it first, or cancel the invitation.".into(),
                ));
            }
            if !invitation_store::accept_for_invitee(&mut tx, &invitation.id, now).await.step("invitations::accept_for_invitee")? {
                return Err(AppError::InvalidState("Their invitation changed a moment ago. Reload the page to see it now.".into()));
            }
            for grant in &target.subject.offered {
                memberships::grant(&mut tx, &target.user.id, &grant.scope_id, &grant.role, now).await.step("memberships::grant")?;
            }
            target.subject.offered.clone()
        }
        None => Vec::new(),
    };
    users::set_temporary_password(&mut tx, &target.user.id, &hash, now).await.step("users::set_temporary_password")?;
    record(&mut tx, actor, AuditAction::UserPasswordSet, &target, serde_json::json!({ "email": target.user.email, "grants": granted }), now).await?;
    tx.commit().await.step("commit")?;
    Ok(format!(
        "{} can now sign in with the password you chose, and must choose their own at their first sign-in. Tell them the password yourself: it is not shown again.",
        target.who()
    ))
}

/// Deletes a person (Owner, Admin): their name, address and password are erased, their
/// sign-ins and invitations end; the audit trail keeps "a deleted person" with the roles
/// they had, so history stays whole.
pub async fn delete(state: &AppState, actor: &Actor, user_id: &str) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    let engine = state.db.engine();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    let target = load_target(&mut tx, engine, actor, user_id, PersonAction::Delete, now).await?;
    if target.subject.is_owner() {
        keep_an_owner(&mut tx, engine, actor, &target).await?;
    }
    let who = target.who();
    api_token_store::revoke_all_of(&mut tx, &target.user.id, &actor.user_id, now).await.step("api_tokens::revoke_all_of")?;
    users::erase(&mut tx, &actor.account_id, &target.user.id, &target.user.email).await.step("users::erase")?;
    // Written after the erasure (which blanks the details of the events about them): the
    // roles are not personal, and keep the event among their places' events.
    let roles: Vec<&Grant> = target.subject.held.iter().chain(&target.subject.offered).collect();
    record(&mut tx, actor, AuditAction::UserDeleted, &target, serde_json::json!({ "grants": roles }), now).await?;
    tx.commit().await.step("commit")?;
    tracing::info!(user_id = %target.user.id, "person deleted");
    Ok(format!("{who} is deleted: their name, address and password are erased, with the messages to them and the details of the events about them."))
}

/// Corrects the address of a pending invitation (a typo): the old link dies, the invitation
/// goes to the new address, and the person's row keeps its history.
pub async fn correct_address(state: &AppState, actor: &Actor, user_id: &str, new_address: &str) -> Result<String, AppError> {
    let email = Email::parse(new_address).map_err(|e| AppError::Validation(e.to_string()))?;
    let now = state.clock.now_ms();
    let engine = state.db.engine();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    budget::hold(&mut tx, engine, &actor.account_id).await?;
    let target = load_target(&mut tx, engine, actor, user_id, PersonAction::CorrectAddress, now).await?;
    let invitation = target.invitation.clone().ok_or_else(|| AppError::InvalidState("This person has no pending invitation.".into()))?;
    if email.as_str() == target.user.email {
        return Err(AppError::Validation("That is the address the invitation went to already.".into()));
    }
    if users::find_in_account(&mut tx, &actor.account_id, email.as_str()).await.step("users::find_in_account")?.is_some() {
        return Err(AppError::Validation(format!("{email} already belongs to someone in this account.")));
    }
    users::set_email(&mut tx, &target.user.id, email.as_str(), now).await.step("users::set_email")?;
    let account = accounts::get(&mut tx, &actor.account_id).await.step("accounts::get")?.ok_or(AppError::NotFound)?;
    let expires_at = account.invitation_expiry_days.expiry_from(now);
    let Some(updated) =
        invitation_store::record_send(&mut tx, &invitation.id, true, Some(&actor.user_id), Some(expires_at), now).await.step("invitations::record_send")?
    else {
        return Err(AppError::InvalidState("Their invitation changed a moment ago. Reload the page to see it now.".into()));
    };
    outbox::count_send(&mut tx, &actor.account_id, &email, now).await?;
    let from = notify::From { account_name: &account.name, inviter_name: &actor.name, sent_by: Some(&actor.user_id), priority: outbox::Priority::Waited };
    notify::invitation(&mut tx, from, &email, &updated, notify::Wording::Invitation, now).await?;
    budget::check_queued(&mut tx, state.mail_limits, &actor.account_id, &actor.user_id, 1, now).await?;
    record(&mut tx, actor, AuditAction::InvitationAddressCorrected, &target, serde_json::json!({ "from": target.user.email, "to": email.as_str() }), now)
        .await?;
    tx.commit().await.step("commit")?;
    state.work_signal.wake();
    Ok(format!("The invitation now goes to {email}; the link sent to {} no longer works.", target.user.email))
}
