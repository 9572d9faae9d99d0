//! `migrations`: the records of resizes and cold migrations
//! (`os-migrations`), one per move of an instance.

use store::{AnyRow, Db, Row, sqlx};

use crate::error::{ComputeError, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct MigrationRow {
    pub uuid: String,
    /// Nova's integer id (`os-migrations` `id`), numbered on insert.
    pub id: i64,
    pub instance_uuid: String,
    /// `resize` or `migration` (a cold migration).
    pub migration_type: String,
    pub status: String,
    pub source_compute: Option<String>,
    pub source_node: Option<String>,
    pub dest_compute: Option<String>,
    pub dest_node: Option<String>,
    /// The destination's IP address.
    pub dest_host: Option<String>,
    /// The flavors' integer ids (Nova's `instance_type_id`).
    pub old_instance_type_id: Option<i64>,
    pub new_instance_type_id: Option<i64>,
    pub project_id: String,
    pub user_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "uuid, id, instance_uuid, migration_type, status, source_compute, source_node, \
     dest_compute, dest_node, dest_host, old_instance_type_id, new_instance_type_id, project_id, user_id, \
     created_at, updated_at";

/// Statuses after which a migration is over (Nova's `confirmed`,
/// `reverted`, `error`, `failed`, and the ones no flow here reaches).
pub const DONE: &[&str] = &[
    "confirmed",
    "reverted",
    "error",
    "failed",
    "completed",
    "cancelled",
    "done",
];

fn from_row(r: &AnyRow) -> std::result::Result<MigrationRow, sqlx::Error> {
    Ok(MigrationRow {
        uuid: r.try_get("uuid")?,
        id: r.try_get("id")?,
        instance_uuid: r.try_get("instance_uuid")?,
        migration_type: r.try_get("migration_type")?,
        status: r.try_get("status")?,
        source_compute: r.try_get("source_compute")?,
        source_node: r.try_get("source_node")?,
        dest_compute: r.try_get("dest_compute")?,
        dest_node: r.try_get("dest_node")?,
        dest_host: r.try_get("dest_host")?,
        old_instance_type_id: r.try_get("old_instance_type_id")?,
        new_instance_type_id: r.try_get("new_instance_type_id")?,
        project_id: r.try_get("project_id")?,
        user_id: r.try_get("user_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Inserts the migration, numbering it (`id` = MAX(id)+1; a race with
/// another controller collides on the unique index and tries again).
pub async fn insert(db: &Db, m: &mut MigrationRow) -> Result<()> {
    for attempt in 0..5 {
        m.id = super::flavors::next_id(db, "migrations").await?;
        let placeholders = store::placeholders(COLUMNS.split(',').count());
        let done = sqlx::query(db.sql(&format!("INSERT INTO migrations ({COLUMNS}) VALUES ({placeholders})")))
            .bind(&m.uuid)
            .bind(m.id)
            .bind(&m.instance_uuid)
            .bind(&m.migration_type)
            .bind(&m.status)
            .bind(&m.source_compute)
            .bind(&m.source_node)
            .bind(&m.dest_compute)
            .bind(&m.dest_node)
            .bind(&m.dest_host)
            .bind(m.old_instance_type_id)
            .bind(m.new_instance_type_id)
            .bind(&m.project_id)
            .bind(&m.user_id)
            .bind(m.created_at)
            .bind(m.updated_at)
            .execute(db.writer())
            .await;
        match done.map_err(ComputeError::from) {
            Ok(_) => return Ok(()),
            Err(ComputeError::Store(store::StoreError::Conflict(_))) if attempt < 4 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The instance's migration that is not over yet (the newest one).
pub async fn in_progress(db: &Db, instance_uuid: &str) -> Result<Option<MigrationRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM migrations WHERE instance_uuid = ? AND status NOT IN ({}) \
         ORDER BY created_at DESC, id DESC",
        store::placeholders(DONE.len())
    );
    let mut q = sqlx::query(db.sql(&sql)).bind(instance_uuid);
    for s in DONE {
        q = q.bind(*s);
    }
    let rows = q.fetch_all(db.reader()).await?;
    Ok(rows.first().map(from_row).transpose()?)
}

/// Sets the status (and, when given, the destination) with a
/// compare-and-swap on the status expected; false when it was not.
pub async fn set_status(db: &Db, uuid: &str, expected: &[&str], status: &str, now: i64) -> Result<bool> {
    let sql = format!(
        "UPDATE migrations SET status = ?, updated_at = ? WHERE uuid = ? AND status IN ({})",
        store::placeholders(expected.len())
    );
    let mut q = sqlx::query(db.sql(&sql)).bind(status).bind(now).bind(uuid);
    for s in expected {
        q = q.bind(*s);
    }
    Ok(q.execute(db.writer()).await?.rows_affected() > 0)
}

/// Records the host the scheduler chose.
pub async fn set_dest(db: &Db, uuid: &str, compute: &str, node: &str, host_ip: Option<&str>, now: i64) -> Result<()> {
    sqlx::query(
        db.sql("UPDATE migrations SET dest_compute = ?, dest_node = ?, dest_host = ?, updated_at = ? WHERE uuid = ?"),
    )
    .bind(compute)
    .bind(node)
    .bind(host_ip)
    .bind(now)
    .bind(uuid)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// What `os-migrations` filters in SQL.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Source or destination compute.
    pub host: Option<String>,
    pub source_compute: Option<String>,
    pub status: Option<String>,
    pub instance_uuid: Option<String>,
    pub migration_type: Option<String>,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub changes_since: Option<i64>,
    pub changes_before: Option<i64>,
}

/// Migrations, newest first (`created_at`, then `id`, descending, as
/// Nova sorts them).
pub async fn list(db: &Db, f: &ListFilter) -> Result<Vec<MigrationRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM migrations WHERE 1 = 1");
    let mut binds: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    for (col, v) in [
        ("source_compute", &f.source_compute),
        ("status", &f.status),
        ("instance_uuid", &f.instance_uuid),
        ("migration_type", &f.migration_type),
        ("project_id", &f.project_id),
        ("user_id", &f.user_id),
    ] {
        if let Some(v) = v {
            sql.push_str(&format!(" AND {col} = ?"));
            binds.push(v.clone());
        }
    }
    if let Some(h) = &f.host {
        sql.push_str(" AND (source_compute = ? OR dest_compute = ?)");
        binds.push(h.clone());
        binds.push(h.clone());
    }
    // The integers come last, in this order.
    if let Some(t) = f.changes_since {
        sql.push_str(" AND updated_at >= ?");
        ints.push(t);
    }
    if let Some(t) = f.changes_before {
        sql.push_str(" AND updated_at <= ?");
        ints.push(t);
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC");
    let mut q = sqlx::query(db.sql(&sql));
    for b in &binds {
        q = q.bind(b);
    }
    for i in &ints {
        q = q.bind(*i);
    }
    let rows = q.fetch_all(db.reader()).await?;
    Ok(rows.iter().map(from_row).collect::<std::result::Result<_, _>>()?)
}

/// The integer id of a flavor (Nova's `instance_type_id`); `None` once
/// the flavor is deleted.
pub async fn flavor_int_id(db: &Db, flavorid: &str) -> Result<Option<i64>> {
    let id: Option<i64> = sqlx::query_scalar(db.sql("SELECT id FROM flavors WHERE flavorid = ?"))
        .bind(flavorid)
        .fetch_optional(db.reader())
        .await?;
    Ok(id)
}
