//! Dialogs about a person rather than their invitation: a temporary password, the corrected
//! address of their invitation, further roles for an active person. Each keeps what was typed
//! and says what went wrong inside itself; done, it closes and the page says what happened.

use super::PeopleActions;
use crate::components::Modal;
use crate::server_fns::{get_invite_options, AddPersonRoles, CorrectInvitationAddress, SetPersonPassword};
use leptos::prelude::*;
use shared::scopes::Grant;
use shared::views::{PlaceOption, UserRow};

/// Closes the dialog with the page's banner once `action` succeeded.
fn close_when_done<A>(state: PeopleActions, action: ServerAction<A>)
where
    A: leptos::server_fn::ServerFn<Output = String, Error = shared::AppError> + Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        if let Some(Ok(text)) = action.value().get() {
            state.done(text);
        }
    });
}

fn error_of<A>(action: ServerAction<A>) -> impl Fn() -> Option<String>
where
    A: leptos::server_fn::ServerFn<Output = String, Error = shared::AppError> + Clone + Send + Sync + 'static,
{
    move || match action.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    }
}

#[component]
pub fn SetPasswordDialog(row: UserRow) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let action = ServerAction::<SetPersonPassword>::new();
    close_when_done(state, action);
    let error = error_of(action);
    let offered = row.invitation.as_ref().map(|i| shared::scopes::GrantView::list(&i.offered)).filter(|l| !l.is_empty());
    view! {
        <Modal labelled_by="set-password-title" on_close=Callback::new(move |_| state.setting_password.set(None))>
            <h2 id="set-password-title">"Set password"</h2>
            <p>{format!("For {} ({}), who has not set up their account. ", row.display_name(), row.email)}
                {match offered {
                    Some(roles) => format!("They become active with the roles their invitation offers ({roles}), and its link stops working."),
                    None => "They become active.".to_string(),
                }}
            </p>
            <p class="muted">"They must choose their own password when they first sign in. Tell them this one yourself: it is not shown again, and never emailed."</p>
            {move || error().map(|e| view! { <div class="banner banner-error" role="alert">{e}</div> })}
            <ActionForm action>
                <input type="hidden" name="user_id" value=row.user_id.clone()/>
                <label>"Temporary password" <input type="password" name="password" required minlength="10" autocomplete="new-password"/></label>
                <label>"Confirm password" <input type="password" name="password_confirmation" required autocomplete="new-password"/></label>
                <div class="dialog-actions">
                    <button type="submit" class="primary" disabled=move || action.pending().get()>"Set password"</button>
                    <button type="button" on:click=move |_| state.setting_password.set(None)>"Cancel"</button>
                </div>
            </ActionForm>
        </Modal>
    }
}

#[component]
pub fn CorrectAddressDialog(row: UserRow) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let action = ServerAction::<CorrectInvitationAddress>::new();
    close_when_done(state, action);
    let error = error_of(action);
    view! {
        <Modal labelled_by="correct-address-title" on_close=Callback::new(move |_| state.correcting.set(None))>
            <h2 id="correct-address-title">"Correct email address"</h2>
            <p>{format!("The invitation went to {}. Correcting it sends the invitation to the new address; the link sent to the old one stops working.", row.email)}</p>
            {move || error().map(|e| view! { <div class="banner banner-error" role="alert">{e}</div> })}
            <ActionForm action>
                <input type="hidden" name="user_id" value=row.user_id.clone()/>
                <label>"Email address" <input type="email" name="email" required value=row.email.clone() autocomplete="off"/></label>
                <div class="dialog-actions">
                    <button type="submit" class="primary" disabled=move || action.pending().get()>"Send to this address"</button>
                    <button type="button" on:click=move |_| state.correcting.set(None)>"Cancel"</button>
                </div>
            </ActionForm>
        </Modal>
    }
}

/// One role in one place, among those the admin may give (the same choices as "Invite
/// people"); granted at once, and the person is told by email.
#[component]
pub fn AddRolesDialog(row: UserRow) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let options = Resource::new(|| (), |_| get_invite_options());
    view! {
        <Modal labelled_by="add-roles-title" on_close=Callback::new(move |_| state.adding_roles.set(None))>
            <h2 id="add-roles-title">"Add roles"</h2>
            <p>{format!("Give {} a role now. They are told by email, and have it from their next page.", row.display_name())}</p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let row = row.clone();
                    Suspend::new(async move {
                        match options.await {
                            Ok(options) => view! { <AddRoleForm row places=options.places/> }.into_any(),
                            Err(error) => view! { <div class="banner banner-error" role="alert">{error.to_string()}</div> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </Modal>
    }
}

#[component]
fn AddRoleForm(row: UserRow, places: Vec<PlaceOption>) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let action = ServerAction::<AddPersonRoles>::new();
    close_when_done(state, action);
    let error = error_of(action);
    let held: Vec<Grant> = row.held.iter().map(|g| g.grant.clone()).collect();
    // Every (place, role) the admin may give and the person does not hold yet.
    let choices: Vec<(Grant, String)> = places
        .iter()
        .flat_map(|place| {
            place.roles.iter().map(move |role| (Grant::new(place.scope_id.clone(), role.key.clone()), format!("{} — {}", role.label, place.name)))
        })
        .filter(|(grant, _)| !held.contains(grant))
        .collect();
    let chosen = RwSignal::new(choices.first().map(|(g, _)| g.clone()));
    let user_id = row.user_id.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(grant) = chosen.get_untracked() {
            action.dispatch(AddPersonRoles { user_id: user_id.clone(), grants: Grant::to_param(&[grant]) });
        }
    };
    if choices.is_empty() {
        return view! {
            <p class="muted">"They already hold every role you may give."</p>
            <div class="dialog-actions"><button type="button" on:click=move |_| state.adding_roles.set(None)>"Close"</button></div>
        }
        .into_any();
    }
    let options = StoredValue::new(choices);
    view! {
        {move || error().map(|e| view! { <div class="banner banner-error" role="alert">{e}</div> })}
        <form on:submit=submit>
            <label>
                "Role"
                <select on:change:target=move |ev| {
                    let value = ev.target().value();
                    chosen.set(options.get_value().into_iter().map(|(g, _)| g).find(|g| grant_value(g) == value));
                }>
                    {options.get_value().into_iter().map(|(grant, label)| view! { <option value=grant_value(&grant)>{label}</option> }).collect_view()}
                </select>
            </label>
            <div class="dialog-actions">
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Give role"</button>
                <button type="button" on:click=move |_| state.adding_roles.set(None)>"Cancel"</button>
            </div>
        </form>
    }
    .into_any()
}

/// A grant as one option's value.
fn grant_value(grant: &Grant) -> String {
    format!("{}:{}", grant.scope_id, grant.role.as_stored())
}
