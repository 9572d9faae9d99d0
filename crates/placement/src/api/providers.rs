//! `/resource_providers` and `/resource_providers/{uuid}`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::microversion::{Mv, Version};
use super::{ApiResult, QueryPairs, body, int, json, link, no_content, only, query, required, string, uuid_field};
use crate::Placement;
use crate::providers::{self, ListFilter, Provider};
use api::Auth;

pub(crate) fn provider_url(uuid: &str) -> String {
    format!("/resource_providers/{uuid}")
}

pub(crate) fn render(rp: &Provider, mv: Version) -> Value {
    let url = provider_url(&rp.uuid);
    let mut links = vec![link("self", url.clone())];
    let mut rels = vec!["inventories", "usages"];
    if mv.at_least(1) {
        rels.push("aggregates");
    }
    if mv.at_least(6) {
        rels.push("traits");
    }
    if mv.at_least(11) {
        rels.push("allocations");
    }
    for rel in rels {
        links.push(link(rel, format!("{url}/{rel}")));
    }
    let mut v = json!({
        "uuid": rp.uuid,
        "name": rp.name,
        "generation": rp.generation,
        "links": links,
    });
    if mv.at_least(14) {
        v["parent_provider_uuid"] = json!(rp.parent_uuid);
        v["root_provider_uuid"] = json!(rp.root_uuid);
    }
    v
}

pub async fn list(State(p): State<Placement>, Auth(ctx): Auth, Mv(mv): Mv, q: QueryPairs) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:list", &json!({}))?;
    let pairs = &q.0;
    query::only(pairs, |k| match k {
        "name" | "uuid" => true,
        "member_of" => mv.at_least(3),
        "resources" => mv.at_least(4),
        "in_tree" => mv.at_least(14),
        "required" => mv.at_least(18),
        _ => false,
    })?;
    let mut f = ListFilter {
        name: query::last(pairs, "name").map(str::to_owned),
        ..Default::default()
    };
    if let Some(u) = query::last(pairs, "uuid") {
        f.uuid = Some(super::uuid_like(u).ok_or_else(|| {
            api::ApiError::bad_request(format!("Invalid query string parameters: '{u}' is not a 'uuid'"))
        })?);
    }
    let member_of = query::all(pairs, "member_of");
    if !member_of.is_empty() {
        f.aggregates = query::member_of(&member_of, "", mv)?;
    }
    if let Some(r) = query::last(pairs, "resources") {
        f.resources = query::resources(r)?;
    }
    if let Some(t) = query::last(pairs, "in_tree") {
        f.in_tree = Some(query::in_tree(t)?);
    }
    let required = query::all(pairs, "required");
    if !required.is_empty() {
        f.traits = query::traits(&required, mv)?;
    }
    let rows = providers::list(&p, &f).await?;
    let list: Vec<Value> = rows.iter().map(|rp| render(rp, mv)).collect();
    Ok(json(StatusCode::OK, json!({"resource_providers": list})))
}

pub async fn create(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:create", &json!({}))?;
    let m = body(&headers, &bytes)?;
    if mv.at_least(14) {
        only(&m, &["name", "uuid", "parent_provider_uuid"])?;
    } else {
        only(&m, &["name", "uuid"])?;
    }
    let name = string(required(&m, "name")?, "name", 200)?;
    let uuid = match m.get("uuid") {
        Some(v) => uuid_field(v, "uuid")?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let parent = match m.get("parent_provider_uuid") {
        None | Some(Value::Null) => None,
        Some(v) => Some(uuid_field(v, "parent_provider_uuid")?),
    };
    let rp = providers::create(&p, uuid, name, parent).await?;
    let location = format!("{}{}", p.base_url(), provider_url(&rp.uuid));
    let mut resp = if mv.at_least(20) {
        json(StatusCode::OK, render(&rp, mv))
    } else {
        StatusCode::CREATED.into_response()
    };
    if let Ok(v) = location.parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn show(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:show", &json!({}))?;
    let rp = providers::get(&p, &uuid).await?;
    Ok(json(StatusCode::OK, render(&rp, mv)))
}

pub async fn update(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:update", &json!({}))?;
    // 404 before the body, as Placement reads the provider first.
    providers::get(&p, &uuid).await?;
    let m = body(&headers, &bytes)?;
    if mv.at_least(14) {
        only(&m, &["name", "parent_provider_uuid"])?;
    } else {
        only(&m, &["name"])?;
    }
    let name = string(required(&m, "name")?, "name", 200)?;
    let parent = match m.get("parent_provider_uuid") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(uuid_field(v, "parent_provider_uuid")?)),
    };
    let rp = providers::update(&p, &uuid, name, parent, mv.at_least(37)).await?;
    Ok(json(StatusCode::OK, render(&rp, mv)))
}

pub async fn delete(State(p): State<Placement>, Auth(ctx): Auth, Path(uuid): Path<String>) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:delete", &json!({}))?;
    providers::delete(&p, &uuid).await?;
    Ok(no_content())
}

/// `resource_provider_generation` of a body.
pub(crate) fn generation(m: &serde_json::Map<String, Value>) -> ApiResult<i64> {
    int(
        required(m, "resource_provider_generation")?,
        "resource_provider_generation",
        i64::MIN,
        i64::MAX,
    )
}
