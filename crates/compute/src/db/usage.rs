//! The instances `os-simple-tenant-usage` bills: launched before the end
//! of the window and not terminated before its start, deleted or not
//! (deleted rows are kept with their `terminated_at`).

use store::{Db, Row, sqlx};

use crate::error::Result;

/// What usage needs of an instance.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRow {
    pub uuid: String,
    pub display_name: String,
    pub project_id: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub root_gb: i64,
    pub ephemeral_gb: i64,
    /// The flavor's name (from the instance's flavor copy).
    pub flavor_name: String,
    pub vm_state: String,
    pub launched_at: i64,
    pub terminated_at: Option<i64>,
}

/// Instances active in `[start, stop)` (microseconds), of one project or
/// all, in creation order (`id`).
pub async fn active_in_window(db: &Db, start: i64, stop: i64, project_id: Option<&str>) -> Result<Vec<UsageRow>> {
    let mut sql = String::from(
        "SELECT uuid, display_name, project_id, vcpus, memory_mb, root_gb, ephemeral_gb, flavor, vm_state, \
         launched_at, terminated_at FROM instances \
         WHERE launched_at IS NOT NULL AND launched_at < ? AND (terminated_at IS NULL OR terminated_at > ?)",
    );
    if project_id.is_some() {
        sql.push_str(" AND project_id = ?");
    }
    sql.push_str(" ORDER BY id");
    let mut q = sqlx::query(db.sql(&sql)).bind(stop).bind(start);
    if let Some(p) = project_id {
        q = q.bind(p.to_owned());
    }
    let rows = q.fetch_all(db.reader()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let flavor: String = r.try_get("flavor")?;
        let flavor_name = serde_json::from_str::<serde_json::Value>(&flavor)
            .ok()
            .and_then(|f| f.get("name").and_then(|n| n.as_str()).map(str::to_owned))
            .unwrap_or_default();
        out.push(UsageRow {
            uuid: r.try_get("uuid")?,
            display_name: r.try_get("display_name")?,
            project_id: r.try_get("project_id")?,
            vcpus: r.try_get("vcpus")?,
            memory_mb: r.try_get("memory_mb")?,
            root_gb: r.try_get("root_gb")?,
            ephemeral_gb: r.try_get("ephemeral_gb")?,
            flavor_name,
            vm_state: r.try_get("vm_state")?,
            launched_at: r.try_get("launched_at")?,
            terminated_at: r.try_get("terminated_at")?,
        });
    }
    Ok(out)
}

/// How many instances `host` had in `[start, stop)` (microseconds),
/// deleted or not: Nova's `get_active_by_window_joined` for a host, which
/// the instance usage audit counts.
pub async fn count_on_host(db: &Db, host: &str, start: i64, stop: i64) -> Result<i64> {
    let row = sqlx::query(db.sql(
        "SELECT COUNT(*) AS n FROM instances WHERE host = ? \
         AND launched_at IS NOT NULL AND launched_at < ? AND (terminated_at IS NULL OR terminated_at > ?)",
    ))
    .bind(host.to_owned())
    .bind(stop)
    .bind(start)
    .fetch_one(db.reader())
    .await?;
    Ok(row.try_get("n")?)
}
