//! Settings → Roles: the account's own role names ("Clinician", "Receptionist"). They can be
//! offered in any place and grant membership, not administration.

use crate::components::{ActionError, ErrorBanner, SuccessBanner};
use crate::server_fns::{list_custom_roles, CreateCustomRole, RemoveCustomRole, RenameCustomRole};
use leptos::prelude::*;
use shared::names::RoleName;

#[component]
pub fn RolesSection() -> impl IntoView {
    let create = ServerAction::<CreateCustomRole>::new();
    let rename = ServerAction::<RenameCustomRole>::new();
    let remove = ServerAction::<RemoveCustomRole>::new();
    let roles = Resource::new(move || (create.version().get(), rename.version().get(), remove.version().get()), |_| list_custom_roles());
    // The last thing that happened, whichever form it came from.
    let outcome = RwSignal::new(None::<Result<String, shared::AppError>>);
    for value in [create.value(), rename.value(), remove.value()] {
        Effect::new(move |_| {
            if let Some(result) = value.get() {
                outcome.set(Some(result));
            }
        });
    }
    view! {
        <section class="card" aria-labelledby="custom-roles">
            <h2 id="custom-roles">"Roles"</h2>
            <p class="muted">
                "Besides Owner, Admin, HR, Curator and Member, the account can have roles of its own, such as Clinician or Receptionist. Invitations can offer them in any place; they make someone a member there, not an administrator."
            </p>
            {move || match outcome.get() {
                Some(Ok(message)) => Some(view! { <SuccessBanner message/> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorBanner error/> }.into_any()),
                None => None,
            }}
            <ActionError value=create.value()/>
            <Transition>
                {move || Suspend::new(async move {
                    match roles.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"The account has no roles of its own yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="users roles-table">
                                <thead><tr><th scope="col">"Role"</th><th scope="col">"In use"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|role| {
                                        let label = format!("New name for {}", role.name);
                                        let remove_label = format!("Remove {}", role.name);
                                        let id_for_remove = role.id.clone();
                                        view! {
                                            <tr>
                                                <td>
                                                    <ActionForm action=rename attr:class="inline-form">
                                                        <input type="hidden" name="role_id" value=role.id.clone()/>
                                                        <input type="text" name="name" aria-label=label value=role.name.clone() required maxlength=RoleName::MAX_CHARS/>
                                                        <button type="submit">"Rename"</button>
                                                    </ActionForm>
                                                </td>
                                                <td>{if role.in_use == 0 { "Not in use".to_string() } else { role.in_use.to_string() }}</td>
                                                <td>
                                                    <ActionForm action=remove attr:class="inline">
                                                        <input type="hidden" name="role_id" value=id_for_remove/>
                                                        <button type="submit" aria-label=remove_label disabled=role.in_use > 0>"Remove"</button>
                                                    </ActionForm>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(error) => view! { <ErrorBanner error/> }.into_any(),
                    }
                })}
            </Transition>
            <ActionForm action=create attr:class="inline-form">
                <label>"New role" <input type="text" name="name" required maxlength=RoleName::MAX_CHARS placeholder="Clinician"/></label>
                <button type="submit" class="primary">"Add role"</button>
            </ActionForm>
        </section>
    }
}
