//! What every collection GET shares, as Neutron's `api_common` does it
//! with its emulated helpers: filters on attributes (a repeated key is an
//! OR; an empty value is no filter; unknown keys are a 400), the tag
//! filters, `fields`, `sort_key`/`sort_dir`, and `limit`/`marker`/
//! `page_reverse` with `<collection>_links`. They work on the rendered
//! resources, so a filter sees exactly the attributes a client sees.

use std::cmp::Ordering;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{ApiResult, attrs};
use crate::Network;
use crate::error::NetworkError;

/// Keys that are never attribute filters.
const CONTROL: &[&str] = &[
    "fields",
    "sort_key",
    "sort_dir",
    "limit",
    "marker",
    "page_reverse",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
];

/// What a collection accepts: its filterable and sortable attributes.
pub struct Collection {
    /// e.g. `networks`; also the key of the response.
    pub name: &'static str,
    /// The URL path below `/v2.0/`.
    pub path: &'static str,
    pub filters: &'static [&'static str],
    pub sort_keys: &'static [&'static str],
}

#[derive(Debug, Default)]
pub struct ListQuery {
    filters: Vec<(String, Vec<String>)>,
    fields: Vec<String>,
    sorts: Vec<(String, bool)>,
    limit: usize,
    marker: Option<String>,
    page_reverse: bool,
    tags: Vec<String>,
    tags_any: Vec<String>,
    not_tags: Vec<String>,
    not_tags_any: Vec<String>,
    pairs: Vec<(String, String)>,
}

fn bad(msg: impl Into<String>) -> api::ApiError {
    NetworkError::http_bad_request(msg).into()
}

fn python_list(items: &[String]) -> String {
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    attrs::python_list(&refs)
}

impl ListQuery {
    pub fn parse(pairs: &[(String, String)], c: &Collection, max_limit: Option<usize>) -> ApiResult<ListQuery> {
        let mut q = ListQuery {
            pairs: pairs.to_vec(),
            ..Default::default()
        };
        let values = |key: &str| -> Vec<String> {
            pairs
                .iter()
                .filter(|(k, v)| k == key && !v.is_empty())
                .map(|(_, v)| v.clone())
                .collect()
        };
        let tag_values = |key: &str| -> Vec<String> {
            values(key)
                .iter()
                .flat_map(|v| v.split(',').map(str::to_owned))
                .filter(|t| !t.is_empty())
                .collect()
        };
        q.fields = values("fields");
        q.tags = tag_values("tags");
        q.tags_any = tag_values("tags-any");
        q.not_tags = tag_values("not-tags");
        q.not_tags_any = tag_values("not-tags-any");
        let keys = values("sort_key");
        let dirs = values("sort_dir");
        if keys.len() != dirs.len() {
            return Err(bad("The number of sort_keys and sort_dirs must be same"));
        }
        let absent: Vec<String> = keys
            .iter()
            .filter(|k| !c.sort_keys.contains(&k.as_str()))
            .cloned()
            .collect();
        if !absent.is_empty() {
            return Err(bad(format!(
                "{} is invalid attribute for sort_keys",
                python_list(&absent)
            )));
        }
        let invalid: Vec<String> = dirs.iter().filter(|d| *d != "asc" && *d != "desc").cloned().collect();
        if !invalid.is_empty() {
            return Err(bad(format!(
                "{} is invalid value for sort_dirs, valid value is 'asc' and 'desc'",
                python_list(&invalid)
            )));
        }
        q.sorts = keys.into_iter().zip(dirs.iter().map(|d| d == "asc")).collect();
        if let Some(limit) = pairs.iter().rev().find(|(k, _)| k == "limit").map(|(_, v)| v) {
            let n = limit.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                api::ApiError::from(NetworkError::bad(
                    "BadRequest",
                    format!("Bad limit request: Limit must be an integer 0 or greater and not '{limit}'."),
                ))
            })?;
            let n = n as usize;
            q.limit = match max_limit {
                Some(max) if n == 0 || n > max => max,
                _ => n,
            };
        }
        q.marker = values("marker").pop();
        q.page_reverse = values("page_reverse")
            .pop()
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let mut invalid_keys = Vec::new();
        for (k, _) in pairs {
            if CONTROL.contains(&k.as_str()) || q.filters.iter().any(|(f, _)| f == k) {
                continue;
            }
            if !c.filters.contains(&k.as_str()) {
                if !invalid_keys.contains(k) {
                    invalid_keys.push(k.clone());
                }
                continue;
            }
            let vals = values(k);
            if !vals.is_empty() {
                q.filters.push((k.clone(), vals));
            }
        }
        if !invalid_keys.is_empty() {
            return Err(bad(format!(
                "{} is invalid attribute for filtering",
                python_list(&invalid_keys)
            )));
        }
        let has = |k: &str| q.filters.iter().any(|(f, _)| f == k);
        if has("project_id") && has("tenant_id") {
            return Err(NetworkError::bad(
                "TenantIdProjectIdFilterConflict",
                "Both tenant_id and project_id passed as filters.",
            )
            .into());
        }
        Ok(q)
    }

    /// The values given for a filter key, for filters a resource handles
    /// itself (`fixed_ips` of ports).
    pub fn take_filter(&mut self, key: &str) -> Option<Vec<String>> {
        let i = self.filters.iter().position(|(k, _)| k == key)?;
        Some(self.filters.remove(i).1)
    }

    fn keep(&self, item: &Value) -> ApiResult<bool> {
        for (key, wanted) in &self.filters {
            let have = &item[key.as_str()];
            let mut any = false;
            for w in wanted {
                if matches(key, have, w)? {
                    any = true;
                    break;
                }
            }
            if !any {
                return Ok(false);
            }
        }
        let tags: Vec<&str> = item["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let has = |t: &String| tags.contains(&t.as_str());
        if !self.tags.iter().all(has) {
            return Ok(false);
        }
        if !self.tags_any.is_empty() && !self.tags_any.iter().any(has) {
            return Ok(false);
        }
        if !self.not_tags.is_empty() && self.not_tags.iter().all(has) {
            return Ok(false);
        }
        if self.not_tags_any.iter().any(has) {
            return Ok(false);
        }
        Ok(true)
    }

    /// Filters, sorts, pages and trims `items`; the response.
    pub fn respond(&self, n: &Network, c: &Collection, items: Vec<Value>) -> ApiResult<Response> {
        Ok(super::json(StatusCode::OK, self.body(n, c, items)?))
    }

    /// Filters, sorts, pages and trims `items`; the response body.
    pub fn body(&self, n: &Network, c: &Collection, items: Vec<Value>) -> ApiResult<Value> {
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            if self.keep(&item)? {
                kept.push(item);
            }
        }
        let mut sorts = self.sorts.clone();
        if !sorts.iter().any(|(k, _)| k == "id") {
            sorts.push(("id".into(), true));
        }
        kept.sort_by(|a, b| {
            for (key, asc) in &sorts {
                let o = compare(&a[key.as_str()], &b[key.as_str()]);
                if o != Ordering::Equal {
                    return if *asc { o } else { o.reverse() };
                }
            }
            Ordering::Equal
        });
        let page = self.paginate(kept);
        let links = self.links(n, c, &page);
        let page: Vec<Value> = page.into_iter().map(|i| self.trim(i)).collect();
        let mut body = Map::new();
        body.insert(c.name.to_owned(), Value::Array(page));
        if let Some(links) = links {
            body.insert(format!("{}_links", c.name), Value::Array(links));
        }
        Ok(Value::Object(body))
    }

    /// Neutron's `PaginationEmulatedHelper.paginate`.
    fn paginate(&self, items: Vec<Value>) -> Vec<Value> {
        if self.limit == 0 || items.is_empty() {
            return items;
        }
        let start = match &self.marker {
            Some(m) => match items.iter().position(|i| i["id"].as_str() == Some(m.as_str())) {
                Some(i) => i,
                None => return Vec::new(),
            },
            None if self.page_reverse => items.len(),
            None => 0,
        };
        if self.page_reverse {
            let from = start.saturating_sub(self.limit);
            return items[from..start].to_vec();
        }
        let start = if self.marker.is_some() { start + 1 } else { start };
        items.into_iter().skip(start).take(self.limit).collect()
    }

    /// Neutron's `get_pagination_links`.
    fn links(&self, n: &Network, c: &Collection, page: &[Value]) -> Option<Vec<Value>> {
        if self.limit == 0 {
            return None;
        }
        let base = format!("{}/v2.0/{}", n.base_url(), c.path);
        let params = |marker: Option<&Value>, reverse: bool| -> String {
            let mut q: Vec<String> = self
                .pairs
                .iter()
                .filter(|(k, _)| k != "marker" && k != "page_reverse")
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            if let Some(id) = marker.and_then(|i| i["id"].as_str()) {
                q.push(format!("marker={}", encode(id)));
            }
            if reverse {
                q.push("page_reverse=True".into());
            }
            format!("{base}?{}", q.join("&"))
        };
        let mut links = Vec::new();
        let short = page.len() < self.limit;
        if !short || self.page_reverse {
            links.push(json!({"rel": "next", "href": params(page.last(), false)}));
        }
        if !short || !self.page_reverse {
            links.push(json!({"rel": "previous", "href": params(page.first(), true)}));
        }
        Some(links)
    }

    fn trim(&self, item: Value) -> Value {
        if self.fields.is_empty() {
            return item;
        }
        match item {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(k, _)| self.fields.iter().any(|f| f == k))
                    .collect(),
            ),
            other => other,
        }
    }

    /// Keeps only the requested `fields` of one resource (GET of one).
    pub fn fields_of(pairs: &[(String, String)], item: Value) -> Value {
        let q = ListQuery {
            fields: pairs
                .iter()
                .filter(|(k, v)| k == "fields" && !v.is_empty())
                .map(|(_, v)| v.clone())
                .collect(),
            ..Default::default()
        };
        q.trim(item)
    }
}

/// Whether an attribute's value matches one filter value, converted to the
/// attribute's type as Neutron's `convert_to` does.
fn matches(key: &str, have: &Value, wanted: &str) -> ApiResult<bool> {
    Ok(match have {
        Value::Bool(b) => {
            let w = attrs::to_bool(&Value::String(wanted.to_owned())).ok_or_else(|| {
                api::ApiError::from(NetworkError::invalid_attr(
                    key,
                    format!("'{wanted}' cannot be converted to boolean"),
                ))
            })?;
            *b == w
        }
        Value::Number(n) => {
            let w: i64 = wanted.parse().map_err(|_| {
                api::ApiError::from(NetworkError::invalid_attr(key, format!("'{wanted}' is not an integer")))
            })?;
            n.as_i64() == Some(w)
        }
        Value::String(s) => s == wanted,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(wanted)),
        _ => false,
    })
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETS: Collection = Collection {
        name: "networks",
        path: "networks",
        filters: &["id", "name", "shared", "mtu"],
        sort_keys: &["id", "name"],
    };

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn filters_are_validated_and_or_within_a_key() {
        assert!(ListQuery::parse(&q(&[("bogus", "1")]), &NETS, None).is_err());
        assert!(ListQuery::parse(&q(&[("sort_key", "name")]), &NETS, None).is_err());
        assert!(ListQuery::parse(&q(&[("sort_key", "mtu"), ("sort_dir", "asc")]), &NETS, None).is_err());
        assert!(ListQuery::parse(&q(&[("limit", "-1")]), &NETS, None).is_err());
        let lq = ListQuery::parse(&q(&[("name", "a"), ("name", "b"), ("shared", "false")]), &NETS, None).unwrap();
        assert!(lq.keep(&json!({"name": "b", "shared": false})).unwrap());
        assert!(!lq.keep(&json!({"name": "c", "shared": false})).unwrap());
        assert!(!lq.keep(&json!({"name": "a", "shared": true})).unwrap());
        let lq = ListQuery::parse(&q(&[("shared", "maybe")]), &NETS, None).unwrap();
        assert!(lq.keep(&json!({"shared": true})).is_err());
        let lq = ListQuery::parse(&q(&[("name", "")]), &NETS, None).unwrap();
        assert!(lq.keep(&json!({"name": "x"})).unwrap());
    }

    #[test]
    fn emulated_pagination() {
        let items: Vec<Value> = (1..=5).map(|i| json!({"id": format!("id{i}")})).collect();
        let lq = ListQuery::parse(&q(&[("limit", "2")]), &NETS, None).unwrap();
        assert_eq!(lq.paginate(items.clone()).len(), 2);
        let lq = ListQuery::parse(&q(&[("limit", "2"), ("marker", "id4")]), &NETS, None).unwrap();
        assert_eq!(lq.paginate(items.clone()), vec![json!({"id": "id5"})]);
        let lq = ListQuery::parse(
            &q(&[("limit", "2"), ("marker", "id4"), ("page_reverse", "True")]),
            &NETS,
            None,
        )
        .unwrap();
        assert_eq!(
            lq.paginate(items.clone()),
            vec![json!({"id": "id2"}), json!({"id": "id3"})]
        );
        let lq = ListQuery::parse(&q(&[("limit", "2"), ("marker", "nope")]), &NETS, None).unwrap();
        assert!(lq.paginate(items).is_empty());
    }
}
