//! List filters as Cinder reads them from the query string, by version:
//! - before 3.31, a filter a user may not use is dropped silently;
//! - from 3.31 (`RESOURCE_FILTER`), a user's filter outside the resource's
//!   list (Cinder's default `resource_filters.json`, also served by
//!   `GET /resource_filters` at 3.33) is a 400 "Invalid filters … are
//!   found in query options."; admins may use any;
//! - from 3.34 (`LIKE_FILTER`), `key~=value` matches values containing
//!   `value` (Cinder's SQL `LIKE %value%`).
//!
//! Paging, sorting and scope parameters are not filters.

use super::ApiResult;
use super::versions::Version;
use ::api::ApiError;

/// Query keys that are never filters.
const NOT_FILTERS: &[&str] = &[
    "limit",
    "marker",
    "offset",
    "sort",
    "sort_key",
    "sort_dir",
    "all_tenants",
    "project_id",
    "with_count",
];

/// Cinder's default `resource_filters.json`, for the resources served.
pub(crate) const RESOURCE_FILTERS: &[(&str, &[&str])] = &[
    (
        "volume",
        &[
            "name",
            "status",
            "metadata",
            "bootable",
            "migration_status",
            "availability_zone",
            "group_id",
            "size",
            "created_at",
            "updated_at",
            "consumes_quota",
        ],
    ),
    (
        "snapshot",
        &[
            "name",
            "status",
            "volume_id",
            "metadata",
            "availability_zone",
            "consumes_quota",
        ],
    ),
    ("attachment", super::attachments::FILTERS),
    ("message", super::messages::FILTERS),
    ("pool", &["name", "volume_type"]),
    ("volume_type", &["is_public", "extra_specs"]),
];

pub(crate) fn allowed_for(resource: &str) -> &'static [&'static str] {
    RESOURCE_FILTERS
        .iter()
        .find(|(r, _)| *r == resource)
        .map(|(_, f)| *f)
        .unwrap_or(&[])
}

#[derive(Debug, Default)]
pub(crate) struct Filters {
    exact: Vec<(String, String)>,
    like: Vec<(String, String)>,
}

impl Filters {
    /// The filters of `q` for a list whose user filters are `allowed`.
    pub(crate) fn parse(
        q: &[(String, String)],
        version: Version,
        is_admin: bool,
        allowed: &[&str],
    ) -> ApiResult<Filters> {
        let mut out = Filters::default();
        let mut invalid = Vec::new();
        for (k, v) in q {
            if NOT_FILTERS.contains(&k.as_str()) {
                continue;
            }
            if !k.is_ascii() {
                return Err(ApiError::bad_request("Filter keys can only contain ASCII characters."));
            }
            let (key, like) = match k.strip_suffix('~') {
                Some(base) if version >= Version::LIKE_FILTER => (base, true),
                _ => (k.as_str(), false),
            };
            if !is_admin && !allowed.contains(&key) {
                if version >= Version::RESOURCE_FILTER {
                    invalid.push(k.clone());
                }
                continue;
            }
            if like {
                out.like.push((key.to_owned(), v.clone()));
            } else {
                out.exact.push((key.to_owned(), v.clone()));
            }
        }
        if !invalid.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Invalid filters {} are found in query options.",
                invalid.join(",")
            )));
        }
        Ok(out)
    }

    /// The exact filter on `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.exact.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Whether `value` passes the exact and like filters on `key`.
    pub(crate) fn matches_str(&self, key: &str, value: &str) -> bool {
        self.exact
            .iter()
            .filter(|(k, _)| k == key)
            .all(|(_, want)| want == value)
            && self
                .like
                .iter()
                .filter(|(k, _)| k == key)
                .all(|(_, part)| value.contains(part.as_str()))
    }

    /// As [`Filters::matches_str`] for a value that may be missing: a
    /// filter on a missing value never matches.
    pub(crate) fn matches_opt(&self, key: &str, value: Option<&str>) -> bool {
        match value {
            Some(v) => self.matches_str(key, v),
            None => !self.has(key),
        }
    }

    /// Whether there is any filter on `key`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.exact.iter().chain(&self.like).any(|(k, _)| k == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn versions_decide_unknown_and_like_filters() {
        let allowed = &["name", "status"];
        // 3.0: an unknown filter is dropped, `name~` too.
        let f = Filters::parse(&q(&[("bogus", "1"), ("name~", "a")]), Version(0), false, allowed).unwrap();
        assert!(f.matches_str("name", "zzz"));
        // 3.31: refused.
        let e = Filters::parse(&q(&[("bogus", "1"), ("limit", "1")]), Version(31), false, allowed).unwrap_err();
        assert_eq!(e.status, 400);
        // Admins may use any filter.
        let f = Filters::parse(&q(&[("bogus", "1")]), Version(31), true, allowed).unwrap();
        assert_eq!(f.get("bogus"), Some("1"));
        // 3.34: like.
        let f = Filters::parse(&q(&[("name~", "ol")]), Version(34), false, allowed).unwrap();
        assert!(f.matches_str("name", "volume"));
        assert!(!f.matches_str("name", "disk"));
        assert!(!f.matches_opt("name", None));
        assert!(f.matches_opt("status", None));
    }
}
