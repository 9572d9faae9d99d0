//! FormPost: an HTML form (`multipart/form-data`) POSTed to a container
//! path uploads its files as objects, signed instead of authenticated.
//!
//! The form's fields, before its files: `redirect`, `max_file_size`,
//! `max_file_count`, `expires`, `signature` (HMAC of
//! `PATH\nREDIRECT\nMAX_FILE_SIZE\nMAX_FILE_COUNT\nEXPIRES` with a TempURL
//! key of the account or the container, SHA-1/256/512), optionally
//! `x_delete_at` / `x_delete_after`. Each file part becomes the object
//! `<path prefix><filename>`, streamed from the request into the store; a
//! file over `max_file_size` is not stored (400), nor files past
//! `max_file_count` (400); an expired form or a bad signature is 401.
//! With `redirect`, the answer is a 303 to it with `status` and `message`
//! in its query, as Swift does.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Stage, run, signature, status_of};
use crate::api::{Call, Target, hn};
use crate::error::Result;
use crate::names;

/// The largest non-file field (Swift's `MAX_VALUE_LENGTH`).
const MAX_VALUE_LENGTH: usize = 4096;

pub(crate) async fn handle(call: Call) -> Result<Response> {
    let boundary = (call.method == Method::POST && call.target.container.is_some())
        .then(|| call.header("content-type").and_then(boundary_of))
        .flatten();
    match boundary {
        Some(b) => formpost(call, b).await,
        None => run(call, Stage::Bulk).await,
    }
}

fn boundary_of(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// A streaming `multipart/form-data` reader: part headers, then the part's
/// bytes in pieces, never more than a chunk and a delimiter in memory.
pub struct Multipart<R> {
    reader: R,
    buf: Vec<u8>,
    delim: Vec<u8>,
    eof: bool,
    in_part: bool,
    finished: bool,
}

/// The headers of one part that matter here.
#[derive(Debug, Default)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

impl<R: AsyncRead + Unpin> Multipart<R> {
    pub fn new(reader: R, boundary: &str) -> Self {
        Multipart {
            reader,
            // The first delimiter has no CRLF before it: add one.
            buf: b"\r\n".to_vec(),
            delim: format!("\r\n--{boundary}").into_bytes(),
            eof: false,
            in_part: false,
            finished: false,
        }
    }

    async fn fill(&mut self, want: usize) -> std::io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        while self.buf.len() < want && !self.eof {
            let n = self.reader.read(&mut chunk).await?;
            if n == 0 {
                self.eof = true;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }

    fn find(&self, needle: &[u8]) -> Option<usize> {
        self.buf.windows(needle.len()).position(|w| w == needle)
    }

    /// The next part's headers, or `None` after the closing delimiter.
    pub async fn next_part(&mut self) -> std::io::Result<Option<Part>> {
        while self.in_part {
            self.chunk().await?;
        }
        if self.finished {
            return Ok(None);
        }
        // Up to and past the delimiter.
        loop {
            self.fill(self.buf.len() + 1).await?;
            if let Some(i) = self.find(&self.delim.clone()) {
                self.buf.drain(..i + self.delim.len());
                break;
            }
            if self.eof {
                return Err(bad("no multipart delimiter"));
            }
            let keep = self.delim.len();
            if self.buf.len() > keep {
                self.buf.drain(..self.buf.len() - keep);
            }
        }
        self.fill(2).await?;
        if self.buf.starts_with(b"--") {
            self.finished = true;
            return Ok(None);
        }
        // Headers end at an empty line.
        let end = loop {
            if let Some(i) = self.find(b"\r\n\r\n") {
                break i;
            }
            if self.eof || self.buf.len() > 16 * 1024 {
                return Err(bad("bad multipart part headers"));
            }
            self.fill(self.buf.len() + 1).await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut part = Part::default();
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else { continue };
            let k = k.trim().to_ascii_lowercase();
            if k == "content-type" {
                part.content_type = Some(v.trim().to_owned());
            } else if k == "content-disposition" {
                for attr in v.split(';').skip(1) {
                    if let Some((a, val)) = attr.trim().split_once('=') {
                        let val = val.trim().trim_matches('"').to_owned();
                        match a.trim().to_ascii_lowercase().as_str() {
                            "name" => part.name = val,
                            "filename" => part.filename = Some(val),
                            _ => {}
                        }
                    }
                }
            }
        }
        self.in_part = true;
        // Put the CRLF back so the part's end is found as a delimiter.
        Ok(Some(part))
    }

    /// The next piece of the current part, or `None` at its end.
    pub async fn chunk(&mut self) -> std::io::Result<Option<bytes::Bytes>> {
        if !self.in_part {
            return Ok(None);
        }
        let dl = self.delim.len();
        self.fill(dl + 16 * 1024).await?;
        if let Some(i) = self.find(&self.delim.clone()) {
            if i == 0 {
                self.in_part = false;
                // Leave the delimiter for next_part.
                return Ok(None);
            }
            let out: Vec<u8> = self.buf.drain(..i).collect();
            return Ok(Some(out.into()));
        }
        if self.eof {
            return Err(bad("multipart body ends inside a part"));
        }
        let n = self.buf.len() - (dl - 1);
        let out: Vec<u8> = self.buf.drain(..n).collect();
        Ok(Some(out.into()))
    }

    /// The current part's bytes as text, up to `limit`.
    pub async fn value(&mut self, limit: usize) -> std::io::Result<String> {
        let mut out = Vec::new();
        while let Some(c) = self.chunk().await? {
            if out.len() + c.len() > limit {
                return Err(bad("form field too long"));
            }
            out.extend_from_slice(&c);
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// The outcome of a form, before it is rendered.
struct Outcome {
    status: StatusCode,
    message: String,
}

impl Outcome {
    fn new(status: StatusCode, message: &str) -> Outcome {
        Outcome {
            status,
            message: message.to_owned(),
        }
    }
}

#[derive(Default)]
struct Fields {
    redirect: String,
    max_file_size: String,
    max_file_count: String,
    expires: String,
    signature: String,
    x_delete_at: Option<String>,
    x_delete_after: Option<String>,
}

async fn formpost(mut call: Call, boundary: String) -> Result<Response> {
    let stream = call
        .take_body()
        .into_data_stream()
        .map_err(|_| std::io::Error::other("the client did not send the whole body"));
    let mut form = Multipart::new(tokio_util::io::StreamReader::new(stream), &boundary);
    let mut fields = Fields::default();
    let mut checked = false;
    let mut count = 0u64;
    let outcome = loop {
        let part = match form.next_part().await {
            Ok(Some(p)) => p,
            Ok(None) => break None,
            Err(e) => {
                tracing::debug!(error = %e, "formpost: bad form");
                break Some(Outcome::new(
                    StatusCode::BAD_REQUEST,
                    "FormPost: invalid starting boundary",
                ));
            }
        };
        let Some(filename) = part.filename.clone() else {
            let value = match form.value(MAX_VALUE_LENGTH).await {
                Ok(v) => v,
                Err(_) => break Some(Outcome::new(StatusCode::BAD_REQUEST, "FormPost: field too long")),
            };
            match part.name.as_str() {
                "redirect" => fields.redirect = value,
                "max_file_size" => fields.max_file_size = value,
                "max_file_count" => fields.max_file_count = value,
                "expires" => fields.expires = value,
                "signature" => fields.signature = value,
                "x_delete_at" => fields.x_delete_at = Some(value),
                "x_delete_after" => fields.x_delete_after = Some(value),
                _ => {}
            }
            continue;
        };
        if !checked {
            if let Some(refused) = check(&call, &fields).await? {
                break Some(refused);
            }
            checked = true;
            call.grant = Some(call.target.account.clone());
        }
        if filename.is_empty() {
            continue;
        }
        count += 1;
        if count > fields.max_file_count.parse().unwrap_or(0) {
            break Some(Outcome::new(StatusCode::BAD_REQUEST, "max_file_count exceeded"));
        }
        let max_size: u64 = fields.max_file_size.parse().unwrap_or(0);
        match store_file(&call, &mut form, &part, &filename, max_size, &fields).await? {
            None => {}
            Some(o) => break Some(o),
        }
    };
    let outcome = match outcome {
        Some(o) => o,
        None if !checked => check(&call, &fields)
            .await?
            .unwrap_or_else(|| Outcome::new(StatusCode::CREATED, "")),
        None => Outcome::new(StatusCode::CREATED, ""),
    };
    Ok(render(&fields, outcome))
}

/// The signature and the expiry; `Some` is the refusal.
async fn check(call: &Call, fields: &Fields) -> Result<Option<Outcome>> {
    let Ok(expires) = fields.expires.parse::<i64>() else {
        return Ok(Some(Outcome::new(
            StatusCode::UNAUTHORIZED,
            "FormPost: expired not an integer",
        )));
    };
    if expires < names::now_secs() {
        return Ok(Some(Outcome::new(StatusCode::UNAUTHORIZED, "FormPost: Form Expired")));
    }
    if fields.max_file_size.parse::<u64>().is_err() || fields.max_file_count.parse::<u64>().is_err() {
        return Ok(Some(Outcome::new(
            StatusCode::BAD_REQUEST,
            "FormPost: max_file_size and max_file_count must be integers",
        )));
    }
    let t = &call.target;
    let container = t.container.as_deref().unwrap_or_default();
    let path = match &t.object {
        Some(o) => format!("/v1/{}/{container}/{o}", t.account),
        None => format!("/v1/{}/{container}", t.account),
    };
    let message = format!(
        "{path}\n{}\n{}\n{}\n{}",
        fields.redirect, fields.max_file_size, fields.max_file_count, fields.expires
    );
    let keys = super::tempurl::keys(call, &t.account, container).await?;
    if !signature::valid(&fields.signature, &keys, &[message]) {
        return Ok(Some(Outcome::new(
            StatusCode::UNAUTHORIZED,
            "FormPost: Invalid Signature",
        )));
    }
    Ok(None)
}

/// Streams one file part into its object; `Some` is why the form stops.
async fn store_file<R: AsyncRead + Unpin>(
    call: &Call,
    form: &mut Multipart<R>,
    part: &Part,
    filename: &str,
    max_size: u64,
    fields: &Fields,
) -> Result<Option<Outcome>> {
    let t = &call.target;
    let object = format!("{}{filename}", t.object.as_deref().unwrap_or_default());
    if names::check_object(&object).is_err() {
        return Ok(Some(Outcome::new(
            StatusCode::BAD_REQUEST,
            "FormPost: invalid file name",
        )));
    }
    let mut headers = HeaderMap::new();
    headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    let ct = part.content_type.as_deref().unwrap_or("application/octet-stream");
    if let Ok(v) = HeaderValue::from_str(ct) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    for (k, v) in [
        ("x-delete-at", &fields.x_delete_at),
        ("x-delete-after", &fields.x_delete_after),
    ] {
        if let Some(v) = v.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(hn(k), v);
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let sub = call.sub(
        Method::PUT,
        Target::object(&t.account, t.container.as_deref().unwrap_or_default(), &object),
        &[],
        headers,
        body,
    );
    // Owns the sender: the upload sees the end of its body when this ends.
    let feed = async move {
        let mut size = 0u64;
        loop {
            match form.chunk().await {
                Ok(Some(c)) => {
                    size += c.len() as u64;
                    if size > max_size {
                        // The upload fails and nothing is stored.
                        let _ = tx.send(Err(std::io::Error::other("max_file_size exceeded"))).await;
                        return Err(Outcome::new(StatusCode::BAD_REQUEST, "max_file_size exceeded"));
                    }
                    let _ = tx.send(Ok(c)).await;
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return Err(Outcome::new(StatusCode::BAD_REQUEST, "FormPost: bad form"));
                }
            }
        }
    };
    let (fed, put) = tokio::join!(feed, run(sub, Stage::Bulk));
    if let Err(o) = fed {
        return Ok(Some(o));
    }
    let status = status_of(&put);
    if !status.is_success() {
        let msg = status.canonical_reason().unwrap_or_default();
        return Ok(Some(Outcome::new(status, &format!("FormPost: {msg}"))));
    }
    Ok(None)
}

fn render(fields: &Fields, outcome: Outcome) -> Response {
    let status_text = format!(
        "{} {}",
        outcome.status.as_u16(),
        outcome.status.canonical_reason().unwrap_or_default()
    );
    if !fields.redirect.is_empty() {
        let sep = if fields.redirect.contains('?') { '&' } else { '?' };
        let q = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        let location = format!(
            "{}{sep}status={}&message={}",
            fields.redirect,
            outcome.status.as_u16(),
            q(&outcome.message)
        );
        let body = format!(
            "<html><body><p><a href=\"{}\">Click to continue...</a></p></body></html>",
            location.replace('"', "%22")
        );
        let mut r = Response::new(Body::from(body));
        *r.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
        return r;
    }
    let body = if outcome.message.is_empty() {
        status_text
    } else {
        format!("{status_text}\n\n{}", outcome.message)
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = outcome.status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_a_form_in_small_reads() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\none\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\n-line2\r\n--XyZ--\r\n";
        // A reader that hands out 3 bytes at a time.
        let reader = tokio_util::io::StreamReader::new(futures::stream::iter(
            body.chunks(3)
                .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c))),
        ));
        let mut form = Multipart::new(reader, "XyZ");
        let p = form.next_part().await.unwrap().unwrap();
        assert_eq!(p.name, "a");
        assert_eq!(form.value(100).await.unwrap(), "one");
        let p = form.next_part().await.unwrap().unwrap();
        assert_eq!(
            (p.filename.as_deref(), p.content_type.as_deref()),
            (Some("x.txt"), Some("text/plain"))
        );
        assert_eq!(form.value(100).await.unwrap(), "line1\r\n-line2");
        assert!(form.next_part().await.unwrap().is_none());
        assert_eq!(
            boundary_of("multipart/form-data; boundary=\"--b--\"").as_deref(),
            Some("--b--")
        );
        assert!(boundary_of("text/plain").is_none());
    }
}
