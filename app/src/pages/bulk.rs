//! Bulk actions on the Users page: the selection (ticked rows, kept across pages, or everyone
//! matching the filter), the bar with "Choose an action…", Go and "Export as CSV", and the
//! dialog that confirms and then follows the job. The dialog and the job's progress are a
//! chunk of the wasm of their own, loaded when Go is first pressed.

use crate::components::Modal;
use crate::pages::people::PeopleActions;
use crate::server_fns::{cancel_job, count_matching, get_job, start_bulk_action};
use leptos::prelude::*;
use shared::bulk::{thousands, BulkAction, JobView, Selection, MAX_JOB_PEOPLE, MAX_TICKED, SELECTION_EXPORT_PATH};
use shared::views::UsersQuery;

/// What is selected on the Users page.
#[derive(Clone, Copy)]
pub struct BulkSelection {
    /// Ticked rows, in the order ticked.
    pub ids: RwSignal<Vec<String>>,
    /// Everyone matching the filter, with the exact count, instead of the ticked rows.
    pub matching: RwSignal<Option<u64>>,
    /// The action waiting for its confirmation (the dialog is open).
    pub confirming: RwSignal<Option<(BulkAction, Selection, u64)>>,
}

impl BulkSelection {
    pub fn provide() -> BulkSelection {
        let selection = BulkSelection { ids: RwSignal::new(Vec::new()), matching: RwSignal::new(None), confirming: RwSignal::new(None) };
        provide_context(selection);
        selection
    }

    pub fn clear(self) {
        self.ids.set(Vec::new());
        self.matching.set(None);
    }

    pub fn is_ticked(self, id: &str) -> bool {
        self.matching.with(Option::is_some) || self.ids.with(|ids| ids.iter().any(|i| i == id))
    }

    pub fn set_ticked(self, id: &str, ticked: bool) {
        self.matching.set(None);
        self.ids.update(|ids| {
            let at = ids.iter().position(|i| i == id);
            match (ticked, at) {
                (true, None) => ids.push(id.to_string()),
                (false, Some(at)) => {
                    ids.remove(at);
                }
                _ => {}
            }
        });
    }

    /// How many people are selected.
    pub fn count(self) -> u64 {
        self.matching.get().unwrap_or_else(|| self.ids.with(|ids| ids.len() as u64))
    }
}

// Plain functions rather than components: the Users page's first visit carries them, and a
// component's props builder is code of its own.

/// The checkbox of one row.
pub fn row_checkbox(user_id: String, name: &str) -> impl IntoView {
    let selection = expect_context::<BulkSelection>();
    let id = user_id.clone();
    view! {
        <input type="checkbox" class="row-select" aria-label=format!("Select {name}")
            prop:checked=move || selection.is_ticked(&user_id)
            on:change=move |ev| selection.set_ticked(&id, event_target_checked(&ev))/>
    }
}

/// The header's checkbox: every row of this page (of this table, `label` says which).
pub fn page_checkbox(ids: Vec<String>, label: String) -> impl IntoView {
    let selection = expect_context::<BulkSelection>();
    let all = StoredValue::new(ids);
    let every_one = move || all.with_value(|page| !page.is_empty() && page.iter().all(|id| selection.is_ticked(id)));
    view! {
        <input type="checkbox" class="row-select" aria-label=label
            prop:checked=every_one
            on:change=move |ev| {
                let ticked = event_target_checked(&ev);
                all.with_value(|page| for id in page { selection.set_ticked(id, ticked) });
            }/>
    }
}

/// The bar above the list: how many are selected, "Select all N matching this filter", the
/// action chooser with Go, and the selection's CSV.
pub fn bulk_bar(query: UsersQuery, page_ids: Vec<String>, total: u64, capped: bool) -> impl IntoView {
    let selection = expect_context::<BulkSelection>();
    let actions = expect_context::<PeopleActions>();
    let chosen = RwSignal::new(String::new());
    let page_ids = StoredValue::new(page_ids);
    let page_all_ticked = move || page_ids.with_value(|page| !page.is_empty() && page.iter().all(|id| selection.is_ticked(id)));
    let more_than_page = total > page_ids.with_value(|p| p.len() as u64) || capped;
    let query_string = StoredValue::new(query.to_query_string());
    let select_all = move |_| {
        let query = query_string.get_value();
        leptos::task::spawn_local(async move {
            bulk_part(BulkPart::SelectAllMatching(query, selection, actions)).await;
        });
    };
    let current_selection = move || match selection.matching.get() {
        Some(_) => Selection::Matching(query_string.get_value()),
        None => Selection::People(selection.ids.get()),
    };
    let go = move |_| {
        let Some(action) = BulkAction::parse(&chosen.get_untracked()) else {
            actions.say(false, "Choose an action first.");
            return;
        };
        let count = selection.count();
        if count == 0 {
            actions.say(false, "Select people first: tick their rows, or every row of the page.");
            return;
        }
        if selection.matching.get_untracked().is_none() && count as usize > MAX_TICKED {
            actions.say(false, format!("Tick at most {} people one by one; for more, select everyone matching a filter.", thousands(MAX_TICKED as u64)));
            return;
        }
        selection.confirming.set(Some((action, current_selection(), count)));
    };
    let ids_field = move || match selection.matching.get() {
        Some(_) => String::new(),
        None => selection.ids.get().join(","),
    };
    view! {
        <div class="bulk-bar" role="region" aria-label="Bulk actions">
            <span class="bulk-count" aria-live="polite">{move || match selection.count() {
                0 => "None selected".to_string(),
                1 => "1 selected".to_string(),
                n => format!("{} selected", thousands(n)),
            }}</span>
            {move || match selection.matching.get() {
                Some(n) => view! {
                    <span>{format!("All {} people matching this filter are selected.", thousands(n))}</span>
                    <button type="button" class="link-button" on:click=move |_| selection.clear()>"Clear selection"</button>
                }.into_any(),
                None => view! {
                    {move || (page_all_ticked() && more_than_page).then(|| view! {
                        <button type="button" class="link-button select-all-matching" on:click=select_all>
                            {if capped { format!("Select all matching this filter (more than {})", thousands(total)) } else { format!("Select all {} matching this filter", thousands(total)) }}
                        </button>
                    })}
                    {move || (selection.count() > 0).then(|| view! {
                        <button type="button" class="link-button" on:click=move |_| selection.clear()>"Clear selection"</button>
                    })}
                }.into_any(),
            }}
            // The table's header, where this box sits on a wide screen, is folded away on a phone.
            <span class="page-select-bar">{page_checkbox(page_ids.get_value(), "Select every row on this page".into())}</span>
            <label for="bulk-action" class="visually-hidden">"Bulk action"</label>
            <select id="bulk-action" on:change=move |ev| chosen.set(event_target_value(&ev))>
                <option value="">"Choose an action…"</option>
                {BulkAction::CHOSEN.into_iter().map(|a| view! { <option value=a.as_str()>{a.label()}</option> }).collect_view()}
            </select>
            <button type="button" on:click=go>"Go"</button>
            <form method="post" action=SELECTION_EXPORT_PATH class="inline">
                <input type="hidden" name=Selection::IDS prop:value=ids_field/>
                {move || selection.matching.get().map(|_| view! { <input type="hidden" name=Selection::MATCHING value=query_string.get_value()/> })}
                <button type="submit" disabled=move || selection.count() == 0>"Export as CSV"</button>
            </form>
            <a href="/jobs" class="jobs-link">"Jobs"</a>
        </div>
        {move || selection.confirming.get().map(|(action, chosen, count)| Suspend::new(bulk_part(BulkPart::Confirm(action, chosen, count))))}
    }
}

/// What the bulk bar loads when first used.
enum BulkPart {
    /// Count everyone matching this Users query, and select them.
    SelectAllMatching(String, BulkSelection, PeopleActions),
    /// Confirm the action, then follow its job.
    Confirm(BulkAction, Selection, u64),
}

/// One chunk of the wasm for the bar's server calls, its dialog and the job's progress,
/// loaded when first used: the page's first visit carries none of it (and one split point
/// rather than two cuts less of what they share with the page into chunks of its own).
#[lazy]
fn bulk_part(part: BulkPart) -> AnyView {
    match part {
        BulkPart::SelectAllMatching(query, selection, actions) => {
            leptos::task::spawn_local(async move {
                match count_matching(query).await {
                    Ok(n) if n as usize > MAX_JOB_PEOPLE => actions.say(
                        false,
                        format!(
                            "More than {} people match this filter; a bulk action reaches at most that many. Narrow the filter down.",
                            thousands(MAX_JOB_PEOPLE as u64)
                        ),
                    ),
                    Ok(n) => selection.matching.set(Some(n)),
                    Err(error) => actions.say(false, error.to_string()),
                }
            });
            ().into_any()
        }
        BulkPart::Confirm(action, chosen, count) => view! { <BulkDialog action chosen count/> }.into_any(),
    }
}

/// "Cancel 1,240 invitations?", then the job's progress once it started.
#[component]
fn BulkDialog(action: BulkAction, chosen: Selection, count: u64) -> impl IntoView {
    let selection = expect_context::<BulkSelection>();
    let actions = expect_context::<PeopleActions>();
    let started = RwSignal::new(None::<RwSignal<JobView>>);
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let chosen = StoredValue::new(chosen);
    let close = move || {
        if let Some(job) = started.get_untracked().map(|job| job.get_untracked()) {
            actions.say(job.failed == 0, job.summary());
            selection.clear();
            actions.refresh.update(|n| *n += 1);
        }
        selection.confirming.set(None);
    };
    let confirm = move |_| {
        pending.set(true);
        let (ids, matching) = match chosen.get_value() {
            Selection::People(ids) => (ids.join(","), None),
            Selection::Matching(query) => (String::new(), Some(query)),
        };
        leptos::task::spawn_local(async move {
            match start_bulk_action(action.as_str().to_string(), ids, matching).await {
                Ok(job) => started.set(Some(RwSignal::new(job))),
                Err(error_now) => error.set(Some(error_now.to_string())),
            }
            pending.set(false);
        });
    };
    view! {
        <Modal labelled_by="bulk-title" on_close=Callback::new(move |_| close())>
            <h2 id="bulk-title">{action.question(count)}</h2>
            {move || error.get().map(|e| view! { <div class="banner banner-error" role="alert">{e}</div> })}
            {move || match started.get() {
                None => view! {
                    <p>{format!("{} for each selected person you may act on. The others are skipped, with the reason.", action.label())}</p>
                    <div class="dialog-actions">
                        <button type="button" class="primary" on:click=confirm disabled=move || pending.get()>{action.label()}</button>
                        <button type="button" on:click=move |_| close()>"Back"</button>
                    </div>
                }.into_any(),
                Some(current) => view! {
                    <JobProgress current/>
                    <div class="dialog-actions">
                        <button type="button" on:click=move |_| close()>"Close"</button>
                    </div>
                }.into_any(),
            }}
        </Modal>
    }
}

/// A job's progress bar and counts, followed while it runs (kept in `current`); its result
/// once over.
#[component]
pub fn JobProgress(current: RwSignal<JobView>) -> impl IntoView {
    let retry = RwSignal::new(0u32);
    Effect::new(move |_| {
        retry.track();
        if current.with(|j| j.state.is_over()) {
            return;
        }
        let id = current.with_untracked(|j| j.id.clone());
        set_timeout(
            move || {
                leptos::task::spawn_local(async move {
                    match get_job(id).await {
                        Ok(fresh) => {
                            current.try_set(fresh);
                        }
                        Err(_) => {
                            retry.try_update(|n| *n += 1);
                        }
                    }
                })
            },
            std::time::Duration::from_millis(700),
        );
    });
    let cancelling = RwSignal::new(false);
    let cancel = move |_| {
        let id = current.with_untracked(|j| j.id.clone());
        cancelling.set(true);
        leptos::task::spawn_local(async move {
            if let Ok(fresh) = cancel_job(id).await {
                current.try_set(fresh);
            }
            cancelling.try_set(false);
        });
    };
    view! {
        <div class="job-progress">
            {move || {
                let job = current.get();
                let name = format!("{}: progress", job.action.label());
                let counts = format!(
                    "{} of {} processed: {} done, {} skipped, {} failed",
                    thousands(job.processed()), thousands(job.total), thousands(job.done), thousands(job.skipped), thousands(job.failed)
                );
                let state = match job.state {
                    shared::bulk::JobState::Running => None,
                    shared::bulk::JobState::Done => Some(job.summary()),
                    shared::bulk::JobState::Cancelled => Some(format!("Cancelled. {} {} were not started.", job.summary(), thousands(job.total - job.processed()))),
                    shared::bulk::JobState::Failed => Some(format!("Stopped: {}. {}", job.stopped_because.clone().unwrap_or_default(), job.summary())),
                };
                let skipped_href = (job.skipped > 0).then(|| job.skipped_csv_href());
                view! {
                    <progress max=job.total.max(1) value=job.processed() aria-label=name></progress>
                    <p class="job-counts" role="status">{counts}</p>
                    {state.map(|text| view! { <p class="job-result">{text}</p> })}
                    {skipped_href.map(|href| view! { <p><a href=href rel="external" download="beckon-skipped.csv">"Download the skipped rows (CSV)"</a></p> })}
                    {job.can_cancel.then(|| view! {
                        <button type="button" class="danger" on:click=cancel disabled=move || cancelling.get()>"Cancel job"</button>
                    })}
                }
            }}
        </div>
    }
}
