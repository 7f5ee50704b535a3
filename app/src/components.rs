//! Small pieces shared by pages.

use leptos::prelude::*;
use shared::AppError;

/// A red banner for an error, announced to screen readers. An error that means "sign in
/// (again)" also sends the visitor there: a session ended elsewhere (deactivated, signed out
/// everywhere, deleted) lands on sign-in at its next click, with the page to come back to.
#[component]
pub fn ErrorBanner(error: AppError) -> impl IntoView {
    view! {
        {go_to_sign_in(&error).map(|path| view! { <leptos_router::components::Redirect path/> })}
        <div class="banner banner-error" role="alert">{error.to_string()}</div>
    }
}

/// Where an error sends the visitor, if it is one that only signing in (or choosing a
/// password) answers.
fn go_to_sign_in(error: &AppError) -> Option<String> {
    match error {
        AppError::Unauthenticated => Some(sign_in_here()),
        AppError::PasswordChangeRequired => Some("/choose-password".into()),
        _ => None,
    }
}

/// `/signin?next=…` back to the page being shown.
pub fn sign_in_here() -> String {
    sign_in_back_to(&leptos_router::hooks::use_location())
}

/// `/signin?next=…` back to `location` (for a view built outside the component's own run).
pub fn sign_in_back_to(location: &leptos_router::location::Location) -> String {
    let (path, search) = (location.pathname.get_untracked(), location.search.get_untracked());
    let here = if search.is_empty() { path } else { format!("{path}?{search}") };
    format!("/signin?next={}", shared::url::encode_component(&here))
}

/// The fields of a password change (`ChangePassword`'s arguments): the password held now,
/// named as the page says it, and the new one twice.
#[component]
pub fn PasswordChangeFields(current_label: &'static str) -> impl IntoView {
    view! {
        <label>{current_label} <input type="password" name="current_password" required autocomplete="current-password"/></label>
        <label>"New password" <input type="password" name="new_password" required minlength="10" autocomplete="new-password"/></label>
        <label>"Confirm new password" <input type="password" name="new_password_confirmation" required autocomplete="new-password"/></label>
    }
}

/// A green banner confirming what just happened.
#[component]
pub fn SuccessBanner(#[prop(into)] message: String) -> impl IntoView {
    view! { <div class="banner banner-success" role="status">{message}</div> }
}

/// Shows the error of a finished server action, if it failed. After a form posted without
/// JavaScript the error comes back in the address (`__err`), where anyone could have put
/// it, so only our own fixed messages are shown from there.
#[component]
pub fn ActionError<T, S>(value: S) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    let query = leptos_router::hooks::use_query_map();
    move || match value.get() {
        Some(Err(error)) => {
            let text = if query.read().get("__err").is_some() { error.shown_from_link() } else { error.to_string() };
            let again = go_to_sign_in(&error).map(|path| view! { <leptos_router::components::Redirect path/> });
            Some(view! { {again}<div class="banner banner-error" role="alert">{text}</div> })
        }
        _ => None,
    }
}

/// Sets the HTTP status of the page being rendered on the server.
pub fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(code)) = (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(code)) {
        // A redirect already decided (a visitor sent to sign-in) stands: the page beside it
        // may still say why its own data was refused, but the visitor is sent on.
        let mut parts = res.0.write().unwrap_or_else(|e| e.into_inner());
        if !parts.status.is_some_and(|s| s.is_redirection()) {
            parts.status = Some(code);
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}

/// The server's "now" of a page's data, moved on by the time since it arrived, so "3 minutes
/// ago" and "expires in 2 hours" stay true while the page is open. On the server (and so at
/// hydration) it is the server's time exactly; the browser re-reads its clock every 30 s.
#[derive(Clone, Copy)]
pub struct LiveClock {
    tick: ReadSignal<u64>,
}

/// The browser's clock in milliseconds; nothing on the server, where no time passes.
fn browser_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    return web_sys::js_sys::Date::now();
    #[cfg(not(target_arch = "wasm32"))]
    0.0
}

impl LiveClock {
    /// One per page shell: started once, read by every relative time below it.
    pub fn provide() {
        let (tick, set_tick) = signal(0u64);
        #[cfg(target_arch = "wasm32")]
        if let Ok(handle) = set_interval_with_handle(move || set_tick.update(|n| *n += 1), std::time::Duration::from_secs(30)) {
            on_cleanup(move || handle.clear());
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = set_tick;
        provide_context(LiveClock { tick });
    }

    /// The time now, for data the server produced at `server_now_ms` and that arrived just now.
    pub fn now(server_now_ms: i64) -> Signal<i64> {
        let tick = use_context::<LiveClock>().map(|c| c.tick);
        let arrived = browser_ms();
        Signal::derive(move || {
            if let Some(tick) = tick {
                tick.track();
            }
            server_now_ms + (browser_ms() - arrived) as i64
        })
    }
}

/// A modal dialog: the native `<dialog>` opened with `showModal()`, which moves focus into it,
/// keeps Tab inside it and makes the page behind it inert; Escape asks `on_close` to close it
/// (the caller's state removes the dialog). Closed as it leaves the page, so the browser gives
/// focus back to what had it when the dialog opened (the button that opened it); `labelled_by`
/// is the id of its heading.
#[component]
pub fn Modal(labelled_by: &'static str, on_close: Callback<()>, children: Children) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    #[cfg(target_arch = "wasm32")]
    {
        // A modal dialog removed while still open leaves focus nowhere: close it first.
        let shown = send_wrapper::SendWrapper::new(std::rc::Rc::new(std::cell::RefCell::new(None::<leptos::web_sys::HtmlDialogElement>)));
        let opener = send_wrapper::SendWrapper::new(document().active_element());
        Effect::new({
            let shown = shown.clone();
            move |_| {
                if let Some(element) = dialog.get() {
                    if !element.open() {
                        let _ = element.show_modal();
                    }
                    *shown.borrow_mut() = Some(element);
                }
            }
        });
        on_cleanup(move || {
            use leptos::wasm_bindgen::JsCast;
            if let Some(element) = shown.borrow_mut().take().filter(|d| d.open()) {
                element.close();
            }
            let focus_lost = document().active_element().is_none_or(|e| e.tag_name() == "BODY");
            if let Some(opener) = opener.take().and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok()).filter(|e| e.is_connected() && focus_lost) {
                let _ = opener.focus();
            }
        });
    }
    // Escape fires `cancel`: the dialog would close itself and stay in the page; the caller's
    // state decides instead.
    let on_cancel = move |ev: leptos::ev::Event| {
        ev.prevent_default();
        on_close.run(());
    };
    view! {
        <dialog node_ref=dialog class="dialog" aria-labelledby=labelled_by on:cancel=on_cancel>
            {children()}
        </dialog>
    }
}
