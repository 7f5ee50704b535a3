//! Settings → Outgoing email: who messages come from, and a test email whose delivery the
//! page follows until the outcome is known.

use crate::components::{ActionError, ErrorBanner, SuccessBanner};
use crate::server_fns::{get_delivery, get_dkim_settings, get_sender_settings, RemoveDkimKey, RotateDkimKey, SaveSenderSettings, SendTestEmail};
use leptos::prelude::*;
use shared::mail::DeliveryRow;

#[component]
pub fn OutgoingEmailSection() -> impl IntoView {
    let save = ServerAction::<SaveSenderSettings>::new();
    let settings = Resource::new(move || save.version().get(), |_| get_sender_settings());
    view! {
        <section class="card" aria-labelledby="outgoing-email">
            <h2 id="outgoing-email">"Outgoing email"</h2>
            {move || matches!(save.value().get(), Some(Ok(()))).then(|| view! { <SuccessBanner message="Sender settings saved."/> })}
            <ActionError value=save.value()/>
            <Transition>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => view! {
                            <p class="muted">{s.transport.clone()}</p>
                            <p>{budget_line(&s.budget)}</p>
                            {s.problem.clone().map(|p| view! {
                                <div class="banner banner-error" role="alert">
                                    {format!("The mail server could not be used ({}): {} Messages wait and go out once it is fixed.", shared::invitations::relative_time(p.at_ms, s.now_ms), p.text)}
                                </div>
                            })}
                            <ActionForm action=save>
                                <label>"Sender name" <input type="text" name="sender_name" maxlength="100" value=s.sender_name placeholder="The account name"/></label>
                                <label>
                                    "Sender address"
                                    <input type="email" name="sender_address" value=s.sender_address placeholder=s.default_address/>
                                </label>
                                <label>"Reply-to address" <input type="email" name="reply_to" value=s.reply_to placeholder="Replies go to the sender"/></label>
                                <button type="submit" class="primary">"Save sender settings"</button>
                            </ActionForm>
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            <TestEmailForm/>
            <DkimSection/>
        </section>
    }
}

/// The DKIM key mail is signed with, the TXT record to publish for it, and the keys rotated
/// out (listed until removed, since mail signed with them may still be on its way).
#[component]
fn DkimSection() -> impl IntoView {
    let rotate = ServerAction::<RotateDkimKey>::new();
    let remove = ServerAction::<RemoveDkimKey>::new();
    let settings = Resource::new(move || (rotate.version().get(), remove.version().get()), |_| get_dkim_settings());
    // The banner says what the latest of the two actions did.
    let done = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(message)) = rotate.value().get() {
            done.set(Some(message));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(message)) = remove.value().get() {
            done.set(Some(message));
        }
    });
    view! {
        <h3 id="dkim">"DKIM signature"</h3>
        {move || done.get().map(|message| view! { <SuccessBanner message/> })}
        <ActionError value=rotate.value()/>
        <ActionError value=remove.value()/>
        <Transition>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) if !s.enabled => view! {
                        <p class="muted">"Outgoing mail is not signed: the server runs with BECKON_DKIM=off."</p>
                    }.into_any(),
                    Ok(s) => view! {
                        <p>{format!("Every message is signed for {} with the key below. Publish its TXT record in your DNS so that receivers can check the signature. Beckon does not look the record up itself: check it with your DNS provider or a DKIM checker.", s.domain)}</p>
                        <table class="dkim-keys">
                            <caption class="visually-hidden">"DKIM keys and their DNS records"</caption>
                            <thead><tr><th scope="col">"Key"</th><th scope="col">"TXT record name"</th><th scope="col">"TXT record value"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {s.keys.into_iter().map(|key| {
                                    let selector = key.selector.clone();
                                    view! {
                                        <tr>
                                            <td>{key.selector.clone()}<div class="muted small">{if key.signing { "signing" } else { "rotated out" }}</div></td>
                                            <td class="reply">{key.record_name}</td>
                                            <td class="reply dkim-record">{key.record_value}</td>
                                            <td>
                                                {(!key.signing).then(|| view! {
                                                    <button type="button" aria-label=format!("Remove the key {selector}") on:click=move |_| { remove.dispatch(RemoveDkimKey { selector: selector.clone() }); }>"Remove"</button>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        <ActionForm action=rotate attr:class="inline-form">
                            <button type="submit" disabled=move || rotate.pending().get()>"Rotate key"</button>
                        </ActionForm>
                    }.into_any(),
                    Err(error) => view! { <ErrorBanner error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TestEmailForm() -> impl IntoView {
    let send = ServerAction::<SendTestEmail>::new();
    let delivery = RwSignal::new(None::<DeliveryRow>);
    // Follow the queued message until it is sent or has failed.
    Effect::new(move |_| {
        if let Some(Ok(id)) = send.value().get() {
            delivery.set(None);
            leptos::task::spawn_local(async move {
                for _ in 0..30 {
                    if let Ok(row) = get_delivery(id.clone()).await {
                        let done = row.state.is_final();
                        delivery.set(Some(row));
                        if done {
                            return;
                        }
                    }
                    sleep_ms(1000).await;
                }
            });
        }
    });
    view! {
        <h3>"Send a test email"</h3>
        <ActionError value=send.value()/>
        <ActionForm action=send attr:class="inline-form">
            <label>"Send a test to" <input type="email" name="to" required placeholder="you@example.com"/></label>
            <button type="submit" disabled=move || send.pending().get()>"Send test email"</button>
        </ActionForm>
        <p class="test-outcome" role="status">
            {move || match (send.value().get(), delivery.get()) {
                (Some(Ok(_)), None) => "Queued…".to_string(),
                (_, Some(row)) => match row.state {
                    shared::mail::DeliveryState::Sent => format!("Test email to {}: sent ({}).", row.recipient, row.last_reply.unwrap_or_default()),
                    shared::mail::DeliveryState::Failed => format!("Test email to {}: failed: {}", row.recipient, row.last_reply.unwrap_or_default()),
                    state => format!("Test email to {}: {}{}", row.recipient, state.label().to_lowercase(), row.last_reply.map(|r| format!(" ({r})")).unwrap_or_default()),
                },
                _ => String::new(),
            }}
        </p>
    }
}

/// Waits in the browser; on the server (never reached there) it returns at once.
async fn sleep_ms(ms: u64) {
    #[cfg(target_arch = "wasm32")]
    {
        let promise = leptos::web_sys::js_sys::Promise::new(&mut |resolve, _| {
            let _ = leptos::prelude::window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = ms;
}

/// "Invitation emails in the last 24 hours: the account sent 1,204 of 20,000; you sent 120 of 10,000."
fn budget_line(budget: &shared::mail::EmailBudget) -> String {
    format!(
        "Invitation emails (invitations and reminders) in the last 24 hours: the account sent {} of {}; you sent {} of {}. Past either budget nothing more is sent until the day's oldest fall out of it.",
        budget.account_used, budget.account_limit, budget.sender_used, budget.sender_limit
    )
}
