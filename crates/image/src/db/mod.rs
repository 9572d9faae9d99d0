//! The image service's tables and the only SQL of the crate: one file per
//! resource. Every query is written once for SQLite, PostgreSQL and MySQL
//! (see the `store` crate for the dialect rules). Timestamps are
//! microseconds since the epoch, so that `created_at` orders images made in
//! the same second.

pub mod images;
pub mod members;
pub mod metadefs;
pub mod tasks;

use store::{Db, Migration};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "glance v2 schema",
        sql: include_str!("schema_v1.sql"),
    },
    Migration {
        version: 2,
        description: "glance v2 metadata definitions",
        sql: metadefs::SCHEMA,
    },
];

pub async fn migrate(db: &Db) -> Result<(), store::StoreError> {
    db.migrate("image", MIGRATIONS).await
}

/// Microseconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
