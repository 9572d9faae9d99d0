//! `os-availability-zone`: the zones users may pick, and (admin) every
//! zone with its hosts and their services.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Map, Value, json};

use ::api::{ApiError, Auth};

use super::flavors::{authorize, nova_time};
use crate::Compute;
use crate::services::INTERNAL_ZONE;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-availability-zone", get(list))
        .route("/os-availability-zone/detail", get(detail))
}

async fn list(State(c): State<Compute>, Auth(ctx): Auth) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-availability-zone:list")?;
    let zones: Vec<Value> = c
        .availability_zones()
        .await?
        .iter()
        .filter(|z| z.name != INTERNAL_ZONE)
        .map(|z| json!({"zoneName": z.name, "zoneState": {"available": z.available}, "hosts": null}))
        .collect();
    Ok(Json(json!({"availabilityZoneInfo": zones})))
}

async fn detail(State(c): State<Compute>, Auth(ctx): Auth) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-availability-zone:detail")?;
    let zones: Vec<Value> = c
        .availability_zones()
        .await?
        .iter()
        .map(|z| {
            let mut hosts: Map<String, Value> = Map::new();
            for s in &z.services {
                let entry = hosts
                    .entry(s.row.host.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                entry[s.row.binary.as_str()] = json!({
                    "available": s.up,
                    "active": !s.row.disabled,
                    "updated_at": s.row.updated_at.map(nova_time),
                });
            }
            json!({"zoneName": z.name, "zoneState": {"available": z.available}, "hosts": hosts})
        })
        .collect();
    Ok(Json(json!({"availabilityZoneInfo": zones})))
}
