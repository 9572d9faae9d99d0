//! `quotas`: per-project hard limits that differ from the defaults.

use std::collections::BTreeMap;

use store::{Db, Row, sqlx};

use crate::error::Result;

pub async fn limits(db: &Db, project_id: &str) -> Result<BTreeMap<String, i64>> {
    let rows = sqlx::query(db.sql("SELECT resource, hard_limit FROM volume_quotas WHERE project_id = ?"))
        .bind(project_id)
        .fetch_all(db.reader())
        .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        out.insert(r.try_get("resource")?, r.try_get("hard_limit")?);
    }
    Ok(out)
}

/// Sets `resource`'s limit for the project (delete then insert: no upsert
/// is common to the three databases).
pub async fn set(db: &Db, project_id: &str, resource: &str, limit: i64) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM volume_quotas WHERE project_id = ? AND resource = ?"))
        .bind(project_id)
        .bind(resource)
        .execute(&mut *tx)
        .await?;
    sqlx::query(db.sql("INSERT INTO volume_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)"))
        .bind(project_id)
        .bind(resource)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn clear(db: &Db, project_id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM volume_quotas WHERE project_id = ?"))
        .bind(project_id)
        .execute(db.writer())
        .await?;
    Ok(())
}
