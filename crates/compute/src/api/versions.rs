//! Version documents: `GET /` (all versions), `GET /v2.1` (this one) and
//! `GET /v2` (the v2.0 compatibility endpoint, the same API without
//! microversions, listed first as Nova lists it).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};

use api::ApiError;

use super::flavors::Params;
use crate::Compute;
use crate::microversion::{MAX, MIN};

pub fn root_routes() -> Router<Compute> {
    Router::new()
        .route("/", get(all_versions))
        .route("/v2.1/", get(this_version))
        .route("/v2", get(v20_version))
        .route("/v2/", get(v20_version))
}

pub fn v21_routes() -> Router<Compute> {
    Router::new().route("/", get(this_version))
}

fn v20(base: &str) -> Value {
    json!({
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": "2011-01-21T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/v2/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}],
    })
}

fn v21(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/v2.1/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
    })
}

async fn all_versions(State(c): State<Compute>) -> Json<Value> {
    Json(json!({"versions": [v20(c.base_url()), v21(c.base_url())]}))
}

/// Project ids in paths are Keystone's (hex, maybe with dashes), as
/// Nova's routes require: anything else under `/v2.1/` is an unknown
/// resource, not a project.
pub(crate) fn is_project_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

async fn this_version(State(c): State<Compute>, Path(p): Path<Params>) -> Result<Json<Value>, ApiError> {
    if p.project_id.as_deref().is_some_and(|id| !is_project_id(id)) {
        return Err(ApiError::not_found("The resource could not be found."));
    }
    Ok(Json(json!({"version": v21(c.base_url())})))
}

async fn v20_version(State(c): State<Compute>) -> Json<Value> {
    Json(json!({"version": v20(c.base_url())}))
}
