use crate::components::set_status;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    set_status(404);
    view! {
        <Title text="Page not found"/>
        <main class="centered">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. Check the link, or go back to the start."</p>
            <p><a href="/">"Go to Beckon"</a></p>
        </main>
    }
}
