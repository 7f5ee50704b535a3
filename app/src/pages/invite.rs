//! `/invite/{id}.{token}`: what an invitee sees. Opening it changes nothing; only the
//! form's POST accepts. Works as a plain form without JavaScript.

use crate::components::{set_status, ActionError, ErrorBanner, SuccessBanner};
use crate::server_fns::{get_invitation, AcceptInvitation, RequestNewInvitation};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use shared::invitations::time_until;
use shared::views::{InvitationPage, OpenInvitation};
use shared::{messages, AppError};

#[component]
pub fn InvitePage() -> impl IntoView {
    // One link per visit (a link comes from an email and opens the page afresh), so the
    // lookup runs once, and the page is one Suspend rather than a closure around one: Suspense
    // then builds its contents once on the server, where a closure is called again for each
    // pass it makes over the page (the link page's view was built twice per request).
    let link = use_params_map().read_untracked().get("link").unwrap_or_default();
    let page = OnceResource::new(get_invitation(link.clone()));
    view! {
        <Title text="Invitation"/>
        <main class="auth-card invitation">
            <Suspense>
                {Suspend::new(async move {
                    match page.await {
                        Ok(InvitationPage::Open(invitation)) => view! { <OpenInvitationView invitation link/> }.into_any(),
                        Ok(InvitationPage::Expired { account_name }) => view! { <ExpiredView account_name link/> }.into_any(),
                        Ok(InvitationPage::NoLongerValid) => {
                            set_status(410);
                            view! {
                                <h1>"This invitation is no longer valid"</h1>
                                <p>"It was cancelled or replaced by a newer invitation. If you were sent a newer one, use the link in that email; otherwise ask the person who invited you."</p>
                            }.into_any()
                        }
                        Ok(InvitationPage::AwaitingConfirmation { account_name }) => view! {
                            <h1>{format!("Waiting for {account_name}")}</h1>
                            <p>{shared::messages::INVITATION_AWAITING}</p>
                        }.into_any(),
                        Ok(InvitationPage::AlreadyAccepted) => view! { <AlreadyAccepted/> }.into_any(),
                        Ok(InvitationPage::NotValid) => {
                            set_status(404);
                            view! {
                                <h1>"This link is not valid"</h1>
                                <p>"Check that you copied the whole link from the email, or ask for a new invitation."</p>
                            }.into_any()
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
fn AlreadyAccepted() -> impl IntoView {
    view! {
        <h1>"This invitation has already been accepted"</h1>
        <p>"Sign in with the account you created."</p>
        <p><a href="/signin" class="button primary">"Sign in"</a></p>
    }
}

#[component]
fn OpenInvitationView(invitation: OpenInvitation, link: String) -> impl IntoView {
    let accept = ServerAction::<AcceptInvitation>::new();
    let roles = shared::scopes::GrantView::list(&invitation.offered);
    let inviter = if invitation.inviter_name.is_empty() { "An administrator".to_string() } else { invitation.inviter_name.clone() };
    let signed_in_as_invitee = invitation.signed_in_as.as_deref() == Some(invitation.email.as_str());
    let form = if invitation.existing_user && !signed_in_as_invitee {
        let email = invitation.email.clone();
        view! {
            <p>{format!("You already have an account as {email}. Sign in with it to accept.")}</p>
            <ActionForm action=accept>
                <input type="hidden" name="link" value=link.clone()/>
                <input type="hidden" name="email" value=email.clone()/>
                <label>"Password" <input type="password" name="password" required autocomplete="current-password"/></label>
                <button type="submit" class="primary">"Sign in and accept"</button>
            </ActionForm>
        }
        .into_any()
    } else if invitation.existing_user {
        view! {
            <ActionForm action=accept>
                <input type="hidden" name="link" value=link.clone()/>
                <button type="submit" class="primary">"Accept invitation"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        let email = invitation.email.clone();
        view! {
            <ActionForm action=accept>
                <input type="hidden" name="link" value=link.clone()/>
                <label>"Email" <input type="email" value=email disabled/></label>
                <label>"Your name" <input type="text" name="name" required maxlength="100" autocomplete="name"/></label>
                <label>"Password" <input type="password" name="password" required minlength="10" autocomplete="new-password"/></label>
                <label>"Confirm password" <input type="password" name="password_confirmation" required autocomplete="new-password"/></label>
                <button type="submit" class="primary" disabled=move || accept.pending().get()>"Accept invitation"</button>
            </ActionForm>
        }
        .into_any()
    };
    // Someone else accepted it a moment before (another browser, another tab): the page says
    // so instead of the form and its expiry.
    let taken = move || matches!(accept.value().get(), Some(Err(AppError::InvalidState(ref m))) if m == messages::INVITATION_ACCEPTED);
    view! {
        {move || taken().then(|| view! { <AlreadyAccepted/> })}
        <div hidden=taken>
            <h1>{format!("Join {}", invitation.account_name)}</h1>
            <p>{format!("{inviter} invited you ({}) to join {} as {roles}.", invitation.email, invitation.account_name)}</p>
            {invitation.personal_message.clone().map(|m| view! { <blockquote class="personal-message">{m}</blockquote> })}
            <p class="muted">{format!("This invitation expires {}.", time_until(invitation.expires_at_ms, invitation.now_ms))}</p>
            <ActionError value=accept.value()/>
            {form}
        </div>
    }
}

#[component]
fn ExpiredView(account_name: String, link: String) -> impl IntoView {
    let request = ServerAction::<RequestNewInvitation>::new();
    set_status(410);
    view! {
        <h1>"This invitation has expired"</h1>
        <p>{format!("Invitations to {account_name} are valid for a limited time. Ask the person who invited you to send a new invitation.")}</p>
        <ActionError value=request.value()/>
        {move || { let link = link.clone(); match request.value().get() {
            Some(Ok(message)) => view! { <SuccessBanner message/> }.into_any(),
            _ => view! {
                <ActionForm action=request>
                    <input type="hidden" name="link" value=link/>
                    <button type="submit" class="primary">"Request a new invitation"</button>
                </ActionForm>
            }.into_any(),
        }}}
    }
}
