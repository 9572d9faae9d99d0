//! The qemu driver against real QEMU guests: the test guest built by
//! `scripts/build-test-image.sh` (its directory in `OXISTACK_TEST_GUEST`;
//! the test is skipped, saying so, when the variable is unset), served by a
//! small stand-in for the image service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use compute_agent::driver::qemu::cgroup;
use compute_agent::driver::{Driver, DriverError};
use compute_agent::rpc::{FlavorSpec, ImageSpec, InstanceSpec, PowerState, RequestContext};
use compute_agent::{QemuConfig, QemuDriver};
use serde_json::{Value, json};

const BOOT_MARKER: &str = "oxistack-test-guest: ready";
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

#[derive(Default)]
struct Images {
    files: BTreeMap<String, Vec<u8>>,
    uploads: BTreeMap<String, Vec<u8>>,
}

type Shared = Arc<Mutex<Images>>;

async fn download(State(s): State<Shared>, UrlPath(id): UrlPath<String>) -> Result<Vec<u8>, StatusCode> {
    s.lock().unwrap().files.get(&id).cloned().ok_or(StatusCode::NOT_FOUND)
}

async fn upload(State(s): State<Shared>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    s.lock().unwrap().uploads.insert(id, body.to_vec());
    StatusCode::NO_CONTENT
}

/// Serves `/v2/images/{id}/file`; its base URL.
async fn image_service(images: Shared) -> String {
    let app = axum::Router::new()
        .route("/v2/images/{id}/file", get(download).put(upload))
        .with_state(images);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn qemu_img(args: &[&str]) {
    let out = std::process::Command::new("qemu-img").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn flavor(root_gb: u64) -> FlavorSpec {
    FlavorSpec {
        id: format!("f{root_gb}"),
        name: format!("tiny-{root_gb}"),
        vcpus: 1,
        memory_mb: 128,
        root_gb,
        ephemeral_gb: 0,
        swap_mb: 0,
        extra_specs: BTreeMap::new(),
    }
}

fn image(base: &str, id: &str, kernel: bool) -> ImageSpec {
    let mut properties = BTreeMap::new();
    if kernel {
        properties.insert("kernel_id".to_owned(), json!("kernel"));
        properties.insert("ramdisk_id".to_owned(), json!("ramdisk"));
        properties.insert("os_command_line".to_owned(), json!("console=ttyS0"));
    }
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

fn spec(base: &str, image_id: &str, hostname: &str) -> InstanceSpec {
    let uuid = uuid::Uuid::new_v4().to_string();
    let user_data = "#!/bin/sh\necho user-data-ran-$((6 * 7))\n";
    InstanceSpec {
        name: format!("instance-{}", &uuid[..8]),
        uuid,
        display_name: hostname.to_owned(),
        hostname: hostname.to_owned(),
        project_id: "p1".to_owned(),
        user_id: "u1".to_owned(),
        flavor: flavor(1),
        image: Some(image(base, image_id, true)),
        user_data: Some(base64::engine::general_purpose::STANDARD.encode(user_data)),
        key_name: None,
        key_data: None,
        config_drive: true,
        metadata: BTreeMap::new(),
        availability_zone: Some("nova".to_owned()),
        network_info: vec![],
        block_device_info: vec![],
    }
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "req-qemu".to_owned(),
        token: Some("t".to_owned()),
        project_id: "p1".to_owned(),
        user_id: "u1".to_owned(),
    }
}

/// Waits until the console shows the boot marker `times` times.
async fn booted(driver: &QemuDriver, uuid: &str, times: usize) -> String {
    let started = Instant::now();
    loop {
        let console = driver.console_output(uuid).await.unwrap();
        if console.matches(BOOT_MARKER).count() >= times {
            return console;
        }
        assert!(
            started.elapsed() < BOOT_TIMEOUT,
            "boot {times} of {uuid} not seen within {BOOT_TIMEOUT:?}; console:\n{console}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn power(driver: &QemuDriver, uuid: &str) -> PowerState {
    driver.get_info(uuid).await.unwrap().power_state
}

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

struct Setup {
    dir: PathBuf,
    base: String,
    images: Shared,
    config: QemuConfig,
}

async fn setup(guest: &Path) -> Setup {
    let dir = PathBuf::from(format!("/tmp/oxi-qemu-{}", &uuid::Uuid::new_v4().to_string()[..8]));
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.join("root.qcow2");
    qemu_img(&["create", "-q", "-f", "qcow2", root.to_str().unwrap(), "1G"]);
    // A qcow2 that points QEMU at a host file.
    let evil = dir.join("evil.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        "raw",
        "-b",
        "/etc/hostname",
        evil.to_str().unwrap(),
        "1G",
    ]);
    let mut images = Images::default();
    images.files.insert("root".into(), std::fs::read(&root).unwrap());
    images.files.insert("evil".into(), std::fs::read(&evil).unwrap());
    images
        .files
        .insert("kernel".into(), std::fs::read(guest.join("vmlinuz")).unwrap());
    images
        .files
        .insert("ramdisk".into(), std::fs::read(guest.join("initrd.img")).unwrap());
    let images = Arc::new(Mutex::new(images));
    let base = image_service(images.clone()).await;
    let mut config = QemuConfig::new(dir.join("instances"), "qemu-test-host");
    config.shutdown_timeout = Duration::from_secs(60);
    Setup {
        dir,
        base,
        images,
        config,
    }
}

fn guest_dir() -> Option<PathBuf> {
    match std::env::var_os("OXISTACK_TEST_GUEST") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            eprintln!("OXISTACK_TEST_GUEST is not set (scripts/build-test-image.sh DIR builds it): skipped");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_lives_its_whole_life_under_qemu() {
    let Some(guest) = guest_dir() else { return };
    let s = setup(&guest).await;
    let driver = QemuDriver::new(s.config.clone()).await.unwrap();
    let host = driver.host_resources().await.unwrap();
    assert_eq!(host.hypervisor_type, "QEMU");
    assert!(host.memory_mb > 0 && host.vcpus > 0 && host.hypervisor_version >= 7_000_000);

    // Spawn: the guest reads its config drive and runs its user data.
    let spec = spec(&s.base, "root", "guest-one");
    let uuid = spec.uuid.clone();
    driver.spawn(&ctx(), &spec).await.unwrap();
    let console = booted(&driver, &uuid, 1).await;
    assert!(
        console.contains(&format!("oxistack-test-guest: hostname=guest-one uuid={uuid}")),
        "{console}"
    );
    assert!(console.contains("user-data-ran-42"), "{console}");
    assert!(console.contains("oxistack-test-guest: user-data exit=0"), "{console}");
    assert_eq!(power(&driver, &uuid).await, PowerState::Running);
    let info = driver.get_info(&uuid).await.unwrap();
    assert_eq!(info.image_id.as_deref(), Some("root"));
    let layout = cgroup::Layout::detect();
    if let Some(limit) = layout.memory_limit(&spec.name) {
        assert_eq!(limit, (128 + s.config.memory_overhead_mb) * 1024 * 1024);
    }

    // An agent started again finds the guest running.
    let again = QemuDriver::new(s.config.clone()).await.unwrap();
    let listed = again.list_instances().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|i| i.uuid == uuid && i.power_state == PowerState::Running),
        "{listed:?}"
    );
    drop(again);

    // A cold migration to another host needs the disks copied there, which
    // this driver does not do: it refuses, and the guest keeps running.
    let refused = driver.migrate_disk_and_power_off(&spec, "elsewhere").await;
    assert!(
        matches!(&refused, Err(DriverError::Failed(m)) if m.contains("disk transfer")),
        "{refused:?}"
    );
    assert_eq!(power(&driver, &uuid).await, PowerState::Running);
    assert_eq!(qemu_processes(&uuid), 1);

    driver.pause(&uuid).await.unwrap();
    assert_eq!(power(&driver, &uuid).await, PowerState::Paused);
    assert!(matches!(
        driver.pause(&uuid).await,
        Err(DriverError::InvalidState { .. })
    ));
    driver.unpause(&uuid).await.unwrap();
    assert_eq!(power(&driver, &uuid).await, PowerState::Running);

    // Snapshot of a running guest: a qcow2 uploaded to the image service.
    let bytes = driver
        .snapshot(&ctx(), &uuid, &format!("{}/v2/images/snap/file", s.base))
        .await
        .unwrap();
    {
        let images = s.images.lock().unwrap();
        let snap = &images.uploads["snap"];
        assert_eq!(snap.len() as u64, bytes);
        assert_eq!(&snap[..4], b"QFI\xfb", "a qcow2 image");
    }
    assert_eq!(power(&driver, &uuid).await, PowerState::Running);

    // Suspend saves the guest to disk and ends QEMU; resume brings it back
    // where it was, without a boot.
    driver.suspend(&uuid).await.unwrap();
    assert_eq!(power(&driver, &uuid).await, PowerState::Suspended);
    assert_eq!(qemu_processes(&uuid), 0);
    driver.resume(&uuid).await.unwrap();
    assert_eq!(power(&driver, &uuid).await, PowerState::Running);
    assert_eq!(booted(&driver, &uuid, 1).await.matches(BOOT_MARKER).count(), 1);

    // Stop asks the guest (ACPI) to power off; start boots it again.
    driver.power_off(&uuid).await.unwrap();
    assert_eq!(power(&driver, &uuid).await, PowerState::Shutdown);
    assert_eq!(qemu_processes(&uuid), 0);
    driver.power_off(&uuid).await.unwrap();
    // Resize while off: the disk grows, and the revert brings the old one back.
    driver
        .resize(
            &InstanceSpec {
                flavor: flavor(2),
                ..spec.clone()
            },
            &flavor(1),
        )
        .await
        .unwrap();
    let disk = s.config.instances_path.join(&uuid).join("disk");
    assert_eq!(virtual_size(&disk), 2 << 30);
    assert_eq!(driver.get_info(&uuid).await.unwrap().old_flavor, Some(flavor(1)));
    driver.revert_resize(&uuid, &flavor(1)).await.unwrap();
    assert_eq!(virtual_size(&disk), 1 << 30);
    assert_eq!(power(&driver, &uuid).await, PowerState::Shutdown);

    driver.power_on(&uuid).await.unwrap();
    booted(&driver, &uuid, 2).await;
    driver.reboot(&uuid, false).await.unwrap();
    booted(&driver, &uuid, 3).await;
    assert_eq!(power(&driver, &uuid).await, PowerState::Running);

    // Destroy leaves nothing behind, and a second destroy succeeds.
    driver.destroy(&uuid).await.unwrap();
    assert_eq!(qemu_processes(&uuid), 0);
    assert!(!s.config.instances_path.join(&uuid).exists());
    assert!(layout.memory_limit(&spec.name).is_none());
    driver.destroy(&uuid).await.unwrap();
    assert!(matches!(driver.get_info(&uuid).await, Err(DriverError::NotFound(_))));
    std::fs::remove_dir_all(&s.dir).unwrap();
}

fn virtual_size(disk: &Path) -> u64 {
    let out = std::process::Command::new("qemu-img")
        .args(["info", "-U", "-f", "qcow2", "--output=json"])
        .arg(disk)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["virtual-size"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn images_that_name_host_files_are_refused() {
    let Some(guest) = guest_dir() else { return };
    let s = setup(&guest).await;
    let driver = QemuDriver::new(s.config.clone()).await.unwrap();
    let spec = spec(&s.base, "evil", "evil");
    let err = driver.spawn(&ctx(), &spec).await.unwrap_err();
    assert!(err.to_string().contains("backing file"), "{err}");
    assert_eq!(err.kind(), "ImageUnacceptable");
    assert!(!err.retryable(), "another host would refuse it too");
    assert_eq!(qemu_processes(&spec.uuid), 0);
    driver.destroy(&spec.uuid).await.unwrap();
    assert!(!s.config.instances_path.join(&spec.uuid).exists());
    let cache: Vec<_> = std::fs::read_dir(s.config.instances_path.join("_base"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(cache.is_empty(), "nothing of the refused image is kept: {cache:?}");

    // A flavor disk smaller than the image's is refused too.
    let big = s.dir.join("big.qcow2");
    qemu_img(&["create", "-q", "-f", "qcow2", big.to_str().unwrap(), "2G"]);
    s.images
        .lock()
        .unwrap()
        .files
        .insert("big".into(), std::fs::read(&big).unwrap());
    let mut small = spec.clone();
    small.uuid = uuid::Uuid::new_v4().to_string();
    small.image = Some(image(&s.base, "big", true));
    let err = driver.spawn(&ctx(), &small).await.unwrap_err();
    assert!(err.to_string().contains("smaller than the image"), "{err}");
    assert_eq!(qemu_processes(&small.uuid), 0);
    driver.destroy(&small.uuid).await.unwrap();
    std::fs::remove_dir_all(&s.dir).unwrap();
}
