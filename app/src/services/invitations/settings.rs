//! Settings → Invitations: expiry period, what "Resend" does, and the reminders Beckon sends
//! by itself.

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
    Ok(InvitationSettings {
        expiry_days: account.invitation_expiry_days,
        resend_rotates_link: account.resend_rotates_link != 0,
        reminders: account.reminders(),
    })
}

pub async fn update(state: &AppState, actor: &Actor, new: InvitationSettings) -> Result<(), AppError> {
    actor.require(Permission::ManageSettings)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.write_tx().await.step("begin write transaction")?;
    accounts::set_invitation_settings(&mut tx, &actor.account_id, &new).await.step("accounts::set_invitation_settings")?;
    audit::record(
        &mut tx,
        AuditEvent {
            account_id: &actor.account_id,
            actor_user_id: Some(&actor.user_id),
            action: AuditAction::SettingsInvitationsChanged,
            target_type: "account",
            target_id: &actor.account_id,
            details: serde_json::json!({
                "expiry_days": new.expiry_days,
                "resend_rotates_link": new.resend_rotates_link,
                "remind_after_sending_days": new.reminders.after_sending_days,
                "remind_before_expiry_days": new.reminders.before_expiry_days,
            }),
        },
        now,
    )
    .await
    .step("audit::record")?;
    tx.commit().await.step("commit")
}
