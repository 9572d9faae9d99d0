//! The config drive: an ISO 9660 volume labelled `config-2` with the
//! instance's metadata as Nova writes it (`openstack/latest/meta_data.json`,
//! `user_data`, `network_data.json`, `vendor_data.json`,
//! `vendor_data2.json`), made with `genisoimage` as Nova's default
//! `config_drive_format = iso9660` is.

use std::path::Path;

use base64::Engine;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::driver::DriverError;
use crate::rpc::InstanceSpec;

/// The instance's `meta_data.json`.
pub fn meta_data(spec: &InstanceSpec) -> Value {
    let mut public_keys = serde_json::Map::new();
    let mut keys = Vec::new();
    if let (Some(name), Some(data)) = (&spec.key_name, &spec.key_data) {
        public_keys.insert(name.clone(), json!(data));
        keys.push(json!({"name": name, "type": "ssh", "data": data}));
    }
    json!({
        "uuid": spec.uuid,
        "name": spec.display_name,
        "hostname": spec.hostname,
        "launch_index": 0,
        "availability_zone": spec.availability_zone,
        "project_id": spec.project_id,
        "meta": spec.metadata,
        "public_keys": public_keys,
        "keys": keys,
        "devices": [],
    })
}

/// Writes the config drive of `spec` to `dest` (replacing it).
pub async fn build(spec: &InstanceSpec, dest: &Path) -> Result<(), DriverError> {
    let failed = |what: String| DriverError::Failed(format!("config drive: {what}"));
    let tree = dest.with_extension("tree");
    let _ = tokio::fs::remove_dir_all(&tree).await;
    let latest = tree.join("openstack").join("latest");
    tokio::fs::create_dir_all(&latest)
        .await
        .map_err(|e| failed(format!("cannot create {}: {e}", latest.display())))?;
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("meta_data.json", meta_data(spec).to_string().into_bytes()),
        (
            "network_data.json",
            super::vif::network_data(&spec.network_info).to_string().into_bytes(),
        ),
        ("vendor_data.json", b"{}".to_vec()),
        ("vendor_data2.json", b"{}".to_vec()),
    ];
    if let Some(user_data) = &spec.user_data {
        // The API keeps user data base64-encoded, as the user sent it.
        let clean: String = user_data.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map_err(|e| failed(format!("user_data is not base64: {e}")))?;
        files.push(("user_data", bytes));
    }
    for (name, bytes) in files {
        tokio::fs::write(latest.join(name), bytes)
            .await
            .map_err(|e| failed(format!("cannot write {name}: {e}")))?;
    }
    let out = Command::new("genisoimage")
        .args(["-o"])
        .arg(dest)
        .args([
            "-ldots",
            "-allow-lowercase",
            "-allow-multidot",
            "-l",
            "-quiet",
            "-J",
            "-r",
            "-V",
            "config-2",
        ])
        .args(["-publisher", "oxistack"])
        .arg(&tree)
        .output()
        .await;
    let _ = tokio::fs::remove_dir_all(&tree).await;
    let out = out.map_err(|e| failed(format!("cannot run genisoimage: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "genisoimage failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}
