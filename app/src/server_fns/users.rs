//! The Users page and a user's own page.

use leptos::prelude::*;
use shared::views::{UserDetail, UsersPage};
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::services::{context, users};
#[cfg(feature = "ssr")]
use shared::views::UsersQuery;

/// The Users page as its address asks for it (`UsersQuery::to_query_string`).
#[server(endpoint = "list_users")]
pub async fn list_users(query: String) -> Result<UsersPage, AppError> {
    context::as_signed_in_read(
        "list_users",
        query.clone(),
        |state, actor| async move { users::list(&state, &actor, UsersQuery::from_query_string(&query)).await },
    )
    .await
}

#[server(endpoint = "get_user")]
pub async fn get_user(user_id: String) -> Result<UserDetail, AppError> {
    context::as_signed_in_read("get_user", user_id.clone(), |state, actor| async move { users::detail(&state, &actor, &user_id).await }).await
}

/// Gives a Curator the People permission (`people` = "on") or takes it back (anything else).
#[server(endpoint = "set_people_permission")]
pub async fn set_people_permission(user_id: String, people: String) -> Result<String, AppError> {
    context::as_signed_in(|state, actor| async move { users::set_people_permission(&state, &actor, &user_id, people == "on").await }).await
}
