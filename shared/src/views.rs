//! What the server functions return to the browser.

use crate::Role;
use serde::{Deserialize, Serialize};

/// The signed-in person as the shell shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub account_name: String,
    pub roles: Vec<Role>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStatus {
    ProfileOnly,
    Invited,
    Expired,
    Active,
    Deactivated,
}

impl UserStatus {
    pub fn label(self) -> &'static str {
        match self {
            UserStatus::ProfileOnly => "Profile only",
            UserStatus::Invited => "Invited",
            UserStatus::Expired => "Expired",
            UserStatus::Active => "Active",
            UserStatus::Deactivated => "Deactivated",
        }
    }
}

/// One row of the Users page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub status: UserStatus,
    pub roles: Vec<Role>,
}

/// Whether the first-start set-up is still open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupState {
    pub open: bool,
}
