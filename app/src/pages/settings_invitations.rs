//! Settings → Invitations: expiry period, what "Resend" does, and the reminders Beckon sends
//! by itself.

use crate::components::{ActionError, ErrorBanner, SuccessBanner};
use crate::server_fns::{get_invitation_settings, SaveInvitationSettings};
use leptos::prelude::*;
use shared::invitations::ExpiryDays;

#[component]
pub fn InvitationSettingsSection() -> impl IntoView {
    let save = ServerAction::<SaveInvitationSettings>::new();
    let settings = Resource::new(move || save.version().get(), |_| get_invitation_settings());
    view! {
        <section class="card" aria-labelledby="invitation-settings">
            <h2 id="invitation-settings">"Invitations"</h2>
            {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <SuccessBanner message="Invitation settings saved."/> })}
            <ActionError value=save.value()/>
            <Transition>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => view! {
                            <ActionForm action=save>
                                <label>
                                    "Invitations expire after (days)"
                                    <input type="number" name="expiry_days" min=ExpiryDays::MIN max=ExpiryDays::MAX required value=s.expiry_days.days()/>
                                </label>
                                <label class="checkbox">
                                    <input type="checkbox" name="resend_rotates_link" value="on" checked=s.resend_rotates_link/>
                                    "Resend issues a new link (earlier links stop working)"
                                </label>
                                <fieldset>
                                    <legend>"Reminders Beckon sends by itself (leave empty for none)"</legend>
                                    <label>
                                        "Remind this many days after sending"
                                        <input type="number" name="remind_after_days" min="1" max=ExpiryDays::MAX - 1 value=s.reminders.after_sending_days/>
                                    </label>
                                    <label>
                                        "Remind this many days before expiry"
                                        <input type="number" name="remind_before_days" min="1" max=ExpiryDays::MAX - 1 value=s.reminders.before_expiry_days/>
                                    </label>
                                    <p class="muted small">"Each at most once per invitation link, never once it is accepted or cancelled."</p>
                                </fieldset>
                                <button type="submit" class="primary">"Save invitation settings"</button>
                            </ActionForm>
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
