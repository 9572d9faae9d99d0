//! The `fake` driver: an in-memory hypervisor, as Nova's
//! `nova.virt.fake.FakeDriver`, for tests and scale runs.
//!
//! It models what a hypervisor has: instances with a power state, a
//! flavor (and the old one during a resize), attached volumes and plugged
//! ports, and a serial console log; it enforces the power-state rules a
//! real hypervisor does (no unpause of a running guest, …). Host resources
//! are configurable and default to a very large host (1000 vCPUs, 1 TiB
//! RAM, 100 TiB disk), so that many instances fit for scale tests.
//!
//! For tests of rescheduling and crash recovery:
//! - [`FakeDriver::fail_next_spawns`] makes the next N spawns fail, and an
//!   instance whose metadata has `fake_fail_spawn=true` always fails to
//!   spawn; one whose metadata has `fake_fail_rescue=true` fails to
//!   rescue, and one with `fake_fail_migrate=true` refuses to leave its
//!   host (as the qemu driver, which cannot move disks, does);
//! - [`FakeDriver::with_delay`] / [`FakeDriver::set_delay`] make every
//!   operation take that long;
//! - [`FakeDriver::persistent`] keeps each instance in a JSON file of its
//!   own in a directory (so that a change rewrites one small file, not the
//!   whole host: with one file for all, booting 1,000 instances spent most
//!   of its time serialising the others), and an agent restarted (even in
//!   another process) finds what "the hypervisor" still runs;
//! - [`FakeDriver::set_power_state`] and [`FakeDriver::forget`] stand for
//!   what happens behind the agent's back (a guest shutting itself down,
//!   a host reboot losing the instance).
//!
//! A snapshot uploads a small deterministic byte stream describing the
//! instance to the image service, so the image really becomes active.
//!
//! Diagnostics show what the fake has (power state, flavor sizes, disks,
//! ports, the time since the guest booted) and `None` for the counters
//! a guest that runs nothing cannot have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Driver, DriverError, DriverInstance, InstanceInfo};
use crate::rpc::{
    CpuDiagnostics, Diagnostics, DiskDiagnostics, FlavorSpec, HostResources, ImageSpec, InstanceSpec,
    MemoryDiagnostics, NicDiagnostics, PowerState, RequestContext,
};

/// The metadata key that makes a spawn fail (`fake_fail_spawn=true`).
pub const FAIL_SPAWN_METADATA: &str = "fake_fail_spawn";

/// The metadata key that makes a rescue fail (`fake_fail_rescue=true`).
pub const FAIL_RESCUE_METADATA: &str = "fake_fail_rescue";

/// The metadata key that makes the source of a cold migration refuse
/// (`fake_fail_migrate=true`).
pub const FAIL_MIGRATE_METADATA: &str = "fake_fail_migrate";

/// How many console lines an instance keeps.
const CONSOLE_LINES: usize = 1000;

/// A volume attached to a fake instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeVolume {
    pub mountpoint: String,
    pub connection_info: Value,
    /// The size in bytes the last extend gave the disk; `None` until one.
    #[serde(default)]
    pub size: Option<u64>,
}

/// One instance of the fake hypervisor (what [`FakeDriver::instance`]
/// shows, and what the persistent mode stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeInstance {
    pub spec: InstanceSpec,
    pub power_state: PowerState,
    pub flavor: FlavorSpec,
    pub old_flavor: Option<FlavorSpec>,
    #[serde(default)]
    pub volumes: BTreeMap<String, FakeVolume>,
    /// Plugged ports by id.
    #[serde(default)]
    pub interfaces: BTreeMap<String, Value>,
    #[serde(default)]
    pub console: Vec<String>,
    /// How many times the guest has booted.
    #[serde(default)]
    pub boots: u32,
    /// While rescued: the image the guest boots from instead of its own
    /// disk.
    #[serde(default)]
    pub rescue_image: Option<String>,
    /// When the guest last booted (seconds since the epoch), for the
    /// diagnostics' uptime.
    #[serde(default)]
    pub booted_at: Option<i64>,
    /// On the source of a cold migration, until it is confirmed or
    /// reverted: the guest is off and handed over; this is the power
    /// state it had, which a revert restores.
    #[serde(default)]
    pub migrated_from: Option<PowerState>,
}

impl FakeInstance {
    fn info(&self) -> InstanceInfo {
        InstanceInfo {
            uuid: self.spec.uuid.clone(),
            name: self.spec.name.clone(),
            power_state: self.power_state,
            flavor: self.flavor.clone(),
            old_flavor: self.old_flavor.clone(),
            image_id: self.spec.image.as_ref().map(|i| i.id.clone()),
            volumes: self.volumes.keys().cloned().collect(),
            interfaces: self.interfaces.keys().cloned().collect(),
        }
    }

    fn log(&mut self, line: String) {
        self.console.push(line);
        if self.console.len() > CONSOLE_LINES {
            let extra = self.console.len() - CONSOLE_LINES;
            self.console.drain(..extra);
        }
    }

    /// The guest boots: power on and write its boot log.
    fn boot(&mut self) {
        self.boots += 1;
        self.booted_at = Some(chrono::Utc::now().timestamp());
        self.power_state = PowerState::Running;
        let t = self.boots;
        let spec = &self.spec;
        let mut lines = vec![
            format!("[    0.000000] Linux version 6.1.0-fake (oxistack fake hypervisor) boot #{t}"),
            "[    0.000000] Command line: console=ttyS0 root=/dev/vda1".to_owned(),
            format!(
                "[    0.100000] fake: {} ({}) {}: {} vCPU, {} MiB RAM, {} GiB disk",
                spec.name, spec.uuid, self.flavor.name, self.flavor.vcpus, self.flavor.memory_mb, self.flavor.root_gb
            ),
        ];
        if let Some(rescue) = &self.rescue_image {
            lines.push(format!(
                "[    0.200000] fake: rescue boot from image {rescue}; the instance's root disk is /dev/vdb"
            ));
        } else if let Some(image) = &spec.image {
            lines.push(format!(
                "[    0.200000] fake: root disk from image {} ({})",
                image.id,
                image.name.as_deref().unwrap_or("")
            ));
        }
        lines.push(format!("[    1.000000] cloud-init: set hostname to {}", spec.hostname));
        if let Some(key) = &spec.key_name {
            lines.push(format!("[    1.100000] cloud-init: injected ssh key {key}"));
        }
        if let Some(data) = &spec.user_data {
            lines.push(format!(
                "[    1.200000] cloud-init: running user-data ({} bytes)",
                data.len()
            ));
        }
        for port in self.interfaces.keys() {
            lines.push(format!("[    1.300000] udhcpc: lease obtained on port {port}"));
        }
        lines.push(format!("{} login: ", spec.hostname));
        for line in lines {
            self.log(line);
        }
    }

    fn invalid(&self, operation: &str) -> DriverError {
        DriverError::InvalidState {
            uuid: self.spec.uuid.clone(),
            state: self.power_state,
            operation: operation.to_owned(),
        }
    }

    /// What the fake hypervisor knows of the guest: its state, flavor,
    /// disks and ports and how long since it booted. It does no I/O and
    /// runs no vCPU, so it has no counters: those are `None`.
    fn diagnostics(&self) -> Diagnostics {
        let f = &self.flavor;
        let mut disks: Vec<String> = Vec::new();
        let mut letters = ('a'..='z').map(|c| format!("vd{c}"));
        let mut next = || letters.next().unwrap_or_default();
        disks.push(next());
        if f.ephemeral_gb > 0 {
            disks.push(next());
        }
        if f.swap_mb > 0 {
            disks.push(next());
        }
        if self.spec.config_drive {
            disks.push(next());
        }
        disks.extend(
            self.volumes
                .values()
                .map(|v| v.mountpoint.trim_start_matches("/dev/").to_owned()),
        );
        let nics = self
            .interfaces
            .iter()
            .map(|(id, port)| NicDiagnostics {
                name: port["devname"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("tap{}", id.chars().take(11).collect::<String>())),
                mac_address: port["address"]
                    .as_str()
                    .or_else(|| port["mac_address"].as_str())
                    .map(str::to_owned),
                ..Default::default()
            })
            .collect();
        Diagnostics {
            state: self.power_state,
            driver: "libvirt".to_owned(),
            hypervisor: Some("fake".to_owned()),
            hypervisor_os: Some(std::env::consts::OS.to_owned()),
            uptime: self
                .booted_at
                .map(|t| (chrono::Utc::now().timestamp() - t).max(0) as u64),
            config_drive: self.spec.config_drive,
            memory: MemoryDiagnostics {
                maximum: Some(f.memory_mb),
                used: None,
            },
            cpus: (0..f.vcpus)
                .map(|id| CpuDiagnostics {
                    id: Some(id),
                    ..Default::default()
                })
                .collect(),
            disks: disks
                .into_iter()
                .map(|name| DiskDiagnostics {
                    name,
                    ..Default::default()
                })
                .collect(),
            nics,
        }
    }

    /// The bytes a snapshot of this instance's disk uploads: a header
    /// describing the instance, padded to a few KiB; the same instance
    /// state always gives the same bytes.
    fn disk_image(&self) -> Vec<u8> {
        let mut out = format!(
            "OXISTACK-FAKE-DISK v1\nuuid: {}\nname: {}\nflavor: {} ({} vCPU, {} MiB, {} GiB)\nimage: {}\nboots: {}\n",
            self.spec.uuid,
            self.spec.name,
            self.flavor.name,
            self.flavor.vcpus,
            self.flavor.memory_mb,
            self.flavor.root_gb,
            self.spec.image.as_ref().map(|i| i.id.as_str()).unwrap_or("-"),
            self.boots,
        );
        let mut block = 0u32;
        while out.len() < 4096 {
            out.push_str(&format!("block {block:04} of {}\n", self.spec.uuid));
            block += 1;
        }
        out.into_bytes()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    instances: BTreeMap<String, FakeInstance>,
    vcpus: u32,
    memory_mb: u64,
    local_gb: u64,
    node: String,
    delay: Duration,
    fail_next_spawns: u32,
}

/// The in-memory hypervisor. Configure it before wrapping it in an `Arc`
/// (`with_*`), or at run time (`set_*`, `fail_next_spawns`).
pub struct FakeDriver {
    state: Mutex<State>,
    path: Option<PathBuf>,
    http: reqwest::Client,
}

impl Default for FakeDriver {
    fn default() -> Self {
        FakeDriver::new()
    }
}

impl FakeDriver {
    /// 1000 vCPUs, 1 TiB RAM, 100 TiB disk, node `fake-mini`, no delay,
    /// instances in memory only.
    pub fn new() -> FakeDriver {
        FakeDriver {
            state: Mutex::new(State {
                instances: BTreeMap::new(),
                vcpus: 1000,
                memory_mb: 1024 * 1024,
                local_gb: 100 * 1024,
                node: "fake-mini".to_owned(),
                delay: Duration::ZERO,
                fail_next_spawns: 0,
            }),
            path: None,
            http: reqwest::Client::new(),
        }
    }

    /// Like [`FakeDriver::new`], but each instance lives in
    /// `<dir>/<uuid>.json` (read now, rewritten on every change of that
    /// instance). A `<dir>.json` of the earlier one-file format is taken
    /// over.
    pub fn persistent(dir: impl Into<PathBuf>) -> Result<FakeDriver, DriverError> {
        let dir = dir.into();
        let instances = load(&dir)?;
        let driver = FakeDriver {
            path: Some(dir),
            ..FakeDriver::new()
        };
        driver.lock().instances = instances;
        Ok(driver)
    }

    /// The host's totals: vCPUs, RAM in MiB, disk in GiB.
    pub fn with_resources(self, vcpus: u32, memory_mb: u64, local_gb: u64) -> FakeDriver {
        {
            let mut s = self.lock();
            s.vcpus = vcpus;
            s.memory_mb = memory_mb;
            s.local_gb = local_gb;
        }
        self
    }

    /// The hypervisor hostname (`os-hypervisors`); `fake-mini` by default.
    pub fn with_node(self, node: impl Into<String>) -> FakeDriver {
        self.lock().node = node.into();
        self
    }

    /// Every operation that changes an instance takes `delay`.
    pub fn with_delay(self, delay: Duration) -> FakeDriver {
        self.set_delay(delay);
        self
    }

    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// The next `n` spawns fail (after the delay), whatever the instance.
    pub fn fail_next_spawns(&self, n: u32) {
        self.lock().fail_next_spawns = n;
    }

    /// A copy of one instance, for tests.
    pub fn instance(&self, uuid: &str) -> Option<FakeInstance> {
        self.lock().instances.get(uuid).cloned()
    }

    /// Every instance's uuid.
    pub fn uuids(&self) -> Vec<String> {
        self.lock().instances.keys().cloned().collect()
    }

    /// Changes an instance's power state behind the agent's back (the
    /// guest shut itself down, crashed, …).
    pub fn set_power_state(&self, uuid: &str, power_state: PowerState) -> Result<(), DriverError> {
        self.mutate(uuid, |i| {
            i.power_state = power_state;
            Ok(())
        })
    }

    /// Loses an instance behind the agent's back (as a host reboot loses a
    /// transient domain).
    pub fn forget(&self, uuid: &str) -> bool {
        let mut s = self.lock();
        let gone = s.instances.remove(uuid).is_some();
        if gone {
            self.save(&s, uuid);
        }
        gone
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-written
        // (every change is a single insert/remove/field store).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn pause_for_delay(&self) {
        let delay = self.lock().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }

    /// Writes (or removes, when it is gone) the instance's file.
    fn save(&self, state: &State, uuid: &str) {
        let Some(dir) = &self.path else { return };
        let path = instance_path(dir, uuid);
        let done = match state.instances.get(uuid) {
            Some(instance) => store(&path, instance),
            None => std::fs::remove_file(&path).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(e),
            }),
        };
        if let Err(e) = done {
            tracing::error!(path = %path.display(), error = %e, "fake driver could not save its instance");
        }
    }

    /// Runs `f` on one instance under the lock and saves the result.
    fn mutate<T>(
        &self,
        uuid: &str,
        f: impl FnOnce(&mut FakeInstance) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        let mut s = self.lock();
        let instance = s
            .instances
            .get_mut(uuid)
            .ok_or_else(|| DriverError::NotFound(uuid.to_owned()))?;
        let out = f(instance)?;
        self.save(&s, uuid);
        Ok(out)
    }
}

/// An instance's file. Instance ids are uuids; anything that could leave
/// the directory is encoded.
fn instance_path(dir: &Path, uuid: &str) -> PathBuf {
    let name: String = uuid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{name}.json"))
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> DriverError {
    DriverError::Failed(format!("fake driver state {} is unreadable: {e}", path.display()))
}

/// The instances kept in `dir` (made if missing), with those of a legacy
/// `<dir>.json` moved into it.
fn load(dir: &Path) -> Result<BTreeMap<String, FakeInstance>, DriverError> {
    std::fs::create_dir_all(dir).map_err(|e| DriverError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let mut instances = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| unreadable(dir, e))?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
        let instance: FakeInstance = serde_json::from_slice(&bytes).map_err(|e| unreadable(&path, e))?;
        instances.insert(instance.spec.uuid.clone(), instance);
    }
    let legacy = dir.with_extension("json");
    if let Ok(bytes) = std::fs::read(&legacy) {
        #[derive(Deserialize)]
        struct Legacy {
            instances: BTreeMap<String, FakeInstance>,
        }
        let old: Legacy = serde_json::from_slice(&bytes).map_err(|e| unreadable(&legacy, e))?;
        for (uuid, instance) in old.instances {
            store(&instance_path(dir, &uuid), &instance).map_err(|e| unreadable(dir, e))?;
            instances.insert(uuid, instance);
        }
        std::fs::remove_file(&legacy).map_err(|e| unreadable(&legacy, e))?;
    }
    Ok(instances)
}

/// Written whole or not at all (temporary file, then rename).
fn store(path: &Path, instance: &FakeInstance) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(instance)?)?;
    std::fs::rename(&tmp, path)
}

#[async_trait::async_trait]
impl Driver for FakeDriver {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn host_resources(&self) -> Result<HostResources, DriverError> {
        let s = self.lock();
        Ok(HostResources {
            vcpus: s.vcpus,
            memory_mb: s.memory_mb,
            local_gb: s.local_gb,
            hypervisor_type: "fake".to_owned(),
            hypervisor_version: 1000,
            hypervisor_hostname: s.node.clone(),
            cpu_info: json!({
                "arch": "x86_64",
                "model": "fake",
                "vendor": "oxistack",
                "topology": {"sockets": 1, "cores": s.vcpus, "threads": 1},
                "features": [],
            }),
            host_ip: "127.0.0.1".to_owned(),
        })
    }

    async fn list_instances(&self) -> Result<Vec<DriverInstance>, DriverError> {
        Ok(self
            .lock()
            .instances
            .values()
            .map(|i| DriverInstance {
                uuid: i.spec.uuid.clone(),
                power_state: i.power_state,
            })
            .collect())
    }

    async fn get_info(&self, uuid: &str) -> Result<InstanceInfo, DriverError> {
        self.lock()
            .instances
            .get(uuid)
            .map(FakeInstance::info)
            .ok_or_else(|| DriverError::NotFound(uuid.to_owned()))
    }

    async fn spawn(&self, _ctx: &RequestContext, spec: &InstanceSpec) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        let mut s = self.lock();
        if s.instances.contains_key(&spec.uuid) {
            return Err(DriverError::Failed(format!(
                "Instance {} already exists on this hypervisor",
                spec.uuid
            )));
        }
        if s.fail_next_spawns > 0 {
            s.fail_next_spawns -= 1;
            return Err(DriverError::Failed(format!(
                "fake driver: spawn of {} failed (fail_next_spawns)",
                spec.uuid
            )));
        }
        if spec.metadata.get(FAIL_SPAWN_METADATA).map(String::as_str) == Some("true") {
            return Err(DriverError::Failed(format!(
                "fake driver: spawn of {} failed ({FAIL_SPAWN_METADATA}=true)",
                spec.uuid
            )));
        }
        let mut instance = FakeInstance {
            spec: spec.clone(),
            power_state: PowerState::NoState,
            flavor: spec.flavor.clone(),
            old_flavor: None,
            volumes: BTreeMap::new(),
            interfaces: spec
                .network_info
                .iter()
                .filter_map(|p| Some((p.get("id")?.as_str()?.to_owned(), p.clone())))
                .collect(),
            console: Vec::new(),
            boots: 0,
            rescue_image: None,
            booted_at: None,
            migrated_from: None,
        };
        instance.boot();
        s.instances.insert(spec.uuid.clone(), instance);
        self.save(&s, &spec.uuid);
        Ok(())
    }

    async fn destroy(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        let mut s = self.lock();
        if s.instances.remove(uuid).is_none() {
            return Err(DriverError::NotFound(uuid.to_owned()));
        }
        self.save(&s, uuid);
        Ok(())
    }

    async fn reboot(&self, uuid: &str, hard: bool) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if !hard && i.power_state != PowerState::Running {
                return Err(i.invalid("soft reboot"));
            }
            i.log(if hard {
                "reboot: hard reset by the hypervisor".to_owned()
            } else {
                "reboot: Restarting system".to_owned()
            });
            // A reboot ends a rescue, as with the qemu driver.
            i.rescue_image = None;
            i.boot();
            Ok(())
        })
    }

    async fn power_off(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.power_state != PowerState::Shutdown {
                i.log("reboot: Power down".to_owned());
                i.power_state = PowerState::Shutdown;
            }
            Ok(())
        })
    }

    async fn power_on(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            match i.power_state {
                PowerState::Running => {}
                PowerState::Shutdown | PowerState::Crashed | PowerState::NoState => {
                    // A stopped rescue is over: the guest boots its own disk.
                    i.rescue_image = None;
                    i.boot()
                }
                PowerState::Paused | PowerState::Suspended => return Err(i.invalid("power on")),
            }
            Ok(())
        })
    }

    async fn pause(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.power_state != PowerState::Running {
                return Err(i.invalid("pause"));
            }
            i.power_state = PowerState::Paused;
            Ok(())
        })
    }

    async fn unpause(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.power_state != PowerState::Paused {
                return Err(i.invalid("unpause"));
            }
            i.power_state = PowerState::Running;
            Ok(())
        })
    }

    async fn suspend(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if !matches!(i.power_state, PowerState::Running | PowerState::Paused) {
                return Err(i.invalid("suspend"));
            }
            i.log("PM: suspend entry (deep)".to_owned());
            i.power_state = PowerState::Suspended;
            Ok(())
        })
    }

    async fn resume(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.power_state != PowerState::Suspended {
                return Err(i.invalid("resume"));
            }
            i.log("PM: suspend exit".to_owned());
            i.power_state = PowerState::Running;
            Ok(())
        })
    }

    async fn rebuild(&self, _ctx: &RequestContext, spec: &InstanceSpec) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(&spec.uuid, |i| {
            let was_off = i.power_state == PowerState::Shutdown;
            i.spec = spec.clone();
            i.flavor = spec.flavor.clone();
            i.console.clear();
            i.boot();
            if was_off {
                i.log("reboot: Power down".to_owned());
                i.power_state = PowerState::Shutdown;
            }
            Ok(())
        })
    }

    async fn resize(&self, spec: &InstanceSpec, old_flavor: &FlavorSpec) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(&spec.uuid, |i| {
            if !matches!(i.power_state, PowerState::Running | PowerState::Shutdown) {
                return Err(i.invalid("resize"));
            }
            if spec.flavor.root_gb < old_flavor.root_gb {
                return Err(DriverError::Failed(format!(
                    "cannot shrink the root disk from {} GiB to {} GiB",
                    old_flavor.root_gb, spec.flavor.root_gb
                )));
            }
            let running = i.power_state == PowerState::Running;
            i.old_flavor = Some(old_flavor.clone());
            i.flavor = spec.flavor.clone();
            i.spec = spec.clone();
            if running {
                i.log("reboot: Power down".to_owned());
                i.boot();
            }
            Ok(())
        })
    }

    async fn confirm_resize(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.old_flavor.take().is_none() {
                return Err(DriverError::Failed(format!("instance {uuid} has no resize to confirm")));
            }
            Ok(())
        })
    }

    async fn revert_resize(&self, uuid: &str, old_flavor: &FlavorSpec) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            let running = i.power_state == PowerState::Running;
            i.old_flavor = None;
            i.flavor = old_flavor.clone();
            i.spec.flavor = old_flavor.clone();
            if running {
                i.log("reboot: Power down".to_owned());
                i.boot();
            }
            Ok(())
        })
    }

    async fn snapshot(&self, ctx: &RequestContext, uuid: &str, upload_url: &str) -> Result<u64, DriverError> {
        self.pause_for_delay().await;
        let bytes = {
            let s = self.lock();
            let instance = s
                .instances
                .get(uuid)
                .ok_or_else(|| DriverError::NotFound(uuid.to_owned()))?;
            instance.disk_image()
        };
        let len = bytes.len() as u64;
        let mut request = self
            .http
            .put(upload_url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header("X-OpenStack-Request-ID", &ctx.request_id)
            .body(bytes);
        if let Some(token) = &ctx.token {
            request = request.header("X-Auth-Token", token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| DriverError::Failed(format!("snapshot upload to {upload_url} failed: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(DriverError::Failed(format!(
                "snapshot upload to {upload_url} failed: {status}: {}",
                body.chars().take(300).collect::<String>()
            )));
        }
        Ok(len)
    }

    async fn get_diagnostics(&self, uuid: &str) -> Result<Diagnostics, DriverError> {
        let s = self.lock();
        let instance = s
            .instances
            .get(uuid)
            .ok_or_else(|| DriverError::NotFound(uuid.to_owned()))?;
        if instance.power_state != PowerState::Running {
            return Err(instance.invalid("get_diagnostics"));
        }
        Ok(instance.diagnostics())
    }

    async fn console_output(&self, uuid: &str) -> Result<String, DriverError> {
        let s = self.lock();
        let instance = s
            .instances
            .get(uuid)
            .ok_or_else(|| DriverError::NotFound(uuid.to_owned()))?;
        let mut out = instance.console.join("\n");
        out.push('\n');
        Ok(out)
    }

    async fn attach_volume(
        &self,
        uuid: &str,
        volume_id: &str,
        connection_info: &Value,
        mountpoint: &str,
    ) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.volumes.contains_key(volume_id) {
                return Err(DriverError::Failed(format!(
                    "volume {volume_id} is already attached to {uuid}"
                )));
            }
            if i.volumes.values().any(|v| v.mountpoint == mountpoint) {
                return Err(DriverError::Failed(format!("{mountpoint} is already in use on {uuid}")));
            }
            i.volumes.insert(
                volume_id.to_owned(),
                FakeVolume {
                    mountpoint: mountpoint.to_owned(),
                    connection_info: connection_info.clone(),
                    size: None,
                },
            );
            i.log(format!("virtio_blk: new disk {mountpoint} (volume {volume_id})"));
            Ok(())
        })
    }

    async fn detach_volume(&self, uuid: &str, volume_id: &str, mountpoint: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.volumes.remove(volume_id).is_none() {
                return Err(DriverError::Failed(format!(
                    "volume {volume_id} is not attached to {uuid}"
                )));
            }
            i.log(format!("virtio_blk: disk {mountpoint} removed (volume {volume_id})"));
            Ok(())
        })
    }

    async fn extend_volume(&self, uuid: &str, volume_id: &str, new_size: u64) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            let Some(v) = i.volumes.get_mut(volume_id) else {
                return Err(DriverError::Failed(format!(
                    "volume {volume_id} is not attached to {uuid}"
                )));
            };
            if v.size.is_some_and(|s| s > new_size) {
                return Err(DriverError::Failed(format!(
                    "volume {volume_id} of {uuid} cannot shrink to {new_size} bytes"
                )));
            }
            v.size = Some(new_size);
            let mountpoint = v.mountpoint.clone();
            i.log(format!(
                "virtio_blk: {mountpoint} new size {new_size} bytes (volume {volume_id})"
            ));
            Ok(())
        })
    }

    async fn attach_interface(&self, uuid: &str, port: &Value) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        let port_id = port
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| DriverError::Failed("the port to attach has no id".to_owned()))?
            .to_owned();
        self.mutate(uuid, |i| {
            if i.interfaces.contains_key(&port_id) {
                return Err(DriverError::Failed(format!(
                    "port {port_id} is already attached to {uuid}"
                )));
            }
            i.interfaces.insert(port_id.clone(), port.clone());
            i.log(format!("virtio_net: new interface for port {port_id}"));
            Ok(())
        })
    }

    async fn detach_interface(&self, uuid: &str, port_id: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.interfaces.remove(port_id).is_none() {
                return Err(DriverError::Failed(format!("port {port_id} is not attached to {uuid}")));
            }
            i.log(format!("virtio_net: interface for port {port_id} removed"));
            Ok(())
        })
    }

    async fn rescue(
        &self,
        _ctx: &RequestContext,
        spec: &InstanceSpec,
        rescue_image: &ImageSpec,
    ) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(&spec.uuid, |i| {
            if spec.metadata.get(FAIL_RESCUE_METADATA).map(String::as_str) == Some("true") {
                return Err(DriverError::Failed(format!(
                    "fake driver: rescue of {} failed ({FAIL_RESCUE_METADATA}=true)",
                    spec.uuid
                )));
            }
            if i.power_state != PowerState::Shutdown {
                i.log("reboot: Power down".to_owned());
            }
            i.rescue_image = Some(rescue_image.id.clone());
            i.boot();
            Ok(())
        })
    }

    async fn unrescue(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            if i.rescue_image.is_none() {
                return Err(i.invalid("unrescue"));
            }
            if i.power_state != PowerState::Shutdown {
                i.log("reboot: Power down".to_owned());
            }
            i.rescue_image = None;
            i.boot();
            Ok(())
        })
    }

    async fn migrate_disk_and_power_off(&self, spec: &InstanceSpec, dest_host: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(&spec.uuid, |i| {
            if i.spec.metadata.get(FAIL_MIGRATE_METADATA).map(String::as_str) == Some("true") {
                return Err(DriverError::Failed(format!(
                    "fake driver: instance {} cannot move to {dest_host} ({FAIL_MIGRATE_METADATA}=true)",
                    spec.uuid
                )));
            }
            if i.migrated_from.is_some() {
                return Err(DriverError::Failed(format!(
                    "instance {} is already migrating",
                    spec.uuid
                )));
            }
            if !matches!(i.power_state, PowerState::Running | PowerState::Shutdown) {
                return Err(i.invalid("migrate"));
            }
            i.migrated_from = Some(i.power_state);
            if i.power_state == PowerState::Running {
                i.log("reboot: Power down".to_owned());
            }
            i.log(format!("fake: disks handed over to {dest_host}"));
            i.power_state = PowerState::Shutdown;
            Ok(())
        })
    }

    async fn finish_migration(
        &self,
        ctx: &RequestContext,
        spec: &InstanceSpec,
        power_on: bool,
    ) -> Result<(), DriverError> {
        self.spawn(ctx, spec).await?;
        if !power_on {
            self.mutate(&spec.uuid, |i| {
                i.log("reboot: Power down".to_owned());
                i.power_state = PowerState::Shutdown;
                Ok(())
            })?;
        }
        Ok(())
    }

    async fn finish_revert_migration(&self, uuid: &str) -> Result<(), DriverError> {
        self.pause_for_delay().await;
        self.mutate(uuid, |i| {
            let Some(before) = i.migrated_from.take() else {
                return Err(DriverError::Failed(format!(
                    "instance {uuid} has no migration to revert"
                )));
            };
            if before == PowerState::Running {
                i.boot();
            }
            Ok(())
        })
    }
}
