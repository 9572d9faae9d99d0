//! `image_tasks`: the record of each import (Glance's `api_image_import`
//! tasks, shown by `GET /v2/images/{id}/tasks`).

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    pub id: String,
    pub image_id: String,
    pub task_type: String,
    pub status: String,
    pub owner: Option<String>,
    pub user_id: Option<String>,
    pub request_id: Option<String>,
    /// JSON text.
    pub input: String,
    /// JSON text.
    pub result: Option<String>,
    pub message: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn from_row(r: &AnyRow) -> std::result::Result<TaskRow, sqlx::Error> {
    Ok(TaskRow {
        id: r.try_get("id")?,
        image_id: r.try_get("image_id")?,
        task_type: r.try_get("task_type")?,
        status: r.try_get("status")?,
        owner: r.try_get("owner")?,
        user_id: r.try_get("user_id")?,
        request_id: r.try_get("request_id")?,
        input: r.try_get("input")?,
        result: r.try_get("result")?,
        message: r.try_get("message")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert(db: &Db, t: &TaskRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO image_tasks (id, image_id, task_type, status, owner, user_id, request_id, input, result, \
         message, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&t.id)
    .bind(&t.image_id)
    .bind(&t.task_type)
    .bind(&t.status)
    .bind(&t.owner)
    .bind(&t.user_id)
    .bind(&t.request_id)
    .bind(&t.input)
    .bind(&t.result)
    .bind(&t.message)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn finish(db: &Db, id: &str, status: &str, result: Option<&str>, message: &str) -> Result<()> {
    sqlx::query(db.sql("UPDATE image_tasks SET status = ?, result = ?, message = ?, updated_at = ? WHERE id = ?"))
        .bind(status)
        .bind(result)
        .bind(message)
        .bind(super::now())
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn list_for_image(db: &Db, image_id: &str) -> Result<Vec<TaskRow>> {
    let rows = sqlx::query(db.sql("SELECT * FROM image_tasks WHERE image_id = ? ORDER BY created_at"))
        .bind(image_id)
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// Tasks left `processing` by a process that stopped.
pub async fn fail_unfinished(db: &Db) -> Result<u64> {
    Ok(sqlx::query(db.sql(
        "UPDATE image_tasks SET status = 'failure', message = 'The service stopped during the import.', \
         updated_at = ? WHERE status IN ('pending', 'processing')",
    ))
    .bind(super::now())
    .execute(db.writer())
    .await?
    .rows_affected())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<TaskRow>> {
    let row = sqlx::query(db.sql("SELECT * FROM image_tasks WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Every task (of `owner` when given), newest first.
pub async fn list(db: &Db, owner: Option<&str>) -> Result<Vec<TaskRow>> {
    let q = match owner {
        Some(o) => sqlx::query(db.sql("SELECT * FROM image_tasks WHERE owner = ? ORDER BY created_at DESC")).bind(o),
        None => sqlx::query(db.sql("SELECT * FROM image_tasks ORDER BY created_at DESC")),
    };
    let rows = q.fetch_all(db.reader()).await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}
