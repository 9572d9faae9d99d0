//! Marker/limit pagination as Nova, Glance, Neutron and Cinder do it: the
//! client passes `limit` and `marker` (the id of the last item it saw), and a
//! full page carries a `next` link to the following one.

use serde_json::{Value, json};

use crate::fault::ApiError;

/// The paging part of a list request.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub limit: Option<usize>,
    pub marker: Option<String>,
}

impl Page {
    /// Reads `limit` and `marker` from query pairs; `max_limit` caps the page.
    pub fn from_query(pairs: &[(String, String)], max_limit: usize) -> Result<Page, ApiError> {
        let mut page = Page::default();
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| ApiError::bad_request(format!("Invalid limit value {v:?}: must be an integer")))?;
                    if n < 0 {
                        return Err(ApiError::bad_request("limit must be >= 0"));
                    }
                    page.limit = Some((n as usize).min(max_limit));
                }
                "marker" => page.marker = Some(v.clone()),
                _ => {}
            }
        }
        Ok(page)
    }

    /// The `links` array for a page of `count` items whose last id is
    /// `last_id`: a `next` link when the page is full.
    pub fn links(
        &self,
        base_url: &str,
        other_params: &[(String, String)],
        count: usize,
        last_id: Option<&str>,
    ) -> Vec<Value> {
        match (self.limit, last_id) {
            (Some(limit), Some(last)) if count >= limit && limit > 0 => {
                let mut q: Vec<String> = other_params
                    .iter()
                    .filter(|(k, _)| k != "marker" && k != "limit")
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect();
                q.push(format!("limit={limit}"));
                q.push(format!("marker={}", encode(last)));
                vec![json!({"rel": "next", "href": format!("{base_url}?{}", q.join("&"))})]
            }
            _ => Vec::new(),
        }
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

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn next_link_only_for_full_pages() {
        let params = q(&[("limit", "2"), ("name", "a b")]);
        let page = Page::from_query(&params, 1000).unwrap();
        let links = page.links("http://h/v2/images", &params, 2, Some("id2"));
        assert_eq!(links[0]["href"], "http://h/v2/images?name=a%20b&limit=2&marker=id2");
        assert!(page.links("http://h", &params, 1, Some("x")).is_empty());
        assert!(Page::from_query(&q(&[("limit", "x")]), 10).is_err());
        assert!(Page::from_query(&q(&[("limit", "-1")]), 10).is_err());
        assert_eq!(Page::from_query(&q(&[("limit", "99")]), 10).unwrap().limit, Some(10));
    }
}
