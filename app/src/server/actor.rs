use shared::permissions::{allows, Denied, Permission};
use shared::views::CurrentUser;
use shared::{AppError, Role};

/// The signed-in person a request acts for, as loaded from the database for this request.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: String,
    pub account_id: String,
    pub account_name: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<Role>,
}

impl Actor {
    pub fn can(&self, permission: Permission) -> bool {
        allows(&self.roles, permission)
    }

    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden(Denied::NotPermitted))
        }
    }

    pub fn view(&self) -> CurrentUser {
        CurrentUser {
            user_id: self.user_id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            account_name: self.account_name.clone(),
            roles: self.roles.clone(),
        }
    }
}
