//! `/v2/info/import`, `/v2/info/stores`, `/v2/info/usage`.

use axum::extract::State;
use axum::response::Json;
use serde_json::{Value, json};

use super::ApiResult;
use crate::Image;

pub async fn import(State(_): State<Image>, _auth: api::Auth) -> Json<Value> {
    Json(json!({"import-methods": {
        "description": "Import methods available.",
        "type": "array",
        "value": crate::data::IMPORT_METHODS,
    }}))
}

pub async fn stores(State(image): State<Image>, _auth: api::Auth) -> Json<Value> {
    Json(json!({"stores": [{
        "id": image.store.id(),
        "description": image.store.description(),
        "default": true,
    }]}))
}

pub async fn stores_detail(State(image): State<Image>, api::Auth(ctx): api::Auth) -> ApiResult<Json<Value>> {
    image.authorize(&ctx, "stores_info_detail", &json!({}))?;
    Ok(Json(json!({"stores": [{
        "id": image.store.id(),
        "description": image.store.description(),
        "default": true,
        "type": "file",
        "weight": 0,
        "properties": {"datadir": image.config.store_dir.display().to_string()},
    }]})))
}

pub async fn usage(State(image): State<Image>, api::Auth(ctx): api::Auth) -> ApiResult<Json<Value>> {
    let usage = image.usage(&ctx).await?;
    let body: serde_json::Map<String, Value> = usage
        .into_iter()
        .map(|(k, limit, used)| (k.to_owned(), json!({"limit": limit.unwrap_or(-1), "usage": used})))
        .collect();
    Ok(Json(json!({ "usage": body })))
}
