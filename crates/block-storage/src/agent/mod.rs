//! The volume agent (`cinder-volume`): one per backend, reached over the
//! bus on `volume.<host>` (`host@backend`, as Cinder names it).
//!
//! Its life: on start it asks the scheduler which volumes and snapshots it
//! has and reconciles them with what the driver really holds
//! ([`reconcile`]); then it listens, and reports its capacity every
//! `report_interval`. Each operation runs on its own task and ends with a
//! `volume_update`/`snapshot_update` cast carrying the new status (or the
//! error status and the reason). Images are streamed from the image
//! service into the driver's scratch directory (never whole in memory),
//! handed to the driver, and removed.

pub mod driver;
pub mod reconcile;

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, Handler, Listener, RemoteError};
use futures::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::rpc::{
    self, BackendReport, CreateVolume, DeleteVolume, ExtendVolume, HostQuery, HostRecords, InitializeConnection,
    SnapshotRef, SnapshotUpdate, TerminateConnection, VolumeSource, VolumeUpdate,
};
use driver::{Driver, DriverError};

/// How long the agent waits for the scheduler's `volumes_on_host` at start
/// before going on and retrying in the background.
pub const RECONCILE_CALL_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// `host@backend`; `volume.<host>` is the agent's topic.
    pub host: String,
    /// `volume_backend_name`, matched against volume types' extra spec.
    pub backend_name: String,
    pub availability_zone: String,
    pub report_interval: Duration,
    pub version: String,
}

impl AgentConfig {
    /// `node@backend` with Cinder's defaults: zone `nova`, report every
    /// [`rpc::REPORT_INTERVAL`].
    pub fn new(node: &str, backend: &str) -> AgentConfig {
        AgentConfig {
            host: format!("{node}@{backend}"),
            backend_name: backend.to_owned(),
            availability_zone: "nova".into(),
            report_interval: rpc::REPORT_INTERVAL,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("volume agent: message bus")]
    Bus(#[from] BusError),
    #[error("volume agent: driver")]
    Driver(#[from] DriverError),
    #[error("volume agent: bad configuration: {0}")]
    Config(String),
}

pub(crate) struct Worker {
    pub config: AgentConfig,
    pub bus: Bus,
    pub driver: Arc<dyn Driver>,
    http: reqwest::Client,
    tasks: std::sync::Mutex<tokio::task::JoinSet<()>>,
    reconciled: tokio::sync::watch::Sender<bool>,
}

/// A running volume agent; dropping it stops it.
pub struct Agent {
    worker: Arc<Worker>,
    listener: std::sync::Mutex<Option<Listener>>,
    background: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Agent {
    /// Reconciles (in the background if the scheduler does not answer
    /// within [`RECONCILE_CALL_TIMEOUT`]), listens on `volume.<host>`,
    /// reports now and every `report_interval`.
    pub async fn start(config: AgentConfig, bus: Bus, driver: Arc<dyn Driver>) -> Result<Agent, AgentError> {
        if config.host.is_empty() || config.backend_name.is_empty() {
            return Err(AgentError::Config("host and backend name must not be empty".into()));
        }
        if config.report_interval.is_zero() {
            return Err(AgentError::Config("report_interval must be positive".into()));
        }
        driver.capacity().await?;
        let worker = Arc::new(Worker {
            config,
            bus,
            driver,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            tasks: std::sync::Mutex::new(tokio::task::JoinSet::new()),
            reconciled: tokio::sync::watch::channel(false).0,
        });
        let mut background = Vec::new();
        match fetch_records(&worker).await {
            Ok(records) => worker.reconcile(records).await,
            Err(e) => {
                tracing::warn!(host = %worker.config.host, error = %e, "the scheduler did not answer; reconciling in the background");
                let w = worker.clone();
                background.push(tokio::spawn(async move {
                    let mut wait = Duration::from_millis(500);
                    loop {
                        tokio::time::sleep(wait).await;
                        match fetch_records(&w).await {
                            Ok(records) => return w.reconcile(records).await,
                            Err(e) => {
                                tracing::warn!(host = %w.config.host, error = %e, "volumes_on_host failed; retrying")
                            }
                        }
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                }));
            }
        }
        let listener = worker
            .bus
            .listen(
                &rpc::volume_topic(&worker.config.host),
                Arc::new(AgentHandler(worker.clone())),
            )
            .await?;
        let w = worker.clone();
        background.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(w.config.report_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                w.report().await;
            }
        }));
        tracing::info!(host = %worker.config.host, driver = worker.driver.name(), "volume agent started");
        Ok(Agent {
            worker,
            listener: std::sync::Mutex::new(Some(listener)),
            background: std::sync::Mutex::new(background),
        })
    }

    pub fn host(&self) -> &str {
        &self.worker.config.host
    }

    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.worker.driver
    }

    /// Waits until the start-up reconciliation has finished.
    pub async fn reconciled(&self) {
        let mut rx = self.worker.reconciled.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Stops listening and reporting and abandons operations in flight (as
    /// a killed `cinder-volume` would). Idempotent.
    pub fn stop(&self) {
        if let Some(l) = lock(&self.listener).take() {
            l.stop();
        }
        for t in lock(&self.background).drain(..) {
            t.abort();
        }
        lock(&self.worker.tasks).abort_all();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn fetch_records(w: &Worker) -> Result<HostRecords, BusError> {
    let q = HostQuery {
        host: w.config.host.clone(),
    };
    w.bus
        .call(rpc::SCHEDULER_TOPIC, "volumes_on_host", &q, RECONCILE_CALL_TIMEOUT)
        .await
}

impl Worker {
    async fn report(&self) {
        match self.driver.capacity().await {
            Ok(c) => {
                let r = BackendReport {
                    host: self.config.host.clone(),
                    volume_backend_name: self.config.backend_name.clone(),
                    availability_zone: self.config.availability_zone.clone(),
                    total_capacity_gb: c.total_gb,
                    free_capacity_gb: c.free_gb,
                    driver: self.driver.name().into(),
                    version: self.config.version.clone(),
                };
                if let Err(e) = self.bus.cast(rpc::SCHEDULER_TOPIC, "report_state", &r).await {
                    tracing::warn!(host = %self.config.host, error = %e, "cannot report state");
                }
            }
            Err(e) => tracing::error!(host = %self.config.host, error = %e, "cannot report state: driver failed"),
        }
    }

    fn spawn(self: &Arc<Self>, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(fut);
    }

    pub(crate) async fn volume_done(
        &self,
        id: &str,
        status: &str,
        size_gb: Option<u64>,
        bootable: Option<bool>,
        reason: Option<String>,
    ) {
        self.volume_done_for(None, id, status, size_gb, bootable, reason).await
    }

    /// As [`Worker::volume_done`], for the API request `request_id`.
    pub(crate) async fn volume_done_for(
        &self,
        request_id: Option<String>,
        id: &str,
        status: &str,
        size_gb: Option<u64>,
        bootable: Option<bool>,
        reason: Option<String>,
    ) {
        let u = VolumeUpdate {
            volume_id: id.to_owned(),
            host: self.config.host.clone(),
            status: status.to_owned(),
            size_gb,
            bootable,
            reason,
            request_id,
        };
        if let Err(e) = self.bus.cast(rpc::SCHEDULER_TOPIC, "volume_update", &u).await {
            tracing::error!(volume = %id, error = %e, "cannot report the volume's status");
        }
    }

    pub(crate) async fn snapshot_done(&self, id: &str, status: &str, reason: Option<String>) {
        let u = SnapshotUpdate {
            snapshot_id: id.to_owned(),
            host: self.config.host.clone(),
            status: status.to_owned(),
            reason,
        };
        if let Err(e) = self.bus.cast(rpc::SCHEDULER_TOPIC, "snapshot_update", &u).await {
            tracing::error!(snapshot = %id, error = %e, "cannot report the snapshot's status");
        }
    }

    async fn create(&self, req: CreateVolume) {
        let id = req.volume_id.clone();
        let result = match &req.source {
            VolumeSource::Blank => self.driver.create_volume(&id, req.size_gb).await,
            VolumeSource::Snapshot { snapshot_id } => {
                self.driver
                    .create_volume_from_snapshot(&id, snapshot_id, req.size_gb)
                    .await
            }
            VolumeSource::Volume { volume_id } => self.driver.clone_volume(&id, volume_id, req.size_gb).await,
            VolumeSource::Image {
                file_url,
                token,
                disk_format,
                ..
            } => {
                self.download_image(&id, file_url, token, disk_format, req.size_gb)
                    .await
            }
        };
        let bootable = matches!(req.source, VolumeSource::Image { .. }).then_some(true);
        let rid = req.request_id.clone();
        match result {
            Ok(()) => self.volume_done_for(rid, &id, "available", None, bootable, None).await,
            Err(e) => {
                self.volume_done_for(rid, &id, "error", None, None, Some(e.to_string()))
                    .await
            }
        }
    }

    /// Streams the image into the scratch directory, then lets the driver
    /// convert it into the volume.
    async fn download_image(
        &self,
        id: &str,
        url: &str,
        token: &str,
        format: &str,
        size_gb: u64,
    ) -> Result<(), DriverError> {
        let path = self.driver.scratch_dir().join(format!("image-for-{id}"));
        let result = async {
            let resp = self
                .http
                .get(url)
                .header("x-auth-token", token)
                .send()
                .await
                .map_err(|e| DriverError::Failed(format!("image download: {e}")))?;
            if !resp.status().is_success() {
                return Err(DriverError::Failed(format!("image download: {}", resp.status())));
            }
            let mut file = tokio::fs::File::create(&path)
                .await
                .map_err(|e| DriverError::Failed(format!("create {}: {e}", path.display())))?;
            let mut stream = resp.bytes_stream();
            let mut total: u64 = 0;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| DriverError::Failed(format!("image download: {e}")))?;
                total += chunk.len() as u64;
                // A compressed format may be smaller than its virtual size,
                // never larger than a generous multiple of the volume.
                if total > (size_gb + 1) * driver::GIB * 2 {
                    return Err(DriverError::Invalid("the image is larger than the volume".into()));
                }
                file.write_all(&chunk)
                    .await
                    .map_err(|e| DriverError::Failed(format!("write {}: {e}", path.display())))?;
            }
            file.flush()
                .await
                .map_err(|e| DriverError::Failed(format!("flush: {e}")))?;
            drop(file);
            self.driver.copy_image_to_volume(id, &path, format, size_gb).await
        }
        .await;
        let _ = tokio::fs::remove_file(&path).await;
        result
    }

    async fn delete(&self, req: DeleteVolume) {
        for s in &req.snapshots {
            match self.driver.delete_snapshot(s).await {
                Ok(()) => self.snapshot_done(s, "deleted", None).await,
                Err(e) => {
                    self.snapshot_done(s, "error_deleting", Some(e.to_string())).await;
                    self.volume_done(
                        &req.volume_id,
                        "error_deleting",
                        None,
                        None,
                        Some(format!("snapshot {s}: {e}")),
                    )
                    .await;
                    return;
                }
            }
        }
        match self.driver.delete_volume(&req.volume_id).await {
            Ok(()) => self.volume_done(&req.volume_id, "deleted", None, None, None).await,
            Err(e) => {
                self.volume_done(&req.volume_id, "error_deleting", None, None, Some(e.to_string()))
                    .await
            }
        }
    }

    async fn extend(&self, req: ExtendVolume) {
        let rid = req.request_id.clone();
        let done = req.done_status.as_deref().unwrap_or("available");
        match self.driver.extend_volume(&req.volume_id, req.new_size_gb).await {
            Ok(()) => {
                self.volume_done_for(rid, &req.volume_id, done, Some(req.new_size_gb), None, None)
                    .await
            }
            Err(e) => {
                self.volume_done_for(rid, &req.volume_id, "error_extending", None, None, Some(e.to_string()))
                    .await
            }
        }
    }
}

struct AgentHandler(Arc<Worker>);

/// A driver error as the controller tells them apart: its kind names
/// Cinder's exception (bad input vs a backend failure).
fn remote_driver_error(e: DriverError) -> RemoteError {
    let kind = match e {
        DriverError::NotFound(_) => "VolumeNotFound",
        DriverError::Invalid(_) => "InvalidInput",
        DriverError::AlreadyExists(_) | DriverError::Failed(_) => "VolumeBackendAPIException",
    };
    RemoteError::new(kind, e.to_string())
}

fn args<T: serde::de::DeserializeOwned>(method: &str, a: Value) -> Result<T, RemoteError> {
    serde_json::from_value(a).map_err(|e| RemoteError::new("InvalidArgs", format!("{method}: {e}")))
}

#[async_trait::async_trait]
impl Handler for AgentHandler {
    async fn handle(&self, method: &str, a: Value) -> Result<Value, RemoteError> {
        let w = self.0.clone();
        match method {
            "create_volume" => {
                let req: CreateVolume = args(method, a)?;
                let w2 = w.clone();
                w.spawn(async move { w2.create(req).await });
            }
            "delete_volume" => {
                let req: DeleteVolume = args(method, a)?;
                let w2 = w.clone();
                w.spawn(async move { w2.delete(req).await });
            }
            "extend_volume" => {
                let req: ExtendVolume = args(method, a)?;
                let w2 = w.clone();
                w.spawn(async move { w2.extend(req).await });
            }
            "create_snapshot" => {
                let req: SnapshotRef = args(method, a)?;
                let w2 = w.clone();
                w.spawn(async move {
                    match w2.driver.create_snapshot(&req.snapshot_id, &req.volume_id).await {
                        Ok(()) => w2.snapshot_done(&req.snapshot_id, "available", None).await,
                        Err(e) => w2.snapshot_done(&req.snapshot_id, "error", Some(e.to_string())).await,
                    }
                });
            }
            "revert_to_snapshot" => {
                let req: SnapshotRef = args(method, a)?;
                let w2 = w.clone();
                w.spawn(async move {
                    match w2.driver.revert_to_snapshot(&req.volume_id, &req.snapshot_id).await {
                        Ok(()) => {
                            w2.volume_done(&req.volume_id, "available", None, None, None).await;
                            w2.snapshot_done(&req.snapshot_id, "available", None).await;
                        }
                        Err(e) => {
                            w2.volume_done(&req.volume_id, "error", None, None, Some(format!("revert: {e}")))
                                .await;
                            w2.snapshot_done(&req.snapshot_id, "available", None).await;
                        }
                    }
                });
            }
            "delete_snapshot" => {
                let req: SnapshotRef = args(method, a)?;
                let w2 = w.clone();
                w.spawn(async move {
                    match w2.driver.delete_snapshot(&req.snapshot_id).await {
                        Ok(()) => w2.snapshot_done(&req.snapshot_id, "deleted", None).await,
                        Err(e) => {
                            w2.snapshot_done(&req.snapshot_id, "error_deleting", Some(e.to_string()))
                                .await
                        }
                    }
                });
            }
            "initialize_connection" => {
                let req: InitializeConnection = args(method, a)?;
                let info = w
                    .driver
                    .initialize_connection(&req.volume_id, &req.connector)
                    .await
                    .map_err(remote_driver_error)?;
                tracing::info!(volume = %req.volume_id, host = %req.connector.host, "connection initialized");
                return serde_json::to_value(info).map_err(|e| RemoteError::new("InternalError", e.to_string()));
            }
            "terminate_connection" => {
                let req: TerminateConnection = args(method, a)?;
                w.driver
                    .terminate_connection(&req.volume_id, &req.connector)
                    .await
                    .map_err(remote_driver_error)?;
                tracing::info!(volume = %req.volume_id, host = %req.connector.host, "connection terminated");
            }
            other => {
                return Err(RemoteError::new(
                    "UnsupportedVersion",
                    format!("the volume agent has no method {other}"),
                ));
            }
        }
        Ok(Value::Null)
    }
}
