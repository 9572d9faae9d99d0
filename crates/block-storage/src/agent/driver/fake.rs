//! The fake driver: volumes and snapshots in memory (their size and the
//! bytes written to them), with a knob to make the next operation of a
//! kind fail. For tests of the agent and the service without disks.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Capacity, Driver, DriverError, GIB, Inventory};
use crate::rpc::{ConnectionInfo, Connector};

#[derive(Clone, Debug, Default)]
struct Disk {
    size: u64,
    bytes: BTreeMap<u64, u8>,
}

#[derive(Default)]
struct State {
    volumes: HashMap<String, Disk>,
    snapshots: HashMap<String, Disk>,
    fail: HashMap<String, String>,
    /// `(volume, host)` pairs with a live export.
    exports: std::collections::BTreeSet<(String, String)>,
}

pub struct FakeDriver {
    state: Mutex<State>,
    total_gb: f64,
    scratch: PathBuf,
}

impl FakeDriver {
    /// A backend of `total_gb`; downloads are staged in `scratch`.
    pub fn new(total_gb: f64, scratch: impl Into<PathBuf>) -> FakeDriver {
        FakeDriver {
            state: Mutex::new(State::default()),
            total_gb,
            scratch: scratch.into(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next `op` (a trait method's name) fails with `message`.
    pub fn fail_next(&self, op: &str, message: &str) {
        self.lock().fail.insert(op.to_owned(), message.to_owned());
    }

    fn check(&self, op: &str) -> Result<(), DriverError> {
        match self.lock().fail.remove(op) {
            Some(m) => Err(DriverError::Failed(m)),
            None => Ok(()),
        }
    }

    pub fn write(&self, id: &str, offset: u64, data: &[u8]) -> Result<(), DriverError> {
        let mut s = self.lock();
        let d = s.volumes.get_mut(id).ok_or_else(|| DriverError::NotFound(id.into()))?;
        for (i, b) in data.iter().enumerate() {
            d.bytes.insert(offset + i as u64, *b);
        }
        Ok(())
    }

    pub fn read(&self, id: &str, offset: u64, len: usize, snapshot: bool) -> Result<Vec<u8>, DriverError> {
        let s = self.lock();
        let map = if snapshot { &s.snapshots } else { &s.volumes };
        let d = map.get(id).ok_or_else(|| DriverError::NotFound(id.into()))?;
        Ok((0..len as u64)
            .map(|i| d.bytes.get(&(offset + i)).copied().unwrap_or(0))
            .collect())
    }

    /// The hosts a volume is exported to now.
    pub fn exports_of(&self, id: &str) -> Vec<String> {
        self.lock()
            .exports
            .iter()
            .filter(|(v, _)| v == id)
            .map(|(_, h)| h.clone())
            .collect()
    }

    pub fn size_of(&self, id: &str) -> Option<u64> {
        self.lock().volumes.get(id).map(|d| d.size)
    }

    fn copy_into(&self, id: &str, src: Option<Disk>, what: &str, size_gb: u64) -> Result<(), DriverError> {
        let mut d = src.ok_or_else(|| DriverError::NotFound(what.into()))?;
        if d.size > size_gb * GIB {
            return Err(DriverError::Invalid(format!("{what} does not fit {size_gb} GiB")));
        }
        d.size = size_gb * GIB;
        let mut s = self.lock();
        if s.volumes.contains_key(id) {
            return Err(DriverError::AlreadyExists(id.into()));
        }
        s.volumes.insert(id.into(), d);
        Ok(())
    }
}

#[async_trait::async_trait]
impl Driver for FakeDriver {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn capacity(&self) -> Result<Capacity, DriverError> {
        self.check("capacity")?;
        let s = self.lock();
        let used: u64 = s.volumes.values().chain(s.snapshots.values()).map(|d| d.size).sum();
        Ok(Capacity {
            total_gb: self.total_gb,
            free_gb: (self.total_gb - used as f64 / GIB as f64).max(0.0),
        })
    }

    async fn inventory(&self) -> Result<Inventory, DriverError> {
        let s = self.lock();
        let mut inv = Inventory {
            volumes: s.volumes.keys().cloned().collect(),
            snapshots: s.snapshots.keys().cloned().collect(),
        };
        inv.volumes.sort();
        inv.snapshots.sort();
        Ok(inv)
    }

    fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    async fn create_volume(&self, id: &str, size_gb: u64) -> Result<(), DriverError> {
        self.check("create_volume")?;
        self.copy_into(id, Some(Disk::default()), id, size_gb)
    }

    async fn create_volume_from_snapshot(&self, id: &str, snapshot_id: &str, size_gb: u64) -> Result<(), DriverError> {
        self.check("create_volume_from_snapshot")?;
        let src = self.lock().snapshots.get(snapshot_id).cloned();
        self.copy_into(id, src, snapshot_id, size_gb)
    }

    async fn clone_volume(&self, id: &str, source_id: &str, size_gb: u64) -> Result<(), DriverError> {
        self.check("clone_volume")?;
        let src = self.lock().volumes.get(source_id).cloned();
        self.copy_into(id, src, source_id, size_gb)
    }

    async fn copy_image_to_volume(
        &self,
        id: &str,
        image: &Path,
        _format: &str,
        size_gb: u64,
    ) -> Result<(), DriverError> {
        self.check("copy_image_to_volume")?;
        let data = tokio::fs::read(image)
            .await
            .map_err(|e| DriverError::Failed(format!("read {}: {e}", image.display())))?;
        if data.len() as u64 > size_gb * GIB {
            return Err(DriverError::Invalid(format!(
                "Image virtual size is {}GB and doesn't fit in a volume of size {size_gb}GB.",
                (data.len() as u64).div_ceil(GIB)
            )));
        }
        let disk = Disk {
            size: data.len() as u64,
            bytes: data.iter().enumerate().map(|(i, b)| (i as u64, *b)).collect(),
        };
        self.copy_into(id, Some(disk), id, size_gb)
    }

    async fn delete_volume(&self, id: &str) -> Result<(), DriverError> {
        self.check("delete_volume")?;
        self.lock().volumes.remove(id);
        Ok(())
    }

    async fn extend_volume(&self, id: &str, new_size_gb: u64) -> Result<(), DriverError> {
        self.check("extend_volume")?;
        let mut s = self.lock();
        let d = s.volumes.get_mut(id).ok_or_else(|| DriverError::NotFound(id.into()))?;
        if new_size_gb * GIB < d.size {
            return Err(DriverError::Invalid("cannot shrink".into()));
        }
        d.size = new_size_gb * GIB;
        Ok(())
    }

    async fn create_snapshot(&self, snapshot_id: &str, volume_id: &str) -> Result<(), DriverError> {
        self.check("create_snapshot")?;
        let mut s = self.lock();
        let d = s
            .volumes
            .get(volume_id)
            .cloned()
            .ok_or_else(|| DriverError::NotFound(volume_id.into()))?;
        if s.snapshots.contains_key(snapshot_id) {
            return Err(DriverError::AlreadyExists(snapshot_id.into()));
        }
        s.snapshots.insert(snapshot_id.into(), d);
        Ok(())
    }

    async fn revert_to_snapshot(&self, volume_id: &str, snapshot_id: &str) -> Result<(), DriverError> {
        self.check("revert_to_snapshot")?;
        let mut s = self.lock();
        let snap = s
            .snapshots
            .get(snapshot_id)
            .cloned()
            .ok_or_else(|| DriverError::NotFound(snapshot_id.into()))?;
        let vol = s
            .volumes
            .get_mut(volume_id)
            .ok_or_else(|| DriverError::NotFound(volume_id.into()))?;
        let size = vol.size;
        *vol = Disk {
            size,
            bytes: snap.bytes,
        };
        Ok(())
    }

    async fn delete_snapshot(&self, snapshot_id: &str) -> Result<(), DriverError> {
        self.check("delete_snapshot")?;
        self.lock().snapshots.remove(snapshot_id);
        Ok(())
    }

    async fn initialize_connection(&self, id: &str, connector: &Connector) -> Result<ConnectionInfo, DriverError> {
        self.check("initialize_connection")?;
        let mut s = self.lock();
        if !s.volumes.contains_key(id) {
            return Err(DriverError::NotFound(id.into()));
        }
        s.exports.insert((id.to_owned(), connector.host.clone()));
        let mut data = BTreeMap::new();
        data.insert("volume_id".to_owned(), serde_json::json!(id));
        Ok(ConnectionInfo {
            driver_volume_type: "fake".into(),
            data,
        })
    }

    async fn terminate_connection(&self, id: &str, connector: &Connector) -> Result<(), DriverError> {
        self.check("terminate_connection")?;
        self.lock().exports.remove(&(id.to_owned(), connector.host.clone()));
        Ok(())
    }
}
