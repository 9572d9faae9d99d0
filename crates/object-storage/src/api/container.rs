//! `/v1/{account}/{container}`: PUT (201/202), HEAD, GET (object listing),
//! POST (metadata, ACLs), DELETE (409 unless empty).

use axum::http::{HeaderName, Method, StatusCode};
use axum::response::Response;

use super::listing::{self, Format};
use super::{Call, empty, hn, is_read, meta_headers, method_not_allowed};
use crate::access::{self, Want};
use crate::db::{accounts, containers, objects};
use crate::error::{Result, SwiftError};
use crate::names::Timestamp;
use crate::{listing as list, meta};

/// Container headers kept with the metadata besides `x-container-meta-*`.
pub const EXTRA: &[&str] = &[
    "x-container-read",
    "x-container-write",
    "x-versions-location",
    "x-history-location",
    "x-container-sync-to",
    "x-container-sync-key",
];

pub async fn handle(call: Call) -> Result<Response> {
    let name = call.target.container.clone().unwrap_or_default();
    let owner = call.owner();
    if !owner {
        if !is_read(&call.method) {
            return Err(call.denied());
        }
        let row = containers::get(&call.s.db, &call.target.account, &name).await?;
        let allowed = row.as_ref().is_some_and(|r| {
            access::acl_allows(
                call.ctx(),
                r.meta.get("x-container-read").map(String::as_str),
                None,
                Want::List,
            )
        });
        if !allowed {
            return Err(call.denied());
        }
    }
    match call.method.clone() {
        m if is_read(&m) => get(&call, &name, owner).await,
        Method::PUT => put(&call, &name).await,
        Method::POST => post(&call, &name).await,
        Method::DELETE => delete(&call, &name).await,
        _ => Ok(method_not_allowed()),
    }
}

fn changes(call: &Call) -> Result<meta::Changes> {
    let c = meta::changes(call.header_pairs(), "container", EXTRA)?;
    for (k, v) in &c {
        if let Some(v) = v
            && (k == "x-container-read" || k == "x-container-write")
            && !access::valid_acl(v, k == "x-container-write")
        {
            return Err(SwiftError::BadRequest(format!("Invalid {k} ACL")));
        }
    }
    Ok(c)
}

async fn put(call: &Call, name: &str) -> Result<Response> {
    let changes = changes(call)?;
    let db = &call.s.db;
    let ts = call.s.clock.now();
    accounts::ensure(db, &call.target.account, ts.0).await?;
    let mut row = containers::ContainerRow {
        account: call.target.account.clone(),
        name: name.to_owned(),
        created: ts.0,
        put_timestamp: ts.0,
        object_count: 0,
        bytes_used: 0,
        meta: Default::default(),
    };
    meta::apply(&mut row.meta, changes.clone());
    meta::check_total(&row.meta, "container")?;
    if containers::insert(db, &row).await? {
        return Ok(empty(StatusCode::CREATED, Vec::new()));
    }
    let mut existing = containers::get(db, &call.target.account, name)
        .await?
        .ok_or(SwiftError::NotFound)?;
    meta::apply(&mut existing.meta, changes);
    meta::check_total(&existing.meta, "container")?;
    containers::set_meta(db, &call.target.account, name, &existing.meta, existing.put_timestamp).await?;
    Ok(empty(StatusCode::ACCEPTED, Vec::new()))
}

async fn post(call: &Call, name: &str) -> Result<Response> {
    let changes = changes(call)?;
    let db = &call.s.db;
    let mut row = containers::get(db, &call.target.account, name)
        .await?
        .ok_or(SwiftError::NotFound)?;
    meta::apply(&mut row.meta, changes);
    meta::check_total(&row.meta, "container")?;
    containers::set_meta(db, &call.target.account, name, &row.meta, row.put_timestamp).await?;
    Ok(empty(StatusCode::NO_CONTENT, Vec::new()))
}

async fn delete(call: &Call, name: &str) -> Result<Response> {
    match containers::delete_if_empty(&call.s.db, &call.target.account, name).await? {
        containers::Deleted::Yes => Ok(empty(StatusCode::NO_CONTENT, Vec::new())),
        containers::Deleted::NotFound => Err(SwiftError::NotFound),
        containers::Deleted::NotEmpty => Err(SwiftError::Conflict(
            "There was a conflict when trying to complete your request.".into(),
        )),
    }
}

fn headers(row: &containers::ContainerRow, owner: bool) -> Vec<(HeaderName, String)> {
    let mut h = vec![
        (hn("x-container-object-count"), row.object_count.to_string()),
        (hn("x-container-bytes-used"), row.bytes_used.to_string()),
        (hn("x-timestamp"), Timestamp(row.created).normal()),
        (hn("x-put-timestamp"), Timestamp(row.put_timestamp).normal()),
        (hn("x-storage-policy"), "Policy-0".to_owned()),
        (hn("last-modified"), Timestamp(row.put_timestamp).http_date()),
        (hn("accept-ranges"), "bytes".to_owned()),
    ];
    h.extend(meta_headers(&row.meta, owner));
    h
}

async fn get(call: &Call, name: &str, owner: bool) -> Result<Response> {
    let db = call.s.db.clone();
    let row = containers::get(&db, &call.target.account, name)
        .await?
        .ok_or(SwiftError::NotFound)?;
    let format = Format::of(call);
    let params = listing::params(call)?;
    let account = call.target.account.clone();
    let container = name.to_owned();
    let entries = list::list(
        &params,
        |w| {
            let (db, account, container) = (db.clone(), account.clone(), container.clone());
            async move { Ok(objects::list(&db, &account, &container, &w).await?) }
        },
        |o: &objects::ObjectRow| o.name.as_str(),
    )
    .await?;
    let body = listing::objects_body(format, name, &entries);
    Ok(listing::respond(
        call,
        format,
        entries.is_empty(),
        body,
        headers(&row, owner),
    ))
}
