//! `os-server-groups`: create, list, show, delete; `policies` before
//! 2.64, `policy` + `rules` from 2.64; `project_id`/`user_id` from 2.13.

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::servers::{ApiResult, Who, authorize};
use super::{IdPath, QueryPairs};
use crate::Compute;
use crate::db::server_groups::GroupRow;
use crate::microversion::Version;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-server-groups", get(list).post(create))
        .route("/os-server-groups/{id}", get(show).delete(delete))
}

fn render(g: &GroupRow, v: Version) -> Value {
    let mut out = json!({"id": g.uuid, "name": g.name, "members": g.members});
    if v.at_least(64) {
        out["policy"] = json!(g.policy);
        out["rules"] = serde_json::from_str(&g.rules).unwrap_or_else(|_| json!({}));
    } else {
        out["policies"] = json!([g.policy]);
        out["metadata"] = json!({});
    }
    if v.at_least(13) {
        out["project_id"] = json!(g.project_id);
        out["user_id"] = json!(g.user_id);
    }
    out
}

async fn create(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-server-groups:create",
        caller.project_id(),
        caller.user_id(),
    )?;
    let Some(Value::Object(g)) = body.get("server_group") else {
        return Err(ApiError::bad_request(
            "Invalid input for field/attribute server_group. Value: {}. 'server_group' is a required property",
        ));
    };
    let name = super::servers::parse_name(g, true)?.unwrap_or_default();
    let (policy, rules) = if v.at_least(64) {
        if g.contains_key("policies") {
            return Err(ApiError::bad_request(
                "Invalid input for field/attribute server_group. Additional properties are not allowed ('policies' was unexpected)",
            ));
        }
        let Some(p) = g.get("policy").and_then(Value::as_str) else {
            return Err(ApiError::bad_request(
                "Invalid input for field/attribute server_group. 'policy' is a required property",
            ));
        };
        let rules = match g.get("rules") {
            None => Map::new(),
            Some(Value::Object(r)) => r.clone(),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid input for field/attribute rules. Value: {other}. {other} is not of type 'object'"
                )));
            }
        };
        (p.to_owned(), rules)
    } else {
        let policies = g.get("policies").and_then(Value::as_array).cloned().unwrap_or_default();
        if policies.len() != 1 {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute policies. Value: {}. exactly one policy is required",
                json!(policies)
            )));
        }
        let p = policies[0].as_str().unwrap_or_default().to_owned();
        if !v.at_least(15) && p.starts_with("soft-") {
            return Err(ApiError::bad_request(format!(
                "Invalid input for field/attribute 0. Value: {p}. '{p}' is not one of ['anti-affinity', 'affinity']"
            )));
        }
        (p, Map::new())
    };
    let group = c.create_server_group(&caller, &name, &policy, rules).await?;
    Ok(Json(json!({"server_group": render(&group, v)})))
}

async fn list(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Json<Value>> {
    authorize(
        &c,
        &caller,
        "os_compute_api:os-server-groups:index",
        caller.project_id(),
        caller.user_id(),
    )?;
    let all = q
        .iter()
        .any(|(k, v)| k == "all_projects" && !matches!(v.as_str(), "0" | "false" | "False"))
        && authorize(
            &c,
            &caller,
            "os_compute_api:os-server-groups:index:all_projects",
            caller.project_id(),
            caller.user_id(),
        )
        .is_ok();
    let mut groups = c
        .list_server_groups(if all { None } else { Some(caller.project_id()) })
        .await?;
    let get = |k: &str| {
        q.iter()
            .rev()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    if let Some(offset) = get("offset") {
        groups.drain(..offset.min(groups.len()));
    }
    if let Some(limit) = get("limit") {
        groups.truncate(limit.min(c.config.max_limit));
    }
    Ok(Json(
        json!({"server_groups": groups.iter().map(|g| render(g, v)).collect::<Vec<_>>()}),
    ))
}

async fn visible(c: &Compute, caller: &crate::servers::Caller, id: &str, rule: &str) -> ApiResult<GroupRow> {
    let g = c.get_server_group(id).await?;
    if authorize(c, caller, rule, &g.project_id, &g.user_id).is_err() {
        return Err(ApiError::not_found(format!("Instance group {id} could not be found.")));
    }
    Ok(g)
}

async fn show(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    Path(IdPath { id }): Path<IdPath>,
) -> ApiResult<Json<Value>> {
    let g = visible(&c, &caller, &id, "os_compute_api:os-server-groups:show").await?;
    Ok(Json(json!({"server_group": render(&g, v)})))
}

async fn delete(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(IdPath { id }): Path<IdPath>,
) -> ApiResult<StatusCode> {
    visible(&c, &caller, &id, "os_compute_api:os-server-groups:delete").await?;
    c.delete_server_group(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
