//! Trusts: their rows, roles and uses, for their API and for the token
//! engine alike. A deleted trust keeps its row with `deleted_at` set, which
//! is what token validation checks.

use serde_json::{Map, Value};
use store::{Db, Row};

use super::{extra_from_text, extra_to_text};

#[derive(Clone, Debug)]
pub struct TrustRecord {
    pub id: String,
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    pub expires_at: Option<i64>,
    pub remaining_uses: Option<i64>,
    pub redelegated_trust_id: Option<String>,
    pub redelegation_count: Option<i64>,
    pub deleted_at: Option<i64>,
    pub extra: Map<String, Value>,
}

const COLUMNS: &str = "id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses, \
                       redelegated_trust_id, redelegation_count, deleted_at, extra";

fn from_row(r: &store::AnyRow) -> Result<TrustRecord, store::sqlx::Error> {
    Ok(TrustRecord {
        id: r.try_get("id")?,
        trustor_user_id: r.try_get("trustor_user_id")?,
        trustee_user_id: r.try_get("trustee_user_id")?,
        project_id: r.try_get("project_id")?,
        impersonation: r.try_get::<i64, _>("impersonation")? != 0,
        expires_at: r.try_get("expires_at")?,
        remaining_uses: r.try_get("remaining_uses")?,
        redelegated_trust_id: r.try_get("redelegated_trust_id")?,
        redelegation_count: r.try_get("redelegation_count")?,
        deleted_at: r.try_get("deleted_at")?,
        extra: extra_from_text(&r.try_get::<String, _>("extra")?),
    })
}

/// A trust by id, deleted or not.
pub async fn get(db: &Db, id: &str) -> Result<Option<TrustRecord>, store::sqlx::Error> {
    store::sqlx::query(db.sql(&format!("SELECT {COLUMNS} FROM trusts WHERE id = ?")))
        .bind(id)
        .fetch_optional(db.reader())
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// The trusts not deleted.
pub async fn list_live(db: &Db) -> Result<Vec<TrustRecord>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(&format!(
        "SELECT {COLUMNS} FROM trusts WHERE deleted_at IS NULL ORDER BY id"
    )))
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Inserts a trust and its roles in one transaction.
pub async fn insert(db: &Db, t: &TrustRecord, role_ids: &[String]) -> Result<(), store::StoreError> {
    let mut tx = db.writer().begin().await?;
    store::sqlx::query(db.sql(&format!(
        "INSERT INTO trusts ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&t.id)
    .bind(&t.trustor_user_id)
    .bind(&t.trustee_user_id)
    .bind(&t.project_id)
    .bind(store::flag(t.impersonation))
    .bind(t.expires_at)
    .bind(t.remaining_uses)
    .bind(&t.redelegated_trust_id)
    .bind(t.redelegation_count)
    .bind(t.deleted_at)
    .bind(extra_to_text(&t.extra))
    .execute(&mut *tx)
    .await?;
    for r in role_ids {
        store::sqlx::query(db.sql("INSERT INTO trust_roles (trust_id, role_id) VALUES (?, ?)"))
            .bind(&t.id)
            .bind(r)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Marks a live trust deleted; false when there is none.
pub async fn soft_delete(db: &Db, id: &str, at: i64) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql("UPDATE trusts SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL"))
        .bind(at)
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn role_ids(db: &Db, id: &str) -> Result<Vec<String>, store::sqlx::Error> {
    store::sqlx::query_scalar(db.sql("SELECT role_id FROM trust_roles WHERE trust_id = ?"))
        .bind(id)
        .fetch_all(db.reader())
        .await
}

/// Takes one use of a trust with limited uses; false when none is left.
pub async fn consume_use(db: &Db, id: &str) -> Result<bool, store::StoreError> {
    let r = store::sqlx::query(db.sql(
        "UPDATE trusts SET remaining_uses = remaining_uses - 1 WHERE id = ? AND remaining_uses IS NOT NULL AND remaining_uses > 0",
    ))
    .bind(id)
    .execute(db.writer())
    .await?;
    if r.rows_affected() > 0 {
        return Ok(true);
    }
    let unlimited: Option<i64> =
        store::sqlx::query_scalar(db.sql("SELECT COUNT(*) FROM trusts WHERE id = ? AND remaining_uses IS NULL"))
            .bind(id)
            .fetch_optional(db.reader())
            .await?;
    Ok(unlimited.unwrap_or(0) > 0)
}
