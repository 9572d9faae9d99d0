//! OAuth1 consumers (`OS-OAUTH1`).

use serde_json::{Map, Value};
use store::{Db, Row};

use super::{extra_from_text, extra_to_text};

#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerRow {
    pub id: String,
    pub description: Option<String>,
    /// Shown once, in the answer to the creation.
    pub secret: String,
    pub extra: Map<String, Value>,
}

fn from_row(r: &store::AnyRow) -> Result<ConsumerRow, store::sqlx::Error> {
    Ok(ConsumerRow {
        id: r.try_get("id")?,
        description: r.try_get("description")?,
        secret: r.try_get("secret")?,
        extra: extra_from_text(&r.try_get::<String, _>("extra")?),
    })
}

pub async fn list(db: &Db) -> Result<Vec<ConsumerRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql("SELECT id, description, secret, extra FROM oauth_consumers ORDER BY id"))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ConsumerRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql("SELECT id, description, secret, extra FROM oauth_consumers WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

pub async fn insert(db: &Db, c: &ConsumerRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("INSERT INTO oauth_consumers (id, description, secret, extra) VALUES (?, ?, ?, ?)"))
        .bind(&c.id)
        .bind(&c.description)
        .bind(&c.secret)
        .bind(extra_to_text(&c.extra))
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Updates the description and extras; the secret never changes.
pub async fn update(db: &Db, c: &ConsumerRow) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("UPDATE oauth_consumers SET description = ?, extra = ? WHERE id = ?"))
        .bind(&c.description)
        .bind(extra_to_text(&c.extra))
        .bind(&c.id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn delete(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM oauth_consumers WHERE id = ?"))
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}
