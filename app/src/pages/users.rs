use crate::api::list_users;
use crate::components::{set_status, ErrorBanner};
use leptos::prelude::*;
use leptos_meta::Title;
use shared::views::UserRow;

#[component]
pub fn UsersPage() -> impl IntoView {
    let users = Resource::new(|| (), |_| list_users());
    view! {
        <Title text="Users"/>
        <div class="page-header">
            <h1>"Users"</h1>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(rows) => view! { <UsersTable rows/> }.into_any(),
                    Err(error) => {
                        set_status(error.status_code());
                        view! { <ErrorBanner error/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn UsersTable(rows: Vec<UserRow>) -> impl IntoView {
    let count = rows.len();
    view! {
        <table class="users">
            <caption class="muted">{format!("{count} user{}", if count == 1 { "" } else { "s" })}</caption>
            <thead>
                <tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Status"</th><th scope="col">"Roles"</th></tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let roles = row.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ");
                    let badge = format!("badge badge-{:?}", row.status).to_lowercase();
                    view! {
                        <tr>
                            <td>{row.name}</td>
                            <td>{row.email}</td>
                            <td><span class=badge>{row.status.label()}</span></td>
                            <td>{roles}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
