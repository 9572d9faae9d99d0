//! `image_members`: the projects an image is shared with.

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct MemberRow {
    pub image_id: String,
    pub member: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn from_row(r: &AnyRow) -> std::result::Result<MemberRow, sqlx::Error> {
    Ok(MemberRow {
        image_id: r.try_get("image_id")?,
        member: r.try_get("member")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Fails with a store conflict when the member is already there.
pub async fn insert(db: &Db, m: &MemberRow) -> Result<()> {
    sqlx::query(
        db.sql("INSERT INTO image_members (image_id, member, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"),
    )
    .bind(&m.image_id)
    .bind(&m.member)
    .bind(&m.status)
    .bind(m.created_at)
    .bind(m.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get(db: &Db, image_id: &str, member: &str) -> Result<Option<MemberRow>> {
    let row = sqlx::query(db.sql("SELECT * FROM image_members WHERE image_id = ? AND member = ?"))
        .bind(image_id)
        .bind(member)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

pub async fn list(db: &Db, image_id: &str) -> Result<Vec<MemberRow>> {
    let rows = sqlx::query(db.sql("SELECT * FROM image_members WHERE image_id = ? ORDER BY created_at, member"))
        .bind(image_id)
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

pub async fn count(db: &Db, image_id: &str) -> Result<i64> {
    let n: i64 = sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM image_members WHERE image_id = ?"))
        .bind(image_id)
        .fetch_one(db.reader())
        .await?;
    Ok(n)
}

pub async fn set_status(db: &Db, image_id: &str, member: &str, status: &str, now: i64) -> Result<bool> {
    let n =
        sqlx::query(db.sql("UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member = ?"))
            .bind(status)
            .bind(now)
            .bind(image_id)
            .bind(member)
            .execute(db.writer())
            .await?
            .rows_affected();
    Ok(n > 0)
}

pub async fn delete(db: &Db, image_id: &str, member: &str) -> Result<bool> {
    let n = sqlx::query(db.sql("DELETE FROM image_members WHERE image_id = ? AND member = ?"))
        .bind(image_id)
        .bind(member)
        .execute(db.writer())
        .await?
        .rows_affected();
    Ok(n > 0)
}
