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
//! - [`disk`] — objects as files on a device directory (the object server;
//!   its doc says why metadata is a trailer of the data file);
//! - `db/` — account and container listings (the account and container
//!   servers; its doc says how they scale).
//!
//! Why this shape: a GET or HEAD of an object touches only the disk, never
//! the database (the owner needs no container lookup); bodies stream
//! through in both directions, never held in memory — segments of large
//! objects, form uploads and archive members included. The middleware
//! acts for the caller through sub-requests run through the rest of the
//! pipeline, so ACLs, quotas and versioning apply to what it does.
//!
//! Not yet here (issue 7): the ring and replicas, replicator and auditor,
//! S3, ratelimit; of the middleware, static web, symlinks, container sync,
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

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::SwiftError;

/// The standard port of the proxy.
pub const PORT: u16 = 8080;

#[derive(Clone, Debug)]
pub struct ObjectStorageConfig {
    /// The device directory objects are stored on.
    pub device: PathBuf,
    /// The largest object a PUT may write (Swift's `max_file_size`).
    pub max_file_size: u64,
    /// How often the expirer looks for objects past their `X-Delete-At`.
    pub expirer_interval: Duration,
}

impl ObjectStorageConfig {
    pub fn new(device: PathBuf) -> Self {
        ObjectStorageConfig {
            device,
            max_file_size: 5 * 1024 * 1024 * 1024 + 2,
            expirer_interval: Duration::from_secs(5),
        }
    }
}

/// The running service; cheap to clone.
#[derive(Clone)]
pub struct ObjectStorage(Arc<Inner>);

pub struct Inner {
    pub config: ObjectStorageConfig,
    pub(crate) db: store::Db,
    pub disk: disk::Disk,
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
}

impl ObjectStorage {
    /// Migrates the listing database and opens the device directory.
    pub async fn start(config: ObjectStorageConfig, db: store::Db) -> Result<ObjectStorage, StartError> {
        db::migrate(&db).await?;
        let disk = disk::Disk::open_device(&config.device)?;
        Ok(ObjectStorage(Arc::new(Inner {
            config,
            db,
            disk,
            clock: names::Clock::default(),
        })))
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
            let Some(opened) = self.disk.open(&path).await? else {
                continue;
            };
            if opened.meta.delete_at().is_some_and(|t| t <= names::now_secs()) {
                let ts = self.clock.now();
                self.disk.delete(&path, ts).await?;
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

/// Applies this service's database migrations (`oxistack manage db-sync`).
pub async fn migrate(db: &store::Db) -> Result<(), store::StoreError> {
    db::migrate(db).await
}
