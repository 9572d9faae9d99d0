//! `block_device_mapping`: the volumes attached to instances (Nova's
//! table of that name, for `source_type`/`destination_type` `volume`).
//! One row per (instance, volume) and per (instance, device name): the
//! unique indexes make two racing attaches of one volume, or to one
//! device, fail as a conflict.

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct BlockDeviceRow {
    pub uuid: String,
    pub instance_uuid: String,
    pub volume_id: String,
    pub device_name: String,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
    pub source_type: String,
    pub destination_type: String,
    pub created_at: i64,
}

const COLUMNS: &str = "uuid, instance_uuid, volume_id, device_name, tag, delete_on_termination, \
                       source_type, destination_type, created_at";

fn from_row(r: &AnyRow) -> std::result::Result<BlockDeviceRow, sqlx::Error> {
    Ok(BlockDeviceRow {
        uuid: r.try_get("uuid")?,
        instance_uuid: r.try_get("instance_uuid")?,
        volume_id: r.try_get("volume_id")?,
        device_name: r.try_get("device_name")?,
        tag: r.try_get("tag")?,
        delete_on_termination: r.try_get::<i64, _>("delete_on_termination")? != 0,
        source_type: r.try_get("source_type")?,
        destination_type: r.try_get("destination_type")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert(db: &Db, b: &BlockDeviceRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO block_device_mapping ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&b.uuid)
    .bind(&b.instance_uuid)
    .bind(&b.volume_id)
    .bind(&b.device_name)
    .bind(&b.tag)
    .bind(i64::from(b.delete_on_termination))
    .bind(&b.source_type)
    .bind(&b.destination_type)
    .bind(b.created_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// The instance's volumes, in the order they were attached.
pub async fn for_instance(db: &Db, instance_uuid: &str) -> Result<Vec<BlockDeviceRow>> {
    let rows = sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM block_device_mapping WHERE instance_uuid = ? ORDER BY created_at, device_name"
    )))
    .bind(instance_uuid)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// The volumes of many instances at once (a server listing renders them
/// all), each instance's in the order they were attached.
pub async fn for_instances(db: &Db, instance_uuids: &[String]) -> Result<Vec<BlockDeviceRow>> {
    let mut out = Vec::new();
    for chunk in instance_uuids.chunks(500) {
        let mut q = sqlx::query(db.sql(&format!(
            "SELECT {COLUMNS} FROM block_device_mapping WHERE instance_uuid IN ({}) \
             ORDER BY created_at, device_name",
            store::placeholders(chunk.len())
        )));
        for u in chunk {
            q = q.bind(u);
        }
        for r in q.fetch_all(db.reader()).await? {
            out.push(from_row(&r)?);
        }
    }
    Ok(out)
}

pub async fn get(db: &Db, instance_uuid: &str, volume_id: &str) -> Result<Option<BlockDeviceRow>> {
    let row = sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM block_device_mapping WHERE instance_uuid = ? AND volume_id = ?"
    )))
    .bind(instance_uuid)
    .bind(volume_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Removes one mapping; false when there was none.
pub async fn delete(db: &Db, instance_uuid: &str, volume_id: &str) -> Result<bool> {
    let done = sqlx::query(db.sql("DELETE FROM block_device_mapping WHERE instance_uuid = ? AND volume_id = ?"))
        .bind(instance_uuid)
        .bind(volume_id)
        .execute(db.writer())
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Sets `delete_on_termination` of one mapping; false when there was none.
pub async fn set_delete_on_termination(db: &Db, instance_uuid: &str, volume_id: &str, value: bool) -> Result<bool> {
    let done = sqlx::query(
        db.sql("UPDATE block_device_mapping SET delete_on_termination = ? WHERE instance_uuid = ? AND volume_id = ?"),
    )
    .bind(i64::from(value))
    .bind(instance_uuid)
    .bind(volume_id)
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected() > 0)
}
