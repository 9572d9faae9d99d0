//! `aggregates`, `aggregate_hosts`, `aggregate_metadata`.

use std::collections::BTreeMap;

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct AggregateRow {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    pub hosts: Vec<String>,
    pub metadata: BTreeMap<String, String>,
}

fn from_row(r: &AnyRow) -> std::result::Result<AggregateRow, sqlx::Error> {
    Ok(AggregateRow {
        id: r.try_get("id")?,
        uuid: r.try_get("uuid")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        hosts: Vec::new(),
        metadata: BTreeMap::new(),
    })
}

/// Every aggregate, with hosts and metadata, by id.
pub async fn all(db: &Db) -> Result<Vec<AggregateRow>> {
    let rows = sqlx::query(db.sql("SELECT id, uuid, name, created_at, updated_at FROM aggregates ORDER BY id"))
        .fetch_all(db.reader())
        .await?;
    let mut aggs: Vec<AggregateRow> = rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?;
    let hosts = sqlx::query(db.sql("SELECT aggregate_id, host FROM aggregate_hosts ORDER BY host"))
        .fetch_all(db.reader())
        .await?;
    let meta = sqlx::query(db.sql("SELECT aggregate_id, meta_key, meta_value FROM aggregate_metadata"))
        .fetch_all(db.reader())
        .await?;
    let mut by_id: BTreeMap<i64, &mut AggregateRow> = aggs.iter_mut().map(|a| (a.id, a)).collect();
    for r in &hosts {
        if let Some(a) = by_id.get_mut(&r.try_get::<i64, _>("aggregate_id")?) {
            a.hosts.push(r.try_get("host")?);
        }
    }
    for r in &meta {
        if let Some(a) = by_id.get_mut(&r.try_get::<i64, _>("aggregate_id")?) {
            a.metadata.insert(r.try_get("meta_key")?, r.try_get("meta_value")?);
        }
    }
    Ok(aggs)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<AggregateRow>> {
    Ok(all(db).await?.into_iter().find(|a| a.id == id))
}

pub async fn name_taken(db: &Db, name: &str, except: Option<i64>) -> Result<bool> {
    let rows = sqlx::query(db.sql("SELECT id FROM aggregates WHERE name = ?"))
        .bind(name)
        .fetch_all(db.reader())
        .await?;
    for r in rows {
        if Some(r.try_get::<i64, _>("id")?) != except {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Creates an aggregate (a taken name is `StoreError::Conflict`).
pub async fn insert(db: &Db, name: &str, metadata: &BTreeMap<String, String>, now: i64) -> Result<i64> {
    let mut attempts = 0;
    loop {
        let id = super::flavors::next_id(db, "aggregates").await?;
        let mut tx = db.writer().begin().await?;
        let res = sqlx::query(
            db.sql("INSERT INTO aggregates (id, uuid, name, created_at, updated_at) VALUES (?, ?, ?, ?, NULL)"),
        )
        .bind(id)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(e) = res {
            let e = store::classify(e);
            drop(tx);
            attempts += 1;
            if matches!(e, store::StoreError::Conflict(_)) && attempts < 5 && !name_taken(db, name, None).await? {
                continue;
            }
            return Err(e.into());
        }
        for (k, v) in metadata {
            sqlx::query(db.sql("INSERT INTO aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)"))
                .bind(id)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        return Ok(id);
    }
}

pub async fn rename(db: &Db, id: i64, name: &str, now: i64) -> Result<()> {
    sqlx::query(db.sql("UPDATE aggregates SET name = ?, updated_at = ? WHERE id = ?"))
        .bind(name)
        .bind(now)
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Sets (`Some`) or removes (`None`) metadata keys.
pub async fn set_metadata(db: &Db, id: i64, changes: &BTreeMap<String, Option<String>>, now: i64) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    for (k, v) in changes {
        sqlx::query(db.sql("DELETE FROM aggregate_metadata WHERE aggregate_id = ? AND meta_key = ?"))
            .bind(id)
            .bind(k)
            .execute(&mut *tx)
            .await?;
        if let Some(v) = v {
            sqlx::query(db.sql("INSERT INTO aggregate_metadata (aggregate_id, meta_key, meta_value) VALUES (?, ?, ?)"))
                .bind(id)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
    }
    sqlx::query(db.sql("UPDATE aggregates SET updated_at = ? WHERE id = ?"))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Adds a host (already a member: `StoreError::Conflict`).
pub async fn add_host(db: &Db, id: i64, host: &str) -> Result<()> {
    sqlx::query(db.sql("INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)"))
        .bind(id)
        .bind(host)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn remove_host(db: &Db, id: i64, host: &str) -> Result<bool> {
    let n = sqlx::query(db.sql("DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?"))
        .bind(id)
        .bind(host)
        .execute(db.writer())
        .await?
        .rows_affected();
    Ok(n > 0)
}

pub async fn delete(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    for sql in [
        "DELETE FROM aggregate_metadata WHERE aggregate_id = ?",
        "DELETE FROM aggregate_hosts WHERE aggregate_id = ?",
        "DELETE FROM aggregates WHERE id = ?",
    ] {
        sqlx::query(db.sql(sql)).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
