//! Settings → Invitations: expiry period and what "Resend" does.

use crate::services::audit::{self, AuditEvent};
use crate::services::error::Step;
use crate::services::store::accounts;
use crate::services::{Actor, AppState};
use shared::audit::AuditAction;
use shared::permissions::Permission;
pub use shared::views::InvitationSettings;
use shared::AppError;

pub async fn get(state: &AppState, actor: &Actor) -> Result<InvitationSettings, AppError> {
    actor.require(Permission::ManageSettings)?;
    let mut conn = state.db.pool.acquire().await.step("acquire connection")?;
    let account = accounts::get(&mut conn, &actor.account_id).await.step("accounts::get")?.ok_or(AppError::NotFound)?;
    Ok(InvitationSettings { expiry_days: account.invitation_expiry_days, resend_rotates_link: account.resend_rotates_link != 0 })
}

pub async fn update(state: &AppState, actor: &Actor, new: InvitationSettings) -> Result<(), AppError> {
    actor.require(Permission::ManageSettings)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    accounts::set_invitation_settings(&mut tx, &actor.account_id, new.expiry_days, new.resend_rotates_link).await.step("accounts::set_invitation_settings")?;
    audit::record(
        &mut tx,
        AuditEvent {
            account_id: &actor.account_id,
            actor_user_id: Some(&actor.user_id),
            action: AuditAction::SettingsInvitationsChanged,
            target_type: "account",
            target_id: &actor.account_id,
            details: serde_json::json!({ "expiry_days": new.expiry_days, "resend_rotates_link": new.resend_rotates_link }),
        },
        now,
    )
    .await
    .step("audit::record")?;
    tx.commit().await.step("commit")
}
