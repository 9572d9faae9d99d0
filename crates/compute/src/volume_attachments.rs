//! Volumes attached to servers (Nova's `os-volume_attachments` and the
//! block device mappings behind them), with Cinder's legacy actions.
//!
//! Attach, as Nova's API does it: the server must be in a state that
//! allows it and have no task; the volume must exist and not be attached
//! to it already; the device is the one asked for (when free) or the next
//! free `/dev/vdX`; `os-reserve` (the volume is `attaching`, and a volume
//! that is not `available` is refused by Cinder: 400); the mapping is
//! recorded; the agent is cast `AttachVolume`, which connects, hot-plugs
//! and `os-attach`es (or rolls back and `os-unreserve`s) and says how it
//! went in a `volume_event`. The API answers at once, as Nova does: the
//! volume's status tells when the attach is done.
//!
//! Detach: the mapping must exist; `os-begin_detaching` (`detaching`);
//! the agent unplugs, `os-terminate_connection`s and `os-detach`es (or
//! `os-roll_detaching`s); its `volume_event` removes the mapping.
//!
//! Block storage is called as Nova calls Cinder: at the caller's project
//! endpoint (`/v3/{caller's project}`) with the caller's token, so an
//! admin acting on another project's server reaches its volumes as an
//! admin of block storage does.
//!
//! A deleted server's volumes are detached in Cinder when the delete ends
//! (and deleted when `delete_on_termination`), with the token of the user
//! who deleted it, or the service's own when that is not known (a
//! controller restarted since, a reclaim of a soft-deleted server; then at
//! the service project's endpoint, as an admin of block storage).
//!
//! Where this cloud differs from Nova: a `shelved_offloaded` server (no
//! host to connect the volume on) cannot have volumes attached or
//! detached (409); without a block-storage endpoint an attach answers 400.

use compute_agent::rpc::{Action, VolumeEvent, vm_states};

use crate::Compute;
use crate::db;
use crate::db::block_devices::BlockDeviceRow;
use crate::db::servers::InstanceRow;
use crate::error::{ComputeError, Result};
use crate::servers::{Caller, invalid_state};
use crate::volume_client::{VolumeClient, connector};

/// A volume attached to a server.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeAttachment {
    /// The mapping's own id (`bdm_uuid` from 2.89).
    pub uuid: String,
    pub server_id: String,
    pub volume_id: String,
    pub device: String,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
}

impl From<BlockDeviceRow> for VolumeAttachment {
    fn from(r: BlockDeviceRow) -> Self {
        VolumeAttachment {
            uuid: r.uuid,
            server_id: r.instance_uuid,
            volume_id: r.volume_id,
            device: r.device_name,
            tag: r.tag,
            delete_on_termination: r.delete_on_termination,
        }
    }
}

/// An attach request, checked for shape by the API.
#[derive(Clone, Debug, Default)]
pub struct AttachVolume {
    pub volume_id: String,
    pub device: Option<String>,
    pub tag: Option<String>,
    pub delete_on_termination: bool,
}

/// The `vm_state`s in which Nova attaches and detaches volumes
/// (`check_instance_state` of `attach_volume`/`detach_volume`), without
/// `shelved_offloaded` (see the module's doc).
const VOLUME_VM_STATES: &[&str] = &[
    vm_states::ACTIVE,
    vm_states::PAUSED,
    vm_states::STOPPED,
    vm_states::RESIZED,
    vm_states::SOFT_DELETED,
    vm_states::SHELVED,
];

/// Nova's device name check (`BDM_DEVICE_NAME_REGEX`-like): `/dev/vdb`,
/// `/dev/sdc`, `/dev/xvdd`, `vde`.
pub fn valid_device_name(name: &str) -> bool {
    let rest = name.strip_prefix("/dev/").unwrap_or(name);
    let rest = rest.strip_prefix('x').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    // An optional bus letter and `d`, then the disk letters, then digits.
    let prefix: String = chars.by_ref().take(2).collect();
    if prefix.len() != 2 || !prefix.ends_with('d') || !prefix.chars().all(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let tail: String = chars.collect();
    let letters = tail.trim_end_matches(|c: char| c.is_ascii_digit());
    !letters.is_empty() && letters.chars().all(|c| c.is_ascii_lowercase()) && name.len() <= 64
}

/// The next free `/dev/vdX` after the root disk (`vda`), as Nova's
/// `get_next_device_name` counts: `vdb` … `vdz`, then `vdaa` ….
pub fn next_device_name(used: &[String]) -> String {
    let letters = |mut n: usize| {
        let mut s = Vec::new();
        loop {
            s.push((b'a' + (n % 26) as u8) as char);
            if n < 26 {
                break;
            }
            n = n / 26 - 1;
        }
        s.into_iter().rev().collect::<String>()
    };
    (1..)
        .map(|i| format!("/dev/vd{}", letters(i)))
        .find(|d| !used.contains(d))
        .unwrap_or_default()
}

fn check_state(row: &InstanceRow, action: &str) -> Result<()> {
    if !VOLUME_VM_STATES.contains(&row.vm_state.as_str()) {
        return Err(invalid_state(action, &row.uuid, "vm_state", Some(&row.vm_state)));
    }
    if let Some(task) = &row.task_state {
        return Err(invalid_state(action, &row.uuid, "task_state", Some(task)));
    }
    if row.host.is_none() {
        return Err(invalid_state(action, &row.uuid, "vm_state", Some(&row.vm_state)));
    }
    Ok(())
}

impl Compute {
    pub async fn list_volume_attachments(&self, instance_uuid: &str) -> Result<Vec<VolumeAttachment>> {
        Ok(db::block_devices::for_instance(&self.db, instance_uuid)
            .await?
            .into_iter()
            .map(VolumeAttachment::from)
            .collect())
    }

    pub async fn get_volume_attachment(&self, instance_uuid: &str, volume_id: &str) -> Result<VolumeAttachment> {
        db::block_devices::get(&self.db, instance_uuid, volume_id)
            .await?
            .map(VolumeAttachment::from)
            .ok_or_else(|| {
                ComputeError::not_found(format!(
                    "Instance {instance_uuid} is not attached to volume {volume_id}"
                ))
            })
    }

    /// Reserves the volume, records the mapping and casts the attach.
    pub async fn attach_volume(
        &self,
        caller: &Caller,
        row: &InstanceRow,
        req: AttachVolume,
    ) -> Result<VolumeAttachment> {
        self.check_locked(caller, row)?;
        check_state(row, "attach_volume")?;
        let endpoint = self.volume_endpoint(caller.project_id())?;
        let client = VolumeClient::new(endpoint.clone(), Some(caller.auth.token.clone()));
        let existing = db::block_devices::for_instance(&self.db, &row.uuid).await?;
        let volume = client.get(&req.volume_id).await?;
        if existing.iter().any(|b| b.volume_id == volume.id) {
            return Err(ComputeError::bad(format!(
                "Invalid volume: volume {} already attached",
                volume.id
            )));
        }
        let mut used: Vec<String> = existing.iter().map(|b| b.device_name.clone()).collect();
        used.push("/dev/vda".to_owned());
        let device = match req.device.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => {
                let d = if d.starts_with("/dev/") {
                    d.to_owned()
                } else {
                    format!("/dev/{d}")
                };
                if used.contains(&d) {
                    return Err(ComputeError::bad(format!("The supplied device path ({d}) is in use.")));
                }
                d
            }
            None => next_device_name(&used),
        };
        client.reserve(&volume.id).await?;
        let bdm = BlockDeviceRow {
            uuid: uuid::Uuid::new_v4().to_string(),
            instance_uuid: row.uuid.clone(),
            volume_id: volume.id.clone(),
            device_name: device.clone(),
            tag: req.tag.clone(),
            delete_on_termination: req.delete_on_termination,
            source_type: "volume".to_owned(),
            destination_type: "volume".to_owned(),
            created_at: db::now(),
        };
        if let Err(e) = db::block_devices::insert(&self.db, &bdm).await {
            let _ = client.unreserve(&volume.id).await;
            return Err(match e {
                ComputeError::Store(store::StoreError::Conflict(_)) => ComputeError::bad(format!(
                    "Invalid volume: volume {} already attached, or device {device} in use",
                    volume.id
                )),
                e => e,
            });
        }
        let cast = async {
            self.record_action(caller, &row.uuid, "attach_volume").await?;
            let action = Action::AttachVolume {
                volume_id: volume.id.clone(),
                connection_info: serde_json::Value::Null,
                mountpoint: device.clone(),
                volume_api: Some(endpoint.clone()),
            };
            self.cast_action(caller, row, action).await
        }
        .await;
        if let Err(e) = cast {
            let _ = db::block_devices::delete(&self.db, &row.uuid, &volume.id).await;
            let _ = client.unreserve(&volume.id).await;
            return Err(e);
        }
        tracing::info!(instance = %row.uuid, volume = %volume.id, device = %device, request_id = %caller.request_id,
            "volume reserved; attach cast to the host");
        Ok(bdm.into())
    }

    /// Marks the volume detaching and casts the detach.
    pub async fn detach_volume(&self, caller: &Caller, row: &InstanceRow, volume_id: &str) -> Result<()> {
        self.check_locked(caller, row)?;
        check_state(row, "detach_volume")?;
        if uuid::Uuid::parse_str(volume_id).is_err() {
            return Err(ComputeError::not_found(format!(
                "Volume {volume_id} could not be found."
            )));
        }
        let endpoint = self.volume_endpoint(caller.project_id())?;
        let client = VolumeClient::new(endpoint.clone(), Some(caller.auth.token.clone()));
        let volume = client.get(volume_id).await?;
        let bdm = self.get_volume_attachment(&row.uuid, &volume.id).await?;
        client.begin_detaching(&bdm.volume_id).await?;
        let cast = async {
            self.record_action(caller, &row.uuid, "detach_volume").await?;
            let action = Action::DetachVolume {
                volume_id: bdm.volume_id.clone(),
                mountpoint: bdm.device.clone(),
                volume_api: Some(endpoint.clone()),
            };
            self.cast_action(caller, row, action).await
        }
        .await;
        if let Err(e) = cast {
            let _ = client.roll_detaching(&bdm.volume_id).await;
            return Err(e);
        }
        tracing::info!(instance = %row.uuid, volume = %volume_id, request_id = %caller.request_id,
            "volume detaching; detach cast to the host");
        Ok(())
    }

    /// `PUT` of an attachment: with the same volume, a change of
    /// `delete_on_termination` (2.85); with another, Nova's swap, which
    /// this cloud's drivers cannot do (409) — after Nova's checks: the
    /// attached volume must exist (404), the new one too (400, it is named
    /// in the body).
    pub async fn update_volume_attachment(
        &self,
        caller: &Caller,
        row: &InstanceRow,
        volume_id: &str,
        new_volume_id: &str,
        delete_on_termination: Option<bool>,
    ) -> Result<()> {
        let client = self.volume_client(caller.project_id(), Some(caller.auth.token.clone()))?;
        if uuid::Uuid::parse_str(volume_id).is_err() {
            return Err(ComputeError::not_found(format!(
                "Volume {volume_id} could not be found."
            )));
        }
        client.get(volume_id).await?;
        if new_volume_id != volume_id {
            match client.get(new_volume_id).await {
                Ok(_) => {}
                Err(crate::volume_client::VolumeError::NotFound(m)) => return Err(ComputeError::bad(m)),
                Err(e) => return Err(e.into()),
            }
            self.check_locked(caller, row)?;
            check_state(row, "swap_volume")?;
            self.get_volume_attachment(&row.uuid, volume_id).await?;
            return Err(ComputeError::conflict(
                "Swapping the volume of an attachment is not supported by this cloud's hypervisor drivers.",
            ));
        }
        self.check_locked(caller, row)?;
        self.get_volume_attachment(&row.uuid, volume_id).await?;
        if let Some(value) = delete_on_termination {
            db::block_devices::set_delete_on_termination(&self.db, &row.uuid, volume_id, value).await?;
        }
        Ok(())
    }

    /// The agent's word on an attach or detach: a failed attach and a
    /// done detach remove the mapping.
    pub(crate) async fn handle_volume_event(&self, e: VolumeEvent) -> Result<()> {
        let drop_mapping = match (e.operation.as_str(), e.ok) {
            ("attach", false) | ("detach", true) => true,
            ("attach", true) | ("detach", false) => false,
            (other, _) => {
                tracing::warn!(operation = other, "volume_event of an unknown operation ignored");
                return Ok(());
            }
        };
        tracing::info!(instance = %e.instance_uuid, volume = %e.volume_id, host = %e.host, operation = %e.operation,
            ok = e.ok, reason = ?e.reason, "volume event");
        if drop_mapping {
            db::block_devices::delete(&self.db, &e.instance_uuid, &e.volume_id).await?;
        }
        Ok(())
    }

    /// `os-extended-volumes:volumes_attached` of a server view.
    pub async fn volumes_attached(&self, instance_uuid: &str) -> Result<Vec<VolumeAttachment>> {
        self.list_volume_attachments(instance_uuid).await
    }

    /// A client acting as this service (its own token, at its project's
    /// endpoint).
    async fn service_volume_client(&self) -> Result<VolumeClient> {
        let creds = &self.config.service_credentials;
        let (token, _) = crate::placement_client::service_token(&reqwest::Client::new(), creds).await?;
        let project = crate::volume_client::token_project(&creds.auth_url, &token).await?;
        self.volume_client(&project, Some(token))
    }

    /// Detaches (and deletes, when flagged) the volumes of a server whose
    /// delete ends, then forgets its mappings. Failures are logged: the
    /// server goes anyway, as in Nova.
    pub(crate) async fn release_volumes(&self, instance_uuid: &str) {
        let bdms = match db::block_devices::for_instance(&self.db, instance_uuid).await {
            Ok(b) if b.is_empty() => return,
            Ok(b) => b,
            Err(e) => {
                tracing::error!(instance = %instance_uuid, error = %e, "cannot read the volumes of a deleted server");
                return;
            }
        };
        let row = db::servers::get(&self.db, instance_uuid).await.ok().flatten();
        let host = row.as_ref().and_then(|r| r.host.clone()).unwrap_or_default();
        // As Nova, the volumes are reached through the deleting caller's
        // project endpoint, with its token; without one (a reclaim, a
        // controller restarted since the delete), as the service.
        let ctx = self
            .build_context(instance_uuid)
            .filter(|c| c.token.as_deref().is_some_and(|t| !t.is_empty()));
        let client = match ctx {
            _ if self.config.volume_url.is_none() => {
                tracing::warn!(instance = %instance_uuid, "no block storage configured: forgetting the server's volume mappings");
                None
            }
            Some(c) => self.volume_client(&c.project_id, c.token).ok(),
            None => match self.service_volume_client().await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(instance = %instance_uuid, error = %e,
                        "no service token to release the volumes of a deleted server; they stay in-use");
                    None
                }
            },
        };
        for b in bdms {
            if let Some(client) = &client {
                let detached = async {
                    client.terminate_connection(&b.volume_id, &connector(&host)).await?;
                    client.detach(&b.volume_id).await?;
                    if b.delete_on_termination {
                        client.delete(&b.volume_id).await?;
                    }
                    Ok::<(), crate::volume_client::VolumeError>(())
                }
                .await;
                match detached {
                    Ok(()) => tracing::info!(instance = %instance_uuid, volume = %b.volume_id,
                        deleted = b.delete_on_termination, "volume of the deleted server released"),
                    Err(e) => tracing::error!(instance = %instance_uuid, volume = %b.volume_id, error = %e,
                        "cannot release a volume of the deleted server"),
                }
            }
            if let Err(e) = db::block_devices::delete(&self.db, instance_uuid, &b.volume_id).await {
                tracing::error!(instance = %instance_uuid, volume = %b.volume_id, error = %e, "cannot forget the mapping");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        assert_eq!(next_device_name(&["/dev/vda".into()]), "/dev/vdb");
        assert_eq!(
            next_device_name(&["/dev/vda".into(), "/dev/vdb".into(), "/dev/vdd".into()]),
            "/dev/vdc"
        );
        let mut used: Vec<String> = (b'a'..=b'z').map(|c| format!("/dev/vd{}", c as char)).collect();
        assert_eq!(next_device_name(&used), "/dev/vdaa");
        used.push("/dev/vdaa".into());
        assert_eq!(next_device_name(&used), "/dev/vdab");
        for ok in ["/dev/vdb", "/dev/sdc", "/dev/xvdd", "vde", "/dev/vdb1"] {
            assert!(valid_device_name(ok), "{ok}");
        }
        for bad in ["/dev/", "/dev/vd", "/dev/../etc", "/dev/VDB", "foo bar", "/dev/vd1"] {
            assert!(!valid_device_name(bad), "{bad}");
        }
    }
}
