//! Diagnostics of a real QEMU guest (TCG), one boot: the figures come
//! from QMP and `/proc` (the vCPU's CPU time grows, the guest's reads of
//! its root disk show in `query-blockstats`, the process's resident
//! memory), and a guest that is powered off has none. Needs the test
//! guest (`OXISTACK_TEST_GUEST`, built by `scripts/build-test-image.sh`);
//! skipped, saying so, without it.

mod guest;

use std::time::Duration;

use compute_agent::driver::{Driver, DriverError};
use compute_agent::rpc::PowerState;
use compute_agent::{QemuConfig, QemuDriver};
use guest::{GuestEnv, ctx};

/// The guest's user data: read 8 MiB of its root disk, then say so.
const READ_SCRIPT: &str =
    "#!/bin/sh\ndd if=/dev/vda of=/dev/null bs=1048576 count=8 2>/dev/null; echo diag-read-done\n";

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn a_running_guest_has_real_diagnostics() {
    let Some(env) = GuestEnv::start("qdiag", &[]).await else {
        return;
    };
    let mut config = QemuConfig::new(env.dir.join("instances"), "qemu-diag-host");
    config.shutdown_timeout = Duration::from_secs(5);
    let driver = QemuDriver::new(config).await.unwrap();
    let spec = env.spec("diag", READ_SCRIPT);
    let uuid = spec.uuid.clone();
    driver.spawn(&ctx("req-diag"), &spec).await.unwrap();
    // User data runs before the guest's ready marker: before boot 1's.
    guest::console_line(&driver, &uuid, 0, "diag-read-done", true, |_| true).await;

    let d = driver.get_diagnostics(&uuid).await.unwrap();
    assert_eq!(d.state, PowerState::Running);
    assert_eq!(d.driver, "libvirt");
    assert_eq!(d.hypervisor.as_deref(), Some("qemu"));
    assert!(d.config_drive);
    assert!(d.uptime.is_some(), "{d:?}");
    assert_eq!(d.cpus.len(), 1, "{d:?}");
    assert_eq!(d.cpus[0].id, Some(0));
    let cpu_time = d.cpus[0].time.expect("the vCPU thread's CPU time");
    assert!(cpu_time > 0, "{d:?}");
    assert_eq!(
        d.memory.maximum,
        Some(128),
        "no balloon: the memory it was started with"
    );
    assert!(d.memory.used.is_some_and(|mib| mib > 0), "{d:?}");
    // The root disk and the config drive.
    assert_eq!(d.disks.len(), 2, "{d:?}");
    let read: u64 = d.disks.iter().filter_map(|k| k.read_bytes).sum();
    assert!(read >= 8 * MIB, "the guest read 8 MiB of its root disk: {d:?}");
    assert!(d.disks.iter().all(|k| k.errors_count == Some(0)), "{d:?}");
    assert!(d.nics.is_empty());

    // Time goes on for a running guest.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = driver.get_diagnostics(&uuid).await.unwrap();
    assert!(again.cpus[0].time.unwrap() >= cpu_time, "{again:?}");

    // Powered off: nothing to measure.
    driver.power_off(&uuid).await.unwrap();
    let err = driver.get_diagnostics(&uuid).await.unwrap_err();
    assert!(
        matches!(
            err,
            DriverError::InvalidState {
                state: PowerState::Shutdown,
                ..
            }
        ),
        "{err:?}"
    );
    driver.destroy(&uuid).await.unwrap();
    assert!(matches!(
        driver.get_diagnostics(&uuid).await.unwrap_err(),
        DriverError::NotFound(_)
    ));
}
