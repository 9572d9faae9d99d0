//! `os-instance_usage_audit_log` (admin): the instance usage audit of the
//! last completed audit period, now or before a given time
//! (`/os-instance_usage_audit_log/2026-12-03 18:00:00`, Nova's two
//! formats, with or without microseconds).

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use super::IdPath;
use super::servers::{ApiResult, Who};
use crate::Compute;
use crate::usage_audit::AuditLog;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-instance_usage_audit_log", get(index))
        .route("/os-instance_usage_audit_log/{id}", get(show))
}

fn authorize(c: &Compute, caller: &crate::servers::Caller, rule: &str) -> ApiResult<()> {
    api::enforce(&c.policy, rule, &caller.auth, &json!({}))
}

async fn index(State(c): State<Compute>, Who(caller): Who) -> ApiResult<Json<Value>> {
    authorize(&c, &caller, "os_compute_api:os-instance-usage-audit-log:list")?;
    let log = c.audit_log(None).await?;
    Ok(Json(json!({"instance_usage_audit_logs": view(&log)})))
}

async fn show(State(c): State<Compute>, Who(caller): Who, Path(IdPath { id }): Path<IdPath>) -> ApiResult<Json<Value>> {
    authorize(&c, &caller, "os_compute_api:os-instance-usage-audit-log:show")?;
    let before = parse_before(&id)?;
    let log = c.audit_log(Some(before)).await?;
    Ok(Json(json!({"instance_usage_audit_log": view(&log)})))
}

/// Nova's `%Y-%m-%d %H:%M:%S`, or with `.%f` when the id has a dot.
fn parse_before(id: &str) -> ApiResult<NaiveDateTime> {
    let format = if id.contains('.') {
        "%Y-%m-%d %H:%M:%S%.f"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    NaiveDateTime::parse_from_str(id, format)
        .map_err(|_| ApiError::bad_request(format!("Invalid timestamp for date {id}")))
}

fn view(l: &AuditLog) -> Value {
    let log: Map<String, Value> = l
        .log
        .iter()
        .map(|(host, h)| {
            (
                host.clone(),
                json!({"state": h.state, "instances": h.instances, "errors": h.errors, "message": h.message}),
            )
        })
        .collect();
    json!({
        "period_beginning": l.period_beginning.to_string(),
        "period_ending": l.period_ending.to_string(),
        "num_hosts": l.num_hosts,
        "num_hosts_done": l.num_hosts_done,
        "num_hosts_running": l.num_hosts_running,
        "num_hosts_not_run": l.hosts_not_run.len(),
        "hosts_not_run": l.hosts_not_run,
        "total_instances": l.total_instances,
        "total_errors": l.total_errors,
        "overall_status": l.overall_status,
        "log": log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_take_novas_two_formats_only() {
        assert_eq!(
            parse_before("2026-12-03 18:00:01").unwrap().to_string(),
            "2026-12-03 18:00:01"
        );
        assert_eq!(
            parse_before("2026-12-03 18:00:01.250000").unwrap().to_string(),
            "2026-12-03 18:00:01.250"
        );
        for bad in [
            "invalid_time",
            "2026-12-03",
            "2026-12-03T18:00:01",
            "2026-13-03 18:00:01",
            "2026-12-03 18:00:01.x",
        ] {
            assert!(parse_before(bad).is_err(), "{bad}");
        }
    }
}
