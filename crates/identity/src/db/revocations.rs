//! Revocation events: persisted so that a restart still rejects the tokens
//! revoked before it.

use store::{Db, Row};

use crate::revoke::RevokeEvent;

pub async fn all(db: &Db, since: i64) -> Result<Vec<RevokeEvent>, store::sqlx::Error> {
    let rows = store::sqlx::query(db.sql(
        "SELECT id, user_id, project_id, domain_id, audit_id, trust_id, role_id, application_credential_id, \
         issued_before, revoked_at FROM revocation_events WHERE revoked_at >= ? ORDER BY revoked_at",
    ))
    .bind(since)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RevokeEvent {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                project_id: r.try_get("project_id")?,
                domain_id: r.try_get("domain_id")?,
                audit_id: r.try_get("audit_id")?,
                trust_id: r.try_get("trust_id")?,
                role_id: r.try_get("role_id")?,
                application_credential_id: r.try_get("application_credential_id")?,
                issued_before: r.try_get("issued_before")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}

pub async fn insert(db: &Db, e: &RevokeEvent) -> Result<(), store::StoreError> {
    store::sqlx::query(db.sql(
        "INSERT INTO revocation_events (id, user_id, project_id, domain_id, audit_id, trust_id, role_id, \
         application_credential_id, issued_before, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind(&e.id)
    .bind(&e.user_id)
    .bind(&e.project_id)
    .bind(&e.domain_id)
    .bind(&e.audit_id)
    .bind(&e.trust_id)
    .bind(&e.role_id)
    .bind(&e.application_credential_id)
    .bind(e.issued_before)
    .bind(e.revoked_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Drops events older than any token still alive.
pub async fn prune(db: &Db, before: i64) -> Result<u64, store::StoreError> {
    let r = store::sqlx::query(db.sql("DELETE FROM revocation_events WHERE revoked_at < ?"))
        .bind(before)
        .execute(db.writer())
        .await?;
    Ok(r.rows_affected())
}
