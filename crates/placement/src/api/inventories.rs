//! `/resource_providers/{uuid}/inventories[/{rc}]` and `/usages` of a
//! provider.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::microversion::Mv;
use super::providers::generation;
use super::{ApiResult, body, int, invalid, json, no_content, only, rc_name, required};
use crate::Placement;
use crate::inventories::{self, Inventory, MAX_INT, with_defaults};
use api::{ApiError, Auth};

fn render(i: &Inventory) -> Value {
    json!({
        "total": i.total,
        "reserved": i.reserved,
        "min_unit": i.min_unit,
        "max_unit": i.max_unit,
        "step_size": i.step_size,
        "allocation_ratio": i.allocation_ratio,
    })
}

fn render_all(generation: i64, inv: &[Inventory]) -> Value {
    let map: Map<String, Value> = inv.iter().map(|i| (i.resource_class.clone(), render(i))).collect();
    json!({"resource_provider_generation": generation, "inventories": map})
}

fn render_one(generation: i64, i: &Inventory) -> Value {
    let mut v = render(i);
    v["resource_provider_generation"] = json!(generation);
    v
}

/// The inventory fields of a body (`total` required).
fn fields(m: &Map<String, Value>, rc: String) -> ApiResult<Inventory> {
    let opt = |k: &str, min: i64| -> ApiResult<Option<i64>> { m.get(k).map(|v| int(v, k, min, MAX_INT)).transpose() };
    let total = int(required(m, "total")?, "total", 1, MAX_INT)?;
    let ratio = match m.get("allocation_ratio") {
        None => None,
        Some(Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(f64::MAX);
            if f > f32::MAX as f64 {
                return Err(invalid(format!("{f} is greater than the maximum ('allocation_ratio')")));
            }
            Some(f)
        }
        Some(other) => return Err(invalid(format!("{other} is not of type 'number' ('allocation_ratio')"))),
    };
    let inv = with_defaults(
        rc,
        total,
        opt("reserved", 0)?,
        opt("min_unit", 1)?,
        opt("max_unit", 1)?,
        opt("step_size", 1)?,
        ratio,
    );
    Ok(inv)
}

const FIELDS: &[&str] = &[
    "total",
    "reserved",
    "min_unit",
    "max_unit",
    "step_size",
    "allocation_ratio",
];

pub async fn list(State(p): State<Placement>, Auth(ctx): Auth, Path(uuid): Path<String>) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:inventories:list", &json!({}))?;
    let (rp, inv) = inventories::list(&p, &uuid).await?;
    Ok(json(StatusCode::OK, render_all(rp.generation, &inv)))
}

pub async fn show(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Path((uuid, rc)): Path<(String, String)>,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:inventories:show", &json!({}))?;
    let (rp, inv) = inventories::show(&p, &uuid, &rc).await?;
    Ok(json(StatusCode::OK, render_one(rp.generation, &inv)))
}

pub async fn create(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:inventories:create", &json!({}))?;
    crate::providers::get(&p, &uuid).await?;
    let m = body(&headers, &bytes)?;
    let mut allowed = FIELDS.to_vec();
    allowed.extend(["resource_class", "resource_provider_generation"]);
    only(&m, &allowed)?;
    let rc = match required(&m, "resource_class")? {
        Value::String(s) => rc_name(s, "resource_class")?,
        other => return Err(invalid(format!("{other} is not of type 'string' ('resource_class')"))),
    };
    let inv = fields(&m, rc)?;
    let g = inventories::create(&p, &uuid, inv.clone(), mv.at_least(26)).await?;
    let mut resp = json(StatusCode::CREATED, render_one(g, &inv));
    let loc = format!(
        "{}/resource_providers/{uuid}/inventories/{}",
        p.base_url(),
        inv.resource_class
    );
    if let Ok(v) = loc.parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn set_all(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:inventories:update", &json!({}))?;
    crate::providers::get(&p, &uuid).await?;
    let m = body(&headers, &bytes)?;
    only(&m, &["resource_provider_generation", "inventories"])?;
    let g = generation(&m)?;
    let Value::Object(invs) = required(&m, "inventories")? else {
        return Err(invalid("'inventories' is not of type 'object'"));
    };
    let mut wanted = Vec::new();
    let mut seen = BTreeSet::new();
    for (rc, raw) in invs {
        let rc = rc_name(rc, "inventories")?;
        let Value::Object(fm) = raw else {
            return Err(invalid(format!("{raw} is not of type 'object' ('inventories.{rc}')")));
        };
        only(fm, FIELDS)?;
        seen.insert(rc.clone());
        wanted.push(fields(fm, rc)?);
    }
    let (g, inv) = inventories::set_all(&p, &uuid, g, wanted, mv.at_least(26)).await?;
    Ok(json(StatusCode::OK, render_all(g, &inv)))
}

pub async fn update(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path((uuid, rc)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:inventories:update", &json!({}))?;
    crate::providers::get(&p, &uuid).await?;
    let m = body(&headers, &bytes)?;
    let mut allowed = FIELDS.to_vec();
    allowed.push("resource_provider_generation");
    only(&m, &allowed)?;
    let g = generation(&m)?;
    let inv = fields(&m, rc)?;
    let g = inventories::update(&p, &uuid, g, inv.clone(), mv.at_least(26)).await?;
    Ok(json(StatusCode::OK, render_one(g, &inv)))
}

pub async fn delete(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Path((uuid, rc)): Path<(String, String)>,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:inventories:delete", &json!({}))?;
    inventories::delete(&p, &uuid, &rc).await?;
    Ok(no_content())
}

pub async fn delete_all(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    if !mv.at_least(5) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method specified is not allowed for this resource.",
        ));
    }
    p.can(&ctx, "placement:resource_providers:inventories:delete", &json!({}))?;
    inventories::delete_all(&p, &uuid).await?;
    Ok(no_content())
}

pub async fn usages(State(p): State<Placement>, Auth(ctx): Auth, Path(uuid): Path<String>) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:usages", &json!({}))?;
    let (rp, usages) = inventories::usages(&p, &uuid).await?;
    Ok(json(
        StatusCode::OK,
        json!({"resource_provider_generation": rp.generation, "usages": usages}),
    ))
}
