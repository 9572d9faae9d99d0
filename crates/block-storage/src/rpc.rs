//! The RPC contract between the API/scheduler (controller) and the volume
//! agents, as oslo.messaging topics and methods. Both sides use these
//! types; new fields are `#[serde(default)]`.
//!
//! Controller → agent, topic [`volume_topic`]`(host)` (casts; the agent
//! answers with a `volume_update`/`snapshot_update`):
//! - `create_volume` [`CreateVolume`]
//! - `delete_volume` [`DeleteVolume`] (its snapshots first, for `cascade`)
//! - `extend_volume` [`ExtendVolume`]
//! - `create_snapshot` / `delete_snapshot` [`SnapshotRef`]
//! - `revert_to_snapshot` [`SnapshotRef`] (the volume's data becomes the
//!   snapshot's; the agent reports both)
//! - call `initialize_connection` [`InitializeConnection`] →
//!   [`ConnectionInfo`] (export the volume to the connector's host)
//! - call `terminate_connection` [`TerminateConnection`] → `null`
//!
//! Agent → controller, topic [`SCHEDULER_TOPIC`]:
//! - cast `report_state` [`BackendReport`] every [`REPORT_INTERVAL`]
//! - cast `volume_update` [`VolumeUpdate`], `snapshot_update`
//!   [`SnapshotUpdate`] when an operation ends
//! - call `volumes_on_host` [`HostQuery`] → [`HostRecords`] (the
//!   controller's view, reconciled by the agent when it starts)

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub const SCHEDULER_TOPIC: &str = "cinder-scheduler";

/// Cinder: report_interval 10 s, service_down_time 60 s.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);
pub const SERVICE_DOWN_TIME: Duration = Duration::from_secs(60);

/// `volume.<host>`, the host being `host@backend` as Cinder names it.
pub fn volume_topic(host: &str) -> String {
    format!("volume.{host}")
}

/// A backend's heartbeat: its `cinder-volume` service and its capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendReport {
    /// `host@backend`.
    pub host: String,
    pub volume_backend_name: String,
    pub availability_zone: String,
    pub total_capacity_gb: f64,
    pub free_capacity_gb: f64,
    pub driver: String,
    pub version: String,
}

/// Where a new volume's data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VolumeSource {
    Blank,
    Snapshot {
        snapshot_id: String,
    },
    Volume {
        volume_id: String,
    },
    /// The image's data at `file_url` (the image service's
    /// `/v2/images/{id}/file`), read with the user's `token`.
    Image {
        image_id: String,
        file_url: String,
        token: String,
        disk_format: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateVolume {
    pub volume_id: String,
    pub size_gb: u64,
    pub source: VolumeSource,
    /// The API request that asked, echoed in the `volume_update` (for the
    /// user message of a failure).
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRef {
    pub volume_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteVolume {
    pub volume_id: String,
    /// Snapshots to delete before the volume (`cascade`).
    #[serde(default)]
    pub snapshots: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtendVolume {
    pub volume_id: String,
    pub new_size_gb: u64,
    /// The status after a successful extend: `available`, or `in-use` for
    /// an attached volume (3.42); `available` when absent.
    #[serde(default)]
    pub done_status: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub snapshot_id: String,
    pub volume_id: String,
}

/// The hypervisor host that wants a volume, as os-brick describes it
/// (`host`, `ip`, `initiator`, `multipath`, `platform`, `os_type` …): the
/// host is what a driver decides on; the rest is kept for drivers that
/// need it (an iSCSI driver would read `initiator`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    pub host: String,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitializeConnection {
    pub volume_id: String,
    pub connector: Connector,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminateConnection {
    pub volume_id: String,
    pub connector: Connector,
}

/// How long the API waits for an agent's `initialize_connection` /
/// `terminate_connection` (Cinder's `rpc_response_timeout` is 60 s; an
/// export is a local operation here, so a stuck agent answers sooner).
pub const CONNECTION_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How a hypervisor reaches a volume (Cinder's `connection_info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// `file` for the file driver (`iscsi`, `rbd`… for others).
    pub driver_volume_type: String,
    pub data: BTreeMap<String, serde_json::Value>,
}

/// The end of an operation on a volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeUpdate {
    pub volume_id: String,
    pub host: String,
    /// `available`, `error`, `error_deleting`, `error_extending` or
    /// `deleted` (the row goes away).
    pub status: String,
    /// The new size after an extend.
    #[serde(default)]
    pub size_gb: Option<u64>,
    /// Set when the data came from an image.
    #[serde(default)]
    pub bootable: Option<bool>,
    /// Why it failed, for the log and the volume's record.
    #[serde(default)]
    pub reason: Option<String>,
    /// The request id of the operation's API request, when it had one.
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotUpdate {
    pub snapshot_id: String,
    pub host: String,
    /// `available`, `error`, `error_deleting` or `deleted`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostQuery {
    pub host: String,
}

/// A volume or snapshot as the controller has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub volume_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostRecords {
    pub volumes: Vec<Record>,
    pub snapshots: Vec<Record>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_wire_shape() {
        let m: CreateVolume =
            serde_json::from_str(r#"{"volume_id":"v","size_gb":1,"source":{"kind":"snapshot","snapshot_id":"s"}}"#)
                .unwrap();
        assert_eq!(
            m.source,
            VolumeSource::Snapshot {
                snapshot_id: "s".into()
            }
        );
        let u: VolumeUpdate =
            serde_json::from_str(r#"{"volume_id":"v","host":"h@file","status":"available"}"#).unwrap();
        assert_eq!(u.size_gb, None);
        let c: InitializeConnection =
            serde_json::from_str(r#"{"volume_id":"v","connector":{"host":"cmp1","ip":"10.0.0.2","multipath":false}}"#)
                .unwrap();
        assert_eq!(c.connector.host, "cmp1");
        assert_eq!(c.connector.other["ip"], "10.0.0.2");
    }
}
