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

mod guest;

use std::path::Path;
use std::time::Duration;

use compute_agent::driver::qemu::qmp::Qmp;
use compute_agent::driver::{Driver, DriverError};
use compute_agent::rpc::PowerState;
use compute_agent::{QemuConfig, QemuDriver};
use guest::{GuestEnv, ctx};

/// The root image is 1 GiB, the rescue image 64 MiB, in sectors.
const ROOT_SECTORS: &str = "2097152";
const RESCUE_SECTORS: &str = "131072";
/// The guest's user data: every half second, each virtio disk and its
/// size in sectors.
const BLOCKS_SCRIPT: &str = "#!/bin/sh\n( while :; do l='blocks:'; for d in /sys/block/vd*; do l=\"$l $(basename $d)=$(cat $d/size)\"; done; echo \"$l end\"; sleep 0.5; done ) &\n";

/// The first `blocks:` line the guest printed after boot number `boot`.
async fn guest_blocks(driver: &QemuDriver, uuid: &str, boot: usize) -> String {
    guest::console_line(driver, uuid, boot, "blocks:", true, |_| true).await
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
    let Some(env) = GuestEnv::start("qres", &[("rescue", "64M")]).await else {
        return;
    };
    let dir = env.dir.clone();
    let mut config = QemuConfig::new(dir.join("instances"), "qemu-rescue-host");
    config.shutdown_timeout = Duration::from_secs(30);
    let driver = QemuDriver::new(config.clone()).await.unwrap();
    let spec = env.spec("rescue", BLOCKS_SCRIPT);
    let uuid = spec.uuid.clone();
    let instance_dir = dir.join("instances").join(&uuid);

    driver.spawn(&ctx("req-rescue"), &spec).await.unwrap();
    let line = guest_blocks(&driver, &uuid, 1).await;
    assert!(line.starts_with(&format!("blocks: vda={ROOT_SECTORS} vdb=")), "{line}");
    assert!(!line.contains("vdc="), "root disk and config drive only: {line}");
    let err = driver.unrescue(&uuid).await.unwrap_err();
    assert!(matches!(err, DriverError::InvalidState { .. }), "{err:?}");

    // Rescue: the rescue image's disk first, the root disk second.
    driver
        .rescue(&ctx("req-rescue"), &spec, &env.image("rescue"))
        .await
        .unwrap();
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
    driver
        .rescue(&ctx("req-rescue"), &spec, &env.image("root"))
        .await
        .unwrap();
    assert!(instance_dir.join("disk.rescue").exists());
    driver.destroy(&uuid).await.unwrap();
    assert!(!instance_dir.exists());
    assert_eq!(qemu_processes(&uuid), 0, "QEMU still runs");
    assert!(matches!(driver.unrescue(&uuid).await, Err(DriverError::NotFound(_))));
}
