//! Version discovery: `GET /` (300, every version) and `GET /v3`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/", get(root))
        .route("/v3", get(v3))
        .route("/v3/", get(v3))
}

fn v3_document(id: &Identity) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/v3/", id.base_url())}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

async fn root(State(id): State<Identity>) -> impl IntoResponse {
    (
        StatusCode::MULTIPLE_CHOICES,
        axum::Json(json!({"versions": {"values": [v3_document(&id)]}})),
    )
}

async fn v3(State(id): State<Identity>) -> impl IntoResponse {
    axum::Json(json!({"version": v3_document(&id)}))
}
