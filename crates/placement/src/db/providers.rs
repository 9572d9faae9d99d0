//! `resource_providers`, `provider_traits`, `provider_aggregates`.

use std::collections::{BTreeSet, HashMap};

use store::sqlx::{self, Row};
use store::{AnyRow, Db};

use super::{Conn, now};
use crate::error::Result;

#[derive(Clone, Debug)]
pub struct ProviderRow {
    pub uuid: String,
    pub name: String,
    pub generation: i64,
    pub parent_uuid: Option<String>,
    pub root_uuid: String,
    pub updated_at: i64,
}

const COLUMNS: &str = "uuid, name, generation, parent_uuid, root_uuid, updated_at";

fn row(r: &AnyRow) -> Result<ProviderRow> {
    Ok(ProviderRow {
        uuid: r.try_get("uuid")?,
        name: r.try_get("name")?,
        generation: r.try_get("generation")?,
        parent_uuid: r.try_get("parent_uuid")?,
        root_uuid: r.try_get("root_uuid")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn get(db: &Db, c: &mut Conn, uuid: &str) -> Result<Option<ProviderRow>> {
    let q = format!("SELECT {COLUMNS} FROM resource_providers WHERE uuid = ?");
    let r = sqlx::query(db.sql(&q)).bind(uuid).fetch_optional(&mut *c).await?;
    r.as_ref().map(row).transpose()
}

/// Providers matching the SQL-expressible filters, by name.
pub async fn list(
    db: &Db,
    c: &mut Conn,
    name: Option<&str>,
    uuid: Option<&str>,
    root: Option<&str>,
) -> Result<Vec<ProviderRow>> {
    let mut q = format!("SELECT {COLUMNS} FROM resource_providers WHERE 1 = 1");
    let mut binds = Vec::new();
    for (col, v) in [("name", name), ("uuid", uuid), ("root_uuid", root)] {
        if let Some(v) = v {
            q.push_str(&format!(" AND {col} = ?"));
            binds.push(v);
        }
    }
    q.push_str(" ORDER BY name");
    let q = db.sql(&q);
    let mut query = sqlx::query(q);
    for b in binds {
        query = query.bind(b);
    }
    query.fetch_all(&mut *c).await?.iter().map(row).collect()
}

pub async fn insert(db: &Db, c: &mut Conn, p: &ProviderRow) -> Result<()> {
    let t = now();
    sqlx::query(db.sql(
        "INSERT INTO resource_providers (uuid, name, generation, parent_uuid, root_uuid, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&p.uuid)
    .bind(&p.name)
    .bind(p.generation)
    .bind(p.parent_uuid.as_deref())
    .bind(&p.root_uuid)
    .bind(t)
    .bind(t)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Renames and re-parents a provider (no generation change, as Placement).
pub async fn update(db: &Db, c: &mut Conn, uuid: &str, name: &str, parent: Option<&str>, root: &str) -> Result<()> {
    sqlx::query(
        db.sql("UPDATE resource_providers SET name = ?, parent_uuid = ?, root_uuid = ?, updated_at = ? WHERE uuid = ?"),
    )
    .bind(name)
    .bind(parent)
    .bind(root)
    .bind(now())
    .bind(uuid)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Moves every provider of the tree rooted at `old_root` whose uuid is in
/// `uuids` to `new_root`.
pub async fn set_root(db: &Db, c: &mut Conn, uuids: &[String], new_root: &str) -> Result<()> {
    for u in uuids {
        sqlx::query(db.sql("UPDATE resource_providers SET root_uuid = ? WHERE uuid = ?"))
            .bind(new_root)
            .bind(u)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// The generation compare-and-swap: `expected` → `expected + 1`. False
/// when another writer moved it first.
pub async fn bump_generation(db: &Db, c: &mut Conn, uuid: &str, expected: i64) -> Result<bool> {
    let r = sqlx::query(
        db.sql("UPDATE resource_providers SET generation = ?, updated_at = ? WHERE uuid = ? AND generation = ?"),
    )
    .bind(expected + 1)
    .bind(now())
    .bind(uuid)
    .bind(expected)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn children_count(db: &Db, c: &mut Conn, uuid: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM resource_providers WHERE parent_uuid = ?"))
            .bind(uuid)
            .fetch_one(&mut *c)
            .await?,
    )
}

/// Every provider of a tree (uuid, parent).
pub async fn tree(db: &Db, c: &mut Conn, root: &str) -> Result<Vec<(String, Option<String>)>> {
    let rows = sqlx::query(db.sql("SELECT uuid, parent_uuid FROM resource_providers WHERE root_uuid = ?"))
        .bind(root)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("uuid")?, r.try_get("parent_uuid")?)))
        .collect()
}

/// Deletes the provider and what hangs off it (inventories, traits,
/// aggregates). The caller checked it has no allocations or children.
pub async fn delete(db: &Db, c: &mut Conn, uuid: &str) -> Result<bool> {
    for table in ["inventories", "provider_traits", "provider_aggregates"] {
        let q = format!("DELETE FROM {table} WHERE provider_uuid = ?");
        sqlx::query(db.sql(&q)).bind(uuid).execute(&mut *c).await?;
    }
    let r = sqlx::query(db.sql("DELETE FROM resource_providers WHERE uuid = ?"))
        .bind(uuid)
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() == 1)
}

// --- traits of providers ---------------------------------------------------

pub async fn traits(db: &Db, c: &mut Conn, uuid: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar(db.sql("SELECT trait FROM provider_traits WHERE provider_uuid = ? ORDER BY trait"))
            .bind(uuid)
            .fetch_all(&mut *c)
            .await?,
    )
}

pub async fn set_traits(db: &Db, c: &mut Conn, uuid: &str, traits: &BTreeSet<String>) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM provider_traits WHERE provider_uuid = ?"))
        .bind(uuid)
        .execute(&mut *c)
        .await?;
    for t in traits {
        sqlx::query(db.sql("INSERT INTO provider_traits (provider_uuid, trait) VALUES (?, ?)"))
            .bind(uuid)
            .bind(t)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Traits by provider, for every provider that has one.
pub async fn all_traits(db: &Db, c: &mut Conn) -> Result<HashMap<String, BTreeSet<String>>> {
    let rows = sqlx::query(db.sql("SELECT provider_uuid, trait FROM provider_traits"))
        .fetch_all(&mut *c)
        .await?;
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get("provider_uuid")?)
            .or_default()
            .insert(r.try_get("trait")?);
    }
    Ok(out)
}

pub async fn trait_in_use(db: &Db, c: &mut Conn, name: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM provider_traits WHERE trait = ?"))
        .bind(name)
        .fetch_one(&mut *c)
        .await?;
    Ok(n > 0)
}

/// The set of traits associated with any provider.
pub async fn associated_traits(db: &Db, c: &mut Conn) -> Result<BTreeSet<String>> {
    let v: Vec<String> = sqlx::query_scalar(db.sql("SELECT DISTINCT trait FROM provider_traits"))
        .fetch_all(&mut *c)
        .await?;
    Ok(v.into_iter().collect())
}

// --- aggregates of providers -------------------------------------------------

pub async fn aggregates(db: &Db, c: &mut Conn, uuid: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        db.sql("SELECT aggregate_uuid FROM provider_aggregates WHERE provider_uuid = ? ORDER BY aggregate_uuid"),
    )
    .bind(uuid)
    .fetch_all(&mut *c)
    .await?)
}

pub async fn set_aggregates(db: &Db, c: &mut Conn, uuid: &str, aggs: &BTreeSet<String>) -> Result<()> {
    sqlx::query(db.sql("DELETE FROM provider_aggregates WHERE provider_uuid = ?"))
        .bind(uuid)
        .execute(&mut *c)
        .await?;
    for a in aggs {
        sqlx::query(db.sql("INSERT INTO provider_aggregates (provider_uuid, aggregate_uuid) VALUES (?, ?)"))
            .bind(uuid)
            .bind(a)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Aggregates by provider, for every provider in one.
pub async fn all_aggregates(db: &Db, c: &mut Conn) -> Result<HashMap<String, BTreeSet<String>>> {
    let rows = sqlx::query(db.sql("SELECT provider_uuid, aggregate_uuid FROM provider_aggregates"))
        .fetch_all(&mut *c)
        .await?;
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for r in rows {
        out.entry(r.try_get("provider_uuid")?)
            .or_default()
            .insert(r.try_get("aggregate_uuid")?);
    }
    Ok(out)
}
