//! The secret key that signs invitation links, generated on first start.

use base64::Engine;
use rand::RngCore;
use std::io::Write;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or create the secret key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0} does not hold a key of at least 32 bytes in base64url: {1}")]
    Malformed(String, KeyProblem),
}

/// What is wrong with a key as given.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error(
        "it is not base64url (only A–Z, a–z, 0–9, '-' and '_', with or without '=' padding; make one with `head -c 32 /dev/urandom | basenc --base64url`)"
    )]
    NotBase64Url,
    #[error("it holds {0} bytes")]
    TooShort(usize),
}

/// The key of this deployment: `BECKON_SECRET_KEY` when given, else the key file (created
/// when missing, the embedded default).
pub fn load(value: Option<&str>, path: &Path) -> Result<Vec<u8>, KeyError> {
    match value {
        Some(text) => decode(text).map_err(|problem| KeyError::Malformed("BECKON_SECRET_KEY".into(), problem)),
        None => load_or_create(path),
    }
}

/// The key `text` spells in base64url, with or without its `=` padding (`basenc --base64url`
/// pads, the key file does not).
fn decode(text: &str) -> Result<Vec<u8>, KeyProblem> {
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim().trim_end_matches('=')).map_err(|_| KeyProblem::NotBase64Url)?;
    if key.len() < 32 {
        return Err(KeyProblem::TooShort(key.len()));
    }
    Ok(key)
}

/// Reads the key, creating it (mode 0600, readable by the owner only) when missing.
pub fn load_or_create(path: &Path) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io { path: path.display().to_string(), source };
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        writeln!(file, "{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)).map_err(io)?;
        tracing::info!(path = %path.display(), "created a new secret key");
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    decode(&text).map_err(|problem| KeyError::Malformed(path.display().to_string(), problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_private_to_its_owner_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = load_or_create(&path).unwrap();
        assert_eq!(first.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(load_or_create(&path).unwrap(), first);
    }

    #[test]
    fn a_key_given_as_a_variable_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let given = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 32]);
        assert_eq!(load(Some(&given), &path).unwrap(), vec![9u8; 32]);
        assert!(!path.exists(), "no file is made when the key is given");
        assert_eq!(
            load(Some("c2hvcnQ"), &path).unwrap_err().to_string(),
            "BECKON_SECRET_KEY does not hold a key of at least 32 bytes in base64url: it holds 5 bytes"
        );
        assert!(load(Some("a+b/c=="), &path).unwrap_err().to_string().contains("it is not base64url"));
    }

    #[test]
    fn the_readmes_command_makes_a_key_beckon_takes() {
        // `head -c 32 /dev/urandom | basenc --base64url`, as the README says: padded with '='.
        let made = std::process::Command::new("sh").arg("-c").arg("head -c 32 /dev/urandom | basenc --base64url").output().unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let text = String::from_utf8(made.stdout).unwrap();
        assert!(text.trim_end().ends_with('='), "the command pads: {text}");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(Some(&text), &dir.path().join("secret.key")).unwrap().len(), 32);
    }
}
