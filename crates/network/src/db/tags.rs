//! `tags`: the standard-attribute tags of networks, subnets, ports and
//! security groups, keyed by resource type and id.

use std::collections::HashMap;

use store::Db;
use store::sqlx::{self, Row};

use super::Conn;
use crate::error::Result;

pub async fn of(db: &Db, c: &mut Conn, resource_type: &str, id: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar(db.sql("SELECT tag FROM tags WHERE resource_type = ? AND resource_id = ? ORDER BY tag"))
            .bind(resource_type)
            .bind(id)
            .fetch_all(&mut *c)
            .await?,
    )
}

/// The tags of every resource of a type, by id.
pub async fn all_of_type(db: &Db, c: &mut Conn, resource_type: &str) -> Result<HashMap<String, Vec<String>>> {
    let rows = sqlx::query(db.sql("SELECT resource_id, tag FROM tags WHERE resource_type = ? ORDER BY tag"))
        .bind(resource_type)
        .fetch_all(&mut *c)
        .await?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get("resource_id")?)
            .or_default()
            .push(r.try_get("tag")?);
    }
    Ok(out)
}

pub async fn add(db: &Db, c: &mut Conn, resource_type: &str, id: &str, tag: &str) -> Result<()> {
    sqlx::query(db.sql("INSERT INTO tags (resource_type, resource_id, tag) VALUES (?, ?, ?)"))
        .bind(resource_type)
        .bind(id)
        .bind(tag)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// False when the tag was not there.
pub async fn remove(db: &Db, c: &mut Conn, resource_type: &str, id: &str, tag: &str) -> Result<bool> {
    let r = sqlx::query(db.sql("DELETE FROM tags WHERE resource_type = ? AND resource_id = ? AND tag = ?"))
        .bind(resource_type)
        .bind(id)
        .bind(tag)
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn remove_all(db: &Db, c: &mut Conn, resource_type: &str, id: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM tags WHERE resource_type = ? AND resource_id = ?"))
        .bind(resource_type)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
