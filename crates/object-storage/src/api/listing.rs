//! Listing parameters and the three listing formats (plain, JSON, XML).

use axum::http::HeaderName;
use serde_json::{Value, json};

use super::{Call, LISTING_LIMIT};
use crate::db::{containers::ContainerRow, objects::ObjectRow};
use crate::error::SwiftError;
use crate::listing::{Entry, ListParams};
use crate::names::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
    Xml,
}

impl Format {
    /// `?format=` first, then `Accept`.
    pub fn of(call: &Call) -> Format {
        if let Some(f) = call.query.get("format") {
            return match f.to_ascii_lowercase().as_str() {
                "json" => Format::Json,
                "xml" => Format::Xml,
                _ => Format::Plain,
            };
        }
        let accept = call.header("accept").unwrap_or_default().to_ascii_lowercase();
        if accept.contains("application/json") {
            Format::Json
        } else if accept.contains("application/xml") || accept.contains("text/xml") {
            Format::Xml
        } else {
            Format::Plain
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Plain => "text/plain; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
        }
    }
}

pub fn params(call: &Call) -> Result<ListParams, SwiftError> {
    let q = &call.query;
    let limit = match q.get("limit") {
        None | Some("") => LISTING_LIMIT,
        Some(l) => {
            let n: i64 = l.parse().map_err(|_| {
                SwiftError::PreconditionFailed(format!("Value of limit must be a positive integer: {l}"))
            })?;
            if !(0..=LISTING_LIMIT).contains(&n) {
                return Err(SwiftError::PreconditionFailed(format!(
                    "Maximum limit is {LISTING_LIMIT}"
                )));
            }
            n
        }
    };
    let reverse = q
        .get("reverse")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on" | "t" | "y"));
    for key in ["prefix", "marker", "end_marker", "delimiter"] {
        if q.get(key).is_some_and(|v| v.len() > 1024) {
            return Err(SwiftError::BadRequest(format!("Bad {key} parameter")));
        }
    }
    Ok(ListParams {
        prefix: q.get("prefix").unwrap_or_default().to_owned(),
        delimiter: q.get("delimiter").map(str::to_owned),
        marker: q.get("marker").map(str::to_owned),
        end_marker: q.get("end_marker").map(str::to_owned),
        limit,
        reverse,
    })
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => {
                out.push_str(&format!("&#x{:x};", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A row of a listing: how it renders as JSON and as an XML element.
pub trait Listed {
    fn name(&self) -> &str;
    fn json(&self) -> Value;
    fn xml(&self) -> String;
}

impl Listed for ObjectRow {
    fn name(&self) -> &str {
        &self.name
    }
    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "hash": self.etag,
            "bytes": self.size,
            "content_type": self.content_type,
            "last_modified": Timestamp(self.ts).iso(),
        })
    }
    fn xml(&self) -> String {
        format!(
            "<object><name>{}</name><hash>{}</hash><bytes>{}</bytes><content_type>{}</content_type>\
             <last_modified>{}</last_modified></object>",
            xml_escape(&self.name),
            self.etag,
            self.size,
            xml_escape(&self.content_type),
            Timestamp(self.ts).iso()
        )
    }
}

impl Listed for ContainerRow {
    fn name(&self) -> &str {
        &self.name
    }
    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "count": self.object_count,
            "bytes": self.bytes_used,
            "last_modified": Timestamp(self.put_timestamp).iso(),
        })
    }
    fn xml(&self) -> String {
        format!(
            "<container><name>{}</name><count>{}</count><bytes>{}</bytes>\
             <last_modified>{}</last_modified></container>",
            xml_escape(&self.name),
            self.object_count,
            self.bytes_used,
            Timestamp(self.put_timestamp).iso()
        )
    }
}

/// A listing's body: `root` is the XML element of the listed level
/// (`container` for a container's objects, `account` for its containers).
fn body<T: Listed>(format: Format, root: &str, root_name: &str, entries: &[Entry<T>]) -> String {
    match format {
        Format::Plain => entries
            .iter()
            .map(|e| match e {
                Entry::Item(i) => format!("{}\n", i.name()),
                Entry::Subdir(s) => format!("{s}\n"),
            })
            .collect(),
        Format::Json => {
            let v: Vec<Value> = entries
                .iter()
                .map(|e| match e {
                    Entry::Item(i) => i.json(),
                    Entry::Subdir(s) => json!({"subdir": s}),
                })
                .collect();
            Value::Array(v).to_string()
        }
        Format::Xml => {
            let mut out = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} name=\"{}\">",
                xml_escape(root_name)
            );
            for e in entries {
                match e {
                    Entry::Item(i) => out.push_str(&i.xml()),
                    Entry::Subdir(s) => out.push_str(&format!(
                        "<subdir name=\"{0}\"><name>{0}</name></subdir>",
                        xml_escape(s)
                    )),
                }
            }
            out.push_str(&format!("</{root}>"));
            out
        }
    }
}

/// A container listing's body.
pub fn objects_body(format: Format, container: &str, entries: &[Entry<ObjectRow>]) -> String {
    body(format, "container", container, entries)
}

/// An account listing's body.
pub fn containers_body(format: Format, account: &str, entries: &[Entry<ContainerRow>]) -> String {
    body(format, "account", account, entries)
}

/// 200 with the body, or 204 for an empty plain listing (as Swift answers).
pub fn respond(
    call: &Call,
    format: Format,
    empty: bool,
    body: String,
    mut headers: Vec<(HeaderName, String)>,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    headers.push((header::CONTENT_TYPE, format.content_type().to_owned()));
    let status = if call.method == axum::http::Method::HEAD || (empty && format == Format::Plain) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    };
    if status == StatusCode::NO_CONTENT {
        let mut r = axum::response::Response::new(axum::body::Body::empty());
        *r.status_mut() = status;
        super::set_headers(&mut r, headers);
        return r;
    }
    headers.push((header::CONTENT_LENGTH, body.len().to_string()));
    let body = if call.method == axum::http::Method::HEAD {
        axum::body::Body::empty()
    } else {
        axum::body::Body::from(body)
    };
    let mut r = axum::response::Response::new(body);
    *r.status_mut() = status;
    super::set_headers(&mut r, headers);
    r
}
