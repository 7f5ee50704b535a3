//! Names people type: a person's, the account's, a place's, a role's. Each is trimmed, kept
//! on one line and within its length, checked here once, with its own message.

use crate::{messages, AppError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `raw` trimmed, when it has 1 to `max` characters and none that could disguise it.
fn clean(raw: &str, max: usize) -> Option<String> {
    let name = raw.trim();
    let fits = !name.is_empty() && name.chars().count() <= max && !name.chars().any(disguises);
    fits.then(|| name.to_string())
}

/// Characters no name needs and that change how the text around them reads: control
/// characters (new lines, escapes), the direction overrides and isolates that make the text
/// after them read backwards, line and paragraph separators, and the invisible ones
/// that make two different names look alike (joiners stay: scripts and emoji need them).
fn disguises(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{2060}' | '\u{FEFF}')
}

macro_rules! name_type {
    ($(#[$meta:meta])* $name:ident, $max:expr, $message:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: &str) -> Result<$name, AppError> {
                clean(raw, Self::MAX_CHARS).map($name).ok_or_else(|| AppError::Validation($message.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = AppError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

name_type!(
    /// A person's name, as they give it at set-up or when accepting an invitation.
    PersonName, 100, messages::NAME_REQUIRED
);
name_type!(
    /// The account's name, shown in the header and in every invitation.
    AccountName, 100, messages::ACCOUNT_NAME_REQUIRED
);
name_type!(
    /// The name of an organisational unit, waiting area or meeting room.
    PlaceName, 100, messages::PLACE_NAME_REQUIRED
);
name_type!(
    /// One of the account's own role names ("Clinician", "Receptionist").
    RoleName, 50, messages::ROLE_NAME_REQUIRED
);

impl RoleName {
    /// A role name that is not one of the built-in ones, whatever its case.
    pub fn parse_custom(raw: &str) -> Result<RoleName, AppError> {
        let name = RoleName::parse(raw)?;
        if crate::Role::ALL.iter().any(|r| r.label().eq_ignore_ascii_case(name.as_str())) {
            return Err(AppError::Validation(messages::ROLE_NAME_BUILT_IN.into()));
        }
        Ok(name)
    }
}

/// "Ada Lovelace (ada@example.com)", or the address alone for someone without a name yet:
/// how a banner or a list names a person.
pub fn name_and_address(name: &str, email: &str) -> String {
    if name.trim().is_empty() {
        email.to_string()
    } else {
        format!("{name} ({email})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("  Ada Lovelace ").unwrap().as_str(), "Ada Lovelace");
        for bad in ["", "   ", "Ada\nLovelace", &"x".repeat(101), "Eve\u{202E}gpj.exe", "Ad\u{200B}a", "Ada\u{2028}Lovelace"] {
            assert_eq!(PersonName::parse(bad), Err(AppError::Validation(messages::NAME_REQUIRED.into())), "{bad:?}");
        }
        assert!(PersonName::parse(&"é".repeat(100)).is_ok(), "characters, not bytes");
        assert!(RoleName::parse(&"x".repeat(51)).is_err());
    }

    #[test]
    fn an_own_role_cannot_take_a_built_in_name() {
        assert!(RoleName::parse_custom("Clinician").is_ok());
        assert_eq!(RoleName::parse_custom(" admin "), Err(AppError::Validation(messages::ROLE_NAME_BUILT_IN.into())));
    }
}
