//! `quotas` (per project, and per user with `user_id` set; `''` for the
//! project's own) and `quota_classes` (the `default` class overrides the
//! configured defaults).

use std::collections::BTreeMap;

use store::{Db, Row, sqlx};

use crate::error::Result;

pub async fn project_limits(db: &Db, project_id: &str, user_id: Option<&str>) -> Result<BTreeMap<String, i64>> {
    let rows =
        sqlx::query(db.sql("SELECT resource, hard_limit FROM quota_limits WHERE project_id = ? AND user_id = ?"))
            .bind(project_id)
            .bind(user_id.unwrap_or(""))
            .fetch_all(db.reader())
            .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        out.insert(r.try_get("resource")?, r.try_get("hard_limit")?);
    }
    Ok(out)
}

pub async fn set_limit(db: &Db, project_id: &str, user_id: Option<&str>, resource: &str, limit: i64) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM quota_limits WHERE project_id = ? AND user_id = ? AND resource = ?"))
        .bind(project_id)
        .bind(user_id.unwrap_or(""))
        .bind(resource)
        .execute(&mut *tx)
        .await?;
    sqlx::query(db.sql("INSERT INTO quota_limits (project_id, user_id, resource, hard_limit) VALUES (?, ?, ?, ?)"))
        .bind(project_id)
        .bind(user_id.unwrap_or(""))
        .bind(resource)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a project's (or one user's) quotas: back to the defaults.
pub async fn delete_limits(db: &Db, project_id: &str, user_id: Option<&str>) -> Result<()> {
    match user_id {
        Some(u) => {
            sqlx::query(db.sql("DELETE FROM quota_limits WHERE project_id = ? AND user_id = ?"))
                .bind(project_id)
                .bind(u)
                .execute(db.writer())
                .await?
        }
        None => {
            sqlx::query(db.sql("DELETE FROM quota_limits WHERE project_id = ?"))
                .bind(project_id)
                .execute(db.writer())
                .await?
        }
    };
    Ok(())
}

pub async fn class_limits(db: &Db, class: &str) -> Result<BTreeMap<String, i64>> {
    let rows = sqlx::query(db.sql("SELECT resource, hard_limit FROM quota_class_limits WHERE class_name = ?"))
        .bind(class)
        .fetch_all(db.reader())
        .await?;
    let mut out = BTreeMap::new();
    for r in rows {
        out.insert(r.try_get("resource")?, r.try_get("hard_limit")?);
    }
    Ok(out)
}

pub async fn set_class_limit(db: &Db, class: &str, resource: &str, limit: i64) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM quota_class_limits WHERE class_name = ? AND resource = ?"))
        .bind(class)
        .bind(resource)
        .execute(&mut *tx)
        .await?;
    sqlx::query(db.sql("INSERT INTO quota_class_limits (class_name, resource, hard_limit) VALUES (?, ?, ?)"))
        .bind(class)
        .bind(resource)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Key pairs of a user (the `key_pairs` table belongs to the keypair
/// code; this only counts).
pub async fn count_keypairs(db: &Db, user_id: &str) -> Result<i64> {
    let row = sqlx::query(db.sql("SELECT COUNT(*) AS n FROM key_pairs WHERE user_id = ?"))
        .bind(user_id)
        .fetch_one(db.reader())
        .await?;
    Ok(row.try_get("n")?)
}

/// The smallest of a user's own limits of `resource` over every project
/// (`-1`, unlimited, counts as the largest).
pub async fn user_limits_anywhere(db: &Db, user_id: &str, resource: &str) -> Result<Option<i64>> {
    let rows = sqlx::query(db.sql("SELECT hard_limit FROM quota_limits WHERE user_id = ? AND resource = ?"))
        .bind(user_id)
        .bind(resource)
        .fetch_all(db.reader())
        .await?;
    let mut out: Option<i64> = None;
    for r in rows {
        let l: i64 = r.try_get("hard_limit")?;
        out = Some(match out {
            None => l,
            Some(o) if o < 0 => l,
            Some(o) if l < 0 => o,
            Some(o) => o.min(l),
        });
    }
    Ok(out)
}
