//! Likely typos in the domain of an address (`jhon@gmial.com` → `gmail.com`), warned
//! about before invitations go out.

use crate::Email;

const COMMON_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "outlook.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "protonmail.com",
    "proton.me",
    "gmx.com",
    "gmx.de",
    "web.de",
    "mail.com",
    "yandex.com",
    "zoho.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "orange.fr",
    "free.fr",
    "btinternet.com",
    "t-online.de",
];

const TLD_FIXES: &[(&str, &str)] = &[
    ("con", "com"),
    ("cmo", "com"),
    ("ocm", "com"),
    ("comm", "com"),
    ("vom", "com"),
    ("xom", "com"),
    ("cpm", "com"),
    ("ent", "net"),
    ("nte", "net"),
    ("rog", "org"),
    ("ogr", "org"),
];

/// Optimal string alignment distance (edits, with adjacent transpositions counting one).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The address as it was probably meant, when its domain looks like a typo of a common one.
pub fn suggestion(email: &Email) -> Option<String> {
    let domain = email.domain();
    if COMMON_DOMAINS.contains(&domain) {
        return None;
    }
    let local = &email.as_str()[..email.as_str().len() - domain.len() - 1];
    let closest = COMMON_DOMAINS
        .iter()
        .map(|known| (distance(domain, known), *known))
        .filter(|(d, known)| *d > 0 && *d <= if known.len() > 8 { 2 } else { 1 })
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known.to_string());
    let fixed = closest.or_else(|| {
        let (name, tld) = domain.rsplit_once('.')?;
        TLD_FIXES.iter().find(|(wrong, _)| *wrong == tld).map(|(_, right)| format!("{name}.{right}"))
    })?;
    Some(format!("{local}@{fixed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suggest(raw: &str) -> Option<String> {
        suggestion(&Email::parse(raw).unwrap())
    }

    #[test]
    fn common_misspellings_are_caught() {
        assert_eq!(suggest("jhon@gmial.com").as_deref(), Some("jhon@gmail.com"));
        assert_eq!(suggest("a@hotmial.com").as_deref(), Some("a@hotmail.com"));
        assert_eq!(suggest("a@yaho.com").as_deref(), Some("a@yahoo.com"));
        assert_eq!(suggest("a@outlok.com").as_deref(), Some("a@outlook.com"));
        assert_eq!(suggest("a@acme.con").as_deref(), Some("a@acme.com"));
    }

    #[test]
    fn correct_and_unrelated_domains_pass() {
        assert_eq!(suggest("a@gmail.com"), None);
        assert_eq!(suggest("a@northwind.example"), None);
        assert_eq!(suggest("a@acme.io"), None);
        assert_eq!(suggest("a@mail.ch"), None);
    }
}
