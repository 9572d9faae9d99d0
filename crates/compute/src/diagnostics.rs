//! `GET /servers/{id}/diagnostics`: the instance's agent asks its driver
//! (a bus `call`, as the console output), so the figures are the
//! hypervisor's own. As in Nova, an instance without a host (never
//! scheduled, shelved offloaded) or still building is not ready (409),
//! and the agent refuses a guest its driver does not report running
//! (409, Nova's "Cannot 'get_diagnostics' instance … while it is in
//! power_state …"); a driver that cannot answer is 501.

use compute_agent::rpc::{self, Diagnostics, DiagnosticsRequest, vm_states};

use crate::Compute;
use crate::error::{ComputeError, Result};

/// How long the agent has to measure a guest.
const DIAGNOSTICS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Compute {
    pub async fn server_diagnostics(&self, uuid: &str) -> Result<Diagnostics> {
        let row = self.get_instance(uuid).await?;
        let Some(host) = row.host.as_deref().filter(|_| row.vm_state != vm_states::BUILDING) else {
            return Err(ComputeError::conflict(format!("Instance {uuid} is not ready")));
        };
        let req = DiagnosticsRequest {
            instance_uuid: uuid.to_owned(),
        };
        match self
            .bus
            .call::<_, Diagnostics>(&rpc::agent_topic(host), "get_diagnostics", &req, DIAGNOSTICS_TIMEOUT)
            .await
        {
            Ok(d) => Ok(d),
            Err(bus::BusError::Remote(e)) => Err(match e.kind.as_str() {
                "InstanceNotFound" => ComputeError::not_found(format!("Instance {uuid} could not be found.")),
                "InstanceInvalidState" => ComputeError::conflict(e.message),
                "NotImplemented" | "UnsupportedVersion" => {
                    ComputeError::NotImplemented("The requested functionality is not supported.".to_owned())
                }
                _ => ComputeError::Upstream(format!("{}: {}", e.kind, e.message)),
            }),
            Err(e) => Err(e.into()),
        }
    }
}
