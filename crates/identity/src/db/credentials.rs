//! Credentials (`/v3/credentials`, and the EC2 ones under a user): a typed
//! blob owned by a user, optionally tied to a project.
//!
//! Keystone encrypts blobs at rest with its own credential key repository;
//! here the blob is stored as given (see the `credentials` domain module).

use serde_json::{Map, Value};
use store::{Db, Row};

use super::{extra_from_text, extra_to_text};

#[derive(Clone, Debug)]
pub struct CredentialRow {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub blob: String,
    pub extra: Map<String, Value>,
}

const COLUMNS: &str = "id, user_id, project_id, type, blob_data, extra";

fn from_row(r: &store::AnyRow) -> Result<CredentialRow, store::sqlx::Error> {
    Ok(CredentialRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        project_id: r.try_get("project_id")?,
        cred_type: r.try_get("type")?,
        blob: r.try_get("blob_data")?,
        extra: extra_from_text(&r.try_get::<String, _>("extra")?),
    })
}

pub async fn get(db: &Db, id: &str) -> Result<Option<CredentialRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM credentials WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

pub async fn list(db: &Db) -> Result<Vec<CredentialRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM credentials ORDER BY user_id, id")))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn list_for_user(db: &Db, user_id: &str) -> Result<Vec<CredentialRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM credentials WHERE user_id = ? ORDER BY id"
    )))
    .bind(user_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn insert(db: &Db, c: &CredentialRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql(&format!(
        "INSERT INTO credentials ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
    )))
    .bind(&c.id)
    .bind(&c.user_id)
    .bind(&c.project_id)
    .bind(&c.cred_type)
    .bind(&c.blob)
    .bind(extra_to_text(&c.extra))
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Replaces the blob, the one mutable attribute of a credential.
pub async fn update_blob(db: &Db, id: &str, blob: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("UPDATE credentials SET blob_data = ? WHERE id = ?"))
        .bind(blob)
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM credentials WHERE id = ?"))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}
