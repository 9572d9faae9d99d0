//! The volume driver trait and its contract, and one module per driver:
//! [`file`](mod@file) (raw sparse files under the data directory) and [`fake`]
//! (in memory, with failure knobs, for tests). LVM and RBD would be two
//! more modules behind the same trait; nothing here assumes files except
//! the file driver itself.
//!
//! The contract, which `tests/driver_contract.rs` checks against every
//! driver:
//! - **Creates are all or nothing.** `create_volume`,
//!   `create_volume_from_snapshot`, `clone_volume`, `copy_image_to_volume`
//!   and `create_snapshot` either leave a complete volume (snapshot) named
//!   by the id, or nothing at all; an id that exists already is
//!   [`DriverError::AlreadyExists`] and the existing data is untouched.
//!   So after a crash, "the id exists" means "the create finished".
//! - **Deletes are idempotent**: deleting what is not there succeeds.
//! - **Snapshots are independent of their volume**: writing to or
//!   extending the volume afterwards does not change the snapshot, and a
//!   volume made from a snapshot is independent of both.
//! - `extend_volume` only grows; the data below the old size is kept.
//! - `revert_to_snapshot` makes the volume's data the snapshot's, all or
//!   nothing (after a crash the volume holds the old data or the
//!   snapshot's, never a mix); the snapshot is unchanged. The volume keeps
//!   its size (the API only reverts to a snapshot of the same size).
//! - Sizes are GiB; a new volume reads as zeros where nothing was written.
//! - `inventory` lists what the backend really has, for the agent's
//!   reconciliation at start; ids never leak platform names.
//! - `initialize_connection` exports the volume to the host a connector
//!   names and says how that host reaches it (Cinder's `connection_info`:
//!   `driver_volume_type` + `data`, with `volume_id` in `data`); calling
//!   it again for the same host answers the same export.
//!   `terminate_connection` removes that host's export, and succeeds when
//!   there is none. Neither changes the volume's data. A host the driver
//!   cannot serve is [`DriverError::Invalid`], with the reason.

pub mod fake;
pub mod file;

use std::path::Path;

use crate::rpc::{ConnectionInfo, Connector};

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The request cannot be done (size too small, bad image …).
    #[error("{0}")]
    Invalid(String),
    /// The backend failed (I/O, a command, out of space).
    #[error("{0}")]
    Failed(String),
}

/// What the backend reports in its heartbeat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub total_gb: f64,
    pub free_gb: f64,
}

/// The ids a backend really holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub volumes: Vec<String>,
    pub snapshots: Vec<String>,
}

#[async_trait::async_trait]
pub trait Driver: Send + Sync + 'static {
    /// The driver's name (`file`).
    fn name(&self) -> &'static str;
    async fn capacity(&self) -> Result<Capacity, DriverError>;
    async fn inventory(&self) -> Result<Inventory, DriverError>;
    /// Where the agent may stage downloads (an image before conversion),
    /// on the backend's own disk so no other filesystem fills up.
    fn scratch_dir(&self) -> &Path;

    /// A blank (thin where the backend can) volume of `size_gb`.
    async fn create_volume(&self, id: &str, size_gb: u64) -> Result<(), DriverError>;
    /// A volume with the snapshot's data, grown to `size_gb`.
    async fn create_volume_from_snapshot(&self, id: &str, snapshot_id: &str, size_gb: u64) -> Result<(), DriverError>;
    /// A copy of another volume of this backend, grown to `size_gb`.
    async fn clone_volume(&self, id: &str, source_id: &str, size_gb: u64) -> Result<(), DriverError>;
    /// A volume with the data of the image file `image` (in `format`,
    /// as the image service declares it), converted to the backend's
    /// format. The image's virtual size must fit `size_gb`
    /// ([`DriverError::Invalid`] otherwise); images that refer to other
    /// files (backing or data files) are refused.
    async fn copy_image_to_volume(&self, id: &str, image: &Path, format: &str, size_gb: u64)
    -> Result<(), DriverError>;
    async fn delete_volume(&self, id: &str) -> Result<(), DriverError>;
    async fn extend_volume(&self, id: &str, new_size_gb: u64) -> Result<(), DriverError>;
    async fn create_snapshot(&self, snapshot_id: &str, volume_id: &str) -> Result<(), DriverError>;
    async fn revert_to_snapshot(&self, volume_id: &str, snapshot_id: &str) -> Result<(), DriverError>;
    async fn delete_snapshot(&self, snapshot_id: &str) -> Result<(), DriverError>;
    async fn initialize_connection(&self, id: &str, connector: &Connector) -> Result<ConnectionInfo, DriverError>;
    async fn terminate_connection(&self, id: &str, connector: &Connector) -> Result<(), DriverError>;
}

pub(crate) const GIB: u64 = 1 << 30;
