//! Identity's tables and the only SQL of the crate: one file per resource.
//! Every query is written once for SQLite, PostgreSQL and MySQL (see the
//! `store` crate for the dialect rules).

pub mod assignments;
pub mod catalog;
pub mod credentials;
pub mod domain_config;
pub mod endpoint_filter;
pub mod grants;
pub mod limits;
pub mod oauth;
pub mod policies;
pub mod projects;
pub mod revocations;
pub mod roles;
pub mod trusts;
pub mod users;

use serde_json::{Map, Value};
use store::{Db, Migration};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "keystone v3 schema",
        sql: include_str!("schema_v1.sql"),
    },
    Migration {
        version: 2,
        description: "application credential expiry to the microsecond",
        sql: include_str!("schema_v2.sql"),
    },
];

pub async fn migrate(db: &Db) -> Result<(), store::StoreError> {
    db.migrate("identity", MIGRATIONS).await
}

/// Unused columns of a resource that clients may set (Keystone keeps
/// unknown attributes of users, projects, … and returns them).
pub fn extra_to_text(extra: &Map<String, Value>) -> String {
    Value::Object(extra.clone()).to_string()
}

pub fn extra_from_text(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Seconds since the epoch, as stored in every timestamp column.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
