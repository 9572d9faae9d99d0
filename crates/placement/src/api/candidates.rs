//! `GET /allocation_candidates` (1.10).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::microversion::{Mv, Version};
use super::{ApiResult, QueryPairs, json, not_found_at_version, query};
use crate::Placement;
use crate::candidates::{self, CandidateRequest, GroupPolicy, RequestGroup};
use api::{ApiError, Auth};

const PREFIXES: &[&str] = &["resources", "required", "member_of", "in_tree"];

/// Splits `resources_NET` into (`resources`, `_NET`).
fn split_key(k: &str) -> Option<(&'static str, &str)> {
    PREFIXES
        .iter()
        .find(|p| k.starts_with(**p))
        .map(|p| (*p, &k[p.len()..]))
}

fn valid_suffix(s: &str, mv: Version) -> bool {
    if mv.at_least(33) {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    } else {
        !s.is_empty() && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(format!("Invalid query string parameters: {}", msg.into()))
}

fn parse(pairs: &[(String, String)], mv: Version) -> ApiResult<CandidateRequest> {
    let mut groups: BTreeMap<String, RequestGroup> = BTreeMap::new();
    let mut keys_by_suffix: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    let mut limit = None;
    let mut group_policy = None;
    for (k, v) in pairs {
        match k.as_str() {
            "limit" if mv.at_least(16) => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| bad(format!("'{v}' does not match '^[1-9][0-9]*$'")))?;
                if n < 1 {
                    return Err(bad(format!("'{v}' does not match '^[1-9][0-9]*$'")));
                }
                limit = Some(n as usize);
                continue;
            }
            "group_policy" if mv.at_least(25) => {
                group_policy = Some(match v.as_str() {
                    "none" => GroupPolicy::None,
                    "isolate" => GroupPolicy::Isolate,
                    _ => return Err(bad(format!("'{v}' is not one of ['none', 'isolate']"))),
                });
                continue;
            }
            "root_required" | "same_subtree" if mv.at_least(35) => {
                return Err(ApiError::bad_request(format!(
                    "The '{k}' query parameter is not supported by this placement service."
                )));
            }
            _ => {}
        }
        let Some((prefix, suffix)) = split_key(k) else {
            return Err(bad(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        };
        let allowed = match prefix {
            "resources" => true,
            "required" => mv.at_least(17),
            "member_of" => mv.at_least(21),
            _ => mv.at_least(31),
        } && (suffix.is_empty() || (mv.at_least(25) && valid_suffix(suffix, mv)));
        if !allowed {
            return Err(bad(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        keys_by_suffix.entry(suffix.to_owned()).or_default().insert(prefix);
        groups.entry(suffix.to_owned()).or_insert_with(|| RequestGroup {
            suffix: suffix.to_owned(),
            ..Default::default()
        });
    }
    for (suffix, prefixes) in &keys_by_suffix {
        let g = groups.get_mut(suffix).expect("group exists");
        if prefixes.contains("resources") {
            if let Some(v) = query::last(pairs, &format!("resources{suffix}")) {
                g.resources = query::resources(v)?;
            }
        } else if !suffix.is_empty() || !prefixes.is_empty() {
            // Resourceless groups need same_subtree (1.36), not offered here.
            let keys: Vec<String> = prefixes.iter().map(|p| format!("{p}{suffix}")).collect();
            return Err(ApiError::bad_request(format!(
                "All request groups must specify resources. Found a group without resources: {}",
                keys.join(", ")
            )));
        }
        let key = format!("required{suffix}");
        let req = query::all(pairs, &key);
        if !req.is_empty() {
            g.traits = query::traits(&req, mv)?;
        }
        let key = format!("member_of{suffix}");
        let mo = query::all(pairs, &key);
        if !mo.is_empty() {
            g.aggregates = query::member_of(&mo, suffix, mv)?;
        }
        if let Some(t) = query::last(pairs, &format!("in_tree{suffix}")) {
            g.in_tree = Some(query::in_tree(t)?);
        }
    }
    if groups.is_empty() {
        return Err(bad("'resources' is a required property"));
    }
    let suffixed = groups.keys().filter(|s| !s.is_empty()).count();
    if suffixed > 1 && group_policy.is_none() {
        return Err(ApiError::bad_request(
            "The \"group_policy\" parameter is required when specifying more than one \"resources{N}\" parameter.",
        ));
    }
    Ok(CandidateRequest {
        groups: groups.into_values().collect(),
        group_policy,
        limit,
        nested: mv.at_least(29),
    })
}

pub async fn list(State(p): State<Placement>, Auth(ctx): Auth, Mv(mv): Mv, q: QueryPairs) -> ApiResult<Response> {
    if !mv.at_least(10) {
        return Err(not_found_at_version());
    }
    p.can(&ctx, "placement:allocation_candidates:list", &json!({}))?;
    let req = parse(&q.0, mv)?;
    let found = candidates::find(&p, &req).await?;
    let requests: Vec<Value> = found
        .requests
        .iter()
        .map(|r| {
            if mv.at_least(12) {
                let allocs: Map<String, Value> = r
                    .allocations
                    .iter()
                    .map(|(rp, res)| (rp.clone(), json!({"resources": res})))
                    .collect();
                let mut v = json!({"allocations": allocs});
                if mv.at_least(34) {
                    v["mappings"] = json!(r.mappings);
                }
                v
            } else {
                let list: Vec<Value> = r
                    .allocations
                    .iter()
                    .map(|(rp, res)| json!({"resource_provider": {"uuid": rp}, "resources": res}))
                    .collect();
                json!({"allocations": list})
            }
        })
        .collect();
    let requested: BTreeSet<&String> = req.groups.iter().flat_map(|g| g.resources.keys()).collect();
    let mut summaries = Map::new();
    for (rp, s) in &found.summaries {
        let resources: Map<String, Value> = s
            .resources
            .iter()
            .filter(|(rc, _)| mv.at_least(27) || requested.contains(rc))
            .map(|(rc, (capacity, used))| (rc.clone(), json!({"capacity": capacity, "used": used})))
            .collect();
        let mut v = json!({"resources": resources});
        if mv.at_least(17) {
            v["traits"] = json!(s.traits);
        }
        if mv.at_least(29) {
            v["parent_provider_uuid"] = json!(s.parent_provider_uuid);
            v["root_provider_uuid"] = json!(s.root_provider_uuid);
        }
        summaries.insert(rp.clone(), v);
    }
    Ok(json(
        StatusCode::OK,
        json!({"allocation_requests": requests, "provider_summaries": summaries}),
    ))
}
