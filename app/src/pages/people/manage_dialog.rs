//! "Manage invitation": the pending invitation's roles, by place ("Admin — Waiting area
//! North"), each removable; removing them all cancels the invitation. Also offers a reminder.

use super::PeopleActions;
use crate::components::Modal;
use crate::server_fns::{act_on_invitation, remove_invitation_roles};
use leptos::prelude::*;
use shared::invitations::InvitationAction;
use shared::scopes::Grant;
use shared::views::UserRow;

#[component]
pub fn ManageDialog(row: UserRow) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let offered = row.invitation.as_ref().map(|i| i.offered.clone()).unwrap_or_default();
    let total = offered.len();
    let selected = RwSignal::new(Vec::<Grant>::new());
    let confirming = RwSignal::new(false);
    let all = StoredValue::new(offered.iter().map(|g| g.grant.clone()).collect::<Vec<_>>());
    let all_selected = move || total > 0 && selected.get().len() == total;
    let toggle_all = move |_| {
        if all_selected() {
            selected.set(Vec::new());
        } else {
            selected.set(all.get_value());
        }
    };
    let user_id = row.user_id.clone();
    let remove = move |_| {
        state.run(remove_invitation_roles(user_id.clone(), Grant::to_param(&selected.get_untracked())));
        confirming.set(false);
    };
    let remind_user = row.user_id.clone();
    let who = row.email.clone();
    let question = move || {
        let n = selected.get().len();
        if n == total {
            format!("Remove all roles? The invitation to {who} will be cancelled.")
        } else {
            format!("Remove {n} role{} from the invitation to {who}?", if n == 1 { "" } else { "s" })
        }
    };
    view! {
        <Modal labelled_by="manage-title" on_close=Callback::new(move |_| state.managing.set(None))>
                <h2 id="manage-title">"Manage invitation"</h2>
                <p class="muted">{format!("Invitation to {}", row.email)}</p>
                <button type="button" on:click=move |_| {
                    state.run(act_on_invitation(remind_user.clone(), InvitationAction::Remind.as_str().into()));
                }>"Send reminder"</button>
                <fieldset class="roles">
                    <legend>"Roles"</legend>
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=all_selected on:change=toggle_all/>
                        "Select all"
                    </label>
                    {offered.into_iter().map(|view| {
                        let grant = view.grant.clone();
                        let grant_for_change = view.grant.clone();
                        view! {
                            <label class="checkbox">
                                <input
                                    type="checkbox"
                                    prop:checked=move || selected.get().contains(&grant)
                                    on:change=move |_| selected.update(|s| if s.contains(&grant_for_change) { s.retain(|g| *g != grant_for_change) } else { s.push(grant_for_change.clone()) })
                                />
                                {view.label()}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <Show
                    when=move || confirming.get()
                    fallback=move || view! {
                        <div class="dialog-actions">
                            <button type="button" class="danger" disabled=move || selected.get().is_empty() on:click=move |_| confirming.set(true)>
                                "Remove roles"
                            </button>
                            <button type="button" on:click=move |_| state.managing.set(None)>"Close"</button>
                        </div>
                    }
                >
                    <div class="confirm" role="alertdialog" aria-label="Confirm">
                        <p>{question.clone()}</p>
                        <button type="button" class="danger" on:click=remove.clone()>"Yes"</button>
                        <button type="button" on:click=move |_| confirming.set(false)>"No"</button>
                    </div>
                </Show>
        </Modal>
    }
}
