//! The compute hosts as the servers code needs them: the scheduler's view
//! of each host (from the services code's [`Compute::compute_hosts`]) and
//! whether a host's service is up.

use crate::Compute;
use crate::error::Result;
use crate::scheduler::HostCandidate;
use crate::services::HostState;

fn candidate(h: HostState) -> HostCandidate {
    HostCandidate {
        architecture: h.cpu_info.get("arch").and_then(|a| a.as_str()).map(str::to_owned),
        host: h.host,
        node: h.node,
        provider: h.node_uuid,
        availability_zone: h.availability_zone,
        hypervisor_type: h.hypervisor_type,
        aggregate_metadata: h.aggregate_metadata,
    }
}

impl Compute {
    /// Enabled, up compute hosts, as scheduler candidates.
    pub async fn scheduler_hosts(&self) -> Result<Vec<HostCandidate>> {
        Ok(self.up_compute_hosts().await?.into_iter().map(candidate).collect())
    }

    /// Every host that reported, up or not (for placement inventories).
    pub async fn scheduler_hosts_all(&self) -> Result<Vec<HostCandidate>> {
        Ok(self.compute_hosts().await?.into_iter().map(candidate).collect())
    }

    /// Whether the compute service on `host` is up (and so can take a
    /// terminate), disabled or not.
    pub async fn host_is_up(&self, host: &str) -> Result<bool> {
        Ok(self.compute_hosts().await?.iter().any(|h| h.host == host && h.up))
    }
}
