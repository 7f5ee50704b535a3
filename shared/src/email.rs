use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address that has been validated and normalised (trimmed, lower-cased).
/// Every address the system stores or compares goes through [`Email::parse`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address.")]
    Empty,
    #[error("“{0}” is not a valid email address.")]
    Invalid(String),
    #[error("“{0}” has letters that grow when written in lower case, as Beckon stores addresses. Type the address in lower case.")]
    GrowsInLowerCase(String),
}

const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let candidate = raw.trim();
        if candidate.is_empty() {
            return Err(EmailError::Empty);
        }
        let invalid = || EmailError::Invalid(candidate.to_string());
        if candidate.len() > MAX_LEN || candidate.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = candidate.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty() || local.len() > 64 || local.contains('@') || local.contains(['<', '>', '"', ',', ';']) {
            return Err(invalid());
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok =
            |l: &&str| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(invalid());
        }
        let tld = labels[labels.len() - 1];
        if tld.len() < 2 || tld.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        // Stored and compared in lower case: a letter whose lower case is longer ("İ") would
        // give an address other than the one checked above, and longer than its limits.
        let lower = candidate.to_lowercase();
        if lower.len() > candidate.len() {
            return Err(EmailError::GrowsInLowerCase(candidate.to_string()));
        }
        Ok(Email(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_trims_and_lowercases() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
    }

    #[test]
    fn parse_rejects_what_is_not_an_address() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa_mple.com",
            "ada@@example.com",
            "ada@example.c",
            "ada.@example.com",
            "<ada@example.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn an_address_that_grows_in_lower_case_is_refused_clearly() {
        let refused = Email::parse("İstanbul@example.com").unwrap_err();
        assert_eq!(refused, EmailError::GrowsInLowerCase("İstanbul@example.com".into()));
        assert!(refused.to_string().contains("Type the address in lower case"));
        assert_eq!(Email::parse("Zoë@Example.com").unwrap().as_str(), "zoë@example.com", "other letters are fine");
    }

    #[test]
    fn parse_accepts_plus_and_subdomains() {
        assert!(Email::parse("ada+beckon@mail.example.co.uk").is_ok());
    }
}
