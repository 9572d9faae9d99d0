//! Policy blobs of the legacy `/v3/policies` API: opaque to Keystone, which
//! stores and returns them.

use serde_json::{Map, Value};
use store::{Db, Row};

use super::{extra_from_text, extra_to_text};

#[derive(Clone, Debug, PartialEq)]
pub struct PolicyRow {
    pub id: String,
    /// The MIME type of the blob, e.g. `application/json`.
    pub policy_type: String,
    pub blob: String,
    pub extra: Map<String, Value>,
}

fn from_row(r: &store::AnyRow) -> Result<PolicyRow, store::sqlx::Error> {
    Ok(PolicyRow {
        id: r.try_get("id")?,
        policy_type: r.try_get("type")?,
        blob: r.try_get("blob_data")?,
        extra: extra_from_text(&r.try_get::<String, _>("extra")?),
    })
}

pub async fn list(db: &Db) -> Result<Vec<PolicyRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql("SELECT id, type, blob_data, extra FROM policies ORDER BY id"))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, id: &str) -> Result<Option<PolicyRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql("SELECT id, type, blob_data, extra FROM policies WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

pub async fn insert(db: &Db, p: &PolicyRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("INSERT INTO policies (id, type, blob_data, extra) VALUES (?, ?, ?, ?)"))
        .bind(&p.id)
        .bind(&p.policy_type)
        .bind(&p.blob)
        .bind(extra_to_text(&p.extra))
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn update(db: &Db, p: &PolicyRow) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("UPDATE policies SET type = ?, blob_data = ?, extra = ? WHERE id = ?"))
        .bind(&p.policy_type)
        .bind(&p.blob)
        .bind(extra_to_text(&p.extra))
        .bind(&p.id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM policies WHERE id = ?"))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}
