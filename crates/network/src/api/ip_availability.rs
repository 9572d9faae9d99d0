//! `/v2.0/network-ip-availabilities[/{network_id}]`: admins (and
//! services) only, by Neutron's policy. As in Neutron, a caller the policy
//! refuses lists nothing and shows a 404.
//!
//! IPv6 totals do not fit JSON's usual 64-bit integers (two /64 subnets
//! already hold 2^65 - 4 addresses); Neutron prints Python's unbounded
//! integers, and so does this module: a total past `u64` is carried
//! through the generic list machinery as a marked string and written out
//! as a bare integer when the body is serialized.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::listing::{Collection, ListQuery};
use super::{ApiResult, QueryPairs};
use crate::Network;
use crate::error::NetworkError;
use crate::ip_availability::{self, NetworkAvailability};
use api::{Auth, AuthContext};

pub const COLLECTION: Collection = Collection {
    name: "network_ip_availabilities",
    path: "network-ip-availabilities",
    filters: &["network_id", "network_name", "project_id", "tenant_id", "ip_version"],
    sort_keys: &["network_id"],
};

/// The mark of a count too large for a JSON number of 64 bits.
const BIG: &str = "\u{1}big:";

fn count(n: u128) -> Value {
    u64::try_from(n)
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(format!("{BIG}{n}")))
}

/// Writes the marked counts of `total_ips`/`used_ips` as bare integers.
/// Only a value right after one of those keys is touched, and a key
/// cannot appear inside a string of the body (its quotes would be
/// escaped), so a client's text is never rewritten.
fn unmark(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["\"total_ips\":\"\\u0001big:", "\"used_ips\":\"\\u0001big:"]
            .iter()
            .filter_map(|needle| rest.find(needle).map(|i| (i, *needle)))
            .min();
        let Some((i, needle)) = next else {
            break;
        };
        let key_len = needle.find(':').unwrap_or(0) + 1;
        out.push_str(&rest[..i + key_len]);
        let after = &rest[i + needle.len()..];
        let end = after.find('"').unwrap_or(after.len());
        out.push_str(&after[..end]);
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

fn render(a: &NetworkAvailability, ip_version: Option<&[String]>) -> Option<Value> {
    let subnets: Vec<_> = a
        .subnets
        .iter()
        .filter(|s| ip_version.is_none_or(|v| v.iter().any(|v| *v == s.ip_version.to_string())))
        .collect();
    if ip_version.is_some() && subnets.is_empty() {
        return None;
    }
    let total = subnets.iter().fold(0u128, |t, s| t.saturating_add(s.total_ips));
    let used: u128 = subnets.iter().map(|s| s.used_ips).sum();
    let list: Vec<Value> = subnets
        .iter()
        .map(|s| {
            json!({
                "subnet_id": s.subnet_id,
                "subnet_name": s.subnet_name,
                "cidr": s.cidr,
                "ip_version": s.ip_version,
                "total_ips": count(s.total_ips),
                "used_ips": count(s.used_ips),
            })
        })
        .collect();
    Some(json!({
        "network_id": a.network_id,
        "network_name": a.network_name,
        "project_id": a.project_id,
        "tenant_id": a.project_id,
        "total_ips": count(total),
        "used_ips": count(used),
        "subnet_ip_availability": list,
    }))
}

fn allowed(n: &Network, ctx: &AuthContext) -> bool {
    n.allows(ctx, "get_network_ip_availability", &json!({}))
}

fn respond(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        unmark(&body.to_string()),
    )
        .into_response()
}

pub async fn list(State(n): State<Network>, Auth(ctx): Auth, q: QueryPairs) -> ApiResult<Response> {
    let mut query = ListQuery::parse(&q.0, &COLLECTION, n.config.pagination_max_limit)?;
    let ip_version = query.take_filter("ip_version");
    let items = if allowed(&n, &ctx) {
        ip_availability::all(&n)
            .await?
            .iter()
            .filter_map(|a| render(a, ip_version.as_deref()))
            .collect()
    } else {
        Vec::new()
    };
    Ok(respond(&query.body(&n, &COLLECTION, items)?))
}

pub async fn show(
    State(n): State<Network>,
    Auth(ctx): Auth,
    Path(id): Path<String>,
    q: QueryPairs,
) -> ApiResult<Response> {
    if !allowed(&n, &ctx) {
        return Err(NetworkError::hidden().into());
    }
    let a = ip_availability::all(&n)
        .await?
        .into_iter()
        .find(|a| a.network_id == id)
        .ok_or_else(|| NetworkError::network_not_found(&id))?;
    let v = render(&a, None).unwrap_or_default();
    Ok(respond(
        &json!({"network_ip_availability": ListQuery::fields_of(&q.0, v)}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_u64_are_bare_integers() {
        let body = json!({"a": [{"total_ips": count(1 << 65), "used_ips": count(3), "name": format!("{BIG}7")}]});
        let text = unmark(&body.to_string());
        let v: Value = serde_json::from_str(&text.replace("36893488147419103232", "1")).unwrap();
        assert!(text.contains("\"total_ips\":36893488147419103232"), "{text}");
        assert_eq!(v["a"][0]["used_ips"], 3);
        assert_eq!(v["a"][0]["name"], format!("{BIG}7"));
    }
}
