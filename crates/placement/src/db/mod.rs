//! The placement service's tables and the only SQL of the crate. Every
//! query is written once for SQLite, PostgreSQL and MySQL (see the `store`
//! crate for the dialect rules); each takes the connection it runs on, so
//! that the domain modules can put several in one transaction. Timestamps
//! are microseconds since the epoch; `allocation_ratio` is kept as the
//! shortest decimal text that reads back as the same `f64`.

pub mod allocations;
pub mod inventories;
pub mod names;
pub mod providers;

use store::{Db, Migration};

/// A connection: pooled for reads, or a transaction's.
pub type Conn = store::sqlx::AnyConnection;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "placement schema",
    sql: include_str!("schema_v1.sql"),
}];

pub async fn migrate(db: &Db) -> Result<(), store::StoreError> {
    db.migrate("placement", MIGRATIONS).await
}

/// Microseconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
