//! `services` (one row per host and binary) and `compute_nodes` (one per
//! hypervisor), plus the one read of the servers' `instances` table that
//! the hypervisor figures need.

use compute_agent::rpc::HostResources;
use store::{AnyRow, Db, Row, flag, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceRow {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub binary: String,
    pub topic: String,
    pub report_count: i64,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    pub version: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeRow {
    pub id: i64,
    pub uuid: String,
    pub service_id: i64,
    pub host: String,
    pub hypervisor_hostname: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub host_ip: String,
    pub cpu_info: String,
}

/// A live instance as the hypervisor figures count it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostedInstance {
    pub uuid: String,
    pub name: String,
    pub host: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
    /// A task is in progress (Nova's `current_workload` counts these).
    pub busy: bool,
}

const SERVICE_COLUMNS: &str = "id, uuid, host, binary_name, topic, report_count, disabled, disabled_reason, \
     forced_down, version, created_at, updated_at";
const NODE_COLUMNS: &str = "id, uuid, service_id, host, hypervisor_hostname, vcpus, memory_mb, local_gb, \
     hypervisor_type, hypervisor_version, host_ip, cpu_info";

fn service_from_row(r: &AnyRow) -> std::result::Result<ServiceRow, sqlx::Error> {
    Ok(ServiceRow {
        id: r.try_get("id")?,
        uuid: r.try_get("uuid")?,
        host: r.try_get("host")?,
        binary: r.try_get("binary_name")?,
        topic: r.try_get("topic")?,
        report_count: r.try_get("report_count")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        disabled_reason: r.try_get("disabled_reason")?,
        forced_down: r.try_get::<i64, _>("forced_down")? != 0,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn node_from_row(r: &AnyRow) -> std::result::Result<NodeRow, sqlx::Error> {
    Ok(NodeRow {
        id: r.try_get("id")?,
        uuid: r.try_get("uuid")?,
        service_id: r.try_get("service_id")?,
        host: r.try_get("host")?,
        hypervisor_hostname: r.try_get("hypervisor_hostname")?,
        vcpus: r.try_get("vcpus")?,
        memory_mb: r.try_get("memory_mb")?,
        local_gb: r.try_get("local_gb")?,
        hypervisor_type: r.try_get("hypervisor_type")?,
        hypervisor_version: r.try_get("hypervisor_version")?,
        host_ip: r.try_get("host_ip")?,
        cpu_info: r.try_get("cpu_info")?,
    })
}

pub async fn services(db: &Db) -> Result<Vec<ServiceRow>> {
    let rows = sqlx::query(db.sql(&format!("SELECT {SERVICE_COLUMNS} FROM compute_services ORDER BY id")))
        .fetch_all(db.reader())
        .await?;
    Ok(rows
        .iter()
        .map(service_from_row)
        .collect::<std::result::Result<_, _>>()?)
}

pub async fn service_by_host(db: &Db, host: &str, binary: &str) -> Result<Option<ServiceRow>> {
    let row = sqlx::query(db.sql(&format!(
        "SELECT {SERVICE_COLUMNS} FROM compute_services WHERE host = ? AND binary_name = ?"
    )))
    .bind(host)
    .bind(binary)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.as_ref().map(service_from_row).transpose()?)
}

/// Records a heartbeat: bumps `updated_at` and `report_count` (and the
/// version), creating the row on the first one.
pub async fn heartbeat(db: &Db, host: &str, binary: &str, topic: &str, version: &str, now: i64) -> Result<ServiceRow> {
    for _ in 0..5 {
        let n = sqlx::query(db.sql(
            "UPDATE compute_services SET updated_at = ?, report_count = report_count + 1, version = ? \
             WHERE host = ? AND binary_name = ?",
        ))
        .bind(now)
        .bind(version)
        .bind(host)
        .bind(binary)
        .execute(db.writer())
        .await?
        .rows_affected();
        if n == 0 {
            let id = super::flavors::next_id(db, "compute_services").await?;
            let res = sqlx::query(db.sql(&format!(
                "INSERT INTO compute_services ({SERVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, 0, NULL, 0, ?, ?, ?)"
            )))
            .bind(id)
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(host)
            .bind(binary)
            .bind(topic)
            .bind(version)
            .bind(now)
            .bind(now)
            .execute(db.writer())
            .await;
            match res.map_err(store::classify) {
                Ok(_) => {}
                // another writer created it (or took the id): update again
                Err(store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(s) = service_by_host(db, host, binary).await? {
            return Ok(s);
        }
    }
    Err(crate::error::ComputeError::Internal(format!(
        "service {host}/{binary} could not be recorded"
    )))
}

/// Creates the row of a service that has not reported yet: no heartbeat
/// (`updated_at` NULL), so it is down until its first one. An existing
/// row is returned as it is.
pub async fn register(db: &Db, host: &str, binary: &str, topic: &str, version: &str, now: i64) -> Result<ServiceRow> {
    for _ in 0..5 {
        if let Some(s) = service_by_host(db, host, binary).await? {
            return Ok(s);
        }
        let id = super::flavors::next_id(db, "compute_services").await?;
        let res = sqlx::query(db.sql(&format!(
            "INSERT INTO compute_services ({SERVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, 0, NULL, 0, ?, ?, NULL)"
        )))
        .bind(id)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(host)
        .bind(binary)
        .bind(topic)
        .bind(version)
        .bind(now)
        .execute(db.writer())
        .await;
        match res.map_err(store::classify) {
            Ok(_) => {}
            // another writer created it (or took the id): read again
            Err(store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(crate::error::ComputeError::Internal(format!(
        "service {host}/{binary} could not be registered"
    )))
}

/// The compute node `hypervisor_hostname` of `host`.
pub async fn node(db: &Db, host: &str, hypervisor_hostname: &str) -> Result<Option<NodeRow>> {
    let row = sqlx::query(db.sql(&format!(
        "SELECT {NODE_COLUMNS} FROM compute_nodes WHERE host = ? AND hypervisor_hostname = ?"
    )))
    .bind(host)
    .bind(hypervisor_hostname)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.as_ref().map(node_from_row).transpose()?)
}

/// Writes the compute node of `host` from the agent's report.
pub async fn upsert_node(db: &Db, service_id: i64, host: &str, r: &HostResources, now: i64) -> Result<()> {
    let cpu_info = r.cpu_info.to_string();
    for _ in 0..5 {
        let n = sqlx::query(db.sql(
            "UPDATE compute_nodes SET service_id = ?, host = ?, vcpus = ?, memory_mb = ?, local_gb = ?, \
             hypervisor_type = ?, hypervisor_version = ?, host_ip = ?, cpu_info = ?, updated_at = ? \
             WHERE hypervisor_hostname = ?",
        ))
        .bind(service_id)
        .bind(host)
        .bind(i64::from(r.vcpus))
        .bind(r.memory_mb as i64)
        .bind(r.local_gb as i64)
        .bind(&r.hypervisor_type)
        .bind(r.hypervisor_version as i64)
        .bind(&r.host_ip)
        .bind(&cpu_info)
        .bind(now)
        .bind(&r.hypervisor_hostname)
        .execute(db.writer())
        .await?
        .rows_affected();
        if n > 0 {
            return Ok(());
        }
        let id = super::flavors::next_id(db, "compute_nodes").await?;
        let res = sqlx::query(db.sql(&format!(
            "INSERT INTO compute_nodes ({NODE_COLUMNS}, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(id)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(service_id)
        .bind(host)
        .bind(&r.hypervisor_hostname)
        .bind(i64::from(r.vcpus))
        .bind(r.memory_mb as i64)
        .bind(r.local_gb as i64)
        .bind(&r.hypervisor_type)
        .bind(r.hypervisor_version as i64)
        .bind(&r.host_ip)
        .bind(&cpu_info)
        .bind(now)
        .bind(now)
        .execute(db.writer())
        .await;
        match res.map_err(store::classify) {
            Ok(_) => return Ok(()),
            Err(store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(crate::error::ComputeError::Internal(format!(
        "compute node {} could not be recorded",
        r.hypervisor_hostname
    )))
}

pub async fn nodes(db: &Db) -> Result<Vec<NodeRow>> {
    let rows = sqlx::query(db.sql(&format!("SELECT {NODE_COLUMNS} FROM compute_nodes ORDER BY id")))
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(node_from_row).collect::<std::result::Result<_, _>>()?)
}

/// Sets the admin flags of a service.
pub async fn set_flags(
    db: &Db,
    id: i64,
    disabled: bool,
    disabled_reason: Option<&str>,
    forced_down: bool,
) -> Result<()> {
    sqlx::query(db.sql("UPDATE compute_services SET disabled = ?, disabled_reason = ?, forced_down = ? WHERE id = ?"))
        .bind(flag(disabled))
        .bind(disabled_reason)
        .bind(flag(forced_down))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Removes a service, its compute nodes and its host's aggregate
/// memberships (when it was the compute service).
pub async fn delete_service(db: &Db, s: &ServiceRow) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM compute_services WHERE id = ?"))
        .bind(s.id)
        .execute(&mut *tx)
        .await?;
    if s.binary == "nova-compute" {
        sqlx::query(db.sql("DELETE FROM compute_nodes WHERE service_id = ? OR host = ?"))
            .bind(s.id)
            .bind(&s.host)
            .execute(&mut *tx)
            .await?;
        sqlx::query(db.sql("DELETE FROM aggregate_hosts WHERE host = ?"))
            .bind(&s.host)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The live instances placed on a host (all hosts when `None`).
pub async fn hosted_instances(db: &Db, host: Option<&str>) -> Result<Vec<HostedInstance>> {
    let mut sql =
        "SELECT uuid, display_name, host, vcpus, memory_mb, root_gb, ephemeral_gb, task_state FROM instances \
                   WHERE deleted = 0 AND host IS NOT NULL"
            .to_owned();
    if host.is_some() {
        sql.push_str(" AND host = ?");
    }
    sql.push_str(" ORDER BY created_at, uuid");
    let mut q = sqlx::query(db.sql(&sql));
    if let Some(h) = host {
        q = q.bind(h);
    }
    let rows = q.fetch_all(db.reader()).await?;
    rows.iter()
        .map(|r| {
            Ok(HostedInstance {
                uuid: r.try_get("uuid")?,
                name: r.try_get("display_name")?,
                host: r.try_get("host")?,
                vcpus: r.try_get("vcpus")?,
                memory_mb: r.try_get("memory_mb")?,
                disk_gb: r.try_get::<i64, _>("root_gb")? + r.try_get::<i64, _>("ephemeral_gb")?,
                busy: r.try_get::<Option<String>, _>("task_state")?.is_some(),
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(Into::into)
}
