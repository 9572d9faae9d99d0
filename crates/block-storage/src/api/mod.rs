//! Cinder v3's HTTP surface: the route table and the helpers the resource
//! files share (the caller, lists with filters, sort and pages).

mod attachments;
mod filters;
mod messages;
mod misc;
mod qos_specs;
mod quotas;
mod snapshots;
mod transfers;
mod types;
pub mod versions;
mod volumes;

use std::cmp::Ordering;

use axum::Router;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use ::api::{ApiError, AuthContext};

use crate::{BlockStorage, Caller};

/// The error type of every handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Query pairs, as axum hands them over.
pub(crate) type QueryPairs = axum::extract::Query<Vec<(String, String)>>;

impl BlockStorage {
    /// Every route of the service, in the API reference's order, wrapped in
    /// the common middleware stack.
    pub fn router(&self) -> Router {
        let v3 = Router::new()
            .route("/v3/{project_id}/volumes", get(volumes::list).post(volumes::create))
            .route("/v3/{project_id}/volumes/detail", get(volumes::detail))
            .route("/v3/{project_id}/volumes/summary", get(volumes::summary_of))
            .route(
                "/v3/{project_id}/volumes/{id}",
                get(volumes::show).put(volumes::update).delete(volumes::delete),
            )
            .route("/v3/{project_id}/volumes/{id}/action", post(volumes::action))
            .route(
                "/v3/{project_id}/volumes/{id}/metadata",
                get(volumes::metadata)
                    .post(volumes::metadata_merge)
                    .put(volumes::metadata_replace),
            )
            .route(
                "/v3/{project_id}/volumes/{id}/metadata/{key}",
                get(volumes::metadata_item)
                    .put(volumes::metadata_item_set)
                    .delete(volumes::metadata_item_delete),
            )
            .route(
                "/v3/{project_id}/snapshots",
                get(snapshots::list).post(snapshots::create),
            )
            .route("/v3/{project_id}/snapshots/detail", get(snapshots::detail))
            .route(
                "/v3/{project_id}/snapshots/{id}",
                get(snapshots::show).put(snapshots::update).delete(snapshots::delete),
            )
            .route("/v3/{project_id}/snapshots/{id}/action", post(snapshots::action))
            .route(
                "/v3/{project_id}/snapshots/{id}/metadata",
                get(snapshots::metadata)
                    .post(snapshots::metadata_merge)
                    .put(snapshots::metadata_replace),
            )
            .route(
                "/v3/{project_id}/snapshots/{id}/metadata/{key}",
                get(snapshots::metadata_item)
                    .put(snapshots::metadata_item_set)
                    .delete(snapshots::metadata_item_delete),
            )
            .route(
                "/v3/{project_id}/attachments",
                get(attachments::list).post(attachments::create),
            )
            .route("/v3/{project_id}/attachments/detail", get(attachments::list_detail))
            .route(
                "/v3/{project_id}/attachments/{id}",
                get(attachments::show)
                    .put(attachments::update)
                    .delete(attachments::delete),
            )
            .route("/v3/{project_id}/attachments/{id}/action", post(attachments::action))
            .route("/v3/{project_id}/messages", get(messages::list))
            .route(
                "/v3/{project_id}/messages/{id}",
                get(messages::show).delete(messages::delete),
            )
            .route(
                "/v3/{project_id}/os-volume-transfer",
                get(transfers::list).post(transfers::create),
            )
            .route("/v3/{project_id}/os-volume-transfer/detail", get(transfers::detail))
            .route(
                "/v3/{project_id}/os-volume-transfer/{id}",
                get(transfers::show).delete(transfers::delete),
            )
            .route(
                "/v3/{project_id}/os-volume-transfer/{id}/accept",
                post(transfers::accept),
            )
            .route("/v3/{project_id}/resource_filters", get(misc::resource_filters))
            .route("/v3/{project_id}/types", get(types::list).post(types::create))
            .route("/v3/{project_id}/types/default", get(types::show_default))
            .route(
                "/v3/{project_id}/types/{id}",
                get(types::show).put(types::update).delete(types::delete),
            )
            .route(
                "/v3/{project_id}/types/{id}/extra_specs",
                get(types::extra_specs).post(types::extra_specs_set),
            )
            .route(
                "/v3/{project_id}/types/{id}/extra_specs/{key}",
                get(types::extra_spec)
                    .put(types::extra_spec_set)
                    .delete(types::extra_spec_delete),
            )
            .route("/v3/{project_id}/types/{id}/action", post(types::action))
            .route(
                "/v3/{project_id}/types/{id}/os-volume-type-access",
                get(types::access_list),
            )
            .route(
                "/v3/{project_id}/qos-specs",
                get(qos_specs::list).post(qos_specs::create),
            )
            .route(
                "/v3/{project_id}/qos-specs/{id}",
                get(qos_specs::show).put(qos_specs::update).delete(qos_specs::delete),
            )
            .route(
                "/v3/{project_id}/qos-specs/{id}/delete_keys",
                put(qos_specs::delete_keys),
            )
            .route(
                "/v3/{project_id}/qos-specs/{id}/associations",
                get(qos_specs::associations),
            )
            .route("/v3/{project_id}/qos-specs/{id}/associate", get(qos_specs::associate))
            .route(
                "/v3/{project_id}/qos-specs/{id}/disassociate",
                get(qos_specs::disassociate),
            )
            .route(
                "/v3/{project_id}/qos-specs/{id}/disassociate_all",
                get(qos_specs::disassociate_all),
            )
            .route(
                "/v3/{project_id}/os-quota-sets/{target}",
                get(quotas::show).put(quotas::update).delete(quotas::delete),
            )
            .route(
                "/v3/{project_id}/os-quota-sets/{target}/defaults",
                get(quotas::defaults),
            )
            .route(
                "/v3/{project_id}/os-quota-class-sets/{class}",
                get(quotas::class_show).put(quotas::class_update),
            )
            .route("/v3/{project_id}/limits", get(quotas::limits))
            .route("/v3/{project_id}/os-availability-zone", get(misc::zones))
            .route("/v3/{project_id}/os-services", get(misc::services))
            .route("/v3/{project_id}/os-services/{action}", put(misc::service_update))
            .route("/v3/{project_id}/os-hosts", get(misc::hosts))
            .route("/v3/{project_id}/os-hosts/{host}", get(misc::host))
            .route("/v3/{project_id}/extensions", get(misc::extensions))
            .route("/v3/{project_id}/scheduler-stats/get_pools", get(misc::pools))
            .route("/v3/{project_id}/capabilities/{host}", get(misc::capabilities))
            .layer(axum::middleware::from_fn(versions::layer));
        let routes = Router::new()
            .route("/", get(versions::root))
            .route("/v3", get(versions::v3_doc))
            .route("/v3/", get(versions::v3_doc))
            .merge(v3)
            .with_state(self.clone());
        ::api::service_layers(
            routes,
            ::api::FaultStyle::Nova,
            self.auth.clone(),
            self.config.max_request_body_size,
        )
    }

    /// The caller of a `/v3/{project_id}/…` request: the token's project
    /// must be the URL's (Cinder: "Malformed request url").
    pub(crate) fn caller(&self, ctx: &AuthContext, project_in_url: &str) -> ApiResult<Caller> {
        let project = ctx.project_id.clone().unwrap_or_default();
        if project != project_in_url {
            return Err(ApiError::bad_request("Malformed request url"));
        }
        Ok(Caller {
            user_id: ctx.user_id.clone(),
            project_id: project,
            is_admin: self.policy.enforce("context_is_admin", &json!({}), &ctx.policy_creds),
            token: ctx.token.clone(),
            request_id: None,
        })
    }

    /// `?`: 403 unless the rule allows it on the owner `project_id`.
    pub(crate) fn authorize(&self, ctx: &AuthContext, rule: &str, project_id: &str) -> ApiResult<()> {
        ::api::enforce(&self.policy, rule, ctx, &json!({"project_id": project_id}))
    }

    /// Whether the rule allows it (for attributes shown only to some).
    pub(crate) fn allowed(&self, ctx: &AuthContext, rule: &str, project_id: &str) -> bool {
        self.policy
            .enforce(rule, &json!({"project_id": project_id}), &ctx.policy_creds)
    }
}

/// `2024-01-02T03:04:05.000000`, as Cinder renders times.
pub(crate) fn isotime(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

pub(crate) fn query<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `true`/`1`/`yes` … as oslo's `bool_from_string`; `Err` on garbage.
pub(crate) fn truthy(v: &str) -> Result<bool, ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Ok(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "Invalid input received: Unrecognized value '{v}', acceptable values are: '0', '1', 'f', 'false', \
             'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
        ))),
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (x, y) => x.as_str().unwrap_or_default().cmp(y.as_str().unwrap_or_default()),
    }
}

/// Sorts rendered items (`sort=key:dir,…` or `sort_key`/`sort_dir`,
/// Cinder's default `created_at` then `id`, descending), then pages them
/// by `marker`/`limit`. Returns the page and its `*_links`.
pub(crate) fn sort_and_page(
    mut items: Vec<Value>,
    q: &[(String, String)],
    allowed_keys: &[&str],
    max_limit: usize,
    base_url: &str,
) -> ApiResult<(Vec<Value>, Vec<Value>)> {
    let mut keys: Vec<(String, bool)> = Vec::new();
    if let Some(sort) = query(q, "sort") {
        for part in sort.split(',').filter(|p| !p.is_empty()) {
            let (k, dir) = part.split_once(':').unwrap_or((part, "desc"));
            keys.push((sort_alias(k.trim()), parse_dir(dir)?));
        }
    } else if let Some(ks) = query(q, "sort_key") {
        let dirs: Vec<&str> = query(q, "sort_dir").unwrap_or("desc").split(',').collect();
        for (i, k) in ks.split(',').enumerate() {
            keys.push((sort_alias(k.trim()), parse_dir(dirs.get(i).copied().unwrap_or("desc"))?));
        }
    }
    for (k, _) in &keys {
        if !allowed_keys.contains(&k.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Invalid input received: Invalid sort key {k}"
            )));
        }
    }
    if keys.is_empty() {
        keys.push(("created_at".into(), true));
    }
    if !keys.iter().any(|(k, _)| k == "id") {
        let desc = keys.last().is_some_and(|(_, d)| *d);
        keys.push(("id".into(), desc));
    }
    items.sort_by(|a, b| {
        for (k, desc) in &keys {
            let o = compare(&a[k.as_str()], &b[k.as_str()]);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let page = ::api::page::Page::from_query(q, max_limit)?;
    if let Some(marker) = &page.marker {
        let Some(i) = items.iter().position(|v| v["id"].as_str() == Some(marker.as_str())) else {
            return Err(ApiError::not_found(format!("Marker {marker} could not be found.")));
        };
        items.drain(..=i);
    }
    if let Some(offset) = query(q, "offset") {
        let n: usize = offset.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "Invalid input received: offset {offset} is not an integer >= 0"
            ))
        })?;
        items.drain(..n.min(items.len()));
    }
    let limit = page.limit.unwrap_or(max_limit);
    items.truncate(limit);
    let paging = ::api::page::Page {
        limit: Some(limit),
        marker: page.marker.clone(),
    };
    let last = items.last().and_then(|v| v["id"].as_str()).map(str::to_owned);
    let links = paging.links(base_url, q, items.len(), last.as_deref());
    Ok((items, links))
}

/// Cinder's v1 names of sort keys.
fn sort_alias(k: &str) -> String {
    match k {
        "display_name" => "name".into(),
        "display_description" => "description".into(),
        other => other.to_owned(),
    }
}

fn parse_dir(d: &str) -> ApiResult<bool> {
    match d.trim().to_ascii_lowercase().as_str() {
        "desc" => Ok(true),
        "asc" => Ok(false),
        other => Err(ApiError::bad_request(format!(
            "Invalid input received: Unknown sort direction, must be 'desc' or 'asc': {other}"
        ))),
    }
}

/// `{"rel": "self"/"bookmark", "href"}` of a resource.
pub(crate) fn links(bs: &BlockStorage, project: &str, collection: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{}/v3/{project}/{collection}/{id}", bs.base_url())},
        {"rel": "bookmark", "href": format!("{}/{project}/{collection}/{id}", bs.base_url())},
    ])
}

/// The `metadata` object of a metadata write (`PUT`/`POST …/metadata`).
pub(crate) fn metadata_body(body: &Value) -> ApiResult<std::collections::BTreeMap<String, String>> {
    if !body["metadata"].is_object() {
        return Err(ApiError::bad_request("Malformed request body: 'metadata' is required."));
    }
    string_map(&body["metadata"], "metadata")
}

/// A string → string map from a JSON object whose values may be scalars.
pub(crate) fn string_map(v: &Value, what: &str) -> ApiResult<std::collections::BTreeMap<String, String>> {
    let Some(obj) = v.as_object() else {
        return Err(ApiError::bad_request(format!(
            "Invalid input received: {what} must be an object."
        )));
    };
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in obj {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid input received: the value of {what} {k} must be a string."
                )));
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}
