//! Object storage: a Swift v1 proxy with its account, container and object
//! servers in one process.
//!
//! Where it sits: port 8080, controller (or storage) role, catalog type
//! `object-store` at `http://host:8080/v1/AUTH_%(project_id)s`. Callers: the
//! `swift` and `openstack` clients, tempest, later image and block-storage
//! backups. Callee: identity, for tokens (the `api` token middleware).
//!
//! The rooms, in the order of a request:
//! - `api/` — one handler for `/v1/…` that parses the path (Swift's names
//!   may hold any character, `COPY` is a method of its own) and drops the
//!   headers only the middleware may set (Swift's gatekeeper), then one
//!   file per level: accounts, containers, objects; `/info`; listing
//!   formats;
//! - [`middleware`] — Swift's proxy middleware, one module each, between
//!   the path parser and the levels: TempURL, FormPost, bulk delete and
//!   archive extraction, static large objects, versioning, container and
//!   account quotas (dynamic large objects live in the object level);
//! - [`access`] — keystoneauth: owners, reseller admins, container ACLs;
//! - domain helpers: [`names`] (name rules, timestamps), [`meta`]
//!   (metadata headers and limits), [`range`], [`listing`] (prefix,
//!   delimiter, markers);
//! - [`replicas`] — the proxy's object controller: each object on all its
//!   replica devices, quorum writes, reads that fall over;
//! - [`ring`] — which devices hold an object (partitions, replicas,
//!   zones, weights, rebalance): `oxistack manage ring`;
//! - [`disk`] — objects as files on a device directory (the object server;
//!   its doc says why metadata is a trailer of the data file);
//! - [`replicator`] — the background replicator and auditor (the expirer
//!   is here, below);
//! - `db/` — account and container listings (the account and container
//!   servers; its doc says how they scale).
//!
//! Departure from Swift: listings are not replicated per-container SQLite
//! files kept by the account and container servers of each replica, but
//! one table set in the service's SQL database — its durability and
//! replication are the database's job (PostgreSQL or MariaDB replicas in a
//! scale-out cloud). Only object bodies are placed by the ring.
//!
//! Devices: `oxistack up` keeps one device (`<data dir>/object-storage/d0`,
//! one replica, hashes unsalted: the paths objects always had) until the
//! operator writes a ring file (`<data dir>/object-storage/object.ring.json`,
//! `oxistack manage ring create|add|rebalance`); then the ring's devices,
//! relative names under that directory. A changed ring file is loaded
//! again within 15 s.
//!
//! Why this shape: a GET or HEAD of an object touches only the disk, never
//! the database (the owner needs no container lookup); bodies stream
//! through in both directions, never held in memory — segments of large
//! objects, form uploads and archive members included. The middleware
//! acts for the caller through sub-requests run through the rest of the
//! pipeline, so ACLs, quotas and versioning apply to what it does.
//!
//! Not yet here (issue 7): storage servers in other processes (a ring
//! device with an `address` is not reached yet), S3, ratelimit; of the middleware, static web, symlinks, container sync,
//! manifests of manifests (an SLO segment that is itself an SLO), and
//! `temp_url_ip_range` (the server does not see the client's address yet:
//! such a URL is refused). `/info` lists only what is.

pub mod access;
mod api;
pub(crate) mod db;
pub mod disk;
pub mod error;
pub mod listing;
pub mod meta;
pub mod middleware;
pub mod names;
pub mod range;
pub mod replicas;
pub mod replicator;
pub mod ring;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::SwiftError;

/// The standard port of the proxy.
pub const PORT: u16 = 8080;

#[derive(Clone, Debug)]
pub struct ObjectStorageConfig {
    /// The device directory objects are stored on when there is no ring.
    pub device: PathBuf,
    /// The ring, when this file exists (device names relative to its
    /// directory).
    pub ring_file: Option<PathBuf>,
    /// The largest object a PUT may write (Swift's `max_file_size`).
    pub max_file_size: u64,
    /// How often the expirer looks for objects past their `X-Delete-At`.
    pub expirer_interval: Duration,
    /// Pause between replication passes (Swift's `interval`, 30 s).
    pub replicator_interval: Duration,
    /// Tombstones older than this are removed (Swift's `reclaim_age`, a
    /// week).
    pub reclaim_age: Duration,
    /// Pause between audit passes (Swift's 30 s).
    pub auditor_interval: Duration,
    /// The auditor's read rate (Swift's `bytes_per_second`, 10 MB/s).
    pub auditor_bytes_per_second: u64,
    /// After a quorum, how long a PUT waits for the other replicas
    /// (Swift's `post_quorum_timeout`).
    pub post_quorum_timeout: Duration,
}

impl ObjectStorageConfig {
    pub fn new(device: PathBuf) -> Self {
        ObjectStorageConfig {
            device,
            ring_file: None,
            max_file_size: 5 * 1024 * 1024 * 1024 + 2,
            expirer_interval: Duration::from_secs(5),
            replicator_interval: Duration::from_secs(30),
            reclaim_age: Duration::from_secs(7 * 24 * 3600),
            auditor_interval: Duration::from_secs(30),
            auditor_bytes_per_second: 10_000_000,
            post_quorum_timeout: Duration::from_millis(500),
        }
    }

    /// The ring file of a data directory's object storage, beside its
    /// default device.
    pub fn default_ring_file(object_storage_dir: &std::path::Path) -> PathBuf {
        object_storage_dir.join("object.ring.json")
    }
}

/// The running service; cheap to clone.
#[derive(Clone)]
pub struct ObjectStorage(Arc<Inner>);

pub struct Inner {
    pub config: ObjectStorageConfig,
    pub(crate) db: store::Db,
    /// Swapped whole when the ring file changes; a request keeps the one
    /// it started with.
    objects: std::sync::RwLock<Arc<replicas::Replicas>>,
    /// What the loaded ring file looked like (modification time, length).
    ring_stamp: std::sync::Mutex<Option<(std::time::SystemTime, u64)>>,
    pub clock: names::Clock,
}

impl std::ops::Deref for ObjectStorage {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database")]
    Store(#[from] store::StoreError),
    #[error("device directory")]
    Io(#[from] std::io::Error),
    #[error("object ring")]
    Ring(#[from] ring::RingError),
    #[error("the object ring has partitions without devices: run `oxistack manage ring rebalance`")]
    RingIncomplete,
}

impl ObjectStorage {
    /// Migrates the listing database and opens the devices: the ring's,
    /// or the one device.
    pub async fn start(config: ObjectStorageConfig, db: store::Db) -> Result<ObjectStorage, StartError> {
        db::migrate(&db).await?;
        let (objects, stamp) = load_replicas(&config)?;
        Ok(ObjectStorage(Arc::new(Inner {
            config,
            db,
            objects: std::sync::RwLock::new(Arc::new(objects)),
            ring_stamp: std::sync::Mutex::new(stamp),
            clock: names::Clock::default(),
        })))
    }

    /// The ring and devices objects go to now.
    pub fn objects(&self) -> Arc<replicas::Replicas> {
        self.objects.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Loads the ring file again if it changed since it was loaded (an
    /// operator's `oxistack manage ring rebalance`), as Swift's servers
    /// reload theirs; true when it did. A ring that does not load leaves
    /// the current one in place.
    pub fn reload_ring_if_changed(&self) -> Result<bool, StartError> {
        let Some(file) = &self.config.ring_file else {
            return Ok(false);
        };
        let now = ring_stamp(file);
        let mut stamp = self.ring_stamp.lock().unwrap_or_else(|e| e.into_inner());
        if now.is_none() || now == *stamp {
            return Ok(false);
        }
        let (objects, loaded) = load_replicas(&self.config)?;
        tracing::info!(generation = objects.ring().generation, "object ring reloaded");
        *self.objects.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(objects);
        *stamp = loaded;
        Ok(true)
    }

    /// Checks the ring file every 15 s (Swift's `reload_time`).
    pub fn spawn_ring_watcher(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(15)).await;
                let t = s.clone();
                match tokio::task::spawn_blocking(move || t.reload_ring_if_changed()).await {
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "the changed object ring does not load; keeping the old one")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "ring watcher"),
                }
            }
        })
    }

    /// The expirer, the replicator and the auditor, each on its timer.
    pub fn spawn_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            self.spawn_expirer(),
            self.spawn_replicator(),
            self.spawn_auditor(),
            self.spawn_ring_watcher(),
        ]
    }

    pub fn spawn_replicator(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(s.config.replicator_interval).await;
                s.replicate_once().await;
            }
        })
    }

    pub fn spawn_auditor(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(s.config.auditor_interval).await;
                s.audit_once().await;
            }
        })
    }

    /// One replication pass (see [`replicator`]).
    pub async fn replicate_once(&self) -> replicator::ReplicationStats {
        let s = self.clone();
        tokio::task::spawn_blocking(move || replicator::replicate(&s.objects(), s.config.reclaim_age))
            .await
            .unwrap_or_default()
    }

    /// One audit pass (see [`replicator`]).
    pub async fn audit_once(&self) -> replicator::AuditStats {
        let s = self.clone();
        tokio::task::spawn_blocking(move || replicator::audit(&s.objects(), s.config.auditor_bytes_per_second))
            .await
            .unwrap_or_default()
    }

    /// The proxy's routes in the common middleware stack, with `auth` for
    /// tokens.
    pub fn router(&self, auth: ::api::TokenAuth) -> axum::Router {
        api::router(self.clone(), auth)
    }

    /// The object expirer: deletes objects past their `X-Delete-At` (reads
    /// already answer 404 for them; this frees the space and the listing).
    pub fn spawn_expirer(&self) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(s.config.expirer_interval).await;
                if let Err(e) = s.expire_once().await {
                    tracing::warn!(error = %e, "object expirer pass failed");
                }
            }
        })
    }

    /// One pass of the expirer; returns how many objects it deleted.
    pub async fn expire_once(&self) -> Result<usize, SwiftError> {
        let due = db::objects::expired(&self.db, names::now_secs(), 1000).await?;
        let mut n = 0;
        for (account, container, name) in due {
            let path = format!("/{account}/{container}/{name}");
            // Re-check on disk: a newer PUT may have cleared the expiry.
            let Some(opened) = self.objects().open(&path).await? else {
                continue;
            };
            if opened.meta.delete_at().is_some_and(|t| t <= names::now_secs()) {
                let ts = self.clock.now();
                self.objects().delete(&path, ts).await?;
                let row = db::objects::ObjectRow {
                    name,
                    ts: ts.0,
                    size: 0,
                    etag: String::new(),
                    content_type: String::new(),
                    delete_at: None,
                };
                db::objects::record(&self.db, &account, &container, &row, true).await?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The ring file's modification time and length, if it exists.
fn ring_stamp(file: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(file).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The ring (the file's, or the one device's) and its local devices.
fn load_replicas(
    config: &ObjectStorageConfig,
) -> Result<(replicas::Replicas, Option<(std::time::SystemTime, u64)>), StartError> {
    let ring_file = config.ring_file.clone().filter(|f| f.exists());
    let stamp = ring_file.as_deref().and_then(ring_stamp);
    let (ring, base) = match &ring_file {
        Some(f) => (
            ring::Ring::load(f)?,
            f.parent().map(std::path::Path::to_owned).unwrap_or_default(),
        ),
        None => (ring::Ring::single(&config.device.to_string_lossy()), PathBuf::new()),
    };
    if !ring.is_complete() {
        return Err(StartError::RingIncomplete);
    }
    tracing::info!(
        devices = ring.devices().count(),
        replicas = ring.replicas,
        part_power = ring.part_power,
        generation = ring.generation,
        "object ring"
    );
    let objects = replicas::Replicas::open_devices(
        ring,
        |name| {
            let p = std::path::Path::new(name);
            if p.is_absolute() { p.to_owned() } else { base.join(p) }
        },
        config.post_quorum_timeout,
    )?;
    Ok((objects, stamp))
}

/// Applies this service's database migrations (`oxistack manage db-sync`).
pub async fn migrate(db: &store::Db) -> Result<(), store::StoreError> {
    db::migrate(db).await
}
