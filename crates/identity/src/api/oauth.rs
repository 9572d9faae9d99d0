//! `/v3/OS-OAUTH1/consumers`: OAuth1 consumers (see [`crate::oauth`]; the
//! token flow of `OS-OAUTH1` is not served).

use api::{ApiError, Auth, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{authorize, collection, entity, extras, new_id, opt_str, self_link, with_extra};
use crate::db::oauth::ConsumerRow;
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/OS-OAUTH1/consumers", get(list_consumers).post(create_consumer))
        .route(
            "/v3/OS-OAUTH1/consumers/{id}",
            get(get_consumer).patch(update_consumer).delete(delete_consumer),
        )
}

/// A consumer without its secret.
fn render(id: &Identity, c: &ConsumerRow) -> Value {
    with_extra(
        json!({
            "id": c.id,
            "description": c.description,
            "links": self_link(id, &format!("OS-OAUTH1/consumers/{}", c.id)),
        }),
        &c.extra,
    )
}

fn apply(c: &mut ConsumerRow, obj: &Map<String, Value>) -> Result<(), IdentityError> {
    if obj.contains_key("description") {
        c.description = opt_str(obj, "consumer", "description")?;
    }
    for (k, v) in extras(obj.clone(), &["id", "description", "secret"]) {
        c.extra.insert(k, v);
    }
    Ok(())
}

async fn list_consumers(State(id): State<Identity>, Auth(ctx): Auth) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_consumers", json!({}))?;
    let items = id.list_consumers().await?.iter().map(|c| render(&id, c)).collect();
    Ok(axum::Json(collection(&id, "consumers", "OS-OAUTH1/consumers", items)).into_response())
}

/// The answer carries the generated secret, the only time it is shown.
async fn create_consumer(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_consumer", json!({}))?;
    let obj = entity(body, "consumer")?;
    let mut c = ConsumerRow {
        id: new_id(),
        description: None,
        secret: String::new(),
        extra: Map::new(),
    };
    apply(&mut c, &obj)?;
    let c = id.create_consumer(c).await?;
    let mut out = render(&id, &c);
    out["secret"] = json!(c.secret);
    Ok((StatusCode::CREATED, axum::Json(json!({"consumer": out}))).into_response())
}

async fn get_consumer(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(cid): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:get_consumer", json!({}))?;
    let c = id.get_consumer(&cid).await?;
    Ok(axum::Json(json!({"consumer": render(&id, &c)})).into_response())
}

async fn update_consumer(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(cid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:update_consumer", json!({}))?;
    let obj = entity(body, "consumer")?;
    if obj.is_empty() {
        return Err(ApiError::bad_request(
            "Invalid input for field 'consumer': {} does not have enough properties.",
        ));
    }
    if obj.contains_key("secret") {
        return Err(ApiError::bad_request(
            "Invalid input for field 'consumer': the secret of a consumer cannot be changed.",
        ));
    }
    if obj.get("id").is_some_and(|v| v.as_str() != Some(cid.as_str())) {
        return Err(ApiError::bad_request(
            "Invalid input for field 'consumer.id': the id in the body must match the URL.",
        ));
    }
    let mut c = id.get_consumer(&cid).await?;
    apply(&mut c, &obj)?;
    let c = id.update_consumer(c).await?;
    Ok(axum::Json(json!({"consumer": render(&id, &c)})).into_response())
}

async fn delete_consumer(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(cid): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(&id, &ctx, "identity:delete_consumer", json!({}))?;
    id.delete_consumer(&cid).await?;
    Ok(StatusCode::NO_CONTENT)
}
