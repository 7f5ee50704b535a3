//! What the Users page and a place's "Manage users" page share: the "•••" menu of a person,
//! "Invite people", "Manage invitation", and the banner that says what happened.

mod invite_dialog;
mod manage_dialog;
mod person_dialogs;
mod row_menu;

use invite_dialog::InviteDialog;
use leptos::prelude::*;
use manage_dialog::ManageDialog;
use person_dialogs::{AddRolesDialog, CorrectAddressDialog, SetPasswordDialog};
pub use row_menu::RowMenu;
use shared::error::AppError;
use shared::invitations::relative_time;
use shared::scopes::GrantView;
use shared::status::UserStatus;
use shared::views::UserRow;

/// A message at the top of the page after an action.
#[derive(Clone, Debug, PartialEq)]
pub struct Banner {
    pub ok: bool,
    pub text: String,
}

/// What "Invite people" opens with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InvitePrefill {
    pub addresses: String,
    /// The place chosen first (a place's own page invites into that place).
    pub scope_id: Option<String>,
}

/// The state the people pages share: the banner, the list's refresh and the open dialogs.
#[derive(Clone, Copy)]
pub struct PeopleActions {
    pub banner: RwSignal<Option<Banner>>,
    pub refresh: RwSignal<u32>,
    pub inviting: RwSignal<Option<InvitePrefill>>,
    pub managing: RwSignal<Option<UserRow>>,
    /// "Set password" open for this person.
    pub setting_password: RwSignal<Option<UserRow>>,
    /// "Correct email address" open for this person.
    pub correcting: RwSignal<Option<UserRow>>,
    /// "Add roles" open for this person.
    pub adding_roles: RwSignal<Option<UserRow>>,
}

impl PeopleActions {
    /// Creates the state and provides it to the page.
    pub fn provide() -> PeopleActions {
        let actions = PeopleActions {
            banner: RwSignal::new(None),
            refresh: RwSignal::new(0),
            inviting: RwSignal::new(None),
            managing: RwSignal::new(None),
            setting_password: RwSignal::new(None),
            correcting: RwSignal::new(None),
            adding_roles: RwSignal::new(None),
        };
        provide_context(actions);
        actions
    }

    pub fn say(&self, ok: bool, text: impl Into<String>) {
        self.banner.set(Some(Banner { ok, text: text.into() }));
    }

    /// Runs an action on an invitation (a server call), then says what happened, closes
    /// "Manage invitation" and reloads the list. The callers are in the lazy parts (the
    /// menu's items, the dialog), so a page's first visit does not carry the calls' code.
    pub fn run(self, call: impl std::future::Future<Output = Result<String, AppError>> + 'static) {
        leptos::task::spawn_local(async move {
            match call.await {
                Ok(text) => self.say(true, text),
                Err(error) => self.say(false, error.to_string()),
            }
            self.close_dialogs();
            self.refresh.update(|n| *n += 1);
        });
    }

    /// Says what a dialog did, closes it and reloads the list.
    pub fn done(self, text: String) {
        self.say(true, text);
        self.close_dialogs();
        self.refresh.update(|n| *n += 1);
    }

    fn close_dialogs(self) {
        self.managing.set(None);
        self.setting_password.set(None);
        self.correcting.set(None);
        self.adding_roles.set(None);
    }
}

/// The banner and whichever dialog is open.
#[component]
pub fn PeopleOverlays() -> impl IntoView {
    let actions = expect_context::<PeopleActions>();
    view! {
        {move || actions.banner.get().map(|b| {
            let class = if b.ok { "banner banner-success" } else { "banner banner-error" };
            let role = if b.ok { "status" } else { "alert" };
            view! {
                <div class=class role=role>
                    <span>{b.text}</span>
                    <button type="button" class="link-button dismiss" aria-label="Dismiss" on:click=move |_| actions.banner.set(None)>"×"</button>
                </div>
            }
        })}
        {move || actions.inviting.get().map(|prefill| Suspend::new(invite_dialog(prefill)))}
        {move || actions.managing.get().map(|row| Suspend::new(manage_dialog(row)))}
        {move || actions.setting_password.get().map(|row| Suspend::new(person_dialog(PersonDialog::SetPassword, row)))}
        {move || actions.correcting.get().map(|row| Suspend::new(person_dialog(PersonDialog::CorrectAddress, row)))}
        {move || actions.adding_roles.get().map(|row| Suspend::new(person_dialog(PersonDialog::AddRoles, row)))}
    }
}

// The dialogs are chunks of the wasm of their own, loaded when one is first opened: a list
// page's first visit does not download them.
#[lazy]
fn invite_dialog(prefill: InvitePrefill) -> AnyView {
    view! { <InviteDialog prefill/> }.into_any()
}

#[lazy]
fn manage_dialog(row: UserRow) -> AnyView {
    view! { <ManageDialog row/> }.into_any()
}

/// The dialogs of what is done to a person.
#[derive(Clone, Copy)]
enum PersonDialog {
    SetPassword,
    CorrectAddress,
    AddRoles,
}

/// One chunk for the three: they share most of their code, and each split point of its own
/// would cut what they share into more, smaller chunks that every page's first visit pays for.
#[lazy]
fn person_dialog(which: PersonDialog, row: UserRow) -> AnyView {
    match which {
        PersonDialog::SetPassword => view! { <SetPasswordDialog row/> }.into_any(),
        PersonDialog::CorrectAddress => view! { <CorrectAddressDialog row/> }.into_any(),
        PersonDialog::AddRoles => view! { <AddRolesDialog row/> }.into_any(),
    }
}

/// "Invited yesterday as Admin, Clinician — Room 3", as admins know it; for an acceptance
/// that waits for an administrator, since when and why.
pub fn invitation_line(row: &UserRow, now: i64) -> Option<String> {
    let invitation = row.invitation.as_ref()?;
    let invited = format!("Invited {} as {}", relative_time(invitation.invited_at_ms, now), GrantView::list(&invitation.offered));
    Some(match invitation.awaiting {
        Some((since, reason)) if invitation.state == shared::status::InvitationState::AwaitingConfirmation => {
            format!("{invited}; accepted {}, waiting for an administrator to confirm it: {}", relative_time(since, now), reason.explanation())
        }
        _ => invited,
    })
}

/// The same with when it expires: "Invited yesterday as Admin; expires in 6 days".
pub fn invitation_line_with_expiry(row: &UserRow, now: i64) -> Option<String> {
    let line = invitation_line(row, now)?;
    let expires = row.invitation.as_ref()?.expires_at_ms;
    Some(format!("{line}; {}", shared::invitations::expiry_phrase(expires, now)))
}

/// The status badge of a row.
#[component]
pub fn StatusBadge(status: UserStatus) -> impl IntoView {
    let class = format!("badge badge-{}", status.as_str().replace('_', "-"));
    view! { <span class=class>{status.label()}</span> }
}
