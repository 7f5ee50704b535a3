#![recursion_limit = "256"]
//! Beckon's user interface and its server functions. With feature `ssr` it also holds
//! the services those functions call (`server`).

pub mod api;
mod components;
mod pages;

#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use pages::{AdminLayout, DeliveryLogPage, Home, InvitePage, NotFound, OrganisationPage, PlacePage, SettingsPage, SetupPage, SignInPage, UserPage, UsersPage};

/// The HTML document around the app, rendered on the server only.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = assets::stylesheet_href(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href=stylesheet/>
                <assets::BootScripts options/>
                <leptos_meta::MetaTags/>
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
/// next to the server binary; it is read once, not on every page (Leptos' own
/// `HydrationScripts` reads it per render, which cost a page view about 7 % of its time).
#[cfg(feature = "ssr")]
mod assets {
    use leptos::prelude::*;

    /// The asset of `kind` (js, wasm, css) with its hashed name, as a path.
    fn href(options: &LeptosOptions, kind: &str) -> String {
        use std::collections::HashMap;
        use std::sync::OnceLock;
        static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
        let hashes = HASHES.get_or_init(|| {
            let text = options
                .hash_files
                .then(|| {
                    let exe = std::env::current_exe().ok()?;
                    std::fs::read_to_string(exe.parent()?.join(options.hash_file.as_ref())).ok()
                })
                .flatten()
                .unwrap_or_default();
            text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
        });
        let (pkg, name) = (&options.site_pkg_dir, &options.output_name);
        match (hashes.get(kind), kind) {
            (Some(hash), _) => format!("/{pkg}/{name}.{hash}.{kind}"),
            (None, "wasm") => format!("/{pkg}/{name}_bg.wasm"),
            (None, _) => format!("/{pkg}/{name}.{kind}"),
        }
    }

    pub fn stylesheet_href(options: &LeptosOptions) -> String {
        href(options, "css")
    }

    /// Preloads the script and the wasm and starts hydration, under the page's nonce.
    #[component]
    pub fn BootScripts(options: LeptosOptions) -> impl IntoView {
        let (js, wasm) = (href(&options, "js"), href(&options, "wasm"));
        let boot = format!("import({js:?}).then(m => m.default({{ module_or_path: {wasm:?} }}).then(() => m.hydrate()));");
        view! {
            <link rel="modulepreload" href=js.clone()/>
            <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin=""/>
            <script type="module" nonce=leptos::nonce::use_nonce()>{boot}</script>
        }
    }
}
