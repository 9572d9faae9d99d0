//! `/traits[/{name}]` and `/resource_providers/{uuid}/traits` (1.6).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::microversion::Mv;
use super::{ApiResult, QueryPairs, body, invalid, json, no_content, not_found_at_version, only, query, required};
use crate::names::{self, TraitName};
use crate::{Placement, providers, standard};
use api::{ApiError, Auth};

fn since_1_6(mv: super::microversion::Version) -> ApiResult<()> {
    if mv.at_least(6) {
        Ok(())
    } else {
        Err(not_found_at_version())
    }
}

pub async fn list(State(p): State<Placement>, Auth(ctx): Auth, Mv(mv): Mv, q: QueryPairs) -> ApiResult<Response> {
    since_1_6(mv)?;
    p.can(&ctx, "placement:traits:list", &json!({}))?;
    let pairs = &q.0;
    query::only(pairs, |k| k == "name" || k == "associated")?;
    let name = match query::last(pairs, "name") {
        None => None,
        Some(v) => {
            if let Some(prefix) = v.strip_prefix("startswith:") {
                Some(TraitName::StartsWith(prefix.to_owned()))
            } else if let Some(list) = v.strip_prefix("in:") {
                Some(TraitName::In(list.split(',').map(|s| s.trim().to_owned()).collect()))
            } else {
                return Err(ApiError::bad_request(format!(
                    "Badly formatted name parameter. Expected name query string parameter in form: \
                     ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{v}\""
                )));
            }
        }
    };
    let associated = match query::last(pairs, "associated") {
        None => None,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid query string parameters: '{v}' is not one of ['true', 'false']"
                )));
            }
        },
    };
    let traits = names::list_traits(&p, name.as_ref(), associated).await?;
    Ok(json(StatusCode::OK, json!({"traits": traits})))
}

pub async fn show(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since_1_6(mv)?;
    p.can(&ctx, "placement:traits:show", &json!({}))?;
    names::show_trait(&p, &name).await?;
    Ok(no_content())
}

pub async fn update(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since_1_6(mv)?;
    p.can(&ctx, "placement:traits:update", &json!({}))?;
    if !standard::valid_custom(&name) {
        return Err(ApiError::bad_request(
            "The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix \
             \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\"",
        ));
    }
    let created = names::ensure_trait(&p, &name).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    let mut resp = status.into_response();
    if let Ok(v) = format!("{}/traits/{name}", p.base_url()).parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn delete(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    since_1_6(mv)?;
    p.can(&ctx, "placement:traits:delete", &json!({}))?;
    names::delete_trait(&p, &name).await?;
    Ok(no_content())
}

fn render(generation: i64, traits: &[String]) -> Value {
    json!({"traits": traits, "resource_provider_generation": generation})
}

pub async fn provider_list(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    since_1_6(mv)?;
    p.can(&ctx, "placement:resource_providers:traits:list", &json!({}))?;
    let (rp, traits) = providers::traits(&p, &uuid).await?;
    Ok(json(StatusCode::OK, render(rp.generation, &traits)))
}

pub async fn provider_update(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    since_1_6(mv)?;
    p.can(&ctx, "placement:resource_providers:traits:update", &json!({}))?;
    providers::get(&p, &uuid).await?;
    let m = body(&headers, &bytes)?;
    only(&m, &["traits", "resource_provider_generation"])?;
    let g = super::providers::generation(&m)?;
    let Value::Array(items) = required(&m, "traits")? else {
        return Err(invalid("'traits' is not of type 'array'"));
    };
    let mut traits = BTreeSet::new();
    for t in items {
        let Value::String(s) = t else {
            return Err(invalid(format!("{t} is not of type 'string' ('traits')")));
        };
        if !standard::valid_name(s) {
            return Err(invalid(format!("'{s}' does not match '^[A-Z0-9_]+$' ('traits')")));
        }
        if !traits.insert(s.clone()) {
            return Err(invalid(format!(
                "{} has non-unique elements",
                Value::Array(items.clone())
            )));
        }
    }
    let (g, traits) = providers::set_traits(&p, &uuid, Some(g), traits).await?;
    Ok(json(StatusCode::OK, render(g, &traits)))
}

pub async fn provider_delete(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    since_1_6(mv)?;
    p.can(&ctx, "placement:resource_providers:traits:delete", &json!({}))?;
    providers::set_traits(&p, &uuid, None, BTreeSet::new()).await?;
    Ok(no_content())
}
