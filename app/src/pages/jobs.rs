//! `/jobs`: the bulk actions started in the account (one's own, for a scope administrator),
//! and `/jobs/{id}`: one job's progress, result and skipped rows. One lazy route for both, and
//! for the import's pages (`/users/import`, a job too): one chunk of the wasm for the work
//! that runs as jobs, since each split point of its own cuts the code it shares with the
//! Users page into more, smaller chunks (see scripts/check-size.sh).

use crate::components::{set_status, ErrorBanner};
use crate::pages::bulk::JobProgress;
use crate::server_fns::{get_job, list_jobs};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use shared::bulk::{thousands, JobView};
use shared::invitations::utc_date_time;

#[component]
pub fn JobsPage() -> impl IntoView {
    let params = use_params_map();
    let location = leptos_router::hooks::use_location();
    move || match params.read().get("id") {
        _ if location.pathname.read().starts_with("/users/import") => view! { <crate::pages::ImportPage/> }.into_any(),
        Some(_) => view! { <JobPage/> }.into_any(),
        None => view! { <JobsList/> }.into_any(),
    }
}

#[component]
fn JobsList() -> impl IntoView {
    let jobs = Resource::new(|| (), |_| list_jobs());
    view! {
        <Title text="Jobs"/>
        <div class="page-header"><h1>"Jobs"</h1></div>
        <p class="muted">"Bulk actions over more than a hundred people run here, one person after the other; each job's page follows it."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match jobs.await {
                    Ok(jobs) if jobs.is_empty() => view! { <p class="muted">"No bulk action yet. Select people on the Users page and choose an action."</p> }.into_any(),
                    Ok(jobs) => view! { <JobsTable jobs/> }.into_any(),
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
fn JobsTable(jobs: Vec<JobView>) -> impl IntoView {
    view! {
        <table class="users jobs">
            <thead>
                <tr>
                    <th scope="col">"Started"</th>
                    <th scope="col">"By"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"People"</th>
                    <th scope="col">"Done"</th>
                    <th scope="col">"Skipped"</th>
                    <th scope="col">"Failed"</th>
                    <th scope="col">"State"</th>
                </tr>
            </thead>
            <tbody>
                {jobs.into_iter().map(|job| {
                    let at = job.started_at_ms;
                    view! {
                        <tr>
                            <td><A href=job.href()>{format!("{} UTC", utc_date_time(at))}</A></td>
                            <td>{job.started_by.clone()}</td>
                            <td>{job.action.label()}<div class="muted small">{job.selection.clone()}</div></td>
                            <td>{thousands(job.total)}</td>
                            <td>{thousands(job.done)}</td>
                            <td>{thousands(job.skipped)}</td>
                            <td>{thousands(job.failed)}</td>
                            <td><span class=format!("badge badge-job-{}", job.state.as_str())>{job.state.label()}</span></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let job = Resource::new(move || params.read().get("id").unwrap_or_default(), get_job);
    view! {
        <Title text="Job"/>
        <p><A href="/jobs">"← Jobs"</A></p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match job.await {
                    Ok(job) => view! {
                        <div class="page-header"><h1>{job.action.label()}</h1></div>
                        <p class="muted">{format!("Started by {} on {} UTC. {}.", job.started_by, utc_date_time(job.started_at_ms), job.selection)}</p>
                        <JobProgress current=RwSignal::new(job)/>
                    }.into_any(),
                    Err(error) => {
                        set_status(error.status_code());
                        view! { <ErrorBanner error/> }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
