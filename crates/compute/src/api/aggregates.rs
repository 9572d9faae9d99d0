//! `os-aggregates`: CRUD and the `add_host`, `remove_host` and
//! `set_metadata` actions; 2.41 adds `uuid`.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use ::api::{ApiError, Auth, ValidJson};

use super::flavors::{Params, authorize, invalid, member, name_value, nova_time, only};
use crate::Compute;
use crate::db::aggregates::AggregateRow;
use crate::microversion::Version;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-aggregates", get(list).post(create))
        .route("/os-aggregates/{id}", get(show).put(update).delete(delete))
        .route("/os-aggregates/{id}/action", post(action))
}

fn view(a: &AggregateRow, v: Version) -> Value {
    let mut o = json!({
        "id": a.id,
        "name": a.name,
        "availability_zone": a.metadata.get("availability_zone"),
        "created_at": nova_time(a.created_at),
        "updated_at": a.updated_at.map(nova_time),
        "deleted_at": null,
        "deleted": false,
        "hosts": a.hosts,
        "metadata": a.metadata,
    });
    if v.at_least(41) {
        o["uuid"] = json!(a.uuid);
    }
    o
}

fn agg_id(p: &Params) -> ApiResult<i64> {
    let id = p.id.as_deref().unwrap_or_default();
    id.parse::<i64>()
        .map_err(|_| ApiError::not_found(format!("Aggregate {id} could not be found.")))
}

/// An availability zone name: 1–255 characters without `:`, or null.
fn az_value(v: Option<&Value>) -> ApiResult<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(val @ Value::String(s)) => {
            if s.is_empty() || s.chars().count() > 255 || s.contains(':') || s.trim() != s {
                return Err(invalid(
                    "availability_zone",
                    val,
                    &format!("{val} is not a valid availability zone name"),
                ));
            }
            Ok(Some(s.clone()))
        }
        Some(other) => Err(invalid(
            "availability_zone",
            other,
            &format!("{other} is not of type 'string', 'null'"),
        )),
    }
}

async fn list(State(c): State<Compute>, Auth(ctx): Auth, v: Version) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-aggregates:index")?;
    let aggs = c.list_aggregates().await?;
    Ok(Json(
        json!({"aggregates": aggs.iter().map(|a| view(a, v)).collect::<Vec<_>>()}),
    ))
}

async fn create(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-aggregates:create")?;
    let a = member(&body, "aggregate")?;
    only(a, "aggregate", &["name", "availability_zone"])?;
    let name = match a.get("name") {
        Some(n) => name_value("name", n)?,
        None => return Err(invalid("aggregate", &json!(a), "'name' is a required property")),
    };
    let az = az_value(a.get("availability_zone"))?;
    let agg = c.create_aggregate(&name, az.as_deref()).await?;
    let mut o = view(&agg, v);
    if let Some(m) = o.as_object_mut() {
        m.remove("hosts");
        m.remove("metadata");
    }
    Ok(Json(json!({"aggregate": o})))
}

async fn show(State(c): State<Compute>, Auth(ctx): Auth, v: Version, Path(p): Path<Params>) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-aggregates:show")?;
    let agg = c.get_aggregate(agg_id(&p)?).await?;
    Ok(Json(json!({"aggregate": view(&agg, v)})))
}

async fn update(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-aggregates:update")?;
    let id = agg_id(&p)?;
    let a = member(&body, "aggregate")?;
    only(a, "aggregate", &["name", "availability_zone"])?;
    if a.is_empty() {
        return Err(invalid("aggregate", &json!(a), "{} does not have enough properties"));
    }
    let name = a.get("name").map(|n| name_value("name", n)).transpose()?;
    let az = az_value(a.get("availability_zone"))?;
    let agg = c.update_aggregate(id, name.as_deref(), az.as_deref()).await?;
    Ok(Json(json!({"aggregate": view(&agg, v)})))
}

async fn delete(State(c): State<Compute>, Auth(ctx): Auth, Path(p): Path<Params>) -> ApiResult<()> {
    authorize(&c, &ctx, "os_compute_api:os-aggregates:delete")?;
    c.delete_aggregate(agg_id(&p)?).await?;
    Ok(())
}

fn host_of(obj: &Map<String, Value>, action: &str) -> ApiResult<String> {
    only(obj, action, &["host"])?;
    match obj.get("host") {
        Some(h) => name_value("host", h),
        None => Err(invalid(action, &json!(obj), "'host' is a required property")),
    }
}

async fn action(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let id = agg_id(&p)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("{body} is not of type 'object'")))?;
    if obj.len() != 1 {
        return Err(ApiError::bad_request(
            "Invalid request body: exactly one of 'add_host', 'remove_host' or 'set_metadata' is expected.",
        ));
    }
    let agg = if obj.contains_key("add_host") {
        authorize(&c, &ctx, "os_compute_api:os-aggregates:add_host")?;
        let host = host_of(member(&body, "add_host")?, "add_host")?;
        c.aggregate_add_host(id, &host).await?
    } else if obj.contains_key("remove_host") {
        authorize(&c, &ctx, "os_compute_api:os-aggregates:remove_host")?;
        let host = host_of(member(&body, "remove_host")?, "remove_host")?;
        c.aggregate_remove_host(id, &host).await?
    } else if obj.contains_key("set_metadata") {
        authorize(&c, &ctx, "os_compute_api:os-aggregates:set_metadata")?;
        let sm = member(&body, "set_metadata")?;
        only(sm, "set_metadata", &["metadata"])?;
        let meta = match sm.get("metadata") {
            Some(Value::Object(m)) => m,
            Some(other) => return Err(invalid("metadata", other, &format!("{other} is not of type 'object'"))),
            None => return Err(invalid("set_metadata", &json!(sm), "'metadata' is a required property")),
        };
        let mut changes: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (k, val) in meta {
            if k.is_empty() || k.chars().count() > 255 {
                return Err(invalid(
                    "metadata",
                    &json!(meta),
                    &format!("'{k}' is not a valid metadata key"),
                ));
            }
            let value = match val {
                Value::Null => None,
                Value::String(s) if s.chars().count() <= 255 => Some(s.clone()),
                other => {
                    return Err(invalid(k, other, &format!("{other} is not of type 'string', 'null'")));
                }
            };
            if k == "availability_zone" {
                az_value(Some(val))?;
            }
            changes.insert(k.clone(), value);
        }
        c.aggregate_set_metadata(id, &changes).await?
    } else {
        let name = obj.keys().next().cloned().unwrap_or_default();
        return Err(ApiError::bad_request(format!(
            "Invalid request body: unknown action '{name}'."
        )));
    };
    Ok(Json(json!({"aggregate": view(&agg, v)})))
}
