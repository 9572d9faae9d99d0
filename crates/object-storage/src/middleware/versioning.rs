//! Object versioning, Swift's `versioned_writes`: a container with
//! `X-Versions-Location: <archive>` (stack mode) or `X-History-Location:
//! <archive>` (history mode) keeps the previous copy of an object when it
//! is overwritten, as `<archive>/<3-hex-digit name length><name>/<timestamp>`.
//!
//! - PUT or COPY onto an object that exists: its current copy is first
//!   copied into the archive.
//! - DELETE in stack mode: the newest archived copy is copied back over the
//!   object and removed from the archive (the object is gone only when the
//!   archive has no copy left).
//! - DELETE in history mode: the current copy goes to the archive, followed
//!   by a delete marker (`application/x-deleted;swift_versions_deleted=1`),
//!   then the object is deleted.
//!
//! The copies are sub-requests with the caller's token: whoever versions
//! an object must be able to write the archive, as in Swift.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;

use super::{Stage, run, status_of};
use crate::api::{Call, Target};
use crate::db::{Window, containers, objects};
use crate::error::{Result, SwiftError};
use crate::listing::after_prefix;

const VERSIONS: &str = "x-versions-location";
const HISTORY: &str = "x-history-location";
const DELETE_MARKER: &str = "application/x-deleted;swift_versions_deleted=1";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stack,
    History,
}

pub(crate) async fn handle(call: Call) -> Result<Response> {
    let t = &call.target;
    match (&t.container, &t.object) {
        (Some(_), None) if call.method == Method::PUT || call.method == Method::POST => {
            check_container_headers(&call)?;
            run(call, Stage::Quotas).await
        }
        (Some(c), Some(_)) if versioned_method(&call) => {
            let (account, container) = write_target(&call, c);
            let row = containers::get(&call.s.db, &account, &container).await?;
            let archive = row.and_then(|r| {
                r.meta
                    .get(VERSIONS)
                    .map(|a| (Mode::Stack, a.clone()))
                    .or_else(|| r.meta.get(HISTORY).map(|a| (Mode::History, a.clone())))
            });
            let Some((mode, archive)) = archive else {
                return run(call, Stage::Quotas).await;
            };
            let archive = percent_encoding::percent_decode_str(&archive)
                .decode_utf8_lossy()
                .into_owned();
            versioned(call, mode, &account, &container, &archive).await
        }
        _ => run(call, Stage::Quotas).await,
    }
}

fn versioned_method(call: &Call) -> bool {
    call.method == Method::PUT || call.method == Method::DELETE || call.method.as_str() == "COPY"
}

/// The object a request writes: its own path, or a COPY's destination.
fn write_target(call: &Call, container: &str) -> (String, String) {
    if call.method.as_str() != "COPY" {
        return (call.target.account.clone(), container.to_owned());
    }
    let dest = call.header("destination").unwrap_or_default();
    let dest = percent_encoding::percent_decode_str(dest)
        .decode_utf8_lossy()
        .into_owned();
    let c = dest
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let a = call
        .header("destination-account")
        .map(str::to_owned)
        .unwrap_or_else(|| call.target.account.clone());
    (a, c)
}

/// One location at a time, and a container name (no slash) in it.
fn check_container_headers(call: &Call) -> Result<()> {
    let v = call.header(VERSIONS).filter(|v| !v.is_empty());
    let h = call.header(HISTORY).filter(|v| !v.is_empty());
    if v.is_some() && h.is_some() {
        return Err(SwiftError::BadRequest(
            "Only one of X-Versions-Location or X-History-Location may be specified".into(),
        ));
    }
    for loc in [v, h].into_iter().flatten() {
        let name = percent_encoding::percent_decode_str(loc).decode_utf8_lossy();
        if name.contains('/') {
            return Err(SwiftError::PreconditionFailed(
                "Container name cannot contain slashes".into(),
            ));
        }
        crate::names::check_container(&name)?;
    }
    Ok(())
}

/// `<3 hex digits of the name's length in bytes><name>/`
pub fn version_prefix(object: &str) -> String {
    format!("{:03x}{object}/", object.len())
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn versioned(call: Call, mode: Mode, account: &str, container: &str, archive: &str) -> Result<Response> {
    let object = if call.method.as_str() == "COPY" {
        let dest = call.header("destination").unwrap_or_default();
        let dest = percent_encoding::percent_decode_str(dest)
            .decode_utf8_lossy()
            .into_owned();
        match dest.trim_start_matches('/').split_once('/') {
            Some((_, o)) => o.to_owned(),
            None => return run(call, Stage::Quotas).await,
        }
    } else {
        call.target.object.clone().unwrap_or_default()
    };
    if call.method == Method::DELETE && mode == Mode::Stack {
        return stack_delete(call, account, container, &object, archive).await;
    }
    archive_current(&call, account, container, &object, archive).await?;
    if call.method == Method::DELETE {
        let marker = call.sub(
            Method::PUT,
            Target::object(
                account,
                archive,
                &format!("{}{}", version_prefix(&object), call.s.clock.now().normal()),
            ),
            &[],
            headers(&[("content-type", DELETE_MARKER), ("content-length", "0")]),
            Body::empty(),
        );
        let r = run(marker, Stage::Quotas).await;
        if !status_of(&r).is_success() {
            return r;
        }
    }
    run(call, Stage::Quotas).await
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(k, v);
        }
    }
    h
}

/// Copies the object's current copy, if any, into the archive.
async fn archive_current(call: &Call, account: &str, container: &str, object: &str, archive: &str) -> Result<()> {
    let path = format!("/{account}/{container}/{object}");
    let Ok(current) = crate::api::object::open_live(&call.s, &path).await else {
        return Ok(());
    };
    if current.meta.content_type == DELETE_MARKER {
        return Ok(());
    }
    let name = format!("{}{}", version_prefix(object), current.meta.timestamp().normal());
    drop(current);
    let from = format!("/{}/{}", encode(container), encode(object));
    let copy = call.sub(
        Method::PUT,
        Target::object(account, archive, &name),
        &[],
        headers(&[("x-copy-from", &from), ("content-length", "0")]),
        Body::empty(),
    );
    let r = run(copy, Stage::Quotas).await;
    match status_of(&r) {
        s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
        _ => r.map(|_| ()),
    }
}

/// Stack mode: restore the newest archived copy over the object, or
/// delete the object when there is none.
async fn stack_delete(call: Call, account: &str, container: &str, object: &str, archive: &str) -> Result<Response> {
    let prefix = version_prefix(object);
    // Bounded: a listing row whose copy is gone is skipped, not retried.
    for _ in 0..8 {
        let window = Window {
            from: Some(prefix.clone()),
            before: after_prefix(&prefix),
            reverse: true,
            limit: 1,
            after: None,
        };
        let newest = objects::list(&call.s.db, account, archive, &window).await?;
        let Some(newest) = newest.into_iter().next() else {
            return run(call, Stage::Quotas).await;
        };
        let from = format!("/{}/{}", encode(archive), encode(&newest.name));
        let restore = call.sub(
            Method::PUT,
            Target::object(account, container, object),
            &[],
            headers(&[("x-copy-from", &from), ("content-length", "0")]),
            Body::empty(),
        );
        let r = run(restore, Stage::Quotas).await;
        match status_of(&r) {
            // Gone meanwhile (expired, deleted): try the next one.
            StatusCode::NOT_FOUND => {}
            s if s.is_success() => {}
            _ => return r,
        }
        let remove = call.sub(
            Method::DELETE,
            Target::object(account, archive, &newest.name),
            &[],
            HeaderMap::new(),
            Body::empty(),
        );
        let r = run(remove, Stage::Quotas).await;
        if status_of(&r).is_success() {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            return Ok(resp);
        }
        if status_of(&r) != StatusCode::NOT_FOUND {
            return r;
        }
    }
    run(call, Stage::Quotas).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefix() {
        assert_eq!(super::version_prefix("obj"), "003obj/");
        assert_eq!(
            super::version_prefix(&"a".repeat(300)),
            format!("12c{}/", "a".repeat(300))
        );
    }
}
