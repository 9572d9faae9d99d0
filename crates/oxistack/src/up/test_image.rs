//! `oxistack up --with-test-image` and `oxistack manage build-test-image`:
//! the CirrOS-like test guest (`scripts/build-test-image.sh`, embedded in
//! the binary) built into the data directory and uploaded, through the
//! image API as any user would, as the public image `oxistack-test` — a
//! qcow2 root disk booted with the kernel and ramdisk images it names by
//! `kernel_id` / `ramdisk_id` — plus a flavor that fits it when none does.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The image name users boot.
pub const IMAGE_NAME: &str = "oxistack-test";
const SCRIPT: &str = include_str!("../../../../scripts/build-test-image.sh");

/// Builds (or finds already built) the guest's kernel and initramfs in `dir`.
pub async fn build(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // The script hashes itself to tell whether a build is current, so it
    // runs from a file rather than `bash -c`.
    let script = dir.join("build-test-image.sh");
    std::fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let status = tokio::process::Command::new("bash")
        .arg(&script)
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .status()
        .await
        .context("running bash")?;
    if !status.success() {
        bail!("building the test image failed ({status}); its output is above");
    }
    Ok(())
}

/// Uploads the built guest as public images, unless `oxistack-test`
/// exists already, and makes sure a flavor fits it.
pub async fn install(
    dir: &Path,
    identity_url: &str,
    password: &str,
    image_url: &str,
    compute_url: &str,
) -> anyhow::Result<()> {
    build(dir).await?;
    let http = reqwest::Client::new();
    let token = admin_token(&http, identity_url, password).await?;
    let api = Api { http, token };

    let found = api
        .get(&format!("{image_url}/v2/images?name={IMAGE_NAME}&status=active"))
        .await?;
    if found["images"].as_array().is_some_and(|i| !i.is_empty()) {
        tracing::info!(image = IMAGE_NAME, "test image already uploaded");
    } else {
        let kernel = api
            .upload(
                image_url,
                json!({"name": "oxistack-test-kernel", "disk_format": "aki", "container_format": "aki"}),
                &dir.join("vmlinuz"),
            )
            .await?;
        let ramdisk = api
            .upload(
                image_url,
                json!({"name": "oxistack-test-ramdisk", "disk_format": "ari", "container_format": "ari"}),
                &dir.join("initrd.img"),
            )
            .await?;
        // The guest lives in its initramfs; the root disk is a blank qcow2
        // so that snapshots, resizes and rebuilds have a real disk to act on.
        let root = dir.join("root.qcow2");
        if !root.exists() {
            let out = tokio::process::Command::new("qemu-img")
                .args(["create", "-q", "-f", "qcow2"])
                .arg(&root)
                .arg("1G")
                .output()
                .await
                .context("running qemu-img")?;
            if !out.status.success() {
                bail!("qemu-img create: {}", String::from_utf8_lossy(&out.stderr).trim());
            }
        }
        let id = api
            .upload(
                image_url,
                json!({
                    "name": IMAGE_NAME,
                    "disk_format": "qcow2",
                    "container_format": "bare",
                    "kernel_id": kernel,
                    "ramdisk_id": ramdisk,
                    "os_command_line": "console=ttyS0",
                }),
                &root,
            )
            .await?;
        println!("test image uploaded: {IMAGE_NAME} ({id})");
    }

    let flavors = api.get(&format!("{compute_url}/v2.1/flavors/detail")).await?;
    let fits = flavors["flavors"].as_array().into_iter().flatten().any(|f| {
        f["ram"].as_u64().is_some_and(|r| (128..=1024).contains(&r)) && f["disk"].as_u64().is_some_and(|d| d >= 1)
    });
    if !fits {
        api.post(
            &format!("{compute_url}/v2.1/flavors"),
            json!({"flavor": {"name": IMAGE_NAME, "ram": 128, "vcpus": 1, "disk": 1}}),
        )
        .await?;
        println!("flavor created: {IMAGE_NAME} (1 vCPU, 128 MiB, 1 GiB)");
    }
    Ok(())
}

async fn admin_token(http: &reqwest::Client, identity_url: &str, password: &str) -> anyhow::Result<String> {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let response = http
        .post(format!("{identity_url}/v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .context("asking identity for a token")?;
    if !response.status().is_success() {
        bail!("identity refused the admin's password: {}", response.status());
    }
    response
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .context("identity answered without X-Subject-Token")
}

struct Api {
    http: reqwest::Client,
    token: String,
}

impl Api {
    async fn check(response: reqwest::Response, what: &str) -> anyhow::Result<Value> {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{what}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, url: &str) -> anyhow::Result<Value> {
        let r = self.http.get(url).header("X-Auth-Token", &self.token).send().await?;
        Api::check(r, &format!("GET {url}")).await
    }

    async fn post(&self, url: &str, body: Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(url)
            .header("X-Auth-Token", &self.token)
            .json(&body)
            .send()
            .await?;
        Api::check(r, &format!("POST {url}")).await
    }

    /// Creates a public image with `fields` and uploads `file`; its id.
    async fn upload(&self, image_url: &str, mut fields: Value, file: &Path) -> anyhow::Result<String> {
        fields["visibility"] = json!("public");
        let image = self.post(&format!("{image_url}/v2/images"), fields).await?;
        let id = image["id"].as_str().context("the image service gave no id")?.to_owned();
        let data = tokio::fs::read(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        let r = self
            .http
            .put(format!("{image_url}/v2/images/{id}/file"))
            .header("X-Auth-Token", &self.token)
            .header("Content-Type", "application/octet-stream")
            .body(data)
            .send()
            .await?;
        Api::check(r, &format!("uploading {}", file.display())).await?;
        Ok(id)
    }
}
