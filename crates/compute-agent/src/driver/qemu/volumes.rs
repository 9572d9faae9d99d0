//! Volumes of a QEMU guest: hot-plug over QMP and the command line of
//! every (re)start.
//!
//! A volume comes as Cinder's `connection_info` of type `file`: an
//! absolute path and its format (`raw` or `qcow2`). It becomes two block
//! nodes (the `file` protocol node and the format node on it, named after
//! the volume) and a `virtio-blk-pci` device whose id is `vol-<volume id>`
//! and whose serial is the volume id cut to 20 characters, as Nova's
//! libvirt driver sets it: the guest finds it as
//! `/dev/disk/by-id/virtio-<serial>`.
//!
//! Attach: `blockdev-add` ×2, `device_add`; any failure removes what was
//! added. Detach: `device_del`, wait (bounded) for the guest to let go of
//! the device (`DEVICE_DELETED`), `blockdev-del` ×2. A guest without a
//! QEMU process (shut off) only has its record changed. The record
//! (`instance.json`) keeps the attached volumes, and [`command_line`]
//! puts them on QEMU's command line, so they survive stop/start, hard
//! reboot, resize, rebuild and the agent's restart.
//!
//! Extend: `block_resize` of the format node to the volume's new size,
//! once block storage has grown the file.
//!
//! The mountpoint (`/dev/vdb`) is the controller's name for the disk;
//! like Nova's libvirt driver, the guest's own naming decides which
//! `/dev/vdX` it really gets.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{QemuDriver, failed};
use crate::driver::DriverError;

/// How long the guest has to release an unplugged disk.
const UNPLUG_TIMEOUT: Duration = Duration::from_secs(30);

/// An attached volume, as the instance's record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachedVolume {
    pub volume_id: String,
    pub mountpoint: String,
    pub path: PathBuf,
    /// `raw` or `qcow2`.
    pub format: String,
    pub read_only: bool,
}

impl AttachedVolume {
    /// From Cinder's `connection_info` (`driver_volume_type: file`).
    pub fn from_connection_info(volume_id: &str, mountpoint: &str, info: &Value) -> Result<Self, DriverError> {
        let kind = info["driver_volume_type"].as_str().unwrap_or_default();
        if kind != "file" {
            return Err(failed(format!(
                "volume {volume_id}: the qemu driver attaches volumes of type file, not {kind:?}"
            )));
        }
        let data = &info["data"];
        let path = PathBuf::from(data["path"].as_str().unwrap_or_default());
        if !path.is_absolute() {
            return Err(failed(format!(
                "volume {volume_id}: connection_info has no absolute path"
            )));
        }
        let format = data["format"].as_str().unwrap_or("raw");
        if !matches!(format, "raw" | "qcow2") {
            return Err(failed(format!(
                "volume {volume_id}: format {format:?} is neither raw nor qcow2"
            )));
        }
        if uuid::Uuid::parse_str(volume_id).is_err()
            && volume_id.chars().any(|c| !c.is_ascii_alphanumeric() && c != '-')
        {
            return Err(failed(format!("{volume_id:?} is not a volume id")));
        }
        Ok(AttachedVolume {
            volume_id: volume_id.to_owned(),
            mountpoint: mountpoint.to_owned(),
            path,
            format: format.to_owned(),
            read_only: data["access_mode"].as_str() == Some("ro"),
        })
    }

    fn short(&self) -> String {
        self.volume_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(24)
            .collect()
    }

    /// The protocol node (QEMU node names: at most 31 characters).
    fn file_node(&self) -> String {
        format!("vf-{}", self.short())
    }

    fn format_node(&self) -> String {
        format!("vd-{}", self.short())
    }

    fn device_id(&self) -> String {
        format!("vol-{}", self.volume_id)
    }

    fn serial(&self) -> String {
        self.volume_id.chars().take(20).collect()
    }

    fn file_blockdev(&self) -> Value {
        json!({
            "driver": "file",
            "node-name": self.file_node(),
            "filename": self.path.to_string_lossy(),
            "read-only": self.read_only,
        })
    }

    fn format_blockdev(&self) -> Value {
        json!({
            "driver": self.format,
            "node-name": self.format_node(),
            "file": self.file_node(),
            "read-only": self.read_only,
        })
    }

    fn device(&self) -> Value {
        json!({
            "driver": "virtio-blk-pci",
            "id": self.device_id(),
            "drive": self.format_node(),
            "serial": self.serial(),
        })
    }
}

/// QEMU arguments for the volumes of a guest that starts (JSON syntax, so
/// no path needs escaping).
pub fn command_line(volumes: &[AttachedVolume]) -> Vec<String> {
    let mut args = Vec::new();
    for v in volumes {
        args.push("-blockdev".to_owned());
        args.push(v.file_blockdev().to_string());
        args.push("-blockdev".to_owned());
        args.push(v.format_blockdev().to_string());
        args.push("-device".to_owned());
        args.push(v.device().to_string());
    }
    args
}

impl QemuDriver {
    /// Attaches the volume (hot-plugged when the guest runs) and records it.
    pub(super) async fn plug_volume(
        &self,
        uuid: &str,
        volume_id: &str,
        connection_info: &Value,
        mountpoint: &str,
    ) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let mut record = self.load(uuid)?;
        if record.volumes.iter().any(|v| v.volume_id == volume_id) {
            return Err(failed(format!("volume {volume_id} is already attached to {uuid}")));
        }
        if record.volumes.iter().any(|v| v.mountpoint == mountpoint) {
            return Err(failed(format!("{mountpoint} of {uuid} is in use")));
        }
        let volume = AttachedVolume::from_connection_info(volume_id, mountpoint, connection_info)?;
        if !volume.path.exists() {
            return Err(failed(format!(
                "volume {volume_id}: {} does not exist on this host",
                volume.path.display()
            )));
        }
        if self.pid(uuid).is_some() {
            let mut q = self.qmp(uuid).await?;
            q.execute("blockdev-add", Some(volume.file_blockdev()))
                .await
                .map_err(failed)?;
            if let Err(e) = q.execute("blockdev-add", Some(volume.format_blockdev())).await {
                let _ = q
                    .execute("blockdev-del", Some(json!({"node-name": volume.file_node()})))
                    .await;
                return Err(failed(e));
            }
            if let Err(e) = q.execute("device_add", Some(volume.device())).await {
                for node in [volume.format_node(), volume.file_node()] {
                    let _ = q.execute("blockdev-del", Some(json!({"node-name": node}))).await;
                }
                return Err(failed(e));
            }
            tracing::info!(instance = %uuid, volume = %volume_id, path = %volume.path.display(), "volume hot-plugged");
        } else {
            tracing::info!(instance = %uuid, volume = %volume_id, "guest not running; volume recorded for its next start");
        }
        record.volumes.push(volume);
        self.save(&record)
    }

    /// Detaches the volume (unplugged from a running guest first) and
    /// forgets it.
    pub(super) async fn unplug_volume(&self, uuid: &str, volume_id: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let mut record = self.load(uuid)?;
        let Some(index) = record.volumes.iter().position(|v| v.volume_id == volume_id) else {
            return Err(failed(format!("volume {volume_id} is not attached to {uuid}")));
        };
        let volume = record.volumes[index].clone();
        if self.pid(uuid).is_some() {
            let mut q = self.qmp(uuid).await?;
            let id = volume.device_id();
            match q.execute("device_del", Some(json!({"id": id}))).await {
                Ok(_) => {
                    let gone = q
                        .wait_event(
                            "DEVICE_DELETED",
                            |e| e["data"]["device"].as_str() == Some(id.as_str()),
                            UNPLUG_TIMEOUT,
                        )
                        .await
                        .map_err(failed)?;
                    if !gone {
                        return Err(failed(format!(
                            "the guest did not release volume {volume_id} within {UNPLUG_TIMEOUT:?}"
                        )));
                    }
                }
                // No such device: an earlier unplug got this far.
                Err(super::qmp::QmpError::Command { class, .. }) if class == "DeviceNotFound" => {}
                Err(e) => return Err(failed(e)),
            }
            for node in [volume.format_node(), volume.file_node()] {
                if let Err(e) = q.execute("blockdev-del", Some(json!({"node-name": node}))).await {
                    tracing::warn!(instance = %uuid, volume = %volume_id, error = %e, "blockdev-del failed");
                }
            }
            tracing::info!(instance = %uuid, volume = %volume_id, "volume unplugged");
        }
        record.volumes.remove(index);
        self.save(&record)
    }
}

impl QemuDriver {
    /// Grows the guest's disk of an attached volume to `new_size` bytes
    /// (libvirt's `virDomainBlockResize`, which Nova's `extend_volume`
    /// calls): `block_resize` on the volume's format node. Block storage
    /// has grown the file already; a raw node then only takes the new
    /// size, a qcow2 one grows its virtual size. The guest's virtio-blk
    /// device announces the change, and the guest sees it at once.
    pub(super) async fn resize_volume(&self, uuid: &str, volume_id: &str, new_size: u64) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        let Some(volume) = record.volumes.iter().find(|v| v.volume_id == volume_id) else {
            return Err(failed(format!("volume {volume_id} is not attached to {uuid}")));
        };
        if self.pid(uuid).is_none() {
            tracing::info!(instance = %uuid, volume = %volume_id, "guest not running; its next start sees the new size");
            return Ok(());
        }
        let mut q = self.qmp(uuid).await?;
        q.execute(
            "block_resize",
            Some(json!({"node-name": volume.format_node(), "size": new_size})),
        )
        .await
        .map_err(failed)?;
        tracing::info!(instance = %uuid, volume = %volume_id, bytes = new_size, "guest disk resized");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_info_becomes_nodes_and_a_device() {
        let id = "0f6b2a5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
        let info = json!({"driver_volume_type": "file",
            "data": {"path": "/var/lib/v/volume-1", "format": "qcow2", "volume_id": id, "access_mode": "rw"}});
        let v = AttachedVolume::from_connection_info(id, "/dev/vdb", &info).unwrap();
        assert_eq!(v.format, "qcow2");
        assert!(!v.read_only);
        assert!(v.file_node().len() <= 31 && v.format_node().len() <= 31);
        assert_ne!(v.file_node(), v.format_node());
        assert_eq!(v.device()["serial"], "0f6b2a5e-1c2d-4e5f-8");
        let args = command_line(&[v]);
        assert_eq!(args.len(), 6);
        let dev: Value = serde_json::from_str(&args[5]).unwrap();
        assert_eq!(dev["id"], format!("vol-{id}"));

        for bad in [
            json!({"driver_volume_type": "iscsi", "data": {}}),
            json!({"driver_volume_type": "file", "data": {"path": "relative"}}),
            json!({"driver_volume_type": "file", "data": {"path": "/x", "format": "vmdk"}}),
        ] {
            assert!(AttachedVolume::from_connection_info(id, "/dev/vdb", &bad).is_err());
        }
    }
}
