//! Compute: the Nova API (v2.1 with microversions), the scheduler and the
//! conductor.
//!
//! Where it sits: port 8774, controller role, catalog type `compute`.
//! Callers: the `openstack` CLI and SDKs, tempest, later orchestration.
//! Callees: identity (tokens, in process or over HTTP), placement (claims,
//! over REST with the service's own token), image (boot images and
//! snapshots, over REST with the user's token), and the compute agents over
//! the message bus ([`compute_agent::rpc`] is that contract).
//!
//! The rooms, in the order of a request:
//! - `api/` — the route table ([`Compute::router`]), [`microversion`]
//!   negotiation, and one file per resource group;
//! - `policy/` — Nova's default rules, fed to the `policy` crate;
//! - domain logic, one module per resource: [`servers`] (create, delete,
//!   status), [`actions`] (server actions and `os-instance-actions`),
//!   [`server_groups`], [`quotas`] (counted, Nova's "counting quotas"),
//!   [`usage`] (`os-simple-tenant-usage`), [`volume_attachments`]
//!   (`os-volume_attachments`, block device mappings), [`external_events`]
//!   (`os-server-external-events` from the network service and block
//!   storage), [`diagnostics`] (a server's diagnostics, from its agent's
//!   driver), [`usage_audit`] (the periodic instance usage audit and
//!   `os-instance_usage_audit_log`), [`migrations`] (`os-migrations`
//!   records, cold migration);
//! - the [`scheduler`] (filters, placement candidates, weights, claim)
//!   and the [`conductor`] (the bus end: reports, instance updates,
//!   failed builds and their re-scheduling);
//! - the REST clients of other services: [`placement_client`] (the
//!   service's own token), [`image_client`] and [`volume_client`] (the
//!   user's token);
//! - `db/` — the tables and every SQL statement, on SQLite, PostgreSQL or
//!   MySQL.
//!
//! Servers, decisions where Nova leaves room or where this cloud differs:
//! - Networking ([`network`]): with a network service
//!   (`ComputeConfig::network_url`), the requested networks and ports are
//!   checked at the API, ports are made and bound once the host is chosen,
//!   and `addresses` comes from the instance's network info cache; without
//!   one, `networks` is only checked for shape and `addresses` is `{}`.
//! - A build's state machine is persisted (`vm_state`/`task_state`); the
//!   build contexts (the user's token, for re-scheduling) are kept in
//!   memory only, so a build re-scheduled after a controller restart
//!   fetches its image without the user's token.
//! - Server delete goes through the host's agent; when the instance never
//!   reached a host, or its host's service is down, it is deleted locally
//!   (Nova's local delete) and its allocation released. Either way its
//!   volumes are detached in block storage when the delete ends (deleted
//!   when `delete_on_termination`).

pub mod actions;
pub mod aggregates;
pub mod api;
pub mod conductor;
pub mod config;
pub(crate) mod db;
pub mod diagnostics;
pub mod error;
pub mod external_events;
pub mod flavors;
pub mod hosts;
pub mod image_client;
pub mod keypairs;
pub mod microversion;
pub mod migrations;
pub mod network;
pub mod network_client;
pub mod placement_client;
pub mod policy;
pub mod quotas;
pub mod scheduler;
pub mod server_groups;
pub mod servers;
pub mod services;
pub mod usage;
pub mod usage_audit;
pub mod volume_attachments;
pub mod volume_client;

use std::sync::Arc;

pub use config::ComputeConfig;
pub use error::{ComputeError, Result};

/// The running compute service; cheap to clone.
#[derive(Clone)]
pub struct Compute(Arc<Inner>);

pub struct Inner {
    pub config: ComputeConfig,
    pub db: store::Db,
    pub policy: ::policy::Policy,
    pub auth: ::api::TokenAuth,
    pub bus: bus::Bus,
    /// Placement, with the service's own token.
    pub placement: placement_client::PlacementClient,
    /// The image service, with the user's token.
    pub image: image_client::ImageClient,
    /// The network service, when the cloud has one.
    pub network: Option<network_client::NetworkClient>,
    /// One read-modify-write of a network info cache at a time.
    pub(crate) network_cache_lock: tokio::sync::Mutex<()>,
    /// One scheduling decision at a time.
    pub(crate) sched_lock: tokio::sync::Mutex<()>,
    /// The request context of builds in flight (for re-scheduling).
    build_contexts: std::sync::Mutex<std::collections::HashMap<String, compute_agent::rpc::RequestContext>>,
    /// Providers whose inventory is known to be set, by host.
    providers: std::sync::Mutex<std::collections::HashMap<String, KnownProvider>>,
    /// Background work (builds, heartbeats), aborted by [`Compute::stop`].
    tasks: std::sync::Mutex<tokio::task::JoinSet<()>>,
    pub(crate) conductor_listener: std::sync::Mutex<Option<bus::Listener>>,
}

impl std::ops::Deref for Compute {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database")]
    Store(#[from] store::StoreError),
    #[error("policy")]
    Policy(#[from] ::policy::PolicyError),
    #[error("message bus")]
    Bus(#[from] bus::BusError),
}

impl Compute {
    /// Opens (and migrates) the database and the policy. `auth` validates
    /// tokens; `bus` reaches the agents.
    pub async fn start(
        config: ComputeConfig,
        db: store::Db,
        auth: ::api::TokenAuth,
        bus: bus::Bus,
    ) -> Result<Compute, StartError> {
        db::migrate(&db).await?;
        let rules = policy::default_rules();
        let pairs: Vec<(&str, &str)> = rules.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut policy = ::policy::Policy::new(&pairs)?;
        if let Some(path) = &config.policy_file {
            policy.load_overrides_file(path)?;
        }
        let placement =
            placement_client::PlacementClient::new(&config.placement_url, config.service_credentials.clone());
        let image = image_client::ImageClient::new(&config.image_url);
        let network = config
            .network_url
            .as_deref()
            .map(|url| network_client::NetworkClient::new(url, config.service_credentials.clone()));
        let compute = Compute(Arc::new(Inner {
            config,
            db,
            policy,
            auth,
            bus,
            placement,
            image,
            network,
            network_cache_lock: tokio::sync::Mutex::new(()),
            sched_lock: tokio::sync::Mutex::new(()),
            build_contexts: Default::default(),
            providers: Default::default(),
            tasks: std::sync::Mutex::new(tokio::task::JoinSet::new()),
            conductor_listener: std::sync::Mutex::new(None),
        }));
        compute.start_conductor().await?;
        Ok(compute)
    }

    /// Stops the conductor's listener and every background task. The
    /// service answers no more RPCs afterwards.
    pub fn stop(&self) {
        if let Some(l) = lock(&self.conductor_listener).take() {
            l.stop();
        }
        lock(&self.tasks).abort_all();
    }

    /// Runs `fut` in the background until [`Compute::stop`].
    pub(crate) fn spawn_task(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(fut);
    }

    pub(crate) fn remember_build_context(&self, uuid: &str, ctx: compute_agent::rpc::RequestContext) {
        lock(&self.build_contexts).insert(uuid.to_owned(), ctx);
    }

    pub(crate) fn build_context(&self, uuid: &str) -> Option<compute_agent::rpc::RequestContext> {
        lock(&self.build_contexts).get(uuid).cloned()
    }

    pub(crate) fn forget_build_context(&self, uuid: &str) {
        lock(&self.build_contexts).remove(uuid);
    }

    /// Whether the host's placement provider has been set up (tests wait
    /// for it after starting an agent).
    pub fn known_provider(&self, host: &str) -> bool {
        lock(&self.providers).contains_key(host)
    }

    pub(crate) fn known_providers(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, KnownProvider>> {
        lock(&self.providers)
    }

    /// The public base URL, e.g. `http://127.0.0.1:8774`.
    pub fn base_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }
}

/// Applies this service's database migrations (`oxistack manage db-sync`).
pub async fn migrate(db: &store::Db) -> Result<(), store::StoreError> {
    db::migrate(db).await
}

/// A host's resource provider as last written to placement: a report
/// that matches needs no placement round trip.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KnownProvider {
    pub uuid: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub local_gb: u64,
    pub allocation: compute_agent::rpc::AllocationSettings,
}
