//! Settings → API tokens: make a token for a script (shown once), see when each was last
//! used, revoke one.

use crate::components::{ActionError, ErrorBanner, SuccessBanner};
use crate::pages::admin_layout::SignedIn;
use crate::server_fns::{list_api_tokens, CreateApiToken, RevokeApiToken};
use leptos::prelude::*;
use leptos_meta::Title;
use shared::api::{scopes_label, ApiTokenView, MAX_TOKEN_NAME_CHARS, TOKEN_EXPIRY_CHOICES};
use shared::invitations::{utc_date, utc_date_time};
use shared::permissions::{Authority, Permission};

fn expiry_label(days: Option<u32>) -> String {
    match days {
        None => "Never".into(),
        Some(366) => "In a year".into(),
        Some(days) => format!("In {days} days"),
    }
}

/// Settings → API tokens, a page of its own (its forms stay out of the Settings page's wasm).
#[component]
pub fn ApiTokensPage() -> impl IntoView {
    let signed_in = use_context::<SignedIn>();
    view! {
        <Title text="API tokens"/>
        <div class="page-header"><h1>"API tokens"</h1><a href="/settings">"Back to Settings"</a></div>
        <Suspense>
            {move || Suspend::new(async move {
                let user = match signed_in {
                    Some(SignedIn(user)) => user.await.ok().flatten(),
                    None => None,
                };
                user.map(|user| match user.authority.is_administrator() {
                    true => view! { <ApiTokensSection authority=user.authority/> }.into_any(),
                    false => view! { <ErrorBanner error=shared::AppError::Forbidden(shared::permissions::Denied::NotPermitted)/> }.into_any(),
                })
            })}
        </Suspense>
    }
}

#[component]
fn ApiTokensSection(authority: Authority) -> impl IntoView {
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_api_tokens());
    let may_invite = authority.allows(Permission::ManageInvitations);
    let may_manage_people = authority.allows(Permission::ManagePeople);
    let sees_owner = authority.allows(Permission::ManageSettings);
    view! {
        <section class="card" aria-label="Your API tokens">
            <p class="muted">
                "Scripts and other systems call Beckon's API with a token. A token acts as you, with no more than the rights you choose here, and loses whatever you lose. The API is described at "
                <a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>"."
            </p>
            {move || create.value().get().and_then(Result::ok).map(|created| view! {
                <div class="banner banner-success" role="status">
                    <p>{format!("The token “{}” is made. Copy it now: it is not shown again.", created.token.name)}</p>
                    <label>"Your new token"
                        <input type="text" readonly class="token-secret" aria-label="Your new API token" value=created.secret.clone()/>
                    </label>
                </div>
            })}
            <ActionError value=create.value()/>
            {move || match revoke.value().get() {
                Some(Ok(message)) => Some(view! { <SuccessBanner message/> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorBanner error/> }.into_any()),
                None => None,
            }}
            <Transition>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.tokens.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                        Ok(list) => view! { <TokenTable list=list.tokens sees_owner now_ms=list.now_ms revoke/> }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=create attr:class="stacked-form" attr:aria-label="New API token">
                <label>"Name" <input type="text" name="name" required maxlength=MAX_TOKEN_NAME_CHARS placeholder="HR system sync"/></label>
                <label>"Expires"
                    <select name="expires_in_days">
                        {TOKEN_EXPIRY_CHOICES.into_iter().map(|days| {
                            let value = days.map(|d| d.to_string()).unwrap_or_default();
                            view! { <option value=value selected=days == Some(90)>{expiry_label(days)}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <fieldset>
                    <legend>"What it may do"</legend>
                    <p class="muted">"Every token reads the people, invitations and bulk actions you see."</p>
                    {may_invite.then(|| view! {
                        <label class="checkbox"><input type="checkbox" name="invitations" value="on"/>" Invitations: invite, resend, remind, extend, cancel"</label>
                    })}
                    {may_manage_people.then(|| view! {
                        <label class="checkbox"><input type="checkbox" name="people" value="on"/>" People administration: change roles, deactivate, reactivate"</label>
                    })}
                </fieldset>
                <button type="submit" class="primary" disabled=move || create.pending().get()>"Create token"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn TokenTable(list: Vec<ApiTokenView>, sees_owner: bool, now_ms: i64, revoke: ServerAction<RevokeApiToken>) -> impl IntoView {
    view! {
        <table class="users api-tokens">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Rights"</th>
                    <th scope="col">"Token"</th>
                    {sees_owner.then(|| view! { <th scope="col">"Made by"</th> })}
                    <th scope="col">"Last used"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col">"State"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {list.into_iter().map(|token| {
                    let live = token.is_live(now_ms);
                    let revoke_label = format!("Revoke {}", token.name);
                    view! {
                        <tr>
                            <td>{token.name.clone()}</td>
                            <td>{scopes_label(token.scopes)}</td>
                            <td><code>{token.hint.clone()}</code></td>
                            {sees_owner.then(|| view! { <td>{token.owner.clone()}</td> })}
                            <td>{match token.last_used_at_ms {
                                Some(at) => view! { <span title=utc_date_time(at)>{utc_date(at)}</span> }.into_any(),
                                None => "Never".into_any(),
                            }}</td>
                            <td>{token.expires_at_ms.map(utc_date).unwrap_or_else(|| "Never".into())}</td>
                            <td>{token.state_label(now_ms)}</td>
                            <td>
                                {live.then(|| view! {
                                    <ActionForm action=revoke attr:class="inline">
                                        <input type="hidden" name="id" value=token.id.clone()/>
                                        <button type="submit" class="danger" aria-label=revoke_label>"Revoke"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
