//! What the server functions return to the browser.

use crate::invitations::{ExpiryDays, Subject};
use crate::permissions::Authority;
use crate::scopes::{GrantView, ScopeKind};
use crate::status::{InvitationState, UserStatus};
use crate::RoleKey;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The signed-in person as the shell shows them, with what they may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub account_name: String,
    pub authority: Authority,
    /// Every role they hold, by place.
    pub held: Vec<GrantView>,
    /// Signed in with a temporary password: they choose their own before anything else.
    pub must_change_password: bool,
}

/// One row of the Users page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub status: UserStatus,
    /// The roles they hold, by place.
    pub held: Vec<GrantView>,
    /// Their open invitation (pending, or past its expiry), if any.
    pub invitation: Option<InvitationSummary>,
    /// The person reading the list.
    pub is_you: bool,
}

impl UserRow {
    /// The user as the rule for acting on a person sees them.
    pub fn person(&self) -> crate::people::PersonSubject {
        crate::people::PersonSubject {
            status: self.status,
            held: self.held.iter().map(|g| g.grant.clone()).collect(),
            offered: self.invitation.as_ref().map(|i| i.offered.iter().map(|g| g.grant.clone()).collect()).unwrap_or_default(),
            is_self: self.is_you,
        }
    }

    /// The user as the invitation rule sees them.
    pub fn subject(&self) -> Subject {
        Subject {
            status: self.status,
            invitation: self.invitation.as_ref().map(|i| i.state),
            offered: self.invitation.as_ref().map(|i| i.offered.iter().map(|g| g.grant.clone()).collect()).unwrap_or_default(),
        }
    }

    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.email
        } else {
            &self.name
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSummary {
    pub invitation_id: String,
    /// Pending or Expired: only open invitations are summarised.
    pub state: InvitationState,
    pub invited_at_ms: i64,
    pub last_sent_at_ms: i64,
    pub expires_at_ms: i64,
    pub send_count: i64,
    /// The roles it offers, by place.
    pub offered: Vec<GrantView>,
    /// Its latest email (invitation or reminder) and how its delivery went.
    pub latest_email: Option<crate::mail::LatestEmail>,
    /// Its address hard-bounced and is held: resending waits until it is corrected or
    /// marked as working.
    pub held: Option<crate::mail::Bounce>,
    /// Accepted, and waiting for an administrator to confirm its roles: since when, and why.
    pub awaiting: Option<(i64, crate::status::AwaitingReason)>,
}

/// How the Users page is filtered, searched, sorted and paged; kept in the URL. The page
/// reads its address with [`UsersQuery::from_params`] and every link to it (the pager,
/// emails) is built with [`UsersQuery::to_query_string`], so the two cannot drift apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersQuery {
    pub status: Option<UserStatus>,
    /// Only people holding, or invited to, a role in this place (or a place below it).
    pub scope: Option<String>,
    pub search: String,
    pub sort: UsersSort,
    pub descending: bool,
    pub page: u32,
    /// Rows per page: one of [`PAGE_SIZES`].
    pub size: u32,
    /// Where the page starts, when it was reached by Previous or Next.
    pub cursor: PageCursor,
}

/// A page reached from its neighbour starts just after that page's last user (Next) or
/// ends just before its first (Previous), so the server reads it from its index where
/// it stands instead of counting past every earlier row; `page` then only numbers it.
/// A page number alone (typed into the address) still works, by counting.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageCursor {
    #[default]
    None,
    /// Just after this user, in the list's order.
    After(RowAt),
    /// Just before this user.
    Before(RowAt),
}

/// A listed user, as a cursor names it: `{id}` or, in the Status order, `{id}.{status}`
/// with the status the page showed, so that an invitation expiring (or being accepted)
/// between two clicks does not move the row to another part of the list under the reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowAt {
    pub user_id: String,
    pub status: Option<UserStatus>,
}

impl RowAt {
    fn parse(text: &str) -> Option<RowAt> {
        let (id, status) = match text.split_once('.') {
            Some((id, status)) => (id, Some(UserStatus::parse(status)?)),
            None => (text, None),
        };
        crate::url::is_id(id).then(|| RowAt { user_id: id.to_string(), status })
    }
}

impl fmt::Display for RowAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{}.{}", self.user_id, status.as_str()),
            None => f.write_str(&self.user_id),
        }
    }
}

/// The page sizes the Users page offers; the first is the default.
pub const PAGE_SIZES: [u32; 3] = [25, 50, 100];

impl UsersQuery {
    /// The names of the query parameters, also the names of the filter form's fields.
    pub const STATUS: &'static str = "status";
    pub const SCOPE: &'static str = "scope";
    pub const SEARCH: &'static str = "q";
    pub const SORT: &'static str = "sort";
    pub const DIR: &'static str = "dir";
    pub const PAGE: &'static str = "page";
    pub const SIZE: &'static str = "size";
    pub const AFTER: &'static str = "after";
    pub const BEFORE: &'static str = "before";
    const MAX_SEARCH_CHARS: usize = 200;
    /// The highest page number an address may name (a hundred million people at 100 a page).
    pub const MAX_PAGE: u32 = 1_000_000;

    /// Reads the query from named parameters; unknown values fall back to the defaults.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> UsersQuery {
        let get = |name| param(name).unwrap_or_default();
        let row = |name| RowAt::parse(&get(name));
        let cursor = match (row(Self::AFTER), row(Self::BEFORE)) {
            (Some(after), _) => PageCursor::After(after),
            (None, Some(before)) => PageCursor::Before(before),
            (None, None) => PageCursor::None,
        };
        UsersQuery {
            status: UserStatus::parse(&get(Self::STATUS)),
            scope: Some(get(Self::SCOPE)).filter(|id| crate::url::is_id(id)),
            search: get(Self::SEARCH).trim().chars().take(Self::MAX_SEARCH_CHARS).collect(),
            sort: UsersSort::parse(&get(Self::SORT)).unwrap_or_default(),
            descending: get(Self::DIR) == "desc",
            page: get(Self::PAGE).parse().unwrap_or(1).clamp(1, Self::MAX_PAGE),
            size: get(Self::SIZE).parse().ok().filter(|s| PAGE_SIZES.contains(s)).unwrap_or(PAGE_SIZES[0]),
            cursor,
        }
    }

    /// The first page of this filter, search and order (what changing any of them shows).
    pub fn first_page(self) -> UsersQuery {
        UsersQuery { page: 1, cursor: PageCursor::None, ..self }
    }

    /// The page after page `page`, whose last row is `last`.
    pub fn next_page(self, page: u32, last: &UserRow) -> UsersQuery {
        let at = self.row_at(last);
        UsersQuery { page: page.saturating_add(1).min(Self::MAX_PAGE), cursor: PageCursor::After(at), ..self }
    }

    /// The page before page `page`, whose first row is `first` (page 1 is plain page 1).
    pub fn previous_page(self, page: u32, first: &UserRow) -> UsersQuery {
        match page {
            0..=2 => self.first_page(),
            _ => {
                let at = self.row_at(first);
                UsersQuery { page: page - 1, cursor: PageCursor::Before(at), ..self }
            }
        }
    }

    fn row_at(&self, row: &UserRow) -> RowAt {
        RowAt { user_id: row.user_id.clone(), status: (self.sort == UsersSort::Status).then_some(row.status) }
    }

    /// Reads `status=expired&q=ada%40example.com…` (with or without the leading `?`).
    pub fn from_query_string(query: &str) -> UsersQuery {
        let pairs = crate::url::query_pairs(query);
        UsersQuery::from_params(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    /// The query as the page's address carries it: only what differs from the defaults.
    pub fn to_query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = self.status {
            parts.push(format!("{}={}", Self::STATUS, status.as_str()));
        }
        if let Some(scope) = &self.scope {
            parts.push(format!("{}={scope}", Self::SCOPE));
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
        if self.size != PAGE_SIZES[0] && self.size != 0 {
            parts.push(format!("{}={}", Self::SIZE, self.size));
        }
        match &self.cursor {
            PageCursor::None => {}
            PageCursor::After(at) => parts.push(format!("{}={at}", Self::AFTER)),
            PageCursor::Before(at) => parts.push(format!("{}={at}", Self::BEFORE)),
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

/// One page of the Users list, with the server's clock so relative times agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersPage {
    pub rows: Vec<UserRow>,
    /// How many users match; when `total_capped`, at least this many (counting stopped).
    pub total: u64,
    pub total_capped: bool,
    pub page: u32,
    pub page_count: u32,
    pub now_ms: i64,
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
    Expired {
        account_name: String,
    },
    /// Accepted, and waiting for an administrator to confirm the roles it offers.
    AwaitingConfirmation {
        account_name: String,
    },
    /// Cancelled, or replaced by a newer link.
    NoLongerValid,
    AlreadyAccepted,
    /// The link is not one of ours (or was altered): nothing about any invitation is shown.
    NotValid,
}

/// What a password reset link shows its visitor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResetPage {
    /// The link is live: the person it is for chooses a new password.
    Open {
        email: String,
        account_name: String,
    },
    Expired,
    /// Used already, or the password changed since.
    NoLongerValid,
    /// Not one of ours (or altered): nothing about anyone is shown.
    NotValid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInvitation {
    pub account_name: String,
    pub inviter_name: String,
    pub email: String,
    pub offered: Vec<GrantView>,
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
    /// Why each of `skipped` was, in the same order, for the API (which calls the service
    /// directly); the page shows `skipped`'s words and never receives these.
    #[serde(skip)]
    pub skip_reasons: Vec<crate::bulk::SkipReason>,
    /// Nothing was sent: these addresses look mistyped (address, suggestion).
    pub typo_warnings: Vec<(String, String)>,
}

/// Settings → Invitations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSettings {
    pub expiry_days: ExpiryDays,
    /// "Resend" issues a new link, killing earlier ones, instead of sending the same link.
    pub resend_rotates_link: bool,
    /// Reminders Beckon sends by itself (off by default).
    pub reminders: crate::invitations::AutoReminders,
}

/// A place of the account, as the Organisation page lists it (in tree order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeNode {
    pub id: String,
    pub name: String,
    pub kind: ScopeKind,
    pub parent_id: Option<String>,
    /// How deep it sits: 0 for a place directly in the account.
    pub depth: u32,
    pub archived: bool,
    /// People holding a role there.
    pub members: i64,
    /// Open invitations offering a role there.
    pub invitations: i64,
}

/// The Organisation page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeTree {
    pub account_scope_id: String,
    pub nodes: Vec<ScopeNode>,
    /// The viewer may create, rename and archive places.
    pub can_manage: bool,
}

/// One person on a place's "Manage users" page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeMember {
    pub user: UserRow,
    /// Their roles in this place.
    pub here: Vec<GrantView>,
}

/// A place with its people: members and open invitations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDetail {
    pub node: ScopeNode,
    /// The places above it, outermost first.
    pub path: Vec<ScopeNode>,
    /// The places directly inside it.
    pub children: Vec<ScopeNode>,
    pub members: Vec<ScopeMember>,
    /// People invited to a role here who have not accepted yet.
    pub invited: Vec<ScopeMember>,
    pub can_manage: bool,
    pub now_ms: i64,
}

/// A role an admin can offer in a place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleOption {
    pub key: RoleKey,
    pub label: String,
}

/// A place an admin can invite into, with the roles they may offer there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOption {
    pub scope_id: String,
    pub name: String,
    pub kind: ScopeKind,
    pub depth: u32,
    pub roles: Vec<RoleOption>,
}

/// What "Invite people" may offer this admin: the places they reach (the account first,
/// when they manage it) and the roles in each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteOptions {
    pub places: Vec<PlaceOption>,
}

/// One of the account's own role names, with how many hold or are offered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomRole {
    pub id: String,
    pub name: String,
    pub in_use: i64,
}

/// A user's own page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetail {
    pub user: UserRow,
    /// Whether they have the People permission (meaningful for a Curator).
    pub people: bool,
    pub is_curator: bool,
    /// The viewer may give or take back the People permission.
    pub can_grant_people: bool,
    /// Where they are signed in (for a viewer who may sign them out; else empty).
    pub sign_ins: Vec<SignInView>,
    pub now_ms: i64,
}

/// One open sign-in of a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInView {
    /// "Firefox on Linux", as the server read it from the browser.
    pub device: String,
    pub signed_in_at_ms: i64,
    pub last_seen_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_query_survives_a_round_trip_through_its_address() {
        let query = UsersQuery {
            status: Some(UserStatus::Expired),
            scope: Some("7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f".into()),
            search: "Ada+1@example.com & co".into(),
            sort: UsersSort::Email,
            descending: true,
            page: 3,
            size: 50,
            cursor: PageCursor::After(RowAt { user_id: "0f1e2d3c-4b5a-4968-8776-655443322110".into(), status: Some(UserStatus::Invited) }),
        };
        let href = query.href();
        assert_eq!(
            href,
            "/users?status=expired&scope=7b0c5d4e-8f11-4a57-9d2e-0a1b2c3d4e5f&q=Ada%2B1%40example.com%20%26%20co&sort=email&dir=desc&page=3&size=50&after=0f1e2d3c-4b5a-4968-8776-655443322110.invited"
        );
        assert_eq!(UsersQuery::from_query_string(href.trim_start_matches("/users")), query);
        assert_eq!(UsersQuery::default().href(), "/users");
        assert_eq!(UsersQuery::from_query_string(""), UsersQuery { page: 1, size: 25, ..Default::default() });
    }

    #[test]
    fn unknown_values_in_the_address_fall_back_to_the_defaults() {
        let query = UsersQuery::from_query_string("status=bogus&scope=x%27%3B--&sort=nope&dir=sideways&page=-4&q=%20x%20&size=1000000&after=1%20OR%201");
        assert_eq!(query, UsersQuery { search: "x".into(), page: 1, size: 25, ..Default::default() });
    }

    #[test]
    fn a_page_number_past_any_list_is_held_to_the_last_one_an_address_may_name() {
        let query = UsersQuery::from_query_string("page=4294967295&after=b0");
        assert_eq!(query.page, UsersQuery::MAX_PAGE);
        let row = UserRow {
            user_id: "c0".into(),
            name: String::new(),
            email: String::new(),
            status: UserStatus::Active,
            held: Vec::new(),
            invitation: None,
            is_you: false,
        };
        assert_eq!(query.next_page(u32::MAX, &row).page, UsersQuery::MAX_PAGE, "no overflow");
    }

    #[test]
    fn previous_and_next_carry_the_neighbouring_row_and_a_new_order_starts_again() {
        let row = |id: &str, status| UserRow {
            user_id: id.into(),
            name: String::new(),
            email: String::new(),
            status,
            held: Vec::new(),
            invitation: None,
            is_you: false,
        };
        let on_three = UsersQuery { search: "ada".into(), page: 3, size: 50, ..Default::default() };
        assert_eq!(on_three.clone().next_page(3, &row("b0", UserStatus::Active)).href(), "/users?q=ada&page=4&size=50&after=b0");
        assert_eq!(on_three.clone().previous_page(3, &row("a0", UserStatus::Active)).href(), "/users?q=ada&page=2&size=50&before=a0");
        assert_eq!(on_three.clone().previous_page(2, &row("a0", UserStatus::Active)).href(), "/users?q=ada&size=50");
        let next = UsersQuery::from_query_string("q=ada&page=4&size=50&after=b0");
        assert_eq!(next.cursor, PageCursor::After(RowAt { user_id: "b0".into(), status: None }));
        assert_eq!(UsersQuery { sort: UsersSort::Email, ..next.first_page() }.href(), "/users?q=ada&sort=email&size=50");
        // In the Status order the row's status as shown travels with it.
        let by_status = UsersQuery { sort: UsersSort::Status, ..Default::default() };
        let href = by_status.next_page(1, &row("c0", UserStatus::Expired)).href();
        assert_eq!(href, "/users?sort=status&page=2&after=c0.expired");
        assert_eq!(
            UsersQuery::from_query_string(href.trim_start_matches("/users?")).cursor,
            PageCursor::After(RowAt { user_id: "c0".into(), status: Some(UserStatus::Expired) })
        );
        assert_eq!(UsersQuery::from_query_string("after=c0.bogus").cursor, PageCursor::None);
    }
}
