//! Version documents: `GET /` (all versions) and `GET /v2.1` (this one).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::Compute;
use crate::microversion::{MAX, MIN};

pub fn root_routes() -> Router<Compute> {
    Router::new().route("/", get(all_versions))
}

pub fn v21_routes() -> Router<Compute> {
    Router::new().route("/", get(this_version))
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
    Json(json!({"versions": [v21(c.base_url())]}))
}

async fn this_version(State(c): State<Compute>) -> Json<Value> {
    Json(json!({"version": v21(c.base_url())}))
}
