//! `/allocations[/{consumer_uuid}]`, `/resource_providers/{uuid}/allocations`
//! and `/usages`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::microversion::{Mv, Version};
use super::{
    ApiResult, QueryPairs, body, int, invalid, json, no_content, not_found_at_version, only, query, rc_name, required,
    string, uuid_field, uuid_like,
};
use crate::Placement;
use crate::allocations::{self, ConsumerWrite, GenerationCheck, Verb};
use api::{ApiError, Auth};

/// `{"VCPU": 1, …}` with amounts >= 1 (0 allowed where Placement allows it).
fn resources(v: &Value) -> ApiResult<BTreeMap<String, i64>> {
    let Value::Object(m) = v else {
        return Err(invalid(format!("{v} is not of type 'object' ('resources')")));
    };
    if m.is_empty() {
        return Err(invalid("{} does not have enough properties ('resources')"));
    }
    let mut out = BTreeMap::new();
    for (rc, n) in m {
        let rc = rc_name(rc, "resources")?;
        out.insert(rc, int(n, "resources", 1, i64::MAX)?);
    }
    Ok(out)
}

/// The dict form (1.12+): `{rp_uuid: {"resources": {...}, "generation"?}}`.
fn allocations_dict(v: &Value, may_be_empty: bool) -> ApiResult<BTreeMap<String, BTreeMap<String, i64>>> {
    let Value::Object(m) = v else {
        return Err(invalid(format!("{v} is not of type 'object' ('allocations')")));
    };
    if m.is_empty() && !may_be_empty {
        return Err(invalid("{} does not have enough properties ('allocations')"));
    }
    let mut out = BTreeMap::new();
    for (rp, a) in m {
        let rp = uuid_like(rp)
            .filter(|_| rp.len() == 36)
            .ok_or_else(|| invalid(format!("Additional properties are not allowed ('{rp}' was unexpected)")))?;
        let Value::Object(am) = a else {
            return Err(invalid(format!("{a} is not of type 'object' ('allocations.{rp}')")));
        };
        only(am, &["resources", "generation"])?;
        if let Some(g) = am.get("generation") {
            int(g, "generation", i64::MIN, i64::MAX)?;
        }
        out.insert(rp, resources(required(am, "resources")?)?);
    }
    Ok(out)
}

/// The list form (before 1.12).
fn allocations_list(v: &Value) -> ApiResult<BTreeMap<String, BTreeMap<String, i64>>> {
    let Value::Array(items) = v else {
        return Err(invalid(format!("{v} is not of type 'array' ('allocations')")));
    };
    if items.is_empty() {
        return Err(invalid("[] is too short ('allocations')"));
    }
    let mut out = BTreeMap::new();
    for item in items {
        let Value::Object(m) = item else {
            return Err(invalid(format!("{item} is not of type 'object' ('allocations')")));
        };
        only(m, &["resource_provider", "resources"])?;
        let Value::Object(rp) = required(m, "resource_provider")? else {
            return Err(invalid("'resource_provider' is not of type 'object'"));
        };
        only(rp, &["uuid"])?;
        let uuid = uuid_field(required(rp, "uuid")?, "uuid")?;
        out.insert(uuid, resources(required(m, "resources")?)?);
    }
    Ok(out)
}

/// One consumer's body, as `mv` spells it; `post` for `POST /allocations`
/// (where an empty `allocations` removes the consumer's).
fn consumer_write(
    p: &Placement,
    consumer: String,
    m: &Map<String, Value>,
    mv: Version,
    post: bool,
) -> ApiResult<ConsumerWrite> {
    let mut allowed = vec!["allocations"];
    if mv.at_least(8) {
        allowed.extend(["project_id", "user_id"]);
    }
    if mv.at_least(28) {
        allowed.push("consumer_generation");
    }
    if mv.at_least(34) {
        allowed.push("mappings");
    }
    if mv.at_least(38) {
        allowed.push("consumer_type");
    }
    only(m, &allowed)?;
    let allocs = required(m, "allocations")?;
    let allocations = if mv.at_least(12) {
        allocations_dict(allocs, post || mv.at_least(28))?
    } else {
        allocations_list(allocs)?
    };
    let (project_id, user_id) = if mv.at_least(8) {
        (
            string(required(m, "project_id")?, "project_id", 255)?,
            string(required(m, "user_id")?, "user_id", 255)?,
        )
    } else {
        (
            p.config.incomplete_consumer_project_id.clone(),
            p.config.incomplete_consumer_user_id.clone(),
        )
    };
    let generation = if mv.at_least(28) {
        match required(m, "consumer_generation")? {
            Value::Null => GenerationCheck::New,
            v => GenerationCheck::At(int(v, "consumer_generation", i64::MIN, i64::MAX)?),
        }
    } else {
        GenerationCheck::Unchecked
    };
    if let Some(mappings) = m.get("mappings") {
        let Value::Object(mm) = mappings else {
            return Err(invalid(format!("{mappings} is not of type 'object' ('mappings')")));
        };
        for (k, v) in mm {
            let Value::Array(rps) = v else {
                return Err(invalid(format!("{v} is not of type 'array' ('mappings.{k}')")));
            };
            for rp in rps {
                uuid_field(rp, "mappings")?;
            }
        }
    }
    let consumer_type = if mv.at_least(38) {
        match required(m, "consumer_type")? {
            Value::String(s) => Some(rc_name(s, "consumer_type")?),
            other => return Err(invalid(format!("{other} is not of type 'string' ('consumer_type')"))),
        }
    } else {
        None
    };
    Ok(ConsumerWrite {
        consumer_uuid: consumer,
        project_id,
        user_id,
        generation,
        consumer_type,
        allocations,
    })
}

pub async fn update(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(consumer): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:allocations:update", &json!({}))?;
    let consumer =
        uuid_like(&consumer).ok_or_else(|| ApiError::bad_request(format!("Malformed consumer_uuid: {consumer}")))?;
    let m = body(&headers, &bytes)?;
    let w = consumer_write(&p, consumer, &m, mv, false)?;
    allocations::replace(&p, &[w], Verb::Put).await?;
    Ok(no_content())
}

pub async fn manage(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    headers: HeaderMap,
    bytes: Bytes,
) -> ApiResult<Response> {
    if !mv.at_least(13) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method specified is not allowed for this resource.",
        ));
    }
    p.can(&ctx, "placement:allocations:manage", &json!({}))?;
    let m = body(&headers, &bytes)?;
    if m.is_empty() {
        return Err(invalid("{} does not have enough properties"));
    }
    let mut writes = Vec::new();
    for (consumer, v) in &m {
        let uuid = uuid_like(consumer).filter(|_| consumer.len() == 36).ok_or_else(|| {
            invalid(format!(
                "Additional properties are not allowed ('{consumer}' was unexpected)"
            ))
        })?;
        let Value::Object(cm) = v else {
            return Err(invalid(format!("{v} is not of type 'object'")));
        };
        // POST always allows an empty allocations object.
        writes.push(consumer_write(&p, uuid, cm, mv, true)?);
    }
    allocations::replace(&p, &writes, Verb::Post).await?;
    Ok(no_content())
}

pub async fn show(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(consumer): Path<String>,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:allocations:list", &json!({}))?;
    let a = allocations::of_consumer(&p, &consumer).await?;
    let mut by_rp = Map::new();
    for (rp, (generation, res)) in &a.by_provider {
        by_rp.insert(rp.clone(), json!({"generation": generation, "resources": res}));
    }
    let mut out = json!({"allocations": by_rp});
    if let (Some(c), true) = (&a.consumer, mv.at_least(12)) {
        out["project_id"] = json!(c.project_id);
        out["user_id"] = json!(c.user_id);
        if mv.at_least(28) {
            out["consumer_generation"] = json!(c.generation);
        }
        if mv.at_least(38) {
            out["consumer_type"] = json!(c.consumer_type.as_deref().unwrap_or("unknown"));
        }
    }
    Ok(json(StatusCode::OK, out))
}

pub async fn delete(State(p): State<Placement>, Auth(ctx): Auth, Path(consumer): Path<String>) -> ApiResult<Response> {
    p.can(&ctx, "placement:allocations:delete", &json!({}))?;
    allocations::delete(&p, &consumer).await?;
    Ok(no_content())
}

pub async fn of_provider(
    State(p): State<Placement>,
    Auth(ctx): Auth,
    Mv(mv): Mv,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    p.can(&ctx, "placement:resource_providers:allocations:list", &json!({}))?;
    let (generation, by_consumer) = allocations::of_provider(&p, &uuid).await?;
    let mut out = Map::new();
    for (consumer, (cgen, res)) in by_consumer {
        let mut v = json!({"resources": res});
        if mv.at_least(28) {
            v["consumer_generation"] = json!(cgen);
        }
        out.insert(consumer, v);
    }
    Ok(json(
        StatusCode::OK,
        json!({"allocations": out, "resource_provider_generation": generation}),
    ))
}

pub async fn usages(State(p): State<Placement>, Auth(ctx): Auth, Mv(mv): Mv, q: QueryPairs) -> ApiResult<Response> {
    if !mv.at_least(9) {
        return Err(not_found_at_version());
    }
    let pairs = &q.0;
    let project_id = query::last(pairs, "project_id");
    p.can(&ctx, "placement:usages", &json!({"project_id": project_id}))?;
    query::only(pairs, |k| {
        k == "project_id" || k == "user_id" || (k == "consumer_type" && mv.at_least(38))
    })?;
    let Some(project_id) = project_id else {
        return Err(ApiError::bad_request(
            "Invalid query string parameters: 'project_id' is a required property",
        ));
    };
    let user_id = query::last(pairs, "user_id");
    for (k, v) in [("project_id", Some(project_id)), ("user_id", user_id)] {
        if let Some(v) = v
            && (v.is_empty() || v.chars().count() > 255)
        {
            return Err(ApiError::bad_request(format!(
                "Invalid query string parameters: '{v}' is not a valid {k}"
            )));
        }
    }
    let consumer_type = query::last(pairs, "consumer_type");
    if let Some(t) = consumer_type
        && !(crate::standard::valid_name(t) || t == "all" || t == "unknown")
    {
        return Err(ApiError::bad_request(format!(
            "Invalid query string parameters: '{t}' does not match '^[A-Z0-9_]+$|^all|^unknown$'"
        )));
    }
    let u = allocations::usages(&p, project_id, user_id, consumer_type).await?;
    let body = if mv.at_least(38) {
        let mut by_type = Map::new();
        for (t, (count, res)) in u.by_type {
            let mut v = json!(res);
            v["consumer_count"] = json!(count);
            by_type.insert(t, v);
        }
        json!({"usages": by_type})
    } else {
        json!({"usages": u.total})
    };
    Ok(json(StatusCode::OK, body))
}
