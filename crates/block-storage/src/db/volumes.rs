//! `volumes`.

use std::collections::BTreeMap;

use store::{AnyRow, Db, Row, flag, sqlx};

use super::{from_json, to_json};
use crate::error::Result;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct VolumeRow {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub project_id: String,
    pub user_id: String,
    pub status: String,
    pub size: i64,
    pub availability_zone: String,
    pub volume_type_id: String,
    /// `host@backend#pool` as Cinder shows it to admins; `None` until scheduled.
    pub host: Option<String>,
    pub bootable: bool,
    pub readonly: bool,
    pub multiattach: bool,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// `volume_image_metadata`: the image's properties, for volumes made from one.
    pub image_metadata: BTreeMap<String, String>,
    /// Why the last operation failed (never shown to users: logged and kept).
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, description, project_id, user_id, status, size, availability_zone, \
     volume_type_id, host, bootable, readonly, multiattach, snapshot_id, source_volid, metadata, image_metadata, \
     error, created_at, updated_at";

fn from_row(r: &AnyRow) -> std::result::Result<VolumeRow, sqlx::Error> {
    Ok(VolumeRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        project_id: r.try_get("project_id")?,
        user_id: r.try_get("user_id")?,
        status: r.try_get("status")?,
        size: r.try_get("size")?,
        availability_zone: r.try_get("availability_zone")?,
        volume_type_id: r.try_get("volume_type_id")?,
        host: r.try_get("host")?,
        bootable: r.try_get::<i64, _>("bootable")? != 0,
        readonly: r.try_get::<i64, _>("readonly")? != 0,
        multiattach: r.try_get::<i64, _>("multiattach")? != 0,
        snapshot_id: r.try_get("snapshot_id")?,
        source_volid: r.try_get("source_volid")?,
        metadata: from_json(&r.try_get::<String, _>("metadata")?),
        image_metadata: from_json(&r.try_get::<String, _>("image_metadata")?),
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(db: &Db, v: &VolumeRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO volumes ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&v.id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(&v.project_id)
    .bind(&v.user_id)
    .bind(&v.status)
    .bind(v.size)
    .bind(&v.availability_zone)
    .bind(&v.volume_type_id)
    .bind(&v.host)
    .bind(flag(v.bootable))
    .bind(flag(v.readonly))
    .bind(flag(v.multiattach))
    .bind(&v.snapshot_id)
    .bind(&v.source_volid)
    .bind(to_json(&v.metadata))
    .bind(to_json(&v.image_metadata))
    .bind(&v.error)
    .bind(v.created_at)
    .bind(v.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<VolumeRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM volumes WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Every volume, or a project's, oldest first.
pub async fn list(db: &Db, project_id: Option<&str>) -> Result<Vec<VolumeRow>> {
    let rows = match project_id {
        Some(p) => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM volumes WHERE project_id = ? ORDER BY created_at, id"
            )))
            .bind(p)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM volumes ORDER BY created_at, id")))
                .fetch_all(db.reader())
                .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

pub async fn on_host(db: &Db, host: &str) -> Result<Vec<VolumeRow>> {
    let rows = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM volumes WHERE host = ?")))
        .bind(host)
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// Writes the user-editable fields (name, description, metadata, flags).
pub async fn update_fields(db: &Db, v: &VolumeRow) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE volumes SET name = ?, description = ?, metadata = ?, image_metadata = ?, bootable = ?, readonly = ?, \
         updated_at = ? WHERE id = ?",
    ))
    .bind(&v.name)
    .bind(&v.description)
    .bind(to_json(&v.metadata))
    .bind(to_json(&v.image_metadata))
    .bind(flag(v.bootable))
    .bind(flag(v.readonly))
    .bind(super::now())
    .bind(&v.id)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Compare-and-swap of the status: moves it to `to` only from one of
/// `from` (any status when `from` is empty). Whether it moved.
pub async fn set_status(db: &Db, id: &str, from: &[&str], to: &str) -> Result<bool> {
    let mut sql = "UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?".to_owned();
    if !from.is_empty() {
        sql.push_str(&format!(" AND status IN ({})", store::placeholders(from.len())));
    }
    let mut q = sqlx::query(db.sql(&sql)).bind(to).bind(super::now()).bind(id);
    for f in from {
        q = q.bind(*f);
    }
    Ok(q.execute(db.writer()).await?.rows_affected() == 1)
}

/// The end of an agent's operation: status, and what it learnt.
pub async fn finish(
    db: &Db,
    id: &str,
    status: &str,
    size: Option<i64>,
    bootable: Option<bool>,
    error: Option<&str>,
) -> Result<bool> {
    let r = sqlx::query(db.sql(
        "UPDATE volumes SET status = ?, size = COALESCE(?, size), bootable = COALESCE(?, bootable), error = ?, \
         updated_at = ? WHERE id = ?",
    ))
    .bind(status)
    .bind(size)
    .bind(bootable.map(flag))
    .bind(error)
    .bind(super::now())
    .bind(id)
    .execute(db.writer())
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_host(db: &Db, id: &str, host: Option<&str>, error: Option<&str>) -> Result<()> {
    sqlx::query(db.sql("UPDATE volumes SET host = ?, error = ?, updated_at = ? WHERE id = ?"))
        .bind(host)
        .bind(error)
        .bind(super::now())
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn set_type(db: &Db, id: &str, volume_type_id: &str) -> Result<()> {
    sqlx::query(db.sql("UPDATE volumes SET volume_type_id = ?, updated_at = ? WHERE id = ?"))
        .bind(volume_type_id)
        .bind(super::now())
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Deletes the volume and its pending transfers (Cinder's
/// `volume_destroy` does the same), in one transaction.
pub async fn delete(db: &Db, id: &str) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM volume_transfers WHERE volume_id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(db.sql("DELETE FROM volumes WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A project's volumes as `(volume_type_id, size)`, for quotas (summed
/// by the caller: `SUM()` of a `BIGINT` is `NUMERIC` on PostgreSQL).
pub async fn sizes(db: &Db, project_id: &str) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(db.sql("SELECT volume_type_id, size FROM volumes WHERE project_id = ?"))
        .bind(project_id)
        .fetch_all(db.reader())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push((r.try_get("volume_type_id")?, r.try_get("size")?));
    }
    Ok(out)
}
