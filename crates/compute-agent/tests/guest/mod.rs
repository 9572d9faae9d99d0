//! What the tests of real QEMU guests (TCG) share: the test guest
//! (`OXISTACK_TEST_GUEST`, built by `scripts/build-test-image.sh`; a test
//! is skipped, saying so, without it), a scratch directory with a 1 GiB
//! qcow2 root image, a minimal image service serving it with the guest's
//! kernel and initramfs, the instance spec, and reading what the guest
//! prints on its console.
#![allow(dead_code)] // each test binary uses its own part

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use compute_agent::QemuDriver;
use compute_agent::driver::Driver;
use compute_agent::rpc::{FlavorSpec, ImageSpec, InstanceSpec, RequestContext};
use serde_json::json;

/// What the test guest prints once its userspace is up, at every boot.
pub const BOOT_MARKER: &str = "oxistack-test-guest: ready";
/// How long a guest under TCG on a busy machine may take.
pub const TIMEOUT: Duration = Duration::from_secs(240);

type Files = std::sync::Arc<BTreeMap<String, Vec<u8>>>;

async fn download(State(f): State<Files>, UrlPath(id): UrlPath<String>) -> Result<Vec<u8>, StatusCode> {
    f.get(&id).cloned().ok_or(StatusCode::NOT_FOUND)
}

/// A test's scratch directory and image service. Dropping it kills the
/// QEMU of every instance under `dir/instances` and removes `dir`, even
/// when an assertion failed half-way.
pub struct GuestEnv {
    pub dir: PathBuf,
    /// The image service's base URL (`GET /v2/images/{id}/file`).
    pub base: String,
}

impl GuestEnv {
    /// `None` (the test is skipped) without the test guest. Serves the
    /// images `root` (an empty 1 GiB qcow2), `kernel`, `ramdisk` and, for
    /// each of `extra` (id, size as qemu-img reads it), an empty qcow2.
    pub async fn start(tag: &str, extra: &[(&str, &str)]) -> Option<GuestEnv> {
        let Some(guest) = std::env::var_os("OXISTACK_TEST_GUEST").map(PathBuf::from) else {
            eprintln!("OXISTACK_TEST_GUEST is not set (scripts/build-test-image.sh DIR builds it): skipped");
            return None;
        };
        let dir = PathBuf::from(format!("/tmp/oxi-{tag}-{}", &uuid::Uuid::new_v4().to_string()[..8]));
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = BTreeMap::new();
        for (id, size) in std::iter::once(&("root", "1G")).chain(extra) {
            let file = dir.join(format!("{id}.qcow2"));
            qemu_img(&["create", "-q", "-f", "qcow2", file.to_str().unwrap(), size]);
            files.insert((*id).to_owned(), std::fs::read(&file).unwrap());
        }
        files.insert("kernel".to_owned(), std::fs::read(guest.join("vmlinuz")).unwrap());
        files.insert("ramdisk".to_owned(), std::fs::read(guest.join("initrd.img")).unwrap());
        let app = axum::Router::new()
            .route("/v2/images/{id}/file", get(download))
            .with_state(std::sync::Arc::new(files));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Some(GuestEnv { dir, base })
    }

    /// Image `id` of the image service, booted with the test guest's
    /// kernel and initramfs on the serial console.
    pub fn image(&self, id: &str) -> ImageSpec {
        let mut properties = BTreeMap::new();
        properties.insert("kernel_id".to_owned(), json!("kernel"));
        properties.insert("ramdisk_id".to_owned(), json!("ramdisk"));
        properties.insert("os_command_line".to_owned(), json!("console=ttyS0"));
        ImageSpec {
            id: id.to_owned(),
            name: Some(id.to_owned()),
            disk_format: Some("qcow2".to_owned()),
            container_format: Some("bare".to_owned()),
            size: None,
            min_disk: 0,
            min_ram: 0,
            properties,
            file_url: Some(format!("{}/v2/images/{id}/file", self.base)),
        }
    }

    /// A 128 MiB, one-vCPU instance of the `root` image with a config
    /// drive carrying `user_data` (a shell script the guest runs).
    pub fn spec(&self, name: &str, user_data: &str) -> InstanceSpec {
        let uuid = uuid::Uuid::new_v4().to_string();
        InstanceSpec {
            name: format!("instance-{}", &uuid[..8]),
            uuid,
            display_name: name.to_owned(),
            hostname: name.to_owned(),
            project_id: "p1".to_owned(),
            user_id: "u1".to_owned(),
            flavor: FlavorSpec {
                id: "f1".to_owned(),
                name: "tiny".to_owned(),
                vcpus: 1,
                memory_mb: 128,
                root_gb: 1,
                ephemeral_gb: 0,
                swap_mb: 0,
                extra_specs: BTreeMap::new(),
            },
            image: Some(self.image("root")),
            user_data: Some(base64::engine::general_purpose::STANDARD.encode(user_data)),
            key_name: None,
            key_data: None,
            config_drive: true,
            metadata: BTreeMap::new(),
            availability_zone: None,
            network_info: vec![],
            block_device_info: vec![],
        }
    }
}

impl Drop for GuestEnv {
    fn drop(&mut self) {
        for instance in std::fs::read_dir(self.dir.join("instances"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(pid) = std::fs::read_to_string(instance.path().join("qemu.pid")) {
                let _ = std::process::Command::new("kill").args(["-9", pid.trim()]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn ctx(request_id: &str) -> RequestContext {
    RequestContext {
        request_id: request_id.to_owned(),
        token: None,
        project_id: "p1".to_owned(),
        user_id: "u1".to_owned(),
    }
}

pub fn qemu_img(args: &[&str]) {
    let out = std::process::Command::new("qemu-img").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits for a console line starting with `prefix` printed after boot
/// number `boot` that satisfies `ok` (the first such line with `first`,
/// else the latest one), and returns it.
pub async fn console_line(
    driver: &QemuDriver,
    uuid: &str,
    boot: usize,
    prefix: &str,
    first: bool,
    ok: impl Fn(&str) -> bool,
) -> String {
    let started = Instant::now();
    loop {
        let console = driver.console_output(uuid).await.unwrap();
        let after_boot = console.split(BOOT_MARKER).nth(boot).unwrap_or_default();
        let mut lines = after_boot.lines().filter(|l| l.starts_with(prefix));
        let line = if first { lines.next() } else { lines.next_back() };
        if let Some(line) = line
            && ok(line)
        {
            return line.to_owned();
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the guest never printed the expected {prefix:?} line after boot {boot}; console:\n{console}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
