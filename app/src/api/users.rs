//! The Users page.

use leptos::prelude::*;
use shared::views::{UsersPage, UsersQuery, UsersSort, UserStatus};
use shared::AppError;

#[cfg(feature = "ssr")]
use crate::server::{context, users};

/// The query as the URL carries it; unknown values fall back to the defaults.
pub fn users_query(status: &str, search: &str, sort: &str, dir: &str, page: &str) -> UsersQuery {
    UsersQuery {
        status: UserStatus::parse(status),
        search: search.chars().take(200).collect(),
        sort: UsersSort::parse(sort).unwrap_or_default(),
        descending: dir == "desc",
        page: page.parse().unwrap_or(1).max(1),
    }
}

#[server]
pub async fn list_users(status: String, search: String, sort: String, dir: String, page: String) -> Result<UsersPage, AppError> {
    context::respond(async {
        let (state, actor) = context::signed_in().await?;
        users::list(&state, &actor, users_query(&status, &search, &sort, &dir, &page)).await
    }
    .await)
}
