//! Users, groups and group membership.

use serde_json::{Map, Value};
use store::{Db, Row};

use super::{extra_from_text, extra_to_text};

#[derive(Clone, Debug)]
pub struct UserRow {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub enabled: bool,
    pub password_hash: Option<String>,
    pub password_created_at: Option<i64>,
    pub password_expires_at: Option<i64>,
    pub default_project_id: Option<String>,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
    pub created_at: i64,
}

const USER_COLUMNS: &str = "id, domain_id, name, enabled, password_hash, password_created_at, \
     password_expires_at, default_project_id, description, extra, created_at";

fn user_from_row(r: &store::AnyRow) -> Result<UserRow, store::sqlx::Error> {
    Ok(UserRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        password_hash: r.try_get("password_hash")?,
        password_created_at: r.try_get("password_created_at")?,
        password_expires_at: r.try_get("password_expires_at")?,
        default_project_id: r.try_get("default_project_id")?,
        description: r.try_get("description")?,
        extra: extra_from_text(&r.try_get::<String, _>("extra")?),
        created_at: r.try_get("created_at")?,
    })
}

pub async fn get_user(db: &Db, id: &str) -> Result<Option<UserRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| user_from_row(&r))
        .transpose()
}

pub async fn get_user_by_name(db: &Db, domain_id: &str, name: &str) -> Result<Option<UserRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE domain_id = ? AND name = ?"
    )))
    .bind(domain_id)
    .bind(name)
    .fetch_optional(db.reader())
    .await?
    .map(|r| user_from_row(&r))
    .transpose()
}

pub async fn list_users(db: &Db) -> Result<Vec<UserRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name")))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(user_from_row).collect()
}

pub async fn insert_user(db: &Db, u: &UserRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql(&format!(
        "INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&u.id)
    .bind(&u.domain_id)
    .bind(&u.name)
    .bind(store::flag(u.enabled))
    .bind(&u.password_hash)
    .bind(u.password_created_at)
    .bind(u.password_expires_at)
    .bind(&u.default_project_id)
    .bind(&u.description)
    .bind(extra_to_text(&u.extra))
    .bind(u.created_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn update_user(db: &Db, u: &UserRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql(
        "UPDATE users SET name = ?, enabled = ?, password_hash = ?, password_created_at = ?, \
         password_expires_at = ?, default_project_id = ?, description = ?, extra = ? WHERE id = ?",
    ))
    .bind(&u.name)
    .bind(store::flag(u.enabled))
    .bind(&u.password_hash)
    .bind(u.password_created_at)
    .bind(u.password_expires_at)
    .bind(&u.default_project_id)
    .bind(&u.description)
    .bind(extra_to_text(&u.extra))
    .bind(&u.id)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Deletes a user and what is theirs: memberships, assignments,
/// credentials, application credentials, access rules.
pub async fn delete_user(db: &Db, id: &str) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    for sql in [
        "DELETE FROM group_members WHERE user_id = ?",
        "DELETE FROM assignments WHERE actor_id = ?",
        "DELETE FROM credentials WHERE user_id = ?",
        "DELETE FROM application_credential_roles WHERE application_credential_id IN \
         (SELECT id FROM application_credentials WHERE user_id = ?)",
        "DELETE FROM application_credential_access_rules WHERE application_credential_id IN \
         (SELECT id FROM application_credentials WHERE user_id = ?)",
        "DELETE FROM application_credentials WHERE user_id = ?",
        "DELETE FROM access_rules WHERE user_id = ?",
        "DELETE FROM users WHERE id = ?",
    ] {
        store::sqlx::query(db.sql(sql)).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct GroupRow {
    pub id: String,
    pub domain_id: String,
    pub name: String,
    pub description: Option<String>,
    pub extra: Map<String, Value>,
}

fn group_from_row(r: &store::AnyRow) -> Result<GroupRow, store::sqlx::Error> {
    Ok(GroupRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        extra: extra_from_text(&r.try_get::<String, _>("extra")?),
    })
}

pub async fn get_group(db: &Db, id: &str) -> Result<Option<GroupRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql("SELECT id, domain_id, name, description, extra FROM groups_ WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| group_from_row(&r))
        .transpose()
}

pub async fn get_group_by_name(db: &Db, domain_id: &str, name: &str) -> Result<Option<GroupRow>, store::sqlx::Error> {
    store::sqlx::query(
        db.sql("SELECT id, domain_id, name, description, extra FROM groups_ WHERE domain_id = ? AND name = ?"),
    )
    .bind(domain_id)
    .bind(name)
    .fetch_optional(db.reader())
    .await?
    .map(|r| group_from_row(&r))
    .transpose()
}

pub async fn list_groups(db: &Db) -> Result<Vec<GroupRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql("SELECT id, domain_id, name, description, extra FROM groups_ ORDER BY name"))
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(group_from_row).collect()
}

pub async fn insert_group(db: &Db, g: &GroupRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("INSERT INTO groups_ (id, domain_id, name, description, extra) VALUES (?, ?, ?, ?, ?)"))
        .bind(&g.id)
        .bind(&g.domain_id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(extra_to_text(&g.extra))
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn update_group(db: &Db, g: &GroupRow) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql("UPDATE groups_ SET name = ?, description = ?, extra = ? WHERE id = ?"))
        .bind(&g.name)
        .bind(&g.description)
        .bind(extra_to_text(&g.extra))
        .bind(&g.id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn delete_group(db: &Db, id: &str) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    for sql in [
        "DELETE FROM group_members WHERE group_id = ?",
        "DELETE FROM assignments WHERE actor_id = ?",
        "DELETE FROM groups_ WHERE id = ?",
    ] {
        store::sqlx::query(db.sql(sql)).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn add_member(db: &Db, group_id: &str, user_id: &str) -> Result<(), store::StoreError> {
    match store::sqlx::query(db.sql("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)"))
        .bind(group_id)
        .bind(user_id)
        .execute(db.writer())
        .await
        .map_err(store::classify)
    {
        Ok(_) | Err(store::StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Returns whether the membership existed.
pub async fn remove_member(db: &Db, group_id: &str, user_id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM group_members WHERE group_id = ? AND user_id = ?"))
        .bind(group_id)
        .bind(user_id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn is_member(db: &Db, group_id: &str, user_id: &str) -> Result<bool, store::sqlx::Error> {
    let n: i64 =
        store::sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM group_members WHERE group_id = ? AND user_id = ?"))
            .bind(group_id)
            .bind(user_id)
            .fetch_one(db.reader())
            .await?;
    Ok(n > 0)
}

pub async fn groups_of_user(db: &Db, user_id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    store::sqlx::query_scalar(db.sql("SELECT group_id FROM group_members WHERE user_id = ?"))
        .bind(user_id)
        .fetch_all(db.reader())
        .await
}

pub async fn members_of_group(db: &Db, group_id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    store::sqlx::query_scalar(db.sql("SELECT user_id FROM group_members WHERE group_id = ?"))
        .bind(group_id)
        .fetch_all(db.reader())
        .await
}
