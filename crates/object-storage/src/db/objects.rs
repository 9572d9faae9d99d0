//! Object rows of the container listings, tombstones included; every
//! change adjusts its container's counters in the same transaction.

use store::{Db, Row};

use super::Window;

#[derive(Clone, Debug, PartialEq)]
pub struct ObjectRow {
    pub name: String,
    pub ts: i64,
    pub size: i64,
    pub etag: String,
    pub content_type: String,
    pub delete_at: Option<i64>,
}

const COLUMNS: &str = "name, ts, size, etag, content_type, delete_at";

fn from_row(r: &store::AnyRow) -> Result<ObjectRow, store::sqlx::Error> {
    Ok(ObjectRow {
        name: r.try_get("name")?,
        ts: r.try_get("ts")?,
        size: r.try_get("size")?,
        etag: r.try_get("etag")?,
        content_type: r.try_get("content_type")?,
        delete_at: r.try_get("delete_at")?,
    })
}

/// Records a PUT (`deleted = false`) or a DELETE at `row.ts`, unless the
/// listing already holds something newer. Returns whether it applied.
pub async fn record(
    db: &Db,
    account: &str,
    container: &str,
    row: &ObjectRow,
    deleted: bool,
) -> Result<bool, store::sqlx::Error> {
    let mut tx = db.writer().begin().await?;
    let existing = store::sqlx::query(
        db.sql("SELECT ts, deleted, size FROM swift_objects WHERE account = ? AND container = ? AND name = ?"),
    )
    .bind(account)
    .bind(container)
    .bind(&row.name)
    .fetch_optional(&mut *tx)
    .await?;
    let (mut count_delta, mut bytes_delta) = (0i64, 0i64);
    if let Some(e) = &existing {
        let ts: i64 = e.try_get("ts")?;
        if ts >= row.ts {
            tx.rollback().await?;
            return Ok(false);
        }
        let was_deleted: i64 = e.try_get("deleted")?;
        if was_deleted == 0 {
            count_delta -= 1;
            bytes_delta -= e.try_get::<i64, _>("size")?;
        }
    }
    if !deleted {
        count_delta += 1;
        bytes_delta += row.size;
    }
    let size = if deleted { 0 } else { row.size };
    let q = if existing.is_some() {
        "UPDATE swift_objects SET ts = ?, deleted = ?, size = ?, etag = ?, content_type = ?, delete_at = ? \
         WHERE account = ? AND container = ? AND name = ?"
    } else {
        "INSERT INTO swift_objects (ts, deleted, size, etag, content_type, delete_at, account, container, name) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
    store::sqlx::query(db.sql(q))
        .bind(row.ts)
        .bind(store::flag(deleted))
        .bind(size)
        .bind(&row.etag)
        .bind(&row.content_type)
        .bind(if deleted { None } else { row.delete_at })
        .bind(account)
        .bind(container)
        .bind(&row.name)
        .execute(&mut *tx)
        .await?;
    if count_delta != 0 || bytes_delta != 0 {
        store::sqlx::query(db.sql(
            "UPDATE swift_containers SET object_count = object_count + ?, bytes_used = bytes_used + ? \
             WHERE account = ? AND name = ?",
        ))
        .bind(count_delta)
        .bind(bytes_delta)
        .bind(account)
        .bind(container)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// A POST changed the content type or the expiry of a live object.
pub async fn update_meta(
    db: &Db,
    account: &str,
    container: &str,
    name: &str,
    content_type: &str,
    delete_at: Option<i64>,
) -> Result<(), store::sqlx::Error> {
    store::sqlx::query(db.sql(
        "UPDATE swift_objects SET content_type = ?, delete_at = ? \
         WHERE account = ? AND container = ? AND name = ? AND deleted = 0",
    ))
    .bind(content_type)
    .bind(delete_at)
    .bind(account)
    .bind(container)
    .bind(name)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn list(db: &Db, account: &str, container: &str, w: &Window) -> Result<Vec<ObjectRow>, store::sqlx::Error> {
    let (clause, binds) = w.clause("name");
    let sql =
        format!("SELECT {COLUMNS} FROM swift_objects WHERE account = ? AND container = ? AND deleted = 0{clause}");
    let sql = db.sql(&sql);
    let mut q = store::sqlx::query(sql).bind(account).bind(container);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(db.reader()).await?;
    rows.iter().map(from_row).collect()
}

/// Live objects whose `X-Delete-At` has passed: (account, container, name).
pub async fn expired(db: &Db, now: i64, limit: i64) -> Result<Vec<(String, String, String)>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(&format!(
        "SELECT account, container, name FROM swift_objects \
         WHERE delete_at IS NOT NULL AND delete_at <= ? AND deleted = 0 LIMIT {limit}"
    )))
    .bind(now)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("account")?, r.try_get("container")?, r.try_get("name")?)))
        .collect()
}
