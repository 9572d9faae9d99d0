//! `os-simple-tenant-usage`: what each project's instances used over a
//! window, as Nova computes it — an instance is billed from
//! `max(launched_at, start)` to `min(terminated_at, stop)` (or `stop`
//! while it lives), times its flavor's vCPUs, RAM and disk. Deleted
//! instances are kept in `instances` with their `terminated_at`, so the
//! ones that overlap the window count.

use crate::Compute;
use crate::db;
use crate::error::{ComputeError, Result};

/// One instance's share of the window.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerUsage {
    pub instance_id: String,
    pub name: String,
    pub tenant_id: String,
    pub flavor: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub hours: f64,
    /// Microseconds since the epoch.
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// `terminated` once ended, else the `vm_state`.
    pub state: String,
    /// Seconds from launch to termination (or to now).
    pub uptime: i64,
}

/// One project's totals over the window.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantUsage {
    pub tenant_id: String,
    pub total_hours: f64,
    pub total_vcpus_usage: f64,
    pub total_memory_mb_usage: f64,
    pub total_local_gb_usage: f64,
    pub start: i64,
    pub stop: i64,
    pub server_usages: Vec<ServerUsage>,
}

/// Nova's `_hours_for`: hours of `[launched, terminated)` inside
/// `[start, stop]`.
pub fn hours_for(launched_at: i64, terminated_at: Option<i64>, start: i64, stop: i64) -> f64 {
    if terminated_at.is_some_and(|t| t < start) || launched_at > stop {
        return 0.0;
    }
    let from = launched_at.max(start);
    let to = terminated_at.map_or(stop, |t| t.min(stop));
    (to - from) as f64 / 3_600_000_000.0
}

/// A page of instances: after `marker` (an instance uuid), at most `limit`.
pub struct Paging<'a> {
    pub limit: Option<usize>,
    pub marker: Option<&'a str>,
}

impl Compute {
    /// Usage per project over `[start, stop]` (microseconds), of one
    /// project or all, and the instances of the page in the order they
    /// were counted.
    pub async fn tenant_usages(
        &self,
        start: i64,
        stop: i64,
        project_id: Option<&str>,
        paging: Paging<'_>,
    ) -> Result<(Vec<TenantUsage>, Vec<ServerUsage>)> {
        let mut rows = db::usage::active_in_window(&self.db, start, stop, project_id).await?;
        if let Some(m) = paging.marker {
            let Some(pos) = rows.iter().position(|r| r.uuid == m) else {
                return Err(ComputeError::bad(format!("Marker {m} could not be found.")));
            };
            rows.drain(..=pos);
        }
        if let Some(l) = paging.limit {
            rows.truncate(l);
        }
        let now = db::now();
        let mut tenants: Vec<TenantUsage> = Vec::new();
        let mut servers = Vec::with_capacity(rows.len());
        for r in rows {
            let hours = hours_for(r.launched_at, r.terminated_at, start, stop);
            let local_gb = r.root_gb + r.ephemeral_gb;
            let ended = r.terminated_at;
            let uptime = (ended.unwrap_or(now) - r.launched_at) / 1_000_000;
            let s = ServerUsage {
                instance_id: r.uuid,
                name: r.display_name,
                tenant_id: r.project_id,
                flavor: r.flavor_name,
                vcpus: r.vcpus,
                memory_mb: r.memory_mb,
                local_gb,
                hours,
                started_at: r.launched_at,
                ended_at: ended,
                state: if ended.is_some() {
                    "terminated".to_owned()
                } else {
                    r.vm_state
                },
                uptime,
            };
            let t = match tenants.iter_mut().position(|t| t.tenant_id == s.tenant_id) {
                Some(i) => &mut tenants[i],
                None => {
                    tenants.push(TenantUsage {
                        tenant_id: s.tenant_id.clone(),
                        total_hours: 0.0,
                        total_vcpus_usage: 0.0,
                        total_memory_mb_usage: 0.0,
                        total_local_gb_usage: 0.0,
                        start,
                        stop,
                        server_usages: Vec::new(),
                    });
                    tenants.last_mut().expect("just pushed")
                }
            };
            t.total_hours += hours;
            t.total_vcpus_usage += s.vcpus as f64 * hours;
            t.total_memory_mb_usage += s.memory_mb as f64 * hours;
            t.total_local_gb_usage += s.local_gb as f64 * hours;
            t.server_usages.push(s.clone());
            servers.push(s);
        }
        Ok((tenants, servers))
    }
}

#[cfg(test)]
mod tests {
    use super::hours_for;

    const H: i64 = 3_600_000_000;

    #[test]
    fn hours_are_clipped_to_the_window() {
        // launched before, still running: the whole window
        assert_eq!(hours_for(0, None, 2 * H, 5 * H), 3.0);
        // launched inside, terminated inside
        assert_eq!(hours_for(3 * H, Some(4 * H), 2 * H, 5 * H), 1.0);
        // terminated before the window, launched after it
        assert_eq!(hours_for(0, Some(H), 2 * H, 5 * H), 0.0);
        assert_eq!(hours_for(6 * H, None, 2 * H, 5 * H), 0.0);
        // terminated after the window
        assert_eq!(hours_for(H, Some(9 * H), 2 * H, 5 * H), 3.0);
    }
}
