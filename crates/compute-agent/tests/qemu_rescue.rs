//! Rescue of a real QEMU guest (TCG): the rescued guest boots the rescue
//! image's disk first with its own root disk second (QMP `query-block`,
//! and the disk sizes the guest itself sees), a driver started again over
//! the same directory still has it rescued, unrescue boots the normal
//! command line and drops the rescue disk, and a destroy of a rescued
//! guest leaves nothing. Needs the test guest (`OXISTACK_TEST_GUEST`,
//! built by `scripts/build-test-image.sh`); skipped, saying so, without it.
//!
//! The guest's user data prints its virtio disks and their sizes (in
//! 512-byte sectors) to the console every half second.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use compute_agent::driver::qemu::qmp::Qmp;
use compute_agent::driver::{Driver, DriverError};
use compute_agent::rpc::{FlavorSpec, ImageSpec, InstanceSpec, PowerState, RequestContext};
use compute_agent::{QemuConfig, QemuDriver};
use serde_json::json;

const BOOT_MARKER: &str = "oxistack-test-guest: ready";
const TIMEOUT: Duration = Duration::from_secs(240);
/// The root image is 1 GiB, the rescue image 64 MiB, in sectors.
const ROOT_SECTORS: &str = "2097152";
const RESCUE_SECTORS: &str = "131072";

type Files = std::sync::Arc<BTreeMap<String, Vec<u8>>>;

async fn download(State(f): State<Files>, UrlPath(id): UrlPath<String>) -> Result<Vec<u8>, StatusCode> {
    f.get(&id).cloned().ok_or(StatusCode::NOT_FOUND)
}

/// Kills what the test started and removes its directory, even when an
/// assertion failed half-way.
struct Cleanup {
    dir: PathBuf,
    uuid: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let pidfile = self.dir.join("instances").join(&self.uuid).join("qemu.pid");
        if let Ok(pid) = std::fs::read_to_string(pidfile) {
            let _ = std::process::Command::new("kill").args(["-9", pid.trim()]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn qemu_img(args: &[&str]) {
    let out = std::process::Command::new("qemu-img").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn image(base: &str, id: &str) -> ImageSpec {
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
        file_url: Some(format!("{base}/v2/images/{id}/file")),
    }
}

fn spec(base: &str) -> InstanceSpec {
    let uuid = uuid::Uuid::new_v4().to_string();
    let user_data = "#!/bin/sh\n( while :; do l='blocks:'; for d in /sys/block/vd*; do l=\"$l $(basename $d)=$(cat $d/size)\"; done; echo \"$l end\"; sleep 0.5; done ) &\n";
    InstanceSpec {
        name: format!("instance-{}", &uuid[..8]),
        uuid,
        display_name: "rescue".to_owned(),
        hostname: "rescue".to_owned(),
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
        image: Some(image(base, "root")),
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

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "req-rescue".to_owned(),
        token: None,
        project_id: "p1".to_owned(),
        user_id: "u1".to_owned(),
    }
}

/// The first `blocks:` line the guest printed after boot number `boot`.
async fn guest_blocks(driver: &QemuDriver, uuid: &str, boot: usize) -> String {
    let started = Instant::now();
    loop {
        let console = driver.console_output(uuid).await.unwrap();
        let after_boot = console.split(BOOT_MARKER).nth(boot).unwrap_or_default();
        if let Some(line) = after_boot.lines().find(|l| l.starts_with("blocks:")) {
            return line.to_owned();
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the guest never showed its disks after boot {boot}; console:\n{console}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How many processes run for the instance (a zombie has no command line).
fn qemu_processes(uuid: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(uuid))
                .unwrap_or(false)
        })
        .count()
}

/// The files of the guest's virtio disks, in device order.
async fn disk_files(dir: &Path, uuid: &str) -> Vec<String> {
    let mut q = Qmp::connect(&dir.join("instances").join(uuid).join("qmp.sock"))
        .await
        .unwrap();
    let blocks = q.execute("query-block", None).await.unwrap();
    blocks
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["inserted"]["file"].as_str())
        .filter_map(|f| Path::new(f).file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rescued_guest_boots_the_rescue_disk_with_its_own_second() {
    let Some(guest) = std::env::var_os("OXISTACK_TEST_GUEST").map(PathBuf::from) else {
        eprintln!("OXISTACK_TEST_GUEST is not set (scripts/build-test-image.sh DIR builds it): skipped");
        return;
    };
    let dir = PathBuf::from(format!("/tmp/oxi-qres-{}", &uuid::Uuid::new_v4().to_string()[..8]));
    std::fs::create_dir_all(&dir).unwrap();
    let (root, rescue) = (dir.join("root.qcow2"), dir.join("rescue.qcow2"));
    qemu_img(&["create", "-q", "-f", "qcow2", root.to_str().unwrap(), "1G"]);
    qemu_img(&["create", "-q", "-f", "qcow2", rescue.to_str().unwrap(), "64M"]);
    let mut files = BTreeMap::new();
    files.insert("root".to_owned(), std::fs::read(&root).unwrap());
    files.insert("rescue".to_owned(), std::fs::read(&rescue).unwrap());
    files.insert("kernel".to_owned(), std::fs::read(guest.join("vmlinuz")).unwrap());
    files.insert("ramdisk".to_owned(), std::fs::read(guest.join("initrd.img")).unwrap());
    let app = axum::Router::new()
        .route("/v2/images/{id}/file", get(download))
        .with_state(std::sync::Arc::new(files));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut config = QemuConfig::new(dir.join("instances"), "qemu-rescue-host");
    config.shutdown_timeout = Duration::from_secs(30);
    let driver = QemuDriver::new(config.clone()).await.unwrap();
    let spec = spec(&base);
    let uuid = spec.uuid.clone();
    let _cleanup = Cleanup {
        dir: dir.clone(),
        uuid: uuid.clone(),
    };
    let instance_dir = dir.join("instances").join(&uuid);

    driver.spawn(&ctx(), &spec).await.unwrap();
    let line = guest_blocks(&driver, &uuid, 1).await;
    assert!(line.starts_with(&format!("blocks: vda={ROOT_SECTORS} vdb=")), "{line}");
    assert!(!line.contains("vdc="), "root disk and config drive only: {line}");
    let err = driver.unrescue(&uuid).await.unwrap_err();
    assert!(matches!(err, DriverError::InvalidState { .. }), "{err:?}");

    // Rescue: the rescue image's disk first, the root disk second.
    driver.rescue(&ctx(), &spec, &image(&base, "rescue")).await.unwrap();
    assert_eq!(driver.get_info(&uuid).await.unwrap().power_state, PowerState::Running);
    assert_eq!(qemu_processes(&uuid), 1, "the normal QEMU is gone");
    assert_eq!(disk_files(&dir, &uuid).await, ["disk.rescue", "disk", "disk.config"]);
    let line = guest_blocks(&driver, &uuid, 2).await;
    assert!(
        line.starts_with(&format!("blocks: vda={RESCUE_SECTORS} vdb={ROOT_SECTORS} vdc=")),
        "{line}"
    );

    // A driver started again over the directory adopts the rescued guest.
    let again = QemuDriver::new(config.clone()).await.unwrap();
    assert_eq!(again.get_info(&uuid).await.unwrap().power_state, PowerState::Running);
    assert_eq!(disk_files(&dir, &uuid).await, ["disk.rescue", "disk", "disk.config"]);

    // Unrescue (by the new driver): its own disk again, the rescue disk gone.
    again.unrescue(&uuid).await.unwrap();
    drop(again);
    assert_eq!(disk_files(&dir, &uuid).await, ["disk", "disk.config"]);
    assert!(!instance_dir.join("disk.rescue").exists());
    let line = guest_blocks(&driver, &uuid, 3).await;
    assert!(line.starts_with(&format!("blocks: vda={ROOT_SECTORS} vdb=")), "{line}");
    assert!(!line.contains("vdc="), "{line}");

    // A rescued guest is destroyed with everything.
    driver.rescue(&ctx(), &spec, &image(&base, "root")).await.unwrap();
    assert!(instance_dir.join("disk.rescue").exists());
    driver.destroy(&uuid).await.unwrap();
    assert!(!instance_dir.exists());
    assert_eq!(qemu_processes(&uuid), 0, "QEMU still runs");
    assert!(matches!(driver.unrescue(&uuid).await, Err(DriverError::NotFound(_))));
}
