use shared::permissions::{Authority, Permission};
use shared::AppError;

/// The signed-in person a request acts for, as loaded from the database for this request.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: String,
    pub account_id: String,
    pub account_name: String,
    pub name: String,
    pub email: String,
    /// What they hold: the one input of every permission check.
    pub authority: Authority,
    /// They signed in with a temporary password an administrator set: nothing but choosing
    /// their own opens until they do.
    pub must_change_password: bool,
    /// Acting through this API token (its scopes are in `authority.token`).
    pub api_token: Option<TokenRef>,
}

/// The API token a call came through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRef {
    pub id: String,
    pub name: String,
}

impl Actor {
    pub fn can(&self, permission: Permission) -> bool {
        self.authority.allows(permission)
    }

    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        self.authority.require(permission).map_err(AppError::Forbidden)
    }
}
