//! Volumes of real QEMU guests (TCG): a raw file hot-plugged into a
//! running test guest, which sees a virtio disk with the volume's serial;
//! kept across a hard reboot and a restart of the driver; unplugged;
//! attached while the guest is off and present at its next boot. Needs
//! the test guest (`OXISTACK_TEST_GUEST`, built by
//! `scripts/build-test-image.sh`); skipped, saying so, without it.
//!
//! The guest's user data prints its virtio disks' serials to the console
//! every half second, so the test reads what the guest itself sees.

mod guest;

use std::path::Path;

use compute_agent::QemuConfig;
use compute_agent::QemuDriver;
use compute_agent::driver::Driver;
use compute_agent::driver::qemu::qmp::Qmp;
use compute_agent::rpc::PowerState;
use guest::{GuestEnv, ctx, qemu_img};
use serde_json::json;

/// The guest's user data: its virtio disks' serials, every half second.
const DISKS_SCRIPT: &str = "#!/bin/sh\n( while :; do echo \"disks: $(cat /sys/block/vd*/serial 2>/dev/null | tr '\\n' ' ')end\"; sleep 0.5; done ) &\n";

/// Waits for the console's last `disks:` line (after boot `boot`) to
/// satisfy `ok`.
async fn guest_disks(driver: &QemuDriver, uuid: &str, boot: usize, ok: impl Fn(&str) -> bool) -> String {
    guest::console_line(driver, uuid, boot, "disks:", false, ok).await
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
    let Some(env) = GuestEnv::start("qvol", &[]).await else {
        return;
    };
    let dir = env.dir.clone();
    let config = QemuConfig::new(dir.join("instances"), "qemu-vol-host");
    let driver = QemuDriver::new(config.clone()).await.unwrap();
    let spec = env.spec("vols", DISKS_SCRIPT);
    let uuid = spec.uuid.clone();
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

    driver.spawn(&ctx("req-vol"), &spec).await.unwrap();
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
