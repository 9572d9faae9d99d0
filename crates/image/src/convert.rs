//! Image conversion on import (Glance's `image_conversion` plugin): qcow2
//! to raw with `qemu-img`, run as a child process (never on the async
//! threads), always with `-f qcow2` (CVE-2026-24708: a format probe lets a
//! guest-written header choose how the host reads the file). Images with a
//! backing file or an external data file are refused: converting them
//! would read host files the image names.

use std::path::Path;

use tokio::process::Command;

use crate::error::{ImageError, Result};

pub async fn qcow2_to_raw(src: &Path, dst: &Path) -> Result<()> {
    let info = Command::new("qemu-img")
        .args(["info", "-f", "qcow2", "--output=json"])
        .arg(src)
        .output()
        .await?;
    if !info.status.success() {
        return Err(ImageError::bad(format!(
            "The image is not a valid qcow2 image: {}",
            String::from_utf8_lossy(&info.stderr).trim()
        )));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&info.stdout).map_err(|e| ImageError::Internal(format!("qemu-img info output: {e}")))?;
    if v.get("backing-filename").is_some() || v.pointer("/format-specific/data/data-file").is_some() {
        return Err(ImageError::bad(
            "QCOW2 images with a backing file or an external data file are not allowed.",
        ));
    }
    let out = Command::new("qemu-img")
        .args(["convert", "-f", "qcow2", "-O", "raw"])
        .arg(src)
        .arg(dst)
        .output()
        .await?;
    if !out.status.success() {
        let _ = tokio::fs::remove_file(dst).await;
        return Err(ImageError::bad(format!(
            "Image conversion failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}
