//! Containers: one row each, with the object count and bytes kept current
//! by the object writes.

use store::{Db, Row};

use super::{Meta, Window, meta_from_text, meta_to_text};

#[derive(Clone, Debug)]
pub struct ContainerRow {
    pub account: String,
    pub name: String,
    pub created: i64,
    pub put_timestamp: i64,
    pub object_count: i64,
    pub bytes_used: i64,
    pub meta: Meta,
}

const COLUMNS: &str = "account, name, created, put_timestamp, object_count, bytes_used, meta";

fn from_row(r: &store::AnyRow) -> Result<ContainerRow, store::sqlx::Error> {
    Ok(ContainerRow {
        account: r.try_get("account")?,
        name: r.try_get("name")?,
        created: r.try_get("created")?,
        put_timestamp: r.try_get("put_timestamp")?,
        object_count: r.try_get("object_count")?,
        bytes_used: r.try_get("bytes_used")?,
        meta: meta_from_text(&r.try_get::<String, _>("meta")?),
    })
}

pub async fn get(db: &Db, account: &str, name: &str) -> Result<Option<ContainerRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM swift_containers WHERE account = ? AND name = ?"
    )))
    .bind(account)
    .bind(name)
    .fetch_optional(db.reader())
    .await?
    .map(|r| from_row(&r))
    .transpose()
}

/// Inserts the container; `false` if it already existed.
pub async fn insert(db: &Db, row: &ContainerRow) -> Result<bool, store::StoreError> {
    let res = store::sqlx::query(db.sql(&format!(
        "INSERT INTO swift_containers ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&row.account)
    .bind(&row.name)
    .bind(row.created)
    .bind(row.put_timestamp)
    .bind(row.object_count)
    .bind(row.bytes_used)
    .bind(meta_to_text(&row.meta))
    .execute(db.writer())
    .await;
    match res.map_err(store::classify) {
        Ok(_) => Ok(true),
        Err(store::StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn set_meta(db: &Db, account: &str, name: &str, meta: &Meta, ts: i64) -> Result<(), store::sqlx::Error> {
    store::sqlx::query(
        db.sql("UPDATE swift_containers SET meta = ?, put_timestamp = ? WHERE account = ? AND name = ?"),
    )
    .bind(meta_to_text(meta))
    .bind(ts)
    .bind(account)
    .bind(name)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// What a container DELETE found.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    Yes,
    NotFound,
    NotEmpty,
}

/// Deletes the container and its object tombstones, unless objects remain.
pub async fn delete_if_empty(db: &Db, account: &str, name: &str) -> Result<Deleted, store::sqlx::Error> {
    let mut tx = db.writer().begin().await?;
    let count: Option<i64> =
        store::sqlx::query_scalar(db.sql("SELECT object_count FROM swift_containers WHERE account = ? AND name = ?"))
            .bind(account)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
    let outcome = match count {
        None => Deleted::NotFound,
        Some(n) if n > 0 => Deleted::NotEmpty,
        Some(_) => {
            let live: i64 = store::sqlx::query_scalar(
                db.sql("SELECT COUNT(*) FROM swift_objects WHERE account = ? AND container = ? AND deleted = 0"),
            )
            .bind(account)
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
            if live > 0 {
                Deleted::NotEmpty
            } else {
                store::sqlx::query(db.sql("DELETE FROM swift_objects WHERE account = ? AND container = ?"))
                    .bind(account)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                store::sqlx::query(db.sql("DELETE FROM swift_containers WHERE account = ? AND name = ?"))
                    .bind(account)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                Deleted::Yes
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

pub async fn list(db: &Db, account: &str, w: &Window) -> Result<Vec<ContainerRow>, store::sqlx::Error> {
    let (clause, binds) = w.clause("name");
    let sql = format!("SELECT {COLUMNS} FROM swift_containers WHERE account = ?{clause}");
    let sql = db.sql(&sql);
    let mut q = store::sqlx::query(sql).bind(account);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(db.reader()).await?;
    rows.iter().map(from_row).collect()
}
