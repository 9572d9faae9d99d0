//! Block storage: a Cinder v3 API with microversions, its scheduler, and
//! the volume agent with its drivers.
//!
//! Where it sits: port 8776, controller role, catalog types `block-storage`
//! and `volumev3` (endpoint `…/v3/%(project_id)s`). Callers: the
//! `openstack` CLI and SDKs, tempest. Callees: identity (token validation,
//! in process or over HTTP), the image service (REST, with the user's
//! token, for volumes from images), compute (REST, with the service's own
//! token, told of extended attached volumes), and the volume agents over the bus on
//! `volume.<host>` ([`rpc`] is that contract; the agents heartbeat on
//! [`rpc::SCHEDULER_TOPIC`], and a backend that misses heartbeats is shown
//! `down` in `os-services` and is not scheduled to).
//!
//! The rooms, in the order of a request:
//! - `api/` — the route table ([`BlockStorage::router`]), microversion
//!   negotiation (`OpenStack-API-Version: volume 3.x`; the range served is
//!   in `api/versions.rs`) and one file per resource group;
//! - [`policy`] — Cinder's default rules (admin / project member / reader);
//! - domain logic, one module per resource: [`volumes`], [`snapshots`],
//!   [`attachments`] (the legacy attach actions and the 3.27 attachments
//!   API), [`types`], [`qos_specs`] (QoS specs and their volume types),
//!   [`quotas`] (and quota classes), [`transfers`] (volume transfers
//!   between projects), [`messages`] (user messages), [`services`]
//!   (heartbeats, zones, hosts, pools and the capacity and capabilities
//!   scheduler), [`scheduler`] (the bus end);
//! - [`image_client`] — the image service over REST; [`compute_client`]
//!   — compute's `os-server-external-events` with the service's own
//!   credentials (`volume-extended` after an attached volume grew);
//! - `db/` — the tables and every SQL statement, on SQLite, PostgreSQL or
//!   MySQL;
//! - [`agent`] — the volume agent (`cinder-volume`): reconcile at start,
//!   heartbeats, the operations, and `agent::driver` with the
//!   [`agent::driver::Driver`] trait and the file driver.
//!
//! Decisions where Cinder leaves room or where this cloud differs:
//! - Microversions 3.0 to 3.44 (`api/versions.rs` says what each changes
//!   here): 3.27 attachments and 3.44 `os-complete` are what Nova's attach
//!   flow needs; the versions that add resources not built here (groups,
//!   clusters, backups, manage, workers, replication) leave them absent
//!   (404). 3.45 (`count` in lists) and later are not served.
//! - Attachments: the file driver hands a hypervisor on this machine the
//!   volume file's path; a compute host on another machine would need a
//!   `qemu-nbd` export, not built: its connector is refused (400).
//! - One pool per backend, named after it (`host@file#file`); the file
//!   driver reports itself as vendor "Open Source", as Cinder's reference
//!   drivers do.
//! - `os-retype` only without migration: a retype that would move the data
//!   to another backend is refused (400).
//! - Deleted volumes and snapshots are removed outright (Cinder keeps
//!   soft-deleted rows). Quotas (with the `default` quota class) are
//!   counted from the tables at each check, without reservations.
//! - Lists are filtered, sorted and paged in memory after one query per
//!   project (fine for the thousands a project holds, not for millions).
//! - QoS specs: front-end ones reach Nova in the connection info's
//!   `data.qos_specs`; applying them (QEMU throttling) is the compute
//!   side's, and the file backend enforces no back-end specs.
//!
//! - Transfers: the pre-3.55 `os-volume-transfer` resource only (the
//!   3.55 `/volume-transfers` and its `no_snapshots` are beyond 3.44);
//!   the auth key is kept as a salted SHA-256, never in clear.
//!
//! Not built this round: backups, upload-to-image,
//! encryption types, migration, groups, manage/unmanage, `qemu-nbd`
//! exports to other hosts, Nova's `volume-extended` event after an online
//! extend (3.42: the file grows; the guest sees it when its disk is
//! reopened). Their actions answer 400 ("There is no such action"), their
//! resources 404.

pub mod agent;
pub mod api;
pub mod attachments;
pub mod compute_client;
pub mod config;
pub(crate) mod db;
pub mod error;
pub mod image_client;
pub mod messages;
pub mod policy;
pub mod qos_specs;
pub mod quotas;
pub mod rpc;
pub mod scheduler;
pub mod services;
pub mod snapshots;
pub mod transfers;
pub mod types;
pub mod volumes;

use std::sync::Arc;

pub use config::BlockStorageConfig;
pub use error::{Result, VolumeError};

/// Who asks, as the domain needs it (no HTTP types below the API).
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub user_id: String,
    pub project_id: String,
    pub is_admin: bool,
    /// The user's token, forwarded to the image service.
    pub token: String,
    /// The API request's id, for the user messages of what fails later.
    pub request_id: Option<String>,
}

/// The running block-storage service; cheap to clone.
#[derive(Clone)]
pub struct BlockStorage(Arc<Inner>);

pub struct Inner {
    pub config: BlockStorageConfig,
    pub db: store::Db,
    pub policy: ::policy::Policy,
    pub auth: ::api::TokenAuth,
    pub bus: bus::Bus,
    pub image: image_client::ImageClient,
    listener: std::sync::Mutex<Option<bus::Listener>>,
    heartbeat: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::ops::Deref for BlockStorage {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database")]
    Store(#[from] store::StoreError),
    #[error("database")]
    Volume(#[from] VolumeError),
    #[error("policy")]
    Policy(#[from] ::policy::PolicyError),
    #[error("message bus")]
    Bus(#[from] bus::BusError),
}

impl BlockStorage {
    /// Opens (and migrates) the database, creates the `__DEFAULT__` type,
    /// loads the policy, listens on the scheduler topic and starts the
    /// scheduler's heartbeat.
    pub async fn start(
        config: BlockStorageConfig,
        db: store::Db,
        auth: ::api::TokenAuth,
        bus: bus::Bus,
    ) -> Result<BlockStorage, StartError> {
        db::migrate(&db).await?;
        let rules = policy::default_rules();
        let pairs: Vec<(&str, &str)> = rules.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut policy = ::policy::Policy::new(&pairs)?;
        if let Some(path) = &config.policy_file {
            policy.load_overrides_file(path)?;
        }
        let image = image_client::ImageClient::new(&config.image_url);
        let service = BlockStorage(Arc::new(Inner {
            config,
            db,
            policy,
            auth,
            bus,
            image,
            listener: std::sync::Mutex::new(None),
            heartbeat: std::sync::Mutex::new(None),
        }));
        service.ensure_default_type().await?;
        service.scheduler_heartbeat().await?;
        let listener = service
            .bus
            .listen(
                rpc::SCHEDULER_TOPIC,
                Arc::new(scheduler::SchedulerHandler(service.clone())),
            )
            .await?;
        *lock(&service.listener) = Some(listener);
        let s = service.clone();
        let beat = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(rpc::REPORT_INTERVAL);
            loop {
                ticks.tick().await;
                if let Err(e) = s.scheduler_heartbeat().await {
                    tracing::warn!(error = %e, "scheduler heartbeat not recorded");
                }
            }
        });
        *lock(&service.heartbeat) = Some(beat);
        Ok(service)
    }

    /// Stops the scheduler's listener and heartbeat.
    pub fn stop(&self) {
        if let Some(l) = lock(&self.listener).take() {
            l.stop();
        }
        if let Some(h) = lock(&self.heartbeat).take() {
            h.abort();
        }
    }

    /// The public base URL, e.g. `http://127.0.0.1:8776`.
    pub fn base_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Applies this service's database migrations (`oxistack manage db-sync`).
pub async fn migrate(db: &store::Db) -> Result<(), store::StoreError> {
    db::migrate(db).await
}
