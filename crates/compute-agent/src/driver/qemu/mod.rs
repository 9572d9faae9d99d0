//! The `qemu` driver: each instance is a `qemu-system-x86_64` process,
//! driven over QMP ([`qmp`]).
//!
//! Everything the driver knows lives in the instance's directory,
//! `<instances_path>/<uuid>/` (Nova's layout): `instance.json` (the spec,
//! flavors, boot files), `disk` (a qcow2 overlay on a cached base image,
//! [`disk`]), `disk.config` (the config drive, [`config_drive`]),
//! `console.log` (the serial port, appended across boots), `qmp.sock`,
//! `qemu.pid`, `suspend.state` while suspended and `disk.orig` between a
//! resize and its confirmation. QEMU runs daemonized, so guests outlive
//! the agent; an agent started again over the same directory finds them
//! by pidfile (checked against the process's command line) and QMP socket,
//! and a guest whose process is gone is `Shutdown`.
//!
//! Power states come from the process and QMP: no process is `Shutdown`
//! (`Suspended` when a saved state waits), otherwise `query-status`
//! tells running, paused or crashed. Suspend saves the guest's state with
//! a migration to a file and ends the process; resume starts QEMU with
//! that state as its incoming migration. Stop and soft reboot ask the guest
//! through the ACPI power button and wait `shutdown_timeout` before
//! pulling the plug, as Nova's libvirt driver does.
//!
//! Each QEMU runs in its own cgroup limited to the flavor's memory (plus
//! `memory_overhead_mb` for QEMU itself) and vCPUs ([`cgroup`]).
//!
//! Volumes are hot-plugged over QMP and kept in the record for every
//! later start ([`volumes`]).
//!
//! Ports are virtio-net NICs on the taps the network agent makes, hot-plugged
//! over QMP and kept in the record's `spec.network_info` ([`vif`]).
//!
//! A rescued guest boots `disk.rescue` (an overlay of the rescue image)
//! with its own `disk` second ([`rescue`]).
//!
//! Diagnostics come from QMP, `/proc` and the taps' statistics
//! ([`diagnostics`]).
//!
//! Not here yet: a KVM probe by test boot (`virt_type` is chosen by the
//! operator; TCG by default because nested `/dev/kvm` on these machines
//! cannot boot stock kernels), live migration.

pub mod cgroup;
pub mod config_drive;
pub mod diagnostics;
pub mod disk;
pub mod qmp;
pub mod rescue;
pub mod vif;
pub mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::process::Command;

use super::{Driver, DriverError, DriverInstance, InstanceInfo};
use crate::rpc::{Diagnostics, FlavorSpec, HostResources, ImageSpec, InstanceSpec, PowerState, RequestContext};
use qmp::Qmp;

/// How much of the serial log `console_output` returns at most (Nova's
/// libvirt driver: 100 KiB).
const MAX_CONSOLE_BYTES: u64 = 100 * 1024;
/// How long a QEMU process has to end after `quit` before it is killed.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Unix socket paths longer than this cannot be bound.
const MAX_SOCKET_PATH: usize = 107;

/// Which accelerator guests run on (Nova's `[libvirt] virt_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VirtType {
    /// TCG: emulation, works everywhere.
    Qemu,
    Kvm,
}

impl std::str::FromStr for VirtType {
    type Err = String;
    fn from_str(s: &str) -> Result<VirtType, String> {
        match s {
            "qemu" => Ok(VirtType::Qemu),
            "kvm" => Ok(VirtType::Kvm),
            other => Err(format!("virt_type {other:?}: expected qemu or kvm")),
        }
    }
}

/// The driver's settings, with Nova's option names where Nova has them.
#[derive(Debug, Clone, PartialEq)]
pub struct QemuConfig {
    /// `instances_path`: instance directories and the `_base` image cache.
    pub instances_path: PathBuf,
    /// The hypervisor's name in `os-hypervisors`.
    pub hypervisor_hostname: String,
    pub host_ip: String,
    /// `[libvirt] virt_type`.
    pub virt_type: VirtType,
    /// QEMU's `-machine`.
    pub machine_type: String,
    /// `shutdown_timeout`: how long a guest has to power off on ACPI
    /// before it is stopped hard.
    pub shutdown_timeout: Duration,
    /// `force_config_drive`: a config drive for every instance, not only
    /// for those that ask (the only metadata source until the network
    /// issue brings the metadata service).
    pub force_config_drive: bool,
    /// `remove_unused_original_minimum_age_seconds`.
    pub remove_unused_original_minimum_age: Duration,
    /// Memory allowed to each QEMU process beyond the guest's RAM.
    pub memory_overhead_mb: u64,
    /// `vif_plugging_timeout`: how long a start waits for the network
    /// agent to make the ports' taps.
    pub vif_plugging_timeout: Duration,
    pub qemu_binary: PathBuf,
}

impl QemuConfig {
    /// Nova's defaults, TCG, machine `pc`.
    pub fn new(instances_path: impl Into<PathBuf>, hypervisor_hostname: impl Into<String>) -> QemuConfig {
        QemuConfig {
            instances_path: instances_path.into(),
            hypervisor_hostname: hypervisor_hostname.into(),
            host_ip: "127.0.0.1".to_owned(),
            virt_type: VirtType::Qemu,
            machine_type: "pc".to_owned(),
            shutdown_timeout: Duration::from_secs(60),
            force_config_drive: true,
            remove_unused_original_minimum_age: Duration::from_secs(86_400),
            memory_overhead_mb: 256,
            vif_plugging_timeout: Duration::from_secs(300),
            qemu_binary: PathBuf::from("qemu-system-x86_64"),
        }
    }
}

/// Named async locks: one per instance (operations and QMP connections
/// never overlap on an instance) and one per cached image.
#[derive(Default)]
pub struct Locks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl Locks {
    fn entry(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    pub async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.entry(key).lock_owned().await
    }

    fn try_lock(&self, key: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.entry(key).try_lock_owned().ok()
    }
}

/// What `instance.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    spec: InstanceSpec,
    flavor: FlavorSpec,
    old_flavor: Option<FlavorSpec>,
    /// Direct kernel boot (the image's `kernel_id` / `ramdisk_id`).
    kernel: Option<PathBuf>,
    ramdisk: Option<PathBuf>,
    cmdline: Option<String>,
    config_drive: bool,
    /// Attached volumes, put on the command line at every start.
    #[serde(default)]
    volumes: Vec<volumes::AttachedVolume>,
    /// Set while rescued: what boots instead of the root disk.
    #[serde(default)]
    rescue: Option<rescue::RescueBoot>,
}

impl Record {
    /// The cached images the instance needs.
    fn image_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.spec.image.iter().map(|i| i.id.clone()).collect();
        let mut files: Vec<&PathBuf> = self.kernel.iter().chain(self.ramdisk.iter()).collect();
        if let Some(r) = &self.rescue {
            ids.push(r.image_id.clone());
            files.extend(r.kernel.iter().chain(r.ramdisk.iter()));
        }
        for f in files {
            if let Some(stem) = f.file_stem() {
                ids.push(stem.to_string_lossy().into_owned());
            }
        }
        ids
    }
}

pub struct QemuDriver {
    config: QemuConfig,
    cache: disk::ImageCache,
    cgroups: cgroup::Layout,
    locks: Locks,
    /// `qemu-system-x86_64 --version` as Nova encodes it (7.2.22 → 7002022).
    version: u64,
}

fn failed(what: impl std::fmt::Display) -> DriverError {
    DriverError::Failed(what.to_string())
}

fn io(what: &str, path: &Path, e: std::io::Error) -> DriverError {
    failed(format!("{what} {}: {e}", path.display()))
}

impl QemuDriver {
    /// Checks that QEMU runs and the instances directory is usable.
    pub async fn new(config: QemuConfig) -> Result<QemuDriver, DriverError> {
        std::fs::create_dir_all(&config.instances_path).map_err(|e| io("cannot create", &config.instances_path, e))?;
        let longest = config
            .instances_path
            .join(uuid::Uuid::nil().to_string())
            .join("qmp.sock");
        if longest.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(failed(format!(
                "instances_path {} is too long for QMP sockets (at most {} bytes with the instance's directory)",
                config.instances_path.display(),
                MAX_SOCKET_PATH
            )));
        }
        let out = Command::new(&config.qemu_binary)
            .arg("--version")
            .output()
            .await
            .map_err(|e| failed(format!("cannot run {}: {e}", config.qemu_binary.display())))?;
        let version = parse_version(&String::from_utf8_lossy(&out.stdout))
            .ok_or_else(|| failed(format!("{} --version: unexpected output", config.qemu_binary.display())))?;
        let cgroups = cgroup::Layout::detect();
        if cgroups == cgroup::Layout::None {
            tracing::warn!("no writable memory cgroup: guests run without memory and CPU limits");
        }
        tracing::info!(
            instances_path = %config.instances_path.display(),
            virt_type = ?config.virt_type,
            qemu_version = version,
            cgroups = ?cgroups,
            "qemu driver ready"
        );
        Ok(QemuDriver {
            cache: disk::ImageCache::new(config.instances_path.join("_base")),
            config,
            cgroups,
            locks: Locks::default(),
            version,
        })
    }

    fn dir(&self, uuid: &str) -> PathBuf {
        self.config.instances_path.join(uuid)
    }

    fn load(&self, uuid: &str) -> Result<Record, DriverError> {
        if uuid::Uuid::parse_str(uuid).is_err() {
            return Err(DriverError::NotFound(uuid.to_owned()));
        }
        let path = self.dir(uuid).join("instance.json");
        let text = std::fs::read_to_string(&path).map_err(|_| DriverError::NotFound(uuid.to_owned()))?;
        serde_json::from_str(&text).map_err(|e| failed(format!("{}: {e}", path.display())))
    }

    fn save(&self, record: &Record) -> Result<(), DriverError> {
        let dir = self.dir(&record.spec.uuid);
        let tmp = dir.join("instance.json.tmp");
        let text = serde_json::to_vec_pretty(record).map_err(|e| failed(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| io("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, dir.join("instance.json")).map_err(|e| io("cannot write", &tmp, e))
    }

    /// The instance's QEMU process, if it runs (a pid whose command line
    /// is not this instance's QEMU is not it).
    fn pid(&self, uuid: &str) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.dir(uuid).join("qemu.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        (cmdline.contains(uuid) && !is_zombie(pid)).then_some(pid)
    }

    async fn qmp(&self, uuid: &str) -> Result<Qmp, DriverError> {
        Qmp::connect(&self.dir(uuid).join("qmp.sock"))
            .await
            .map_err(|e| failed(format!("instance {uuid}: {e}")))
    }

    async fn power_state(&self, uuid: &str) -> PowerState {
        if self.pid(uuid).is_none() {
            return if self.dir(uuid).join("suspend.state").exists() {
                PowerState::Suspended
            } else {
                PowerState::Shutdown
            };
        }
        let status = match self.qmp(uuid).await {
            Ok(mut q) => q.status().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        match status.as_str() {
            "running" | "" => PowerState::Running,
            "internal-error" | "guest-panicked" | "io-error" => PowerState::Crashed,
            "shutdown" => PowerState::Shutdown,
            _ => PowerState::Paused,
        }
    }

    fn invalid(uuid: &str, state: PowerState, operation: &str) -> DriverError {
        DriverError::InvalidState {
            uuid: uuid.to_owned(),
            state,
            operation: operation.to_owned(),
        }
    }

    /// Starts QEMU for `record` (from `incoming`, a saved state, when given).
    async fn launch(&self, record: &Record, incoming: Option<&Path>) -> Result<(), DriverError> {
        let uuid = &record.spec.uuid;
        let dir = self.dir(uuid);
        let _ = std::fs::remove_file(dir.join("qmp.sock"));
        let _ = std::fs::remove_file(dir.join("qemu.pid"));
        let mut args: Vec<String> = Vec::new();
        let mut push = |parts: &[&str]| args.extend(parts.iter().map(|s| (*s).to_owned()));
        push(&[
            "-name",
            &record.spec.name,
            "-uuid",
            uuid,
            "-machine",
            &self.config.machine_type,
        ]);
        match self.config.virt_type {
            VirtType::Qemu => push(&["-accel", "tcg,tb-size=32"]),
            VirtType::Kvm => push(&["-accel", "kvm", "-cpu", "host"]),
        }
        let memory = record.flavor.memory_mb.to_string();
        let vcpus = record.flavor.vcpus.max(1).to_string();
        push(&["-m", &memory, "-smp", &vcpus]);
        push(&["-nodefaults", "-no-user-config", "-display", "none"]);
        let qmp = format!(
            "socket,id=qmp,path={},server=on,wait=off",
            dir.join("qmp.sock").display()
        );
        push(&["-chardev", &qmp, "-mon", "chardev=qmp,mode=control"]);
        let serial = format!("file,id=serial0,path={},append=on", dir.join("console.log").display());
        push(&["-chardev", &serial, "-serial", "chardev:serial0"]);
        for a in rescue::root_drives(record, &dir) {
            push(&[&a]);
        }
        if record.config_drive {
            let cd = format!(
                "file={},format=raw,if=virtio,readonly=on",
                dir.join("disk.config").display()
            );
            push(&["-drive", &cd]);
        }
        let (kernel, ramdisk, cmdline) = rescue::boot_files(record);
        if let Some(kernel) = kernel {
            push(&["-kernel", &kernel.to_string_lossy()]);
            push(&["-append", cmdline.unwrap_or(DEFAULT_CMDLINE)]);
        }
        if let Some(ramdisk) = ramdisk {
            push(&["-initrd", &ramdisk.to_string_lossy()]);
        }
        if let Some(state) = incoming {
            push(&["-incoming", &format!("exec:cat '{}'", state.display())]);
        }
        let pidfile = dir.join("qemu.pid");
        push(&["-pidfile", &pidfile.to_string_lossy(), "-daemonize"]);
        args.extend(volumes::command_line(&record.volumes));
        let nics = vif::nics(&record.spec.network_info)?;
        args.extend(vif::command_line(&nics));

        vif::wait_for_taps(&nics, self.config.vif_plugging_timeout).await?;
        let started = Instant::now();
        let out = Command::new(&self.config.qemu_binary)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| failed(format!("cannot run {}: {e}", self.config.qemu_binary.display())))?;
        if !out.status.success() {
            return Err(failed(format!(
                "QEMU did not start: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let pid = self
            .pid(uuid)
            .ok_or_else(|| failed("QEMU started but its process is gone (see the console log)"))?;
        let memory_limit = record.flavor.memory_mb + self.config.memory_overhead_mb;
        if let Err(e) = self
            .cgroups
            .confine(&record.spec.name, pid, memory_limit, record.flavor.vcpus)
        {
            tracing::warn!(instance = %uuid, error = %e, "cannot put the guest in its cgroup; it runs without limits");
        }
        tracing::info!(instance = %uuid, pid, elapsed_ms = started.elapsed().as_millis() as u64, "QEMU started");
        Ok(())
    }

    /// Ends the QEMU process now (`quit`, then SIGKILL).
    async fn kill(&self, record: &Record) {
        let uuid = &record.spec.uuid;
        if let Some(pid) = self.pid(uuid) {
            if let Ok(mut q) = self.qmp(uuid).await {
                let _ = q.execute("quit", None).await;
            }
            if !self.wait_exit(uuid, QUIT_TIMEOUT).await {
                tracing::warn!(instance = %uuid, pid, "QEMU did not quit; killing it");
                if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
                self.wait_exit(uuid, QUIT_TIMEOUT).await;
            }
        }
        self.after_exit(record).await;
    }

    async fn after_exit(&self, record: &Record) {
        let dir = self.dir(&record.spec.uuid);
        let _ = std::fs::remove_file(dir.join("qmp.sock"));
        let _ = std::fs::remove_file(dir.join("qemu.pid"));
        self.cgroups.release(&record.spec.name).await;
    }

    async fn wait_exit(&self, uuid: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.pid(uuid).is_none() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses the ACPI power button and waits for the guest to power off;
    /// false when it did not within `shutdown_timeout`.
    async fn clean_shutdown(&self, record: &Record) -> bool {
        let uuid = &record.spec.uuid;
        if let Ok(mut q) = self.qmp(uuid).await
            && q.execute("system_powerdown", None).await.is_ok()
        {
            drop(q);
            if self.wait_exit(uuid, self.config.shutdown_timeout).await {
                self.after_exit(record).await;
                return true;
            }
            tracing::warn!(instance = %uuid, timeout = ?self.config.shutdown_timeout,
                "the guest did not power off on ACPI; stopping it hard");
        }
        false
    }

    /// Stops the guest, cleanly when it runs; true when it was running.
    async fn power_down(&self, record: &Record) -> bool {
        let uuid = &record.spec.uuid;
        if self.pid(uuid).is_none() {
            return false;
        }
        let was_running = self.power_state(uuid).await == PowerState::Running;
        if !(was_running && self.clean_shutdown(record).await) {
            self.kill(record).await;
        }
        was_running
    }

    /// Fetches the image(s) of `spec` and writes a fresh root disk and
    /// config drive; returns the record to boot.
    async fn prepare(&self, ctx: &RequestContext, spec: &InstanceSpec) -> Result<Record, DriverError> {
        let dir = self.dir(&spec.uuid);
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        let image = spec.image.as_ref().ok_or_else(|| {
            failed("the instance has no image: booting from a volume needs the block storage service, which is not built yet")
        })?;
        let boot = self.fetch(ctx, image).await?;
        let root = dir.join("disk");
        let _ = std::fs::remove_file(&root);
        disk::create_overlay(&boot.base, &root, spec.flavor.root_gb).await?;
        let config_drive = spec.config_drive || self.config.force_config_drive;
        if config_drive {
            config_drive::build(spec, &dir.join("disk.config")).await?;
        }
        Ok(Record {
            spec: spec.clone(),
            flavor: spec.flavor.clone(),
            old_flavor: None,
            kernel: boot.kernel,
            ramdisk: boot.ramdisk,
            cmdline: boot.cmdline,
            config_drive,
            volumes: Vec::new(),
            rescue: None,
        })
    }

    /// Fetches `image` (and its `kernel_id` / `ramdisk_id` siblings) into
    /// the cache.
    async fn fetch(&self, ctx: &RequestContext, image: &ImageSpec) -> Result<BootImage, DriverError> {
        let url = image
            .file_url
            .as_deref()
            .ok_or_else(|| failed(format!("image {} has no data URL", image.id)))?;
        let disk_format = image.disk_format.as_deref().unwrap_or("raw");
        let token = ctx.token.as_deref();
        let base = self.cache.disk(&image.id, disk_format, url, token).await?;
        let boot_file = |key: &str| -> Option<(String, String)> {
            let id = image.properties.get(key)?.as_str()?.to_owned();
            let sibling = url.strip_suffix(&format!("{}/file", image.id))?;
            Some((format!("{sibling}{id}/file"), id))
        };
        let (kernel_ref, ramdisk_ref) = (boot_file("kernel_id"), boot_file("ramdisk_id"));
        let kernel = match kernel_ref {
            Some((url, id)) => Some(self.cache.file(&id, &url, token).await?),
            None => None,
        };
        let ramdisk = match ramdisk_ref {
            Some((url, id)) => Some(self.cache.file(&id, &url, token).await?),
            None => None,
        };
        Ok(BootImage {
            base,
            kernel,
            ramdisk,
            cmdline: image
                .properties
                .get("os_command_line")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    fn in_use_images(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.config.instances_path) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| self.load(&e.file_name().to_string_lossy()).ok())
            .flat_map(|r| r.image_ids())
            .collect()
    }
}

/// An image in the cache, ready to boot.
struct BootImage {
    base: disk::Base,
    kernel: Option<PathBuf>,
    ramdisk: Option<PathBuf>,
    cmdline: Option<String>,
}

/// The kernel command line when the image has no `os_command_line`
/// (Nova's libvirt driver's default for direct kernel boot).
const DEFAULT_CMDLINE: &str = "root=/dev/vda console=tty0 console=ttyS0";

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// `QEMU emulator version 7.2.22 (Debian …)` → 7002022.
fn parse_version(text: &str) -> Option<u64> {
    let v = text.split("version ").nth(1)?.split_whitespace().next()?;
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    let (major, minor, micro) = (
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
        parts.next().flatten().unwrap_or(0),
    );
    Some(major * 1_000_000 + minor * 1_000 + micro)
}

fn meminfo_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

fn cpu_info(vcpus: u32) -> Value {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let flags = field("flags");
    json!({
        "arch": std::env::consts::ARCH,
        "model": field("model name"),
        "vendor": field("vendor_id"),
        "topology": {"sockets": 1, "cores": vcpus, "threads": 1},
        "features": flags.split_whitespace().collect::<Vec<_>>(),
    })
}

#[async_trait::async_trait]
impl Driver for QemuDriver {
    fn name(&self) -> &'static str {
        "qemu"
    }

    async fn host_resources(&self) -> Result<HostResources, DriverError> {
        let vcpus = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        let fs = rustix::fs::statvfs(&self.config.instances_path)
            .map_err(|e| failed(format!("statvfs {}: {e}", self.config.instances_path.display())))?;
        Ok(HostResources {
            vcpus,
            memory_mb: meminfo_mb(),
            local_gb: fs.f_blocks * fs.f_frsize / (1024 * 1024 * 1024),
            hypervisor_type: "QEMU".to_owned(),
            hypervisor_version: self.version,
            hypervisor_hostname: self.config.hypervisor_hostname.clone(),
            cpu_info: cpu_info(vcpus),
            host_ip: self.config.host_ip.clone(),
        })
    }

    async fn list_instances(&self) -> Result<Vec<DriverInstance>, DriverError> {
        let entries = std::fs::read_dir(&self.config.instances_path)
            .map_err(|e| io("cannot read", &self.config.instances_path, e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let uuid = entry.file_name().to_string_lossy().into_owned();
            if self.load(&uuid).is_err() {
                continue;
            }
            // An operation in progress holds the QMP socket: judge by the process.
            let power_state = match self.locks.try_lock(&uuid) {
                Some(_guard) => self.power_state(&uuid).await,
                None if self.pid(&uuid).is_some() => PowerState::Running,
                None => PowerState::Shutdown,
            };
            out.push(DriverInstance { uuid, power_state });
        }
        Ok(out)
    }

    async fn get_info(&self, uuid: &str) -> Result<InstanceInfo, DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let r = self.load(uuid)?;
        Ok(InstanceInfo {
            uuid: uuid.to_owned(),
            name: r.spec.name.clone(),
            power_state: self.power_state(uuid).await,
            flavor: r.flavor.clone(),
            old_flavor: r.old_flavor.clone(),
            image_id: r.spec.image.as_ref().map(|i| i.id.clone()),
            volumes: r.volumes.iter().map(|v| v.volume_id.clone()).collect(),
            interfaces: r
                .spec
                .network_info
                .iter()
                .filter_map(|v| v["id"].as_str().map(str::to_owned))
                .collect(),
        })
    }

    async fn spawn(&self, ctx: &RequestContext, spec: &InstanceSpec) -> Result<(), DriverError> {
        let _guard = self.locks.lock(&spec.uuid).await;
        if uuid::Uuid::parse_str(&spec.uuid).is_err() {
            return Err(failed(format!("{:?} is not an instance uuid", spec.uuid)));
        }
        let record = self.prepare(ctx, spec).await?;
        self.save(&record)?;
        self.launch(&record, None).await
    }

    async fn destroy(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let Ok(record) = self.load(uuid) else {
            // Gone already, or a spawn that failed before its record.
            if uuid::Uuid::parse_str(uuid).is_ok() {
                let _ = std::fs::remove_dir_all(self.dir(uuid));
            }
            return Ok(());
        };
        self.kill(&record).await;
        let dir = self.dir(uuid);
        std::fs::remove_dir_all(&dir).map_err(|e| io("cannot remove", &dir, e))?;
        self.cache
            .clean(&self.in_use_images(), self.config.remove_unused_original_minimum_age);
        Ok(())
    }

    async fn reboot(&self, uuid: &str, hard: bool) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        if !hard {
            let state = self.power_state(uuid).await;
            if state != PowerState::Running {
                return Err(Self::invalid(uuid, state, "soft reboot"));
            }
            if !self.clean_shutdown(&record).await {
                self.kill(&record).await;
            }
        } else {
            self.kill(&record).await;
            let _ = std::fs::remove_file(self.dir(uuid).join("suspend.state"));
        }
        let record = self.end_rescue(record)?;
        self.launch(&record, None).await
    }

    async fn power_off(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        self.power_down(&record).await;
        let _ = std::fs::remove_file(self.dir(uuid).join("suspend.state"));
        Ok(())
    }

    async fn power_on(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        if self.pid(uuid).is_some() {
            return Ok(());
        }
        let _ = std::fs::remove_file(self.dir(uuid).join("suspend.state"));
        let record = self.end_rescue(record)?;
        self.launch(&record, None).await
    }

    async fn pause(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        self.load(uuid)?;
        let state = self.power_state(uuid).await;
        if state != PowerState::Running {
            return Err(Self::invalid(uuid, state, "pause"));
        }
        self.qmp(uuid)
            .await?
            .execute("stop", None)
            .await
            .map_err(failed)
            .map(drop)
    }

    async fn unpause(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        self.load(uuid)?;
        let state = self.power_state(uuid).await;
        if state != PowerState::Paused {
            return Err(Self::invalid(uuid, state, "unpause"));
        }
        self.qmp(uuid)
            .await?
            .execute("cont", None)
            .await
            .map_err(failed)
            .map(drop)
    }

    async fn suspend(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        let state = self.power_state(uuid).await;
        if !matches!(state, PowerState::Running | PowerState::Paused) {
            return Err(Self::invalid(uuid, state, "suspend"));
        }
        let dir = self.dir(uuid);
        let part = dir.join("suspend.state.part");
        let mut q = self.qmp(uuid).await?;
        q.execute("stop", None).await.map_err(failed)?;
        let uri = format!("exec:cat > '{}'", part.display());
        q.execute("migrate", Some(json!({"uri": uri}))).await.map_err(failed)?;
        loop {
            let m = q.execute("query-migrate", None).await.map_err(failed)?;
            match m["status"].as_str().unwrap_or_default() {
                "completed" => break,
                "failed" | "cancelled" => {
                    let _ = q.execute("cont", None).await;
                    let _ = std::fs::remove_file(&part);
                    return Err(failed(format!(
                        "saving the guest's state failed: {}",
                        m["error-desc"].as_str().unwrap_or("unknown error")
                    )));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        std::fs::rename(&part, dir.join("suspend.state")).map_err(|e| io("cannot keep", &part, e))?;
        let _ = q.execute("quit", None).await;
        drop(q);
        self.wait_exit(uuid, QUIT_TIMEOUT).await;
        self.kill(&record).await;
        Ok(())
    }

    async fn resume(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        let state_file = self.dir(uuid).join("suspend.state");
        let state = self.power_state(uuid).await;
        if state != PowerState::Suspended {
            return Err(Self::invalid(uuid, state, "resume"));
        }
        self.launch(&record, Some(&state_file)).await?;
        let mut q = self.qmp(uuid).await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while q.status().await.map_err(failed)? == "inmigrate" {
            if Instant::now() >= deadline {
                return Err(failed("restoring the guest's saved state took over 120 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        q.execute("cont", None).await.map_err(failed)?;
        let _ = std::fs::remove_file(&state_file);
        Ok(())
    }

    async fn rebuild(&self, ctx: &RequestContext, spec: &InstanceSpec) -> Result<(), DriverError> {
        let _guard = self.locks.lock(&spec.uuid).await;
        let old = self.load(&spec.uuid)?;
        let was_running = self.pid(&spec.uuid).is_some();
        self.kill(&old).await;
        let _ = std::fs::remove_file(self.dir(&spec.uuid).join("suspend.state"));
        let old = self.end_rescue(old)?;
        let mut record = self.prepare(ctx, spec).await?;
        record.volumes = old.volumes.clone();
        self.save(&record)?;
        if was_running {
            self.launch(&record, None).await?;
        }
        Ok(())
    }

    async fn resize(&self, spec: &InstanceSpec, old_flavor: &FlavorSpec) -> Result<(), DriverError> {
        let _guard = self.locks.lock(&spec.uuid).await;
        let mut record = self.load(&spec.uuid)?;
        let dir = self.dir(&spec.uuid);
        let was_running = self.power_down(&record).await;
        tokio::fs::copy(dir.join("disk"), dir.join("disk.orig"))
            .await
            .map_err(|e| io("cannot keep the disk of", &dir, e))?;
        disk::grow(&dir.join("disk"), spec.flavor.root_gb).await?;
        record.spec = spec.clone();
        record.flavor = spec.flavor.clone();
        record.old_flavor = Some(old_flavor.clone());
        self.save(&record)?;
        if was_running {
            self.launch(&record, None).await?;
        }
        Ok(())
    }

    async fn confirm_resize(&self, uuid: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let mut record = self.load(uuid)?;
        let _ = std::fs::remove_file(self.dir(uuid).join("disk.orig"));
        record.old_flavor = None;
        self.save(&record)
    }

    async fn revert_resize(&self, uuid: &str, old_flavor: &FlavorSpec) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let mut record = self.load(uuid)?;
        let dir = self.dir(uuid);
        let was_running = self.power_down(&record).await;
        if dir.join("disk.orig").exists() {
            std::fs::rename(dir.join("disk.orig"), dir.join("disk"))
                .map_err(|e| io("cannot restore the disk of", &dir, e))?;
        }
        record.flavor = old_flavor.clone();
        record.spec.flavor = old_flavor.clone();
        record.old_flavor = None;
        self.save(&record)?;
        if was_running {
            self.launch(&record, None).await?;
        }
        Ok(())
    }

    async fn snapshot(&self, ctx: &RequestContext, uuid: &str, upload_url: &str) -> Result<u64, DriverError> {
        let guard = self.locks.lock(uuid).await;
        let record = self.load(uuid)?;
        let format = match record.spec.image.as_ref().and_then(|i| i.disk_format.as_deref()) {
            Some("qcow2") => "qcow2",
            _ => "raw",
        };
        let dir = self.dir(uuid);
        let out = dir.join(format!("snapshot.{format}"));
        // A running guest is paused while its disk is read, for a consistent copy.
        let paused_here = self.power_state(uuid).await == PowerState::Running;
        if paused_here {
            self.qmp(uuid).await?.execute("stop", None).await.map_err(failed)?;
        }
        let exported = disk::export(&dir.join("disk"), &out, format).await;
        if paused_here {
            self.qmp(uuid).await?.execute("cont", None).await.map_err(failed)?;
        }
        drop(guard);
        exported?;
        let uploaded = upload(ctx, &out, upload_url).await;
        let _ = tokio::fs::remove_file(&out).await;
        uploaded
    }

    async fn get_diagnostics(&self, uuid: &str) -> Result<Diagnostics, DriverError> {
        self.diagnostics(uuid).await
    }

    async fn console_output(&self, uuid: &str) -> Result<String, DriverError> {
        self.load(uuid)?;
        let path = self.dir(uuid).join("console.log");
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return Ok(String::new());
        };
        let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        let start = len.saturating_sub(MAX_CONSOLE_BYTES);
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| io("cannot read", &path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .await
            .map_err(|e| io("cannot read", &path, e))?;
        Ok(String::from_utf8_lossy(&bytes).replace('\r', ""))
    }

    async fn attach_volume(
        &self,
        uuid: &str,
        volume_id: &str,
        connection_info: &Value,
        mountpoint: &str,
    ) -> Result<(), DriverError> {
        self.plug_volume(uuid, volume_id, connection_info, mountpoint).await
    }

    async fn detach_volume(&self, uuid: &str, volume_id: &str, _: &str) -> Result<(), DriverError> {
        self.unplug_volume(uuid, volume_id).await
    }

    async fn extend_volume(&self, uuid: &str, volume_id: &str, new_size: u64) -> Result<(), DriverError> {
        self.resize_volume(uuid, volume_id, new_size).await
    }

    async fn attach_interface(&self, uuid: &str, port: &Value) -> Result<(), DriverError> {
        self.plug_interface(uuid, port).await
    }

    async fn detach_interface(&self, uuid: &str, port_id: &str) -> Result<(), DriverError> {
        self.unplug_interface(uuid, port_id).await
    }

    async fn rescue(
        &self,
        ctx: &RequestContext,
        spec: &InstanceSpec,
        rescue_image: &ImageSpec,
    ) -> Result<(), DriverError> {
        self.rescue_instance(ctx, spec, rescue_image).await
    }

    async fn unrescue(&self, uuid: &str) -> Result<(), DriverError> {
        self.unrescue_instance(uuid).await
    }

    /// Refused: moving a guest to another host needs its disks copied
    /// there, which this driver does not do yet. Nothing is touched, so
    /// the guest keeps running where it is.
    async fn migrate_disk_and_power_off(&self, spec: &InstanceSpec, dest_host: &str) -> Result<(), DriverError> {
        self.load(&spec.uuid)?;
        Err(DriverError::Failed(format!(
            "Migration error: the qemu driver cannot move instance {} to {dest_host}: disk transfer between hosts is not implemented",
            spec.uuid
        )))
    }

    async fn finish_migration(
        &self,
        _ctx: &RequestContext,
        spec: &InstanceSpec,
        _power_on: bool,
    ) -> Result<(), DriverError> {
        Err(DriverError::Failed(format!(
            "Migration error: the qemu driver cannot receive instance {}: disk transfer between hosts is not implemented",
            spec.uuid
        )))
    }

    async fn finish_revert_migration(&self, uuid: &str) -> Result<(), DriverError> {
        Err(DriverError::Failed(format!(
            "Migration error: instance {uuid} has no migration to revert on this host"
        )))
    }
}

/// Streams `file` to the image service (`PUT upload_url`).
async fn upload(ctx: &RequestContext, file: &Path, upload_url: &str) -> Result<u64, DriverError> {
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| io("cannot read", file, e))?;
    let size = f.metadata().await.map_err(|e| io("cannot read", file, e))?.len();
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
    let mut request = reqwest::Client::new()
        .put(upload_url)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", size)
        .body(body);
    if let Some(token) = &ctx.token {
        request = request.header("X-Auth-Token", token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| failed(format!("snapshot upload to {upload_url} failed: {e}")))?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(failed(format!(
            "snapshot upload to {upload_url} failed: {status}: {text}"
        )));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_encoded_as_nova_does() {
        assert_eq!(
            parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"),
            Some(7_002_022)
        );
        assert_eq!(parse_version("QEMU emulator version 10.0\n"), Some(10_000_000));
        assert_eq!(parse_version("nonsense"), None);
    }
}
