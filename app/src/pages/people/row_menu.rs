//! The "•••" menu of a person: only the actions the one rules allow this admin on this
//! invitation and this person (the server refuses the rest with the same rules), reachable
//! by keyboard.

use super::{InvitePrefill, PeopleActions};
use crate::server_fns::{act_on_invitation, act_on_person, get_invitation_link, release_bounced_address};
use leptos::prelude::*;
use shared::invitations::{allowed_actions, InvitationAction};
use shared::people::{person_actions, PersonAction};
use shared::permissions::Authority;
use shared::views::UserRow;

/// `viewer`: what the signed-in admin may do (`SignedIn::authority`).
#[component]
pub fn RowMenu(row: UserRow, viewer: Authority) -> impl IntoView {
    let invitation_actions = allowed_actions(&viewer, &row.subject());
    // A held address is released by whoever may resend to it (the server asks the same).
    let held = row.invitation.as_ref().is_some_and(|i| i.held.is_some()) && invitation_actions.contains(&InvitationAction::Resend);
    let actions: Vec<MenuAction> = invitation_actions
        .into_iter()
        .map(MenuAction::Invitation)
        .chain(held.then_some(MenuAction::MarkWorking))
        .chain(person_actions(&viewer, &row.person()).into_iter().filter(|a| a.in_row_menu()).map(MenuAction::Person))
        .collect();
    let open = RwSignal::new(false);
    let button_ref = NodeRef::<leptos::html::Button>::new();
    let label = format!("Actions for {}", row.email);
    let menu_id = format!("menu-{}", row.user_id);

    (!actions.is_empty()).then(move || {
        let menu = OpenMenu { row, actions, menu_id: menu_id.clone(), open, button_ref };
        view! {
            <div class="row-menu">
                <button
                    type="button"
                    class="menu-button"
                    node_ref=button_ref
                    aria-label=label
                    aria-haspopup="menu"
                    aria-controls=menu_id
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    "•••"
                </button>
                {move || open.get().then(|| Suspend::new(menu_items(menu.clone())))}
            </div>
        }
    })
}

/// An item of the menu: about the invitation, or about the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MenuAction {
    Invitation(InvitationAction),
    Person(PersonAction),
    /// The address bounced and is held: the admin knows it works now.
    MarkWorking,
}

impl MenuAction {
    fn label(self) -> &'static str {
        match self {
            MenuAction::MarkWorking => "Mark address as working",
            MenuAction::Invitation(action) => action.label(),
            MenuAction::Person(action) => action.label(),
        }
    }
}

/// What the open menu needs from its button.
#[derive(Clone)]
struct OpenMenu {
    row: UserRow,
    actions: Vec<MenuAction>,
    menu_id: String,
    open: RwSignal<bool>,
    button_ref: NodeRef<leptos::html::Button>,
}

// The open menu, its keys and its actions are a chunk of the wasm of their own, loaded when
// a menu is first opened: every row renders the button, none the menu.
#[lazy]
fn menu_items(menu: OpenMenu) -> AnyView {
    view! { <MenuItems menu/> }.into_any()
}

#[component]
fn MenuItems(menu: OpenMenu) -> impl IntoView {
    let state = expect_context::<PeopleActions>();
    let OpenMenu { row, actions, menu_id, open, button_ref } = menu;
    let menu_ref = NodeRef::<leptos::html::Ul>::new();

    // Opening moves focus to the first item, so the keyboard lands in the menu.
    Effect::new(move |_| {
        if let Some(first) = menu_ref.get().and_then(|m| m.query_selector("[role=menuitem]").ok().flatten()) {
            use leptos::wasm_bindgen::JsCast;
            if let Ok(el) = first.dyn_into::<leptos::web_sys::HtmlElement>() {
                let _ = el.focus();
            }
        }
    });
    let close = move || {
        open.set(false);
        if let Some(button) = button_ref.get() {
            let _ = button.focus();
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let Some(menu) = menu_ref.get() else { return };
        let key = ev.key();
        if key == "Escape" {
            ev.prevent_default();
            close();
            return;
        }
        if key != "ArrowDown" && key != "ArrowUp" {
            return;
        }
        ev.prevent_default();
        use leptos::wasm_bindgen::JsCast;
        let Ok(items) = menu.query_selector_all("[role=menuitem]") else { return };
        let focused = leptos::prelude::document().active_element();
        let count = items.length();
        let position = (0..count).find(|i| items.get(*i).map(|n| Some(n.unchecked_into::<leptos::web_sys::Element>()) == focused).unwrap_or(false));
        let next = match (position, key.as_str()) {
            (Some(i), "ArrowDown") => (i + 1) % count,
            (Some(i), _) => (i + count - 1) % count,
            (None, _) => 0,
        };
        if let Some(el) = items.get(next).and_then(|n| n.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    };

    let run = move |action: MenuAction, row: UserRow| {
        // Focus back on "•••" first: a dialog opened from here gives focus back to it.
        close();
        let action = match action {
            MenuAction::Invitation(action) => action,
            MenuAction::Person(action) => return run_person(state, action, row),
            MenuAction::MarkWorking => {
                let question = format!("Mark {} as working? Beckon will send to it again. Do this only if you know it takes mail now.", row.email);
                if leptos::prelude::window().confirm_with_message(&question).unwrap_or(false) {
                    state.run(release_bounced_address(row.user_id.clone()));
                }
                return;
            }
        };
        match action {
            InvitationAction::CopyLink => copy_link(state, row.user_id.clone()),
            InvitationAction::Manage => state.managing.set(Some(row)),
            InvitationAction::InviteToActivate => state.inviting.set(Some(InvitePrefill { addresses: row.email.clone(), scope_id: None })),
            InvitationAction::Confirm => {
                let roles = row.invitation.as_ref().map(|i| shared::scopes::GrantView::list(&i.offered)).unwrap_or_default();
                let question = format!("Confirm the invitation {} accepted, and grant {roles}?", row.email);
                if leptos::prelude::window().confirm_with_message(&question).unwrap_or(false) {
                    state.run(act_on_invitation(row.user_id.clone(), action.as_str().into()));
                }
            }
            InvitationAction::Cancel => {
                let question = format!("Cancel the invitation to {}? Its link will stop working.", row.email);
                if leptos::prelude::window().confirm_with_message(&question).unwrap_or(false) {
                    state.run(act_on_invitation(row.user_id.clone(), action.as_str().into()));
                }
            }
            _ => state.run(act_on_invitation(row.user_id.clone(), action.as_str().into())),
        }
    };

    view! {
        <ul role="menu" id=menu_id class="menu" node_ref=menu_ref on:keydown=on_keydown>
            {actions.into_iter().map(|action| {
                let row = row.clone();
                view! {
                    <li role="none">
                        <button type="button" role="menuitem" on:click=move |_| run(action, row.clone())>
                            {action.label()}
                        </button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// A person's action from the menu: a dialog for what needs input, a confirmation for
/// deactivating, at once for reactivating (nothing is sent).
fn run_person(state: PeopleActions, action: PersonAction, row: UserRow) {
    match action {
        PersonAction::SetPassword => state.setting_password.set(Some(row)),
        PersonAction::CorrectAddress => state.correcting.set(Some(row)),
        PersonAction::Deactivate => {
            let question = format!(
                "Deactivate {}? They are signed out everywhere and cannot sign in; any pending invitation of theirs is cancelled. Their roles are kept for when they are reactivated.",
                row.display_name()
            );
            if leptos::prelude::window().confirm_with_message(&question).unwrap_or(false) {
                state.run(act_on_person(row.user_id.clone(), action.as_str().into()));
            }
        }
        _ => state.run(act_on_person(row.user_id.clone(), action.as_str().into())),
    }
}

/// Asks the server for the current link and puts it on the clipboard.
fn copy_link(state: PeopleActions, user_id: String) {
    leptos::task::spawn_local(async move {
        match get_invitation_link(user_id).await {
            Ok(link) => match write_clipboard(&link).await {
                Ok(()) => state.say(true, "Invitation link copied to the clipboard."),
                Err(()) => state.say(false, format!("Could not reach the clipboard. The link is: {link}")),
            },
            Err(error) => state.say(false, error.to_string()),
        }
    });
}

#[cfg(target_arch = "wasm32")]
async fn write_clipboard(text: &str) -> Result<(), ()> {
    let promise = leptos::web_sys::window().ok_or(())?.navigator().clipboard().write_text(text);
    wasm_bindgen_futures::JsFuture::from(promise).await.map(|_| ()).map_err(|_| ())
}

#[cfg(not(target_arch = "wasm32"))]
async fn write_clipboard(_text: &str) -> Result<(), ()> {
    Err(())
}
