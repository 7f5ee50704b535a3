//! Settings → Webhooks: the endpoints that hear the account's events (`/settings/webhooks`),
//! and one endpoint with its deliveries (`/settings/webhooks/{id}`): change it, send a test
//! event, rotate its secret, retry a failed delivery, remove it.

use crate::components::{ErrorBanner, SuccessBanner};
use crate::pages::admin_layout::SignedIn;
use crate::server_fns::{list_webhook_deliveries, list_webhooks, ActOnWebhook, SaveWebhook};
use leptos::prelude::*;
use leptos_meta::Title;
use shared::invitations::{relative_time, utc_date_time};
use shared::permissions::Permission;
use shared::webhooks::{
    WebhookAction, WebhookDeliveryState, WebhookDeliveryView, WebhookDone, WebhookEndpointView, WebhookEvent, DISABLE_AFTER_DAYS, MAX_DESCRIPTION_CHARS,
    MAX_URL_CHARS,
};
use shared::AppError;

/// The form field of an event's checkbox (the server function's argument).
fn field(event: WebhookEvent) -> String {
    event.as_str().replace('.', "_")
}

/// Settings → Webhooks and its endpoints' pages, for Owners and Admins.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let signed_in = use_context::<SignedIn>();
    let location = leptos_router::hooks::use_location();
    let endpoint = Memo::new(move |_| location.pathname.read().strip_prefix("/settings/webhooks/").map(str::to_string).filter(|id| !id.is_empty()));
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let user = match signed_in {
                    Some(SignedIn(user)) => user.await.ok().flatten(),
                    None => None,
                };
                user.map(|user| match (user.authority.allows(Permission::ManageSettings), endpoint.get()) {
                    (false, _) => view! { <ErrorBanner error=shared::AppError::Forbidden(shared::permissions::Denied::NotPermitted)/> }.into_any(),
                    (true, None) => view! { <Endpoints/> }.into_any(),
                    (true, Some(id)) => view! { <Endpoint id/> }.into_any(),
                })
            })}
        </Suspense>
    }
}

/// The event checkboxes, ticked as `chosen` says.
#[component]
fn EventChoices(chosen: Vec<WebhookEvent>) -> impl IntoView {
    view! {
        <fieldset>
            <legend>"Events to send"</legend>
            {WebhookEvent::SUBSCRIBABLE.into_iter().map(|event| view! {
                <label class="checkbox">
                    <input type="checkbox" name=field(event) value="on" checked=chosen.contains(&event)/>
                    " " <code>{event.as_str()}</code>": " {event.description()}
                </label>
            }).collect_view()}
        </fieldset>
    }
}

/// What a save or a button did: its banner, with a secret to copy when one was made.
#[component]
fn Done(done: Option<Result<WebhookDone, AppError>>) -> impl IntoView {
    match done {
        Some(Ok(WebhookDone { message, secret: Some(secret), .. })) => view! {
            <div class="banner banner-success" role="status">
                <p>{message}</p>
                <label>"Signing secret"
                    <input type="text" readonly class="token-secret" aria-label="Signing secret" value=secret/>
                </label>
            </div>
        }
        .into_any(),
        Some(Ok(WebhookDone { message, .. })) => view! { <SuccessBanner message/> }.into_any(),
        Some(Err(error)) => view! { <ErrorBanner error/> }.into_any(),
        None => ().into_any(),
    }
}

/// A button of an endpoint's page: a form of its own, so it works before the page is alive.
#[component]
fn ActButton(
    act: ServerAction<ActOnWebhook>,
    id: String,
    action: WebhookAction,
    label: &'static str,
    #[prop(optional)] aria_label: Option<String>,
    #[prop(optional)] disabled: bool,
    #[prop(optional)] danger: bool,
) -> impl IntoView {
    view! {
        <ActionForm action=act attr:class="inline">
            <input type="hidden" name="id" value=id/>
            <input type="hidden" name="action" value=action.as_str()/>
            <button type="submit" class:danger=danger disabled=disabled aria-label=aria_label>{label}</button>
        </ActionForm>
    }
}

fn state_label(endpoint: &WebhookEndpointView, now_ms: i64) -> String {
    match (endpoint.enabled, &endpoint.disabled_reason, endpoint.failing_since_ms) {
        (false, Some(reason), _) => format!("Disabled by Beckon: {reason}"),
        (false, None, _) => "Disabled".into(),
        (true, _, Some(since)) => format!("Failing since {}", relative_time(since, now_ms)),
        (true, _, None) => "Enabled".into(),
    }
}

#[component]
fn Endpoints() -> impl IntoView {
    let create = ServerAction::<SaveWebhook>::new();
    let endpoints = Resource::new(move || create.version().get(), |_| list_webhooks());
    view! {
        <Title text="Webhooks"/>
        <div class="page-header"><h1>"Webhooks"</h1><a href="/settings">"Back to Settings"</a></div>
        <section class="card" aria-label="Webhook endpoints">
            <p class="muted">
                "Beckon tells other systems what happens to invitations by POSTing JSON to their endpoints, signed in the Standard Webhooks format (headers "
                <code>"webhook-id"</code>", "<code>"webhook-timestamp"</code>", "<code>"webhook-signature"</code>
                "). A delivery that fails is tried again for about a day; an endpoint that fails for "
                {DISABLE_AFTER_DAYS}" days is disabled and the administrators are told."
            </p>
            {move || view! { <Done done=create.value().get()/> }}
            <Transition>
                {move || Suspend::new(async move {
                    match endpoints.await {
                        Ok(list) if list.endpoints.is_empty() => view! { <p class="muted">"No endpoints yet."</p> }.into_any(),
                        Ok(list) => {
                            let now = list.now_ms;
                            view! {
                                <table class="users webhooks">
                                    <thead><tr>
                                        <th scope="col">"Endpoint"</th>
                                        <th scope="col">"Events"</th>
                                        <th scope="col">"State"</th>
                                        <th scope="col">"Waiting"</th>
                                        <th scope="col">"Failed"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.endpoints.into_iter().map(|e| view! {
                                            <tr>
                                                <td>
                                                    <a href=format!("/settings/webhooks/{}", e.id)>{e.url.clone()}</a>
                                                    {(!e.description.is_empty()).then(|| view! { <div class="muted">{e.description.clone()}</div> })}
                                                </td>
                                                <td>{e.events.iter().map(|ev| ev.as_str()).collect::<Vec<_>>().join(", ")}</td>
                                                <td>{state_label(&e, now)}</td>
                                                <td>{e.pending}</td>
                                                <td>{e.failed}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=create attr:class="stacked-form" attr:aria-label="New webhook endpoint">
                <input type="hidden" name="id" value=""/>
                <label>"Endpoint URL" <input type="url" name="url" required maxlength=MAX_URL_CHARS placeholder="https://hr.example.com/hooks/beckon"/></label>
                <label>"Description (optional)" <input type="text" name="description" maxlength=MAX_DESCRIPTION_CHARS placeholder="HR system"/></label>
                <EventChoices chosen=WebhookEvent::SUBSCRIBABLE.to_vec()/>
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Add endpoint"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn Endpoint(id: String) -> impl IntoView {
    let save = ServerAction::<SaveWebhook>::new();
    let act = ServerAction::<ActOnWebhook>::new();
    let refreshed = RwSignal::new(0u32);
    let listing = {
        let id = id.clone();
        Resource::new(move || (save.version().get(), act.version().get(), refreshed.get()), move |_| list_webhook_deliveries(id.clone()))
    };
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(WebhookDone { removed: true, .. })) = act.value().get() {
            navigate("/settings/webhooks", Default::default());
        }
    });
    view! {
        <Title text="Webhook endpoint"/>
        <div class="page-header"><h1>"Webhook endpoint"</h1><a href="/settings/webhooks">"Back to Webhooks"</a></div>
        {move || view! { <Done done=act.value().get()/> }}
        {move || view! { <Done done=save.value().get()/> }}
        <Transition>
            {move || {
                let id = id.clone();
                Suspend::new(async move {
                    match listing.await {
                        Ok(listed) => {
                            let e = listed.endpoint.clone();
                            let now = listed.now_ms;
                            view! {
                                <section class="card" aria-label="Endpoint">
                                    <p><strong>{e.url.clone()}</strong>" · "{state_label(&e, now)}</p>
                                    {e.previous_secret_until_ms.filter(|until| *until > now).map(|until| view! {
                                        <p class="muted">{format!("The previous secret signs too until {}.", utc_date_time(until))}</p>
                                    })}
                                    <div class="header-actions">
                                        <ActButton act id=id.clone() action=WebhookAction::SendTest label="Send test event" disabled=!e.enabled/>
                                        <ActButton act id=id.clone() action=WebhookAction::RotateSecret label="Rotate secret"/>
                                        <ActButton act id=id.clone() action=WebhookAction::Remove label="Remove endpoint" danger=true/>
                                    </div>
                                    <ActionForm action=save attr:class="stacked-form" attr:aria-label="Change the endpoint">
                                        <input type="hidden" name="id" value=id.clone()/>
                                        <label>"Endpoint URL" <input type="url" name="url" required maxlength=MAX_URL_CHARS value=e.url.clone()/></label>
                                        <label>"Description" <input type="text" name="description" maxlength=MAX_DESCRIPTION_CHARS value=e.description.clone()/></label>
                                        <EventChoices chosen=e.events.clone()/>
                                        <label class="checkbox"><input type="checkbox" name="enabled" value="on" checked=e.enabled/>" Enabled"</label>
                                        <button type="submit" class="primary">"Save"</button>
                                    </ActionForm>
                                </section>
                                <section class="card" aria-labelledby="deliveries-heading">
                                    <div class="page-header">
                                        <h2 id="deliveries-heading">"Deliveries"</h2>
                                        <button type="button" on:click=move |_| refreshed.update(|n| *n += 1)>"Refresh"</button>
                                    </div>
                                    <Deliveries list=listed.deliveries now act/>
                                </section>
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn Deliveries(list: Vec<WebhookDeliveryView>, now: i64, act: ServerAction<ActOnWebhook>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted">"Nothing sent yet."</p> }.into_any();
    }
    view! {
        <table class="users webhook-deliveries">
            <thead><tr>
                <th scope="col">"Event"</th>
                <th scope="col">"State"</th>
                <th scope="col">"Attempts"</th>
                <th scope="col">"Status"</th>
                <th scope="col">"Answer"</th>
                <th scope="col">"Last attempt"</th>
                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|d| {
                    let state = match (d.state, d.next_attempt_at_ms) {
                        (WebhookDeliveryState::Pending, Some(at)) if d.attempts > 0 => format!("Retrying {}", relative_time(at, now)),
                        (state, _) => state.label().to_string(),
                    };
                    let answer = d.last_error.clone().into_iter().chain(d.response_excerpt.clone().filter(|e| !e.is_empty())).collect::<Vec<_>>().join(" ");
                    let retry_label = format!("Retry the {} delivery {}", d.event.as_str(), d.event_id);
                    view! {
                        <tr>
                            <td><code>{d.event.as_str()}</code><div class="muted"><code>{d.event_id.clone()}</code></div></td>
                            <td>{state}</td>
                            <td>{d.attempts}</td>
                            <td>{d.last_status.map(|s| s.to_string()).unwrap_or_else(|| "—".into())}</td>
                            <td class="excerpt">{answer}</td>
                            <td>{d.last_attempt_at_ms.map(|at| view! { <span title=utc_date_time(at)>{relative_time(at, now)}</span> })}</td>
                            <td>
                                {(d.state == WebhookDeliveryState::Failed).then(|| view! {
                                    <ActButton act id=d.id.clone() action=WebhookAction::RetryDelivery label="Retry" aria_label=retry_label/>
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
