//! TempURL: an object URL signed with a key of its account
//! (`X-Account-Meta-Temp-URL-Key`, `-Key-2`) or of its container
//! (`X-Container-Meta-Temp-URL-Key`, `-Key-2`) works without a token until
//! it expires.
//!
//! The signed message is `METHOD\nEXPIRES\nPATH` (Swift's), where PATH is
//! `/v1/<account>/<container>/<object>` or, with `temp_url_prefix`,
//! `prefix:/v1/<account>/<container>/<prefix>`; with `temp_url_ip_range`
//! it starts with `ip=<range>\n`. A HEAD is let through by a signature for
//! GET, HEAD or PUT, as Swift does. A bad, expired or missing signature is
//! 401, whatever token comes with it. `filename` and `inline` set the
//! `Content-Disposition` of the answer; `X-Object-Meta-*` (but
//! `-Public-*`) is not shown to TempURL users. A signed PUT may not copy
//! from elsewhere nor write a large-object manifest (400): a link grants
//! its object, not what a manifest or a copy source would read.

use axum::http::{HeaderValue, header};
use axum::response::Response;

use super::{Stage, run, signature};
use crate::api::Call;
use crate::db::{accounts, containers};
use crate::error::{Result, SwiftError};
use crate::names;

/// The methods a TempURL may be made for (Swift's default `methods`).
pub const METHODS: &[&str] = &["GET", "HEAD", "PUT", "POST", "DELETE"];

pub(crate) async fn handle(mut call: Call) -> Result<Response> {
    let Some(sig) = call.query.get("temp_url_sig").map(str::to_owned) else {
        return run(call, Stage::FormPost).await;
    };
    if !authorized(&call, &sig).await? {
        tracing::debug!(path = %call.target.object_path(), "TempURL refused");
        return Err(SwiftError::Unauthorized);
    }
    // A signature grants its one object: nothing that would read another
    // (a copy source, a DLO or SLO manifest's segments) may come with it.
    if call.method == axum::http::Method::PUT
        && (["x-copy-from", "x-copy-from-account", "x-object-manifest"]
            .iter()
            .any(|h| call.headers.contains_key(*h))
            || call.has_query("multipart-manifest"))
    {
        return Err(SwiftError::BadRequest(
            "TempURL PUTs may not copy nor write large-object manifests".into(),
        ));
    }
    call.grant = Some(call.target.account.clone());
    call.headers.remove("x-timestamp");
    let filename = call.query.get("filename").map(str::to_owned);
    let inline = call.has_query("inline");
    let object = call.target.object.clone().unwrap_or_default();
    let read = crate::api::is_read(&call.method);
    let mut resp = run(call, Stage::FormPost).await?;
    let hidden: Vec<_> = resp
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("x-object-meta-") && !k.as_str().starts_with("x-object-meta-public-"))
        .cloned()
        .collect();
    for k in hidden {
        resp.headers_mut().remove(k);
    }
    if read && resp.status().is_success() {
        let existing = resp.headers().get(header::CONTENT_DISPOSITION).cloned();
        let value = match (inline, filename, existing) {
            (true, None, _) => Some("inline".to_owned()),
            (true, Some(f), _) => Some(format!("inline; {}", disposition_name(&f))),
            (false, Some(f), _) => Some(format!("attachment; {}", disposition_name(&f))),
            (false, None, Some(_)) => None,
            (false, None, None) => {
                let base = object.rsplit('/').next().unwrap_or_default();
                Some(format!("attachment; {}", disposition_name(base)))
            }
        };
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(resp)
}

fn disposition_name(name: &str) -> String {
    let plain = name.replace('"', "\\\"");
    let quoted = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("filename=\"{plain}\"; filename*=UTF-8''{quoted}")
}

async fn authorized(call: &Call, sig: &str) -> Result<bool> {
    let Some(expires) = call.query.get("temp_url_expires").and_then(parse_expires) else {
        return Ok(false);
    };
    if expires < names::now_secs() {
        return Ok(false);
    }
    let (Some(container), Some(object)) = (&call.target.container, &call.target.object) else {
        return Ok(false);
    };
    let method = call.method.as_str();
    if !METHODS.contains(&method) {
        return Ok(false);
    }
    let account = &call.target.account;
    let path = match call.query.get("temp_url_prefix") {
        Some(prefix) if object.starts_with(prefix) => format!("prefix:/v1/{account}/{container}/{prefix}"),
        Some(_) => return Ok(false),
        None => format!("/v1/{account}/{container}/{object}"),
    };
    let ip = match call.query.get("temp_url_ip_range") {
        Some(range) => {
            if !call.peer.is_some_and(|p| in_range(p, range)) {
                return Ok(false);
            }
            format!("ip={range}\n")
        }
        None => String::new(),
    };
    let methods: &[&str] = if method == "HEAD" {
        &["HEAD", "GET", "PUT"]
    } else {
        &[method]
    };
    let messages: Vec<String> = methods
        .iter()
        .map(|m| {
            format!(
                "{ip}{m}\n{}\n{path}",
                call.query.get("temp_url_expires").unwrap_or_default()
            )
        })
        .collect();
    let keys = keys(call, account, container).await?;
    Ok(signature::valid(sig, &keys, &messages))
}

/// The account's and the container's TempURL keys.
pub(crate) async fn keys(call: &Call, account: &str, container: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    if let Some(a) = accounts::get(&call.s.db, account).await? {
        keys.extend(["x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2"].map(|k| a.meta.get(k).cloned()));
    }
    if let Some(c) = containers::get(&call.s.db, account, container).await? {
        keys.extend(
            ["x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2"].map(|k| c.meta.get(k).cloned()),
        );
    }
    Ok(keys.into_iter().flatten().filter(|k| !k.is_empty()).collect())
}

/// Unix seconds, or ISO 8601 `YYYY-MM-DDThh:mm:ssZ` (UTC).
pub fn parse_expires(v: &str) -> Option<i64> {
    if let Ok(n) = v.parse::<i64>() {
        return Some(n);
    }
    let b = v.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| v.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// Whether `ip` is in `range`: an address or a CIDR block.
fn in_range(ip: std::net::IpAddr, range: &str) -> bool {
    let (net, bits) = match range.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (range, None),
    };
    let Ok(net) = net.parse::<std::net::IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(n)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(n)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_ranges() {
        assert_eq!(parse_expires("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_expires("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_expires("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_expires("2023-13-14T22:13:20Z"), None);
        assert_eq!(parse_expires("soon"), None);
        assert!(in_range("10.1.2.3".parse().unwrap(), "10.1.0.0/16"));
        assert!(!in_range("10.2.2.3".parse().unwrap(), "10.1.0.0/16"));
        assert!(in_range("::1".parse().unwrap(), "::1"));
    }
}
