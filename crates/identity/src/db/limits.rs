//! Unified limits: registered (default) limits and project/domain limits.
//!
//! A limit refers to its registered limit by the triple (service, region,
//! resource name), stored on both rows; the triple is unique among
//! registered limits, and (triple, project or domain) among limits. The
//! schema has no unique index on them (the region may be NULL), so the
//! inserts below check for duplicates inside their write transaction.

use store::sqlx::AnyConnection;
use store::{Db, Row};

#[derive(Clone, Debug, PartialEq)]
pub struct RegisteredLimitRow {
    pub id: String,
    pub service_id: String,
    pub region_id: Option<String>,
    pub resource_name: String,
    pub default_limit: i64,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LimitRow {
    pub id: String,
    /// Exactly one of `project_id` and `domain_id` is set.
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub service_id: String,
    pub region_id: Option<String>,
    pub resource_name: String,
    pub resource_limit: i64,
    pub description: Option<String>,
}

const REGISTERED_COLUMNS: &str = "id, service_id, region_id, resource_name, default_limit, description";
const LIMIT_COLUMNS: &str =
    "id, project_id, domain_id, service_id, region_id, resource_name, resource_limit, description";

fn registered_from_row(r: &store::AnyRow) -> Result<RegisteredLimitRow, store::sqlx::Error> {
    Ok(RegisteredLimitRow {
        id: r.try_get("id")?,
        service_id: r.try_get("service_id")?,
        region_id: r.try_get("region_id")?,
        resource_name: r.try_get("resource_name")?,
        default_limit: r.try_get("default_limit")?,
        description: r.try_get("description")?,
    })
}

fn limit_from_row(r: &store::AnyRow) -> Result<LimitRow, store::sqlx::Error> {
    Ok(LimitRow {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        domain_id: r.try_get("domain_id")?,
        service_id: r.try_get("service_id")?,
        region_id: r.try_get("region_id")?,
        resource_name: r.try_get("resource_name")?,
        resource_limit: r.try_get("resource_limit")?,
        description: r.try_get("description")?,
    })
}

/// `region_id = ?`, or `region_id IS NULL` for no region (a NULL never
/// equals a placeholder).
fn region_clause(region: Option<&str>) -> &'static str {
    if region.is_some() {
        "region_id = ?"
    } else {
        "region_id IS NULL"
    }
}

pub async fn list_registered(db: &Db) -> Result<Vec<RegisteredLimitRow>, store::sqlx::Error> {
    let sql = format!("SELECT {REGISTERED_COLUMNS} FROM registered_limits ORDER BY service_id, resource_name, id");
    let rows = store::sqlx::query(db.sql(&sql)).fetch_all(db.reader()).await?;
    rows.iter().map(registered_from_row).collect()
}

pub async fn get_registered(db: &Db, id: &str) -> Result<Option<RegisteredLimitRow>, store::sqlx::Error> {
    let sql = format!("SELECT {REGISTERED_COLUMNS} FROM registered_limits WHERE id = ?");
    store::sqlx::query(db.sql(&sql))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| registered_from_row(&r))
        .transpose()
}

/// The registered limit of (service, region, resource), if any.
pub async fn find_registered(
    db: &Db,
    service_id: &str,
    region_id: Option<&str>,
    resource_name: &str,
) -> Result<Option<RegisteredLimitRow>, store::sqlx::Error> {
    let sql = format!(
        "SELECT {REGISTERED_COLUMNS} FROM registered_limits WHERE service_id = ? AND resource_name = ? AND {}",
        region_clause(region_id)
    );
    let mut q = store::sqlx::query(db.sql(&sql)).bind(service_id).bind(resource_name);
    if let Some(r) = region_id {
        q = q.bind(r);
    }
    q.fetch_optional(db.reader())
        .await?
        .map(|r| registered_from_row(&r))
        .transpose()
}

async fn registered_taken(
    db: &Db,
    conn: &mut AnyConnection,
    r: &RegisteredLimitRow,
) -> Result<bool, store::sqlx::Error> {
    let sql = format!(
        "SELECT COUNT(*) FROM registered_limits WHERE service_id = ? AND resource_name = ? AND id <> ? AND {}",
        region_clause(r.region_id.as_deref())
    );
    let mut q = store::sqlx::query_scalar::<_, i64>(db.sql(&sql))
        .bind(&r.service_id)
        .bind(&r.resource_name)
        .bind(&r.id);
    if let Some(region) = &r.region_id {
        q = q.bind(region);
    }
    Ok(q.fetch_one(conn).await? > 0)
}

/// Inserts all or none; `false` (nothing inserted) when one of them has the
/// triple of an existing registered limit.
pub async fn insert_registered(db: &Db, rows: &[RegisteredLimitRow]) -> Result<bool, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    let sql = format!("INSERT INTO registered_limits ({REGISTERED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)");
    for r in rows {
        if registered_taken(db, &mut tx, r).await? {
            return Ok(false);
        }
        store::sqlx::query(db.sql(&sql))
            .bind(&r.id)
            .bind(&r.service_id)
            .bind(&r.region_id)
            .bind(&r.resource_name)
            .bind(r.default_limit)
            .bind(&r.description)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Outcome of a registered-limit update that may be refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Update {
    Done,
    /// Another registered limit has the new triple.
    Duplicate,
    /// Limits refer to the old triple, which the update would change.
    Referenced,
}

/// Updates a registered limit; when its triple changes, refuses if another
/// registered limit has the new one or limits refer to the old one.
pub async fn update_registered(
    db: &Db,
    old: &RegisteredLimitRow,
    new: &RegisteredLimitRow,
) -> Result<Update, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    let triple_changes =
        (&old.service_id, &old.region_id, &old.resource_name) != (&new.service_id, &new.region_id, &new.resource_name);
    if triple_changes {
        if count_limits_of(db, &mut tx, old).await? > 0 {
            return Ok(Update::Referenced);
        }
        if registered_taken(db, &mut tx, new).await? {
            return Ok(Update::Duplicate);
        }
    }
    store::sqlx::query(db.sql(
        "UPDATE registered_limits SET service_id = ?, region_id = ?, resource_name = ?, default_limit = ?, \
         description = ? WHERE id = ?",
    ))
    .bind(&new.service_id)
    .bind(&new.region_id)
    .bind(&new.resource_name)
    .bind(new.default_limit)
    .bind(&new.description)
    .bind(&new.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Update::Done)
}

async fn count_limits_of(db: &Db, conn: &mut AnyConnection, r: &RegisteredLimitRow) -> Result<i64, store::sqlx::Error> {
    let sql = format!(
        "SELECT COUNT(*) FROM limits WHERE service_id = ? AND resource_name = ? AND {}",
        region_clause(r.region_id.as_deref())
    );
    let mut q = store::sqlx::query_scalar::<_, i64>(db.sql(&sql))
        .bind(&r.service_id)
        .bind(&r.resource_name);
    if let Some(region) = &r.region_id {
        q = q.bind(region);
    }
    q.fetch_one(conn).await
}

/// Deletes a registered limit unless limits refer to it.
pub async fn delete_registered(db: &Db, r: &RegisteredLimitRow) -> Result<Update, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    if count_limits_of(db, &mut tx, r).await? > 0 {
        return Ok(Update::Referenced);
    }
    store::sqlx::query(db.sql("DELETE FROM registered_limits WHERE id = ?"))
        .bind(&r.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Update::Done)
}

pub async fn list_limits(db: &Db) -> Result<Vec<LimitRow>, store::sqlx::Error> {
    let sql = format!("SELECT {LIMIT_COLUMNS} FROM limits ORDER BY service_id, resource_name, id");
    let rows = store::sqlx::query(db.sql(&sql)).fetch_all(db.reader()).await?;
    rows.iter().map(limit_from_row).collect()
}

pub async fn get_limit(db: &Db, id: &str) -> Result<Option<LimitRow>, store::sqlx::Error> {
    let sql = format!("SELECT {LIMIT_COLUMNS} FROM limits WHERE id = ?");
    store::sqlx::query(db.sql(&sql))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| limit_from_row(&r))
        .transpose()
}

/// The limits of one project for (service, resource), in any region.
pub async fn limits_of_project(
    db: &Db,
    project_id: &str,
    service_id: &str,
    resource_name: &str,
) -> Result<Vec<LimitRow>, store::sqlx::Error> {
    let sql =
        format!("SELECT {LIMIT_COLUMNS} FROM limits WHERE project_id = ? AND service_id = ? AND resource_name = ?");
    let rows = store::sqlx::query(db.sql(&sql))
        .bind(project_id)
        .bind(service_id)
        .bind(resource_name)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(limit_from_row).collect()
}

async fn limit_taken(db: &Db, conn: &mut AnyConnection, l: &LimitRow) -> Result<bool, store::sqlx::Error> {
    let (owner_column, owner) = match (&l.project_id, &l.domain_id) {
        (Some(p), _) => ("project_id", p),
        (None, Some(d)) => ("domain_id", d),
        (None, None) => return Ok(false),
    };
    let sql = format!(
        "SELECT COUNT(*) FROM limits WHERE {owner_column} = ? AND service_id = ? AND resource_name = ? AND {}",
        region_clause(l.region_id.as_deref())
    );
    let mut q = store::sqlx::query_scalar::<_, i64>(db.sql(&sql))
        .bind(owner)
        .bind(&l.service_id)
        .bind(&l.resource_name);
    if let Some(region) = &l.region_id {
        q = q.bind(region);
    }
    Ok(q.fetch_one(conn).await? > 0)
}

/// Inserts all or none; `false` (nothing inserted) when the project or
/// domain of one of them already has a limit for its triple.
pub async fn insert_limits(db: &Db, rows: &[LimitRow]) -> Result<bool, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    let sql = format!("INSERT INTO limits ({LIMIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for l in rows {
        if limit_taken(db, &mut tx, l).await? {
            return Ok(false);
        }
        store::sqlx::query(db.sql(&sql))
            .bind(&l.id)
            .bind(&l.project_id)
            .bind(&l.domain_id)
            .bind(&l.service_id)
            .bind(&l.region_id)
            .bind(&l.resource_name)
            .bind(l.resource_limit)
            .bind(&l.description)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Updates the two mutable columns of a limit.
pub async fn update_limit(db: &Db, l: &LimitRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("UPDATE limits SET resource_limit = ?, description = ? WHERE id = ?"))
        .bind(l.resource_limit)
        .bind(&l.description)
        .bind(&l.id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn delete_limit(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM limits WHERE id = ?"))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Removes the limits of a deleted project or domain.
pub async fn delete_limits_of(db: &Db, project_or_domain_id: &str) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("DELETE FROM limits WHERE project_id = ? OR domain_id = ?"))
        .bind(project_or_domain_id)
        .bind(project_or_domain_id)
        .execute(db.writer())
        .await?;
    Ok(())
}
