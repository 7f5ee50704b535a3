#![recursion_limit = "256"]
//! Beckon's user interface and its server functions. With feature `ssr` it also holds
//! the services those functions call (`server`).

pub mod api;
mod components;
mod pages;

#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use pages::{AdminLayout, DeliveryLogPage, Home, InvitePage, NotFound, OrganisationPage, PlacePage, SettingsPage, SetupPage, SignInPage, UserPage, UsersPage};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = assets::stylesheet_href(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href=stylesheet/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: the mark tells scripts and styles the page is live.
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "");
        }
    });
    view! {
        <Title formatter=|page: String| if page.is_empty() { "Beckon".to_string() } else { format!("{page} · Beckon") }/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home ssr=SsrMode::Async/>
                <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async/>
                <Route path=path!("/signin") view=SignInPage ssr=SsrMode::Async/>
                <Route path=path!("/invite/:link") view=InvitePage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("/users") view=UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/users/:id") view=UserPage ssr=SsrMode::Async/>
                    <Route path=path!("/organisation") view=OrganisationPage ssr=SsrMode::Async/>
                    <Route path=path!("/organisation/:id") view=PlacePage ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view=SettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/deliveries") view=DeliveryLogPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Names of the built assets. The build writes content-hashed names into `hash.txt`
/// next to the server binary (the file Leptos reads for the scripts); the stylesheet
/// name comes from the same file.
mod assets {
    use leptos::prelude::LeptosOptions;

    #[cfg(feature = "ssr")]
    pub fn stylesheet_href(options: &LeptosOptions) -> String {
        use std::sync::OnceLock;
        static HREF: OnceLock<String> = OnceLock::new();
        HREF.get_or_init(|| {
            let hash = options
                .hash_files
                .then(|| {
                    let exe = std::env::current_exe().ok()?;
                    let text = std::fs::read_to_string(exe.parent()?.join(options.hash_file.as_ref())).ok()?;
                    text.lines().find_map(|l| l.strip_prefix("css:").map(|h| h.trim().to_string()))
                })
                .flatten();
            match hash {
                Some(hash) => format!("/{}/{}.{hash}.css", options.site_pkg_dir, options.output_name),
                None => format!("/{}/{}.css", options.site_pkg_dir, options.output_name),
            }
        })
        .clone()
    }

    #[cfg(not(feature = "ssr"))]
    pub fn stylesheet_href(options: &LeptosOptions) -> String {
        format!("/{}/{}.css", options.site_pkg_dir, options.output_name)
    }
}
