#![recursion_limit = "256"]
//! The browser entry point: hydrates the server-rendered page.

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Asynchronous hydration: the page's own chunk of the wasm is loaded first.
    leptos::mount::hydrate_lazy(app::App);
}
