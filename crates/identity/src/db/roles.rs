//! Roles (global and domain-specific) and role implications.

use serde_json::{Map, Value};
use store::{Db, Row};

use super::{extra_from_text, extra_to_text};

/// `domain_id` of global roles (a NULL would defeat the unique key).
pub const GLOBAL: &str = "<<null>>";

#[derive(Clone, Debug)]
pub struct RoleRow {
    pub id: String,
    pub name: String,
    /// `None` for global roles.
    pub domain_id: Option<String>,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
}

fn from_row(r: &store::AnyRow) -> Result<RoleRow, store::sqlx::Error> {
    let domain_id: String = r.try_get("domain_id")?;
    Ok(RoleRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        domain_id: (domain_id != GLOBAL).then_some(domain_id),
        description: r.try_get("description")?,
        extra: extra_from_text(&r.try_get::<String, _>("extra")?),
    })
}

pub async fn get(db: &Db, id: &str) -> Result<Option<RoleRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql("SELECT id, name, domain_id, description, extra FROM roles WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

pub async fn list(db: &Db) -> Result<Vec<RoleRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql("SELECT id, name, domain_id, description, extra FROM roles ORDER BY name"))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn insert(db: &Db, r: &RoleRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("INSERT INTO roles (id, name, domain_id, description, extra) VALUES (?, ?, ?, ?, ?)"))
        .bind(&r.id)
        .bind(&r.name)
        .bind(r.domain_id.as_deref().unwrap_or(GLOBAL))
        .bind(&r.description)
        .bind(extra_to_text(&r.extra))
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn update(db: &Db, r: &RoleRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("UPDATE roles SET name = ?, description = ?, extra = ? WHERE id = ?"))
        .bind(&r.name)
        .bind(&r.description)
        .bind(extra_to_text(&r.extra))
        .bind(&r.id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Deletes a role with its assignments and implications.
pub async fn delete(db: &Db, id: &str) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    for sql in [
        "DELETE FROM assignments WHERE role_id = ?",
        "DELETE FROM implied_roles WHERE prior_role_id = ?",
        "DELETE FROM implied_roles WHERE implied_role_id = ?",
        "DELETE FROM application_credential_roles WHERE role_id = ?",
        "DELETE FROM trust_roles WHERE role_id = ?",
        "DELETE FROM roles WHERE id = ?",
    ] {
        store::sqlx::query(db.sql(sql)).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Every implication as (prior, implied).
pub async fn implications(db: &Db) -> Result<Vec<(String, String)>, store::sqlx::Error> {
    store::sqlx::query_as(db.sql("SELECT prior_role_id, implied_role_id FROM implied_roles"))
        .fetch_all(db.reader())
        .await
}

pub async fn add_implication(db: &Db, prior: &str, implied: &str) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?)"))
        .bind(prior)
        .bind(implied)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn remove_implication(db: &Db, prior: &str, implied: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?"))
        .bind(prior)
        .bind(implied)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}
