//! The Users page.

use leptos::prelude::*;
use shared::views::UserRow;
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::server::{auth, context, users};

#[server]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    context::respond(async {
        let state = context::state()?;
        let actor = auth::require_actor(&state, &context::session().await?).await?;
        users::list(&state, &actor).await
    }
    .await)
}
