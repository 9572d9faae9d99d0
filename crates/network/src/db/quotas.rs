//! `quotas`: the limits set per project, one row per resource; a resource
//! without a row has the configured default.

use store::Db;
use store::sqlx::{self, Row};

use super::Conn;
use crate::error::Result;

pub async fn of_project(db: &Db, c: &mut Conn, project_id: &str) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(db.sql("SELECT resource, hard_limit FROM quotas WHERE project_id = ?"))
        .bind(project_id)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("resource")?, r.try_get("hard_limit")?)))
        .collect()
}

/// `(project_id, resource, limit)` of every project with a limit set.
pub async fn all(db: &Db, c: &mut Conn) -> Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(db.sql("SELECT project_id, resource, hard_limit FROM quotas ORDER BY project_id"))
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("project_id")?,
                r.try_get("resource")?,
                r.try_get("hard_limit")?,
            ))
        })
        .collect()
}

pub async fn set(db: &Db, c: &mut Conn, project_id: &str, resource: &str, limit: i64) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM quotas WHERE project_id = ? AND resource = ?"))
        .bind(project_id)
        .bind(resource)
        .execute(&mut *c)
        .await?;
    sqlx::query(db.sql("INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)"))
        .bind(project_id)
        .bind(resource)
        .bind(limit)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, c: &mut Conn, project_id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM quotas WHERE project_id = ?"))
        .bind(project_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
