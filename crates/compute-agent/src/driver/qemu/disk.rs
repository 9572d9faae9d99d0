//! Disks: the base-image cache shared by instances, root-disk overlays and
//! snapshot exports, all through `qemu-img` (always with an explicit `-f`).
//!
//! An image is fetched once from the image service into
//! `<instances>/_base/<image id>.<qcow2|raw>` and checked before any
//! instance uses it: a qcow2 that names a backing file or an external data
//! file is refused (QEMU would open a host path chosen by whoever uploaded
//! the image). Formats other than raw and qcow2 are converted to raw once.
//! Each instance's root disk is a qcow2 overlay on its base, grown to the
//! flavor's `root_gb`. A base no instance uses is removed after
//! `remove_unused_original_minimum_age` (Nova's image cache manager).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::driver::DriverError;

const GIB: u64 = 1024 * 1024 * 1024;

fn failed(what: impl std::fmt::Display) -> DriverError {
    DriverError::Failed(what.to_string())
}

fn unacceptable(image_id: &str, reason: impl std::fmt::Display) -> DriverError {
    DriverError::ImageUnacceptable {
        image_id: image_id.to_owned(),
        reason: reason.to_string(),
    }
}

/// Runs `qemu-img` with `args`; its stderr is the error.
pub async fn qemu_img(args: &[&str]) -> Result<String, DriverError> {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .await
        .map_err(|e| failed(format!("cannot run qemu-img: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "qemu-img {} failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What `qemu-img info` says about a file read as `format`.
pub async fn info(path: &Path, format: &str) -> Result<Value, DriverError> {
    let out = qemu_img(&["info", "-U", "-f", format, "--output=json", &path.to_string_lossy()]).await?;
    serde_json::from_str(&out).map_err(|e| failed(format!("qemu-img info: {e}")))
}

/// A disk image fetched and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Base {
    pub path: PathBuf,
    /// `qcow2` or `raw`.
    pub format: &'static str,
    pub virtual_size: u64,
}

/// How a Glance `disk_format` is read, and whether it is kept or turned
/// into raw first.
fn source_format(image_id: &str, disk_format: &str) -> Result<(&'static str, &'static str), DriverError> {
    Ok(match disk_format {
        "qcow2" => ("qcow2", "qcow2"),
        "raw" | "ami" => ("raw", "raw"),
        "vdi" => ("vdi", "raw"),
        "vhd" => ("vpc", "raw"),
        "vhdx" => ("vhdx", "raw"),
        other => {
            return Err(unacceptable(
                image_id,
                format!("the qemu driver cannot boot disk_format {other:?} (it boots raw, ami, qcow2, vdi, vhd, vhdx)"),
            ));
        }
    })
}

pub struct ImageCache {
    dir: PathBuf,
    http: reqwest::Client,
    locks: super::Locks,
}

impl ImageCache {
    pub fn new(dir: PathBuf) -> ImageCache {
        ImageCache {
            dir,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            locks: super::Locks::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The disk image `id` as a checked base, fetched from `url` with
    /// `token` when not cached.
    pub async fn disk(&self, id: &str, disk_format: &str, url: &str, token: Option<&str>) -> Result<Base, DriverError> {
        let (read_as, kept_as) = source_format(id, disk_format)?;
        let path = self.dir.join(format!("{id}.{kept_as}"));
        let _guard = self.locks.lock(id).await;
        if !path.exists() {
            let part = self.download(id, url, token).await?;
            let checked = check_and_convert(id, &part, read_as, kept_as, &path).await;
            let _ = tokio::fs::remove_file(&part).await;
            checked?;
        }
        touch(&path);
        let virtual_size = info(&path, kept_as).await?["virtual-size"].as_u64().unwrap_or(0);
        Ok(Base {
            path,
            format: kept_as,
            virtual_size,
        })
    }

    /// A kernel or ramdisk (`aki`/`ari`): bytes QEMU loads itself, kept as they are.
    pub async fn file(&self, id: &str, url: &str, token: Option<&str>) -> Result<PathBuf, DriverError> {
        let path = self.dir.join(format!("{id}.boot"));
        let _guard = self.locks.lock(id).await;
        if !path.exists() {
            let part = self.download(id, url, token).await?;
            tokio::fs::rename(&part, &path)
                .await
                .map_err(|e| failed(format!("cannot keep image {id}: {e}")))?;
        }
        touch(&path);
        Ok(path)
    }

    async fn download(&self, id: &str, url: &str, token: Option<&str>) -> Result<PathBuf, DriverError> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| failed(format!("cannot create {}: {e}", self.dir.display())))?;
        let part = self.dir.join(format!("{id}.part"));
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.header("X-Auth-Token", token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| failed(format!("cannot fetch image {id}: {e}")))?;
        if !response.status().is_success() {
            return Err(failed(format!(
                "cannot fetch image {id}: the image service answered {}",
                response.status()
            )));
        }
        let started = std::time::Instant::now();
        let mut file = tokio::fs::File::create(&part)
            .await
            .map_err(|e| failed(format!("cannot write {}: {e}", part.display())))?;
        let mut body = response.bytes_stream();
        let mut bytes = 0u64;
        let result: Result<(), DriverError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| failed(format!("image {id} download broke off: {e}")))?;
                bytes += chunk.len() as u64;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| failed(format!("cannot write {}: {e}", part.display())))?;
            }
            file.flush()
                .await
                .map_err(|e| failed(format!("cannot write {}: {e}", part.display())))
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e);
        }
        tracing::info!(image = %id, bytes, elapsed_ms = started.elapsed().as_millis() as u64, "image fetched into the cache");
        Ok(part)
    }

    /// Removes cached images no instance uses (`in_use` ids) that were last
    /// used longer than `min_age` ago.
    pub fn clean(&self, in_use: &[String], min_age: Duration) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = name.split('.').next().unwrap_or_default();
            if name.ends_with(".part") || in_use.iter().any(|u| u == id) {
                continue;
            }
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            if age >= min_age {
                tracing::info!(image = %id, "removing an unused image from the cache");
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Marks a base as just used (its age is the time since its last use).
fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Refuses images that make QEMU open other host files, then keeps the
/// image at `dest` (converted when `read_as` is not `kept_as`).
async fn check_and_convert(
    id: &str,
    part: &Path,
    read_as: &str,
    kept_as: &str,
    dest: &Path,
) -> Result<(), DriverError> {
    let i = info(part, read_as).await.map_err(|e| {
        unacceptable(
            id,
            format!(
                "it is not a valid {read_as} disk: {}",
                e.to_string().trim_start_matches("qemu-img info failed: ")
            ),
        )
    })?;
    if let Some(backing) = i.get("backing-filename") {
        return Err(unacceptable(
            id,
            format!("it names a backing file ({backing}); refused"),
        ));
    }
    if i.pointer("/format-specific/data/data-file").is_some() {
        return Err(unacceptable(id, "it names an external data file; refused"));
    }
    let tmp = dest.with_extension("converting");
    if read_as == kept_as {
        tokio::fs::rename(part, dest)
            .await
            .map_err(|e| failed(format!("cannot keep the image: {e}")))?;
        return Ok(());
    }
    let converted = qemu_img(&[
        "convert",
        "-f",
        read_as,
        "-O",
        kept_as,
        &part.to_string_lossy(),
        &tmp.to_string_lossy(),
    ])
    .await;
    if let Err(e) = converted {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    tokio::fs::rename(&tmp, dest)
        .await
        .map_err(|e| failed(format!("cannot keep the image: {e}")))
}

/// Creates `disk` as a qcow2 overlay on `base`, of `root_gb` GiB (the
/// image's own size when 0). A flavor disk smaller than the image fails.
pub async fn create_overlay(base: &Base, disk: &Path, root_gb: u64) -> Result<(), DriverError> {
    let wanted = root_gb * GIB;
    if wanted != 0 && wanted < base.virtual_size {
        return Err(failed(format!(
            "the flavor's disk ({root_gb} GiB) is smaller than the image ({} bytes)",
            base.virtual_size
        )));
    }
    let size = wanted.max(base.virtual_size).to_string();
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        base.format,
        "-b",
        &base.path.to_string_lossy(),
        &disk.to_string_lossy(),
        &size,
    ])
    .await
    .map(drop)
}

/// Grows a qcow2 disk to `root_gb` GiB; never shrinks it.
pub async fn grow(disk: &Path, root_gb: u64) -> Result<(), DriverError> {
    let current = info(disk, "qcow2").await?["virtual-size"].as_u64().unwrap_or(0);
    let wanted = root_gb * GIB;
    if wanted < current {
        return Err(failed(format!("cannot shrink the root disk to {root_gb} GiB")));
    }
    if wanted == current {
        return Ok(());
    }
    qemu_img(&[
        "resize",
        "-q",
        "-f",
        "qcow2",
        &disk.to_string_lossy(),
        &wanted.to_string(),
    ])
    .await
    .map(drop)
}

/// Writes the disk's whole content (overlay and base together) to `out`
/// as `format`; `-U` because a paused guest's QEMU still holds the disk.
pub async fn export(disk: &Path, out: &Path, format: &str) -> Result<(), DriverError> {
    qemu_img(&[
        "convert",
        "-U",
        "-f",
        "qcow2",
        "-O",
        format,
        &disk.to_string_lossy(),
        &out.to_string_lossy(),
    ])
    .await
    .map(drop)
}
