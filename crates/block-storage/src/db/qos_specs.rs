//! `qos_specs`, and their association with volume types
//! (`volume_types.qos_specs_id`: a type has at most one QoS spec, as in
//! Cinder, so the association is a column rather than a table).

use std::collections::BTreeMap;

use store::{AnyRow, Db, Row, sqlx};

use super::types::TypeRow;
use super::{from_json, to_json};
use crate::error::Result;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct QosRow {
    pub id: String,
    pub name: String,
    /// `front-end`, `back-end` or `both`.
    pub consumer: String,
    pub specs: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, consumer, specs, created_at, updated_at";

fn from_row(r: &AnyRow) -> std::result::Result<QosRow, sqlx::Error> {
    Ok(QosRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        consumer: r.try_get("consumer")?,
        specs: from_json(&r.try_get::<String, _>("specs")?),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Inserts the row; a duplicate name is `StoreError::Conflict`.
pub async fn insert(db: &Db, q: &QosRow) -> Result<()> {
    sqlx::query(db.sql(&format!("INSERT INTO qos_specs ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)")))
        .bind(&q.id)
        .bind(&q.name)
        .bind(&q.consumer)
        .bind(to_json(&q.specs))
        .bind(q.created_at)
        .bind(q.updated_at)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<QosRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM qos_specs WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

pub async fn by_name(db: &Db, name: &str) -> Result<Option<QosRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM qos_specs WHERE name = ?")))
        .bind(name)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

pub async fn list(db: &Db) -> Result<Vec<QosRow>> {
    let rows = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM qos_specs ORDER BY created_at, id")))
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// Writes consumer and specs (read, changed and written whole, as the
/// type's extra specs are).
pub async fn update(db: &Db, q: &QosRow) -> Result<()> {
    sqlx::query(db.sql("UPDATE qos_specs SET consumer = ?, specs = ?, updated_at = ? WHERE id = ?"))
        .bind(&q.consumer)
        .bind(to_json(&q.specs))
        .bind(super::now())
        .bind(&q.id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Deletes the spec and, in the same transaction, every association.
pub async fn delete(db: &Db, id: &str) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("UPDATE volume_types SET qos_specs_id = NULL WHERE qos_specs_id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(db.sql("DELETE FROM qos_specs WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The volume types associated with the spec, by name.
pub async fn associations(db: &Db, id: &str) -> Result<Vec<TypeRow>> {
    let rows = sqlx::query(db.sql(&format!(
        "SELECT {} FROM volume_types WHERE qos_specs_id = ? ORDER BY name, id",
        super::types::SELECT
    )))
    .bind(id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .map(super::types::from_row)
        .collect::<std::result::Result<_, _>>()?)
}

/// Associates the type with the spec unless it has one already; `false`
/// when it had (the caller then says which).
pub async fn associate(db: &Db, id: &str, type_id: &str) -> Result<bool> {
    let r = sqlx::query(
        db.sql("UPDATE volume_types SET qos_specs_id = ?, updated_at = ? WHERE id = ? AND qos_specs_id IS NULL"),
    )
    .bind(id)
    .bind(super::now())
    .bind(type_id)
    .execute(db.writer())
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Removes the association of one type (a no-op when the type is not
/// associated with this spec).
pub async fn disassociate(db: &Db, id: &str, type_id: &str) -> Result<()> {
    sqlx::query(
        db.sql("UPDATE volume_types SET qos_specs_id = NULL, updated_at = ? WHERE id = ? AND qos_specs_id = ?"),
    )
    .bind(super::now())
    .bind(type_id)
    .bind(id)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn disassociate_all(db: &Db, id: &str) -> Result<()> {
    sqlx::query(db.sql("UPDATE volume_types SET qos_specs_id = NULL, updated_at = ? WHERE qos_specs_id = ?"))
        .bind(super::now())
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(())
}
