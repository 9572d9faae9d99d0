//! The scheduler (Nova's filter scheduler over placement).
//!
//! 1. Hosts: the compute services that are enabled and up
//!    ([`Compute::scheduler_hosts`]), minus the hosts a build already
//!    failed on.
//! 2. Filters: a forced host (`az:host`), the availability zone, the
//!    image's `hypervisor_type`/`hw_architecture` properties against the
//!    host, hard server-group policies (affinity, anti-affinity with the
//!    2.64 `max_server_per_host` rule), and aggregate metadata against the
//!    flavor's extra specs (`AggregateInstanceExtraSpecsFilter`: keys with
//!    the `aggregate_instance_extra_specs:` scope or without any scope).
//! 3. Placement: `GET /allocation_candidates` for the flavor's VCPU,
//!    MEMORY_MB and DISK_GB; a host is kept only if its provider is a
//!    candidate.
//! 4. Weights, normalised to 0..1 per weigher as Nova does: free RAM
//!    (spreading, `ram_weight_multiplier` 1.0), free vCPUs (spreading,
//!    `cpu_weight_multiplier` 1.0), and for soft-affinity /
//!    soft-anti-affinity groups the members already on the host (+/-1.0).
//! 5. Claim: `PUT /allocations/{instance}` on the best host; placement's
//!    409 (the capacity went meanwhile) moves on to the next.
//!
//! The instances of one request (a multi-create) share one reading of the
//! hosts and of the candidates ([`SchedulerView`]), each claim counted in
//! as it is made, as Nova's scheduler consumes its host states while it
//! places `num_instances`; a view that finds no host, or whose claim
//! placement refused, is read again before an instance is failed.
//!
//! One scheduling decision runs at a time (a lock), so that the members
//! of an anti-affinity group created together see each other's hosts.

use std::collections::BTreeMap;

use compute_agent::rpc::FlavorSpec;

use crate::Compute;
use crate::db;
use crate::db::server_groups::GroupRow;
use crate::db::servers::InstanceRow;
use crate::error::Result;
use crate::placement_client::{Candidates, ClassSummary, Resources};

/// A host as the scheduler sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostCandidate {
    pub host: String,
    /// The hypervisor node name.
    pub node: String,
    /// The placement resource provider (the compute node's uuid).
    pub provider: String,
    pub availability_zone: String,
    pub hypervisor_type: String,
    pub architecture: Option<String>,
    /// Metadata of the aggregates the host is in (key → values).
    pub aggregate_metadata: BTreeMap<String, Vec<String>>,
}

/// Placement resources of a flavor (Nova's `resources_from_flavor`).
pub fn flavor_resources(f: &FlavorSpec) -> Resources {
    let mut r = Resources::new();
    r.insert("VCPU".into(), i64::from(f.vcpus));
    r.insert("MEMORY_MB".into(), f.memory_mb as i64);
    let disk = f.root_gb + f.ephemeral_gb + f.swap_mb.div_ceil(1024);
    r.insert("DISK_GB".into(), disk as i64);
    r
}

/// Nova's weigher normalisation: (v - min) / (max - min), 0 when all equal.
fn normalize(values: &[f64]) -> Vec<f64> {
    let (min, max) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    values
        .iter()
        .map(|v| if max > min { (v - min) / (max - min) } else { 0.0 })
        .collect()
}

fn free(summary: Option<&BTreeMap<String, ClassSummary>>, class: &str) -> f64 {
    summary
        .and_then(|s| s.get(class))
        .map(|c| (c.capacity - c.used) as f64)
        .unwrap_or(0.0)
}

/// Whether the flavor's extra specs are satisfied by the aggregates'
/// metadata.
fn aggregates_match(flavor: &FlavorSpec, host: &HostCandidate) -> bool {
    for (key, want) in &flavor.extra_specs {
        let key = match key.split_once(':') {
            Some(("aggregate_instance_extra_specs", k)) => k,
            Some(_) => continue,
            None => key.as_str(),
        };
        let Some(have) = host.aggregate_metadata.get(key) else {
            return false;
        };
        let wants: Vec<&str> = want.split(',').map(str::trim).collect();
        if !have
            .iter()
            .any(|h| wants.iter().any(|w| w == h || w.trim_start_matches("s== ") == h))
        {
            return false;
        }
    }
    true
}

fn image_matches(row: &InstanceRow, host: &HostCandidate) -> bool {
    let Some(image) = &row.image else { return true };
    let prop = |k: &str| {
        image
            .properties
            .get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.to_ascii_lowercase())
    };
    if let Some(hv) = prop("hypervisor_type").or_else(|| prop("img_hv_type"))
        && hv != host.hypervisor_type.to_ascii_lowercase()
    {
        return false;
    }
    if let Some(arch) = prop("hw_architecture").or_else(|| prop("architecture"))
        && let Some(have) = &host.architecture
        && arch != have.to_ascii_lowercase()
    {
        return false;
    }
    true
}

/// Rules of a group (2.64): `max_server_per_host`.
fn max_per_host(group: &GroupRow) -> i64 {
    serde_json::from_str::<serde_json::Value>(&group.rules)
        .ok()
        .and_then(|v| v["max_server_per_host"].as_i64())
        .unwrap_or(1)
}

/// What the scheduler read for one flavor: the up hosts and placement's
/// candidates, with the claims made since counted in.
#[derive(Debug)]
pub struct SchedulerView {
    resources: Resources,
    hosts: Vec<HostCandidate>,
    candidates: Candidates,
    /// Placement refused a claim this view promised: read it again.
    stale: bool,
}

impl SchedulerView {
    /// Whether the provider still has room for one more instance.
    fn fits(&self, provider: &str) -> bool {
        let Some(summary) = self.candidates.summaries.get(provider) else {
            return false;
        };
        self.resources
            .iter()
            .all(|(class, n)| *n <= 0 || summary.get(class).is_some_and(|c| c.capacity - c.used >= *n))
    }

    fn consume(&mut self, provider: &str) {
        if let Some(summary) = self.candidates.summaries.get_mut(provider) {
            for (class, n) in &self.resources {
                if let Some(c) = summary.get_mut(class) {
                    c.used += n;
                }
            }
        }
    }
}

impl Compute {
    /// Picks a host for the instance and claims its resources there,
    /// reusing `view` when it was read for the same resources (and
    /// leaving in it what it read). `None`: no host qualifies (Nova's
    /// NoValidHost).
    pub async fn select_and_claim(
        &self,
        row: &InstanceRow,
        view: &mut Option<SchedulerView>,
    ) -> Result<Option<HostCandidate>> {
        let resources = flavor_resources(&row.flavor);
        loop {
            let (v, fresh) = match view.take() {
                Some(v) if v.resources == resources && !v.stale => (view.insert(v), false),
                _ => {
                    let v = SchedulerView {
                        hosts: self.scheduler_hosts().await?,
                        candidates: self.placement.candidates(&resources).await?,
                        resources: resources.clone(),
                        stale: false,
                    };
                    (view.insert(v), true)
                }
            };
            if let Some(host) = self.claim_best(row, v).await? {
                return Ok(Some(host));
            }
            if fresh {
                return Ok(None);
            }
            *view = None;
        }
    }

    async fn claim_best(&self, row: &InstanceRow, view: &mut SchedulerView) -> Result<Option<HostCandidate>> {
        let group = match &row.group_uuid {
            Some(g) => db::server_groups::get(&self.db, g).await?,
            None => None,
        };
        // Hosts of the group's other members.
        let mut member_hosts: BTreeMap<String, i64> = BTreeMap::new();
        if let Some(g) = &group {
            let members = db::servers::list(
                &self.db,
                &db::servers::ListFilter {
                    group_uuid: Some(g.uuid.clone()),
                    ..Default::default()
                },
            )
            .await?;
            for m in members.iter().filter(|m| m.uuid != row.uuid) {
                if let Some(h) = &m.host {
                    *member_hosts.entry(h.clone()).or_default() += 1;
                }
            }
        }
        let zone = row.requested_az.clone();
        let filtered: Vec<HostCandidate> = view
            .hosts
            .iter()
            .filter(|h| !row.tried_hosts.contains(&h.host))
            .filter(|h| row.requested_host.as_ref().is_none_or(|f| *f == h.host))
            .filter(|h| zone.as_ref().is_none_or(|z| *z == h.availability_zone))
            .filter(|h| image_matches(row, h))
            .filter(|h| aggregates_match(&row.flavor, h))
            .filter(|h| match &group {
                Some(g) if g.policy == "affinity" => {
                    member_hosts.is_empty() || (member_hosts.len() == 1 && member_hosts.contains_key(&h.host))
                }
                Some(g) if g.policy == "anti-affinity" => {
                    member_hosts.get(&h.host).copied().unwrap_or(0) < max_per_host(g)
                }
                _ => true,
            })
            .cloned()
            .collect();
        if filtered.is_empty() {
            tracing::info!(instance = %row.uuid, "no host passed the filters");
            return Ok(None);
        }
        let candidates = &view.candidates;
        let mut viable: Vec<(HostCandidate, BTreeMap<String, Resources>)> = Vec::new();
        for h in filtered {
            if let Some(c) = candidates
                .candidates
                .iter()
                .find(|c| c.allocations.len() == 1 && c.allocations.contains_key(&h.provider))
                && view.fits(&h.provider)
            {
                viable.push((h, c.allocations.clone()));
            }
        }
        if viable.is_empty() {
            tracing::info!(instance = %row.uuid, "placement has no candidate among the filtered hosts");
            return Ok(None);
        }
        let ram = normalize(
            &viable
                .iter()
                .map(|(h, _)| free(candidates.summaries.get(&h.provider), "MEMORY_MB"))
                .collect::<Vec<_>>(),
        );
        let cpu = normalize(
            &viable
                .iter()
                .map(|(h, _)| free(candidates.summaries.get(&h.provider), "VCPU"))
                .collect::<Vec<_>>(),
        );
        let soft = normalize(
            &viable
                .iter()
                .map(|(h, _)| member_hosts.get(&h.host).copied().unwrap_or(0) as f64)
                .collect::<Vec<_>>(),
        );
        let soft_sign = match group.as_ref().map(|g| g.policy.as_str()) {
            Some("soft-affinity") => 1.0,
            Some("soft-anti-affinity") => -1.0,
            _ => 0.0,
        };
        let mut weighed: Vec<(f64, usize)> = (0..viable.len())
            .map(|i| {
                (
                    self.config.ram_weight_multiplier * ram[i]
                        + self.config.cpu_weight_multiplier * cpu[i]
                        + soft_sign * soft[i],
                    i,
                )
            })
            .collect();
        weighed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (weight, i) in weighed {
            let (host, allocs) = &viable[i];
            tracing::debug!(instance = %row.uuid, host = %host.host, weight, "trying host");
            if self
                .placement
                .claim(&row.uuid, allocs, None, &row.project_id, &row.user_id)
                .await?
            {
                tracing::info!(instance = %row.uuid, host = %host.host, weight, "claimed");
                let host = host.clone();
                view.consume(&host.provider);
                return Ok(Some(host));
            }
            view.stale = true;
        }
        Ok(None)
    }
}
