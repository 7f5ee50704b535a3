//! The Users page.

use leptos::prelude::*;
use shared::views::UsersPage;
#[cfg(feature = "ssr")]
use shared::views::UsersQuery;
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::server::{context, users};

/// The Users page as its address asks for it (`UsersQuery::to_query_string`).
#[server(endpoint = "list_users")]
pub async fn list_users(query: String) -> Result<UsersPage, AppError> {
    context::respond(async {
        let (state, actor) = context::signed_in().await?;
        users::list(&state, &actor, UsersQuery::from_query_string(&query)).await
    }
    .await)
}
