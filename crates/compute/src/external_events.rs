//! Events other services send about servers (Nova's
//! `os-server-external-events` and `compute_api.external_instance_event`
//! with the compute manager's handling of each name).
//!
//! The API has already dropped the events it cannot deliver (unknown
//! server, a server on no host, a missing tag); what reaches here is
//! handled as Nova handles it:
//! - `network-changed` (tag: a port, optional): the instance's network
//!   info cache is refreshed from the network service, in the background
//!   (Nova refreshes it on the compute host, after answering); the tag's
//!   port joins the cache when it is the instance's and not cached yet.
//! - `network-vif-deleted` (tag: the port): a cached port that the
//!   network service no longer has for the instance leaves the guest (an
//!   interface detach on the host, whose end drops it from the cache).
//! - `volume-extended` (tag: the volume): an `extend_volume` instance
//!   action, and the host's agent resizes the guest's disk to the
//!   volume's new size (its `compute_extend_volume` event says how).
//! - `power-update` (tag `POWER_ON`/`POWER_OFF`): a `start`/`stop`
//!   instance action, as Nova's API records it; its event is an error, as
//!   on a Nova host whose driver is not Ironic's: neither of this cloud's
//!   drivers has guests powered behind its back by a baremetal service.
//! - `network-vif-plugged`, `network-vif-unplugged`,
//!   `accelerator-request-bound`, `volume-reimaged`: Nova only wakes
//!   operations waiting for them; nothing here waits (builds do not wait
//!   for VIF plugging, there are no accelerators, and a rebuild does not
//!   re-image volumes), so they are logged.

use compute_agent::rpc::Action;

use crate::Compute;
use crate::db::servers::InstanceRow;
use crate::error::Result;
use crate::servers::Caller;

/// Event names, in the order microversions added them.
pub const NAMES: &[(&str, u32)] = &[
    ("network-changed", 0),
    ("network-vif-plugged", 0),
    ("network-vif-unplugged", 0),
    ("network-vif-deleted", 0),
    ("volume-extended", 51),
    ("power-update", 76),
    ("accelerator-request-bound", 82),
    ("volume-reimaged", 93),
];

/// Events that mean nothing without a tag (Nova's `TAG_REQUIRED`).
pub const TAG_REQUIRED: &[&str] = &["volume-extended", "power-update", "accelerator-request-bound"];

/// The names a microversion `2.<minor>` accepts.
pub fn names_at(minor: u32) -> Vec<&'static str> {
    NAMES.iter().filter(|(_, v)| minor >= *v).map(|(n, _)| *n).collect()
}

/// One event for a server that is on a host.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalEvent {
    pub name: String,
    pub tag: Option<String>,
    pub status: String,
}

/// What `power-update` events become on this cloud's drivers.
const POWER_UPDATE_UNSUPPORTED: &str =
    "NotImplementedError: the hypervisor driver does not take power-update events (an Ironic feature)";

impl Compute {
    /// Handles accepted events, each for the server `row` (which is on a
    /// host). Failures of one event are logged and do not stop the
    /// others, as Nova's manager handles them one by one.
    pub async fn external_instance_events(&self, caller: &Caller, events: Vec<(InstanceRow, ExternalEvent)>) {
        for (row, event) in events {
            tracing::info!(instance = %row.uuid, name = %event.name, tag = ?event.tag, status = %event.status,
                host = ?row.host, "external event");
            if let Err(e) = self.external_event(caller, &row, &event).await {
                tracing::warn!(instance = %row.uuid, name = %event.name, error = %e, "cannot process the external event");
            }
        }
    }

    async fn external_event(&self, caller: &Caller, row: &InstanceRow, event: &ExternalEvent) -> Result<()> {
        let event_tag = event.tag.clone();
        let tag = event_tag.clone().unwrap_or_default();
        match event.name.as_str() {
            "network-changed" => {
                let me = self.clone();
                let row = row.clone();
                self.spawn_task(async move {
                    if let Err(e) = me.network_changed(&row, event_tag.as_deref()).await {
                        tracing::warn!(instance = %row.uuid, error = %e, "cannot process network-changed");
                    }
                });
            }
            "network-vif-deleted" => {
                let me = self.clone();
                let (caller, row) = (caller.clone(), row.clone());
                self.spawn_task(async move {
                    if let Err(e) = me.vif_deleted(&caller, &row, &tag).await {
                        tracing::warn!(instance = %row.uuid, port = %tag, error = %e, "cannot process network-vif-deleted");
                    }
                });
            }
            "volume-extended" => {
                self.record_action(caller, &row.uuid, "extend_volume").await?;
                let volume_api = self.volume_endpoint(caller.project_id()).ok();
                self.cast_action(
                    caller,
                    row,
                    Action::ExtendVolume {
                        volume_id: tag,
                        volume_api,
                        new_size: None,
                    },
                )
                .await?;
            }
            "power-update" => {
                let action = match tag.as_str() {
                    "POWER_ON" => "start",
                    "POWER_OFF" => "stop",
                    other => {
                        tracing::warn!(instance = %row.uuid, "invalid power state {other:?}: power-update skipped");
                        return Ok(());
                    }
                };
                self.record_action(caller, &row.uuid, action).await?;
                self.record_event(
                    &row.uuid,
                    "compute_power_update",
                    "Error",
                    Some(POWER_UPDATE_UNSUPPORTED.to_owned()),
                    row.host.as_deref(),
                )
                .await?;
            }
            _ => {
                tracing::debug!(instance = %row.uuid, name = %event.name, "nothing waits for this event");
            }
        }
        Ok(())
    }

    /// Nova's `_process_instance_vif_deleted_event`: a cached port that is
    /// gone from the network service (or no longer the instance's) is
    /// detached from the guest; the detach's end drops it from the cache.
    async fn vif_deleted(&self, caller: &Caller, row: &InstanceRow, port_id: &str) -> Result<()> {
        let cached = crate::db::info_cache::get(&self.db, &row.uuid).await?;
        if !cached.iter().any(|v| v["id"] == port_id) {
            tracing::debug!(instance = %row.uuid, port = %port_id, "network-vif-deleted for a port not in the cache");
            return Ok(());
        }
        if let Some(n) = &self.network
            && let Some(port) = n.show_port(crate::network_client::As::Service, port_id).await?
            && port["device_id"] == row.uuid.as_str()
        {
            tracing::warn!(instance = %row.uuid, port = %port_id, "network-vif-deleted for a port that is still the instance's; ignored");
            return Ok(());
        }
        tracing::info!(instance = %row.uuid, port = %port_id, "the network service deleted the interface; detaching it");
        self.mark_detaching(row, port_id).await?;
        self.cast_action(
            caller,
            row,
            Action::DetachInterface {
                port_id: port_id.to_owned(),
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_grow_with_the_microversion() {
        assert_eq!(names_at(1).len(), 4);
        assert!(!names_at(50).contains(&"volume-extended"));
        assert!(names_at(51).contains(&"volume-extended"));
        assert!(!names_at(75).contains(&"power-update"));
        assert!(names_at(76).contains(&"power-update"));
        assert!(!names_at(81).contains(&"accelerator-request-bound"));
        assert!(names_at(82).contains(&"accelerator-request-bound"));
        assert!(!names_at(92).contains(&"volume-reimaged"));
        assert_eq!(names_at(93).len(), 8);
    }
}
