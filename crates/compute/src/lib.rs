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
//! - domain logic, one module per resource;
//! - the scheduler and the conductor (which also consumes the agents'
//!   reports from the bus);
//! - `db/` — the tables and every SQL statement, on SQLite, PostgreSQL or
//!   MySQL.

pub mod api;
pub mod config;
pub(crate) mod db;
pub mod error;
pub mod microversion;
pub mod policy;

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
}

impl std::ops::Deref for Compute {
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
        Ok(Compute(Arc::new(Inner {
            config,
            db,
            policy,
            auth,
            bus,
        })))
    }

    /// The public base URL, e.g. `http://127.0.0.1:8774`.
    pub fn base_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }
}
