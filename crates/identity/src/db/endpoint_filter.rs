//! Endpoint groups and the project–endpoint and project–endpoint-group
//! associations of `OS-EP-FILTER`.

use serde_json::{Map, Value};
use store::{Db, Row};

use super::extra_from_text;

#[derive(Clone, Debug, PartialEq)]
pub struct EndpointGroupRow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Endpoint attributes (`service_id`, `region_id`, `interface`) and the
    /// values an endpoint must have to be in the group.
    pub filters: Map<String, Value>,
}

fn group_from_row(r: &store::AnyRow) -> Result<EndpointGroupRow, store::sqlx::Error> {
    Ok(EndpointGroupRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        filters: extra_from_text(&r.try_get::<String, _>("filters")?),
    })
}

pub async fn list_groups(db: &Db) -> Result<Vec<EndpointGroupRow>, store::sqlx::Error> {
    let rows =
        store::sqlx::query(db.sql("SELECT id, name, description, filters FROM endpoint_groups ORDER BY name, id"))
            .fetch_all(db.reader())
            .await?;
    rows.iter().map(group_from_row).collect()
}

pub async fn get_group(db: &Db, id: &str) -> Result<Option<EndpointGroupRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql("SELECT id, name, description, filters FROM endpoint_groups WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| group_from_row(&r))
        .transpose()
}

pub async fn insert_group(db: &Db, g: &EndpointGroupRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("INSERT INTO endpoint_groups (id, name, description, filters) VALUES (?, ?, ?, ?)"))
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(Value::Object(g.filters.clone()).to_string())
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn update_group(db: &Db, g: &EndpointGroupRow) -> Result<bool, store::StoreError> {
    let r =
        store::sqlx::query(db.sql("UPDATE endpoint_groups SET name = ?, description = ?, filters = ? WHERE id = ?"))
            .bind(&g.name)
            .bind(&g.description)
            .bind(Value::Object(g.filters.clone()).to_string())
            .bind(&g.id)
            .execute(db.writer())
            .await?;
    Ok(r.rows_affected() > 0)
}

/// Deletes an endpoint group and its project associations.
pub async fn delete_group(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    store::sqlx::query(db.sql("DELETE FROM project_endpoint_groups WHERE endpoint_group_id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let r = store::sqlx::query(db.sql("DELETE FROM endpoint_groups WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(r.rows_affected() > 0)
}

/// Associates an endpoint with a project; already associated is success.
pub async fn add_project_endpoint(db: &Db, project_id: &str, endpoint_id: &str) -> Result<(), store::StoreError> {
    let r = store::sqlx::query(db.sql("INSERT INTO project_endpoints (endpoint_id, project_id) VALUES (?, ?)"))
        .bind(endpoint_id)
        .bind(project_id)
        .execute(db.writer())
        .await;
    match r.map_err(store::classify) {
        Ok(_) | Err(store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn project_endpoint_exists(db: &Db, project_id: &str, endpoint_id: &str) -> Result<bool, store::sqlx::Error> {
    let n: i64 = store::sqlx::query_scalar(
        db.sql("SELECT COUNT(*) FROM project_endpoints WHERE endpoint_id = ? AND project_id = ?"),
    )
    .bind(endpoint_id)
    .bind(project_id)
    .fetch_one(db.reader())
    .await?;
    Ok(n > 0)
}

pub async fn remove_project_endpoint(db: &Db, project_id: &str, endpoint_id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM project_endpoints WHERE endpoint_id = ? AND project_id = ?"))
        .bind(endpoint_id)
        .bind(project_id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

async fn column(db: &Db, sql: &str, key: &str) -> Result<Vec<String>, store::sqlx::Error> {
    store::sqlx::query_scalar(db.sql(sql))
        .bind(key)
        .fetch_all(db.reader())
        .await
}

/// Ids of the endpoints associated with a project directly.
pub async fn endpoints_of_project(db: &Db, project_id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    column(
        db,
        "SELECT endpoint_id FROM project_endpoints WHERE project_id = ? ORDER BY endpoint_id",
        project_id,
    )
    .await
}

/// Ids of the projects an endpoint is associated with directly.
pub async fn projects_of_endpoint(db: &Db, endpoint_id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    column(
        db,
        "SELECT project_id FROM project_endpoints WHERE endpoint_id = ? ORDER BY project_id",
        endpoint_id,
    )
    .await
}

pub async fn add_project_group(db: &Db, group_id: &str, project_id: &str) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("INSERT INTO project_endpoint_groups (endpoint_group_id, project_id) VALUES (?, ?)"))
        .bind(group_id)
        .bind(project_id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn project_group_exists(db: &Db, group_id: &str, project_id: &str) -> Result<bool, store::sqlx::Error> {
    let n: i64 = store::sqlx::query_scalar(
        db.sql("SELECT COUNT(*) FROM project_endpoint_groups WHERE endpoint_group_id = ? AND project_id = ?"),
    )
    .bind(group_id)
    .bind(project_id)
    .fetch_one(db.reader())
    .await?;
    Ok(n > 0)
}

pub async fn remove_project_group(db: &Db, group_id: &str, project_id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(
        db.sql("DELETE FROM project_endpoint_groups WHERE endpoint_group_id = ? AND project_id = ?"),
    )
    .bind(group_id)
    .bind(project_id)
    .execute(db.writer())
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Ids of the endpoint groups associated with a project.
pub async fn groups_of_project(db: &Db, project_id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    column(
        db,
        "SELECT endpoint_group_id FROM project_endpoint_groups WHERE project_id = ? ORDER BY endpoint_group_id",
        project_id,
    )
    .await
}

/// Ids of the projects an endpoint group is associated with.
pub async fn projects_of_group(db: &Db, group_id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    column(
        db,
        "SELECT project_id FROM project_endpoint_groups WHERE endpoint_group_id = ? ORDER BY project_id",
        group_id,
    )
    .await
}

/// Removes every association of a deleted project.
pub async fn delete_project_associations(db: &Db, project_id: &str) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    for sql in [
        "DELETE FROM project_endpoints WHERE project_id = ?",
        "DELETE FROM project_endpoint_groups WHERE project_id = ?",
    ] {
        store::sqlx::query(db.sql(sql))
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
