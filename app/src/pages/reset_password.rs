//! `/reset/{id}.{token}`: a person chooses a new password from the link "Forgot your
//! password?" sent them. Opening it changes nothing; only the form's POST sets the password.

use crate::components::{set_status, ActionError, ErrorBanner};
use crate::server_fns::{get_password_reset, ResetPassword};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use shared::views::ResetPage;

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let link = use_params_map().read_untracked().get("link").unwrap_or_default();
    let page = OnceResource::new(get_password_reset(link.clone()));
    view! {
        <Title text="Choose a new password"/>
        <main class="auth-card">
            <Suspense>
                {Suspend::new(async move {
                    match page.await {
                        Ok(ResetPage::Open { email, account_name }) => view! { <NewPasswordForm email account_name link/> }.into_any(),
                        Ok(ResetPage::Expired) => {
                            set_status(410);
                            view! {
                                <h1>"This link has expired"</h1>
                                <p>{shared::messages::RESET_LINK_EXPIRED}</p>
                                <p><a href="/forgot-password" class="button primary">"Ask for a new link"</a></p>
                            }
                            .into_any()
                        }
                        Ok(ResetPage::NoLongerValid) => {
                            set_status(410);
                            view! {
                                <h1>"This link no longer works"</h1>
                                <p>{shared::messages::RESET_LINK_USED}</p>
                                <p><a href="/signin" class="button primary">"Sign in"</a></p>
                            }
                            .into_any()
                        }
                        Ok(ResetPage::NotValid) => {
                            set_status(404);
                            view! {
                                <h1>"This link is not valid"</h1>
                                <p>"Check that you copied the whole link from the email, or ask for a new one."</p>
                                <p><a href="/forgot-password">"Ask for a new link"</a></p>
                            }
                            .into_any()
                        }
                        Err(error) => {
                            set_status(error.status_code());
                            view! { <ErrorBanner error/> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn NewPasswordForm(email: String, account_name: String, link: String) -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let password = RwSignal::new(String::new());
    let hint_email = email.clone();
    // Said as the person types, with the same rule the server applies.
    let hint = move || {
        let pw = password.get();
        (!pw.is_empty()).then(|| shared::password::weakness(&pw, &hint_email)).flatten()
    };
    view! {
        <h1>"Choose a new password"</h1>
        <p>{format!("For {email} on {account_name}. Every place you are signed in is signed out.")}</p>
        <ActionError value=action.value()/>
        <ActionForm action>
            <input type="hidden" name="link" value=link/>
            <label>
                "New password"
                <input type="password" name="password" required minlength=shared::password::MIN_LEN autocomplete="new-password"
                    on:input:target=move |ev| password.set(ev.target().value())/>
            </label>
            {move || hint().map(|h| view! { <p class="hint" role="status">{h}</p> })}
            <label>"Confirm new password" <input type="password" name="password_confirmation" required autocomplete="new-password"/></label>
            <button type="submit" class="primary" disabled=move || action.pending().get()>"Set the password and sign in"</button>
        </ActionForm>
    }
}
