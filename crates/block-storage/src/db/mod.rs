//! The block-storage service's tables and the only SQL of the crate: one
//! file per resource. Every query is written once for SQLite, PostgreSQL
//! and MySQL (see the `store` crate for the dialect rules). Timestamps are
//! microseconds since the epoch; metadata and extra specs are JSON objects
//! in a `TEXT` column (they are read and written whole with their owner).

pub mod attachments;
pub mod messages;
pub mod qos_specs;
pub mod quotas;
pub mod services;
pub mod snapshots;
pub mod transfers;
pub mod types;
pub mod volumes;

use std::collections::BTreeMap;

use store::{Db, Migration};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "cinder v3 schema",
        sql: include_str!("schema_v1.sql"),
    },
    Migration {
        version: 2,
        description: "snapshot progress",
        sql: "ALTER TABLE snapshots ADD COLUMN progress VARCHAR(10)",
    },
    Migration {
        version: 3,
        description: "volume attachments and user messages",
        sql: include_str!("schema_v3.sql"),
    },
    Migration {
        version: 4,
        description: "volume transfers",
        sql: include_str!("schema_v4.sql"),
    },
    Migration {
        version: 5,
        description: "qos specs and their volume types",
        sql: include_str!("schema_v5.sql"),
    },
];

pub async fn migrate(db: &Db) -> Result<(), store::StoreError> {
    db.migrate("block-storage", MIGRATIONS).await
}

/// Microseconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub(crate) fn to_json(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn from_json(text: &str) -> BTreeMap<String, String> {
    serde_json::from_str(text).unwrap_or_default()
}
