//! Zone and record names as provider APIs want them.

/// `zone` and each parent with at least two labels, most specific first
/// (lower case, no trailing dot): where an account may hold the zone when
/// it sits above the one DNS delegates.
pub fn candidates(zone: &str) -> Vec<String> {
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = zone.split('.').collect();
    (0..labels.len().saturating_sub(1))
        .map(|i| labels[i..].join("."))
        .collect()
}

/// `fqdn` relative to `zone` (`_acme-challenge.www`), `@` for the apex, or
/// `None` when `fqdn` is not inside `zone`. Case-insensitive; the result is
/// lower case.
pub fn relative(fqdn: &str, zone: &str) -> Option<String> {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone.trim_end_matches('.').to_ascii_lowercase();
    if fqdn == zone {
        return Some("@".into());
    }
    fqdn.strip_suffix(&format!(".{zone}"))
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_walk_up_to_two_labels() {
        assert_eq!(
            candidates("Sub.Example.COM."),
            ["sub.example.com", "example.com"]
        );
        assert_eq!(candidates("example.com"), ["example.com"]);
        assert!(candidates("com").is_empty());
    }

    #[test]
    fn relative_names() {
        assert_eq!(
            relative("_acme-challenge.www.Example.com", "example.com").as_deref(),
            Some("_acme-challenge.www")
        );
        assert_eq!(
            relative("example.com.", "example.com").as_deref(),
            Some("@")
        );
        assert_eq!(relative("example.org", "example.com"), None);
        assert_eq!(relative("badexample.com", "example.com"), None);
    }
}
