//! `/choose-password`: someone an administrator gave a temporary password chooses their own
//! before anything else opens (every other page sends them here, every server function
//! refuses them until then).

use crate::components::{ActionError, PasswordChangeFields};
use crate::server_fns::{get_current_user, ChangePassword};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn ChoosePasswordPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_current_user());
    let action = ServerAction::<ChangePassword>::new();
    view! {
        <Title text="Choose your password"/>
        <main class="auth-card">
            <h1>"Choose your password"</h1>
            <Suspense>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(user)) => view! {
                            <p>{format!("You signed in as {} with a password an administrator chose. Choose your own to go on; then sign in with it.", user.email)}</p>
                        }.into_any(),
                        _ => view! { <Redirect path="/signin?next=/choose-password"/> }.into_any(),
                    }
                })}
            </Suspense>
            <ActionError value=action.value()/>
            <ActionForm action>
                <PasswordChangeFields current_label="Password you were given"/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>"Choose password"</button>
            </ActionForm>
        </main>
    }
}
