//! The network service's tables and the only SQL of the crate. Every
//! query is written once for SQLite, PostgreSQL and MySQL (see the `store`
//! crate for the dialect rules); each takes the connection it runs on, so
//! that the domain modules can put several in one transaction. Timestamps
//! are microseconds since the epoch; booleans are 0/1; list- and
//! dict-valued attributes that are never queried by their parts
//! (allocation pools, DNS servers, host routes, address pairs, binding
//! profiles, availability-zone hints) are JSON text.

pub mod agents;
pub mod floating_ips;
pub mod networks;
pub mod ports;
pub mod quotas;
pub mod routers;
pub mod security_groups;
pub mod subnets;
pub mod tags;

use serde_json::Value;
use store::sqlx::{self, Row};
use store::{AnyRow, Db, Migration};

use crate::error::Result;

/// A connection: pooled for reads, or a transaction's.
pub type Conn = store::sqlx::AnyConnection;

/// Applied in order and recorded by version in `schema_migrations`: a
/// released file is never edited, a change is a new version.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "network schema",
        sql: include_str!("schema_v1.sql"),
    },
    Migration {
        version: 2,
        description: "routers and floating IPs",
        sql: include_str!("schema_v2.sql"),
    },
    Migration {
        version: 3,
        description: "agents",
        sql: include_str!("schema_v3.sql"),
    },
];

pub async fn migrate(db: &Db) -> Result<(), store::StoreError> {
    db.migrate("network", MIGRATIONS).await
}

/// Microseconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub(crate) fn get_bool(r: &AnyRow, col: &str) -> Result<bool> {
    Ok(r.try_get::<i64, _>(col)? != 0)
}

/// A JSON text column; a value that does not parse reads as `Null`.
pub(crate) fn get_json(r: &AnyRow, col: &str) -> Result<Value> {
    let text: String = r.try_get(col)?;
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) fn json_text(v: &Value) -> String {
    v.to_string()
}

/// The number of rows of `table` (one of ours) owned by `project_id`.
pub async fn count_owned(db: &Db, c: &mut Conn, table: &'static str, project_id: &str) -> Result<i64> {
    let q = format!("SELECT COUNT(*) FROM {table} WHERE project_id = ?");
    Ok(sqlx::query_scalar(db.sql(&q))
        .bind(project_id)
        .fetch_one(&mut *c)
        .await?)
}
