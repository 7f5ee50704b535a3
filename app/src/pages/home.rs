use crate::components::ErrorBanner;
use crate::server_fns::{get_current_user, get_setup_state};
use leptos::prelude::*;
use leptos_router::components::Redirect;
use shared::scopes::GrantView;

/// `/`: sends each visitor where they belong: set-up, sign-in, or the Users page.
/// People without an administrative role see their account and roles.
#[component]
pub fn Home() -> impl IntoView {
    let state = Resource::new(|| (), |_| async { (get_setup_state().await, get_current_user().await) });
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match state.await {
                    (Ok(setup), _) if setup.open => view! { <Redirect path="/setup"/> }.into_any(),
                    (_, Ok(None)) => view! { <Redirect path="/signin"/> }.into_any(),
                    (_, Ok(Some(user))) if user.must_change_password => view! { <Redirect path="/choose-password"/> }.into_any(),
                    (_, Ok(Some(user))) if user.authority.is_administrator() => view! { <Redirect path="/users"/> }.into_any(),
                    (_, Ok(Some(user))) => {
                        let roles = GrantView::list(&user.held);
                        view! {
                            <main class="centered">
                                <h1>{user.account_name.clone()}</h1>
                                <p>"You are signed in as " {user.name.clone()} " (" {user.email.clone()} ")."</p>
                                <p>"Your roles: " {roles}</p>
                                <crate::pages::admin_layout::SignOutButton/>
                            </main>
                        }
                        .into_any()
                    }
                    (Err(error), _) | (_, Err(error)) => view! { <main class="centered"><ErrorBanner error/></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}
