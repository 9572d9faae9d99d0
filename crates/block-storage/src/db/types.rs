//! `volume_types`, `volume_type_projects`.

use std::collections::BTreeMap;

use store::{AnyRow, Db, Row, flag, sqlx};

use super::{from_json, to_json};
use crate::error::Result;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TypeRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub extra_specs: BTreeMap<String, String>,
    /// The QoS specs associated with the type (at most one, as Cinder);
    /// written only by `db::qos_specs`.
    pub qos_specs_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, description, is_public, extra_specs, created_at, updated_at";
/// What a read selects: the insert's columns plus the QoS association.
pub(super) const SELECT: &str = "id, name, description, is_public, extra_specs, qos_specs_id, created_at, updated_at";

pub(super) fn from_row(r: &AnyRow) -> std::result::Result<TypeRow, sqlx::Error> {
    Ok(TypeRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        is_public: r.try_get::<i64, _>("is_public")? != 0,
        extra_specs: from_json(&r.try_get::<String, _>("extra_specs")?),
        qos_specs_id: r.try_get("qos_specs_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(db: &Db, t: &TypeRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO volume_types ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&t.id)
    .bind(&t.name)
    .bind(&t.description)
    .bind(flag(t.is_public))
    .bind(to_json(&t.extra_specs))
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<TypeRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {SELECT} FROM volume_types WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

pub async fn by_name(db: &Db, name: &str) -> Result<Option<TypeRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {SELECT} FROM volume_types WHERE name = ?")))
        .bind(name)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

pub async fn list(db: &Db) -> Result<Vec<TypeRow>> {
    let rows = sqlx::query(db.sql(&format!("SELECT {SELECT} FROM volume_types ORDER BY name, id")))
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

pub async fn update(db: &Db, t: &TypeRow) -> Result<()> {
    sqlx::query(db.sql(
        "UPDATE volume_types SET name = ?, description = ?, is_public = ?, extra_specs = ?, updated_at = ? WHERE id = ?",
    ))
    .bind(&t.name)
    .bind(&t.description)
    .bind(flag(t.is_public))
    .bind(to_json(&t.extra_specs))
    .bind(super::now())
    .bind(&t.id)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn delete(db: &Db, id: &str) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM volume_type_projects WHERE volume_type_id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(db.sql("DELETE FROM volume_types WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Whether any volume or snapshot still uses the type.
pub async fn in_use(db: &Db, id: &str) -> Result<bool> {
    for table in ["volumes", "snapshots"] {
        let row = sqlx::query(db.sql(&format!("SELECT id FROM {table} WHERE volume_type_id = ? LIMIT 1")))
            .bind(id)
            .fetch_optional(db.reader())
            .await?;
        if row.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn projects(db: &Db, id: &str) -> Result<Vec<String>> {
    let rows =
        sqlx::query(db.sql("SELECT project_id FROM volume_type_projects WHERE volume_type_id = ? ORDER BY project_id"))
            .bind(id)
            .fetch_all(db.reader())
            .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("project_id"))
        .collect::<std::result::Result<_, _>>()?)
}

/// Ids of the private types `project_id` may use.
pub async fn accessible(db: &Db, project_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(db.sql("SELECT volume_type_id FROM volume_type_projects WHERE project_id = ?"))
        .bind(project_id)
        .fetch_all(db.reader())
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("volume_type_id"))
        .collect::<std::result::Result<_, _>>()?)
}

/// Adds access; `false` when the project had it already.
pub async fn add_project(db: &Db, id: &str, project_id: &str) -> Result<bool> {
    match sqlx::query(db.sql("INSERT INTO volume_type_projects (volume_type_id, project_id) VALUES (?, ?)"))
        .bind(id)
        .bind(project_id)
        .execute(db.writer())
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => match store::classify(e) {
            store::StoreError::Conflict(_) => Ok(false),
            other => Err(other.into()),
        },
    }
}

/// Removes access; `false` when the project had none.
pub async fn remove_project(db: &Db, id: &str, project_id: &str) -> Result<bool> {
    let r = sqlx::query(db.sql("DELETE FROM volume_type_projects WHERE volume_type_id = ? AND project_id = ?"))
        .bind(id)
        .bind(project_id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}
