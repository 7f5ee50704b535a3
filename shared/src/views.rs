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
    pub const ALL: [UserStatus; 5] =
        [UserStatus::ProfileOnly, UserStatus::Invited, UserStatus::Expired, UserStatus::Active, UserStatus::Deactivated];

    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::ProfileOnly => "profile_only",
            UserStatus::Invited => "invited",
            UserStatus::Expired => "expired",
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(s: &str) -> Option<UserStatus> {
        UserStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

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
    /// Active users: the roles they hold. Invited and expired users: the roles offered.
    pub roles: Vec<Role>,
    /// The latest invitation, when there is one still pending (or expired).
    pub invitation: Option<InvitationSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSummary {
    pub invitation_id: String,
    pub invited_at_ms: i64,
    pub last_sent_at_ms: i64,
    pub expires_at_ms: i64,
    pub send_count: i64,
}

/// How the Users page is filtered, searched, sorted and paged; kept in the URL. The page
/// reads its address with [`UsersQuery::from_params`] and every link to it (the pager,
/// emails) is built with [`UsersQuery::to_query_string`], so the two cannot drift apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersQuery {
    pub status: Option<UserStatus>,
    pub search: String,
    pub sort: UsersSort,
    pub descending: bool,
    pub page: u32,
}

impl UsersQuery {
    /// The names of the query parameters, also the names of the filter form's fields.
    pub const STATUS: &'static str = "status";
    pub const SEARCH: &'static str = "q";
    pub const SORT: &'static str = "sort";
    pub const DIR: &'static str = "dir";
    pub const PAGE: &'static str = "page";
    const MAX_SEARCH_CHARS: usize = 200;

    /// Reads the query from named parameters; unknown values fall back to the defaults.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> UsersQuery {
        let get = |name| param(name).unwrap_or_default();
        UsersQuery {
            status: UserStatus::parse(&get(Self::STATUS)),
            search: get(Self::SEARCH).trim().chars().take(Self::MAX_SEARCH_CHARS).collect(),
            sort: UsersSort::parse(&get(Self::SORT)).unwrap_or_default(),
            descending: get(Self::DIR) == "desc",
            page: get(Self::PAGE).parse().unwrap_or(1).max(1),
        }
    }

    /// Reads `status=expired&q=ada%40example.com…` (with or without the leading `?`).
    pub fn from_query_string(query: &str) -> UsersQuery {
        let pairs: Vec<(String, String)> = query
            .trim_start_matches('?')
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .map(|(k, v)| (crate::url::decode_component(k), crate::url::decode_component(v)))
            .collect();
        UsersQuery::from_params(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    /// The query as the page's address carries it: only what differs from the defaults.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = self.status {
            parts.push(format!("{}={}", Self::STATUS, status.as_str()));
        }
        if !self.search.is_empty() {
            parts.push(format!("{}={}", Self::SEARCH, crate::url::encode_component(&self.search)));
        }
        if self.sort != UsersSort::default() {
            parts.push(format!("{}={}", Self::SORT, self.sort.as_str()));
        }
        if self.descending {
            parts.push(format!("{}=desc", Self::DIR));
        }
        if self.page > 1 {
            parts.push(format!("{}={}", Self::PAGE, self.page));
        }
        parts.join("&")
    }

    /// `/users?…` for this query.
    pub fn href(&self) -> String {
        let query = self.to_query_string();
        if query.is_empty() {
            "/users".into()
        } else {
            format!("/users?{query}")
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsersSort {
    #[default]
    Name,
    Email,
    Status,
    Invited,
}

impl UsersSort {
    pub const ALL: [UsersSort; 4] = [UsersSort::Name, UsersSort::Email, UsersSort::Status, UsersSort::Invited];

    pub fn as_str(self) -> &'static str {
        match self {
            UsersSort::Name => "name",
            UsersSort::Email => "email",
            UsersSort::Status => "status",
            UsersSort::Invited => "invited",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UsersSort::Name => "Name",
            UsersSort::Email => "Email",
            UsersSort::Status => "Status",
            UsersSort::Invited => "Invited date",
        }
    }

    pub fn parse(s: &str) -> Option<UsersSort> {
        UsersSort::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

pub const USERS_PAGE_SIZE: u32 = 25;

/// One page of the Users list, with the server's clock so relative times agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersPage {
    pub rows: Vec<UserRow>,
    pub total: u64,
    pub page: u32,
    pub page_count: u32,
    pub now_ms: i64,
    /// Roles the viewer may offer in an invitation.
    pub grantable_roles: Vec<Role>,
}

/// Whether the first-start set-up is still open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupState {
    pub open: bool,
}

/// What an invitation link shows its visitor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvitationPage {
    /// The link is live: who invites whom, into what, as what.
    Open(OpenInvitation),
    Expired { account_name: String },
    /// Cancelled, or replaced by a newer link.
    NoLongerValid,
    AlreadyAccepted,
    /// The link is not one of ours (or was altered): nothing about any invitation is shown.
    NotValid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInvitation {
    pub account_name: String,
    pub inviter_name: String,
    pub email: String,
    pub roles: Vec<Role>,
    pub personal_message: Option<String>,
    pub expires_at_ms: i64,
    pub now_ms: i64,
    /// The address already belongs to an active user of the account: they accept by signing in.
    pub existing_user: bool,
    /// Who is signed in in this browser, if anyone.
    pub signed_in_as: Option<String>,
}

/// What "Invite people" did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteOutcome {
    pub invited: Vec<String>,
    /// Addresses not invited, with why (already active, already invited, deactivated).
    pub skipped: Vec<(String, String)>,
    /// Nothing was sent: these addresses look mistyped (address, suggestion).
    pub typo_warnings: Vec<(String, String)>,
}

/// Settings → Invitations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSettings {
    /// Days before an invitation expires (1–90).
    pub expiry_days: i64,
    /// "Resend" issues a new link, killing earlier ones, instead of sending the same link.
    pub resend_rotates_link: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_query_survives_a_round_trip_through_its_address() {
        let query = UsersQuery { status: Some(UserStatus::Expired), search: "Ada+1@example.com & co".into(), sort: UsersSort::Email, descending: true, page: 3 };
        let href = query.href();
        assert_eq!(href, "/users?status=expired&q=Ada%2B1%40example.com%20%26%20co&sort=email&dir=desc&page=3");
        assert_eq!(UsersQuery::from_query_string(href.trim_start_matches("/users")), query);
        assert_eq!(UsersQuery::default().href(), "/users");
        assert_eq!(UsersQuery::from_query_string(""), UsersQuery { page: 1, ..Default::default() });
    }

    #[test]
    fn unknown_values_in_the_address_fall_back_to_the_defaults() {
        let query = UsersQuery::from_query_string("status=bogus&sort=nope&dir=sideways&page=-4&q=%20x%20");
        assert_eq!(query, UsersQuery { search: "x".into(), page: 1, ..Default::default() });
    }
}
