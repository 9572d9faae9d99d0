//! Services: `cinder-scheduler` (this controller, heartbeating itself) and
//! one `cinder-volume` per backend (`host@backend`, from the agents'
//! `report_state`), `os-services` and `os-availability-zone`.
//!
//! A service is `up` when its last heartbeat is younger than
//! `service_down_time`. The scheduler places a volume on an enabled, up
//! backend of the requested zone whose `volume_backend_name` matches the
//! volume type's extra spec (when it sets one) and whose reported free
//! capacity holds the volume, preferring the most free space (Cinder's
//! CapacityFilter and CapacityWeigher, thin provisioning not modelled).

use crate::db::services::ServiceRow;
use crate::error::{Result, VolumeError};
use crate::rpc::BackendReport;
use crate::{BlockStorage, db};

pub const SCHEDULER_BINARY: &str = "cinder-scheduler";
pub const VOLUME_BINARY: &str = "cinder-volume";

#[derive(Clone, Debug)]
pub struct ServiceView {
    pub row: ServiceRow,
    pub up: bool,
}

/// What the scheduler needs to know about the volume to place.
#[derive(Clone, Debug)]
pub struct PlacementRequest {
    pub size_gb: i64,
    pub availability_zone: String,
    pub backend_name: Option<String>,
}

/// Picks a backend; `Err` says why none fits. Pure, so it is unit-tested.
pub fn choose(services: &[ServiceView], req: &PlacementRequest) -> std::result::Result<String, String> {
    let volume: Vec<&ServiceView> = services.iter().filter(|s| s.row.binary == VOLUME_BINARY).collect();
    if volume.is_empty() {
        return Err("No volume service is registered.".into());
    }
    let live: Vec<&&ServiceView> = volume.iter().filter(|s| s.up && !s.row.disabled).collect();
    if live.is_empty() {
        return Err("No volume service is up and enabled.".into());
    }
    let zoned: Vec<&&&ServiceView> = live
        .iter()
        .filter(|s| s.row.availability_zone == req.availability_zone)
        .collect();
    if zoned.is_empty() {
        return Err(format!(
            "No volume service in availability zone {}.",
            req.availability_zone
        ));
    }
    let matching: Vec<&&&&ServiceView> = zoned
        .iter()
        .filter(|s| {
            req.backend_name
                .as_ref()
                .is_none_or(|b| s.row.backend_name.as_deref() == Some(b.as_str()))
        })
        .collect();
    if matching.is_empty() {
        return Err(format!(
            "No volume backend named {} (the volume type's volume_backend_name).",
            req.backend_name.as_deref().unwrap_or_default()
        ));
    }
    matching
        .iter()
        .filter(|s| s.row.free_capacity_gb >= req.size_gb as f64)
        .max_by(|a, b| a.row.free_capacity_gb.total_cmp(&b.row.free_capacity_gb))
        .map(|s| s.row.host.clone())
        .ok_or_else(|| format!("No backend has {} GB free (insufficient free capacity).", req.size_gb))
}

impl BlockStorage {
    pub async fn record_report(&self, r: &BackendReport) -> Result<()> {
        let now = db::now();
        db::services::heartbeat(
            &self.db,
            &ServiceRow {
                host: r.host.clone(),
                binary: VOLUME_BINARY.into(),
                availability_zone: r.availability_zone.clone(),
                backend_name: Some(r.volume_backend_name.clone()),
                total_capacity_gb: r.total_capacity_gb,
                free_capacity_gb: r.free_capacity_gb,
                version: r.version.clone(),
                disabled: false,
                disabled_reason: None,
                frozen: false,
                created_at: now,
                updated_at: now,
            },
        )
        .await
    }

    /// The scheduler's own heartbeat.
    pub(crate) async fn scheduler_heartbeat(&self) -> Result<()> {
        let now = db::now();
        db::services::heartbeat(
            &self.db,
            &ServiceRow {
                host: self.config.controller_host.clone(),
                binary: SCHEDULER_BINARY.into(),
                availability_zone: self.config.default_availability_zone.clone(),
                backend_name: None,
                total_capacity_gb: 0.0,
                free_capacity_gb: 0.0,
                version: env!("CARGO_PKG_VERSION").into(),
                disabled: false,
                disabled_reason: None,
                frozen: false,
                created_at: now,
                updated_at: now,
            },
        )
        .await
    }

    pub async fn services(&self) -> Result<Vec<ServiceView>> {
        let now = db::now();
        let down = self.config.service_down_time.as_micros() as i64;
        Ok(db::services::list(&self.db)
            .await?
            .into_iter()
            .map(|row| ServiceView {
                up: now - row.updated_at <= down,
                row,
            })
            .collect())
    }

    pub async fn set_service_disabled(
        &self,
        host: &str,
        binary: &str,
        disabled: bool,
        reason: Option<&str>,
    ) -> Result<()> {
        if !db::services::set_disabled(&self.db, host, binary, disabled, reason).await? {
            return Err(VolumeError::NotFound(format!(
                "Service {binary} on host {host} could not be found."
            )));
        }
        Ok(())
    }

    /// Zones of the volume services, and whether any service in each is
    /// up and enabled; the default zone when there is no backend yet.
    pub async fn zones(&self) -> Result<Vec<(String, bool)>> {
        let mut zones: std::collections::BTreeMap<String, bool> = Default::default();
        for s in self.services().await? {
            if s.row.binary == VOLUME_BINARY {
                *zones.entry(s.row.availability_zone.clone()).or_default() |= s.up && !s.row.disabled;
            }
        }
        if zones.is_empty() {
            zones.insert(self.config.default_availability_zone.clone(), false);
        }
        Ok(zones.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(host: &str, zone: &str, backend: &str, free: f64, up: bool) -> ServiceView {
        ServiceView {
            row: ServiceRow {
                host: host.into(),
                binary: VOLUME_BINARY.into(),
                availability_zone: zone.into(),
                backend_name: Some(backend.into()),
                free_capacity_gb: free,
                total_capacity_gb: 100.0,
                ..Default::default()
            },
            up,
        }
    }

    #[test]
    fn chooses_the_most_free_matching_backend() {
        let s = vec![
            svc("a@file", "nova", "file", 10.0, true),
            svc("b@file", "nova", "file", 50.0, true),
            svc("c@file", "nova", "file", 90.0, false),
            svc("d@lvm", "nova", "lvm", 99.0, true),
        ];
        let req = |size, backend: Option<&str>| PlacementRequest {
            size_gb: size,
            availability_zone: "nova".into(),
            backend_name: backend.map(str::to_owned),
        };
        assert_eq!(choose(&s, &req(5, Some("file"))).unwrap(), "b@file");
        assert_eq!(choose(&s, &req(5, None)).unwrap(), "d@lvm");
        assert!(choose(&s, &req(60, Some("file"))).unwrap_err().contains("free"));
        assert!(choose(&s, &req(1, Some("rbd"))).unwrap_err().contains("rbd"));
        let mut other = req(1, None);
        other.availability_zone = "az2".into();
        assert!(choose(&s, &other).is_err());
        assert!(choose(&[], &req(1, None)).is_err());
    }
}

/// What a backend holds for one project (or `(total)`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostUsage {
    pub project: String,
    pub volumes: i64,
    pub volume_gb: i64,
    pub snapshots: i64,
    pub snapshot_gb: i64,
}

impl BlockStorage {
    /// `(total)` first, then each project, as Cinder's `os-hosts/{host}`.
    pub async fn host_usage(&self, host: &str) -> Result<Vec<HostUsage>> {
        let services = self.services().await?;
        if !services
            .iter()
            .any(|s| s.row.host == host && s.row.binary == VOLUME_BINARY)
        {
            return Err(VolumeError::NotFound(format!("Host {host} could not be found.")));
        }
        let mut per: std::collections::BTreeMap<String, HostUsage> = Default::default();
        let mut total = HostUsage {
            project: "(total)".into(),
            ..Default::default()
        };
        for v in db::volumes::on_host(&self.db, host).await? {
            let e = per.entry(v.project_id.clone()).or_insert_with(|| HostUsage {
                project: v.project_id.clone(),
                ..Default::default()
            });
            e.volumes += 1;
            e.volume_gb += v.size;
            total.volumes += 1;
            total.volume_gb += v.size;
            for s in db::snapshots::of_volume(&self.db, &v.id).await? {
                e.snapshots += 1;
                e.snapshot_gb += s.size;
                total.snapshots += 1;
                total.snapshot_gb += s.size;
            }
        }
        let mut out = vec![total];
        out.extend(per.into_values());
        Ok(out)
    }
}
