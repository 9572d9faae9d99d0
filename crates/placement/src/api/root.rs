//! `GET /`: the version document, without a token.

use axum::Json;
use serde_json::{Value, json};

use super::microversion::{MAX, MIN};

pub async fn home() -> Json<Value> {
    Json(json!({"versions": [{
        "id": format!("v{MIN}"),
        "max_version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "status": "CURRENT",
        "links": [{"rel": "self", "href": ""}],
    }]}))
}
