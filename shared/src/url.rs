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

/// Undoes [`encode_component`] (and a form's `+` for a space); malformed escapes are kept
/// as written.
pub fn decode_component(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, other) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded `(name, value)` pairs of `a=1&b=x%20y` (with or without the leading `?`).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(k, v)| (decode_component(k), decode_component(v)))
        .collect()
}

/// `target` when it is a path on this site, otherwise `/`.
pub fn local_path_or_root(target: &str) -> &str {
    let is_local = target.starts_with('/') && !target.starts_with("//") && !target.contains('\\') && !target.chars().any(|c| c.is_control());
    if is_local {
        target
    } else {
        "/"
    }
}

/// Whether `text` looks like one of our ids (a UUID) where an address carries one; anything
/// else in that place is ignored.
pub fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 36 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
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
    fn decode_undoes_encode() {
        for value in ["ada+1@example.com", "a b&c=d", "ünïcode ✉", "100%", "%zz"] {
            assert_eq!(decode_component(&encode_component(value)), value);
        }
        assert_eq!(decode_component("a+b%20c%"), "a b c%");
    }

    #[test]
    fn encode_keeps_paths_readable() {
        assert_eq!(encode_component("/users?q=a b&x=1"), "/users%3Fq%3Da%20b%26x%3D1");
    }
}
