//! Static large objects: a manifest object (`?multipart-manifest=put`, a
//! JSON list of `{"path", "etag", "size_bytes", "range"}`) that GET and
//! HEAD answer as the concatenation of its segments.
//!
//! - PUT checks every segment (it must exist and be readable by the
//!   caller, match the `etag` and `size_bytes` given, hold the `range`
//!   given, be at least [`MIN_SEGMENT_SIZE`] bytes) and answers 400 with
//!   Swift's `Errors:` list when one does not; the manifest is then stored
//!   as an object (Swift's stored form: `name`, `hash`, `bytes`,
//!   `content_type`, `last_modified`, `range`) marked
//!   `X-Static-Large-Object: True`, with the assembled ETag and size in
//!   sysmeta and in the container listing.
//! - GET streams the segments one after another (a `Range` is mapped onto
//!   them; only the spans asked for are read), checking each segment's
//!   ETag as it opens it; HEAD and GET answer the ETag Swift does: the
//!   quoted MD5 of the segments' ETags (`etag:range;` for ranged ones).
//! - `?multipart-manifest=get` answers the manifest itself (`&format=raw`:
//!   in the form PUT takes); `?multipart-manifest=delete` deletes the
//!   segments, then the manifest, and answers as a bulk delete.
//!
//! Not here: manifests of manifests (a segment that is itself an SLO is
//! refused), multi-range GETs of an SLO (answered whole, as HTTP allows).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use md5::Digest as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{Stage, bulk, run, status_of};
use crate::access::Want;
use crate::api::object::{CHUNK, authorize, etag_matches, object_headers, open_live};
use crate::api::{Call, Target, hn, set_headers};
use crate::disk::Opened;
use crate::error::{Result, SwiftError};
use crate::names;
use crate::range::{self, RangeAnswer};

pub const MAX_MANIFEST_SEGMENTS: usize = 1000;
pub const MAX_MANIFEST_SIZE: usize = 8 * 1024 * 1024;
/// Swift's: every segment, the last one included, must hold a byte.
pub const MIN_SEGMENT_SIZE: u64 = 1;

const SLO: &str = "x-static-large-object";
const SYS_ETAG: &str = "x-object-sysmeta-slo-etag";
const SYS_SIZE: &str = "x-object-sysmeta-slo-size";

/// A segment as the manifest object stores it (Swift's stored form).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Segment {
    pub name: String,
    pub hash: String,
    pub bytes: u64,
    #[serde(default)]
    pub content_type: String,
    #[serde(default)]
    pub last_modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

impl Segment {
    /// `(first byte, length)` of what this segment contributes.
    fn span(&self) -> (u64, u64) {
        match self.range.as_deref().and_then(|r| r.split_once('-')) {
            Some((a, b)) => {
                let (a, b) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
                (a, b + 1 - a)
            }
            None => (0, self.bytes),
        }
    }
}

pub(crate) async fn handle(call: Call) -> Result<Response> {
    if call.target.object.is_none() {
        return run(call, Stage::Versioning).await;
    }
    let mm = call.query.get("multipart-manifest").map(str::to_owned);
    match (call.method.clone(), mm.as_deref()) {
        (Method::PUT, Some("put")) => put(call).await,
        (Method::DELETE, Some("delete")) => delete(call).await,
        (m, Some("get")) if crate::api::is_read(&m) => get_manifest(call).await,
        (m, _) if crate::api::is_read(&m) => get(call).await,
        _ => run(call, Stage::Versioning).await,
    }
}

/// The manifest behind `call`, if its object is an SLO.
async fn open_manifest(call: &Call) -> Result<Option<(Opened, Vec<Segment>)>> {
    let opened = open_live(&call.s, &call.target.object_path()).await?;
    if !opened.meta.headers.contains_key(SLO) {
        return Ok(None);
    }
    let mut file = tokio::fs::File::from_std(opened.file.try_clone()?).take(opened.meta.size);
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).await?;
    let segments: Vec<Segment> = serde_json::from_slice(&raw)
        .map_err(|e| std::io::Error::other(format!("stored SLO manifest unreadable: {e}")))?;
    Ok(Some((opened, segments)))
}

async fn get(call: Call) -> Result<Response> {
    // A plain GET goes through untouched; only what the object server says
    // is a manifest is looked at again. A Range or a condition must be
    // applied to the assembled object, so then the manifest is read first.
    let conditional = [
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
    ]
    .iter()
    .any(|h| call.headers.contains_key(*h));
    if !conditional {
        let resp = run(call.same(), Stage::Versioning).await?;
        if !resp.headers().contains_key(SLO) || !resp.status().is_success() {
            return Ok(resp);
        }
    }
    let t = &call.target;
    authorize(
        &call,
        &t.account,
        t.container.as_deref().unwrap_or_default(),
        Want::ReadObject,
        false,
    )
    .await?;
    let Some((opened, segments)) = open_manifest(&call).await.or_else(|e| match e {
        SwiftError::NotFound => Ok(None),
        e => Err(e),
    })?
    else {
        return run(call, Stage::Versioning).await;
    };
    serve(call, opened, segments).await
}

async fn serve(call: Call, opened: Opened, segments: Vec<Segment>) -> Result<Response> {
    let meta = &opened.meta;
    let size: u64 = segments.iter().map(|s| s.span().1).sum();
    let etag = meta
        .headers
        .get(SYS_ETAG)
        .cloned()
        .unwrap_or_else(|| slo_etag(&segments));
    let mut headers: Vec<(HeaderName, String)> = object_headers(meta)
        .into_iter()
        .filter(|(k, _)| *k != header::ETAG)
        .collect();
    headers.push((header::ETAG, format!("\"{etag}\"")));
    let last_modified = meta.timestamp().ceil_secs();
    let http_time = |v: &str| {
        httpdate::parse_http_date(v)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
    };
    if let Some(v) = call.header("if-match")
        && !etag_matches(v, &etag)
    {
        return Ok(bare(StatusCode::PRECONDITION_FAILED, headers));
    }
    if let Some(v) = call.header("if-none-match") {
        if etag_matches(v, &etag) {
            return Ok(bare(StatusCode::NOT_MODIFIED, headers));
        }
    } else if let Some(since) = call.header("if-modified-since").and_then(http_time)
        && last_modified <= since
    {
        return Ok(bare(StatusCode::NOT_MODIFIED, headers));
    }
    if let Some(since) = call.header("if-unmodified-since").and_then(http_time)
        && last_modified > since
    {
        return Ok(bare(StatusCode::PRECONDITION_FAILED, headers));
    }
    let (status, start, len) = match range::resolve(call.header("range"), size) {
        RangeAnswer::Partial(spans) if spans.len() == 1 => {
            let (start, len) = spans[0];
            headers.push((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", start, start + len - 1),
            ));
            (StatusCode::PARTIAL_CONTENT, start, len)
        }
        RangeAnswer::Unsatisfiable => return Err(SwiftError::RangeNotSatisfiable { size }),
        _ => (StatusCode::OK, 0, size),
    };
    headers.push((header::CONTENT_LENGTH, len.to_string()));
    let body = if call.method == Method::HEAD {
        Body::empty()
    } else {
        Body::from_stream(segment_stream(&call, &segments, start, len))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    set_headers(&mut r, headers);
    Ok(r)
}

fn bare(status: StatusCode, headers: Vec<(HeaderName, String)>) -> Response {
    let keep: Vec<_> = headers
        .into_iter()
        .filter(|(k, _)| *k == header::ETAG || *k == header::LAST_MODIFIED || k.as_str() == "x-timestamp")
        .collect();
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    set_headers(&mut r, keep);
    r
}

/// The bytes `start..start+len` of the assembled object, opening each
/// segment only when the stream reaches it.
fn segment_stream(
    call: &Call,
    segments: &[Segment],
    start: u64,
    len: u64,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + use<> {
    let mut pieces = Vec::new();
    let (mut offset, end) = (0u64, start + len);
    for seg in segments {
        let (seg_start, seg_len) = seg.span();
        let (lo, hi) = (offset.max(start), (offset + seg_len).min(end));
        if lo < hi {
            pieces.push((seg.clone(), seg_start + (lo - offset), hi - lo));
        }
        offset += seg_len;
    }
    let account = call.target.account.clone();
    let s = call.s.clone();
    futures::stream::iter(pieces)
        .then(move |(seg, from, n)| {
            let s = s.clone();
            let path = format!("/{account}{}", seg.name);
            async move {
                let o = match open_live(&s, &path).await {
                    Ok(o) => o,
                    Err(_) => return Err(std::io::Error::other(format!("SLO segment {path} is gone"))),
                };
                if o.meta.etag != seg.hash {
                    return Err(std::io::Error::other(format!("SLO segment {path} changed")));
                }
                let mut file = tokio::fs::File::from_std(o.file);
                file.seek(std::io::SeekFrom::Current(from as i64)).await?;
                Ok(ReaderStream::with_capacity(file.take(n), CHUNK))
            }
        })
        .flat_map(|r| match r {
            Ok(s) => s.left_stream(),
            Err(e) => futures::stream::once(async move { Err(e) }).right_stream(),
        })
}

/// `?multipart-manifest=get`: the stored manifest, as JSON; `format=raw`
/// in the form a PUT takes.
async fn get_manifest(call: Call) -> Result<Response> {
    let raw = call.query.get("format") == Some("raw");
    let head = call.method == Method::HEAD;
    let mut resp = run(call, Stage::Versioning).await?;
    if !resp.headers().contains_key(SLO) || !resp.status().is_success() {
        return Ok(resp);
    }
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if !raw || head {
        return Ok(resp);
    }
    let (mut parts, body) = resp.into_parts();
    let stored = super::read_limited(body, MAX_MANIFEST_SIZE, "Manifest").await?;
    let segments: Vec<Segment> =
        serde_json::from_slice(&stored).map_err(|e| std::io::Error::other(format!("stored SLO manifest: {e}")))?;
    let out: Vec<Value> = segments
        .iter()
        .map(|s| {
            let mut v = serde_json::json!({"path": s.name, "etag": s.hash, "size_bytes": s.bytes});
            if let Some(r) = &s.range {
                v["range"] = Value::String(r.clone());
            }
            v
        })
        .collect();
    let body = serde_json::to_vec(&out).unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.headers.remove(header::ETAG);
    if let Ok(v) = HeaderValue::from_str(&hex::encode(md5::Md5::digest(&body))) {
        parts.headers.insert(header::ETAG, v);
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// The ETag of an SLO: MD5 over its segments' ETags, `etag:range;` for a
/// ranged one.
pub fn slo_etag(segments: &[Segment]) -> String {
    let mut md5 = md5::Md5::new();
    for s in segments {
        match &s.range {
            Some(r) => md5.update(format!("{}:{r};", s.hash).as_bytes()),
            None => md5.update(s.hash.as_bytes()),
        }
    }
    hex::encode(md5.finalize())
}

/// One segment of a PUT manifest, before it is checked.
struct Asked {
    path: String,
    etag: Option<String>,
    size: Option<u64>,
    range: Option<String>,
}

fn parse_manifest(body: &[u8]) -> Result<Vec<Asked>> {
    let invalid = || SwiftError::BadRequest("Manifest must be valid JSON.\n".into());
    let items: Vec<Value> = serde_json::from_slice(body).map_err(|_| invalid())?;
    if items.is_empty() {
        return Err(SwiftError::BadRequest(
            "Manifest must have at least one segment.\n".into(),
        ));
    }
    if items.len() > MAX_MANIFEST_SEGMENTS {
        return Err(SwiftError::BadRequest(format!(
            "Number of segments must be <= {MAX_MANIFEST_SEGMENTS}\n"
        )));
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            return Err(SwiftError::BadRequest(format!("Index {i}: not a JSON object\n")));
        };
        if let Some(k) = obj
            .keys()
            .find(|k| !["path", "etag", "size_bytes", "range"].contains(&k.as_str()))
        {
            return Err(SwiftError::BadRequest(format!("Index {i}: extraneous key \"{k}\"\n")));
        }
        let path = obj
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| SwiftError::BadRequest(format!("Index {i}: \"path\" must be a string\n")))?;
        let etag = match obj.get("etag") {
            None | Some(Value::Null) => None,
            Some(Value::String(e)) => Some(e.trim_matches('"').to_ascii_lowercase()),
            Some(_) => {
                return Err(SwiftError::BadRequest(format!(
                    "Index {i}: \"etag\" must be a string or null\n"
                )));
            }
        };
        let size = match obj.get("size_bytes") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| {
                        SwiftError::BadRequest(format!("Index {i}: \"size_bytes\" must be an integer or null\n"))
                    })?,
            ),
        };
        let range = match obj.get("range") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(r.clone()),
            Some(_) => {
                return Err(SwiftError::BadRequest(format!(
                    "Index {i}: \"range\" must be a string\n"
                )));
            }
        };
        out.push(Asked {
            path: path.to_owned(),
            etag,
            size,
            range,
        });
    }
    Ok(out)
}

/// Checks one segment; `Err` is the problem text of Swift's error list.
async fn check_segment(call: &Call, asked: &Asked) -> std::result::Result<Segment, String> {
    let path = percent_encoding::percent_decode_str(&asked.path)
        .decode_utf8_lossy()
        .into_owned();
    let Some((container, object)) = path
        .trim_start_matches('/')
        .split_once('/')
        .filter(|(c, o)| !c.is_empty() && !o.is_empty())
    else {
        return Err("path does not refer to an object. Path must be of the form /container/object.".into());
    };
    let account = &call.target.account;
    if let Err(e) = authorize(call, account, container, Want::ReadObject, false).await {
        return Err(status_line(e.status()));
    }
    let opened = match open_live(&call.s, &format!("/{account}/{container}/{object}")).await {
        Ok(o) => o,
        Err(e) => return Err(status_line(e.status())),
    };
    let meta = opened.meta;
    if meta.headers.contains_key(SLO) {
        return Err("Nested static large objects are not supported".into());
    }
    let mut problems = Vec::new();
    if asked.etag.as_ref().is_some_and(|e| *e != meta.etag) {
        problems.push("Etag Mismatch");
    }
    if asked.size.is_some_and(|s| s != meta.size) {
        problems.push("Size Mismatch");
    }
    let range = match &asked.range {
        None => None,
        Some(r) => match range::resolve(Some(&format!("bytes={r}")), meta.size) {
            RangeAnswer::Partial(spans) if spans.len() == 1 => {
                let (a, n) = spans[0];
                Some(format!("{a}-{}", a + n - 1))
            }
            RangeAnswer::Partial(_) => return Err("Multiple Ranges".into()),
            _ => return Err("Unsatisfiable Range".into()),
        },
    };
    if meta.size < MIN_SEGMENT_SIZE {
        problems.push("Too small; each segment must be at least 1 byte.");
    }
    if !problems.is_empty() {
        return Err(problems.join(", "));
    }
    Ok(Segment {
        name: format!("/{container}/{object}"),
        hash: meta.etag.clone(),
        bytes: meta.size,
        content_type: meta.content_type.clone(),
        last_modified: names::Timestamp(meta.timestamp).iso(),
        range,
    })
}

fn status_line(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or_default())
}

async fn put(call: Call) -> Result<Response> {
    let body = super::read_limited(call.take_body(), MAX_MANIFEST_SIZE, "Manifest").await?;
    let asked = parse_manifest(&body)?;
    let mut segments = Vec::new();
    let mut problems = Vec::new();
    for a in &asked {
        match check_segment(&call, a).await {
            Ok(s) => segments.push(s),
            Err(p) => problems.push(format!("{}, {p}", a.path)),
        }
    }
    if !problems.is_empty() {
        return Err(SwiftError::BadRequest(format!("Errors:\n{}\n", problems.join("\n"))));
    }
    let etag = slo_etag(&segments);
    if let Some(want) = call.header("etag")
        && want.trim_matches('"') != etag
    {
        return Err(SwiftError::Unprocessable(
            "The Etag you sent does not match the body.".into(),
        ));
    }
    let size: u64 = segments.iter().map(|s| s.span().1).sum();
    let manifest = serde_json::to_vec(&segments).unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (k, v) in call.headers.iter() {
        let k = k.as_str();
        if k.starts_with("x-object-meta-")
            || [
                "content-type",
                "content-disposition",
                "content-encoding",
                "x-delete-at",
                "x-delete-after",
            ]
            .contains(&k)
        {
            headers.insert(hn(k), v.clone());
        }
    }
    let set = |h: &mut HeaderMap, k: &str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(hn(k), v);
        }
    };
    set(&mut headers, SLO, "True".into());
    set(&mut headers, SYS_ETAG, etag.clone());
    set(&mut headers, SYS_SIZE, size.to_string());
    set(
        &mut headers,
        "x-object-sysmeta-container-update-override-etag",
        etag.clone(),
    );
    set(
        &mut headers,
        "x-object-sysmeta-container-update-override-size",
        size.to_string(),
    );
    set(&mut headers, "content-length", manifest.len().to_string());
    let t = &call.target;
    let target = Target::object(
        &t.account,
        t.container.as_deref().unwrap_or_default(),
        t.object.as_deref().unwrap_or_default(),
    );
    let sub = call.sub(Method::PUT, target, &[], headers, Body::from(manifest));
    let mut resp = run(sub, Stage::Versioning).await?;
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

/// `?multipart-manifest=delete`: the segments, then the manifest.
async fn delete(call: Call) -> Result<Response> {
    let t = &call.target;
    authorize(
        &call,
        &t.account,
        t.container.as_deref().unwrap_or_default(),
        Want::Write,
        false,
    )
    .await?;
    let segments = match open_manifest(&call).await? {
        Some((_, segments)) => segments,
        None => Vec::new(),
    };
    let mut report = bulk::Report::default();
    for seg in &segments {
        let Some((c, o)) = seg.name.trim_start_matches('/').split_once('/') else {
            continue;
        };
        let sub = call.sub(
            Method::DELETE,
            Target::object(&t.account, c, o),
            &[],
            HeaderMap::new(),
            Body::empty(),
        );
        report.count(&seg.name, status_of(&run(sub, Stage::Versioning).await));
    }
    let target = Target::object(
        &t.account,
        t.container.as_deref().unwrap_or_default(),
        t.object.as_deref().unwrap_or_default(),
    );
    let name = format!("/{}", target.object_path().splitn(3, '/').nth(2).unwrap_or_default());
    let sub = call.sub(Method::DELETE, target, &[], HeaderMap::new(), Body::empty());
    report.count(&name, status_of(&run(sub, Stage::Versioning).await));
    Ok(report.render(&call, bulk::Kind::Delete))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_and_spans() {
        let seg = |hash: &str, range: Option<&str>| Segment {
            name: "/c/o".into(),
            hash: hash.into(),
            bytes: 10,
            content_type: String::new(),
            last_modified: String::new(),
            range: range.map(str::to_owned),
        };
        let plain = [seg("a", None), seg("b", None)];
        assert_eq!(slo_etag(&plain), hex::encode(md5::Md5::digest(b"ab")));
        let ranged = [seg("a", Some("2-4"))];
        assert_eq!(slo_etag(&ranged), hex::encode(md5::Md5::digest(b"a:2-4;")));
        assert_eq!(ranged[0].span(), (2, 3));
        assert_eq!(plain[0].span(), (0, 10));
        assert!(parse_manifest(b"[]").is_err());
        assert!(parse_manifest(b"{}").is_err());
        assert!(parse_manifest(br#"[{"path": "/c/o", "bogus": 1}]"#).is_err());
        let ok = parse_manifest(br#"[{"path": "/c/o", "etag": null, "size_bytes": "3"}]"#).unwrap();
        assert_eq!(ok[0].size, Some(3));
    }
}
