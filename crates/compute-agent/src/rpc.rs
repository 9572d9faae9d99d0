//! The RPC contract between the controller (the `compute` crate's conductor
//! and API) and compute agents, as oslo.messaging topics and methods.
//!
//! Controller → agent, topic [`agent_topic`]`(host)`:
//! - cast `build_and_run_instance` [`BuildRequest`]
//! - cast `instance_action` [`ActionRequest`] (stop, start, reboot, pause, …)
//! - call `get_console_output` [`ConsoleRequest`] → `String`
//! - call `get_host_uptime` `{}` → `String` (as `uptime` prints it)
//! - call `get_diagnostics` [`DiagnosticsRequest`] → [`Diagnostics`]
//!   (error kind `InstanceInvalidState` when the guest is not running,
//!   `NotImplemented` when the driver cannot)
//! - call `ping` `{}` → [`HostReport`] (is the agent alive, what it has)
//!
//! Agent → controller, topic [`CONDUCTOR_TOPIC`]:
//! - cast `report_state` [`HostReport`] every [`REPORT_INTERVAL`]
//! - cast `instance_update` [`InstanceUpdate`] on every state change
//! - cast `build_failed` [`BuildFailed`] when a build on this host failed
//!   (the conductor releases the claim and re-schedules)
//! - cast `volume_event` [`VolumeEvent`] when a volume attach or detach
//!   ended
//! - call `instances_on_host` [`HostQuery`] → `Vec<InstanceRecord>` (the
//!   controller's view, which the agent reconciles with its driver on start)
//! - call `instance_usage_audit` [`HostQuery`] → [`UsageAudit`] (Nova's
//!   `_instance_usage_audit` periodic task: the conductor records the
//!   host's audit of the last completed audit period, once per period)

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const CONDUCTOR_TOPIC: &str = "conductor";

/// How often an agent reports; a service whose last report is older than
/// [`SERVICE_DOWN_TIME`] is shown `down` (Nova: report_interval 10 s,
/// service_down_time 60 s).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);
pub const SERVICE_DOWN_TIME: Duration = Duration::from_secs(60);

pub fn agent_topic(host: &str) -> String {
    format!("compute.{host}")
}

/// The flavor as the agent needs it (a copy, as Nova embeds it in the
/// instance: later changes to the flavor do not touch running instances).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlavorSpec {
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub root_gb: u64,
    pub ephemeral_gb: u64,
    pub swap_mb: u64,
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

/// The image the instance boots from, and where the agent can fetch it:
/// `file_url` is the image service's `/v2/images/{id}/file`, read with
/// `token` (the user's token, forwarded as Nova forwards it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSpec {
    pub id: String,
    pub name: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<u64>,
    pub min_disk: u64,
    pub min_ram: u64,
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
    pub file_url: Option<String>,
}

/// Everything a driver needs to create an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceSpec {
    pub uuid: String,
    /// The hypervisor-side name, `instance-0000002a`.
    pub name: String,
    pub display_name: String,
    pub hostname: String,
    pub project_id: String,
    pub user_id: String,
    pub flavor: FlavorSpec,
    pub image: Option<ImageSpec>,
    pub user_data: Option<String>,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    /// The user asked for a config drive (`config_drive: true`).
    #[serde(default)]
    pub config_drive: bool,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    /// The ports to plug, one VIF each in the shape of Nova's network
    /// model (see the `compute` crate's `network` module): `id` (the port),
    /// `address` (its MAC), `devname` (`tap<id[..11]>`, the tap the
    /// network agent makes), `type`, `vnic_type`, `details`,
    /// `preserve_on_delete`, and `network` with `id`, `label`, `bridge`,
    /// `meta.mtu` and `subnets` (`cidr`, `gateway`, `dns`, `ips` with their
    /// `floating_ips`). Empty without a network service. The same shape
    /// is the `port` of [`Action::AttachInterface`].
    #[serde(default)]
    pub network_info: Vec<Value>,
    /// Filled by the block-storage issue; empty until then.
    #[serde(default)]
    pub block_device_info: Vec<Value>,
}

/// The user's credentials for calls the agent makes on the user's behalf
/// (fetch the image, upload a snapshot).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestContext {
    pub request_id: String,
    pub token: Option<String>,
    pub project_id: String,
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildRequest {
    pub context: RequestContext,
    pub instance: InstanceSpec,
    /// The number of this attempt (1 = first host tried).
    pub attempt: u32,
}

/// Operations on an existing instance; the controller has already moved
/// its `task_state` (e.g. to `powering-off`) before casting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Stop,
    Start,
    Reboot {
        hard: bool,
    },
    Pause,
    Unpause,
    Suspend,
    Resume,
    /// Re-create the instance's disk from `image` (same host).
    Rebuild {
        instance: Box<InstanceSpec>,
    },
    /// Resize on this host to `instance.flavor` (the new flavor); the
    /// instance ends `resized` / `VERIFY_RESIZE` with the old flavor kept.
    Resize {
        instance: Box<InstanceSpec>,
        old_flavor: FlavorSpec,
    },
    ConfirmResize,
    /// Back to `old_flavor`.
    RevertResize {
        old_flavor: FlavorSpec,
    },
    /// Snapshot the disk and upload it to the image service at
    /// `upload_url` (`/v2/images/{id}/file`) with the context's token.
    Snapshot {
        image_id: String,
        upload_url: String,
    },
    /// Power off and forget the instance on this host (its disk goes to
    /// an image first when `snapshot` is given; shelve offload).
    Shelve {
        snapshot: Option<Box<Action>>,
    },
    /// Destroy the instance and its local disks.
    Terminate,
    /// Attach a volume the controller has reserved. With `volume_api`
    /// (the project's block-storage endpoint) the agent connects it
    /// (`os-initialize_connection`), hands it to the driver and marks it
    /// attached (`os-attach`), rolling back on failure, and casts
    /// `volume_event`; without, `connection_info` goes to the driver as is.
    AttachVolume {
        volume_id: String,
        #[serde(default)]
        connection_info: Value,
        mountpoint: String,
        #[serde(default)]
        volume_api: Option<String>,
    },
    /// Detach a volume the controller has marked `detaching`; with
    /// `volume_api`, the agent then ends its connection and `os-detach`es
    /// it (or rolls the detaching back) and casts `volume_event`.
    DetachVolume {
        volume_id: String,
        mountpoint: String,
        #[serde(default)]
        volume_api: Option<String>,
    },
    AttachInterface {
        port: Value,
    },
    DetachInterface {
        port_id: String,
    },
    /// Boot `instance` from `rescue_image` (the controller resolves it:
    /// the one asked for, else the instance's own image, as Nova does),
    /// with the instance's root disk attached second; ends `rescued`.
    Rescue {
        instance: Box<InstanceSpec>,
        rescue_image: Box<ImageSpec>,
    },
    /// Back to booting from the instance's own root disk; ends `active`.
    Unrescue,
    /// Cold migration, on the source host: power the guest off and hand
    /// its disks to `dest_host` (the source keeps the guest, off, until
    /// the migration is confirmed or reverted). `instance.flavor` is the
    /// flavor it gets on the destination (a resize's new one), which the
    /// closing update reports. The controller, on that update, moves the
    /// instance to the destination and casts [`Action::FinishMigration`]
    /// there.
    MigrateDiskAndPowerOff {
        instance: Box<InstanceSpec>,
        dest_host: String,
    },
    /// Cold migration, on the destination host: create the instance from
    /// the disks handed over (running when `power_on`); ends `resized`.
    FinishMigration {
        instance: Box<InstanceSpec>,
        power_on: bool,
    },
    /// A confirmed cold migration, on the source host: destroy the guest
    /// left there.
    ConfirmMigration,
    /// A reverted cold migration, on the destination host: destroy the
    /// guest created there; the controller then moves the instance back
    /// and casts [`Action::FinishRevertMigration`] to the source.
    RevertMigration,
    /// A reverted cold migration, back on the source host: take the guest
    /// back in the power state it had before the migration.
    FinishRevertMigration,
    /// Block storage grew an attached volume (Nova's `volume-extended`
    /// event): the agent reads its new size (`GET` the volume at
    /// `volume_api` with the context's token) and has the driver resize
    /// the guest's disk to it. Without `volume_api`, `new_size` (bytes)
    /// is used.
    ExtendVolume {
        volume_id: String,
        #[serde(default)]
        volume_api: Option<String>,
        #[serde(default)]
        new_size: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub context: RequestContext,
    pub instance_uuid: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleRequest {
    pub instance_uuid: String,
    /// The last `length` lines; all when `None`.
    pub length: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticsRequest {
    pub instance_uuid: String,
}

/// What the hypervisor can tell of one running guest (Nova's
/// `nova.virt.diagnostics.Diagnostics`). A figure the driver cannot
/// measure is `None` (shown `null`), never made up. The API shows it as
/// Nova's standard model from 2.48 and as a free-form dict before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    pub state: PowerState,
    /// The Nova driver this one stands for: `libvirt` for QEMU/KVM (the
    /// values Nova's schema allows are those of its drivers).
    pub driver: String,
    /// `qemu`, `kvm`, `fake`.
    pub hypervisor: Option<String>,
    pub hypervisor_os: Option<String>,
    /// Seconds since the guest was started.
    pub uptime: Option<u64>,
    pub config_drive: bool,
    pub memory: MemoryDiagnostics,
    pub cpus: Vec<CpuDiagnostics>,
    pub disks: Vec<DiskDiagnostics>,
    pub nics: Vec<NicDiagnostics>,
}

/// MiB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryDiagnostics {
    pub maximum: Option<u64>,
    pub used: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuDiagnostics {
    pub id: Option<u32>,
    /// Nanoseconds of host CPU time the vCPU has used.
    pub time: Option<u64>,
    /// Percent.
    pub utilisation: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskDiagnostics {
    /// The hypervisor's name of the disk (`vda`, a QEMU drive id), for
    /// the legacy view's keys.
    pub name: String,
    pub read_bytes: Option<u64>,
    pub read_requests: Option<u64>,
    pub write_bytes: Option<u64>,
    pub write_requests: Option<u64>,
    pub errors_count: Option<u64>,
}

/// Counters as the guest sees them (what the host's tap receives is
/// what the guest sent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NicDiagnostics {
    /// The host's device (the tap), for the legacy view's keys.
    pub name: String,
    pub mac_address: Option<String>,
    pub rx_octets: Option<u64>,
    pub rx_errors: Option<u64>,
    pub rx_drop: Option<u64>,
    pub rx_packets: Option<u64>,
    pub rx_rate: Option<u64>,
    pub tx_octets: Option<u64>,
    pub tx_errors: Option<u64>,
    pub tx_drop: Option<u64>,
    pub tx_packets: Option<u64>,
    pub tx_rate: Option<u64>,
}

/// The answer to `instance_usage_audit`: the audit period and whether
/// this call recorded it (false: it was recorded before).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageAudit {
    /// Microseconds since the epoch.
    pub period_beginning: i64,
    pub period_ending: i64,
    pub ran: bool,
    /// The instances the host had in the period.
    pub instances: u64,
}

/// Nova's power states (`nova/compute/power_state.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum PowerState {
    NoState = 0,
    Running = 1,
    Paused = 3,
    Shutdown = 4,
    Crashed = 6,
    Suspended = 7,
}

impl PowerState {
    /// The integer Nova shows as `OS-EXT-STS:power_state`.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Nova's name of the state (`power_state.STATE_MAP`), as error
    /// messages and diagnostics show it.
    pub fn name(self) -> &'static str {
        match self {
            PowerState::NoState => "pending",
            PowerState::Running => "running",
            PowerState::Paused => "paused",
            PowerState::Shutdown => "shutdown",
            PowerState::Crashed => "crashed",
            PowerState::Suspended => "suspended",
        }
    }
}

/// The agent's news about one instance. `None` fields are unchanged;
/// `task_state: Some(None)` clears the task. `expected_task_state`, when
/// set, makes the update apply only if the task is still that one (so a
/// late report cannot undo a newer request, e.g. a delete).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceUpdate {
    pub instance_uuid: String,
    pub host: String,
    pub vm_state: Option<String>,
    // On the wire `None` is an absent key and `Some(None)` is `null`
    // (plain serde would write both as `null` and read back `None`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    pub task_state: Option<Option<String>>,
    pub power_state: Option<PowerState>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    pub expected_task_state: Option<Option<String>>,
    /// Set on failure: becomes the server's `fault`.
    pub fault: Option<Fault>,
    /// The instance action whose event this update finishes (`start`, …),
    /// with its outcome, for `os-instance-actions`.
    pub event: Option<ActionEvent>,
    /// The flavor now in effect (after a resize or its revert).
    pub flavor: Option<FlavorSpec>,
    /// Set when the instance is gone from the host (terminated).
    #[serde(default)]
    pub deleted: bool,
}

impl InstanceUpdate {
    pub fn new(instance_uuid: &str, host: &str) -> Self {
        InstanceUpdate {
            instance_uuid: instance_uuid.to_owned(),
            host: host.to_owned(),
            vm_state: None,
            task_state: None,
            power_state: None,
            expected_task_state: None,
            fault: None,
            event: None,
            flavor: None,
            deleted: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub code: u16,
    pub message: String,
    pub details: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionEvent {
    /// Nova's event name, e.g. `compute_stop_instance`.
    pub event: String,
    pub result: String,
    pub traceback: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildFailed {
    pub instance_uuid: String,
    pub host: String,
    pub attempt: u32,
    pub reason: String,
    /// False when trying another host cannot help (e.g. a bad image).
    pub retryable: bool,
}

/// What a host has, for placement inventories and `os-hypervisors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostResources {
    pub vcpus: u32,
    pub memory_mb: u64,
    pub local_gb: u64,
    pub hypervisor_type: String,
    pub hypervisor_version: u64,
    pub hypervisor_hostname: String,
    pub cpu_info: Value,
    /// Host IP, for `os-hypervisors` `host_ip`.
    pub host_ip: String,
}

/// How much of a host the scheduler may hand out: Nova's per-node
/// `*_allocation_ratio` and `reserved_host_*` options, which become the
/// allocation ratios and `reserved` amounts of the host's inventory in
/// placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocationSettings {
    pub cpu_allocation_ratio: f64,
    pub ram_allocation_ratio: f64,
    pub disk_allocation_ratio: f64,
    pub reserved_host_cpus: u32,
    pub reserved_host_memory_mb: u64,
    pub reserved_host_disk_mb: u64,
}

impl Default for AllocationSettings {
    /// Nova's defaults: `initial_cpu_allocation_ratio` 4.0, RAM and disk
    /// 1.0, `reserved_host_memory_mb` 512, nothing else reserved.
    fn default() -> AllocationSettings {
        AllocationSettings {
            cpu_allocation_ratio: 4.0,
            ram_allocation_ratio: 1.0,
            disk_allocation_ratio: 1.0,
            reserved_host_cpus: 0,
            reserved_host_memory_mb: 512,
            reserved_host_disk_mb: 0,
        }
    }
}

impl AllocationSettings {
    /// The settings an operator may not give: ratios must be positive and
    /// finite.
    pub fn validate(&self) -> Result<(), String> {
        for (name, r) in [
            ("cpu_allocation_ratio", self.cpu_allocation_ratio),
            ("ram_allocation_ratio", self.ram_allocation_ratio),
            ("disk_allocation_ratio", self.disk_allocation_ratio),
        ] {
            if !(r.is_finite() && r > 0.0) {
                return Err(format!("{name} must be a positive number, not {r}"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReport {
    pub host: String,
    /// `nova-compute`.
    pub binary: String,
    pub availability_zone: Option<String>,
    pub resources: HostResources,
    /// Instances the driver runs now (uuids).
    pub instances: Vec<String>,
    /// The agent's version, for `os-services`.
    pub version: String,
    /// Absent from older agents' reports: Nova's defaults.
    #[serde(default)]
    pub allocation: AllocationSettings,
}

/// The outcome of a volume attach or detach on the agent (cast
/// `volume_event`): the controller keeps or drops the instance's block
/// device mapping accordingly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeEvent {
    pub instance_uuid: String,
    pub host: String,
    pub volume_id: String,
    /// `attach` or `detach`.
    pub operation: String,
    pub ok: bool,
    /// Why it failed.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostQuery {
    pub host: String,
}

/// The controller's record of an instance on a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub spec: InstanceSpec,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: PowerState,
}

/// Nova's `vm_state` values (`nova/compute/vm_states.py`).
pub mod vm_states {
    pub const ACTIVE: &str = "active";
    pub const BUILDING: &str = "building";
    pub const PAUSED: &str = "paused";
    pub const SUSPENDED: &str = "suspended";
    pub const STOPPED: &str = "stopped";
    pub const RESCUED: &str = "rescued";
    pub const RESIZED: &str = "resized";
    pub const SOFT_DELETED: &str = "soft-delete";
    pub const DELETED: &str = "deleted";
    pub const ERROR: &str = "error";
    pub const SHELVED: &str = "shelved";
    pub const SHELVED_OFFLOADED: &str = "shelved_offloaded";
}

/// Nova's `task_state` values (`nova/compute/task_states.py`) that this
/// contract uses.
///
/// Build: the controller casts `build_and_run_instance` with the instance
/// in vm_state `building`, task_state [`SCHEDULING`]; the agent moves it
/// to [`SPAWNING`] (expecting `scheduling`) and, once the driver has
/// spawned it, to `active`/no task (expecting `spawning`). On failure it
/// casts `build_failed` instead, and the controller re-schedules (back to
/// `scheduling`) or errors the instance.
///
/// Actions: the controller sets [`Action::task_state`] before casting;
/// the agent's final `instance_update` expects exactly that task state.
pub mod task_states {
    pub const SCHEDULING: &str = "scheduling";
    pub const BLOCK_DEVICE_MAPPING: &str = "block_device_mapping";
    pub const NETWORKING: &str = "networking";
    pub const SPAWNING: &str = "spawning";
    pub const IMAGE_SNAPSHOT: &str = "image_snapshot";
    pub const IMAGE_SNAPSHOT_PENDING: &str = "image_snapshot_pending";
    pub const IMAGE_PENDING_UPLOAD: &str = "image_pending_upload";
    pub const IMAGE_UPLOADING: &str = "image_uploading";
    pub const UPDATING_PASSWORD: &str = "updating_password";
    pub const RESIZE_PREP: &str = "resize_prep";
    pub const RESIZE_MIGRATING: &str = "resize_migrating";
    pub const RESIZE_MIGRATED: &str = "resize_migrated";
    pub const RESIZE_FINISH: &str = "resize_finish";
    pub const RESIZE_REVERTING: &str = "resize_reverting";
    pub const RESIZE_CONFIRMING: &str = "resize_confirming";
    pub const REBOOTING: &str = "rebooting";
    pub const REBOOT_PENDING: &str = "reboot_pending";
    pub const REBOOT_STARTED: &str = "reboot_started";
    pub const REBOOTING_HARD: &str = "rebooting_hard";
    pub const REBOOT_PENDING_HARD: &str = "reboot_pending_hard";
    pub const REBOOT_STARTED_HARD: &str = "reboot_started_hard";
    pub const PAUSING: &str = "pausing";
    pub const UNPAUSING: &str = "unpausing";
    pub const SUSPENDING: &str = "suspending";
    pub const RESUMING: &str = "resuming";
    pub const POWERING_OFF: &str = "powering-off";
    pub const POWERING_ON: &str = "powering-on";
    pub const REBUILDING: &str = "rebuilding";
    pub const REBUILD_BLOCK_DEVICE_MAPPING: &str = "rebuild_block_device_mapping";
    pub const REBUILD_SPAWNING: &str = "rebuild_spawning";
    pub const MIGRATING: &str = "migrating";
    pub const DELETING: &str = "deleting";
    pub const SHELVING: &str = "shelving";
    pub const SHELVING_IMAGE_PENDING_UPLOAD: &str = "shelving_image_pending_upload";
    pub const SHELVING_IMAGE_UPLOADING: &str = "shelving_image_uploading";
    pub const SHELVING_OFFLOADING: &str = "shelving_offloading";
    pub const RESCUING: &str = "rescuing";
    pub const UNRESCUING: &str = "unrescuing";
}

impl Action {
    /// The `task_state` the controller sets before casting this action
    /// (as Nova's API does), which the agent's closing `instance_update`
    /// names as its `expected_task_state`. `None` for the attach/detach
    /// hooks, which do not change the instance's states.
    pub fn task_state(&self) -> Option<&'static str> {
        use task_states::*;
        Some(match self {
            Action::Stop => POWERING_OFF,
            Action::Start => POWERING_ON,
            Action::Reboot { hard: false } => REBOOTING,
            Action::Reboot { hard: true } => REBOOTING_HARD,
            Action::Pause => PAUSING,
            Action::Unpause => UNPAUSING,
            Action::Suspend => SUSPENDING,
            Action::Resume => RESUMING,
            Action::Rebuild { .. } => REBUILDING,
            Action::Resize { .. } => RESIZE_PREP,
            Action::ConfirmResize => RESIZE_CONFIRMING,
            Action::RevertResize { .. } => RESIZE_REVERTING,
            Action::Snapshot { .. } => IMAGE_SNAPSHOT,
            Action::Shelve { .. } => SHELVING,
            Action::Terminate => DELETING,
            Action::Rescue { .. } => RESCUING,
            Action::Unrescue => UNRESCUING,
            Action::MigrateDiskAndPowerOff { .. } => RESIZE_MIGRATING,
            Action::FinishMigration { .. } => RESIZE_FINISH,
            Action::ConfirmMigration => RESIZE_CONFIRMING,
            Action::RevertMigration | Action::FinishRevertMigration => RESIZE_REVERTING,
            Action::AttachVolume { .. }
            | Action::DetachVolume { .. }
            | Action::ExtendVolume { .. }
            | Action::AttachInterface { .. }
            | Action::DetachInterface { .. } => return None,
        })
    }

    /// The instance-action event the agent reports for this action
    /// (Nova's `wrap_instance_event` names: `compute_<method>`).
    pub fn event_name(&self) -> &'static str {
        match self {
            Action::Stop => "compute_stop_instance",
            Action::Start => "compute_start_instance",
            Action::Reboot { .. } => "compute_reboot_instance",
            Action::Pause => "compute_pause_instance",
            Action::Unpause => "compute_unpause_instance",
            Action::Suspend => "compute_suspend_instance",
            Action::Resume => "compute_resume_instance",
            Action::Rebuild { .. } => "compute_rebuild_instance",
            Action::Resize { .. } => "compute_finish_resize",
            Action::ConfirmResize => "compute_confirm_resize",
            Action::RevertResize { .. } => "compute_finish_revert_resize",
            Action::Snapshot { .. } => "compute_snapshot_instance",
            Action::Shelve { .. } => "compute_shelve_instance",
            Action::Terminate => "compute_terminate_instance",
            Action::Rescue { .. } => "compute_rescue_instance",
            Action::Unrescue => "compute_unrescue_instance",
            Action::MigrateDiskAndPowerOff { .. } => "compute_resize_instance",
            Action::FinishMigration { .. } => "compute_finish_resize",
            Action::ConfirmMigration => "compute_confirm_resize",
            Action::RevertMigration => "compute_revert_resize",
            Action::FinishRevertMigration => "compute_finish_revert_resize",
            Action::AttachVolume { .. } => "compute_attach_volume",
            Action::DetachVolume { .. } => "compute_detach_volume",
            Action::ExtendVolume { .. } => "compute_extend_volume",
            Action::AttachInterface { .. } => "compute_attach_interface",
            Action::DetachInterface { .. } => "compute_detach_interface",
        }
    }
}

/// The event the agent reports for a successful or failed build.
pub const BUILD_EVENT: &str = "compute__do_build_and_run_instance";

impl ActionEvent {
    pub fn success(event: &str) -> Self {
        ActionEvent {
            event: event.to_owned(),
            result: "Success".to_owned(),
            traceback: None,
        }
    }

    pub fn error(event: &str, traceback: impl Into<String>) -> Self {
        ActionEvent {
            event: event.to_owned(),
            result: "Error".to_owned(),
            traceback: Some(traceback.into()),
        }
    }
}

/// Serde for `Option<Option<T>>` fields that must keep "absent" (`None`,
/// no key) apart from "null" (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_keeps_unchanged_apart_from_cleared_on_the_wire() {
        let mut u = InstanceUpdate::new("i", "h");
        let back: InstanceUpdate = serde_json::from_value(serde_json::to_value(&u).unwrap()).unwrap();
        assert_eq!(back.task_state, None);
        assert_eq!(back.expected_task_state, None);

        u.task_state = Some(None);
        u.expected_task_state = Some(Some("spawning".to_owned()));
        let wire = serde_json::to_value(&u).unwrap();
        assert_eq!(wire["task_state"], Value::Null);
        let back: InstanceUpdate = serde_json::from_value(wire).unwrap();
        assert_eq!(back, u);

        u.task_state = Some(Some("x".to_owned()));
        u.expected_task_state = Some(None);
        let back: InstanceUpdate = serde_json::from_value(serde_json::to_value(&u).unwrap()).unwrap();
        assert_eq!(back, u);
    }

    #[test]
    fn actions_name_their_task_and_event() {
        assert_eq!(Action::Stop.task_state(), Some("powering-off"));
        assert_eq!(Action::Reboot { hard: true }.task_state(), Some("rebooting_hard"));
        assert_eq!(Action::DetachInterface { port_id: "p".into() }.task_state(), None);
        assert_eq!(Action::Terminate.event_name(), "compute_terminate_instance");
    }
}
