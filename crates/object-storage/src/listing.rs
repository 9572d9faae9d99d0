//! Account and container listings: `prefix`, `delimiter`, `marker`,
//! `end_marker`, `limit` and `reverse` over pages read from `db/`.
//!
//! A delimiter rolls every name that has it after the prefix into one
//! `subdir` entry; the next page then starts past all names under that
//! subdir (as Swift's container server does), so a listing never reads the
//! rows it rolls up.

use std::future::Future;

use crate::db::Window;
use crate::error::Result;

#[derive(Clone, Debug, Default)]
pub struct ListParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub marker: Option<String>,
    pub end_marker: Option<String>,
    pub limit: i64,
    pub reverse: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Entry<T> {
    Item(T),
    Subdir(String),
}

/// The smallest string greater than every string that starts with `s`.
pub fn after_prefix(s: &str) -> Option<String> {
    let mut chars: Vec<char> = s.chars().collect();
    while let Some(c) = chars.pop() {
        let mut n = c as u32 + 1;
        if n == 0xD800 {
            n = 0xE000;
        }
        if let Some(next) = char::from_u32(n) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn min_opt(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if a < b { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if a > b { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Runs a listing, reading pages with `fetch`; `name` gives an item's name.
pub async fn list<T, F, Fut>(p: &ListParams, mut fetch: F, name: impl Fn(&T) -> &str) -> Result<Vec<Entry<T>>>
where
    F: FnMut(Window) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
{
    let limit = p.limit.max(0) as usize;
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    let prefix_end = if p.prefix.is_empty() {
        None
    } else {
        after_prefix(&p.prefix)
    };
    let mut w = Window {
        from: (!p.prefix.is_empty()).then(|| p.prefix.clone()),
        reverse: p.reverse,
        ..Default::default()
    };
    let (marker, end_marker) = (
        p.marker.clone().filter(|m| !m.is_empty()),
        p.end_marker.clone().filter(|m| !m.is_empty()),
    );
    if p.reverse {
        w.before = min_opt(marker, prefix_end);
        w.after = end_marker;
    } else {
        w.after = marker;
        w.before = min_opt(end_marker, prefix_end);
    }
    let delimiter = p.delimiter.as_deref().filter(|d| !d.is_empty());
    // A marker inside a subdir (swiftclient pages with the last subdir as
    // marker) starts past the whole subdir.
    if let (Some(d), false, Some(m)) = (delimiter, p.reverse, w.after.clone())
        && let Some(rest) = m.strip_prefix(p.prefix.as_str())
        && let Some(i) = rest.find(d)
    {
        w.from = max_opt(w.from.take(), after_prefix(&m[..p.prefix.len() + i + d.len()]));
    }
    'pages: loop {
        let want = limit - out.len();
        w.limit = want as i64 + 1;
        let page = fetch(w.clone()).await?;
        let full = page.len() as i64 == w.limit;
        for item in page {
            let n = name(&item).to_owned();
            if let Some(d) = delimiter
                && let Some(rest) = n.get(p.prefix.len()..)
                && let Some(i) = rest.find(d)
            {
                let subdir = n[..p.prefix.len() + i + d.len()].to_owned();
                if p.reverse {
                    w.before = min_opt(w.before.take(), Some(subdir.clone()));
                } else {
                    w.from = max_opt(w.from.take(), after_prefix(&subdir));
                }
                out.push(Entry::Subdir(subdir));
                if out.len() >= limit {
                    break 'pages;
                }
                continue 'pages;
            }
            if p.reverse {
                w.before = Some(n);
            } else {
                w.after = Some(n);
            }
            out.push(Entry::Item(item));
            if out.len() >= limit {
                break 'pages;
            }
        }
        if !full {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(names: &[&str], p: ListParams) -> Vec<String> {
        let mut all: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        all.sort();
        let fetch = |w: Window| {
            let all = all.clone();
            async move {
                let mut v: Vec<String> = all
                    .into_iter()
                    .filter(|n| w.after.as_ref().is_none_or(|a| n > a))
                    .filter(|n| w.from.as_ref().is_none_or(|f| n >= f))
                    .filter(|n| w.before.as_ref().is_none_or(|b| n < b))
                    .collect();
                if w.reverse {
                    v.reverse();
                }
                v.truncate(w.limit as usize);
                Ok(v)
            }
        };
        list(&p, fetch, |s: &String| s.as_str())
            .await
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Entry::Item(s) => s,
                Entry::Subdir(s) => format!("subdir:{s}"),
            })
            .collect()
    }

    fn params(limit: i64) -> ListParams {
        ListParams {
            limit,
            ..Default::default()
        }
    }

    const TREE: &[&str] = &["a", "b/1", "b/2", "b/c/3", "c", "d/4", "e"];

    #[tokio::test]
    async fn plain_marker_end_marker_limit_reverse() {
        assert_eq!(run(TREE, params(100)).await, TREE);
        let p = ListParams {
            marker: Some("b/2".into()),
            end_marker: Some("d/4".into()),
            ..params(100)
        };
        assert_eq!(run(TREE, p).await, ["b/c/3", "c"]);
        assert_eq!(run(TREE, params(2)).await, ["a", "b/1"]);
        let p = ListParams {
            reverse: true,
            marker: Some("c".into()),
            ..params(2)
        };
        assert_eq!(run(TREE, p).await, ["b/c/3", "b/2"]);
    }

    #[tokio::test]
    async fn prefix_and_delimiter() {
        let p = ListParams {
            delimiter: Some("/".into()),
            ..params(100)
        };
        assert_eq!(run(TREE, p).await, ["a", "subdir:b/", "c", "subdir:d/", "e"]);
        let p = ListParams {
            prefix: "b/".into(),
            delimiter: Some("/".into()),
            ..params(100)
        };
        assert_eq!(run(TREE, p).await, ["b/1", "b/2", "subdir:b/c/"]);
        let p = ListParams {
            prefix: "b".into(),
            ..params(100)
        };
        assert_eq!(run(TREE, p).await, ["b/1", "b/2", "b/c/3"]);
        let p = ListParams {
            delimiter: Some("/".into()),
            reverse: true,
            ..params(100)
        };
        assert_eq!(run(TREE, p).await, ["e", "subdir:d/", "c", "subdir:b/", "a"]);
        let p = ListParams {
            delimiter: Some("/".into()),
            ..params(2)
        };
        assert_eq!(run(TREE, p).await, ["a", "subdir:b/"]);
        let p = ListParams {
            delimiter: Some("/".into()),
            marker: Some("b/".into()),
            ..params(100)
        };
        assert_eq!(run(TREE, p).await, ["c", "subdir:d/", "e"]);
    }

    #[test]
    fn after_prefix_increments_the_last_char() {
        assert_eq!(after_prefix("ab").as_deref(), Some("ac"));
        assert_eq!(after_prefix("a/").as_deref(), Some("a0"));
        assert_eq!(after_prefix(""), None);
    }
}
