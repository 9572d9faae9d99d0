//! `/v1/{account}`: HEAD, GET (container listing), POST (metadata).
//! Accounts are created on first use; PUT and DELETE are reseller
//! operations Swift disables by default (405).

use axum::http::{HeaderName, Method, StatusCode};
use axum::response::Response;

use super::listing::{self, Format};
use super::{Call, empty, hn, is_read, meta_headers, method_not_allowed};
use crate::db::{accounts, containers};
use crate::error::{Result, SwiftError};
use crate::names::Timestamp;
use crate::{listing as list, meta};

/// Account headers kept with the metadata besides `x-account-meta-*`:
/// the quotas of Swift ≥ 2.34 (set by reseller admins only, see
/// `middleware::quotas`).
pub const ACCOUNT_EXTRA: &[&str] = &["x-account-quota-bytes", "x-account-quota-count"];

pub async fn handle(mut call: Call) -> Result<Response> {
    if !call.owner() {
        return Err(call.denied());
    }
    match call.method.clone() {
        m if is_read(&m) => get(&call).await,
        Method::POST => post(&mut call).await,
        _ => Ok(method_not_allowed()),
    }
}

async fn stats_headers(call: &Call) -> Result<Vec<(HeaderName, String)>> {
    let db = &call.s.db;
    let account = accounts::get(db, &call.target.account).await?;
    let stats = accounts::stats(db, &call.target.account).await?;
    let now = call.s.clock.now().0;
    let created = account.as_ref().map(|a| a.created).unwrap_or(now);
    let put = account.as_ref().map(|a| a.put_timestamp).unwrap_or(now);
    let mut h = vec![
        (hn("x-account-container-count"), stats.containers.to_string()),
        (hn("x-account-object-count"), stats.objects.to_string()),
        (hn("x-account-bytes-used"), stats.bytes.to_string()),
        (hn("x-timestamp"), Timestamp(created).normal()),
        (hn("x-put-timestamp"), Timestamp(put).normal()),
    ];
    if stats.containers > 0 {
        h.push((
            hn("x-account-storage-policy-policy-0-container-count"),
            stats.containers.to_string(),
        ));
        h.push((
            hn("x-account-storage-policy-policy-0-object-count"),
            stats.objects.to_string(),
        ));
        h.push((
            hn("x-account-storage-policy-policy-0-bytes-used"),
            stats.bytes.to_string(),
        ));
    }
    if let Some(a) = &account {
        h.extend(meta_headers(&a.meta, true));
    }
    Ok(h)
}

async fn get(call: &Call) -> Result<Response> {
    let headers = stats_headers(call).await?;
    let format = Format::of(call);
    let params = listing::params(call)?;
    let db = call.s.db.clone();
    let account = call.target.account.clone();
    let entries = list::list(
        &params,
        |w| {
            let db = db.clone();
            let account = account.clone();
            async move { Ok(containers::list(&db, &account, &w).await?) }
        },
        |c: &containers::ContainerRow| c.name.as_str(),
    )
    .await?;
    let body = listing::containers_body(format, &call.target.account, &entries);
    Ok(listing::respond(call, format, entries.is_empty(), body, headers))
}

async fn post(call: &mut Call) -> Result<Response> {
    let changes = meta::changes(call.header_pairs(), "account", ACCOUNT_EXTRA)?;
    let db = &call.s.db;
    let ts = call.s.clock.now();
    accounts::ensure(db, &call.target.account, ts.0).await?;
    let mut row = accounts::get(db, &call.target.account)
        .await?
        .ok_or(SwiftError::NotFound)?;
    meta::apply(&mut row.meta, changes);
    meta::check_total(&row.meta, "account")?;
    accounts::set_meta(db, &call.target.account, &row.meta, ts.0).await?;
    Ok(empty(StatusCode::NO_CONTENT, Vec::new()))
}
