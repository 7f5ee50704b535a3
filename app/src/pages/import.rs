//! `/users/import`: upload a CSV file (or paste its rows), and `/users/import/{id}`: the
//! preview of every row with its verdict, filterable by verdict, rows dropped or typos
//! answered, then the import itself with the job's progress. One lazy route for both.
//!
//! The upload is a plain form post (multipart, the one request past 1 MB): it works before
//! the page is hydrated, and dropping a file on the file field is the browser's own.

use crate::components::{set_status, ErrorBanner};
use crate::pages::bulk::JobProgress;
use crate::server_fns::{change_import_row, get_import, get_job, start_import};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use shared::bulk::{thousands, JobView};
use shared::import::{Column, ImportMode, ImportRowView, ImportState, ImportView, RowChange, UploadError, Verdict, TEMPLATE_PATH, UPLOAD_PATH};

#[component]
pub fn ImportPage() -> impl IntoView {
    let params = use_params_map();
    move || match params.read().get("id") {
        Some(_) => view! { <ImportPreview/> }.into_any(),
        None => view! { <ImportUpload/> }.into_any(),
    }
}

#[component]
fn ImportUpload() -> impl IntoView {
    let query = use_query_map();
    let refused = move || {
        let query = query.read();
        let n = query.get("n").and_then(|n| n.parse().ok());
        query.get("error").and_then(|e| UploadError::from_query(&e, n))
    };
    let columns = Column::ALL.iter().map(|c| c.header()).collect::<Vec<_>>().join(", ");
    view! {
        <Title text="Import people"/>
        <p><A href="/users">"← Users"</A></p>
        <div class="page-header"><h1>"Import people"</h1></div>
        {move || refused().map(|r| view! { <div class="banner banner-error" role="alert">{r.message()}</div> })}
        <p>
            {format!("A CSV file with a header line naming its columns: {columns} (only email is required, in any order). ")}
            "Several roles or places in one cell are separated by a semicolon, or give one row per role. A row without a place gives its roles account-wide. "
            <a href=TEMPLATE_PATH rel="external" download="beckon-import-template.csv">"Download the template"</a>"."
        </p>
        <p class="muted">"Comma, semicolon or tab separated, UTF-8. You see every row with its verdict before anything is written."</p>
        <form class="import-upload" method="post" action=UPLOAD_PATH enctype="multipart/form-data">
            <label class="drop-zone">
                <span>"Drop the file here, or choose it"</span>
                <input type="file" name="file" accept=".csv,.tsv,.txt,text/csv,text/plain"/>
            </label>
            <label for="import-text">"Or paste the rows"</label>
            <textarea id="import-text" name="text" rows="6" placeholder="email,name,role,place"></textarea>
            <div class="form-actions"><button type="submit" class="primary">"Preview"</button></div>
        </form>
    }
}

#[component]
fn ImportPreview() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let refresh = RwSignal::new(0u32);
    let id = move || params.read().get("id").unwrap_or_default();
    let filter = move || query.read().get("verdict").filter(|v| Verdict::parse(v).is_some());
    let page = move || query.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    let import = Resource::new(move || (id(), filter(), page(), refresh.get()), |(id, verdict, page, _)| get_import(id, verdict, page));
    view! {
        <Title text="Import preview"/>
        <p><A href="/users/import">"← Import another file"</A></p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match import.await {
                    Ok(import) => view! { <Preview import refresh filter=filter() page=page()/> }.into_any(),
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
fn Preview(import: ImportView, refresh: RwSignal<u32>, filter: Option<String>, page: u32) -> impl IntoView {
    let base = import.href();
    let importable = import.importable();
    let filter_link = |verdict: Option<Verdict>| match verdict {
        Some(v) => format!("{base}?verdict={}", v.as_str()),
        None => base.clone(),
    };
    let chips = import
        .counts
        .iter()
        .map(|c| {
            let current = filter.as_deref() == Some(c.verdict.as_str());
            let class = if c.verdict.imports() { "chip chip-ok" } else { "chip" };
            view! {
                <li><a class=class href=filter_link(Some(c.verdict)) aria-current=current.then_some("true")>{format!("{}: {}", c.verdict.label(), thousands(c.count))}</a></li>
            }
        })
        .collect_view();
    let editable = import.state == ImportState::Preview;
    let (id, more) = (import.id.clone(), import.more);
    let page_link = |to: u32| match &filter {
        Some(v) => format!("{base}?verdict={v}&page={to}"),
        None => format!("{base}?page={to}"),
    };
    let previous = (page > 0).then(|| page_link(page - 1));
    let next = more.then(|| page_link(page + 1));
    let all_link = filter_link(None);
    let all_current = filter.is_none().then_some("true");
    let report = import.report_href();
    view! {
        <div class="page-header"><h1>{format!("Import: {}", import.file_name)}</h1></div>
        <p class="muted">{format!("{}, {} {}.", import.delimiter.label(), thousands(import.total), if import.total == 1 { "row" } else { "rows" })}</p>
        <nav aria-label="Rows by verdict">
            <ul class="chips">
                <li><a class="chip" href=all_link aria-current=all_current>{format!("All: {}", thousands(import.total))}</a></li>
                {chips}
            </ul>
        </nav>
        <ImportActions import=import.clone() refresh importable/>
        <table class="users import-rows">
            <caption class="visually-hidden">"Rows of the file"</caption>
            <thead>
                <tr>
                    <th scope="col">"Line"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Place"</th>
                    <th scope="col">"Verdict"</th>
                    {editable.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                </tr>
            </thead>
            <tbody>
                {import.rows.into_iter().map(|row| view! { <Row row id=id.clone() refresh editable/> }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages of rows">
            {previous.map(|href| view! { <a href=href>"Previous"</a> })}
            {next.map(|href| view! { <a href=href>"Next"</a> })}
        </nav>
        <p><a href=report rel="external" download="beckon-import-report.csv">"Download the rows that will not be imported, with why (CSV)"</a></p>
    }
}

#[component]
fn Row(row: ImportRowView, id: String, refresh: RwSignal<u32>, editable: bool) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let line = row.line;
    let change = move |what: RowChange| {
        let id = id.clone();
        leptos::task::spawn_local(async move {
            match change_import_row(id, line, what.as_str().to_string()).await {
                Ok(()) => refresh.update(|n| *n += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let verdict_class = if row.verdict.imports() { "verdict verdict-ok" } else { "verdict verdict-no" };
    let typo = (row.verdict == Verdict::LikelyTypo).then(|| row.detail.clone());
    let (dropped, email) = (row.dropped, row.email.clone());
    view! {
        <tr>
            <td>{row.line}</td>
            <td>{row.email}</td>
            <td>{row.name}</td>
            <td>{row.roles}</td>
            <td>{row.places}</td>
            <td>
                <span class=verdict_class>{row.verdict.label()}</span>
                <div class="muted small">{row.verdict.explain(&row.detail)}</div>
                {move || error.get().map(|e| view! { <div class="field-error" role="alert">{e}</div> })}
            </td>
            {editable.then(|| {
                let change = change.clone();
                view! {
                    <td class="row-actions">
                        {typo.map(|suggested| {
                            let (accept, keep) = (change.clone(), change.clone());
                            view! {
                                <button type="button" on:click=move |_| accept(RowChange::AcceptSuggestion)>{format!("Use {suggested}")}</button>
                                <button type="button" on:click=move |_| keep(RowChange::KeepAsTyped) aria-label=format!("Keep {email} as typed")>"Keep as typed"</button>
                            }
                        })}
                        {if dropped {
                            view! { <button type="button" on:click=move |_| change(RowChange::Restore) aria-label=format!("Restore line {line}")>"Restore"</button> }.into_any()
                        } else {
                            view! { <button type="button" on:click=move |_| change(RowChange::Drop) aria-label=format!("Drop line {line}")>"Drop"</button> }.into_any()
                        }}
                    </td>
                }
            })}
        </tr>
    }
}

/// "Send invites" or Profile only, and the import; once it started, the job's progress.
#[component]
fn ImportActions(import: ImportView, refresh: RwSignal<u32>, importable: u64) -> impl IntoView {
    let job = RwSignal::new(None::<RwSignal<JobView>>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let send = RwSignal::new(true);
    if let Some(job_id) = import.job_id.clone() {
        leptos::task::spawn_local(async move {
            if let Ok(view) = get_job(job_id).await {
                job.set(Some(RwSignal::new(view)));
            }
        });
    }
    let id = import.id.clone();
    let confirm = move |_| {
        let id = id.clone();
        let mode = if send.get_untracked() { ImportMode::SendInvites } else { ImportMode::ProfileOnly };
        pending.set(true);
        leptos::task::spawn_local(async move {
            match start_import(id, mode.as_str().to_string()).await {
                Ok(started) => {
                    if let Some(job_id) = started.job_id {
                        if let Ok(view) = get_job(job_id).await {
                            job.set(Some(RwSignal::new(view)));
                        }
                    }
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            pending.set(false);
        });
    };
    let state = import.state;
    let failed = import.failed_because.clone();
    view! {
        <section class="import-actions" aria-label="Import">
            {move || error.get().map(|e| view! { <div class="banner banner-error" role="alert">{e}</div> })}
            {failed.map(|why| view! { <div class="banner banner-error" role="alert">{format!("Nothing was imported: {why}.")}</div> })}
            {move || match job.get() {
                Some(current) => view! {
                    <JobProgress current/>
                    <p><button type="button" on:click=move |_| refresh.update(|n| *n += 1)>"Show the rows as imported"</button></p>
                }.into_any(),
                None if state == ImportState::Preview && importable > 0 => view! {
                    <fieldset class="import-mode">
                        <legend>"When the rows are imported"</legend>
                        <label><input type="radio" name="mode" checked=move || send.get() on:change=move |_| send.set(true)/>" Send invites"</label>
                        <label><input type="radio" name="mode" checked=move || !send.get() on:change=move |_| send.set(false)/>" Create them as Profile only, to invite later"</label>
                    </fieldset>
                    <button type="button" class="primary" on:click=confirm.clone() disabled=move || pending.get()>
                        {format!("Import {} {}", thousands(importable), if importable == 1 { "row" } else { "rows" })}
                    </button>
                    <p class="muted">"Every row marked to import is imported, or none: the rest are left out and listed in the report."</p>
                }.into_any(),
                None if state == ImportState::Preview => view! { <p>"No row of this file can be imported: the verdicts say why. Fix the file and upload it again."</p> }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}
