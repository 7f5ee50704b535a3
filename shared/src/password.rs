//! The password policy, shared so the form can say what is wrong before it is sent.

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;

const TOO_SHORT: &str = "Use at least 10 characters.";
const TOO_LONG: &str = "Use at most 256 characters.";
const REPETITIVE: &str = "Use a less repetitive password.";
const CONTAINS_EMAIL: &str = "Do not use your email address in your password.";
const TOO_COMMON: &str = "That password is too common.";

/// Every reason `weakness` can give.
pub const MESSAGES: [&str; 5] = [TOO_SHORT, TOO_LONG, REPETITIVE, CONTAINS_EMAIL, TOO_COMMON];

/// A password someone chose (at set-up, accepting an invitation, changing theirs): typed
/// twice alike and strong enough. Its Debug output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    /// Checks the password and its confirmation for the person with address `email`.
    pub fn parse(password: String, confirmation: &str, email: &str) -> Result<NewPassword, crate::AppError> {
        if password != confirmation {
            return Err(crate::AppError::Validation(crate::messages::PASSWORDS_DIFFER.into()));
        }
        if let Some(why) = weakness(&password, email) {
            return Err(crate::AppError::Validation(why.into()));
        }
        Ok(NewPassword(password))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

/// Why a password is refused, or `None` when it is acceptable.
pub fn weakness(password: &str, email: &str) -> Option<&'static str> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Some(TOO_SHORT);
    }
    if chars > MAX_LEN {
        return Some(TOO_LONG);
    }
    let distinct: std::collections::BTreeSet<char> = password.chars().collect();
    if distinct.len() < 5 {
        return Some(REPETITIVE);
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    if local.len() >= 4 && lower.contains(&local) {
        return Some(CONTAINS_EMAIL);
    }
    const COMMON: &[&str] = &["password", "1234567890", "qwertyuiop", "letmein", "beckon", "welcome"];
    if COMMON.iter().any(|c| lower.contains(c)) {
        return Some(TOO_COMMON);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_repetitive_and_common_passwords_are_refused() {
        assert!(weakness("short", "a@b.co").is_some());
        assert!(weakness("aaaaaaaaaaaa", "a@b.co").is_some());
        assert!(weakness("MyPassword123", "a@b.co").is_some());
        assert!(weakness("ada.lovelace77", "ada.lovelace@b.co").is_some());
    }

    #[test]
    fn a_new_password_must_match_and_be_strong() {
        assert!(NewPassword::parse("correct horse battery".into(), "correct horse battery", "a@b.co").is_ok());
        let differ = NewPassword::parse("correct horse battery".into(), "correct horse batterY", "a@b.co").unwrap_err();
        assert_eq!(differ.to_string(), crate::messages::PASSWORDS_DIFFER);
        assert_eq!(NewPassword::parse("short".into(), "short", "a@b.co").unwrap_err().to_string(), TOO_SHORT);
        assert_eq!(format!("{:?}", NewPassword::parse("correct horse battery".into(), "correct horse battery", "a@b.co").unwrap()), "NewPassword(…)");
    }

    #[test]
    fn a_reasonable_password_is_accepted() {
        assert_eq!(weakness("correct horse battery", "ada@example.com"), None);
    }
}
