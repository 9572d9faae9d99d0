//! A volume grown under a running QEMU guest (TCG), as block storage
//! grows it and compute's `volume-extended` event then asks the driver:
//! the raw file gets longer, `extend_volume` resizes the disk, and the
//! guest's own `/sys/block/vdX/size` shows the new size. Needs the test
//! guest (`OXISTACK_TEST_GUEST`, built by `scripts/build-test-image.sh`);
//! skipped, saying so, without it.

mod guest;

use compute_agent::driver::Driver;
use compute_agent::rpc::PowerState;
use compute_agent::{QemuConfig, QemuDriver};
use guest::{GuestEnv, ctx, qemu_img};
use serde_json::json;

const MIB: u64 = 1 << 20;
/// The guest's user data: every half second, each virtio disk's serial and
/// size in sectors.
const SIZES_SCRIPT: &str = "#!/bin/sh\n( while :; do s=''; for d in /sys/block/vd*; do s=\"$s $(cat $d/serial 2>/dev/null)=$(cat $d/size)\"; done; echo \"sizes:$s end\"; sleep 0.5; done ) &\n";

/// Waits until the guest (after boot number `boot`) shows the disk of
/// serial `serial` with `sectors` 512-byte sectors.
async fn guest_sees(driver: &QemuDriver, uuid: &str, boot: usize, serial: &str, sectors: u64) {
    let want = format!(" {serial}={sectors} ");
    guest::console_line(driver, uuid, boot, "sizes:", false, |l| l.contains(&want)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extended_volume_grows_in_the_running_guest() {
    let Some(env) = GuestEnv::start("qgrow", &[]).await else {
        return;
    };
    let dir = env.dir.clone();
    let driver = QemuDriver::new(QemuConfig::new(dir.join("instances"), "qemu-grow-host"))
        .await
        .unwrap();
    let spec = env.spec("grow", SIZES_SCRIPT);
    let uuid = spec.uuid.clone();
    let vol = uuid::Uuid::new_v4().to_string();
    let serial = &vol[..20];
    let file = dir.join("volume-grow");
    qemu_img(&["create", "-q", "-f", "raw", file.to_str().unwrap(), "64M"]);
    let info = json!({"driver_volume_type": "file",
        "data": {"path": file, "format": "raw", "volume_id": vol, "access_mode": "rw"}});

    driver.spawn(&ctx("req-grow"), &spec).await.unwrap();
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
