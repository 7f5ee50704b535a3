//! `/organisation`: the account's organisational units, waiting areas and meeting rooms as a
//! tree, with search; creating, archiving and restoring them.

use crate::components::{set_status, ActionError, ErrorBanner, SuccessBanner};
use crate::server_fns::{list_scopes, ArchiveScope, CreateScope, RestoreScope};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;
use shared::names::PlaceName;
use shared::scopes::ScopeKind;
use shared::views::{ScopeNode, ScopeTree};

/// Indentation by depth is a class: the CSP allows no inline styles.
pub fn depth_class(depth: u32) -> String {
    format!("depth-{}", depth.min(8))
}

#[component]
pub fn OrganisationPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |key: &str| query.read().get(key).unwrap_or_default();
    let create = ServerAction::<CreateScope>::new();
    let archive = ServerAction::<ArchiveScope>::new();
    let restore = ServerAction::<RestoreScope>::new();
    let tree = Resource::new(
        move || (param("q"), param("kind"), param("archived"), create.version().get(), archive.version().get(), restore.version().get()),
        |(q, kind, archived, ..)| list_scopes(q, kind, archived),
    );
    let current_kind = ScopeKind::parse(&query.read_untracked().get("kind").unwrap_or_default());
    let current_q = query.read_untracked().get("q").unwrap_or_default();
    let show_archived = query.read_untracked().get("archived").as_deref() == Some("on");
    let outcome = RwSignal::new(None::<Result<String, shared::AppError>>);
    for value in [archive.value(), restore.value()] {
        Effect::new(move |_| {
            if let Some(result) = value.get() {
                outcome.set(Some(result));
            }
        });
    }
    view! {
        <Title text="Organisation"/>
        <div class="page-header"><h1>"Organisation"</h1></div>
        {move || match create.value().get() {
            Some(Ok(_)) => Some(view! { <SuccessBanner message="The place is created."/> }),
            _ => None,
        }}
        <ActionError value=create.value()/>
        {move || match outcome.get() {
            Some(Ok(message)) => Some(view! { <SuccessBanner message/> }.into_any()),
            Some(Err(error)) => Some(view! { <ErrorBanner error/> }.into_any()),
            None => None,
        }}
        <Form method="GET" action="" attr:class="filters" attr:role="search" on_form_data=std::sync::Arc::new(|data: &leptos::web_sys::FormData| data.delete(""))>
            <div class="field">
                <label for="places-search">"Search"</label>
                <input id="places-search" type="search" name="q" value=current_q placeholder="Name of a place"/>
            </div>
            <div class="field">
                <label for="places-kind">"Kind"</label>
                <select id="places-kind" name="kind">
                    <option value="" selected=current_kind.is_none()>"All kinds"</option>
                    {ScopeKind::PLACES.into_iter().map(|k| view! { <option value=k.as_str() selected=current_kind == Some(k)>{k.label()}</option> }).collect_view()}
                </select>
            </div>
            <label class="checkbox"><input type="checkbox" name="archived" value="on" checked=show_archived/>"Show archived"</label>
            <button type="submit">"Apply"</button>
        </Form>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tree.await {
                    Ok(tree) => view! { <Tree tree archive restore/> <CreateForm create/> }.into_any(),
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
fn Tree(tree: ScopeTree, archive: ServerAction<ArchiveScope>, restore: ServerAction<RestoreScope>) -> impl IntoView {
    if tree.nodes.is_empty() {
        return view! { <p class="muted">"No places match. Organisational units hold waiting areas and meeting rooms; create one below."</p> }.into_any();
    }
    let can_manage = tree.can_manage;
    view! {
        <table class="users places">
            <thead>
                <tr>
                    <th scope="col">"Place"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"People"</th>
                    <th scope="col">"Open invitations"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {tree.nodes.into_iter().map(|node| view! { <NodeLine node can_manage archive restore/> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn NodeLine(node: ScopeNode, can_manage: bool, archive: ServerAction<ArchiveScope>, restore: ServerAction<RestoreScope>) -> impl IntoView {
    let href = format!("/organisation/{}", node.id);
    let name_class = format!("place-name {}", depth_class(node.depth));
    let id = node.id.clone();
    let name = node.name.clone();
    view! {
        <tr class:archived=node.archived>
            <td class=name_class>
                <A href=href>{node.name.clone()}</A>
                {node.archived.then(|| view! { " " <span class="badge">"Archived"</span> })}
            </td>
            <td>{node.kind.label()}</td>
            <td>{node.members}</td>
            <td>{node.invitations}</td>
            <td class="actions">
                {can_manage.then(|| if node.archived {
                    view! { <button type="button" aria-label=format!("Restore {name}") on:click=move |_| { restore.dispatch(RestoreScope { scope_id: id.clone() }); }>"Restore"</button> }.into_any()
                } else {
                    let question = format!("Archive {name} and every place inside it? They will take no new invitations.");
                    view! {
                        <button type="button" aria-label=format!("Archive {name}") on:click=move |_| {
                            if window().confirm_with_message(&question).unwrap_or(false) {
                                archive.dispatch(ArchiveScope { scope_id: id.clone() });
                            }
                        }>"Archive"</button>
                    }.into_any()
                })}
            </td>
        </tr>
    }
}

/// Creating a place: its kind, its name, and the organisational unit it sits in.
#[component]
fn CreateForm(create: ServerAction<CreateScope>) -> impl IntoView {
    let units = Resource::new(move || create.version().get(), |_| list_scopes(String::new(), ScopeKind::OrganisationalUnit.as_str().into(), String::new()));
    view! {
        <Transition>
            {move || Suspend::new(async move {
                let Ok(tree) = units.await else { return None };
                tree.can_manage.then(|| view! {
                    <section class="card" aria-labelledby="new-place">
                        <h2 id="new-place">"New place"</h2>
                        <ActionForm action=create>
                            <label>
                                "Kind"
                                <select name="kind">
                                    {ScopeKind::PLACES.into_iter().map(|k| view! { <option value=k.as_str()>{k.label()}</option> }).collect_view()}
                                </select>
                            </label>
                            <label>"Name" <input type="text" name="name" required maxlength=PlaceName::MAX_CHARS/></label>
                            <label>
                                "Inside"
                                <select name="parent_id">
                                    <option value="">"The account itself (organisational units only)"</option>
                                    {tree.nodes.into_iter().filter(|n| n.kind == ScopeKind::OrganisationalUnit && !n.archived).map(|n| view! {
                                        <option value=n.id.clone()>{format!("{}{}", "\u{2003}".repeat(n.depth as usize), n.name)}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <button type="submit" class="primary">"Create place"</button>
                        </ActionForm>
                    </section>
                })
            })}
        </Transition>
    }
}
