//! `resource_classes` and `traits`: the custom names (the standard ones
//! live in code, see `standard`).

use store::Db;
use store::sqlx;

use super::{Conn, now};
use crate::error::Result;

/// The two name tables.
#[derive(Clone, Copy, Debug)]
pub enum Table {
    ResourceClasses,
    Traits,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::ResourceClasses => "resource_classes",
            Table::Traits => "traits",
        }
    }
}

pub async fn list(db: &Db, c: &mut Conn, t: Table) -> Result<Vec<String>> {
    let q = format!("SELECT name FROM {} ORDER BY name", t.name());
    Ok(sqlx::query_scalar(db.sql(&q)).fetch_all(&mut *c).await?)
}

pub async fn exists(db: &Db, c: &mut Conn, t: Table, name: &str) -> Result<bool> {
    let q = format!("SELECT COUNT(*) FROM {} WHERE name = ?", t.name());
    let n: i64 = sqlx::query_scalar(db.sql(&q)).bind(name).fetch_one(&mut *c).await?;
    Ok(n > 0)
}

/// Inserts `name`; a duplicate is `StoreError::Conflict`.
pub async fn insert(db: &Db, c: &mut Conn, t: Table, name: &str) -> Result<()> {
    let q = format!("INSERT INTO {} (name, created_at) VALUES (?, ?)", t.name());
    sqlx::query(db.sql(&q)).bind(name).bind(now()).execute(&mut *c).await?;
    Ok(())
}

pub async fn rename(db: &Db, c: &mut Conn, t: Table, from: &str, to: &str) -> Result<bool> {
    let q = format!("UPDATE {} SET name = ? WHERE name = ?", t.name());
    let r = sqlx::query(db.sql(&q)).bind(to).bind(from).execute(&mut *c).await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(db: &Db, c: &mut Conn, t: Table, name: &str) -> Result<bool> {
    let q = format!("DELETE FROM {} WHERE name = ?", t.name());
    let r = sqlx::query(db.sql(&q)).bind(name).execute(&mut *c).await?;
    Ok(r.rows_affected() == 1)
}
