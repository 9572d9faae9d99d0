//! `/resource_classes[/{name}]` (1.2; `PUT` creates from 1.7).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::microversion::{Mv, Version};
use super::{ApiResult, body, invalid, json, link, no_content, not_found_at_version, only, required};
use crate::{Placement, names, standard};
use api::Auth;

fn since_1_2(mv: Version) -> ApiResult<()> {
    if mv.at_least(2) {
        Ok(())
    } else {
        Err(not_found_at_version())
    }
}

fn render(name: &str) -> Value {
    json!({"name": name, "links": [link("self", format!("/resource_classes/{name}"))]})
}

fn custom_name(v: &Value) -> ApiResult<String> {
    match v {
        Value::String(s) if standard::valid_custom(s) => Ok(s.clone()),
        Value::String(s) => Err(invalid(format!("'{s}' does not match '^CUSTOM_[A-Z0-9_]+$'"))),
        other => Err(invalid(format!("{other} is not of type 'string'"))),
    }
}

pub async fn list(State(p): State<Placement>, Auth(ctx): Auth, Mv(mv): Mv) -> ApiResult<Response> {
    since_1_2(mv)?;
    p.can(&ctx, "placement:resource_classes:list", &json!({}))?;
    let list: Vec<Value> = names::list_classes(&p).await?.iter().map(|n| render(n)).collect();
    Ok(json(StatusCode::OK, json!({"resource_classes": list})))
}

pub async fn show(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since_1_2(mv)?;
    p.can(&ctx, "placement:resource_classes:show", &json!({}))?;
    names::show_class(&p, &name).await?;
    Ok(json(StatusCode::OK, render(&name)))
}

fn located(mut resp: Response, p: &Placement, name: &str) -> Response {
    if let Ok(v) = format!("{}/resource_classes/{name}", p.base_url()).parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub async fn create(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    since_1_2(mv)?;
    p.can(&ctx, "placement:resource_classes:create", &json!({}))?;
    let m = body(&headers, &bytes)?;
    only(&m, &["name"])?;
    let name = custom_name(required(&m, "name")?)?;
    names::create_class(&p, &name).await?;
    Ok(located(StatusCode::CREATED.into_response(), &p, &name))
}

pub async fn update(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    since_1_2(mv)?;
    p.can(&ctx, "placement:resource_classes:update", &json!({}))?;
    if mv.at_least(7) {
        custom_name(&Value::String(name.clone()))?;
        let created = names::ensure_class(&p, &name).await?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::NO_CONTENT
        };
        return Ok(located(status.into_response(), &p, &name));
    }
    let m = body(&headers, &bytes)?;
    only(&m, &["name"])?;
    let new = custom_name(required(&m, "name")?)?;
    names::rename_class(&p, &name, &new).await?;
    Ok(json(StatusCode::OK, render(&new)))
}

pub async fn delete(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since_1_2(mv)?;
    p.can(&ctx, "placement:resource_classes:delete", &json!({}))?;
    names::delete_class(&p, &name).await?;
    Ok(no_content())
}
