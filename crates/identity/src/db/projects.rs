//! Projects and domains. As in Keystone, a domain is a project row with
//! `is_domain = 1` whose `domain_id` is the root sentinel; so domain and
//! project names share one uniqueness rule per parent domain.

use serde_json::{Map, Value};
use store::{Db, Row};

use super::{extra_from_text, extra_to_text};

/// `domain_id` of domain rows.
pub const ROOT_DOMAIN: &str = "<<keystone.domain.root>>";

#[derive(Clone, Debug)]
pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub parent_id: Option<String>,
    pub is_domain: bool,
    pub enabled: bool,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
    pub tags: Vec<String>,
}

const COLUMNS: &str = "id, name, domain_id, parent_id, is_domain, enabled, description, extra";

fn from_row(r: &store::AnyRow) -> Result<ProjectRow, store::sqlx::Error> {
    Ok(ProjectRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        domain_id: r.try_get("domain_id")?,
        parent_id: r.try_get("parent_id")?,
        is_domain: r.try_get::<i64, _>("is_domain")? != 0,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        description: r.try_get("description")?,
        extra: extra_from_text(&r.try_get::<String, _>("extra")?),
        tags: Vec::new(),
    })
}

async fn with_tags(db: &Db, mut rows: Vec<ProjectRow>) -> Result<Vec<ProjectRow>, store::sqlx::Error> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let tags: Vec<(String, String)> = if rows.len() == 1 {
        store::sqlx::query_as(db.sql("SELECT project_id, name FROM project_tags WHERE project_id = ? ORDER BY name"))
            .bind(&rows[0].id)
            .fetch_all(db.reader())
            .await?
    } else {
        store::sqlx::query_as(db.sql("SELECT project_id, name FROM project_tags ORDER BY name"))
            .fetch_all(db.reader())
            .await?
    };
    for (pid, tag) in tags {
        if let Some(p) = rows.iter_mut().find(|p| p.id == pid) {
            p.tags.push(tag);
        }
    }
    Ok(rows)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ProjectRow>, store::sqlx::Error> {
    let row = store::sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM projects WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    match row {
        Some(r) => Ok(with_tags(db, vec![from_row(&r)?]).await?.pop()),
        None => Ok(None),
    }
}

pub async fn get_by_name(db: &Db, domain_id: &str, name: &str) -> Result<Option<ProjectRow>, store::sqlx::Error> {
    let row = store::sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM projects WHERE domain_id = ? AND name = ?"
    )))
    .bind(domain_id)
    .bind(name)
    .fetch_optional(db.reader())
    .await?;
    match row {
        Some(r) => Ok(with_tags(db, vec![from_row(&r)?]).await?.pop()),
        None => Ok(None),
    }
}

/// All rows of one kind (domains when `is_domain`), ordered by name.
pub async fn list(db: &Db, is_domain: bool) -> Result<Vec<ProjectRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM projects WHERE is_domain = ? ORDER BY name"
    )))
    .bind(store::flag(is_domain))
    .fetch_all(db.reader())
    .await?;
    let rows = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    with_tags(db, rows).await
}

pub async fn insert(db: &Db, p: &ProjectRow) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    store::sqlx::query(db.sql(&format!(
        "INSERT INTO projects ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.domain_id)
    .bind(&p.parent_id)
    .bind(store::flag(p.is_domain))
    .bind(store::flag(p.enabled))
    .bind(&p.description)
    .bind(extra_to_text(&p.extra))
    .execute(&mut *tx)
    .await?;
    for t in &p.tags {
        store::sqlx::query(db.sql("INSERT INTO project_tags (project_id, name) VALUES (?, ?)"))
            .bind(&p.id)
            .bind(t)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn update(db: &Db, p: &ProjectRow) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    store::sqlx::query(
        db.sql("UPDATE projects SET name = ?, parent_id = ?, enabled = ?, description = ?, extra = ? WHERE id = ?"),
    )
    .bind(&p.name)
    .bind(&p.parent_id)
    .bind(store::flag(p.enabled))
    .bind(&p.description)
    .bind(extra_to_text(&p.extra))
    .bind(&p.id)
    .execute(&mut *tx)
    .await?;
    store::sqlx::query(db.sql("DELETE FROM project_tags WHERE project_id = ?"))
        .bind(&p.id)
        .execute(&mut *tx)
        .await?;
    for t in &p.tags {
        store::sqlx::query(db.sql("INSERT INTO project_tags (project_id, name) VALUES (?, ?)"))
            .bind(&p.id)
            .bind(t)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes a project (or domain) row and everything that hangs off it in
/// this service's tables: tags, assignments on it, endpoint associations,
/// limits.
pub async fn delete(db: &Db, id: &str) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    for sql in [
        "DELETE FROM project_tags WHERE project_id = ?",
        "DELETE FROM assignments WHERE target_id = ?",
        "DELETE FROM project_endpoints WHERE project_id = ?",
        "DELETE FROM project_endpoint_groups WHERE project_id = ?",
        "DELETE FROM limits WHERE project_id = ?",
        "DELETE FROM limits WHERE domain_id = ?",
        "DELETE FROM domain_configs WHERE domain_id = ?",
        "DELETE FROM projects WHERE id = ?",
    ] {
        store::sqlx::query(db.sql(sql)).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Ids of projects directly under `parent_id`.
pub async fn children(db: &Db, parent_id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    store::sqlx::query_scalar(db.sql("SELECT id FROM projects WHERE parent_id = ? AND is_domain = 0"))
        .bind(parent_id)
        .fetch_all(db.reader())
        .await
}

/// Ids of every project (not domain) in a domain.
pub async fn in_domain(db: &Db, domain_id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    store::sqlx::query_scalar(db.sql("SELECT id FROM projects WHERE domain_id = ? AND is_domain = 0"))
        .bind(domain_id)
        .fetch_all(db.reader())
        .await
}
