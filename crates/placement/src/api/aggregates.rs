//! `/resource_providers/{uuid}/aggregates` (1.1; with the generation from
//! 1.19).

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::microversion::Mv;
use super::{ApiResult, invalid, json, not_found_at_version, only, required, uuid_field};
use crate::{Placement, providers};
use api::Auth;

fn render(aggs: &[String], generation: i64, with_generation: bool) -> Value {
    if with_generation {
        json!({"aggregates": aggs, "resource_provider_generation": generation})
    } else {
        json!({"aggregates": aggs})
    }
}

pub async fn list(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    if !mv.at_least(1) {
        return Err(not_found_at_version());
    }
    p.can(&ctx, "placement:resource_providers:aggregates:list", &json!({}))?;
    let (rp, aggs) = providers::aggregates(&p, &uuid).await?;
    Ok(json(StatusCode::OK, render(&aggs, rp.generation, mv.at_least(19))))
}

fn uuid_list(v: &Value) -> super::ApiResult<BTreeSet<String>> {
    let Value::Array(items) = v else {
        return Err(invalid(format!("{v} is not of type 'array'")));
    };
    let mut out = BTreeSet::new();
    for i in items {
        if !out.insert(uuid_field(i, "aggregates")?) {
            return Err(invalid(format!("{v} has non-unique elements")));
        }
    }
    Ok(out)
}

pub async fn update(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    if !mv.at_least(1) {
        return Err(not_found_at_version());
    }
    p.can(&ctx, "placement:resource_providers:aggregates:update", &json!({}))?;
    providers::get(&p, &uuid).await?;
    let v = super::body_value(&headers, &bytes)?;
    let (generation, aggs) = if mv.at_least(19) {
        let Value::Object(m) = &v else {
            return Err(invalid(format!("{v} is not of type 'object'")));
        };
        only(m, &["aggregates", "resource_provider_generation"])?;
        let g = super::providers::generation(m)?;
        (Some(g), uuid_list(required(m, "aggregates")?)?)
    } else {
        (None, uuid_list(&v)?)
    };
    let (g, aggs) = providers::set_aggregates(&p, &uuid, generation, aggs).await?;
    Ok(json(StatusCode::OK, render(&aggs, g, mv.at_least(19))))
}
