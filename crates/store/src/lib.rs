//! Database plumbing shared by every service: URLs, pools, migrations, error
//! classification.
//!
//! Each service owns its own database (DESIGN.md §4) and talks to it through a
//! [`Db`]: SQLite for `oxistack up`, PostgreSQL or MySQL/MariaDB for the
//! scale-out mode. All three are first-class, so queries go through sqlx's
//! `Any` driver and are written once, in the dialect subset the three share:
//!
//! - placeholders are written `?`; [`Db::sql`] rewrites them to `$1, $2…` for
//!   PostgreSQL;
//! - column types are `VARCHAR(n)` (anything indexed), `TEXT`, `BIGINT` and
//!   `DOUBLE PRECISION`; booleans are `BIGINT` 0/1 because `Any` cannot decode
//!   a MySQL `TINYINT` as `bool` (see [`flag`]);
//! - upserts and `RETURNING` differ between the three and are avoided; where a
//!   step may run twice the caller inserts and treats [`StoreError::Conflict`]
//!   as "already there".
//!
//! SQLite allows one writer at a time: a server that lets two connections write
//! gets `database is locked` (Keystone's own tempest run on SQLite hit it). So
//! on SQLite a `Db` holds two pools, many readers and exactly one writer, in WAL
//! mode with a busy timeout; on the other databases both are the same pool.
//!
//! Migrations are embedded in each service's binary as an ordered list of
//! [`Migration`]s and applied by [`Db::migrate`], recorded per service in
//! `schema_migrations`.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use sqlx;
pub use sqlx::any::AnyRow;
pub use sqlx::{AssertSqlSafe, Row};

/// The database products the store speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

/// Database failures, classified once here so callers can map them to their
/// domain errors (naming the resource) without inspecting driver codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique or primary-key constraint rejected the write.
    #[error("unique constraint violated")]
    Conflict(#[source] sqlx::Error),
    /// A foreign-key constraint rejected the write.
    #[error("referenced row missing or still referenced")]
    ForeignKey(#[source] sqlx::Error),
    /// The database refused a value: too long for its column (MySQL), or a
    /// character it cannot store such as NUL (PostgreSQL). Bad input, not a
    /// failure of the service.
    #[error("value refused by the database")]
    InvalidValue(#[source] sqlx::Error),
    /// The database URL could not be used.
    #[error("invalid database URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("migration {version} of {service} failed")]
    Migration {
        service: String,
        version: i64,
        #[source]
        source: sqlx::Error,
    },
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        classify(e)
    }
}

/// Sorts a driver error into the kinds callers act on.
pub fn classify(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => return StoreError::Conflict(e),
            sqlx::error::ErrorKind::ForeignKeyViolation => return StoreError::ForeignKey(e),
            _ => {}
        }
        if db.code().is_some_and(|c| INVALID_VALUE_CODES.contains(&c.as_ref())) {
            return StoreError::InvalidValue(e);
        }
    }
    StoreError::Other(e)
}

/// SQLSTATEs (PostgreSQL) and error numbers (MySQL) of values a database
/// will not store: string too long (22001, 1406), character not in the
/// repertoire — NUL on PostgreSQL (22021), invalid text (22P05, 1366),
/// numeric out of range (22003, 1264).
const INVALID_VALUE_CODES: &[&str] = &["22001", "22021", "22P05", "22003", "1406", "1366", "1264"];

/// Booleans are stored as 0/1 (see the crate doc).
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// One schema change of a service, applied once, in `version` order.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    /// Statements separated by `;` at the end of a line. The token `{blob}`
    /// stands for the backend's binary type.
    pub sql: &'static str,
}

/// A service's database: a read pool and a write pool (the same pool except
/// on SQLite, where writes are serialised through one connection).
#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
}

impl Db {
    /// Connects to `url`: `sqlite:///abs/path.db` (created if missing),
    /// `postgresql://…`/`postgres://…`, `mysql://…` (also accepted with
    /// SQLAlchemy's `+driver` suffix, as OpenStack configs spell them).
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize_url(url)?;
        let opts = AnyConnectOptions::from_str(&url).map_err(|e| StoreError::BadUrl {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        match backend {
            Backend::Sqlite => {
                let pool = |max: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                conn.execute(
                                    "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=10000; \
                                     PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL",
                                )
                                .await?;
                                Ok(())
                            })
                        })
                };
                let write = pool(1).connect_with(opts.clone()).await?;
                let read = pool(4).connect_with(opts).await?;
                Ok(Db { backend, read, write })
            }
            Backend::Postgres | Backend::MySql => {
                let pool = AnyPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts)
                    .await?;
                Ok(Db {
                    backend,
                    read: pool.clone(),
                    write: pool,
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for queries that only read.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// The pool for writes and for transactions.
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Adapts a query written with `?` placeholders to the backend.
    pub fn sql(&self, query: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(match self.backend {
            Backend::Postgres => numbered_placeholders(query).into_owned(),
            _ => query.to_owned(),
        })
    }

    /// Applies the migrations of `service` not applied yet, each in its own
    /// transaction where the database supports transactional DDL.
    pub async fn migrate(&self, service: &str, migrations: &[Migration]) -> Result<(), StoreError> {
        let pool = self.writer();
        pool.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
             service VARCHAR(64) NOT NULL, version BIGINT NOT NULL, \
             description VARCHAR(255) NOT NULL, PRIMARY KEY (service, version))",
        )
        .await?;
        let applied: Vec<i64> = sqlx::query_scalar(self.sql("SELECT version FROM schema_migrations WHERE service = ?"))
            .bind(service)
            .fetch_all(pool)
            .await?;
        for m in migrations {
            if applied.contains(&m.version) {
                continue;
            }
            tracing::info!(
                service,
                version = m.version,
                description = m.description,
                "applying migration"
            );
            let fail = |source| StoreError::Migration {
                service: service.to_owned(),
                version: m.version,
                source,
            };
            let mut tx = pool.begin().await.map_err(fail)?;
            for stmt in split_statements(m.sql) {
                let stmt = stmt.replace("{blob}", self.blob_type());
                tx.execute(AssertSqlSafe(stmt)).await.map_err(fail)?;
            }
            sqlx::query(self.sql("INSERT INTO schema_migrations (service, version, description) VALUES (?, ?, ?)"))
                .bind(service)
                .bind(m.version)
                .bind(m.description)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
        }
        Ok(())
    }

    fn blob_type(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
            Backend::MySql => "LONGBLOB",
        }
    }
}

fn normalize_url(url: &str) -> Result<(Backend, String), StoreError> {
    let bad = |reason: &str| StoreError::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let base = scheme.split('+').next().unwrap_or(scheme);
    match base {
        "sqlite" => {
            let mut url = format!("sqlite://{rest}");
            if !rest.contains("mode=") {
                url.push_str(if rest.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
            }
            Ok((Backend::Sqlite, url))
        }
        "postgres" | "postgresql" => Ok((Backend::Postgres, format!("postgres://{rest}"))),
        "mysql" | "mariadb" => Ok((Backend::MySql, format!("mysql://{rest}"))),
        _ => Err(bad("unsupported scheme (sqlite, postgresql, mysql)")),
    }
}

/// Rewrites `?` placeholders outside string literals to `$1, $2, …`.
fn numbered_placeholders(query: &str) -> Cow<'_, str> {
    if !query.contains('?') {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len() + 8);
    let mut n = 0;
    let mut in_string = false;
    for c in query.chars() {
        match c {
            '\'' => {
                in_string = !in_string;
                out.push(c);
            }
            '?' if !in_string => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn split_statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(";\n")
        .map(str::trim)
        .map(|s| s.trim_end_matches(';'))
        .filter(|s| !s.is_empty())
}

/// Builds `?, ?, ?` for an `IN (…)` list of `n` items.
pub fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            numbered_placeholders("SELECT * FROM t WHERE a = ? AND b = '?' AND c IN (?, ?)"),
            "SELECT * FROM t WHERE a = $1 AND b = '?' AND c IN ($2, $3)"
        );
        assert!(matches!(numbered_placeholders("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn urls_are_normalized() {
        assert_eq!(
            normalize_url("mysql+pymysql://root@127.0.0.1/ks").unwrap(),
            (Backend::MySql, "mysql://root@127.0.0.1/ks".to_owned())
        );
        assert_eq!(normalize_url("postgresql://u@h/db").unwrap().0, Backend::Postgres);
        assert_eq!(
            normalize_url("sqlite:///tmp/x.db").unwrap().1,
            "sqlite:///tmp/x.db?mode=rwc"
        );
        assert!(normalize_url("oracle://x").is_err());
        assert!(normalize_url("nonsense").is_err());
    }

    #[test]
    fn statements_split_on_line_ends() {
        let v: Vec<_> = split_statements("CREATE TABLE a (x BIGINT);\nCREATE TABLE b (y TEXT);\n").collect();
        assert_eq!(v, ["CREATE TABLE a (x BIGINT)", "CREATE TABLE b (y TEXT)"]);
    }

    #[tokio::test]
    async fn sqlite_migrates_once_and_classifies_conflicts() {
        let dir = std::env::temp_dir().join(format!("store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        let db = Db::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        let m = [Migration {
            version: 1,
            description: "t",
            sql: "CREATE TABLE t (id VARCHAR(64) PRIMARY KEY, data {blob});\n",
        }];
        db.migrate("svc", &m).await.unwrap();
        db.migrate("svc", &m).await.unwrap();
        let ins = || sqlx::query(db.sql("INSERT INTO t (id) VALUES (?)")).bind("a");
        ins().execute(db.writer()).await.unwrap();
        let err = classify(ins().execute(db.writer()).await.unwrap_err());
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
