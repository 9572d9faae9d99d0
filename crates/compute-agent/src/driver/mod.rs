//! The hypervisor driver interface (Nova's `ComputeDriver`) and its
//! drivers, one module each: [`fake`] (an in-memory hypervisor for tests
//! and scale runs) and [`qemu`] (real guests, one QEMU process each).
//!
//! A driver knows instances by uuid and nothing of the controller's
//! `vm_state`/`task_state`: it answers what the hypervisor has (power
//! states, resources) and performs operations. The agent turns outcomes
//! into state updates. OS commands, if a driver needs any, stay inside its
//! module.

pub mod fake;
pub mod qemu;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rpc::{Diagnostics, FlavorSpec, HostResources, ImageSpec, InstanceSpec, PowerState, RequestContext};

pub use fake::FakeDriver;
pub use qemu::{QemuConfig, QemuDriver};

/// What can go wrong in a driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The hypervisor has no instance with this uuid.
    #[error("instance {0} could not be found on this hypervisor")]
    NotFound(String),
    /// The instance exists but is not in a state that allows `operation`
    /// (e.g. unpause of a running instance).
    #[error("instance {uuid} is in power state {state:?}; cannot {operation}")]
    InvalidState {
        uuid: String,
        state: PowerState,
        operation: String,
    },
    /// The image cannot be a disk of this hypervisor (not a disk of its
    /// format, or a qcow2 that would make QEMU open other host files):
    /// another host would refuse it too, so the build is not re-scheduled.
    #[error("Image {image_id} is unacceptable: {reason}")]
    ImageUnacceptable { image_id: String, reason: String },
    /// The operation failed (the hypervisor said no, an upload failed, …).
    #[error("{0}")]
    Failed(String),
    /// This driver cannot do the operation at all (Nova's
    /// `NotImplementedError`; the API answers 501).
    #[error("the driver does not support {0}")]
    NotSupported(String),
}

impl DriverError {
    /// Nova's exception class name for this error, used as the fault
    /// message prefix and the bus error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            DriverError::NotFound(_) => "InstanceNotFound",
            DriverError::InvalidState { .. } => "InstanceInvalidState",
            DriverError::ImageUnacceptable { .. } => "ImageUnacceptable",
            DriverError::Failed(_) => "HypervisorError",
            DriverError::NotSupported(_) => "NotImplemented",
        }
    }

    /// Whether a build that failed with this error may succeed on another
    /// host.
    pub fn retryable(&self) -> bool {
        !matches!(self, DriverError::ImageUnacceptable { .. })
    }
}

/// One instance as `list_instances` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverInstance {
    pub uuid: String,
    pub power_state: PowerState,
}

/// What the hypervisor knows of one instance (Nova's `InstanceInfo`, plus
/// what the agent needs to finish interrupted operations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub uuid: String,
    /// The hypervisor-side name (`instance-0000002a`).
    pub name: String,
    pub power_state: PowerState,
    /// The flavor the instance runs with now.
    pub flavor: FlavorSpec,
    /// Set between a resize and its confirmation or revert.
    pub old_flavor: Option<FlavorSpec>,
    pub image_id: Option<String>,
    /// Attached volume ids.
    pub volumes: Vec<String>,
    /// Plugged port ids.
    pub interfaces: Vec<String>,
}

/// A hypervisor driver. Every method is per instance uuid; methods on an
/// unknown uuid return [`DriverError::NotFound`].
#[async_trait::async_trait]
pub trait Driver: Send + Sync + 'static {
    /// The driver's name (`fake`, `qemu`), for logs and `hypervisor_type`.
    fn name(&self) -> &'static str;

    /// The host's resources, for the heartbeat and placement inventories.
    async fn host_resources(&self) -> Result<HostResources, DriverError>;

    /// Every instance the hypervisor has, whatever its power state.
    async fn list_instances(&self) -> Result<Vec<DriverInstance>, DriverError>;

    async fn get_info(&self, uuid: &str) -> Result<InstanceInfo, DriverError>;

    /// Create and boot the instance (ends `Running`).
    async fn spawn(&self, ctx: &RequestContext, spec: &InstanceSpec) -> Result<(), DriverError>;

    /// Power off and remove the instance and its local disks.
    async fn destroy(&self, uuid: &str) -> Result<(), DriverError>;

    /// Soft reboot needs a running guest; hard reboot works from any
    /// state. Both end `Running`.
    async fn reboot(&self, uuid: &str, hard: bool) -> Result<(), DriverError>;

    /// Ends `Shutdown`; already off is not an error.
    async fn power_off(&self, uuid: &str) -> Result<(), DriverError>;

    /// Ends `Running`; already running is not an error.
    async fn power_on(&self, uuid: &str) -> Result<(), DriverError>;

    async fn pause(&self, uuid: &str) -> Result<(), DriverError>;
    async fn unpause(&self, uuid: &str) -> Result<(), DriverError>;
    async fn suspend(&self, uuid: &str) -> Result<(), DriverError>;
    async fn resume(&self, uuid: &str) -> Result<(), DriverError>;

    /// Re-create the instance's root disk from `spec.image` and boot it;
    /// an instance that was shut down stays shut down.
    async fn rebuild(&self, ctx: &RequestContext, spec: &InstanceSpec) -> Result<(), DriverError>;

    /// Resize to `spec.flavor`, keeping `old_flavor` until
    /// [`Driver::confirm_resize`] or [`Driver::revert_resize`]. The power
    /// state is kept.
    async fn resize(&self, spec: &InstanceSpec, old_flavor: &FlavorSpec) -> Result<(), DriverError>;

    /// Drop what a revert would need.
    async fn confirm_resize(&self, uuid: &str) -> Result<(), DriverError>;

    /// Back to `old_flavor`.
    async fn revert_resize(&self, uuid: &str, old_flavor: &FlavorSpec) -> Result<(), DriverError>;

    /// Snapshot the root disk and upload it with `PUT upload_url` (the
    /// image service's `/v2/images/{id}/file`) using `ctx.token`. Returns
    /// the number of bytes uploaded.
    async fn snapshot(&self, ctx: &RequestContext, uuid: &str, upload_url: &str) -> Result<u64, DriverError>;

    /// The guest's serial console log.
    async fn console_output(&self, uuid: &str) -> Result<String, DriverError>;

    /// What the hypervisor measures of a running guest (Nova's
    /// `get_instance_diagnostics`): only figures the driver really has,
    /// `None` for the others. The caller checks the power state first; a
    /// driver may answer [`DriverError::InvalidState`] for a guest that is
    /// not running. Drivers that cannot answer [`DriverError::NotSupported`]
    /// (the default).
    async fn get_diagnostics(&self, uuid: &str) -> Result<Diagnostics, DriverError> {
        let _ = uuid;
        Err(DriverError::NotSupported("get_diagnostics".to_owned()))
    }

    async fn attach_volume(
        &self,
        uuid: &str,
        volume_id: &str,
        connection_info: &Value,
        mountpoint: &str,
    ) -> Result<(), DriverError>;

    async fn detach_volume(&self, uuid: &str, volume_id: &str, mountpoint: &str) -> Result<(), DriverError>;

    /// Grow the guest's disk of an attached volume to `new_size` bytes
    /// (Nova's `extend_volume`), after block storage grew the volume
    /// itself: the running guest sees the new size. A guest that is not
    /// running needs nothing (its next start opens the grown volume). An
    /// error when the volume is not attached.
    async fn extend_volume(&self, uuid: &str, volume_id: &str, new_size: u64) -> Result<(), DriverError>;

    /// Plug `port` (a Neutron port body with at least an `id`).
    async fn attach_interface(&self, uuid: &str, port: &Value) -> Result<(), DriverError>;

    async fn detach_interface(&self, uuid: &str, port_id: &str) -> Result<(), DriverError>;

    /// Rescue (Nova's `rescue`): power the guest off (cleanly when it
    /// runs), then boot it from a fresh disk of `rescue_image` with the
    /// instance's own root disk attached as the second disk, so a user can
    /// repair it. Ends `Running`. The rescue survives the agent's restart
    /// and [`Driver::destroy`] removes it with the rest. A reboot, or a
    /// start after a stop, of a rescued guest boots its own disk again (the
    /// rescue is dropped), as the controller then shows it `active`.
    async fn rescue(
        &self,
        ctx: &RequestContext,
        spec: &InstanceSpec,
        rescue_image: &ImageSpec,
    ) -> Result<(), DriverError>;

    /// Back from a rescue: boot the instance's own root disk again and
    /// drop the rescue disk. Ends `Running`. [`DriverError::InvalidState`]
    /// when the instance is not rescued.
    async fn unrescue(&self, uuid: &str) -> Result<(), DriverError>;

    /// The source's half of a cold migration (Nova's
    /// `migrate_disk_and_power_off`): power the guest off and hand its
    /// disks over to `dest_host`. The source keeps the powered-off guest
    /// until the migration is confirmed ([`Driver::destroy`]) or reverted
    /// ([`Driver::finish_revert_migration`]). A driver that cannot move
    /// disks between hosts refuses with an error before it changes
    /// anything, and the guest keeps running.
    async fn migrate_disk_and_power_off(&self, spec: &InstanceSpec, dest_host: &str) -> Result<(), DriverError>;

    /// The destination's half (Nova's `finish_migration`): create the
    /// instance from the disks handed over, running when `power_on`
    /// (else shut down).
    async fn finish_migration(
        &self,
        ctx: &RequestContext,
        spec: &InstanceSpec,
        power_on: bool,
    ) -> Result<(), DriverError>;

    /// Back on the source after a revert (Nova's
    /// `finish_revert_migration`): the guest handed over is taken back,
    /// in the power state it had before the migration.
    async fn finish_revert_migration(&self, uuid: &str) -> Result<(), DriverError>;
}
