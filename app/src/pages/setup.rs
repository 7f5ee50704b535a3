use crate::components::{set_status, ActionError, ErrorBanner};
use crate::server_fns::{get_setup_state, SetupOwner};
use leptos::prelude::*;
use leptos_meta::Title;

/// First start: create the account and its owner. Closed once an owner exists.
#[component]
pub fn SetupPage() -> impl IntoView {
    let setup = Resource::new(|| (), |_| get_setup_state());
    view! {
        <Title text="Set up Beckon"/>
        <Suspense>
            {move || Suspend::new(async move {
                match setup.await {
                    Ok(state) if state.open => view! { <SetupForm/> }.into_any(),
                    Ok(_) => {
                        set_status(403);
                        view! {
                            <main class="auth-card">
                                <h1>"Beckon is already set up"</h1>
                                <p>"The account and its owner exist. Sign in with your account; the owner can invite everyone else."</p>
                                <p><a href="/signin" class="button primary">"Sign in"</a></p>
                            </main>
                        }
                        .into_any()
                    }
                    Err(error) => view! { <main class="auth-card"><ErrorBanner error/></main> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SetupForm() -> impl IntoView {
    let action = ServerAction::<SetupOwner>::new();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirmation = RwSignal::new(String::new());
    // Said as the person types, with the same rule the server applies.
    let password_hint = move || {
        let pw = password.get();
        (!pw.is_empty()).then(|| shared::password::weakness(&pw, &email.get())).flatten()
    };
    let mismatch = move || !confirmation.get().is_empty() && confirmation.get() != password.get();
    view! {
        <main class="auth-card">
            <h1>"Set up Beckon"</h1>
            <p>"Create your account and its owner. You can invite everyone else afterwards."</p>
            <ActionError value=action.value()/>
            <ActionForm action>
                <label>"Account name" <input type="text" name="account_name" required maxlength="100" autocomplete="organization"/></label>
                <label>"Your name" <input type="text" name="owner_name" required maxlength="100" autocomplete="name"/></label>
                <label>
                    "Email"
                    <input type="email" name="email" required autocomplete="username" on:input:target=move |ev| email.set(ev.target().value())/>
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" required autocomplete="new-password" minlength="10"
                        on:input:target=move |ev| password.set(ev.target().value())/>
                </label>
                <p class="hint" aria-live="polite">
                    {move || password_hint().map(|h| view! { <span class="hint-warning">{h}</span> })}
                </p>
                <label>
                    "Confirm password"
                    <input type="password" name="password_confirmation" required autocomplete="new-password"
                        on:input:target=move |ev| confirmation.set(ev.target().value())/>
                </label>
                <p class="hint" aria-live="polite">
                    {move || mismatch().then(|| view! { <span class="hint-warning">"Passwords do not match"</span> })}
                </p>
                <button type="submit" class="primary" disabled=move || action.pending().get() || mismatch()>
                    "Create account"
                </button>
            </ActionForm>
        </main>
    }
}
