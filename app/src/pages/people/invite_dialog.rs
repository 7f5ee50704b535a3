//! "Invite people": one or many addresses, the roles to offer (account-wide, and in places),
//! an optional personal message. Likely typos are pointed out before anything is sent. Only
//! the places and roles this admin may offer are there to choose.

use super::{InvitePrefill, PeopleActions};
use crate::components::Modal;
use crate::server_fns::{get_invite_options, InvitePeople};
use leptos::prelude::*;
use shared::invitations::{split_addresses, MAX_INVITES_PER_BATCH};
use shared::scopes::{Grant, ScopeKind};
use shared::views::{InviteOptions, InviteOutcome, PlaceOption};
use shared::{Role, RoleKey};

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

/// The role a new row starts with: Member where it may be offered, else the lowest offered.
fn first_role(place: &PlaceOption) -> Option<RoleKey> {
    let member = RoleKey::Builtin(Role::Member);
    place.roles.iter().find(|r| r.key == member).or_else(|| place.roles.iter().rfind(|r| r.key.builtin().is_some())).map(|r| r.key.clone())
}

#[component]
pub fn InviteDialog(prefill: InvitePrefill) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let options = Resource::new(|| (), |_| get_invite_options());
    view! {
        <Modal labelled_by="invite-title" on_close=Callback::new(move |_| state.inviting.set(None))>
                <h2 id="invite-title">"Invite people"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || {
                        let prefill = prefill.clone();
                        Suspend::new(async move {
                            match options.await {
                                Ok(options) => view! { <InviteForm options prefill/> }.into_any(),
                                Err(error) => view! {
                                    <div class="banner banner-error" role="alert">{error.to_string()}</div>
                                    <button type="button" on:click=move |_| state.inviting.set(None)>"Close"</button>
                                }.into_any(),
                            }
                        })
                    }}
                </Transition>
        </Modal>
    }
}

#[component]
fn InviteForm(options: InviteOptions, prefill: InvitePrefill) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let invite = ServerAction::<InvitePeople>::new();
    let account = options.places.iter().find(|p| p.kind == ScopeKind::Account).cloned();
    let places: Vec<PlaceOption> = options.places.iter().filter(|p| p.kind != ScopeKind::Account).cloned().collect();
    let addresses = RwSignal::new(prefill.addresses);
    let message = RwSignal::new(String::new());
    // Account-wide roles ticked, and roles in places, one (place, role) per row.
    let preselected = prefill.scope_id.as_ref().and_then(|id| places.iter().find(|p| &p.scope_id == id));
    let account_roles = RwSignal::new(match (&account, preselected) {
        (Some(_), None) => vec![RoleKey::Builtin(Role::Member)],
        _ => Vec::new(),
    });
    let first_row = preselected.or(if account.is_none() { places.first() } else { None });
    let rows = RwSignal::new(first_row.and_then(|p| first_role(p).map(|r| (p.scope_id.clone(), r))).into_iter().collect::<Vec<_>>());
    let warnings = RwSignal::new(Vec::<(String, String)>::new());
    let error = RwSignal::new(None::<String>);
    let count = move || split_addresses(&addresses.get()).len();
    let grants = {
        let account_id = account.as_ref().map(|a| a.scope_id.clone());
        move || {
            let mut grants: Vec<Grant> = match &account_id {
                Some(id) => account_roles.get().into_iter().map(|r| Grant::new(id.clone(), r)).collect(),
                None => Vec::new(),
            };
            grants.extend(rows.get().into_iter().map(|(scope, role)| Grant::new(scope, role)));
            grants
        }
    };

    Effect::new(move |_| {
        if let Some(result) = invite.value().get() {
            match result {
                Ok(outcome) if !outcome.typo_warnings.is_empty() => {
                    warnings.set(outcome.typo_warnings);
                    error.set(None);
                }
                Ok(outcome) => {
                    state.say(!outcome.invited.is_empty(), summary(&outcome));
                    state.inviting.set(None);
                    state.refresh.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    let send = {
        let grants = grants.clone();
        move |despite_typos: bool| {
            invite.dispatch(InvitePeople {
                addresses: addresses.get_untracked(),
                grants: Grant::to_param(&untrack(&grants)),
                message: message.get_untracked(),
                send_despite_typos: despite_typos,
            });
        }
    };
    let send_checked = send.clone();
    let use_suggestion = move |typed: String, suggested: String| {
        addresses.update(|a| *a = a.replace(&typed, &suggested));
        warnings.update(|w| w.retain(|(t, _)| *t != typed));
    };
    let places_for_rows = StoredValue::new(places.clone());
    let add_row = move |_| {
        let places = places_for_rows.get_value();
        if let Some(place) = places.first() {
            if let Some(role) = first_role(place) {
                rows.update(|r| r.push((place.scope_id.clone(), role)));
            }
        }
    };
    let has_grants = {
        let grants = grants.clone();
        move || !grants().is_empty()
    };

    view! {
        {move || error.get().map(|e| view! { <div class="banner banner-error" role="alert">{e}</div> })}
        <form on:submit=move |ev| { ev.prevent_default(); send_checked(false); }>
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
            {account.clone().map(|account| view! {
                <fieldset class="roles">
                    <legend>"Roles"</legend>
                    <p class="muted small">{format!("Across {}", account.name)}</p>
                    {account.roles.into_iter().map(|role| {
                        let key = role.key.clone();
                        let key_for_change = role.key.clone();
                        view! {
                            <label class="checkbox">
                                <input
                                    type="checkbox"
                                    prop:checked=move || account_roles.get().contains(&key)
                                    on:change=move |_| account_roles.update(|r| if r.contains(&key_for_change) { r.retain(|x| *x != key_for_change) } else { r.push(key_for_change.clone()) })
                                />
                                {role.label}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
            })}
            {(!places.is_empty()).then(|| view! {
                <fieldset class="roles places">
                    <legend>"Roles in places"</legend>
                    {move || rows.get().into_iter().enumerate().map(|(i, (scope, role))| {
                        let places = places_for_rows.get_value();
                        let chosen = places.iter().find(|p| p.scope_id == scope).cloned();
                        view! {
                            <div class="grant-row">
                                <div class="field">
                                    <label for=format!("grant-place-{i}")>{format!("Place {}", i + 1)}</label>
                                    <select id=format!("grant-place-{i}") on:change:target=move |ev| {
                                        let places = places_for_rows.get_value();
                                        if let Some(place) = places.iter().find(|p| p.scope_id == ev.target().value()) {
                                            let role = first_role(place);
                                            rows.update(|r| if let (Some(row), Some(role)) = (r.get_mut(i), role) { *row = (place.scope_id.clone(), role) });
                                        }
                                    }>
                                        {places.iter().map(|p| view! {
                                            <option value=p.scope_id.clone() selected=p.scope_id == scope>
                                                {format!("{}{} ({})", "\u{2003}".repeat(p.depth.saturating_sub(1) as usize), p.name, p.kind.label())}
                                            </option>
                                        }).collect_view()}
                                    </select>
                                </div>
                                <div class="field">
                                    <label for=format!("grant-role-{i}")>{format!("Role {}", i + 1)}</label>
                                    <select id=format!("grant-role-{i}") on:change:target=move |ev| {
                                        if let Some(key) = RoleKey::parse_stored(&ev.target().value()) {
                                            rows.update(|r| if let Some(row) = r.get_mut(i) { row.1 = key });
                                        }
                                    }>
                                        {chosen.map(|p| p.roles).unwrap_or_default().into_iter().map(|r| view! {
                                            <option value=r.key.as_stored() selected=r.key == role>{r.label}</option>
                                        }).collect_view()}
                                    </select>
                                </div>
                                <button type="button" class="link-button" aria-label=format!("Remove the role in place {}", i + 1) on:click=move |_| rows.update(|r| { r.remove(i); })>
                                    "Remove"
                                </button>
                            </div>
                        }
                    }).collect_view()}
                    <button type="button" on:click=add_row>"Add a role in a place"</button>
                </fieldset>
            })}
            <label>
                "Personal message (optional)"
                <textarea name="message" rows="3" maxlength=shared::invitations::MAX_MESSAGE_CHARS on:input:target=move |ev| message.set(ev.target().value())></textarea>
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
                    <button type="button" on:click={let send = send.clone(); move |_| send(true)}>"Send anyway"</button>
                </div>
            </Show>
            <div class="dialog-actions">
                <button type="submit" class="primary" disabled=move || invite.pending().get() || count() == 0 || !has_grants()>
                    {move || if invite.pending().get() { "Sending…" } else { "Send invitations" }}
                </button>
                <button type="button" on:click=move |_| state.inviting.set(None)>"Cancel"</button>
            </div>
        </form>
    }
}
