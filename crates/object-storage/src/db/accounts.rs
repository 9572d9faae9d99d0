//! Accounts: created on first use (Swift's `account_autocreate`), with
//! their metadata; counts are summed from the container rows.

use store::{Db, Row};

use super::{Meta, meta_from_text, meta_to_text};

#[derive(Clone, Debug)]
pub struct AccountRow {
    pub created: i64,
    pub put_timestamp: i64,
    pub meta: Meta,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct AccountStats {
    pub containers: i64,
    pub objects: i64,
    pub bytes: i64,
}

pub async fn get(db: &Db, name: &str) -> Result<Option<AccountRow>, store::sqlx::Error> {
    let row =
        store::sqlx::query(db.sql("SELECT name, created, put_timestamp, meta FROM swift_accounts WHERE name = ?"))
            .bind(name)
            .fetch_optional(db.reader())
            .await?;
    row.map(|r| {
        Ok(AccountRow {
            created: r.try_get("created")?,
            put_timestamp: r.try_get("put_timestamp")?,
            meta: meta_from_text(&r.try_get::<String, _>("meta")?),
        })
    })
    .transpose()
}

/// Inserts the account unless it exists.
pub async fn ensure(db: &Db, name: &str, ts: i64) -> Result<(), store::StoreError> {
    if get(db, name).await?.is_some() {
        return Ok(());
    }
    let res = store::sqlx::query(
        db.sql("INSERT INTO swift_accounts (name, created, put_timestamp, meta) VALUES (?, ?, ?, ?)"),
    )
    .bind(name)
    .bind(ts)
    .bind(ts)
    .bind("{}")
    .execute(db.writer())
    .await;
    match res.map_err(store::classify) {
        Ok(_) | Err(store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn set_meta(db: &Db, name: &str, meta: &Meta, ts: i64) -> Result<(), store::sqlx::Error> {
    store::sqlx::query(db.sql("UPDATE swift_accounts SET meta = ?, put_timestamp = ? WHERE name = ?"))
        .bind(meta_to_text(meta))
        .bind(ts)
        .bind(name)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn stats(db: &Db, name: &str) -> Result<AccountStats, store::sqlx::Error> {
    let r = store::sqlx::query(db.sql(
        "SELECT COUNT(*) AS n, COALESCE(SUM(object_count), 0) AS objects, COALESCE(SUM(bytes_used), 0) AS bytes \
         FROM swift_containers WHERE account = ?",
    ))
    .bind(name)
    .fetch_one(db.reader())
    .await?;
    Ok(AccountStats {
        containers: r.try_get("n")?,
        objects: get_i64(&r, "objects")?,
        bytes: get_i64(&r, "bytes")?,
    })
}

/// SUM() comes back as a decimal on MySQL and PostgreSQL.
fn get_i64(r: &store::AnyRow, col: &str) -> Result<i64, store::sqlx::Error> {
    if let Ok(v) = r.try_get::<i64, _>(col) {
        return Ok(v);
    }
    if let Ok(v) = r.try_get::<f64, _>(col) {
        return Ok(v as i64);
    }
    let s: String = r.try_get(col)?;
    Ok(s.parse::<f64>().unwrap_or(0.0) as i64)
}
