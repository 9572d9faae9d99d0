//! `inventories`, and the usage sums read beside them.

use std::collections::HashMap;

use store::sqlx::{self, Row};
use store::{AnyRow, Db};

use super::{Conn, now};
use crate::error::{PlacementError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct InventoryRow {
    pub resource_class: String,
    pub total: i64,
    pub reserved: i64,
    pub min_unit: i64,
    pub max_unit: i64,
    pub step_size: i64,
    pub allocation_ratio: f64,
}

fn row(r: &AnyRow) -> Result<(String, InventoryRow)> {
    let ratio: String = r.try_get("allocation_ratio")?;
    Ok((
        r.try_get("provider_uuid")?,
        InventoryRow {
            resource_class: r.try_get("resource_class")?,
            total: r.try_get("total")?,
            reserved: r.try_get("reserved")?,
            min_unit: r.try_get("min_unit")?,
            max_unit: r.try_get("max_unit")?,
            step_size: r.try_get("step_size")?,
            allocation_ratio: ratio
                .parse()
                .map_err(|_| PlacementError::bad(format!("stored allocation_ratio {ratio:?} is not a number")))?,
        },
    ))
}

const COLUMNS: &str = "provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, allocation_ratio";

/// A provider's inventories, by resource class.
pub async fn of_provider(db: &Db, c: &mut Conn, uuid: &str) -> Result<Vec<InventoryRow>> {
    let q = format!("SELECT {COLUMNS} FROM inventories WHERE provider_uuid = ? ORDER BY resource_class");
    let rows = sqlx::query(db.sql(&q)).bind(uuid).fetch_all(&mut *c).await?;
    rows.iter().map(|r| row(r).map(|(_, i)| i)).collect()
}

/// Every inventory, by provider.
pub async fn all(db: &Db, c: &mut Conn) -> Result<HashMap<String, Vec<InventoryRow>>> {
    let q = format!("SELECT {COLUMNS} FROM inventories ORDER BY resource_class");
    let rows = sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?;
    let mut out: HashMap<String, Vec<InventoryRow>> = HashMap::new();
    for r in &rows {
        let (p, i) = row(r)?;
        out.entry(p).or_default().push(i);
    }
    Ok(out)
}

pub async fn insert(db: &Db, c: &mut Conn, uuid: &str, i: &InventoryRow) -> Result<()> {
    let t = now();
    sqlx::query(db.sql(
        "INSERT INTO inventories (provider_uuid, resource_class, total, reserved, min_unit, max_unit, step_size, \
         allocation_ratio, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(uuid)
    .bind(&i.resource_class)
    .bind(i.total)
    .bind(i.reserved)
    .bind(i.min_unit)
    .bind(i.max_unit)
    .bind(i.step_size)
    .bind(i.allocation_ratio.to_string())
    .bind(t)
    .bind(t)
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn update(db: &Db, c: &mut Conn, uuid: &str, i: &InventoryRow) -> Result<bool> {
    let r = sqlx::query(db.sql(
        "UPDATE inventories SET total = ?, reserved = ?, min_unit = ?, max_unit = ?, step_size = ?, \
         allocation_ratio = ?, updated_at = ? WHERE provider_uuid = ? AND resource_class = ?",
    ))
    .bind(i.total)
    .bind(i.reserved)
    .bind(i.min_unit)
    .bind(i.max_unit)
    .bind(i.step_size)
    .bind(i.allocation_ratio.to_string())
    .bind(now())
    .bind(uuid)
    .bind(&i.resource_class)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(db: &Db, c: &mut Conn, uuid: &str, class: &str) -> Result<bool> {
    let r = sqlx::query(db.sql("DELETE FROM inventories WHERE provider_uuid = ? AND resource_class = ?"))
        .bind(uuid)
        .bind(class)
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn class_in_use(db: &Db, c: &mut Conn, class: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM inventories WHERE resource_class = ?"))
        .bind(class)
        .fetch_one(&mut *c)
        .await?;
    Ok(n > 0)
}

/// `SUM(used)` as a 64-bit integer on every backend: a bare `SUM()` of a
/// BIGINT is a decimal on PostgreSQL and MySQL, which `Any` cannot decode.
fn sum_used(db: &Db) -> &'static str {
    match db.backend() {
        store::Backend::MySql => "CAST(SUM(used) AS SIGNED)",
        _ => "CAST(SUM(used) AS BIGINT)",
    }
}

/// What is allocated on a provider, by resource class (classes without
/// allocations absent), summed by the database.
pub async fn usage_of_provider(db: &Db, c: &mut Conn, uuid: &str) -> Result<HashMap<String, i64>> {
    let q = format!(
        "SELECT resource_class, {} AS used FROM allocations WHERE provider_uuid = ? GROUP BY resource_class",
        sum_used(db)
    );
    let rows = sqlx::query(db.sql(&q)).bind(uuid).fetch_all(&mut *c).await?;
    let mut out: HashMap<String, i64> = HashMap::new();
    for r in rows {
        out.insert(r.try_get("resource_class")?, r.try_get::<i64, _>("used")?);
    }
    Ok(out)
}

/// What is allocated, by provider and resource class.
pub async fn all_usage(db: &Db, c: &mut Conn) -> Result<HashMap<(String, String), i64>> {
    let q = format!(
        "SELECT provider_uuid, resource_class, {} AS used FROM allocations GROUP BY provider_uuid, resource_class",
        sum_used(db)
    );
    let rows = sqlx::query(db.sql(&q)).fetch_all(&mut *c).await?;
    let mut out: HashMap<(String, String), i64> = HashMap::new();
    for r in rows {
        out.insert(
            (r.try_get("provider_uuid")?, r.try_get("resource_class")?),
            r.try_get::<i64, _>("used")?,
        );
    }
    Ok(out)
}
