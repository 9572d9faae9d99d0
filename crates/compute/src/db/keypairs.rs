//! `key_pairs`: one row per (user, name).

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;
use crate::keypairs::Keypair;

const COLUMNS: &str = "id, user_id, name, fingerprint, public_key, key_type, created_at";

fn from_row(r: &AnyRow) -> std::result::Result<Keypair, sqlx::Error> {
    Ok(Keypair {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        fingerprint: r.try_get("fingerprint")?,
        public_key: r.try_get("public_key")?,
        key_type: r.try_get("key_type")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn get(db: &Db, user_id: &str, name: &str) -> Result<Option<Keypair>> {
    let row = sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM key_pairs WHERE user_id = ? AND name = ?"
    )))
    .bind(user_id)
    .bind(name)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// A user's keypairs by name.
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<Keypair>> {
    let rows = sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM key_pairs WHERE user_id = ? ORDER BY name"
    )))
    .bind(user_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// Inserts the keypair with a fresh integer id (returned); a taken name is
/// `StoreError::Conflict`.
pub async fn insert(db: &Db, k: &Keypair) -> Result<i64> {
    let mut attempts = 0;
    loop {
        let id = super::flavors::next_id(db, "key_pairs").await?;
        let res = sqlx::query(db.sql(&format!(
            "INSERT INTO key_pairs ({COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)"
        )))
        .bind(id)
        .bind(&k.user_id)
        .bind(&k.name)
        .bind(&k.fingerprint)
        .bind(&k.public_key)
        .bind(&k.key_type)
        .bind(k.created_at)
        .execute(db.writer())
        .await;
        match res {
            Ok(_) => return Ok(id),
            Err(e) => {
                let e = store::classify(e);
                attempts += 1;
                if matches!(e, store::StoreError::Conflict(_))
                    && attempts < 5
                    && get(db, &k.user_id, &k.name).await?.is_none()
                {
                    continue;
                }
                return Err(e.into());
            }
        }
    }
}

pub async fn delete(db: &Db, user_id: &str, name: &str) -> Result<bool> {
    let n = sqlx::query(db.sql("DELETE FROM key_pairs WHERE user_id = ? AND name = ?"))
        .bind(user_id)
        .bind(name)
        .execute(db.writer())
        .await?
        .rows_affected();
    Ok(n > 0)
}
