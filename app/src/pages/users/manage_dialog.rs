//! "Manage invitation": the pending invitation's roles, each removable; removing them
//! all cancels the invitation. Also offers a reminder.

use super::UsersPageState;
use crate::api::{roles_param, ActOnInvitation, RemoveInvitationRoles};
use leptos::prelude::*;
use shared::invitations::InvitationAction;
use shared::views::UserRow;
use shared::Role;

#[component]
pub fn ManageDialog(row: UserRow) -> impl IntoView {
    let state = expect_context::<UsersPageState>();
    let roles = row.roles.clone();
    let selected = RwSignal::new(Vec::<Role>::new());
    let confirming = RwSignal::new(false);
    let all_selected = {
        let roles = roles.clone();
        move || !roles.is_empty() && selected.get().len() == roles.len()
    };
    let toggle_all = {
        let roles = roles.clone();
        let all_selected = all_selected.clone();
        move |_| {
            if all_selected() {
                selected.set(Vec::new());
            } else {
                selected.set(roles.clone());
            }
        }
    };
    let user_id = row.user_id.clone();
    let remove = move |_| {
        state.remove_roles.dispatch(RemoveInvitationRoles { user_id: user_id.clone(), roles: roles_param(&selected.get_untracked()) });
        confirming.set(false);
    };
    let remind_user = row.user_id.clone();
    let who = row.email.clone();
    let question = {
        let total = row.roles.len();
        move || {
            let n = selected.get().len();
            if n == total {
                format!("Remove all roles? The invitation to {who} will be cancelled.")
            } else {
                format!("Remove {n} role{} from the invitation to {who}?", if n == 1 { "" } else { "s" })
            }
        }
    };
    view! {
        <div class="dialog-backdrop">
            <section class="dialog" role="dialog" aria-modal="true" aria-labelledby="manage-title">
                <h2 id="manage-title">"Manage invitation"</h2>
                <p class="muted">{format!("Invitation to {}", row.email)}</p>
                <button type="button" on:click=move |_| {
                    state.act.dispatch(ActOnInvitation { user_id: remind_user.clone(), action: InvitationAction::Remind.as_str().into() });
                }>"Send reminder"</button>
                <fieldset class="roles">
                    <legend>"Roles"</legend>
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=all_selected on:change=toggle_all/>
                        "Select all"
                    </label>
                    {row.roles.iter().map(|role| {
                        let role = *role;
                        view! {
                            <label class="checkbox">
                                <input
                                    type="checkbox"
                                    prop:checked=move || selected.get().contains(&role)
                                    on:change=move |_| selected.update(|s| if s.contains(&role) { s.retain(|r| *r != role) } else { s.push(role) })
                                />
                                {role.label()}
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
            </section>
        </div>
    }
}
