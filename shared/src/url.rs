//! The two URL helpers both sides need: encoding a query value, and deciding whether a
//! "return to" target is a path on this site (so sign-in cannot redirect elsewhere).

pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `target` when it is a path on this site, otherwise `/`.
pub fn local_path_or_root(target: &str) -> &str {
    let is_local = target.starts_with('/')
        && !target.starts_with("//")
        && !target.contains('\\')
        && !target.chars().any(|c| c.is_control());
    if is_local {
        target
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_kept() {
        assert_eq!(local_path_or_root("/users?status=invited"), "/users?status=invited");
        for outside in ["https://evil.example", "//evil.example", "/\\evil.example", "", "users", "/\n"] {
            assert_eq!(local_path_or_root(outside), "/");
        }
    }

    #[test]
    fn encode_keeps_paths_readable() {
        assert_eq!(encode_component("/users?q=a b&x=1"), "/users%3Fq%3Da%20b%26x%3D1");
    }
}
