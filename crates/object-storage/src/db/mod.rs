//! The account and container servers' listings: the only SQL of the crate.
//!
//! One database holds the listings of every account and container (the
//! service's own, like every service's: `object-storage.db` under `oxistack
//! up`). A listing is a range scan of the primary key `(account, container,
//! name)` — cost proportional to the page, not to the container — and each
//! container row carries its object count and bytes, updated in the same
//! transaction as the object row, so HEAD never counts. Deleted objects stay
//! as tombstone rows (`deleted = 1`, with their timestamp) so that an older
//! write arriving late cannot resurrect them; they go with their container.
//! What limits scale here is SQLite's single writer (every object PUT and
//! DELETE is one short write transaction); PostgreSQL lifts it, and a
//! database per container (Swift's layout) is the next step when one
//! database is the bottleneck.

pub mod accounts;
pub mod containers;
pub mod objects;

use std::collections::BTreeMap;

use store::{Db, Migration};

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "swift listings",
    sql: include_str!("schema_v1.sql"),
}];

pub async fn migrate(db: &Db) -> Result<(), store::StoreError> {
    db.migrate("object-storage", MIGRATIONS).await
}

/// Account and container metadata: lower-case header name → value.
pub type Meta = BTreeMap<String, String>;

pub fn meta_to_text(meta: &Meta) -> String {
    serde_json::to_string(meta).unwrap_or_else(|_| "{}".into())
}

pub fn meta_from_text(text: &str) -> Meta {
    serde_json::from_str(text).unwrap_or_default()
}

/// The window of names a listing page reads, and in which direction.
#[derive(Clone, Debug, Default)]
pub struct Window {
    /// Names strictly greater than this …
    pub after: Option<String>,
    /// … or greater or equal to this …
    pub from: Option<String>,
    /// … and strictly less than this.
    pub before: Option<String>,
    pub reverse: bool,
    pub limit: i64,
}

impl Window {
    /// `AND name > ? …` and the values to bind, in order.
    fn clause(&self, column: &str) -> (String, Vec<String>) {
        let mut sql = String::new();
        let mut binds = Vec::new();
        if let Some(a) = &self.after {
            sql.push_str(&format!(" AND {column} > ?"));
            binds.push(a.clone());
        }
        if let Some(f) = &self.from {
            sql.push_str(&format!(" AND {column} >= ?"));
            binds.push(f.clone());
        }
        if let Some(b) = &self.before {
            sql.push_str(&format!(" AND {column} < ?"));
            binds.push(b.clone());
        }
        let dir = if self.reverse { "DESC" } else { "ASC" };
        sql.push_str(&format!(" ORDER BY {column} {dir} LIMIT {}", self.limit.max(0)));
        (sql, binds)
    }
}
