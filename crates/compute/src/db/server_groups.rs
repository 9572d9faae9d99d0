//! `server_groups`, `server_group_members`.

use store::{AnyRow, Db, Row, sqlx};

use crate::error::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct GroupRow {
    pub uuid: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub policy: String,
    /// JSON object (`{"max_server_per_host": 2}`).
    pub rules: String,
    pub created_at: i64,
    /// Live member instances.
    pub members: Vec<String>,
}

const COLUMNS: &str = "uuid, name, project_id, user_id, policy, rules, created_at";

fn from_row(r: &AnyRow) -> std::result::Result<GroupRow, sqlx::Error> {
    Ok(GroupRow {
        uuid: r.try_get("uuid")?,
        name: r.try_get("name")?,
        project_id: r.try_get("project_id")?,
        user_id: r.try_get("user_id")?,
        policy: r.try_get("policy")?,
        rules: r.try_get("rules")?,
        created_at: r.try_get("created_at")?,
        members: Vec::new(),
    })
}

async fn members(db: &Db, uuid: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(db.sql(
        "SELECT m.instance_uuid AS u FROM server_group_members m JOIN instances i ON i.uuid = m.instance_uuid \
         WHERE m.group_uuid = ? AND i.deleted = 0 ORDER BY i.created_at, i.id",
    ))
    .bind(uuid)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>("u"))
        .collect::<std::result::Result<_, _>>()?)
}

pub async fn insert(db: &Db, g: &GroupRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO server_groups ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&g.uuid)
    .bind(&g.name)
    .bind(&g.project_id)
    .bind(&g.user_id)
    .bind(&g.policy)
    .bind(&g.rules)
    .bind(g.created_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get(db: &Db, uuid: &str) -> Result<Option<GroupRow>> {
    let row = sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM server_groups WHERE uuid = ?")))
        .bind(uuid)
        .fetch_optional(db.reader())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut g = from_row(&row)?;
    g.members = members(db, &g.uuid).await?;
    Ok(Some(g))
}

/// Groups of one project (or all), oldest first.
pub async fn list(db: &Db, project_id: Option<&str>) -> Result<Vec<GroupRow>> {
    let rows = match project_id {
        Some(p) => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM server_groups WHERE project_id = ? ORDER BY created_at, uuid"
            )))
            .bind(p)
            .fetch_all(db.reader())
            .await?
        }
        None => {
            sqlx::query(db.sql(&format!(
                "SELECT {COLUMNS} FROM server_groups ORDER BY created_at, uuid"
            )))
            .fetch_all(db.reader())
            .await?
        }
    };
    let mut out = Vec::new();
    for r in &rows {
        let mut g = from_row(r)?;
        g.members = members(db, &g.uuid).await?;
        out.push(g);
    }
    Ok(out)
}

pub async fn delete(db: &Db, uuid: &str) -> Result<bool> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM server_group_members WHERE group_uuid = ?"))
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(db.sql("DELETE FROM server_groups WHERE uuid = ?"))
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// Groups of a project, for the `server_groups` quota.
pub async fn count(db: &Db, project_id: &str, user_id: Option<&str>) -> Result<i64> {
    let mut sql = String::from("SELECT COUNT(*) AS n FROM server_groups WHERE project_id = ?");
    if user_id.is_some() {
        sql.push_str(" AND user_id = ?");
    }
    let mut q = sqlx::query(db.sql(&sql)).bind(project_id);
    if let Some(u) = user_id {
        q = q.bind(u.to_owned());
    }
    Ok(q.fetch_one(db.reader()).await?.try_get("n")?)
}

/// The groups an instance belongs to.
pub async fn of_instance(db: &Db, instance_uuid: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(db.sql("SELECT group_uuid FROM server_group_members WHERE instance_uuid = ?"))
        .bind(instance_uuid)
        .fetch_all(db.reader())
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String, _>("group_uuid"))
        .collect::<std::result::Result<_, _>>()?)
}
