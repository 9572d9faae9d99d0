//! Diagnostics of a running guest, from what QEMU and the kernel really
//! report (Nova's libvirt `get_instance_diagnostics` reads the same
//! sources through libvirt):
//!
//! - vCPUs: QMP `query-cpus-fast` gives each vCPU's host thread; its CPU
//!   time is the first field of `/proc/<pid>/task/<tid>/schedstat`
//!   (nanoseconds on a CPU);
//! - memory: the maximum is the balloon's `actual` size (`query-balloon`)
//!   when the guest has a balloon, else the `-m` it was started with; the
//!   used figure is the QEMU process's resident set (`VmRSS`), what the
//!   guest costs the host;
//! - disks: QMP `query-blockstats` (bytes, operations, failed operations);
//! - NICs: the taps' `/sys/class/net/<tap>/statistics`, swapped so that
//!   they read from the guest's side (what the tap transmits, the guest
//!   receives), as libvirt does for tap devices;
//! - uptime: the age of the QEMU process's pidfile, written when QEMU
//!   started.
//!
//! Utilisation and rates need two samples over time and are not kept:
//! they are `None`.

use std::path::Path;

use serde_json::Value;

use super::{QemuDriver, VirtType, failed, vif};
use crate::driver::DriverError;
use crate::rpc::{CpuDiagnostics, Diagnostics, DiskDiagnostics, MemoryDiagnostics, NicDiagnostics, PowerState};

const MIB: u64 = 1024 * 1024;

impl QemuDriver {
    pub(super) async fn diagnostics(&self, uuid: &str) -> Result<Diagnostics, DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        let state = self.power_state(uuid).await;
        let pid = match self.pid(uuid) {
            Some(pid) if state == PowerState::Running => pid,
            _ => return Err(Self::invalid(uuid, state, "get_diagnostics")),
        };
        let mut q = self.qmp(uuid).await?;
        let vcpus = q.execute("query-cpus-fast", None).await.map_err(failed)?;
        let blocks = q.execute("query-blockstats", None).await.map_err(failed)?;
        // Only guests with a balloon device answer this.
        let balloon = q.execute("query-balloon", None).await.ok();
        drop(q);

        let cpus = vcpus
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|c| CpuDiagnostics {
                id: c["cpu-index"].as_u64().map(|i| i as u32),
                time: c["thread-id"]
                    .as_u64()
                    .and_then(|tid| thread_cpu_ns(&format!("/proc/{pid}/task/{tid}/schedstat"))),
                utilisation: None,
            })
            .collect();
        let maximum = balloon
            .as_ref()
            .and_then(|b| b["actual"].as_u64())
            .map(|bytes| bytes / MIB)
            .or(Some(record.flavor.memory_mb));
        let used = vm_rss_kib(&format!("/proc/{pid}/status")).map(|kib| kib / 1024);
        let disks = blocks
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(disk)
            .collect();
        let nics = vif::nics(&record.spec.network_info)?
            .into_iter()
            .map(|n| nic(Path::new("/sys/class/net"), &n))
            .collect();
        Ok(Diagnostics {
            state,
            driver: "libvirt".to_owned(),
            hypervisor: Some(
                match self.config.virt_type {
                    VirtType::Qemu => "qemu",
                    VirtType::Kvm => "kvm",
                }
                .to_owned(),
            ),
            hypervisor_os: Some("linux".to_owned()),
            uptime: started_secs_ago(&self.dir(uuid).join("qemu.pid")),
            config_drive: record.config_drive,
            memory: MemoryDiagnostics { maximum, used },
            cpus,
            disks,
            nics,
        })
    }
}

/// Nanoseconds the thread has run (`schedstat`'s first field).
fn thread_cpu_ns(path: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `VmRSS:   123456 kB` of a `/proc/<pid>/status`.
fn vm_rss_kib(path: &str) -> Option<u64> {
    parse_vm_rss(&std::fs::read_to_string(path).ok()?)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn started_secs_ago(pidfile: &Path) -> Option<u64> {
    let started = std::fs::metadata(pidfile).ok()?.modified().ok()?;
    Some(started.elapsed().map(|d| d.as_secs()).unwrap_or(0))
}

/// One entry of `query-blockstats`; `None` for an entry without stats.
fn disk(entry: &Value) -> Option<DiskDiagnostics> {
    let stats = entry.get("stats")?;
    let n = |k: &str| stats[k].as_u64();
    let name = [&entry["device"], &entry["node-name"], &entry["qdev"]]
        .into_iter()
        .filter_map(Value::as_str)
        .find(|s| !s.is_empty())
        .unwrap_or_default()
        .to_owned();
    let failed = [
        "failed_rd_operations",
        "failed_wr_operations",
        "failed_flush_operations",
    ]
    .iter()
    .filter_map(|k| n(k))
    .reduce(|a, b| a + b);
    Some(DiskDiagnostics {
        name,
        read_bytes: n("rd_bytes"),
        read_requests: n("rd_operations"),
        write_bytes: n("wr_bytes"),
        write_requests: n("wr_operations"),
        errors_count: failed,
    })
}

/// A NIC's counters from its tap's statistics under `sys_net`, from the
/// guest's side.
fn nic(sys_net: &Path, n: &vif::Nic) -> NicDiagnostics {
    let dir = sys_net.join(&n.devname).join("statistics");
    let stat = |k: &str| {
        std::fs::read_to_string(dir.join(k))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    NicDiagnostics {
        name: n.devname.clone(),
        mac_address: Some(n.mac.clone()),
        rx_octets: stat("tx_bytes"),
        rx_errors: stat("tx_errors"),
        rx_drop: stat("tx_dropped"),
        rx_packets: stat("tx_packets"),
        rx_rate: None,
        tx_octets: stat("rx_bytes"),
        tx_errors: stat("rx_errors"),
        tx_drop: stat("rx_dropped"),
        tx_packets: stat("rx_packets"),
        tx_rate: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn blockstats_become_disk_details() {
        let entry = json!({"device": "virtio0", "qdev": "/machine/peripheral-anon/device[0]/virtio-backend",
            "stats": {"rd_bytes": 1024, "rd_operations": 2, "wr_bytes": 4096, "wr_operations": 1,
                      "failed_rd_operations": 1, "failed_wr_operations": 0, "failed_flush_operations": 2}});
        let d = disk(&entry).unwrap();
        assert_eq!(d.name, "virtio0");
        assert_eq!(
            (
                d.read_bytes,
                d.read_requests,
                d.write_bytes,
                d.write_requests,
                d.errors_count
            ),
            (Some(1024), Some(2), Some(4096), Some(1), Some(3))
        );
        // A hot-plugged volume has no drive name: its node or device names it.
        let d = disk(&json!({"device": "", "node-name": "vol-x-fmt", "stats": {"rd_bytes": 0}})).unwrap();
        assert_eq!(d.name, "vol-x-fmt");
        assert_eq!(d.errors_count, None);
        assert!(disk(&json!({"device": "cd0"})).is_none());
    }

    #[test]
    fn tap_counters_are_read_from_the_guest_side() {
        let dir = std::env::temp_dir().join(format!("diag-nic-{}", std::process::id()));
        let stats = dir.join("tap0123").join("statistics");
        std::fs::create_dir_all(&stats).unwrap();
        for (k, v) in [("rx_bytes", 10), ("tx_bytes", 20), ("rx_packets", 1), ("tx_packets", 2)] {
            std::fs::write(stats.join(k), format!("{v}\n")).unwrap();
        }
        let n = vif::Nic {
            port_id: "p".into(),
            mac: "fa:16:3e:00:00:01".into(),
            devname: "tap0123".into(),
        };
        let d = nic(&dir, &n);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            (d.rx_octets, d.tx_octets, d.rx_packets, d.tx_packets),
            (Some(20), Some(10), Some(2), Some(1))
        );
        assert_eq!(d.rx_errors, None, "a counter the kernel does not show stays unknown");
        assert_eq!(d.mac_address.as_deref(), Some("fa:16:3e:00:00:01"));
    }

    #[test]
    fn vm_rss_is_read_in_kib() {
        assert_eq!(parse_vm_rss("Name:\tqemu\nVmRSS:\t  204800 kB\n"), Some(204800));
        assert_eq!(parse_vm_rss("Name:\tqemu\n"), None);
        assert!(thread_cpu_ns("/proc/self/schedstat").is_some());
    }
}
