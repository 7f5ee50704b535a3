//! `/forgot-password`: asks for a link to choose a new password. The answer says the same
//! whether or not the address has an account.

use crate::components::{ActionError, SuccessBanner};
use crate::server_fns::RequestPasswordReset;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    view! {
        <Title text="Forgot your password?"/>
        <main class="auth-card">
            <h1>"Forgot your password?"</h1>
            <ActionError value=action.value()/>
            {move || match action.value().get() {
                Some(Ok(message)) => view! {
                    <SuccessBanner message/>
                    <p><a href="/signin">"Back to sign in"</a></p>
                }
                .into_any(),
                _ => view! {
                    <p>"Enter the address you sign in with. If it belongs to an active account, we send it a link to choose a new password."</p>
                    <ActionForm action>
                        <label>"Email" <input type="email" name="email" autocomplete="username" required autofocus/></label>
                        <button type="submit" class="primary" disabled=move || action.pending().get()>"Send the link"</button>
                    </ActionForm>
                    <p><a href="/signin">"Back to sign in"</a></p>
                }
                .into_any(),
            }}
        </main>
    }
}
