//! Bulk operations, Swift's `bulk` middleware:
//!
//! - `POST` or `DELETE /v1/<account>?bulk-delete` with a `text/plain` body
//!   of URL-encoded `/container/object` or `/container` paths, one a line:
//!   each is deleted in order (containers after their objects, as the
//!   client lists them);
//! - `PUT /v1/<account>[/<container>[/<prefix>]]?extract-archive=tar`
//!   (or `tar.gz`, `tar.bz2`, decompressed as the request streams in):
//!   each regular file of the archive, read from the request as it
//!   arrives, becomes an object (at the account
//!   level the archive's top directories are the containers, created as
//!   needed).
//!
//! Both answer 200 with a report (`Number Deleted`, `Number Not Found` or
//! `Number Files Created`, `Response Status`, `Errors`) as plain text,
//! JSON or XML by `Accept`, as Swift does. Each delete or upload is a
//! sub-request with the caller's token.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Stage, run, status_of};
use crate::api::{Call, Target};
use crate::error::{Result, SwiftError};

pub const MAX_DELETES_PER_REQUEST: usize = 10_000;
pub const MAX_FAILED_DELETES: usize = 1_000;
pub const MAX_CONTAINERS_PER_EXTRACTION: usize = 10_000;
pub const MAX_FAILED_EXTRACTIONS: usize = 1_000;
/// The archive formats `extract-archive` takes.
pub const FORMATS: &[&str] = &["tar", "tar.gz", "tar.bz2"];

pub(crate) async fn handle(call: Call) -> Result<Response> {
    let account_level = call.target.container.is_none();
    if account_level && call.has_query("bulk-delete") && (call.method == Method::POST || call.method == Method::DELETE)
    {
        return bulk_delete(call).await;
    }
    if call.method == Method::PUT && call.has_query("extract-archive") {
        return extract(call).await;
    }
    run(call, Stage::Slo).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Delete,
    Extract,
}

/// What a bulk request did, item by item.
#[derive(Default)]
pub struct Report {
    pub done: usize,
    pub not_found: usize,
    pub errors: Vec<(String, String)>,
    /// A failure of the request as a whole (bad archive, too many items).
    pub fatal: Option<(StatusCode, String)>,
}

impl Report {
    pub fn count(&mut self, name: &str, status: StatusCode) {
        if status.is_success() {
            self.done += 1;
        } else if status == StatusCode::NOT_FOUND {
            self.not_found += 1;
        } else {
            self.errors.push((name.to_owned(), status_line(status)));
        }
    }

    pub(crate) fn render(&self, call: &Call, kind: Kind) -> Response {
        let ok = match kind {
            Kind::Delete => StatusCode::OK,
            Kind::Extract => StatusCode::CREATED,
        };
        let (status, body_text) = match &self.fatal {
            Some((s, text)) => (status_line(*s), text.clone()),
            None if !self.errors.is_empty() => (status_line(StatusCode::BAD_REQUEST), String::new()),
            None => (status_line(ok), String::new()),
        };
        let accept = call.header("accept").unwrap_or_default().to_ascii_lowercase();
        let (content_type, body) = if accept.contains("application/json") {
            let mut v = serde_json::json!({
                "Response Status": status,
                "Response Body": body_text,
                "Errors": self.errors.iter().map(|(n, s)| [n, s]).collect::<Vec<_>>(),
            });
            match kind {
                Kind::Delete => {
                    v["Number Deleted"] = self.done.into();
                    v["Number Not Found"] = self.not_found.into();
                }
                Kind::Extract => v["Number Files Created"] = self.done.into(),
            }
            ("application/json", v.to_string())
        } else if accept.contains("/xml") {
            let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            let (root, counts) = match kind {
                Kind::Delete => (
                    "delete",
                    format!(
                        "<number_deleted>{}</number_deleted><number_not_found>{}</number_not_found>",
                        self.done, self.not_found
                    ),
                ),
                Kind::Extract => (
                    "extract",
                    format!("<number_files_created>{}</number_files_created>", self.done),
                ),
            };
            let errors: String = self
                .errors
                .iter()
                .map(|(n, s)| format!("<object><name>{}</name><status>{}</status></object>", esc(n), esc(s)))
                .collect();
            (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}>{counts}<response_body>{}</response_body><response_status>{}</response_status><errors>{errors}</errors></{root}>\n",
                    esc(&body_text),
                    esc(&status)
                ),
            )
        } else {
            let counts = match kind {
                Kind::Delete => format!("Number Deleted: {}\nNumber Not Found: {}\n", self.done, self.not_found),
                Kind::Extract => format!("Number Files Created: {}\n", self.done),
            };
            let errors: String = self.errors.iter().map(|(n, s)| format!("{n}, {s}\n")).collect();
            (
                "text/plain",
                format!("{counts}Response Body: {body_text}\nResponse Status: {status}\nErrors:\n{errors}"),
            )
        };
        let mut r = Response::new(Body::from(body));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    }
}

fn status_line(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or_default())
}

async fn bulk_delete(call: Call) -> Result<Response> {
    if !call.owner() {
        return Err(call.denied());
    }
    let body = super::read_limited(call.take_body(), MAX_DELETES_PER_REQUEST * 2048, "Delete list").await?;
    let text = String::from_utf8_lossy(&body);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut report = Report::default();
    if lines.len() > MAX_DELETES_PER_REQUEST {
        report.fatal = Some((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Maximum Bulk Deletes: {MAX_DELETES_PER_REQUEST} per request"),
        ));
        return Ok(report.render(&call, Kind::Delete));
    }
    let account = call.target.account.clone();
    for line in lines {
        let path = percent_encoding::percent_decode_str(line)
            .decode_utf8_lossy()
            .into_owned();
        let path = path.trim_start_matches('/');
        let target = match path.split_once('/') {
            Some((c, o)) if !c.is_empty() && !o.is_empty() => Target::object(&account, c, o),
            _ if !c_of(path).is_empty() && !c_of(path).contains('/') => Target::container(&account, c_of(path)),
            _ => {
                report.errors.push((line.to_owned(), "400 Bad Request".into()));
                continue;
            }
        };
        let valid = crate::names::check_container(target.container.as_deref().unwrap_or_default())
            .and_then(|_| target.object.as_deref().map_or(Ok(()), crate::names::check_object));
        if valid.is_err() {
            report.errors.push((format!("/{path}"), "400 Bad Request".into()));
            continue;
        }
        let sub = call.sub(Method::DELETE, target, &[], HeaderMap::new(), Body::empty());
        report.count(&format!("/{path}"), status_of(&run(sub, Stage::Slo).await));
        if report.errors.len() >= MAX_FAILED_DELETES {
            report.fatal = Some((StatusCode::BAD_REQUEST, "Max delete failures exceeded".into()));
            break;
        }
    }
    Ok(report.render(&call, Kind::Delete))
}

fn c_of(path: &str) -> &str {
    path.trim_end_matches('/')
}

async fn extract(call: Call) -> Result<Response> {
    let format = call.query.get("extract-archive").unwrap_or_default().to_owned();
    if !FORMATS.contains(&format.as_str()) {
        return Err(SwiftError::BadRequest(format!(
            "Unsupported archive format {format:?}: supported are {}",
            FORMATS.join(", ")
        )));
    }
    let stream = call
        .take_body()
        .into_data_stream()
        .map_err(|_| std::io::Error::other("the client did not send the whole body"));
    let raw = tokio_util::io::StreamReader::new(stream);
    let mut reader: Box<dyn AsyncRead + Unpin + Send> = match format.as_str() {
        "tar.gz" => Box::new(async_compression::tokio::bufread::GzipDecoder::new(raw)),
        "tar.bz2" => Box::new(async_compression::tokio::bufread::BzDecoder::new(raw)),
        _ => Box::new(raw),
    };
    let mut report = Report::default();
    let mut made: std::collections::HashSet<String> = Default::default();
    let base: Vec<String> = [call.target.container.clone(), call.target.object.clone()]
        .into_iter()
        .flatten()
        .collect();
    loop {
        let entry = match next_entry(&mut reader).await {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(error = %e, "extract-archive: bad archive");
                report.fatal = Some((StatusCode::BAD_REQUEST, "Invalid Tar File".into()));
                break;
            }
        };
        if !entry.regular {
            if let Err(e) = skip(&mut reader, entry.size).await {
                tracing::debug!(error = %e, "extract-archive: short archive");
                report.fatal = Some((StatusCode::BAD_REQUEST, "Invalid Tar File".into()));
                break;
            }
            continue;
        }
        let name = entry.name.trim_start_matches("./").trim_start_matches('/').to_owned();
        let full = match base.as_slice() {
            [] => name.clone(),
            [c] => format!("{c}/{name}"),
            [c, p, ..] => format!("{c}/{p}{name}"),
        };
        let (container, object) = match full.split_once('/') {
            Some((c, o)) if !c.is_empty() && !o.is_empty() => (c.to_owned(), o.to_owned()),
            _ => {
                skip(&mut reader, entry.size).await.ok();
                continue;
            }
        };
        if crate::names::check_container(&container).is_err() || crate::names::check_object(&object).is_err() {
            report.errors.push((format!("/{full}"), "400 Bad Request".into()));
            if skip(&mut reader, entry.size).await.is_err() {
                break;
            }
            continue;
        }
        if !made.contains(&container) {
            if made.len() >= MAX_CONTAINERS_PER_EXTRACTION {
                report.fatal = Some((
                    StatusCode::BAD_REQUEST,
                    "More than max containers per extraction".into(),
                ));
                break;
            }
            let account = call.target.account.clone();
            let sub = call.sub(
                Method::PUT,
                Target::container(&account, &container),
                &[],
                HeaderMap::new(),
                Body::empty(),
            );
            let status = status_of(&run(sub, Stage::Slo).await);
            if !status.is_success() {
                report.errors.push((format!("/{full}"), status_line(status)));
                if skip(&mut reader, entry.size).await.is_err() {
                    break;
                }
                continue;
            }
            made.insert(container.clone());
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
        let body = Body::from_stream(tokio_stream_of(rx));
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.size));
        let sub = call.sub(
            Method::PUT,
            Target::object(&call.target.account, &container, &object),
            &[],
            headers,
            body,
        );
        let feed = feed(&mut reader, entry.size, tx);
        let (fed, put) = tokio::join!(feed, run(sub, Stage::Slo));
        if let Err(e) = fed {
            tracing::debug!(error = %e, "extract-archive: short archive");
            report.fatal = Some((StatusCode::BAD_REQUEST, "Invalid Tar File".into()));
            break;
        }
        report.count(&format!("/{full}"), status_of(&put));
        if report.errors.len() >= MAX_FAILED_EXTRACTIONS {
            report.fatal = Some((StatusCode::BAD_REQUEST, "Max extraction failures exceeded".into()));
            break;
        }
    }
    Ok(report.render(&call, Kind::Extract))
}

fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Sends the next `size` bytes of the archive (and skips its padding);
/// always reads them, even when the receiver has given up.
async fn feed<R: AsyncRead + Unpin>(
    reader: &mut R,
    size: u64,
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
) -> std::io::Result<()> {
    let mut left = size;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        reader.read_exact(&mut buf[..n]).await?;
        left -= n as u64;
        let _ = tx.send(Ok(bytes::Bytes::copy_from_slice(&buf[..n]))).await;
    }
    drop(tx);
    skip_padding(reader, size).await
}

async fn skip<R: AsyncRead + Unpin>(reader: &mut R, size: u64) -> std::io::Result<()> {
    let padded = size.div_ceil(512) * 512;
    let copied = tokio::io::copy(&mut reader.take(padded), &mut tokio::io::sink()).await?;
    if copied != padded {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

async fn skip_padding<R: AsyncRead + Unpin>(reader: &mut R, size: u64) -> std::io::Result<()> {
    let pad = size.div_ceil(512) * 512 - size;
    let mut buf = [0u8; 512];
    reader.read_exact(&mut buf[..pad as usize]).await?;
    Ok(())
}

/// One member of a tar archive.
#[derive(Debug, PartialEq)]
pub struct TarEntry {
    pub name: String,
    pub size: u64,
    pub regular: bool,
}

fn octal(field: &[u8]) -> std::io::Result<u64> {
    let s: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect::<String>();
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| std::io::Error::other("bad octal number in tar header"))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// The next member's header (ustar, GNU long names and pax `path`
/// records understood), or `None` at the end of the archive.
pub async fn next_entry<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<Option<TarEntry>> {
    let mut long_name: Option<String> = None;
    loop {
        let mut h = [0u8; 512];
        let mut got = 0;
        while got < 512 {
            let n = reader.read(&mut h[got..]).await?;
            if n == 0 {
                if got == 0 {
                    return Ok(None);
                }
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            got += n;
        }
        if h.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| if (148..156).contains(&i) { 32 } else { u64::from(*b) })
            .sum();
        if octal(&h[148..156])? != sum {
            return Err(std::io::Error::other("tar header checksum mismatch"));
        }
        let size = octal(&h[124..136])?;
        let kind = h[156];
        match kind {
            b'L' | b'x' => {
                let mut data = vec![0u8; usize::try_from(size.min(1 << 20)).unwrap_or(0)];
                if size > 1 << 20 {
                    return Err(std::io::Error::other("tar extended header too large"));
                }
                reader.read_exact(&mut data).await?;
                skip_padding(reader, size).await?;
                if kind == b'L' {
                    long_name = Some(cstr(&data));
                } else {
                    let text = String::from_utf8_lossy(&data);
                    for rec in text.split('\n') {
                        if let Some((_, kv)) = rec.split_once(' ')
                            && let Some(path) = kv.strip_prefix("path=")
                        {
                            long_name = Some(path.to_owned());
                        }
                    }
                }
                continue;
            }
            _ => {}
        }
        let mut name = cstr(&h[0..100]);
        if &h[257..262] == b"ustar" {
            let prefix = cstr(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        return Ok(Some(TarEntry {
            name: long_name.take().unwrap_or(name),
            size,
            regular: kind == b'0' || kind == 0 || kind == b'7',
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: u64, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        let s = format!("{size:011o}");
        h[124..135].copy_from_slice(s.as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    #[tokio::test]
    async fn reads_tar_members() {
        let mut tar = header("dir/", 0, b'5');
        tar.extend(header("dir/a.txt", 3, b'0'));
        tar.extend(b"abc");
        tar.extend(vec![0u8; 509]);
        tar.extend(vec![0u8; 1024]);
        let mut r = &tar[..];
        let e = next_entry(&mut r).await.unwrap().unwrap();
        assert!(!e.regular);
        skip(&mut r, e.size).await.unwrap();
        let e = next_entry(&mut r).await.unwrap().unwrap();
        assert_eq!((e.name.as_str(), e.size, e.regular), ("dir/a.txt", 3, true));
        let mut data = [0u8; 3];
        r.read_exact(&mut data).await.unwrap();
        skip_padding(&mut r, 3).await.unwrap();
        assert_eq!(&data, b"abc");
        assert!(next_entry(&mut r).await.unwrap().is_none());
        let mut bad = header("x", 1, b'0');
        bad[0] = b'y';
        assert!(next_entry(&mut &bad[..]).await.is_err());
    }
}
