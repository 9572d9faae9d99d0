//! `services`: the scheduler and each volume backend, with the capacity
//! its last heartbeat reported.

use store::{AnyRow, Db, Row, flag, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceRow {
    pub host: String,
    pub binary: String,
    pub availability_zone: String,
    pub backend_name: Option<String>,
    pub total_capacity_gb: f64,
    pub free_capacity_gb: f64,
    pub version: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub frozen: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "host, bin, availability_zone, backend_name, total_capacity_gb, free_capacity_gb, version, \
     disabled, disabled_reason, frozen, created_at, updated_at";

fn from_row(r: &AnyRow) -> std::result::Result<ServiceRow, sqlx::Error> {
    Ok(ServiceRow {
        host: r.try_get("host")?,
        binary: r.try_get("bin")?,
        availability_zone: r.try_get("availability_zone")?,
        backend_name: r.try_get("backend_name")?,
        total_capacity_gb: r.try_get("total_capacity_gb")?,
        free_capacity_gb: r.try_get("free_capacity_gb")?,
        version: r.try_get("version")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        disabled_reason: r.try_get("disabled_reason")?,
        frozen: r.try_get::<i64, _>("frozen")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Records a heartbeat: updates the row, or inserts it the first time.
pub async fn heartbeat(db: &Db, s: &ServiceRow) -> Result<()> {
    let r = sqlx::query(db.sql(
        "UPDATE volume_services SET availability_zone = ?, backend_name = ?, total_capacity_gb = ?, free_capacity_gb = ?, \
         version = ?, updated_at = ? WHERE host = ? AND bin = ?",
    ))
    .bind(&s.availability_zone)
    .bind(&s.backend_name)
    .bind(s.total_capacity_gb)
    .bind(s.free_capacity_gb)
    .bind(&s.version)
    .bind(s.updated_at)
    .bind(&s.host)
    .bind(&s.binary)
    .execute(db.writer())
    .await?;
    if r.rows_affected() > 0 {
        return Ok(());
    }
    let inserted = sqlx::query(db.sql(&format!(
        "INSERT INTO volume_services ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&s.host)
    .bind(&s.binary)
    .bind(&s.availability_zone)
    .bind(&s.backend_name)
    .bind(s.total_capacity_gb)
    .bind(s.free_capacity_gb)
    .bind(&s.version)
    .bind(flag(s.disabled))
    .bind(&s.disabled_reason)
    .bind(flag(s.frozen))
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(db.writer())
    .await;
    match inserted {
        Ok(_) => Ok(()),
        // Two first heartbeats raced: the other one inserted the row.
        Err(e) => match store::classify(e) {
            store::StoreError::Conflict(_) => Ok(()),
            other => Err(other.into()),
        },
    }
}

pub async fn list(db: &Db) -> Result<Vec<ServiceRow>> {
    let rows = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM volume_services ORDER BY bin, host")))
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

pub async fn set_disabled(db: &Db, host: &str, binary: &str, disabled: bool, reason: Option<&str>) -> Result<bool> {
    let r =
        sqlx::query(db.sql("UPDATE volume_services SET disabled = ?, disabled_reason = ? WHERE host = ? AND bin = ?"))
            .bind(flag(disabled))
            .bind(reason)
            .bind(host)
            .bind(binary)
            .execute(db.writer())
            .await?;
    Ok(r.rows_affected() > 0)
}
