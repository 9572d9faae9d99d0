//! Container quotas (`X-Container-Meta-Quota-Bytes`, `-Quota-Count`, set by
//! the container's owner) and account quotas (`X-Account-Meta-Quota-Bytes`,
//! and Swift 2.34's `X-Account-Quota-Bytes` and `X-Account-Quota-Count`,
//! set only by a reseller admin): an object PUT or COPY that would take the
//! container or the account past its quota is refused with 413, before any
//! byte is stored. As in Swift, the check uses the request's
//! `Content-Length` (or the copy source's size); a chunked upload is
//! counted as zero bytes, and an overwrite is counted in full.

use axum::http::Method;
use axum::response::Response;

use super::{Stage, run};
use crate::api::Call;
use crate::db::{accounts, containers};
use crate::error::{Result, SwiftError};

const CONTAINER_QUOTAS: &[&str] = &["x-container-meta-quota-bytes", "x-container-meta-quota-count"];
const ACCOUNT_QUOTA: &str = "x-account-meta-quota-bytes";
const ACCOUNT_QUOTAS: &[&str] = &[ACCOUNT_QUOTA, "x-account-quota-bytes", "x-account-quota-count"];

pub(crate) async fn handle(call: Call) -> Result<Response> {
    let t = &call.target;
    match (&t.container, &t.object, &call.method) {
        (None, None, &Method::POST | &Method::PUT) => account_meta(&call)?,
        (Some(_), None, &Method::POST | &Method::PUT) => container_meta(&call)?,
        (Some(_), Some(_), m) if m == Method::PUT || m.as_str() == "COPY" => check_upload(&call).await?,
        _ => {}
    }
    run(call, Stage::App).await
}

fn non_negative(call: &Call, name: &str) -> Result<()> {
    match call.header(name) {
        Some(v) if !v.is_empty() && v.parse::<u64>().is_err() => Err(SwiftError::BadRequest(format!(
            "Invalid value for {name}: must be an integer"
        ))),
        _ => Ok(()),
    }
}

fn container_meta(call: &Call) -> Result<()> {
    CONTAINER_QUOTAS.iter().try_for_each(|h| non_negative(call, h))
}

/// Only a reseller admin sets or removes an account's quota; the account's
/// owner may not raise its own.
fn account_meta(call: &Call) -> Result<()> {
    let touches = ACCOUNT_QUOTAS
        .iter()
        .any(|h| call.header(h).is_some() || call.header(&h.replacen("x-", "x-remove-", 1)).is_some());
    if !touches {
        return Ok(());
    }
    if !call.ctx().is_some_and(crate::access::is_reseller_admin) {
        return Err(call.denied());
    }
    ACCOUNT_QUOTAS.iter().try_for_each(|h| non_negative(call, h))
}

/// The size the request adds: its length, or the source's for a copy.
async fn upload_size(call: &Call) -> Result<Option<u64>> {
    let source = if call.method.as_str() == "COPY" {
        Some((call.target.account.clone(), call.target.object_path()))
    } else {
        call.header("x-copy-from").map(|src| {
            let account = call
                .header("x-copy-from-account")
                .map(str::to_owned)
                .unwrap_or_else(|| call.target.account.clone());
            let src = percent_encoding::percent_decode_str(src)
                .decode_utf8_lossy()
                .into_owned();
            (account.clone(), format!("/{account}/{}", src.trim_start_matches('/')))
        })
    };
    match source {
        Some((_, path)) => Ok(call.s.objects().open(&path).await?.map(|o| o.meta.size)),
        None => Ok(call.header("content-length").and_then(|v| v.parse().ok())),
    }
}

async fn check_upload(call: &Call) -> Result<()> {
    // For COPY the quotas that count are the destination's.
    let (account, container) = if call.method.as_str() == "COPY" {
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
    } else {
        (
            call.target.account.clone(),
            call.target.container.clone().unwrap_or_default(),
        )
    };
    let db = &call.s.db;
    let row = containers::get(db, &account, &container).await?;
    let account_row = accounts::get(db, &account).await?;
    let quota = |m: Option<&String>| m.and_then(|v| v.parse::<i64>().ok());
    let container_bytes = row.as_ref().and_then(|r| quota(r.meta.get(CONTAINER_QUOTAS[0])));
    let container_count = row.as_ref().and_then(|r| quota(r.meta.get(CONTAINER_QUOTAS[1])));
    let account_quota = |k: &str| account_row.as_ref().and_then(|a| quota(a.meta.get(k)));
    // The smaller of the legacy and the new byte quota counts.
    let account_bytes = match (account_quota(ACCOUNT_QUOTAS[0]), account_quota(ACCOUNT_QUOTAS[1])) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let account_count = account_quota(ACCOUNT_QUOTAS[2]);
    if container_bytes.is_none() && container_count.is_none() && account_bytes.is_none() && account_count.is_none() {
        return Ok(());
    }
    let size = upload_size(call).await?.unwrap_or(0) as i64;
    let over = || SwiftError::TooLarge("Upload exceeds quota.".into());
    if let Some(r) = &row {
        if container_bytes.is_some_and(|q| r.bytes_used + size > q) {
            return Err(over());
        }
        if container_count.is_some_and(|q| r.object_count + 1 > q) {
            return Err(over());
        }
    }
    if account_bytes.is_some() || account_count.is_some() {
        let stats = accounts::stats(db, &account).await?;
        if account_bytes.is_some_and(|q| stats.bytes + size > q) || account_count.is_some_and(|q| stats.objects + 1 > q)
        {
            return Err(over());
        }
    }
    Ok(())
}
