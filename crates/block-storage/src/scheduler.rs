//! The controller's end of the bus ([`crate::rpc::SCHEDULER_TOPIC`]): backend
//! heartbeats, the ends of the agents' operations, and the view an agent
//! reconciles with when it starts. (Placement itself is
//! [`crate::services::choose`].)

use bus::{Handler, RemoteError};
use serde_json::Value;

use crate::rpc::{BackendReport, HostQuery, HostRecords, Record, SnapshotUpdate, VolumeUpdate};
use crate::{BlockStorage, db};

pub(crate) struct SchedulerHandler(pub(crate) BlockStorage);

fn args<T: serde::de::DeserializeOwned>(method: &str, a: Value) -> Result<T, RemoteError> {
    serde_json::from_value(a).map_err(|e| RemoteError::new("InvalidArgs", format!("{method}: {e}")))
}

fn remote(e: crate::VolumeError) -> RemoteError {
    RemoteError::new("SchedulerError", e.to_string())
}

#[async_trait::async_trait]
impl Handler for SchedulerHandler {
    async fn handle(&self, method: &str, a: Value) -> Result<Value, RemoteError> {
        let s = &self.0;
        match method {
            "report_state" => {
                let r: BackendReport = args(method, a)?;
                s.record_report(&r).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "volume_update" => {
                let u: VolumeUpdate = args(method, a)?;
                s.volume_updated(&u).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "snapshot_update" => {
                let u: SnapshotUpdate = args(method, a)?;
                s.snapshot_updated(&u).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "volumes_on_host" => {
                let q: HostQuery = args(method, a)?;
                let records = s.records_on_host(&q.host).await.map_err(remote)?;
                serde_json::to_value(records).map_err(|e| RemoteError::new("InternalError", e.to_string()))
            }
            other => Err(RemoteError::new(
                "UnsupportedVersion",
                format!("the scheduler has no method {other}"),
            )),
        }
    }
}

impl BlockStorage {
    /// The volumes on `host` and their snapshots.
    pub async fn records_on_host(&self, host: &str) -> crate::Result<HostRecords> {
        let mut out = HostRecords::default();
        for v in db::volumes::on_host(&self.db, host).await? {
            for s in db::snapshots::of_volume(&self.db, &v.id).await? {
                out.snapshots.push(Record {
                    id: s.id,
                    status: s.status,
                    volume_id: Some(v.id.clone()),
                });
            }
            out.volumes.push(Record {
                id: v.id,
                status: v.status,
                volume_id: None,
            });
        }
        Ok(out)
    }
}
