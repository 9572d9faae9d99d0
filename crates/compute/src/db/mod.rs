//! The compute service's tables and the only SQL of the crate, one file per
//! resource group, written once for SQLite, PostgreSQL and MySQL (see the
//! `store` crate for the dialect rules). Timestamps are microseconds since
//! the epoch.

use store::{Db, Migration};

/// Flavors, keypairs, quotas, aggregates, services and compute nodes.
pub const RESOURCE_MIGRATIONS: &[Migration] = &[];

/// Instances and everything hanging off them (metadata, tags, actions,
/// faults, server groups).
pub const SERVER_MIGRATIONS: &[Migration] = &[];

pub async fn migrate(db: &Db) -> Result<(), store::StoreError> {
    db.migrate("compute_resources", RESOURCE_MIGRATIONS).await?;
    db.migrate("compute_servers", SERVER_MIGRATIONS).await
}

/// Microseconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
