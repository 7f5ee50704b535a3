#![recursion_limit = "256"]
//! The browser entry point: hydrates the server-rendered page.

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    use leptos::prelude::document;
    console_error_panic_hook::set_once();
    let _ = any_spawner::Executor::init_wasm_bindgen();
    // Asynchronous hydration: the page's own chunk of the wasm is loaded first. Only then is
    // the page live, and `<html data-hydrated>` says so to scripts and tests (marked from a
    // first effect instead, it came before a slow chunk, and a click on the page's button
    // meanwhile did nothing).
    leptos::task::spawn_local(async {
        let Some(body) = document().body() else { return };
        let mounted = leptos::mount::hydrate_from_async(body, app::App).await;
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "");
        }
        mounted.forget();
    });
}
