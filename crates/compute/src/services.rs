//! Services and hosts: the `nova-compute` agents' heartbeats (with their
//! compute node), the controller's own services, what the scheduler may
//! use, `os-services`, `os-hypervisors` and `os-availability-zone`.
//!
//! A service is `up` when it is not forced down and its last heartbeat
//! is younger than `service_down_time` (Nova's option, by default
//! [`compute_agent::rpc::SERVICE_DOWN_TIME`]). A compute host's availability
//! zone is the `availability_zone` metadata of its aggregates (several are
//! joined with `,` as Nova does), else the configured default zone; the
//! controller's services are in the `internal` zone. Hypervisor "used"
//! figures are summed from the live instances placed on the host (swap is
//! not counted in `local_gb_used`).

use std::collections::BTreeMap;

use compute_agent::rpc::HostReport;
use serde_json::Value;

use crate::Compute;
use crate::db;
use crate::db::services::{HostedInstance, NodeRow, ServiceRow};
use crate::error::{ComputeError, Result};

/// Nova's `internal_service_availability_zone`.
pub const INTERNAL_ZONE: &str = "internal";

/// A compute host as the scheduler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostState {
    pub host: String,
    /// The hypervisor node name.
    pub node: String,
    /// The compute node's uuid (its placement resource provider).
    pub node_uuid: String,
    pub availability_zone: String,
    pub hypervisor_type: String,
    pub hypervisor_version: u64,
    pub cpu_info: Value,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub local_gb: u64,
    pub host_ip: String,
    /// Ids of the aggregates the host is in.
    pub aggregates: Vec<i64>,
    /// Their metadata, key → the values of every aggregate that sets it.
    pub aggregate_metadata: BTreeMap<String, Vec<String>>,
    pub disabled: bool,
    pub forced_down: bool,
    /// Heartbeat recent and not forced down.
    pub up: bool,
}

/// A service as `os-services` shows it.
#[derive(Clone, Debug)]
pub struct ServiceView {
    pub row: ServiceRow,
    pub zone: String,
    pub up: bool,
}

/// A hypervisor as `os-hypervisors` shows it.
#[derive(Clone, Debug)]
pub struct HypervisorView {
    pub node: NodeRow,
    pub service: ServiceView,
    pub vcpus_used: i64,
    pub memory_mb_used: i64,
    pub local_gb_used: i64,
    pub running_vms: i64,
    /// Instances with a task in progress.
    pub current_workload: i64,
    pub servers: Vec<HostedInstance>,
}

/// An availability zone: its hosts and their services.
#[derive(Clone, Debug)]
pub struct ZoneView {
    pub name: String,
    pub available: bool,
    pub services: Vec<ServiceView>,
}

/// Up: heard from within `down_time` and not forced down. A service
/// registered but never heard from (`updated_at` NULL) is down.
fn is_up(row: &ServiceRow, now: i64, down_time: std::time::Duration) -> bool {
    let Some(last) = row.updated_at else {
        return false;
    };
    !row.forced_down && now - last <= down_time.as_micros() as i64
}

/// Zones of each host from the aggregates' metadata.
fn host_zones(aggs: &[db::aggregates::AggregateRow]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in aggs {
        if let Some(az) = a.metadata.get("availability_zone") {
            for h in &a.hosts {
                let zones = out.entry(h.clone()).or_default();
                if !zones.contains(az) {
                    zones.push(az.clone());
                }
            }
        }
    }
    for zones in out.values_mut() {
        zones.sort();
    }
    out
}

impl Compute {
    /// Records an agent's heartbeat: its `nova-compute` service and its
    /// compute node.
    pub async fn record_report(&self, report: &HostReport) -> Result<()> {
        let now = db::now();
        let binary = if report.binary.is_empty() {
            "nova-compute"
        } else {
            &report.binary
        };
        let service = db::services::heartbeat(&self.db, &report.host, binary, "compute", &report.version, now).await?;
        db::services::upsert_node(&self.db, service.id, &report.host, &report.resources, now).await
    }

    /// Registers the compute service and node of a host that reports for
    /// the first time, without a heartbeat (the service stays down until
    /// [`Compute::record_report`]); returns the node's uuid, which names
    /// the host's placement resource provider.
    pub(crate) async fn register_compute_node(&self, report: &HostReport) -> Result<String> {
        let now = db::now();
        let binary = if report.binary.is_empty() {
            "nova-compute"
        } else {
            &report.binary
        };
        let service = db::services::register(&self.db, &report.host, binary, "compute", &report.version, now).await?;
        db::services::upsert_node(&self.db, service.id, &report.host, &report.resources, now).await?;
        match self.compute_node_of(report).await? {
            Some(node) => Ok(node.uuid),
            None => Err(ComputeError::Internal(format!(
                "compute node {} of {} vanished as it was registered",
                report.resources.hypervisor_hostname, report.host
            ))),
        }
    }

    /// The compute node a host's report is about, if recorded.
    pub(crate) async fn compute_node_of(&self, report: &HostReport) -> Result<Option<NodeRow>> {
        db::services::node(&self.db, &report.host, &report.resources.hypervisor_hostname).await
    }

    /// Records a heartbeat of one of the controller's services
    /// (`nova-scheduler`, `nova-conductor`).
    pub async fn record_controller_service(&self, host: &str, binary: &str) -> Result<()> {
        let topic = binary.strip_prefix("nova-").unwrap_or(binary);
        db::services::heartbeat(&self.db, host, binary, topic, env!("CARGO_PKG_VERSION"), db::now()).await?;
        Ok(())
    }

    /// Every compute host that has reported, up or not.
    pub async fn compute_hosts(&self) -> Result<Vec<HostState>> {
        let now = db::now();
        let services = db::services::services(&self.db).await?;
        let nodes = db::services::nodes(&self.db).await?;
        let aggs = db::aggregates::all(&self.db).await?;
        let zones = host_zones(&aggs);
        let mut out = Vec::new();
        for s in services.iter().filter(|s| s.binary == "nova-compute") {
            for n in nodes.iter().filter(|n| n.host == s.host) {
                let mut meta: BTreeMap<String, Vec<String>> = BTreeMap::new();
                let mut ids = Vec::new();
                for a in aggs.iter().filter(|a| a.hosts.contains(&s.host)) {
                    ids.push(a.id);
                    for (k, v) in &a.metadata {
                        meta.entry(k.clone()).or_default().push(v.clone());
                    }
                }
                out.push(HostState {
                    host: s.host.clone(),
                    node: n.hypervisor_hostname.clone(),
                    node_uuid: n.uuid.clone(),
                    availability_zone: zones
                        .get(&s.host)
                        .map(|z| z.join(","))
                        .unwrap_or_else(|| self.config.default_availability_zone.clone()),
                    hypervisor_type: n.hypervisor_type.clone(),
                    hypervisor_version: n.hypervisor_version as u64,
                    cpu_info: serde_json::from_str(&n.cpu_info).unwrap_or(Value::Null),
                    vcpus: n.vcpus as u32,
                    memory_mb: n.memory_mb as u64,
                    local_gb: n.local_gb as u64,
                    host_ip: n.host_ip.clone(),
                    aggregates: ids,
                    aggregate_metadata: meta,
                    disabled: s.disabled,
                    forced_down: s.forced_down,
                    up: is_up(s, now, self.config.service_down_time),
                });
            }
        }
        Ok(out)
    }

    /// The hosts the scheduler may use: enabled, not forced down, and
    /// heard from within `service_down_time`.
    pub async fn up_compute_hosts(&self) -> Result<Vec<HostState>> {
        Ok(self
            .compute_hosts()
            .await?
            .into_iter()
            .filter(|h| h.up && !h.disabled)
            .collect())
    }

    /// Every service with its zone and state, filtered by host and binary.
    pub async fn list_services(&self, host: Option<&str>, binary: Option<&str>) -> Result<Vec<ServiceView>> {
        let now = db::now();
        let zones = host_zones(&db::aggregates::all(&self.db).await?);
        Ok(db::services::services(&self.db)
            .await?
            .into_iter()
            .filter(|s| host.is_none_or(|h| s.host == h) && binary.is_none_or(|b| s.binary == b))
            .map(|row| {
                let zone = if row.binary == "nova-compute" {
                    zones
                        .get(&row.host)
                        .map(|z| z.join(","))
                        .unwrap_or_else(|| self.config.default_availability_zone.clone())
                } else {
                    INTERNAL_ZONE.to_owned()
                };
                ServiceView {
                    up: is_up(&row, now, self.config.service_down_time),
                    row,
                    zone,
                }
            })
            .collect())
    }

    /// A service by its id: the integer before 2.53, the uuid from 2.53.
    pub async fn find_service(&self, id: &str) -> Result<ServiceView> {
        self.list_services(None, None)
            .await?
            .into_iter()
            .find(|s| s.row.uuid == id || s.row.id.to_string() == id)
            .ok_or_else(|| ComputeError::not_found(format!("Service {id} could not be found.")))
    }

    /// Sets a service's flags; `None` leaves a flag as it is.
    pub async fn update_service(
        &self,
        service: &ServiceView,
        disabled: Option<bool>,
        disabled_reason: Option<Option<String>>,
        forced_down: Option<bool>,
    ) -> Result<ServiceView> {
        let row = &service.row;
        let disabled_now = disabled.unwrap_or(row.disabled);
        let reason = match (disabled, disabled_reason) {
            (_, Some(r)) => r,
            // enabling clears the reason, as Nova does
            (Some(false), None) => None,
            _ => row.disabled_reason.clone(),
        };
        let forced = forced_down.unwrap_or(row.forced_down);
        db::services::set_flags(&self.db, row.id, disabled_now, reason.as_deref(), forced).await?;
        self.find_service(&row.uuid).await
    }

    /// Deletes a service; a compute service hosting instances is refused.
    pub async fn delete_service(&self, service: &ServiceView) -> Result<()> {
        if service.row.binary == "nova-compute"
            && !db::services::hosted_instances(&self.db, Some(&service.row.host))
                .await?
                .is_empty()
        {
            return Err(ComputeError::conflict(
                "Unable to delete compute service that is hosting instances. Migrate or delete the instances first.",
            ));
        }
        db::services::delete_service(&self.db, &service.row).await
    }

    /// Every hypervisor with its service and used figures.
    pub async fn list_hypervisors(&self) -> Result<Vec<HypervisorView>> {
        let services = self.list_services(None, Some("nova-compute")).await?;
        let instances = db::services::hosted_instances(&self.db, None).await?;
        let mut out = Vec::new();
        for node in db::services::nodes(&self.db).await? {
            let Some(service) = services
                .iter()
                .find(|s| s.row.id == node.service_id || s.row.host == node.host)
            else {
                continue;
            };
            let servers: Vec<HostedInstance> = instances.iter().filter(|i| i.host == node.host).cloned().collect();
            out.push(HypervisorView {
                vcpus_used: servers.iter().map(|i| i.vcpus).sum(),
                memory_mb_used: servers.iter().map(|i| i.memory_mb).sum(),
                local_gb_used: servers.iter().map(|i| i.disk_gb).sum(),
                running_vms: servers.len() as i64,
                current_workload: servers.iter().filter(|i| i.busy).count() as i64,
                servers,
                service: service.clone(),
                node,
            });
        }
        Ok(out)
    }

    /// Availability zones with their services; `internal` holds the
    /// controller's. A zone is available while one of its services is
    /// enabled.
    pub async fn availability_zones(&self) -> Result<Vec<ZoneView>> {
        let mut zones: BTreeMap<String, Vec<ServiceView>> = BTreeMap::new();
        for s in self.list_services(None, None).await? {
            for z in s.zone.split(',') {
                zones.entry(z.to_owned()).or_default().push(s.clone());
            }
        }
        Ok(zones
            .into_iter()
            .map(|(name, services)| ZoneView {
                available: services.iter().any(|s| !s.row.disabled),
                name,
                services,
            })
            .collect())
    }
}
