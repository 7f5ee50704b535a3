#![recursion_limit = "256"]
//! Beckon's user interface (`pages`) and its server functions (`server_fns`). With feature
//! `ssr` it also holds the services those functions call (`services`).

mod components;
mod pages;
pub mod server_fns;

#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod site;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

use lazy_pages::*;
use pages::{AdminLayout, NotFound};

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
    view! {
        <Title formatter=document_title/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view={Lazy::<HomeView>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/setup") view={Lazy::<SetupView>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/signin") view={Lazy::<SignInView>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/invite/:link") view={Lazy::<InviteView>::new()} ssr=SsrMode::Async/>
                // The three password pages are one chunk: each lazy route costs every page's
                // first visit its share of the main module.
                <Route path=path!("/forgot-password") view={Lazy::<PasswordView>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/reset/:link") view={Lazy::<PasswordView>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/choose-password") view={Lazy::<PasswordView>::new()} ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("/users") view={Lazy::<UsersView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users/import") view={Lazy::<JobsView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users/import/:id") view={Lazy::<JobsView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users/:id") view={Lazy::<UserView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/organisation") view={Lazy::<OrganisationView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/organisation/:id") view={Lazy::<PlaceView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view={Lazy::<SettingsView>::new()} ssr=SsrMode::Async/>
                    // Settings → API tokens and Webhooks: one chunk for what other systems use.
                    <Route path=path!("/settings/api-tokens") view={Lazy::<IntegrationsView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings/webhooks") view={Lazy::<IntegrationsView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings/webhooks/:id") view={Lazy::<IntegrationsView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/deliveries") view={Lazy::<DeliveryLogView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view={Lazy::<AuditLogView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/jobs") view={Lazy::<JobsView>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/jobs/:id") view={Lazy::<JobsView>::new()} ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// "Ada Lovelace · Beckon": the title of every page. On the server it is escaped here, since
/// leptos_meta writes the title into the head as it is: a person's or a place's name holding
/// `</title><meta http-equiv="refresh" …>` would otherwise become elements of the admin's
/// page. The browser sets the title as text (`document.title`), so it gets the plain words.
fn document_title(page: String) -> String {
    let title = if page.is_empty() { "Beckon".to_string() } else { format!("{page} · Beckon") };
    #[cfg(feature = "ssr")]
    return shared::html::escape(&title);
    #[cfg(not(feature = "ssr"))]
    title
}

/// Every page is its own chunk of the wasm (Leptos' lazy routes, split by the site build):
/// a first visit downloads the framework and the page it opens, not all ten. The router
/// loads a page's chunk together with its data. On the server the page renders directly, and
/// its response preloads the page's chunks (a `Link` header), so that a first visit fetches
/// them beside the main module.
mod lazy_pages {
    use crate::pages::*;
    use leptos::prelude::*;
    use leptos_router::{lazy_route, LazyRoute};

    macro_rules! lazy_pages {
        ($($route:ident => $page:ident),* $(,)?) => {$(
            pub struct $route;

            #[lazy_route]
            impl LazyRoute for $route {
                fn data() -> Self {
                    Self
                }

                fn view(_this: Self) -> AnyView {
                    #[cfg(feature = "ssr")]
                    crate::assets::preload_lazy_page();
                    view! { <$page/> }.into_any()
                }
            }
        )*};
    }

    lazy_pages! {
        HomeView => Home,
        SetupView => SetupPage,
        SignInView => SignInPage,
        InviteView => InvitePage,
        PasswordView => PasswordPages,
        UsersView => UsersPage,
        UserView => UserPage,
        OrganisationView => OrganisationPage,
        PlaceView => PlacePage,
        SettingsView => SettingsPage,
        DeliveryLogView => DeliveryLogPage,
        AuditLogView => AuditLogPage,
        IntegrationsView => IntegrationsPage,
        JobsView => JobsPage,
    }
}

/// Names of the built assets. The build writes content-hashed names into `hash.txt`
/// next to the server binary; it is read once, not on every page (Leptos' own
/// `HydrationScripts` reads it per render, which cost a page view about 7 % of its time).
#[cfg(feature = "ssr")]
mod assets {
    use leptos::prelude::*;

    use std::collections::HashMap;
    use std::sync::OnceLock;

    fn hashes(options: &LeptosOptions) -> &'static HashMap<String, String> {
        static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
        HASHES.get_or_init(|| {
            let text = options
                .hash_files
                .then(|| {
                    let exe = std::env::current_exe().ok()?;
                    std::fs::read_to_string(exe.parent()?.join(options.hash_file.as_ref())).ok()
                })
                .flatten()
                .unwrap_or_default();
            crate::site::parse_hashes(&text)
        })
    }

    /// The asset of `kind` (js, wasm, css) with its hashed name, as a path.
    fn href(options: &LeptosOptions, kind: &str) -> String {
        let (pkg, name) = (&options.site_pkg_dir, &options.output_name);
        match (hashes(options).get(kind), kind) {
            (Some(hash), _) => format!("/{pkg}/{name}.{hash}.{kind}"),
            (None, "wasm") => format!("/{pkg}/{name}_bg.wasm"),
            (None, _) => format!("/{pkg}/{name}.{kind}"),
        }
    }

    /// What the document head names, worked out once per process like the names it holds.
    struct Head {
        stylesheet: String,
        js: String,
        wasm: String,
        boot: String,
    }

    fn head(options: &LeptosOptions) -> &'static Head {
        static HEAD: OnceLock<Head> = OnceLock::new();
        HEAD.get_or_init(|| {
            let (js, wasm) = (href(options, "js"), href(options, "wasm"));
            let boot = format!("import({js:?}).then(m => m.default({{ module_or_path: {wasm:?} }}).then(() => m.hydrate()));");
            Head { stylesheet: href(options, "css"), js, wasm, boot }
        })
    }

    pub fn stylesheet_href(options: &LeptosOptions) -> &'static str {
        &head(options).stylesheet
    }

    /// Per lazy page (by the name of its split), a `Link` header that preloads
    /// its chunks of the wasm (the largest, within [`MAX_PRELOAD_HEADER_BYTES`]) and their loader, from the list the site build wrote
    /// (split.HASH.json). Chromium fetches them beside the main module instead of after it.
    /// One header per page, built once: Leptos' own way adds a `<link>` element per chunk to
    /// every page it renders. Empty for a site without chunks; a list that cannot be read
    /// only costs the preloads, so it is logged, not fatal.
    static PRELOADS: OnceLock<HashMap<String, http::HeaderValue>> = OnceLock::new();

    /// A page needs up to a hundred chunks, most of them small. Proxies refuse answers whose
    /// headers outgrow their buffer (nginx's is 4 KB by default), so the `Link` header
    /// names the page's largest chunks only: about eighteen, two thirds to five sixths of its bytes.
    pub const MAX_PRELOAD_HEADER_BYTES: usize = 2048;

    fn chunk_preloads(options: &LeptosOptions) -> &'static HashMap<String, http::HeaderValue> {
        PRELOADS.get_or_init(|| {
            let Some(hash) = hashes(options).get("split") else { return HashMap::new() };
            let pkg = &options.site_pkg_dir;
            let path = std::path::Path::new(options.site_root.as_ref()).join(pkg.as_ref()).join(crate::site::chunk_list_name(hash));
            let read = std::fs::read_to_string(&path).map_err(|e| e.to_string());
            let manifest = match read.and_then(|text| crate::site::ChunkList::parse(&text)) {
                Ok(manifest) => manifest,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "the chunk list cannot be read: pages load their chunks without preloads");
                    return HashMap::new();
                }
            };
            let dir = path.parent().unwrap_or(std::path::Path::new("."));
            let size = |chunk: &str| std::fs::metadata(dir.join(format!("{chunk}.wasm"))).map(|m| m.len()).unwrap_or(0);
            manifest
                .preloads
                .into_iter()
                .filter(|(split, _)| manifest.pages.contains(split))
                .filter_map(|(split, mut chunks)| {
                    // The page's own chunk first, then the largest it depends on, as many as
                    // fit the header's budget; the loader fetches the rest.
                    let (own, shared) = chunks.split_first_mut()?;
                    shared.sort_by_key(|chunk| std::cmp::Reverse(size(chunk)));
                    let mut links = format!("</{pkg}/{}>; rel=modulepreload", manifest.loader);
                    for chunk in std::iter::once(&*own).chain(shared.iter()) {
                        let link = format!(", </{pkg}/{chunk}.wasm>; rel=preload; as=fetch; type=\"application/wasm\"; crossorigin");
                        if links.len() + link.len() > MAX_PRELOAD_HEADER_BYTES {
                            break;
                        }
                        links.push_str(&link);
                    }
                    Some((split, http::HeaderValue::from_str(&links).ok()?))
                })
                .collect()
        })
    }

    /// Adds the preloads of the lazy page being rendered to its response. Leptos' lazy view
    /// of a page notes its split's name in the render's context as it starts; the list is
    /// read by [`BootScripts`], which the document head renders before any page.
    pub fn preload_lazy_page() {
        let (Some(preloads), Some(response), Some(rendered)) =
            (PRELOADS.get(), use_context::<leptos_axum::ResponseOptions>(), use_context::<leptos::PrefetchLazyFn>())
        else {
            return;
        };
        for split in rendered.0.read_value().iter() {
            match preloads.get(*split) {
                Some(links) => response.append_header(http::header::LINK, links.clone()),
                // Split names carry a hash of where the page is declared in the source.
                None if !preloads.is_empty() => {
                    static SAID: std::sync::Once = std::sync::Once::new();
                    SAID.call_once(|| {
                        tracing::warn!(
                            split,
                            "the site's chunk list does not know this page: it was built from other sources than this binary; build both again"
                        )
                    });
                }
                None => {}
            }
        }
    }

    /// Preloads the script and the wasm and starts hydration, under the page's nonce.
    #[component]
    pub fn BootScripts(options: LeptosOptions) -> impl IntoView {
        chunk_preloads(&options);
        let Head { js, wasm, boot, .. } = head(&options);
        view! {
            <link rel="modulepreload" href=js.as_str()/>
            <link rel="preload" href=wasm.as_str() r#as="fetch" r#type="application/wasm" crossorigin=""/>
            <script type="module" nonce=leptos::nonce::use_nonce()>{boot.as_str()}</script>
        }
    }
}
