//! Rescue of a QEMU guest (Nova's `rescue` / `unrescue`).
//!
//! A rescued guest boots `disk.rescue`, a fresh qcow2 overlay of the
//! rescue image (the image's own size), as its first disk, with the
//! instance's `disk` second, so a user can mount and repair it; the config
//! drive, volumes and NICs follow as usual. A rescue image with
//! `kernel_id` / `ramdisk_id` boots that kernel, as a spawn would. The
//! record keeps the rescue ([`RescueBoot`]), so every later launch (and
//! an agent started again, which adopts the running QEMU) sees it.
//!
//! The overlay is made before the guest is stopped, so a rescue image
//! that cannot be fetched or is refused leaves the guest untouched. When
//! QEMU will not start in rescue mode, the rescue is undone and the guest
//! stays off (the agent errors the instance, as Nova does).
//!
//! Unrescue stops QEMU hard (Nova's libvirt driver destroys the rescue
//! domain), drops the rescue and boots the normal command line. A start
//! after a stop, a reboot or a rebuild also drops the rescue: the
//! controller then shows the guest `active` (or stopped) again, and Nova's
//! libvirt driver likewise regenerates the normal domain on a power-on.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{QemuDriver, Record, disk, io};
use crate::driver::DriverError;
use crate::rpc::{ImageSpec, InstanceSpec, RequestContext};

/// The rescue disk in the instance's directory.
const RESCUE_DISK: &str = "disk.rescue";

/// What boots while the instance is rescued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescueBoot {
    pub image_id: String,
    pub kernel: Option<PathBuf>,
    pub ramdisk: Option<PathBuf>,
    pub cmdline: Option<String>,
}

/// QEMU's `-drive` arguments for the disks the guest boots from: the root
/// disk alone, or the rescue disk then the root disk.
pub(super) fn root_drives(record: &Record, dir: &Path) -> Vec<String> {
    let drive = |file: &str| format!("file={},format=qcow2,if=virtio,discard=unmap", dir.join(file).display());
    let mut args = Vec::new();
    if record.rescue.is_some() {
        args.extend(["-drive".to_owned(), drive(RESCUE_DISK)]);
    }
    args.extend(["-drive".to_owned(), drive("disk")]);
    args
}

/// The kernel, ramdisk and command line of a direct kernel boot: the
/// rescue image's while rescued, the instance's otherwise.
pub(super) fn boot_files(record: &Record) -> (Option<&Path>, Option<&Path>, Option<&str>) {
    match &record.rescue {
        Some(r) => (r.kernel.as_deref(), r.ramdisk.as_deref(), r.cmdline.as_deref()),
        None => (
            record.kernel.as_deref(),
            record.ramdisk.as_deref(),
            record.cmdline.as_deref(),
        ),
    }
}

impl QemuDriver {
    pub(super) async fn rescue_instance(
        &self,
        ctx: &RequestContext,
        spec: &InstanceSpec,
        image: &ImageSpec,
    ) -> Result<(), DriverError> {
        let uuid = spec.uuid.as_str();
        let _guard = self.locks.lock(uuid).await;
        let mut record = self.load(uuid)?;
        let dir = self.dir(uuid);
        let boot = self.fetch(ctx, image).await?;
        let part = dir.join(format!("{RESCUE_DISK}.part"));
        let _ = std::fs::remove_file(&part);
        disk::create_overlay(&boot.base, &part, 0).await?;

        self.power_down(&record).await;
        let _ = std::fs::remove_file(dir.join("suspend.state"));
        let rescue_disk = dir.join(RESCUE_DISK);
        if let Err(e) = std::fs::rename(&part, &rescue_disk) {
            let _ = std::fs::remove_file(&part);
            return Err(io("cannot keep", &part, e));
        }
        record.rescue = Some(RescueBoot {
            image_id: image.id.clone(),
            kernel: boot.kernel,
            ramdisk: boot.ramdisk,
            cmdline: boot.cmdline,
        });
        self.save(&record)?;
        tracing::info!(instance = %uuid, rescue_image = %image.id, "booting the rescue image");
        if let Err(e) = self.launch(&record, None).await {
            tracing::warn!(instance = %uuid, error = %e, "the rescue boot failed; the guest stays off");
            self.end_rescue(record)?;
            return Err(e);
        }
        Ok(())
    }

    pub(super) async fn unrescue_instance(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        if record.rescue.is_none() {
            let state = self.power_state(uuid).await;
            return Err(Self::invalid(uuid, state, "unrescue"));
        }
        self.kill(&record).await;
        let record = self.end_rescue(record)?;
        tracing::info!(instance = %uuid, "rescue ended; booting the instance's own disk");
        self.launch(&record, None).await
    }

    /// Drops the rescue from a guest that is not running (its record, then
    /// its disk); returns the record to launch.
    pub(super) fn end_rescue(&self, mut record: Record) -> Result<Record, DriverError> {
        if record.rescue.take().is_some() {
            self.save(&record)?;
        }
        let _ = std::fs::remove_file(self.dir(&record.spec.uuid).join(RESCUE_DISK));
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rescued_guest_boots_the_rescue_disk_first() {
        let text = serde_json::json!({
            "spec": {
                "uuid": "u", "name": "n", "display_name": "d", "hostname": "h",
                "project_id": "p", "user_id": "u",
                "flavor": {"id": "f", "name": "f", "vcpus": 1, "memory_mb": 64,
                           "root_gb": 1, "ephemeral_gb": 0, "swap_mb": 0},
                "image": null, "user_data": null, "key_name": null, "key_data": null,
                "availability_zone": null
            },
            "flavor": {"id": "f", "name": "f", "vcpus": 1, "memory_mb": 64,
                       "root_gb": 1, "ephemeral_gb": 0, "swap_mb": 0},
            "old_flavor": null,
            "kernel": "/base/k.boot", "ramdisk": null, "cmdline": "console=ttyS0",
            "config_drive": false
        });
        // A record written before rescues existed reads as not rescued.
        let mut record: Record = serde_json::from_value(text).unwrap();
        let dir = Path::new("/i/u");
        assert_eq!(
            root_drives(&record, dir),
            ["-drive", "file=/i/u/disk,format=qcow2,if=virtio,discard=unmap"]
        );
        assert_eq!(
            boot_files(&record),
            (Some(Path::new("/base/k.boot")), None, Some("console=ttyS0"))
        );

        record.rescue = Some(RescueBoot {
            image_id: "r".to_owned(),
            kernel: None,
            ramdisk: None,
            cmdline: None,
        });
        assert_eq!(
            root_drives(&record, dir),
            [
                "-drive",
                "file=/i/u/disk.rescue,format=qcow2,if=virtio,discard=unmap",
                "-drive",
                "file=/i/u/disk,format=qcow2,if=virtio,discard=unmap"
            ]
        );
        assert_eq!(boot_files(&record), (None, None, None));
        assert!(record.image_ids().contains(&"r".to_owned()));
    }
}
