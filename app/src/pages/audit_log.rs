//! `/audit`: the account's audit trail, newest first, filtered by action, actor, person and
//! dates (all in the address), a page at a time, and downloadable as CSV.

use crate::components::{set_status, ErrorBanner};
use crate::server_fns::list_audit_events;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use shared::audit::{AuditAction, AuditPage, AuditPerson, AuditQuery};
use shared::invitations::{relative_time, utc_date_time};

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| AuditQuery::from_params(|name| params.read().get(name)));
    let log = Resource::new(move || query.get().to_query_string(), list_audit_events);
    let current = query.get_untracked();
    view! {
        <Title text="Audit log"/>
        <div class="page-header">
            <h1>"Audit log"</h1>
            <a class="button" href=move || query.get().export_href() rel="external" download="beckon-audit.csv">"Download CSV"</a>
        </div>
        // The nameless "Apply" button would otherwise add a stray `=` to the address.
        <Form method="GET" action="" attr:class="filters" attr:role="search" on_form_data=std::sync::Arc::new(|data: &leptos::web_sys::FormData| data.delete(""))>
            <div class="field">
                <label for="audit-action">"Action"</label>
                <select id="audit-action" name=AuditQuery::ACTION>
                    <option value="" selected=current.action.is_none()>"All actions"</option>
                    {AuditAction::ALL.into_iter().map(|a| view! { <option value=a.as_str() selected=current.action == Some(a)>{a.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="audit-actor">"Actor's address"</label>
                <input id="audit-actor" type="search" name=AuditQuery::ACTOR value=current.actor.clone()/>
            </div>
            <div class="field">
                <label for="audit-person">"Person's address"</label>
                <input id="audit-person" type="search" name=AuditQuery::PERSON value=current.person.clone()/>
            </div>
            <div class="field">
                <label for="audit-from">"From"</label>
                <input id="audit-from" type="date" name=AuditQuery::FROM value=current.from.clone()/>
            </div>
            <div class="field">
                <label for="audit-to">"To"</label>
                <input id="audit-to" type="date" name=AuditQuery::TO value=current.to.clone()/>
            </div>
            <button type="submit">"Apply"</button>
            {current.is_filtered().then(|| view! { <A href="/audit">"Clear filters"</A> })}
        </Form>
        <p class="muted small">"Dates are UTC days, both included."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match log.await {
                    Ok(page) => view! { <AuditTable page first=query.get_untracked().before.is_none()/> }.into_any(),
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
fn AuditTable(page: AuditPage, first: bool) -> impl IntoView {
    if !page.unknown.is_empty() {
        let names = page.unknown.join(", ");
        return view! { <p class="muted">"Nobody in this account has the address " {names} "."</p> }.into_any();
    }
    let now = page.now_ms;
    let newest = (!first).then(|| page.older.clone().map(|q| q.newest().href()).unwrap_or_else(|| "/audit".into()));
    let pager = view! {
        <nav class="pager" aria-label="Pages of the audit log">
            {newest.map(|href| view! { <A href=href>"Newest events"</A> })}
            {page.older.as_ref().map(|q| view! { <A href=q.href()>"Older events"</A> })}
        </nav>
    };
    if page.rows.is_empty() {
        return view! { <p class="muted">"No events match."</p> {pager} }.into_any();
    }
    view! {
        <table class="users audit">
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Person"</th>
                    <th scope="col">"Details"</th>
                </tr>
            </thead>
            <tbody>
                {page.rows.into_iter().map(|row| {
                    let action = row.action_label();
                    let target = (row.person.is_none() && !row.target.is_empty()).then(|| row.target.clone());
                    view! {
                        <tr>
                            <td><time title=utc_date_time(row.at_ms)>{relative_time(row.at_ms, now)}</time></td>
                            <td><Who person=row.actor/></td>
                            <td>{action}{target.map(|t| view! { <div class="muted small">{t}</div> })}</td>
                            <td>{row.person.map(|person| view! { <Who person/> })}</td>
                            <td class="details">
                                {row.details.into_iter().map(|(name, value)| view! { <div><span class="muted">{name}": "</span>{value}</div> }).collect_view()}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {pager}
    }
    .into_any()
}

#[component]
fn Who(person: AuditPerson) -> impl IntoView {
    match person {
        AuditPerson::Person { user_id, name, email } => {
            let shown = if name.is_empty() { email.clone() } else { name };
            view! { <A href=format!("/users/{user_id}")>{shown}</A><div class="muted small">{email}</div> }.into_any()
        }
        other => view! { <span class="muted">{other.label()}</span> }.into_any(),
    }
}
