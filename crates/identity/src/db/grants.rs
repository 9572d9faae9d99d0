//! Application credentials, their roles and access rules: what the token
//! engine reads to authenticate one, and their CRUD. (Trusts, the other
//! delegation, are in `trusts.rs`.)

use store::{Db, Row};

#[derive(Clone, Debug)]
pub struct AppCredRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub description: Option<String>,
    pub user_id: String,
    pub project_id: Option<String>,
    pub system_scope: Option<String>,
    pub expires_at: Option<i64>,
    pub unrestricted: bool,
    pub created_at: i64,
}

const APP_CRED_COLUMNS: &str =
    "id, name, secret_hash, description, user_id, project_id, system_scope, expires_at, unrestricted, created_at";

fn app_cred_from_row(r: &store::AnyRow) -> Result<AppCredRow, store::sqlx::Error> {
    Ok(AppCredRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        secret_hash: r.try_get("secret_hash")?,
        description: r.try_get("description")?,
        user_id: r.try_get("user_id")?,
        project_id: r.try_get("project_id")?,
        system_scope: r.try_get("system_scope")?,
        expires_at: r.try_get("expires_at")?,
        unrestricted: r.try_get::<i64, _>("unrestricted")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn get_app_cred(db: &Db, id: &str) -> Result<Option<AppCredRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql(&format!(
        "SELECT {APP_CRED_COLUMNS} FROM application_credentials WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    .map(|r| app_cred_from_row(&r))
    .transpose()
}

pub async fn get_app_cred_by_name(
    db: &Db,
    user_id: &str,
    name: &str,
) -> Result<Option<AppCredRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql(&format!(
        "SELECT {APP_CRED_COLUMNS} FROM application_credentials WHERE user_id = ? AND name = ?"
    )))
    .bind(user_id)
    .bind(name)
    .fetch_optional(db.reader())
    .await?
    .map(|r| app_cred_from_row(&r))
    .transpose()
}

pub async fn list_app_creds(db: &Db, user_id: &str) -> Result<Vec<AppCredRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(&format!(
        "SELECT {APP_CRED_COLUMNS} FROM application_credentials WHERE user_id = ? ORDER BY name"
    )))
    .bind(user_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(app_cred_from_row).collect()
}

pub async fn app_cred_role_ids(db: &Db, id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    store::sqlx::query_scalar(
        db.sql("SELECT role_id FROM application_credential_roles WHERE application_credential_id = ?"),
    )
    .bind(id)
    .fetch_all(db.reader())
    .await
}

pub async fn insert_app_cred(db: &Db, a: &AppCredRow, role_ids: &[String]) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    store::sqlx::query(db.sql(&format!(
        "INSERT INTO application_credentials ({APP_CRED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&a.id)
    .bind(&a.name)
    .bind(&a.secret_hash)
    .bind(&a.description)
    .bind(&a.user_id)
    .bind(&a.project_id)
    .bind(&a.system_scope)
    .bind(a.expires_at)
    .bind(store::flag(a.unrestricted))
    .bind(a.created_at)
    .execute(&mut *tx)
    .await?;
    for r in role_ids {
        store::sqlx::query(
            db.sql("INSERT INTO application_credential_roles (application_credential_id, role_id) VALUES (?, ?)"),
        )
        .bind(&a.id)
        .bind(r)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete_app_cred(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    for sql in [
        "DELETE FROM application_credential_roles WHERE application_credential_id = ?",
        "DELETE FROM application_credential_access_rules WHERE application_credential_id = ?",
    ] {
        store::sqlx::query(db.sql(sql)).bind(id).execute(&mut *tx).await?;
    }
    let r = store::sqlx::query(db.sql("DELETE FROM application_credentials WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(r.rows_affected() > 0)
}

/// The microseconds past the second `expires_at` names: Keystone keeps an
/// application credential's expiry to the microsecond and returns it so,
/// while the token engine reads whole seconds (see `schema_v2.sql`).
pub async fn app_cred_expiry_micros(db: &Db, id: &str) -> Result<i64, store::sqlx::Error> {
    let v: Option<Option<i64>> =
        store::sqlx::query_scalar(db.sql("SELECT expires_at_micros FROM application_credentials WHERE id = ?"))
            .bind(id)
            .fetch_optional(db.reader())
            .await?;
    Ok(v.flatten().unwrap_or(0))
}

/// Creates an application credential with its roles and access rules in
/// one transaction: `new_rules` are inserted first, then every rule of
/// `rule_ids` (old or new) is linked to the credential.
pub async fn create_app_cred(
    db: &Db,
    a: &AppCredRow,
    expiry_micros: i64,
    role_ids: &[String],
    new_rules: &[AccessRuleRow],
    rule_ids: &[String],
) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    for r in new_rules {
        store::sqlx::query(
            db.sql("INSERT INTO access_rules (id, user_id, service, path, method) VALUES (?, ?, ?, ?, ?)"),
        )
        .bind(&r.id)
        .bind(&r.user_id)
        .bind(&r.service)
        .bind(&r.path)
        .bind(&r.method)
        .execute(&mut *tx)
        .await?;
    }
    store::sqlx::query(db.sql(&format!(
        "INSERT INTO application_credentials ({APP_CRED_COLUMNS}, expires_at_micros) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&a.id)
    .bind(&a.name)
    .bind(&a.secret_hash)
    .bind(&a.description)
    .bind(&a.user_id)
    .bind(&a.project_id)
    .bind(&a.system_scope)
    .bind(a.expires_at)
    .bind(store::flag(a.unrestricted))
    .bind(a.created_at)
    .bind(expiry_micros)
    .execute(&mut *tx)
    .await?;
    for r in role_ids {
        store::sqlx::query(
            db.sql("INSERT INTO application_credential_roles (application_credential_id, role_id) VALUES (?, ?)"),
        )
        .bind(&a.id)
        .bind(r)
        .execute(&mut *tx)
        .await?;
    }
    for r in rule_ids {
        store::sqlx::query(db.sql(
            "INSERT INTO application_credential_access_rules (application_credential_id, access_rule_id) VALUES (?, ?)",
        ))
        .bind(&a.id)
        .bind(r)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An access rule: what an application credential may call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRuleRow {
    pub id: String,
    pub user_id: String,
    pub service: String,
    pub path: String,
    pub method: String,
}

fn access_rule_from_row(r: &store::AnyRow) -> Result<AccessRuleRow, store::sqlx::Error> {
    Ok(AccessRuleRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        service: r.try_get("service")?,
        path: r.try_get("path")?,
        method: r.try_get("method")?,
    })
}

pub async fn list_access_rules(db: &Db, user_id: &str) -> Result<Vec<AccessRuleRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(
        "SELECT id, user_id, service, path, method FROM access_rules WHERE user_id = ? ORDER BY service, path, method",
    ))
    .bind(user_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(access_rule_from_row).collect()
}

pub async fn get_access_rule(db: &Db, id: &str) -> Result<Option<AccessRuleRow>, store::sqlx::Error> {
    store::sqlx::query(db.sql("SELECT id, user_id, service, path, method FROM access_rules WHERE id = ?"))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| access_rule_from_row(&r))
        .transpose()
}

/// The access rules of an application credential.
pub async fn app_cred_access_rules(db: &Db, app_cred_id: &str) -> Result<Vec<AccessRuleRow>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(
        "SELECT r.id, r.user_id, r.service, r.path, r.method FROM access_rules r \
         JOIN application_credential_access_rules l ON l.access_rule_id = r.id \
         WHERE l.application_credential_id = ? ORDER BY r.service, r.path, r.method",
    ))
    .bind(app_cred_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(access_rule_from_row).collect()
}

/// Deletes an access rule no application credential uses. `Ok(None)` when
/// there is no such rule, `Ok(Some(false))` when one still uses it.
pub async fn delete_unused_access_rule(db: &Db, id: &str) -> Result<Option<bool>, store::StoreError> {
    let mut tx = db.writer().begin().await?;
    let users: i64 = store::sqlx::query_scalar(
        db.sql("SELECT COUNT(*) FROM application_credential_access_rules WHERE access_rule_id = ?"),
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if users > 0 {
        return Ok(Some(false));
    }
    let r = store::sqlx::query(db.sql("DELETE FROM access_rules WHERE id = ?"))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((r.rows_affected() > 0).then_some(true))
}
