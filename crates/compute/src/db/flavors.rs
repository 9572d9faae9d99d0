//! `flavors`, `flavor_extra_specs`, `flavor_projects`.

use std::collections::BTreeMap;

use store::{AnyRow, Db, Row, flag, sqlx};

use crate::error::Result;
use crate::flavors::Flavor;

const INSERT_COLUMNS: &str = "flavorid, name, vcpus, memory_mb, root_gb, ephemeral_gb, swap, rxtx_factor, \
     is_public, disabled, description, created_at";
const COLUMNS: &str = "flavorid, name, vcpus, memory_mb, root_gb, ephemeral_gb, swap, rxtx_factor, is_public, \
     disabled, description, created_at, updated_at";

/// A flavor with its creation and last update times.
pub type Stamped = (Flavor, i64, Option<i64>);

fn from_row(r: &AnyRow) -> std::result::Result<Stamped, sqlx::Error> {
    Ok((
        Flavor {
            id: r.try_get("flavorid")?,
            name: r.try_get("name")?,
            vcpus: r.try_get::<i64, _>("vcpus")? as u32,
            memory_mb: r.try_get::<i64, _>("memory_mb")? as u64,
            root_gb: r.try_get::<i64, _>("root_gb")? as u64,
            ephemeral_gb: r.try_get::<i64, _>("ephemeral_gb")? as u64,
            swap_mb: r.try_get::<i64, _>("swap")? as u64,
            rxtx_factor: r.try_get("rxtx_factor")?,
            is_public: r.try_get::<i64, _>("is_public")? != 0,
            disabled: r.try_get::<i64, _>("disabled")? != 0,
            description: r.try_get("description")?,
            extra_specs: BTreeMap::new(),
        },
        r.try_get("created_at")?,
        r.try_get("updated_at")?,
    ))
}

/// The next free integer id of `table` (tables with a `BIGINT id`). The
/// caller inserts and retries on a conflict.
pub(crate) async fn next_id(db: &Db, table: &'static str) -> Result<i64> {
    let sql = format!("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM {table}");
    let row = sqlx::query(store::AssertSqlSafe(sql)).fetch_one(db.writer()).await?;
    Ok(row.try_get::<i64, _>("n")?)
}

async fn specs_of(db: &Db, ids: &[String]) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT flavorid, spec_key, spec_value FROM flavor_extra_specs WHERE flavorid IN ({})",
            store::placeholders(chunk.len())
        );
        let mut q = sqlx::query(db.sql(&sql));
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(db.reader()).await? {
            out.entry(r.try_get("flavorid")?)
                .or_default()
                .insert(r.try_get("spec_key")?, r.try_get("spec_value")?);
        }
    }
    Ok(out)
}

pub async fn get(db: &Db, flavorid: &str) -> Result<Option<Flavor>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM flavors WHERE flavorid = ?")))
        .bind(flavorid)
        .fetch_optional(db.reader())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (mut f, _, _) = from_row(&row)?;
    f.extra_specs = specs_of(db, std::slice::from_ref(&f.id))
        .await?
        .remove(&f.id)
        .unwrap_or_default();
    Ok(Some(f))
}

pub async fn name_taken(db: &Db, name: &str) -> Result<bool> {
    let row = sqlx::query(db.sql("SELECT flavorid FROM flavors WHERE name = ?"))
        .bind(name)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.is_some())
}

/// Every flavor with its creation time, extra specs included.
pub async fn all(db: &Db) -> Result<Vec<Stamped>> {
    let rows = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM flavors")))
        .fetch_all(db.reader())
        .await?;
    let mut out = rows.iter().map(from_row).collect::<std::result::Result<Vec<_>, _>>()?;
    let ids: Vec<String> = out.iter().map(|(f, _, _)| f.id.clone()).collect();
    let mut specs = specs_of(db, &ids).await?;
    for (f, _, _) in &mut out {
        f.extra_specs = specs.remove(&f.id).unwrap_or_default();
    }
    Ok(out)
}

/// Inserts a flavor; a unique violation (id or name) comes back as
/// `StoreError::Conflict`.
pub async fn insert(db: &Db, f: &Flavor, now: i64) -> Result<()> {
    let mut attempts = 0;
    loop {
        let id = next_id(db, "flavors").await?;
        let res = sqlx::query(db.sql(&format!(
            "INSERT INTO flavors ({INSERT_COLUMNS}, id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
        )))
        .bind(&f.id)
        .bind(&f.name)
        .bind(i64::from(f.vcpus))
        .bind(f.memory_mb as i64)
        .bind(f.root_gb as i64)
        .bind(f.ephemeral_gb as i64)
        .bind(f.swap_mb as i64)
        .bind(f.rxtx_factor)
        .bind(flag(f.is_public))
        .bind(flag(f.disabled))
        .bind(&f.description)
        .bind(now)
        .bind(id)
        .execute(db.writer())
        .await;
        match res {
            Ok(_) => break,
            Err(e) => {
                let e = store::classify(e);
                attempts += 1;
                // A race on the integer id: the flavor id and name were free.
                if matches!(e, store::StoreError::Conflict(_))
                    && attempts < 5
                    && get(db, &f.id).await?.is_none()
                    && !name_taken(db, &f.name).await?
                {
                    continue;
                }
                return Err(e.into());
            }
        }
    }
    set_specs(db, &f.id, &f.extra_specs).await
}

pub async fn delete(db: &Db, flavorid: &str) -> Result<bool> {
    let mut tx = db.writer().begin().await?;
    let n = sqlx::query(db.sql("DELETE FROM flavors WHERE flavorid = ?"))
        .bind(flavorid)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    for table in ["flavor_extra_specs", "flavor_projects"] {
        sqlx::query(db.sql(&format!("DELETE FROM {table} WHERE flavorid = ?")))
            .bind(flavorid)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(n > 0)
}

pub async fn set_description(db: &Db, flavorid: &str, description: Option<&str>, now: i64) -> Result<bool> {
    let n = sqlx::query(db.sql("UPDATE flavors SET description = ?, updated_at = ? WHERE flavorid = ?"))
        .bind(description)
        .bind(now)
        .bind(flavorid)
        .execute(db.writer())
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Creates or replaces the given extra specs (others are kept).
pub async fn set_specs(db: &Db, flavorid: &str, specs: &BTreeMap<String, String>) -> Result<()> {
    if specs.is_empty() {
        return Ok(());
    }
    let mut tx = db.writer().begin().await?;
    for (k, v) in specs {
        sqlx::query(db.sql("DELETE FROM flavor_extra_specs WHERE flavorid = ? AND spec_key = ?"))
            .bind(flavorid)
            .bind(k)
            .execute(&mut *tx)
            .await?;
        sqlx::query(db.sql("INSERT INTO flavor_extra_specs (flavorid, spec_key, spec_value) VALUES (?, ?, ?)"))
            .bind(flavorid)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete_spec(db: &Db, flavorid: &str, key: &str) -> Result<bool> {
    let n = sqlx::query(db.sql("DELETE FROM flavor_extra_specs WHERE flavorid = ? AND spec_key = ?"))
        .bind(flavorid)
        .bind(key)
        .execute(db.writer())
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// Projects given access to a private flavor.
pub async fn projects(db: &Db, flavorid: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(db.sql("SELECT project_id FROM flavor_projects WHERE flavorid = ? ORDER BY project_id"))
        .bind(flavorid)
        .fetch_all(db.reader())
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("project_id"))
        .collect::<std::result::Result<_, _>>()?)
}

/// Flavor ids the project was given access to.
pub async fn accessible_ids(db: &Db, project_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(db.sql("SELECT flavorid FROM flavor_projects WHERE project_id = ?"))
        .bind(project_id)
        .fetch_all(db.reader())
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("flavorid"))
        .collect::<std::result::Result<_, _>>()?)
}

pub async fn has_access(db: &Db, flavorid: &str, project_id: &str) -> Result<bool> {
    let row = sqlx::query(db.sql("SELECT flavorid FROM flavor_projects WHERE flavorid = ? AND project_id = ?"))
        .bind(flavorid)
        .bind(project_id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.is_some())
}

/// Gives access; a second grant is `StoreError::Conflict`.
pub async fn add_access(db: &Db, flavorid: &str, project_id: &str) -> Result<()> {
    sqlx::query(db.sql("INSERT INTO flavor_projects (flavorid, project_id) VALUES (?, ?)"))
        .bind(flavorid)
        .bind(project_id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn remove_access(db: &Db, flavorid: &str, project_id: &str) -> Result<bool> {
    let n = sqlx::query(db.sql("DELETE FROM flavor_projects WHERE flavorid = ? AND project_id = ?"))
        .bind(flavorid)
        .bind(project_id)
        .execute(db.writer())
        .await?
        .rows_affected();
    Ok(n > 0)
}
