//! Version discovery: `GET /` (300, as Glance answers it) and
//! `GET /versions`, `GET /v2` (200).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use serde_json::{Value, json};

use crate::Image;

/// The v2 minor versions, newest first; the first is CURRENT.
pub const VERSIONS: &[&str] = &[
    "2.16", "2.15", "2.14", "2.13", "2.12", "2.11", "2.10", "2.9", "2.8", "2.7", "2.6", "2.5", "2.4", "2.3", "2.2",
    "2.1", "2.0",
];

fn document(image: &Image) -> Value {
    let href = format!("{}/v2/", image.base_url());
    let versions: Vec<Value> = VERSIONS
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({
                "id": format!("v{v}"),
                "status": if i == 0 { "CURRENT" } else { "SUPPORTED" },
                "links": [{"rel": "self", "href": href}],
            })
        })
        .collect();
    json!({ "versions": versions })
}

pub async fn multiple_choices(State(image): State<Image>) -> impl IntoResponse {
    (StatusCode::MULTIPLE_CHOICES, Json(document(&image)))
}

pub async fn list(State(image): State<Image>) -> impl IntoResponse {
    Json(document(&image))
}
