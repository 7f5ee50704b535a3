use crate::components::{ActionError, SuccessBanner};
use crate::server_fns::{get_setup_state, SignIn};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_string());
    let password_changed = move || query.read().get("password_changed").is_some();
    let setup = Resource::new(|| (), |_| get_setup_state());
    view! {
        <Title text="Sign in"/>
        <Suspense>
            {move || Suspend::new(async move {
                if matches!(setup.await, Ok(s) if s.open) {
                    return view! { <Redirect path="/setup"/> }.into_any();
                }
                view! {
                    <main class="auth-card">
                        <h1>"Sign in to Beckon"</h1>
                        {move || password_changed().then(|| view! { <SuccessBanner message="Your password was changed. Sign in with the new one."/> })}
                        <ActionError value=action.value()/>
                        <ActionForm action>
                            <input type="hidden" name="next" prop:value=next/>
                            <label>
                                "Email"
                                <input type="email" name="email" autocomplete="username" required autofocus/>
                            </label>
                            <label>
                                "Password"
                                <input type="password" name="password" autocomplete="current-password" required/>
                            </label>
                            <button type="submit" class="primary" disabled=move || action.pending().get()>
                                {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                            </button>
                        </ActionForm>
                        <p><a href="/forgot-password">"Forgot your password?"</a></p>
                    </main>
                }
                .into_any()
            })}
        </Suspense>
    }
}
