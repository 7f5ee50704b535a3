//! `/deliveries`: recent outgoing messages with their state, attempts and the mail
//! server's last reply; filter by state and recipient (in the URL); retry a failed one.

use crate::components::{set_status, ActionError, ErrorBanner, SuccessBanner};
use crate::server_fns::{list_deliveries, RetryDelivery};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use shared::invitations::{relative_time, time_until};
use shared::mail::{DeliveryLog, DeliveryQuery, DeliveryState};

#[component]
pub fn DeliveryLogPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| DeliveryQuery::from_params(|name| params.read().get(name)));
    let retry = ServerAction::<RetryDelivery>::new();
    let log = Resource::new(move || (query.get().to_query_string(), retry.version().get()), |(query, _)| list_deliveries(query));
    let current = query.get_untracked();
    view! {
        <Title text="Delivery log"/>
        <div class="page-header"><h1>"Delivery log"</h1></div>
        {move || match retry.value().get() {
            Some(Ok(message)) => Some(view! { <SuccessBanner message/> }.into_any()),
            _ => None,
        }}
        <ActionError value=retry.value()/>
        {move || query.get().message.is_some().then(|| view! {
            <p class="muted">"Showing one message. " <A href=DeliveryQuery::default().href()>"Show all messages"</A></p>
        })}
        // The nameless "Apply" button would otherwise add a stray `=` to the address.
        <Form method="GET" action="" attr:class="filters" attr:role="search" on_form_data=std::sync::Arc::new(|data: &leptos::web_sys::FormData| data.delete(""))>
            <div class="field">
                <label for="delivery-state">"State"</label>
                <select id="delivery-state" name=DeliveryQuery::STATE>
                    <option value="" selected=current.state.is_none()>"All states"</option>
                    {DeliveryState::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=current.state == Some(s)>{s.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="delivery-recipient">"Recipient"</label>
                <input id="delivery-recipient" type="search" name=DeliveryQuery::RECIPIENT value=current.recipient.clone()/>
            </div>
            <button type="submit">"Apply"</button>
        </Form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Ok(log) => view! { <DeliveryTable log retry/> }.into_any(),
                    Err(error) => {
                        set_status(error.status_code());
                        view! { <ErrorBanner error/> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn DeliveryTable(log: DeliveryLog, retry: ServerAction<RetryDelivery>) -> impl IntoView {
    let now = log.now_ms;
    if log.rows.is_empty() {
        return view! { <p class="muted">"No messages match."</p> }.into_any();
    }
    view! {
        <table class="users deliveries">
            <thead>
                <tr>
                    <th scope="col">"Recipient"</th>
                    <th scope="col">"Message"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Attempts"</th>
                    <th scope="col">"Last reply"</th>
                    <th scope="col">"Queued"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {log.rows.into_iter().map(|row| {
                    let badge = format!("badge badge-delivery-{}", row.state.as_str());
                    let when = match row.state {
                        DeliveryState::Sent => row.sent_at_ms.map(|t| format!("sent {}", relative_time(t, now))),
                        DeliveryState::Deferred => Some(format!("next try {}", time_until(row.next_attempt_at_ms, now))),
                        _ => None,
                    };
                    let id = row.id.clone();
                    let recipient = row.recipient.clone();
                    let bounce = row.bounce.clone();
                    view! {
                        <tr>
                            <td>{row.recipient}</td>
                            <td><div>{row.kind.label()}</div><div class="muted small">{row.subject}</div></td>
                            <td>
                                <span class=badge>{row.state.label()}</span>
                                {when.map(|w| view! { <div class="muted small">{w}</div> })}
                                {bounce.map(|b| view! {
                                    <div><span class=format!("badge badge-bounce-{}", b.kind.as_str())>{b.kind.label()}</span> <span class="muted small">{relative_time(b.at_ms, now)}</span></div>
                                    <div class="reply small">{b.sentence()}</div>
                                })}
                            </td>
                            <td>{row.attempts}</td>
                            <td class="reply">{row.last_reply.unwrap_or_else(|| "—".into())}</td>
                            <td>{relative_time(row.created_at_ms, now)}</td>
                            <td>
                                {(row.state == DeliveryState::Failed).then(|| view! {
                                    <button type="button" aria-label=format!("Retry the message to {recipient}") on:click=move |_| { retry.dispatch(RetryDelivery { id: id.clone() }); }>"Retry"</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
