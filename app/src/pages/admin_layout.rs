use crate::components::{set_status, ErrorBanner, LiveClock};
use crate::server_fns::{get_current_user, SignOut};
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};
use leptos_router::hooks::use_location;
use shared::permissions::{Authority, Permission};
use shared::views::CurrentUser;
use shared::AppError;

/// The signed-in shell: header with the account and the user, navigation, and the page.
/// Visitors who are not signed in are sent to sign-in and brought back afterwards.
///
/// The page sits beside the header's `Suspense`, not inside it: on the server a `Suspense`
/// builds its children once to find the resources they read and again to render them, so a
/// page inside it would load its data twice. Its own data loads alongside the header's.
#[component]
pub fn AdminLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| get_current_user());
    provide_context(SignedIn(user));
    LiveClock::provide();
    let users_again = RwSignal::new(0u64);
    provide_context(UsersNavigation(users_again));
    let location = use_location();
    view! {
        <Suspense>
            {move || {
                let location = location.clone();
                Suspend::new(async move {
                match user.await {
                    // A temporary password opens nothing until they choose their own.
                    Ok(Some(user)) if user.must_change_password => view! { <Redirect path="/choose-password"/> }.into_any(),
                    Ok(Some(user)) => view! { <TopBar user users_again/> }.into_any(),
                    Ok(None) => view! { <Redirect path=crate::components::sign_in_back_to(&location)/> }.into_any(),
                    Err(error) => {
                        set_status(error.status_code());
                        view! { <div class="centered"><ErrorBanner error/></div> }.into_any()
                    }
                }
            })}}
        </Suspense>
        <main class="content">
            <Outlet/>
        </main>
    }
}

/// The signed-in person as the shell loaded them, for the pages that show who they are.
#[derive(Clone, Copy)]
pub struct SignedIn(pub Resource<Result<Option<CurrentUser>, AppError>>);

impl SignedIn {
    /// What the signed-in person may do, once the shell has loaded them (nothing before,
    /// nor outside the shell). Called where the page's view is built, awaited in its `Suspend`.
    pub fn authority() -> impl std::future::Future<Output = Authority> {
        let signed_in = use_context::<SignedIn>();
        async move {
            match signed_in {
                Some(SignedIn(user)) => user.await.ok().flatten().map(|u| u.authority).unwrap_or_default(),
                None => Authority::default(),
            }
        }
    }
}

/// Bumped when "Users" is chosen in the header while the Users page is already shown: the
/// page lists again (a link to where one is would otherwise do nothing).
#[derive(Clone, Copy)]
pub struct UsersNavigation(pub RwSignal<u64>);

#[component]
fn TopBar(user: CurrentUser, users_again: RwSignal<u64>) -> impl IntoView {
    let can = |p| user.authority.allows(p);
    let can_view_users = can(Permission::ViewUsers);
    let can_view_places = can(Permission::ManageScopes) || user.authority.manages_account() || user.authority.administers_any_place();
    let can_view_deliveries = can(Permission::ViewDeliveryLog);
    let can_view_audit = can(Permission::ViewAuditLog);
    let location = use_location();
    let on_users = move |_| {
        if location.pathname.get_untracked() == "/users" && location.search.get_untracked().is_empty() {
            users_again.update(|n| *n += 1);
        }
    };
    // On a narrow screen the navigation folds behind "Menu" once the page is interactive
    // (before that, and without JavaScript, it wraps instead); choosing a page folds it.
    let foldable = RwSignal::new(false);
    let open = RwSignal::new(false);
    Effect::new(move |_| foldable.set(true));
    view! {
        <header class="topbar" class:foldable=move || foldable.get() class:open=move || open.get()>
            <div class="brand">
                <span class="logo" aria-hidden="true">"✉"</span>
                <span class="account-name">{user.account_name.clone()}</span>
            </div>
            <button type="button" class="menu-toggle" aria-controls="main-menu" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                "Menu"
            </button>
            <div class="topbar-menu" id="main-menu">
                <nav aria-label="Main" on:click=move |_| open.set(false)>
                    {can_view_users.then(|| view! { <A href="/users" on:click=on_users>"Users"</A> })}
                    {can_view_places.then(|| view! { <A href="/organisation">"Organisation"</A> })}
                    {can_view_deliveries.then(|| view! { <A href="/deliveries">"Delivery log"</A> })}
                    {can_view_audit.then(|| view! { <A href="/audit">"Audit log"</A> })}
                    <A href="/settings">"Settings"</A>
                </nav>
                <div class="whoami">
                    <span class="user-name" title=user.email.clone()>{user.name.clone()}</span>
                    <SignOutButton/>
                </div>
            </div>
        </header>
    }
}

#[component]
pub fn SignOutButton() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <ActionForm action=sign_out attr:class="inline">
            <button type="submit" class="link-button">"Sign out"</button>
        </ActionForm>
    }
}
