//! A volume grown under a running QEMU guest (TCG), as block storage
//! grows it and compute's `volume-extended` event then asks the driver:
//! the raw file gets longer, `extend_volume` resizes the disk, and the
//! guest's own `/sys/block/vdX/size` shows the new size. Needs the test
//! guest (`OXISTACK_TEST_GUEST`, built by `scripts/build-test-image.sh`);
//! skipped, saying so, without it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use compute_agent::driver::Driver;
use compute_agent::rpc::{FlavorSpec, ImageSpec, InstanceSpec, PowerState, RequestContext};
use compute_agent::{QemuConfig, QemuDriver};
use serde_json::json;

const BOOT_MARKER: &str = "oxistack-test-guest: ready";
const TIMEOUT: Duration = Duration::from_secs(240);
const MIB: u64 = 1 << 20;

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
    // Every half second: each virtio disk's serial and size in sectors.
    let user_data = "#!/bin/sh\n( while :; do s=''; for d in /sys/block/vd*; do s=\"$s $(cat $d/serial 2>/dev/null)=$(cat $d/size)\"; done; echo \"sizes:$s end\"; sleep 0.5; done ) &\n";
    InstanceSpec {
        name: format!("instance-{}", &uuid[..8]),
        uuid,
        display_name: "grow".to_owned(),
        hostname: "grow".to_owned(),
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
        request_id: "req-grow".to_owned(),
        token: None,
        project_id: "p1".to_owned(),
        user_id: "u1".to_owned(),
    }
}

/// Waits until the guest (after boot number `boot`) shows the disk of
/// serial `serial` with `sectors` 512-byte sectors.
async fn guest_sees(driver: &QemuDriver, uuid: &str, boot: usize, serial: &str, sectors: u64) {
    let want = format!(" {serial}={sectors} ");
    let started = Instant::now();
    loop {
        let console = driver.console_output(uuid).await.unwrap();
        let after_boot = console.split(BOOT_MARKER).nth(boot).unwrap_or_default();
        if after_boot
            .lines()
            .rev()
            .find(|l| l.starts_with("sizes:"))
            .is_some_and(|l| l.contains(&want))
        {
            return;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the guest never showed {want:?}; console:\n{console}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extended_volume_grows_in_the_running_guest() {
    let Some(guest) = std::env::var_os("OXISTACK_TEST_GUEST").map(PathBuf::from) else {
        eprintln!("OXISTACK_TEST_GUEST is not set (scripts/build-test-image.sh DIR builds it): skipped");
        return;
    };
    let dir = PathBuf::from(format!("/tmp/oxi-qgrow-{}", &uuid::Uuid::new_v4().to_string()[..8]));
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

    let driver = QemuDriver::new(QemuConfig::new(dir.join("instances"), "qemu-grow-host"))
        .await
        .unwrap();
    let spec = spec(&base);
    let uuid = spec.uuid.clone();
    let _cleanup = Cleanup {
        dir: dir.clone(),
        uuid: uuid.clone(),
    };
    let vol = uuid::Uuid::new_v4().to_string();
    let serial = &vol[..20];
    let file = dir.join("volume-grow");
    qemu_img(&["create", "-q", "-f", "raw", file.to_str().unwrap(), "64M"]);
    let info = json!({"driver_volume_type": "file",
        "data": {"path": file, "format": "raw", "volume_id": vol, "access_mode": "rw"}});

    driver.spawn(&ctx(), &spec).await.unwrap();
    driver.attach_volume(&uuid, &vol, &info, "/dev/vdb").await.unwrap();
    guest_sees(&driver, &uuid, 1, serial, 64 * MIB / 512).await;

    // Block storage grows the file (as its file driver does), then the
    // driver is asked to resize: the running guest sees the new size.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(96 * MIB)
        .unwrap();
    driver.extend_volume(&uuid, &vol, 96 * MIB).await.unwrap();
    guest_sees(&driver, &uuid, 1, serial, 96 * MIB / 512).await;
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 96 * MIB);

    // A volume the guest does not have is an error.
    let other = uuid::Uuid::new_v4().to_string();
    assert!(driver.extend_volume(&uuid, &other, 96 * MIB).await.is_err());

    // Shut off: nothing to resize now; the next boot opens the grown file.
    driver.power_off(&uuid).await.unwrap();
    assert_eq!(driver.get_info(&uuid).await.unwrap().power_state, PowerState::Shutdown);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(128 * MIB)
        .unwrap();
    driver.extend_volume(&uuid, &vol, 128 * MIB).await.unwrap();
    driver.power_on(&uuid).await.unwrap();
    guest_sees(&driver, &uuid, 2, serial, 128 * MIB / 512).await;

    driver.destroy(&uuid).await.unwrap();
}
