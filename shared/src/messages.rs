//! The fixed messages forms answer with. A form posted without JavaScript is redirected
//! back with its error in the page's address, and anyone can craft such an address; so an
//! error that arrives that way is shown only if it is one of these (see
//! `AppError::shown_from_link`), never as free text.

pub const WRONG_CREDENTIALS: &str = "Incorrect email or password.";
pub const PASSWORDS_DIFFER: &str = "The passwords do not match.";
pub const CURRENT_PASSWORD_WRONG: &str = "Your current password is not correct.";
/// A new password the same as the current one (for a temporary password, still known to the
/// administrator who set it).
pub const NEW_PASSWORD_UNCHANGED: &str = "Choose a new password, not the one you have now.";
pub const ALREADY_SET_UP: &str = "Beckon is already set up. Sign in with your account.";
pub const NAME_REQUIRED: &str = "Enter your name (at most 100 characters).";
pub const ACCOUNT_NAME_REQUIRED: &str = "Enter the account name (at most 100 characters).";
pub const PLACE_NAME_REQUIRED: &str = "Enter a name for the place (at most 100 characters).";
pub const ROLE_NAME_REQUIRED: &str = "Enter a role name (at most 50 characters).";
pub const ROLE_NAME_BUILT_IN: &str = "That is the name of a built-in role. Choose another name.";
pub const INVITATION_EXPIRED: &str = "This invitation has expired. Ask the person who invited you for a new one.";
pub const INVITATION_ACCEPTED: &str = "This invitation has already been accepted. Sign in instead.";
pub const INVITATION_NO_LONGER_VALID: &str = "This invitation is no longer valid.";
pub const INVITATION_AWAITING: &str =
    "You have accepted this invitation. An administrator must confirm it before you can sign in with it; you will get an email when they have.";
pub const LINK_NOT_VALID: &str = "This link is not valid.";
pub const ACCEPT_RETRY: &str = "This invitation could not be accepted. Try again.";
pub const REQUEST_ONLY_WHEN_EXPIRED: &str = "Only an expired invitation can be renewed this way.";
pub const REQUEST_ALREADY_SENT: &str = "Your request was already sent. The person who invited you will send a new invitation.";
pub const INVITER_UNREACHABLE: &str = "The person who invited you can no longer be reached. Ask them for a new invitation.";
pub const RESET_LINK_EXPIRED: &str = "This link has expired. Ask for a new one from the sign-in page.";
pub const RESET_LINK_USED: &str = "This link was used already, or the password was changed since. Ask for a new one from the sign-in page if you need it.";
// Written out, not formatted, so it can be a constant; `ExpiryDays` holds the same bounds.
pub const EXPIRY_RANGE: &str = "The expiry period must be between 1 and 90 days.";
pub const EXPIRY_NOT_A_NUMBER: &str = "The expiry period must be a whole number of days.";

/// Said instead of a message that is not one of ours.
pub const GENERIC: &str = "That did not work. Check the form and try again.";

pub fn is_known(message: &str) -> bool {
    [
        WRONG_CREDENTIALS,
        PASSWORDS_DIFFER,
        CURRENT_PASSWORD_WRONG,
        NEW_PASSWORD_UNCHANGED,
        ALREADY_SET_UP,
        NAME_REQUIRED,
        ACCOUNT_NAME_REQUIRED,
        PLACE_NAME_REQUIRED,
        ROLE_NAME_REQUIRED,
        ROLE_NAME_BUILT_IN,
        INVITATION_EXPIRED,
        INVITATION_ACCEPTED,
        INVITATION_NO_LONGER_VALID,
        INVITATION_AWAITING,
        LINK_NOT_VALID,
        ACCEPT_RETRY,
        REQUEST_ONLY_WHEN_EXPIRED,
        REQUEST_ALREADY_SENT,
        INVITER_UNREACHABLE,
        RESET_LINK_EXPIRED,
        RESET_LINK_USED,
        EXPIRY_RANGE,
        EXPIRY_NOT_A_NUMBER,
    ]
    .contains(&message)
        || crate::password::MESSAGES.contains(&message)
}
