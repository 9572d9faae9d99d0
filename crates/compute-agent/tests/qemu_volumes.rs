//! Volumes of real QEMU guests (TCG): a raw file hot-plugged into a
//! running test guest, which sees a virtio disk with the volume's serial;
//! kept across a hard reboot and a restart of the driver; unplugged;
//! attached while the guest is off and present at its next boot. Needs
//! the test guest (`OXISTACK_TEST_GUEST`, built by
//! `scripts/build-test-image.sh`); skipped, saying so, without it.
//!
//! The guest's user data prints its virtio disks' serials to the console
//! every half second, so the test reads what the guest itself sees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use compute_agent::driver::Driver;
use compute_agent::driver::qemu::qmp::Qmp;
use compute_agent::rpc::{FlavorSpec, ImageSpec, InstanceSpec, PowerState, RequestContext};
use compute_agent::{QemuConfig, QemuDriver};
use serde_json::json;

const BOOT_MARKER: &str = "oxistack-test-guest: ready";
const TIMEOUT: Duration = Duration::from_secs(240);

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

fn spec(base: &str) -> InstanceSpec {
    let uuid = uuid::Uuid::new_v4().to_string();
    let mut properties = BTreeMap::new();
    properties.insert("kernel_id".to_owned(), json!("kernel"));
    properties.insert("ramdisk_id".to_owned(), json!("ramdisk"));
    properties.insert("os_command_line".to_owned(), json!("console=ttyS0"));
    let user_data = "#!/bin/sh\n( while :; do echo \"disks: $(cat /sys/block/vd*/serial 2>/dev/null | tr '\\n' ' ')end\"; sleep 0.5; done ) &\n";
    InstanceSpec {
        name: format!("instance-{}", &uuid[..8]),
        uuid,
        display_name: "vols".to_owned(),
        hostname: "vols".to_owned(),
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
        image: Some(ImageSpec {
            id: "root".to_owned(),
            name: Some("root".to_owned()),
            disk_format: Some("qcow2".to_owned()),
            container_format: Some("bare".to_owned()),
            size: None,
            min_disk: 0,
            min_ram: 0,
            properties,
            file_url: Some(format!("{base}/v2/images/root/file")),
        }),
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
        request_id: "req-vol".to_owned(),
        token: None,
        project_id: "p1".to_owned(),
        user_id: "u1".to_owned(),
    }
}

/// Waits for the console's last `disks:` line (after boot `boot`) to
/// satisfy `ok`.
async fn guest_disks(driver: &QemuDriver, uuid: &str, boot: usize, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let console = driver.console_output(uuid).await.unwrap();
        let after_boot = console.split(BOOT_MARKER).nth(boot).unwrap_or_default();
        if let Some(line) = after_boot.lines().rev().find(|l| l.starts_with("disks:"))
            && ok(line)
        {
            return line.to_owned();
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the guest never showed the expected disks; console:\n{console}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn block_nodes(dir: &Path, uuid: &str) -> Vec<String> {
    let mut q = Qmp::connect(&dir.join("instances").join(uuid).join("qmp.sock"))
        .await
        .unwrap();
    let nodes = q.execute("query-named-block-nodes", None).await.unwrap();
    nodes
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["node-name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_are_hot_plugged_and_survive_restarts() {
    let Some(guest) = std::env::var_os("OXISTACK_TEST_GUEST").map(PathBuf::from) else {
        eprintln!("OXISTACK_TEST_GUEST is not set (scripts/build-test-image.sh DIR builds it): skipped");
        return;
    };
    let dir = PathBuf::from(format!("/tmp/oxi-qvol-{}", &uuid::Uuid::new_v4().to_string()[..8]));
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.join("root.qcow2");
    qemu_img(&["create", "-q", "-f", "qcow2", root.to_str().unwrap(), "1G"]);
    let mut files = BTreeMap::new();
    files.insert("root".to_owned(), std::fs::read(&root).unwrap());
    files.insert("kernel".to_owned(), std::fs::read(guest.join("vmlinuz")).unwrap());
    files.insert("ramdisk".to_owned(), std::fs::read(guest.join("initrd.img")).unwrap());
    let app = axum::Router::new()
        .route("/v2/images/{id}/file", get(download))
        .with_state(std::sync::Arc::new(files));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let config = QemuConfig::new(dir.join("instances"), "qemu-vol-host");
    let driver = QemuDriver::new(config.clone()).await.unwrap();
    let spec = spec(&base);
    let uuid = spec.uuid.clone();
    let _cleanup = Cleanup {
        dir: dir.clone(),
        uuid: uuid.clone(),
    };
    let vol_a = uuid::Uuid::new_v4().to_string();
    let vol_b = uuid::Uuid::new_v4().to_string();
    let (file_a, file_b) = (dir.join("volume-a"), dir.join("volume-b"));
    qemu_img(&["create", "-q", "-f", "raw", file_a.to_str().unwrap(), "64M"]);
    qemu_img(&["create", "-q", "-f", "qcow2", file_b.to_str().unwrap(), "64M"]);
    let info = |path: &Path, format: &str, id: &str| {
        json!({"driver_volume_type": "file",
               "data": {"path": path, "format": format, "volume_id": id, "access_mode": "rw"}})
    };
    let serial = |id: &str| id[..20].to_owned();

    driver.spawn(&ctx(), &spec).await.unwrap();
    guest_disks(&driver, &uuid, 1, |l| !l.contains(&serial(&vol_a))).await;

    // Hot-plug into the running guest: the guest sees the serial.
    driver
        .attach_volume(&uuid, &vol_a, &info(&file_a, "raw", &vol_a), "/dev/vdb")
        .await
        .unwrap();
    guest_disks(&driver, &uuid, 1, |l| l.contains(&serial(&vol_a))).await;
    assert_eq!(driver.get_info(&uuid).await.unwrap().volumes, vec![vol_a.clone()]);
    let nodes = block_nodes(&dir, &uuid).await;
    assert_eq!(
        nodes
            .iter()
            .filter(|n| n.starts_with("vf-") || n.starts_with("vd-"))
            .count(),
        2,
        "{nodes:?}"
    );
    // Twice is refused, and so is a file the host does not have.
    assert!(
        driver
            .attach_volume(&uuid, &vol_a, &info(&file_a, "raw", &vol_a), "/dev/vdc")
            .await
            .is_err()
    );
    assert!(
        driver
            .attach_volume(&uuid, &vol_b, &info(&dir.join("nope"), "raw", &vol_b), "/dev/vdc")
            .await
            .is_err()
    );

    // A hard reboot and a new driver over the same directory keep it.
    driver.reboot(&uuid, true).await.unwrap();
    guest_disks(&driver, &uuid, 2, |l| l.contains(&serial(&vol_a))).await;
    let again = QemuDriver::new(config.clone()).await.unwrap();
    assert_eq!(again.get_info(&uuid).await.unwrap().volumes, vec![vol_a.clone()]);
    drop(again);

    // Unplug: the guest lets go, the block nodes are gone.
    driver.detach_volume(&uuid, &vol_a, "/dev/vdb").await.unwrap();
    guest_disks(&driver, &uuid, 2, |l| !l.contains(&serial(&vol_a))).await;
    assert!(driver.get_info(&uuid).await.unwrap().volumes.is_empty());
    let nodes = block_nodes(&dir, &uuid).await;
    assert!(
        !nodes.iter().any(|n| n.starts_with("vf-") || n.starts_with("vd-")),
        "{nodes:?}"
    );
    assert!(driver.detach_volume(&uuid, &vol_a, "/dev/vdb").await.is_err());

    // Attached while off: there at the next boot.
    driver.power_off(&uuid).await.unwrap();
    assert_eq!(driver.get_info(&uuid).await.unwrap().power_state, PowerState::Shutdown);
    driver
        .attach_volume(&uuid, &vol_b, &info(&file_b, "qcow2", &vol_b), "/dev/vdb")
        .await
        .unwrap();
    driver.power_on(&uuid).await.unwrap();
    guest_disks(&driver, &uuid, 3, |l| l.contains(&serial(&vol_b))).await;

    driver.destroy(&uuid).await.unwrap();
    assert!(
        file_a.exists() && file_b.exists(),
        "volumes are block storage's, not the instance's"
    );
}
