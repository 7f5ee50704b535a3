//! "Invite people": one or many addresses, roles, an optional personal message. Likely
//! typos are pointed out before anything is sent.

use super::UsersPageState;
use crate::api::{roles_param, InvitePeople};
use leptos::prelude::*;
use shared::invitations::{split_addresses, MAX_INVITES_PER_BATCH};
use shared::views::InviteOutcome;
use shared::Role;

fn summary(outcome: &InviteOutcome) -> String {
    let mut parts = Vec::new();
    match outcome.invited.len() {
        0 => parts.push("Nobody was invited.".to_string()),
        1 => parts.push(format!("Invitation sent to {}.", outcome.invited[0])),
        n => parts.push(format!("Invitations sent to {n} people.")),
    }
    for (email, why) in &outcome.skipped {
        parts.push(format!("{email} {why}."));
    }
    parts.join(" ")
}

#[component]
pub fn InviteDialog(prefill: String) -> impl IntoView {
    let state = expect_context::<UsersPageState>();
    let invite = ServerAction::<InvitePeople>::new();
    let addresses = RwSignal::new(prefill);
    let message = RwSignal::new(String::new());
    let roles = RwSignal::new(vec![Role::Member]);
    let warnings = RwSignal::new(Vec::<(String, String)>::new());
    let error = RwSignal::new(None::<String>);
    let count = move || split_addresses(&addresses.get()).len();

    Effect::new(move |_| {
        if let Some(result) = invite.value().get() {
            match result {
                Ok(outcome) if !outcome.typo_warnings.is_empty() => {
                    warnings.set(outcome.typo_warnings);
                    error.set(None);
                }
                Ok(outcome) => {
                    state.say(!outcome.invited.is_empty(), summary(&outcome));
                    state.invite_prefill.set(None);
                    state.refresh.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    let send = move |despite_typos: bool| {
        invite.dispatch(InvitePeople {
            addresses: addresses.get_untracked(),
            roles: roles_param(&roles.get_untracked()),
            message: message.get_untracked(),
            send_despite_typos: despite_typos,
        });
    };
    let use_suggestion = move |typed: String, suggested: String| {
        addresses.update(|a| *a = a.replace(&typed, &suggested));
        warnings.update(|w| w.retain(|(t, _)| *t != typed));
    };

    view! {
        <div class="dialog-backdrop">
            <section class="dialog" role="dialog" aria-modal="true" aria-labelledby="invite-title">
                <h2 id="invite-title">"Invite people"</h2>
                {move || error.get().map(|e| view! { <div class="banner banner-error" role="alert">{e}</div> })}
                <form on:submit=move |ev| { ev.prevent_default(); send(false); }>
                    <label>
                        "Email addresses"
                        <textarea
                            name="addresses"
                            rows="4"
                            placeholder="ada@example.com, grace@example.com"
                            prop:value=move || addresses.get()
                            on:input:target=move |ev| { addresses.set(ev.target().value()); warnings.set(Vec::new()); }
                        ></textarea>
                    </label>
                    <p class="hint">
                        {move || format!("Separate addresses with commas, spaces or new lines; up to {MAX_INVITES_PER_BATCH}. {} entered.", count())}
                    </p>
                    <fieldset class="roles">
                        <legend>"Roles"</legend>
                        {move || state.grantable.get().into_iter().map(|role| view! {
                            <label class="checkbox">
                                <input
                                    type="checkbox"
                                    name="roles"
                                    prop:checked=move || roles.get().contains(&role)
                                    on:change=move |_| roles.update(|r| if r.contains(&role) { r.retain(|x| *x != role) } else { r.push(role) })
                                />
                                {role.label()}
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <label>
                        "Personal message (optional)"
                        <textarea name="message" rows="3" maxlength="2000" on:input:target=move |ev| message.set(ev.target().value())></textarea>
                    </label>
                    <Show when=move || !warnings.get().is_empty()>
                        <div class="banner banner-warning" role="alert">
                            <p>"Some addresses look mistyped. Nothing has been sent yet."</p>
                            <ul>
                                {move || warnings.get().into_iter().map(|(typed, suggested)| {
                                    let (t, s) = (typed.clone(), suggested.clone());
                                    view! {
                                        <li>
                                            {format!("{typed}: did you mean {suggested}? ")}
                                            <button type="button" class="link-button" on:click=move |_| use_suggestion(t.clone(), s.clone())>
                                                {format!("Use {suggested}")}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            <button type="button" on:click=move |_| send(true)>"Send anyway"</button>
                        </div>
                    </Show>
                    <div class="dialog-actions">
                        <button type="submit" class="primary" disabled=move || invite.pending().get() || count() == 0 || roles.get().is_empty()>
                            {move || if invite.pending().get() { "Sending…" } else { "Send invitations" }}
                        </button>
                        <button type="button" on:click=move |_| state.invite_prefill.set(None)>"Cancel"</button>
                    </div>
                </form>
            </section>
        </div>
    }
}
