//! Small pieces shared by pages.

use leptos::prelude::*;
use shared::AppError;

/// A red banner for an error, announced to screen readers.
#[component]
pub fn ErrorBanner(error: AppError) -> impl IntoView {
    view! { <div class="banner banner-error" role="alert">{error.to_string()}</div> }
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
            Some(view! { <div class="banner banner-error" role="alert">{text}</div> })
        }
        _ => None,
    }
}

/// Sets the HTTP status of the page being rendered on the server.
pub fn set_status(code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(code)) = (use_context::<leptos_axum::ResponseOptions>(), http::StatusCode::from_u16(code)) {
        res.set_status(code);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}
