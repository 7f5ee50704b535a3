//! Text put into HTML by hand (email bodies, the document title the server writes, refusal
//! pages): every value that may come from a person goes through [`escape`] first.

/// `value` as HTML text or a quoted attribute value: `& < > " '` as entities.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            escape(r#"Eve</title><meta http-equiv="refresh"> & 'co'"#),
            "Eve&lt;/title&gt;&lt;meta http-equiv=&quot;refresh&quot;&gt; &amp; &#39;co&#39;"
        );
        assert_eq!(escape("Zoë"), "Zoë");
    }
}
