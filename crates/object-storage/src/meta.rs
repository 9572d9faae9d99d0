//! User metadata (`X-{Account,Container,Object}-Meta-*`) and Swift's limits
//! on it (`constraints.check_metadata`).

use std::collections::BTreeMap;

use crate::error::SwiftError;

pub const MAX_META_NAME_LENGTH: usize = 128;
pub const MAX_META_VALUE_LENGTH: usize = 256;
pub const MAX_META_COUNT: usize = 90;
pub const MAX_META_OVERALL_SIZE: usize = 4096;

/// One change a request asks for: set (`Some`) or remove (`None`).
pub type Changes = Vec<(String, Option<String>)>;

/// Reads the `x-<kind>-meta-*` and `x-remove-<kind>-meta-*` headers of a
/// request (names lower-case, as HTTP/1 servers see them) and checks them
/// against the limits. `extra` names further headers kept with the
/// metadata (ACLs, versioning), also removable with `x-remove-…`.
pub fn changes<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    kind: &str,
    extra: &[&str],
) -> Result<Changes, SwiftError> {
    let prefix = format!("x-{kind}-meta-");
    let remove = format!("x-remove-{kind}-meta-");
    let mut out = Changes::new();
    let (mut count, mut size) = (0usize, 0usize);
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if let Some(key) = name.strip_prefix(&prefix) {
            if key.is_empty() {
                return Err(SwiftError::BadRequest("Metadata name cannot be empty".into()));
            }
            if key.len() > MAX_META_NAME_LENGTH {
                return Err(SwiftError::BadRequest(format!(
                    "Metadata name too long: {name}; max {MAX_META_NAME_LENGTH}"
                )));
            }
            if value.len() > MAX_META_VALUE_LENGTH {
                return Err(SwiftError::BadRequest(format!(
                    "Metadata value longer than {MAX_META_VALUE_LENGTH}: {name}"
                )));
            }
            count += 1;
            size += key.len() + value.len();
            let v = value.trim();
            out.push((name.clone(), (!v.is_empty()).then(|| v.to_owned())));
        } else if let Some(key) = name.strip_prefix(&remove) {
            out.push((format!("{prefix}{key}"), None));
        } else if extra.contains(&name.as_str()) {
            let v = value.trim();
            out.push((name.clone(), (!v.is_empty()).then(|| v.to_owned())));
        } else if let Some(x) = name.strip_prefix("x-remove-")
            && extra.contains(&format!("x-{x}").as_str())
        {
            out.push((format!("x-{x}"), None));
        }
    }
    if count > MAX_META_COUNT {
        return Err(SwiftError::BadRequest(format!(
            "Too many metadata items; max {MAX_META_COUNT}"
        )));
    }
    if size > MAX_META_OVERALL_SIZE {
        return Err(SwiftError::BadRequest(format!(
            "Total metadata too large; max {MAX_META_OVERALL_SIZE}"
        )));
    }
    Ok(out)
}

/// Applies `changes` to stored metadata.
pub fn apply(meta: &mut BTreeMap<String, String>, changes: Changes) {
    for (k, v) in changes {
        match v {
            Some(v) => {
                meta.insert(k, v);
            }
            None => {
                meta.remove(&k);
            }
        }
    }
}

/// After applying, the stored user metadata must still be within limits.
pub fn check_total(meta: &BTreeMap<String, String>, kind: &str) -> Result<(), SwiftError> {
    let prefix = format!("x-{kind}-meta-");
    let user: Vec<_> = meta.iter().filter(|(k, _)| k.starts_with(&prefix)).collect();
    if user.len() > MAX_META_COUNT {
        return Err(SwiftError::BadRequest(format!(
            "Too many metadata items; max {MAX_META_COUNT}"
        )));
    }
    let size: usize = user.iter().map(|(k, v)| k.len() - prefix.len() + v.len()).sum();
    if size > MAX_META_OVERALL_SIZE {
        return Err(SwiftError::BadRequest(format!(
            "Total metadata too large; max {MAX_META_OVERALL_SIZE}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_and_limits() {
        let h = [
            ("X-Container-Meta-Color", "blue"),
            ("x-remove-container-meta-size", "x"),
            ("x-container-meta-empty", ""),
            ("x-container-read", ".r:*"),
            ("x-remove-container-write", "1"),
            ("x-object-meta-other", "ignored"),
        ];
        let c = changes(
            h.iter().copied(),
            "container",
            &["x-container-read", "x-container-write"],
        )
        .unwrap();
        assert_eq!(
            c,
            vec![
                ("x-container-meta-color".to_owned(), Some("blue".to_owned())),
                ("x-container-meta-size".to_owned(), None),
                ("x-container-meta-empty".to_owned(), None),
                ("x-container-read".to_owned(), Some(".r:*".to_owned())),
                ("x-container-write".to_owned(), None),
            ]
        );
        let long_name = format!("x-object-meta-{}", "n".repeat(129));
        assert!(changes([(long_name.as_str(), "v")].into_iter(), "object", &[]).is_err());
        let long_value = "v".repeat(257);
        assert!(changes([("x-object-meta-a", long_value.as_str())].into_iter(), "object", &[]).is_err());
        let many: Vec<(String, String)> = (0..91).map(|i| (format!("x-object-meta-k{i}"), "v".into())).collect();
        assert!(changes(many.iter().map(|(a, b)| (a.as_str(), b.as_str())), "object", &[]).is_err());
    }
}
