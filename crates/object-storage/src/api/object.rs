//! `/v1/{account}/{container}/{object}`: PUT (streamed, ETag-checked),
//! GET/HEAD (ranges, conditionals), POST (metadata), DELETE, COPY and
//! `X-Copy-From`, expiry.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::response::Response;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{Call, empty, hn, method_not_allowed, set_headers};
use crate::access::{self, Want};
use crate::db::{containers, objects};
use crate::disk::{ObjectMeta, Opened, PostMeta};
use crate::error::{Result, SwiftError};
use crate::names;
use crate::range::{self, RangeAnswer};
use crate::{ObjectStorage, meta};

/// Object headers stored and returned besides `x-object-meta-*`.
const STORED: &[&str] = &[
    "content-disposition",
    "content-encoding",
    "x-delete-at",
    "x-object-manifest",
];

pub(crate) const CHUNK: usize = 64 * 1024;

/// Stored headers only the middleware writes (the gatekeeper drops them
/// from client requests) and that stay through a POST.
fn reserved(name: &str) -> bool {
    name.starts_with("x-object-sysmeta-") || name == "x-static-large-object"
}

pub async fn handle(call: Call) -> Result<Response> {
    match call.method.as_str() {
        "GET" | "HEAD" => get(call).await,
        "PUT" => put(call).await,
        "POST" => post(call).await,
        "DELETE" => delete(call).await,
        "COPY" => copy(call).await,
        _ => Ok(method_not_allowed()),
    }
}

/// Owner, or the container's ACL grants `want`; also returns the container
/// row when it had to be read (and reads it when `need_row`).
pub(crate) async fn authorize(
    call: &Call,
    account: &str,
    container: &str,
    want: Want,
    need_row: bool,
) -> Result<Option<containers::ContainerRow>> {
    let owner = call.owns(account);
    if owner && !need_row {
        return Ok(None);
    }
    let row = containers::get(&call.s.db, account, container).await?;
    if !owner {
        let allowed = row.as_ref().is_some_and(|r| {
            access::acl_allows(
                call.ctx(),
                r.meta.get("x-container-read").map(String::as_str),
                r.meta.get("x-container-write").map(String::as_str),
                want,
            )
        });
        if !allowed {
            return Err(call.denied());
        }
    }
    Ok(row)
}

fn expired(meta: &ObjectMeta) -> bool {
    meta.delete_at().is_some_and(|t| t <= names::now_secs())
}

/// The live object at `path`, or 404.
pub(crate) async fn open_live(s: &ObjectStorage, path: &str) -> Result<Opened> {
    match s.objects().open(path).await? {
        Some(o) if !expired(&o.meta) => Ok(o),
        _ => Err(SwiftError::NotFound),
    }
}

pub(crate) fn object_headers(meta: &ObjectMeta) -> Vec<(HeaderName, String)> {
    let mut h = vec![
        (header::CONTENT_TYPE, meta.content_type.clone()),
        (header::ETAG, meta.etag.clone()),
        (header::LAST_MODIFIED, meta.timestamp().http_date()),
        (hn("x-timestamp"), meta.timestamp().normal()),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
    ];
    for (k, v) in meta.headers.iter().filter(|(k, _)| !k.starts_with("x-object-sysmeta-")) {
        h.push((hn(k), v.clone()));
    }
    h
}

pub(crate) fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}

fn http_time(v: &str) -> Option<i64> {
    httpdate::parse_http_date(v)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

async fn get(call: Call) -> Result<Response> {
    let t = &call.target;
    let container = t.container.clone().unwrap_or_default();
    authorize(&call, &t.account, &container, Want::ReadObject, false).await?;
    let opened = open_live(&call.s, &t.object_path()).await?;
    if let Some(manifest) = opened.meta.headers.get("x-object-manifest").cloned()
        && call.query.get("multipart-manifest") != Some("get")
    {
        return dynamic_large_object(&call, &opened.meta, &manifest).await;
    }
    let meta = &opened.meta;
    let last_modified = meta.timestamp().ceil_secs();
    let mut headers = object_headers(meta);

    if let Some(v) = call.header("if-match")
        && !etag_matches(v, &meta.etag)
    {
        return Ok(precondition_failed(headers));
    }
    if let Some(v) = call.header("if-none-match") {
        if etag_matches(v, &meta.etag) {
            return Ok(not_modified(headers));
        }
    } else if let Some(since) = call.header("if-modified-since").and_then(http_time)
        && last_modified <= since
    {
        return Ok(not_modified(headers));
    }
    if let Some(since) = call.header("if-unmodified-since").and_then(http_time)
        && last_modified > since
    {
        return Ok(precondition_failed(headers));
    }

    let size = meta.size;
    if call.method == Method::HEAD {
        headers.push((header::CONTENT_LENGTH, size.to_string()));
        let mut r = Response::new(Body::empty());
        set_headers(&mut r, headers);
        return Ok(r);
    }
    let file = tokio::fs::File::from_std(opened.file);
    match range::resolve(call.header("range"), size) {
        RangeAnswer::Whole => {
            headers.push((header::CONTENT_LENGTH, size.to_string()));
            let stream = ReaderStream::with_capacity(file.take(size), CHUNK);
            let body = Body::from_stream(verified(stream, size, meta.etag.clone(), opened.data_path.clone()));
            let mut r = Response::new(body);
            set_headers(&mut r, headers);
            Ok(r)
        }
        RangeAnswer::Unsatisfiable => Err(SwiftError::RangeNotSatisfiable { size }),
        RangeAnswer::Partial(spans) if spans.len() == 1 => {
            let (start, len) = spans[0];
            let mut file = file;
            file.seek(std::io::SeekFrom::Start(start)).await?;
            headers.push((header::CONTENT_LENGTH, len.to_string()));
            headers.push((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", start, start + len - 1),
            ));
            let body = Body::from_stream(ReaderStream::with_capacity(file.take(len), CHUNK));
            let mut r = Response::new(body);
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            set_headers(&mut r, headers);
            Ok(r)
        }
        RangeAnswer::Partial(spans) => multipart(file, &meta.content_type, size, spans, headers).await,
    }
}

/// The body of a whole object, hashed as it streams: one that does not
/// hash to its ETag is quarantined once its last byte is read, as Swift's
/// object server does, so that the next read falls over to a good replica
/// (and the replicator restores this one). The client, which got the
/// ETag, can tell (`swift download` does).
fn verified<S>(
    stream: S,
    size: u64,
    etag: String,
    data_path: std::path::PathBuf,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>>
where
    S: futures::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
{
    let mut md5 = Some(<md5::Md5 as md5::Digest>::new());
    let mut left = size;
    stream.map(move |chunk| {
        if let (Ok(c), Some(m)) = (&chunk, &mut md5) {
            md5::Digest::update(m, c);
            left = left.saturating_sub(c.len() as u64);
        }
        if chunk.is_err() {
            md5 = None;
        }
        // The last byte: an HTTP server need not poll the stream's end.
        if left == 0
            && let Some(m) = md5.take()
            && hex::encode(md5::Digest::finalize(m)) != etag
        {
            let path = data_path.clone();
            tokio::task::spawn_blocking(move || match crate::disk::quarantine_file(&path) {
                Ok(to) => tracing::warn!(to = %to.display(), "object served did not match its ETag; quarantined"),
                Err(e) => tracing::warn!(error = %e, "could not quarantine a rotten object"),
            });
        }
        chunk
    })
}

/// A dynamic large object (`X-Object-Manifest: container/prefix`): the
/// segments listed under the prefix, in name order, streamed one after the
/// other; the ETag is the quoted MD5 of their ETags. Ranges are not applied
/// to it yet.
async fn dynamic_large_object(call: &Call, meta: &ObjectMeta, manifest: &str) -> Result<Response> {
    let manifest = names::decode_segment(manifest)?;
    let (container, prefix) = manifest
        .split_once('/')
        .ok_or_else(|| SwiftError::BadRequest("X-Object-Manifest must be container/prefix".into()))?;
    let account = call.target.account.clone();
    authorize(call, &account, container, Want::ReadObject, false).await?;
    let params = crate::listing::ListParams {
        prefix: prefix.to_owned(),
        limit: super::LISTING_LIMIT,
        ..Default::default()
    };
    let db = call.s.db.clone();
    let (acc, cont) = (account.clone(), container.to_owned());
    let entries = crate::listing::list(
        &params,
        |w| {
            let (db, acc, cont) = (db.clone(), acc.clone(), cont.clone());
            async move { Ok(objects::list(&db, &acc, &cont, &w).await?) }
        },
        |o: &objects::ObjectRow| o.name.as_str(),
    )
    .await?;
    let segments: Vec<objects::ObjectRow> = entries
        .into_iter()
        .filter_map(|e| match e {
            crate::listing::Entry::Item(o) => Some(o),
            crate::listing::Entry::Subdir(_) => None,
        })
        .collect();
    let size: i64 = segments.iter().map(|o| o.size).sum();
    let mut md5 = <md5::Md5 as md5::Digest>::new();
    for o in &segments {
        md5::Digest::update(&mut md5, o.etag.as_bytes());
    }
    let etag = format!("\"{}\"", hex::encode(md5::Digest::finalize(md5)));
    let mut headers = object_headers(meta);
    headers.retain(|(k, _)| *k != header::ETAG);
    headers.push((header::ETAG, etag));
    headers.push((header::CONTENT_LENGTH, size.to_string()));
    let mut r = if call.method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        let s = call.s.clone();
        let paths: Vec<String> = segments
            .iter()
            .map(|o| format!("/{account}/{container}/{}", o.name))
            .collect();
        let stream = futures::stream::iter(paths)
            .then(move |path| {
                let s = s.clone();
                async move {
                    let o = s
                        .objects()
                        .open(&path)
                        .await
                        .map_err(std::io::Error::other)?
                        .ok_or_else(|| std::io::Error::other("segment vanished"))?;
                    let file = tokio::fs::File::from_std(o.file).take(o.meta.size);
                    Ok::<_, std::io::Error>(ReaderStream::with_capacity(file, CHUNK))
                }
            })
            .try_flatten();
        Response::new(Body::from_stream(stream))
    };
    set_headers(&mut r, headers);
    Ok(r)
}

/// `multipart/byteranges`, streamed part by part from one file handle.
async fn multipart(
    file: tokio::fs::File,
    content_type: &str,
    size: u64,
    spans: Vec<(u64, u64)>,
    mut headers: Vec<(HeaderName, String)>,
) -> Result<Response> {
    let boundary = uuid::Uuid::new_v4().simple().to_string();
    let mut parts = Vec::new();
    let mut total = 0u64;
    for (start, len) in spans {
        let head = format!(
            "--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
            start,
            start + len - 1
        );
        total += head.len() as u64 + len + 2;
        parts.push((head, start, len));
    }
    let tail = format!("--{boundary}--");
    total += tail.len() as u64;
    let file = std::sync::Arc::new(tokio::sync::Mutex::new(file));
    let stream = futures::stream::iter(parts)
        .map(move |(head, start, len)| {
            let file = file.clone();
            let body = futures::stream::once(async move {
                let mut f = file.lock().await;
                f.seek(std::io::SeekFrom::Start(start)).await?;
                let mut buf = Vec::new();
                // Parts are read one at a time; each is bounded by the
                // object, and streamed in pieces of at most CHUNK.
                let mut left = len;
                let mut chunks = Vec::new();
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    buf.resize(n, 0);
                    f.read_exact(&mut buf).await?;
                    chunks.push(Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&buf)));
                    left -= n as u64;
                }
                chunks.push(Ok(bytes::Bytes::from_static(b"\r\n")));
                Ok::<_, std::io::Error>(futures::stream::iter(chunks))
            });
            futures::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(head)) })
                .chain(futures::TryStreamExt::try_flatten(body))
        })
        .flatten()
        .chain(futures::stream::once(async move { Ok(bytes::Bytes::from(tail)) }));
    headers.retain(|(k, _)| k != header::CONTENT_TYPE);
    headers.push((
        header::CONTENT_TYPE,
        format!("multipart/byteranges;boundary={boundary}"),
    ));
    headers.push((header::CONTENT_LENGTH, total.to_string()));
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
    set_headers(&mut r, headers);
    Ok(r)
}

fn not_modified(headers: Vec<(HeaderName, String)>) -> Response {
    let keep: Vec<_> = headers
        .into_iter()
        .filter(|(k, _)| *k == header::ETAG || *k == header::LAST_MODIFIED || k.as_str() == "x-timestamp")
        .collect();
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NOT_MODIFIED;
    set_headers(&mut r, keep);
    r
}

fn precondition_failed(headers: Vec<(HeaderName, String)>) -> Response {
    let keep: Vec<_> = headers
        .into_iter()
        .filter(|(k, _)| *k == header::ETAG || *k == header::LAST_MODIFIED || k.as_str() == "x-timestamp")
        .collect();
    let mut r = ::api::ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "A precondition for this request was not met.",
    )
    .into_response_with(keep);
    *r.status_mut() = StatusCode::PRECONDITION_FAILED;
    r
}

trait WithHeaders {
    fn into_response_with(self, headers: Vec<(HeaderName, String)>) -> Response;
}

impl WithHeaders for ::api::ApiError {
    fn into_response_with(self, headers: Vec<(HeaderName, String)>) -> Response {
        let mut r = axum::response::IntoResponse::into_response(self);
        set_headers(&mut r, headers);
        r
    }
}

/// `X-Delete-At` / `X-Delete-After` of a request, checked.
fn delete_at(call: &Call) -> Result<Option<i64>> {
    let now = names::now_secs();
    if let Some(v) = call.header("x-delete-after") {
        let secs: i64 = v
            .parse()
            .map_err(|_| SwiftError::BadRequest("Non-integer X-Delete-After".into()))?;
        if secs < 0 {
            return Err(SwiftError::BadRequest("X-Delete-After in past".into()));
        }
        return Ok(Some(now + secs));
    }
    if let Some(v) = call.header("x-delete-at") {
        let at = v
            .split('.')
            .next()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| SwiftError::BadRequest("Non-integer X-Delete-At".into()))?;
        if at <= now {
            return Err(SwiftError::BadRequest("X-Delete-At in past".into()));
        }
        return Ok(Some(at));
    }
    Ok(None)
}

/// The stored headers a PUT or POST sets: user metadata and `STORED`.
fn request_headers(call: &Call, delete_at: Option<i64>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in meta::changes(call.header_pairs(), "object", &[])? {
        match v {
            Some(v) => {
                out.insert(k, v);
            }
            // Objects keep empty values (Swift returns them).
            None if call.header(&k).is_some() => {
                out.insert(k, String::new());
            }
            None => {}
        }
    }
    for k in STORED {
        if *k == "x-delete-at" {
            continue;
        }
        if let Some(v) = call.header(k).filter(|v| !v.is_empty()) {
            out.insert((*k).to_owned(), v.to_owned());
        }
    }
    for (k, v) in call.header_pairs().filter(|(k, _)| reserved(k)) {
        out.insert(k.to_owned(), v.to_owned());
    }
    if let Some(at) = delete_at {
        out.insert("x-delete-at".into(), at.to_string());
    }
    Ok(out)
}

/// The content type a PUT stores: the given one, else a guess from the
/// name's extension (as Swift guesses with `mimetypes`).
fn content_type(call: &Call, name: &str) -> String {
    if let Some(ct) = call.header("content-type").filter(|c| !c.is_empty())
        && call.header("x-detect-content-type") != Some("true")
    {
        return ct.to_owned();
    }
    guess_type(name).to_owned()
}

fn guess_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" | "conf" | "cfg" | "ini" | "md" | "rst" | "sh" | "py" | "rs" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "iso" => "application/x-iso9660-image",
        "qcow2" | "img" | "raw" => "application/octet-stream",
        _ => "application/octet-stream",
    }
}

async fn put(call: Call) -> Result<Response> {
    if let Some(src) = call.header("x-copy-from").map(str::to_owned) {
        let src_account = call
            .header("x-copy-from-account")
            .map(str::to_owned)
            .unwrap_or_else(|| call.target.account.clone());
        let (sc, so) = split_copy_path(&src)?;
        let dst = (
            call.target.account.clone(),
            call.target.container.clone().unwrap_or_default(),
            call.target.object.clone().unwrap_or_default(),
        );
        return copy_object(call, (src_account, sc, so), dst).await;
    }
    let t = &call.target;
    let container = t.container.clone().unwrap_or_default();
    let object = t.object.clone().unwrap_or_default();
    authorize(&call, &t.account, &container, Want::Write, true)
        .await?
        .ok_or(SwiftError::NotFound)?;

    let chunked = call
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = match call.header("content-length") {
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| SwiftError::BadRequest("Invalid Content-Length".into()))?,
        ),
        None => None,
    };
    if length.is_none() && !chunked {
        return Err(SwiftError::LengthRequired);
    }
    if length.is_some_and(|l| l > call.s.config.max_file_size) {
        return Err(SwiftError::TooLarge("Your request is too large.".into()));
    }
    let path = t.object_path();
    match call.header("if-none-match") {
        None => {}
        Some("*") if open_live(&call.s, &path).await.is_ok() => {
            return Err(SwiftError::PreconditionFailed(
                "A precondition for this request was not met.".into(),
            ));
        }
        Some("*") => {}
        Some(_) => return Err(SwiftError::BadRequest("If-None-Match only supports *".into())),
    }
    let delete_at = delete_at(&call)?;
    let headers = request_headers(&call, delete_at)?;
    let content_type = content_type(&call, &object);
    let expected = call.header("etag").map(|e| e.trim_matches('"').to_ascii_lowercase());

    let s = call.s.clone();
    let max = s.config.max_file_size;
    let mut upload = s.objects().begin(&path).await?;
    let mut stream = call.take_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| SwiftError::BadRequest("The client did not send the whole body.".into()))?;
        if upload.size() + chunk.len() as u64 > max {
            return Err(SwiftError::TooLarge("Your request is too large.".into()));
        }
        upload.write(&chunk).await?;
    }
    if length.is_some_and(|l| l != upload.size()) {
        return Err(SwiftError::BadRequest("The client did not send the whole body.".into()));
    }
    let etag = upload.etag();
    if expected.as_ref().is_some_and(|e| *e != etag) {
        return Err(SwiftError::Unprocessable(
            "The Etag you sent does not match the body.".into(),
        ));
    }
    let ts = s.clock.now();
    let meta = ObjectMeta {
        name: path,
        timestamp: ts.0,
        data_timestamp: ts.0,
        size: upload.size(),
        etag: etag.clone(),
        content_type,
        headers,
    };
    upload.commit(&meta).await?;
    record(&s, &call.target.account, &container, &object, &meta).await?;
    Ok(empty(
        StatusCode::CREATED,
        vec![
            (header::ETAG, etag),
            (header::LAST_MODIFIED, ts.http_date()),
            (hn("x-timestamp"), ts.normal()),
        ],
    ))
}

async fn record(s: &ObjectStorage, account: &str, container: &str, object: &str, meta: &ObjectMeta) -> Result<()> {
    // A large-object manifest is listed with the size and ETag of what it
    // assembles, as Swift's container-update override does.
    let over = |k: &str| {
        meta.headers
            .get(&format!("x-object-sysmeta-container-update-override-{k}"))
    };
    let row = objects::ObjectRow {
        name: object.to_owned(),
        ts: meta.timestamp,
        size: over("size").and_then(|v| v.parse().ok()).unwrap_or(meta.size as i64),
        etag: over("etag").cloned().unwrap_or_else(|| meta.etag.clone()),
        content_type: meta.content_type.clone(),
        delete_at: meta.delete_at(),
    };
    objects::record(&s.db, account, container, &row, false).await?;
    Ok(())
}

/// `container/object` of `X-Copy-From` or `Destination` (URL-encoded, a
/// leading slash optional).
fn split_copy_path(v: &str) -> Result<(String, String)> {
    let v = names::decode_segment(v)?;
    let v = v.trim_start_matches('/');
    match v.split_once('/') {
        Some((c, o)) if !c.is_empty() && !o.is_empty() => {
            names::check_container(c)?;
            names::check_object(o)?;
            Ok((c.to_owned(), o.to_owned()))
        }
        _ => Err(SwiftError::PreconditionFailed(
            "Bad header value; must be of the form /<container name>/<object name>".into(),
        )),
    }
}

async fn copy(call: Call) -> Result<Response> {
    let dest = call
        .header("destination")
        .ok_or_else(|| SwiftError::PreconditionFailed("You must provide a Destination header".into()))?
        .to_owned();
    let (dc, dobj) = split_copy_path(&dest)?;
    let dst_account = call
        .header("destination-account")
        .map(names::decode_segment)
        .transpose()?
        .unwrap_or_else(|| call.target.account.clone());
    let src = (
        call.target.account.clone(),
        call.target.container.clone().unwrap_or_default(),
        call.target.object.clone().unwrap_or_default(),
    );
    copy_object(call, src, (dst_account, dc, dobj)).await
}

/// Server-side copy: streams the source's body into a new object.
async fn copy_object(call: Call, src: (String, String, String), dst: (String, String, String)) -> Result<Response> {
    let (sa, sc, so) = src;
    let (da, dc, dobj) = dst;
    authorize(&call, &sa, &sc, Want::ReadObject, false).await?;
    authorize(&call, &da, &dc, Want::Write, true)
        .await?
        .ok_or(SwiftError::NotFound)?;
    let src_path = format!("/{sa}/{sc}/{so}");
    let opened = open_live(&call.s, &src_path).await?;
    let fresh = call
        .header("x-fresh-metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut headers: BTreeMap<String, String> = if fresh {
        BTreeMap::new()
    } else {
        opened
            .meta
            .headers
            .iter()
            .filter(|(k, _)| k.as_str() != "x-delete-at")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let delete_at = delete_at(&call)?;
    headers.extend(request_headers(&call, delete_at)?);
    let content_type = call
        .header("content-type")
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| opened.meta.content_type.clone());

    let s = call.s.clone();
    let mut upload = s.objects().begin(&format!("/{da}/{dc}/{dobj}")).await?;
    let mut reader = tokio::fs::File::from_std(opened.file).take(opened.meta.size);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        upload.write(&buf[..n]).await?;
    }
    let ts = s.clock.now();
    let meta = ObjectMeta {
        name: format!("/{da}/{dc}/{dobj}"),
        timestamp: ts.0,
        data_timestamp: ts.0,
        size: upload.size(),
        etag: upload.etag(),
        content_type,
        headers,
    };
    upload.commit(&meta).await?;
    record(&s, &da, &dc, &dobj, &meta).await?;
    let quoted = |s: &str| percent_encoding::utf8_percent_encode(s, COPY_SET).to_string();
    // As Swift's proxy: the response carries the new object's metadata.
    let mut response_headers: Vec<(HeaderName, String)> =
        meta.headers.iter().map(|(k, v)| (hn(k), v.clone())).collect();
    response_headers.extend([
        (header::ETAG, meta.etag.clone()),
        (header::LAST_MODIFIED, ts.http_date()),
        (hn("x-timestamp"), ts.normal()),
        (hn("x-copied-from"), format!("{}/{}", quoted(&sc), quoted(&so))),
        (hn("x-copied-from-account"), quoted(&sa)),
        (hn("x-copied-from-last-modified"), opened.meta.timestamp().http_date()),
    ]);
    Ok(empty(StatusCode::CREATED, response_headers))
}

const COPY_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

async fn post(call: Call) -> Result<Response> {
    let t = &call.target;
    let container = t.container.clone().unwrap_or_default();
    let object = t.object.clone().unwrap_or_default();
    authorize(&call, &t.account, &container, Want::Write, false).await?;
    let path = t.object_path();
    let opened = open_live(&call.s, &path).await?;
    let delete_at = delete_at(&call)?;
    let mut headers = request_headers(&call, delete_at)?;
    if let Some(m) = opened.meta.headers.get("x-object-manifest")
        && !headers.contains_key("x-object-manifest")
    {
        headers.insert("x-object-manifest".into(), m.clone());
    }
    for (k, v) in opened.meta.headers.iter().filter(|(k, _)| reserved(k)) {
        headers.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let content_type = call.header("content-type").filter(|c| !c.is_empty()).map(str::to_owned);
    let ts = call.s.clock.now();
    let post = PostMeta {
        timestamp: ts.0,
        content_type: content_type.clone(),
        headers,
    };
    if !call.s.objects().post(&path, post).await? {
        return Err(SwiftError::NotFound);
    }
    let ct = content_type.unwrap_or(opened.meta.content_type);
    objects::update_meta(&call.s.db, &t.account, &container, &object, &ct, delete_at).await?;
    Ok(empty(StatusCode::ACCEPTED, Vec::new()))
}

async fn delete(call: Call) -> Result<Response> {
    let t = &call.target;
    let container = t.container.clone().unwrap_or_default();
    let object = t.object.clone().unwrap_or_default();
    authorize(&call, &t.account, &container, Want::Write, false).await?;
    let path = t.object_path();
    // An expired object is already gone for clients (404), but, as in
    // Swift, deleting it still writes its tombstone and takes it out of the
    // listing, so that its container can be deleted before the expirer runs.
    let was_live = match call.s.objects().open(&path).await? {
        Some(o) => !expired(&o.meta),
        None => return Err(SwiftError::NotFound),
    };
    let ts = call.s.clock.now();
    call.s.objects().delete(&path, ts).await?;
    let row = objects::ObjectRow {
        name: object,
        ts: ts.0,
        size: 0,
        etag: String::new(),
        content_type: String::new(),
        delete_at: None,
    };
    objects::record(&call.s.db, &t.account, &container, &row, true).await?;
    if !was_live {
        return Err(SwiftError::NotFound);
    }
    Ok(empty(StatusCode::NO_CONTENT, vec![(hn("x-timestamp"), ts.normal())]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_and_types() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("x, abc", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(!etag_matches("abd", "abc"));
        assert_eq!(guess_type("a/b.TXT"), "text/plain");
        assert_eq!(guess_type("noext"), "application/octet-stream");
        assert_eq!(split_copy_path("/c/o/p").unwrap(), ("c".into(), "o/p".into()));
        assert!(split_copy_path("c").is_err());
    }
}
