//! Image members: `/v2/images/{id}/members[/{member}]`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Json;
use serde_json::{Value, json};

use super::{ApiResult, isotime};
use crate::Image;
use crate::db::members::MemberRow;

fn render(m: &MemberRow) -> Value {
    json!({
        "created_at": isotime(m.created_at),
        "updated_at": isotime(m.updated_at),
        "image_id": m.image_id,
        "member_id": m.member,
        "status": m.status,
        "schema": "/v2/schemas/member",
    })
}

fn string_field<'a>(body: &'a Value, key: &str) -> ApiResult<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| api::ApiError::bad_request(format!("Request body must contain the string field '{key}'.")))
}

pub async fn create(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let member = string_field(&body, "member")?;
    let row = image.add_member(&ctx, &id, member).await?;
    Ok(Json(render(&row)))
}

pub async fn list(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let rows = image.list_members(&ctx, &id).await?;
    Ok(Json(json!({
        "members": rows.iter().map(render).collect::<Vec<_>>(),
        "schema": "/v2/schemas/members",
    })))
}

pub async fn show(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(&image.show_member(&ctx, &id, &member).await?)))
}

pub async fn update(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((id, member)): Path<(String, String)>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let status = string_field(&body, "status")?;
    Ok(Json(render(&image.update_member(&ctx, &id, &member, status).await?)))
}

pub async fn delete(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.remove_member(&ctx, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}
