//! `consumers` and `allocations`.

use store::sqlx::{self, Row};
use store::{AnyRow, Db};

use super::{Conn, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct ConsumerRow {
    pub uuid: String,
    pub project_id: String,
    pub user_id: String,
    pub generation: i64,
    pub consumer_type: Option<String>,
}

fn consumer(r: &AnyRow) -> Result<ConsumerRow> {
    Ok(ConsumerRow {
        uuid: r.try_get("uuid")?,
        project_id: r.try_get("project_id")?,
        user_id: r.try_get("user_id")?,
        generation: r.try_get("generation")?,
        consumer_type: r.try_get("consumer_type")?,
    })
}

pub async fn consumer_get(db: &Db, c: &mut Conn, uuid: &str) -> Result<Option<ConsumerRow>> {
    let r = sqlx::query(
        db.sql("SELECT uuid, project_id, user_id, generation, consumer_type FROM consumers WHERE uuid = ?"),
    )
    .bind(uuid)
    .fetch_optional(&mut *c)
    .await?;
    r.as_ref().map(consumer).transpose()
}

/// Inserts a consumer; one inserted concurrently is `StoreError::Conflict`.
pub async fn consumer_insert(db: &Db, c: &mut Conn, row: &ConsumerRow) -> Result<()> {
    let t = now();
    sqlx::query(db.sql(
        "INSERT INTO consumers (uuid, project_id, user_id, generation, consumer_type, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&row.uuid)
    .bind(&row.project_id)
    .bind(&row.user_id)
    .bind(row.generation)
    .bind(row.consumer_type.as_deref())
    .bind(t)
    .bind(t)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The consumer generation compare-and-swap, writing the owner and type
/// at the same time. False when another writer moved it first.
pub async fn consumer_update(db: &Db, c: &mut Conn, row: &ConsumerRow, expected: i64) -> Result<bool> {
    let r = sqlx::query(db.sql(
        "UPDATE consumers SET project_id = ?, user_id = ?, consumer_type = ?, generation = ?, updated_at = ? \
         WHERE uuid = ? AND generation = ?",
    ))
    .bind(&row.project_id)
    .bind(&row.user_id)
    .bind(row.consumer_type.as_deref())
    .bind(row.generation)
    .bind(now())
    .bind(&row.uuid)
    .bind(expected)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn consumer_delete(db: &Db, c: &mut Conn, uuid: &str) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM consumers WHERE uuid = ?"))
        .bind(uuid)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// One allocation row.
#[derive(Clone, Debug)]
pub struct AllocationRow {
    pub consumer_uuid: String,
    pub provider_uuid: String,
    pub resource_class: String,
    pub used: i64,
}

fn allocation(r: &AnyRow) -> Result<AllocationRow> {
    Ok(AllocationRow {
        consumer_uuid: r.try_get("consumer_uuid")?,
        provider_uuid: r.try_get("provider_uuid")?,
        resource_class: r.try_get("resource_class")?,
        used: r.try_get("used")?,
    })
}

const COLUMNS: &str = "consumer_uuid, provider_uuid, resource_class, used";

pub async fn of_consumer(db: &Db, c: &mut Conn, uuid: &str) -> Result<Vec<AllocationRow>> {
    let q = format!("SELECT {COLUMNS} FROM allocations WHERE consumer_uuid = ? ORDER BY provider_uuid, resource_class");
    let rows = sqlx::query(db.sql(&q)).bind(uuid).fetch_all(&mut *c).await?;
    rows.iter().map(allocation).collect()
}

pub async fn of_provider(db: &Db, c: &mut Conn, uuid: &str) -> Result<Vec<AllocationRow>> {
    let q = format!("SELECT {COLUMNS} FROM allocations WHERE provider_uuid = ? ORDER BY consumer_uuid, resource_class");
    let rows = sqlx::query(db.sql(&q)).bind(uuid).fetch_all(&mut *c).await?;
    rows.iter().map(allocation).collect()
}

pub async fn provider_has_allocations(db: &Db, c: &mut Conn, uuid: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM allocations WHERE provider_uuid = ?"))
        .bind(uuid)
        .fetch_one(&mut *c)
        .await?;
    Ok(n > 0)
}

/// The resource classes of a provider's allocations among `classes`.
pub async fn classes_in_use(db: &Db, c: &mut Conn, uuid: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        db.sql("SELECT DISTINCT resource_class FROM allocations WHERE provider_uuid = ? ORDER BY resource_class"),
    )
    .bind(uuid)
    .fetch_all(&mut *c)
    .await?)
}

pub async fn delete_of_consumer(db: &Db, c: &mut Conn, uuid: &str) -> Result<u64> {
    let r = sqlx::query(db.sql("DELETE FROM allocations WHERE consumer_uuid = ?"))
        .bind(uuid)
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected())
}

pub async fn insert(db: &Db, c: &mut Conn, a: &AllocationRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO allocations (consumer_uuid, provider_uuid, resource_class, used, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    ))
    .bind(&a.consumer_uuid)
    .bind(&a.provider_uuid)
    .bind(&a.resource_class)
    .bind(a.used)
    .bind(now())
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The generation of each consumer among `uuids` (absent: none).
pub async fn consumer_generations(
    db: &Db,
    c: &mut Conn,
    uuids: &[String],
) -> Result<std::collections::HashMap<String, i64>> {
    let mut out = std::collections::HashMap::new();
    for chunk in uuids.chunks(500) {
        let q = format!(
            "SELECT uuid, generation FROM consumers WHERE uuid IN ({})",
            store::placeholders(chunk.len())
        );
        let q = db.sql(&q);
        let mut query = sqlx::query(q);
        for u in chunk {
            query = query.bind(u);
        }
        for r in query.fetch_all(&mut *c).await? {
            out.insert(r.try_get("uuid")?, r.try_get("generation")?);
        }
    }
    Ok(out)
}

/// `(consumer uuid, consumer type, resource class, used)` of every
/// allocation of a project (and user).
pub async fn of_project(
    db: &Db,
    c: &mut Conn,
    project_id: &str,
    user_id: Option<&str>,
) -> Result<Vec<(String, Option<String>, String, i64)>> {
    let mut q = String::from(
        "SELECT a.consumer_uuid, c.consumer_type, a.resource_class, a.used FROM allocations a \
         JOIN consumers c ON c.uuid = a.consumer_uuid WHERE c.project_id = ?",
    );
    if user_id.is_some() {
        q.push_str(" AND c.user_id = ?");
    }
    let q = db.sql(&q);
    let mut query = sqlx::query(q).bind(project_id);
    if let Some(u) = user_id {
        query = query.bind(u);
    }
    query
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("consumer_uuid")?,
                r.try_get("consumer_type")?,
                r.try_get("resource_class")?,
                r.try_get("used")?,
            ))
        })
        .collect()
}
