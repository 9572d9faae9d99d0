//! Swift's proxy middleware, one module each, in the order of Swift's
//! default pipeline: [`tempurl`] and [`formpost`] (signatures instead of
//! tokens), [`bulk`] (bulk delete, archive extraction), [`slo`] (static
//! large objects), [`versioning`] (`X-Versions-Location` /
//! `X-History-Location`), [`quotas`] (container and account quotas), then
//! the account/container/object handlers of `api`.
//!
//! Each middleware gets the request, may answer it, change it, or pass it
//! on with `run` from the next [`Stage`]. What a middleware does on the
//! caller's behalf (a segment read, a delete in a bulk request, the copy
//! of an old version) is a sub-request (`Call::sub`) sent
//! through the stages after its own, with the caller's token, so the ACLs
//! and quotas apply to it as they would to the client.

pub mod bulk;
pub mod formpost;
pub mod quotas;
pub mod signature;
pub mod slo;
pub mod tempurl;
pub mod versioning;

use axum::response::Response;
use futures::future::BoxFuture;

use crate::api::Call;
use crate::error::{Result, SwiftError};

/// Where a request enters the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    First,
    FormPost,
    Bulk,
    Slo,
    Versioning,
    Quotas,
    App,
}

/// Runs `call` through the middleware from `stage` on.
pub(crate) fn run(call: Call, stage: Stage) -> BoxFuture<'static, Result<Response>> {
    Box::pin(async move {
        match stage {
            Stage::First => tempurl::handle(call).await,
            Stage::FormPost => formpost::handle(call).await,
            Stage::Bulk => bulk::handle(call).await,
            Stage::Slo => slo::handle(call).await,
            Stage::Versioning => versioning::handle(call).await,
            Stage::Quotas => quotas::handle(call).await,
            Stage::App => crate::api::app(call).await,
        }
    })
}

/// A sub-request's outcome as a status: errors become their status, as
/// Swift's sub-requests see them.
pub(crate) fn status_of(r: &Result<Response>) -> axum::http::StatusCode {
    match r {
        Ok(r) => r.status(),
        Err(e) => e.status(),
    }
}

/// Reads a small body (a manifest, a form field, a delete list), refusing
/// more than `limit` bytes.
pub(crate) async fn read_limited(body: axum::body::Body, limit: usize, what: &str) -> Result<Vec<u8>> {
    use futures::StreamExt;
    let mut out = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| SwiftError::BadRequest("The client did not send the whole body.".into()))?;
        if out.len() + chunk.len() > limit {
            return Err(SwiftError::TooLarge(format!("{what} is too large")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
