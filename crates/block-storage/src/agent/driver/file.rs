//! The file driver: each volume is a raw file `volume-<id>` under
//! `<root>/volumes`, thin (a sparse file: blocks are allocated when the
//! guest writes them), and each snapshot a raw file `snapshot-<id>` under
//! `<root>/snapshots`.
//!
//! Why snapshots are copies and not qcow2 overlays: an overlay (Cinder's
//! NFS/remotefs way) turns the volume into a chain whose active file
//! changes at every snapshot, makes deleting a snapshot a block-commit into
//! its neighbour, and ties the snapshot's life to the volume's files.
//! A copy is independent from the first byte: writing to, extending or
//! deleting the volume never touches it. The copy is
//! `cp --reflink=auto --sparse=always`: on a filesystem with reflinks
//! (XFS, btrfs) it is an instant copy-on-write clone; elsewhere it copies
//! only the allocated blocks, so its cost is the data written, not the
//! volume's size.
//!
//! Every create writes `<name>.part` and renames it into place at the end,
//! so a file with the final name is always complete (the contract's "all
//! or nothing"), and a crash leaves at most a `.part`, which
//! [`FileDriver::open`] removes. Images are converted with `qemu-img`
//! with an explicit `-f` always, after `qemu-img info` has shown that they
//! refer to no other file.
//!
//! Exports: a host that sees this driver's files (this machine, under any
//! of the names in [`LocalHosts`]) gets the file's path, `driver_volume_type`
//! `file`, and opens it itself; there is nothing to set up or tear down. A
//! host on another machine would need a `qemu-nbd` export of the file (over
//! TCP, QEMU attaching `nbd://`); that is not built, and such a connector
//! is refused with that reason rather than handed a path it cannot open.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::{Capacity, Driver, DriverError, GIB, Inventory};
use crate::rpc::{ConnectionInfo, Connector};

/// The connector hosts that share this machine's files.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalHosts {
    /// Every host: all roles run on one machine (`oxistack up`, tests).
    Any,
    /// These host names (the machine's own name by default, as Nova's
    /// `[DEFAULT] host` defaults to it).
    Named(Vec<String>),
}

impl LocalHosts {
    fn contains(&self, host: &str) -> bool {
        match self {
            LocalHosts::Any => true,
            LocalHosts::Named(names) => names.iter().any(|n| n == host),
        }
    }
}

/// The machine's host name (`/proc/sys/kernel/hostname`).
fn machine_hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

pub struct FileDriver {
    volumes: PathBuf,
    snapshots: PathBuf,
    scratch: PathBuf,
    local_hosts: LocalHosts,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> DriverError {
    DriverError::Failed(format!("{what} {}: {e}", path.display()))
}

/// Ids become file names: only uuid characters.
fn check_id(id: &str) -> Result<(), DriverError> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(DriverError::Invalid(format!("invalid id {id:?}")));
    }
    Ok(())
}

fn part(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Glance's `disk_format` → qemu-img's format name.
fn qemu_format(disk_format: &str) -> Result<&'static str, DriverError> {
    Ok(match disk_format {
        "raw" | "iso" | "ami" => "raw",
        "qcow2" => "qcow2",
        "vmdk" => "vmdk",
        "vdi" => "vdi",
        "vhd" => "vpc",
        "vhdx" => "vhdx",
        other => {
            return Err(DriverError::Invalid(format!(
                "images of disk format {other} cannot be written to a volume"
            )));
        }
    })
}

async fn run(cmd: &mut Command, what: &str) -> Result<Vec<u8>, DriverError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| DriverError::Failed(format!("{what}: {e}")))?;
    if !out.status.success() {
        return Err(DriverError::Failed(format!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

impl FileDriver {
    /// Opens (creating) the driver's directories under `root` and removes
    /// the `.part` files an interrupted create left.
    pub fn open(root: impl Into<PathBuf>) -> Result<FileDriver, DriverError> {
        let root = root.into();
        let d = FileDriver {
            volumes: root.join("volumes"),
            snapshots: root.join("snapshots"),
            scratch: root.join("tmp"),
            local_hosts: LocalHosts::Named(machine_hostname().into_iter().collect()),
        };
        for dir in [&d.volumes, &d.snapshots, &d.scratch] {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
            for entry in std::fs::read_dir(dir).map_err(|e| io("cannot read", dir, e))?.flatten() {
                let p = entry.path();
                if dir == &d.scratch || p.extension().is_some_and(|x| x == "part") {
                    tracing::info!(path = %p.display(), "removing what an interrupted operation left");
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        Ok(d)
    }

    /// Which connector hosts get a local path (the machine's name only,
    /// unless told otherwise).
    pub fn with_local_hosts(mut self, hosts: LocalHosts) -> FileDriver {
        self.local_hosts = hosts;
        self
    }

    /// Adds a name under which this machine's hosts connect (the node name
    /// the compute agent of this machine uses).
    pub fn also_local(mut self, host: &str) -> FileDriver {
        if let LocalHosts::Named(names) = &mut self.local_hosts
            && !names.iter().any(|n| n == host)
        {
            names.push(host.to_owned());
        }
        self
    }

    pub fn volume_path(&self, id: &str) -> PathBuf {
        self.volumes.join(format!("volume-{id}"))
    }

    pub fn snapshot_path(&self, id: &str) -> PathBuf {
        self.snapshots.join(format!("snapshot-{id}"))
    }

    fn free_name(&self, path: &Path) -> Result<(), DriverError> {
        if path.exists() {
            return Err(DriverError::AlreadyExists(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ));
        }
        Ok(())
    }

    /// Sizes `tmp` to `size_gb` (never shrinking) and renames it to `dst`;
    /// removes `tmp` on failure.
    async fn finish(&self, tmp: &Path, dst: &Path, size_gb: Option<u64>) -> Result<(), DriverError> {
        let result = async {
            if let Some(size) = size_gb {
                let f = tokio::fs::OpenOptions::new()
                    .write(true)
                    .open(tmp)
                    .await
                    .map_err(|e| io("cannot open", tmp, e))?;
                let len = f.metadata().await.map_err(|e| io("cannot stat", tmp, e))?.len();
                if len > size * GIB {
                    return Err(DriverError::Invalid(format!(
                        "the data ({len} bytes) does not fit a volume of {size} GiB"
                    )));
                }
                f.set_len(size * GIB).await.map_err(|e| io("cannot size", tmp, e))?;
                f.sync_all().await.map_err(|e| io("cannot sync", tmp, e))?;
            }
            tokio::fs::rename(tmp, dst)
                .await
                .map_err(|e| io("cannot rename", tmp, e))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(tmp).await;
        }
        result
    }

    /// A sparse (and, where the filesystem can, copy-on-write) copy.
    async fn copy(&self, src: &Path, dst: &Path, size_gb: Option<u64>) -> Result<(), DriverError> {
        if !src.exists() {
            return Err(DriverError::NotFound(
                src.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ));
        }
        self.free_name(dst)?;
        let tmp = part(dst);
        let copied = run(
            Command::new("cp")
                .arg("--reflink=auto")
                .arg("--sparse=always")
                .arg("--")
                .arg(src)
                .arg(&tmp),
            "cp",
        )
        .await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        self.finish(&tmp, dst, size_gb).await
    }

    async fn remove(path: &Path) -> Result<(), DriverError> {
        match tokio::fs::remove_file(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot remove", path, e)),
        }
    }

    fn list(dir: &Path, prefix: &str) -> Result<Vec<String>, DriverError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io("cannot read", dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_prefix(prefix)
                && !name.ends_with(".part")
            {
                out.push(id.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Driver for FileDriver {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn capacity(&self) -> Result<Capacity, DriverError> {
        let fs = rustix::fs::statvfs(&self.volumes)
            .map_err(|e| DriverError::Failed(format!("statvfs {}: {e}", self.volumes.display())))?;
        let gb = |blocks: u64| (blocks * fs.f_frsize) as f64 / GIB as f64;
        Ok(Capacity {
            total_gb: gb(fs.f_blocks),
            free_gb: gb(fs.f_bavail),
        })
    }

    async fn inventory(&self) -> Result<Inventory, DriverError> {
        Ok(Inventory {
            volumes: Self::list(&self.volumes, "volume-")?,
            snapshots: Self::list(&self.snapshots, "snapshot-")?,
        })
    }

    fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    async fn create_volume(&self, id: &str, size_gb: u64) -> Result<(), DriverError> {
        check_id(id)?;
        let dst = self.volume_path(id);
        self.free_name(&dst)?;
        let tmp = part(&dst);
        tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io("cannot create", &tmp, e))?;
        self.finish(&tmp, &dst, Some(size_gb)).await
    }

    async fn create_volume_from_snapshot(&self, id: &str, snapshot_id: &str, size_gb: u64) -> Result<(), DriverError> {
        check_id(id)?;
        check_id(snapshot_id)?;
        self.copy(&self.snapshot_path(snapshot_id), &self.volume_path(id), Some(size_gb))
            .await
    }

    async fn clone_volume(&self, id: &str, source_id: &str, size_gb: u64) -> Result<(), DriverError> {
        check_id(id)?;
        check_id(source_id)?;
        self.copy(&self.volume_path(source_id), &self.volume_path(id), Some(size_gb))
            .await
    }

    async fn copy_image_to_volume(
        &self,
        id: &str,
        image: &Path,
        format: &str,
        size_gb: u64,
    ) -> Result<(), DriverError> {
        check_id(id)?;
        let fmt = qemu_format(format)?;
        let dst = self.volume_path(id);
        self.free_name(&dst)?;
        let info = run(
            Command::new("qemu-img")
                .args(["info", "-f", fmt, "--output=json", "--"])
                .arg(image),
            "qemu-img info",
        )
        .await?;
        let info: serde_json::Value = serde_json::from_slice(&info)
            .map_err(|e| DriverError::Failed(format!("qemu-img info printed no JSON: {e}")))?;
        if info.get("backing-filename").is_some() || !info["format-specific"]["data"]["data-file"].is_null() {
            return Err(DriverError::Invalid(
                "the image refers to another file (a backing or data file); refused".into(),
            ));
        }
        let virtual_size = info["virtual-size"].as_u64().unwrap_or(0);
        if virtual_size > size_gb * GIB {
            return Err(DriverError::Invalid(format!(
                "Image virtual size is {}GB and doesn't fit in a volume of size {size_gb}GB.",
                virtual_size.div_ceil(GIB)
            )));
        }
        let tmp = part(&dst);
        let converted = run(
            Command::new("qemu-img")
                .args(["convert", "-f", fmt, "-O", "raw", "--"])
                .arg(image)
                .arg(&tmp),
            "qemu-img convert",
        )
        .await;
        if let Err(e) = converted {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        self.finish(&tmp, &dst, Some(size_gb)).await
    }

    async fn delete_volume(&self, id: &str) -> Result<(), DriverError> {
        check_id(id)?;
        Self::remove(&self.volume_path(id)).await
    }

    async fn extend_volume(&self, id: &str, new_size_gb: u64) -> Result<(), DriverError> {
        check_id(id)?;
        let path = self.volume_path(id);
        let f = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => DriverError::NotFound(format!("volume-{id}")),
                _ => io("cannot open", &path, e),
            })?;
        let len = f.metadata().await.map_err(|e| io("cannot stat", &path, e))?.len();
        if new_size_gb * GIB < len {
            return Err(DriverError::Invalid(format!(
                "cannot shrink volume-{id} from {len} bytes to {new_size_gb} GiB"
            )));
        }
        f.set_len(new_size_gb * GIB)
            .await
            .map_err(|e| io("cannot size", &path, e))?;
        f.sync_all().await.map_err(|e| io("cannot sync", &path, e))
    }

    async fn create_snapshot(&self, snapshot_id: &str, volume_id: &str) -> Result<(), DriverError> {
        check_id(snapshot_id)?;
        check_id(volume_id)?;
        self.copy(&self.volume_path(volume_id), &self.snapshot_path(snapshot_id), None)
            .await
    }

    async fn revert_to_snapshot(&self, volume_id: &str, snapshot_id: &str) -> Result<(), DriverError> {
        check_id(volume_id)?;
        check_id(snapshot_id)?;
        let dst = self.volume_path(volume_id);
        if !dst.exists() {
            return Err(DriverError::NotFound(format!("volume-{volume_id}")));
        }
        let size = tokio::fs::metadata(&dst)
            .await
            .map_err(|e| io("cannot stat", &dst, e))?
            .len();
        // A copy beside the volume, renamed over it: the volume holds the
        // old data or the snapshot's, never half of each. A guest that has
        // the volume open keeps the old file until it reopens it, which is
        // why the API reverts only volumes that are not attached.
        let src = self.snapshot_path(snapshot_id);
        if !src.exists() {
            return Err(DriverError::NotFound(format!("snapshot-{snapshot_id}")));
        }
        let tmp = part(&dst);
        let copied = run(
            Command::new("cp")
                .arg("--reflink=auto")
                .arg("--sparse=always")
                .arg("--")
                .arg(&src)
                .arg(&tmp),
            "cp",
        )
        .await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        self.finish(&tmp, &dst, Some(size.div_ceil(GIB))).await
    }

    async fn delete_snapshot(&self, snapshot_id: &str) -> Result<(), DriverError> {
        check_id(snapshot_id)?;
        Self::remove(&self.snapshot_path(snapshot_id)).await
    }

    async fn initialize_connection(&self, id: &str, connector: &Connector) -> Result<ConnectionInfo, DriverError> {
        check_id(id)?;
        let path = self.volume_path(id);
        if !path.exists() {
            return Err(DriverError::NotFound(format!("volume-{id}")));
        }
        if !self.local_hosts.contains(&connector.host) {
            return Err(DriverError::Invalid(format!(
                "host {} does not share this backend's files, and exports to other hosts (qemu-nbd) are not \
                 supported by the file driver yet",
                connector.host
            )));
        }
        let mut data = std::collections::BTreeMap::new();
        data.insert("path".to_owned(), serde_json::json!(path.display().to_string()));
        data.insert("format".to_owned(), serde_json::json!("raw"));
        data.insert("volume_id".to_owned(), serde_json::json!(id));
        Ok(ConnectionInfo {
            driver_volume_type: "file".into(),
            data,
        })
    }

    async fn terminate_connection(&self, id: &str, _connector: &Connector) -> Result<(), DriverError> {
        // A local path has no export to remove.
        check_id(id)
    }
}
