//! `GET /os-migrations` (admin) and `GET /servers/{id}/migrations[/{id}]`.
//!
//! `os-migrations` shows the records of resizes and cold migrations with
//! Nova's fields per microversion: 2.23 `migration_type` (and `links`,
//! which Nova gives only to live migrations in progress, so none here),
//! 2.59 `uuid` with paging (`limit`, `marker` = a migration uuid) and
//! `changes-since`, 2.66 `changes-before`, 2.80 `user_id`/`project_id`
//! (fields and filters). From 2.59 unknown query parameters are refused,
//! as Nova's schema does. `/servers/{id}/migrations` lists the live
//! migrations in progress: there are none (no live migration is built), so
//! the empty list is the answer for a server that exists.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};

use ::api::ApiError;

use super::QueryPairs;
use super::servers::{ApiResult, Who, isotime_micro, parse_time, visible};
use crate::Compute;
use crate::db::migrations::{ListFilter, MigrationRow};
use crate::microversion::Version;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-migrations", get(list))
        .route("/servers/{id}/migrations", get(server_migrations))
        .route("/servers/{id}/migrations/{migration_id}", get(server_migration))
}

/// The query parameters each microversion knows.
fn known(v: Version) -> Vec<&'static str> {
    let mut k = vec![
        "hidden",
        "host",
        "instance_uuid",
        "source_compute",
        "status",
        "migration_type",
    ];
    if v.at_least(59) {
        k.extend(["limit", "marker", "changes-since"]);
    }
    if v.at_least(66) {
        k.push("changes-before");
    }
    if v.at_least(80) {
        k.extend(["user_id", "project_id"]);
    }
    k
}

fn date_time(field: &str, value: &str) -> ApiResult<i64> {
    parse_time(field, value).map_err(|_| {
        ApiError::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: {value}. '{value}' is not a 'date-time'"
        ))
    })
}

async fn list(
    State(c): State<Compute>,
    Who(caller): Who,
    v: Version,
    axum::extract::Query(pairs): QueryPairs,
) -> ApiResult<Json<Value>> {
    ::api::enforce(
        &c.policy,
        "os_compute_api:os-migrations:index",
        &caller.auth,
        &json!({"project_id": caller.project_id()}),
    )?;
    let known = known(v);
    if v.at_least(59)
        && let Some((k, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "Invalid input for query parameters {k}. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    // The last value of a repeated parameter, as Nova's `single_param`.
    let get = |name: &str| {
        known
            .contains(&name)
            .then(|| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .flatten()
    };
    let mut f = ListFilter {
        host: get("host"),
        source_compute: get("source_compute"),
        status: get("status"),
        instance_uuid: get("instance_uuid"),
        migration_type: get("migration_type"),
        user_id: get("user_id"),
        project_id: get("project_id"),
        ..Default::default()
    };
    if let Some(t) = get("changes-since") {
        f.changes_since = Some(date_time("changes-since", &t)?);
    }
    if let Some(t) = get("changes-before") {
        f.changes_before = Some(date_time("changes-before", &t)?);
    }
    if let (Some(a), Some(b)) = (f.changes_since, f.changes_before)
        && a > b
    {
        return Err(ApiError::bad_request(
            "The value of changes-since must be less than or equal to changes-before.",
        ));
    }
    let limit = match get("limit") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "Invalid input for query parameters limit. Value: {l}. '{l}' does not match '^[0-9]*$'"
            ))
        })?),
        None => None,
    };
    let mut rows = c.list_migrations(&f).await?;
    if let Some(m) = get("marker") {
        let Some(at) = rows.iter().position(|r| r.uuid == m) else {
            return Err(ApiError::bad_request(format!("Marker {m} could not be found.")));
        };
        rows.drain(..=at);
    }
    let more = limit.is_some_and(|l| rows.len() > l);
    if let Some(l) = limit {
        rows.truncate(l);
    }
    let migrations: Vec<Value> = rows.iter().map(|m| render(m, v)).collect();
    let mut out = json!({ "migrations": migrations });
    if more && let Some(last) = rows.last() {
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k != "marker")
            .map(|(k, val)| format!("{k}={val}"))
            .collect();
        query.push(format!("marker={}", last.uuid));
        out["migrations_links"] = json!([{
            "rel": "next",
            "href": format!("{}/v2.1/os-migrations?{}", c.base_url(), query.join("&")),
        }]);
    }
    Ok(Json(out))
}

/// One migration at microversion `v`.
fn render(m: &MigrationRow, v: Version) -> Value {
    let mut out = json!({
        "id": m.id,
        "instance_uuid": m.instance_uuid,
        "status": m.status,
        "source_compute": m.source_compute,
        "source_node": m.source_node,
        "dest_compute": m.dest_compute,
        "dest_node": m.dest_node,
        "dest_host": m.dest_host,
        "old_instance_type_id": m.old_instance_type_id,
        "new_instance_type_id": m.new_instance_type_id,
        "created_at": isotime_micro(m.created_at),
        "updated_at": isotime_micro(m.updated_at),
    });
    if v.at_least(23) {
        out["migration_type"] = json!(m.migration_type);
    }
    if v.at_least(59) {
        out["uuid"] = json!(m.uuid);
    }
    if v.at_least(80) {
        out["user_id"] = json!(m.user_id);
        out["project_id"] = json!(m.project_id);
    }
    out
}

#[derive(serde::Deserialize)]
struct ServerMigrationPath {
    id: String,
    migration_id: String,
}

/// The live migrations in progress of a server (none can exist here).
async fn server_migrations(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(super::IdPath { id }): Path<super::IdPath>,
) -> ApiResult<Json<Value>> {
    visible(&c, &caller, &id, "os_compute_api:servers:migrations:index").await?;
    Ok(Json(json!({ "migrations": [] })))
}

async fn server_migration(
    State(c): State<Compute>,
    Who(caller): Who,
    Path(p): Path<ServerMigrationPath>,
) -> ApiResult<Json<Value>> {
    let row = visible(&c, &caller, &p.id, "os_compute_api:servers:migrations:show").await?;
    Err(ApiError::not_found(format!(
        "Migration {} not found for instance {}",
        p.migration_id, row.uuid
    )))
}
