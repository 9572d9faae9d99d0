//! Placement: the OpenStack Placement API (1.0–1.39), which keeps the
//! inventory of resource providers (compute nodes, their NUMA cells,
//! shared disks…), who consumes how much of it (allocations), and answers
//! "where does this fit?" (allocation candidates) for the scheduler.
//!
//! Where it sits: port 8778, controller role, catalog type `placement`.
//! Callers: compute (the scheduler and the compute agent, over REST with
//! their service token), network (bandwidth providers), the `openstack`
//! CLI with osc-placement. Callees: identity, in process, for token
//! validation only.
//!
//! The rooms, in the order of a request:
//! - `api/` — the route table ([`Placement::router`]), microversion
//!   negotiation, request parsing and response shapes per microversion;
//! - [`policy`] — Placement's default rules (admin or service for nearly
//!   everything), fed to the `policy` crate;
//! - domain logic: [`providers`] (the provider trees, traits, aggregates),
//!   [`inventories`], [`names`] (resource classes and traits),
//!   [`allocations`] (consumers, capacity checks, usages), [`candidates`]
//!   (the allocation-candidate search); [`standard`] holds the standard
//!   resource classes and traits;
//! - `db/` — the tables and every SQL statement, on SQLite, PostgreSQL or
//!   MySQL.
//!
//! Why this shape: every write that changes what a provider offers or what
//! is allocated on it is a compare-and-swap of the provider's `generation`
//! inside the transaction that makes the change, taken before the capacity
//! is read. Two writers racing for the same provider therefore serialize
//! on its row: the loser's swap fails, its transaction is rolled back and
//! retried (up to ten times, as Placement does), so concurrent allocations
//! never oversubscribe, on any of the three databases. Replacing a
//! consumer's allocations (or several consumers', `POST /allocations`) is
//! one transaction.
//!
//! Decisions where Placement leaves room, and what is not offered:
//! allocation candidates are computed in memory over the providers'
//! inventories, usages, traits and aggregates (fine for thousands of
//! providers, not for a hyperscale cloud); sharing providers
//! (`MISC_SHARES_VIA_AGGREGATE`), `same_subtree`, `root_required` and
//! resourceless request groups are not supported (a request using them is
//! answered 400); `POST /reshaper` is not offered; `Last-Modified` headers
//! (1.15) are not sent. Aggregate membership for candidates counts the
//! provider's own aggregates and its root's.

pub mod allocations;
pub mod api;
pub mod candidates;
pub mod config;
pub(crate) mod db;
pub mod error;
pub mod inventories;
pub mod names;
pub mod policy;
pub mod providers;
pub mod standard;

use std::sync::Arc;

pub use config::PlacementConfig;
pub use error::{PlacementError, Result};

/// The running placement service; cheap to clone.
#[derive(Clone)]
pub struct Placement(Arc<Inner>);

pub struct Inner {
    pub config: PlacementConfig,
    pub db: store::Db,
    pub policy: ::policy::Policy,
    pub auth: ::api::TokenAuth,
}

impl std::ops::Deref for Placement {
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
}

impl Placement {
    /// Opens the database (migrating it) and the policy. `auth` validates
    /// tokens.
    pub async fn start(
        config: PlacementConfig,
        db: store::Db,
        auth: ::api::TokenAuth,
    ) -> Result<Placement, StartError> {
        db::migrate(&db).await?;
        let policy = policy::build(config.policy_file.as_deref())?;
        Ok(Placement(Arc::new(Inner {
            config,
            db,
            policy,
            auth,
        })))
    }

    /// The public base URL, e.g. `http://127.0.0.1:8778`.
    pub fn base_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }

    /// A pooled connection for reads.
    pub(crate) async fn reader(&self) -> Result<store::sqlx::pool::PoolConnection<store::sqlx::Any>> {
        Ok(self.db.reader().acquire().await?)
    }

    /// A transaction on the write pool.
    pub(crate) async fn begin(&self) -> Result<store::sqlx::Transaction<'static, store::sqlx::Any>> {
        Ok(self.db.writer().begin().await?)
    }
}

/// Runs `attempt` until it succeeds or fails for a reason that another try
/// would not change; at most ten tries (Placement's retry budget).
pub(crate) async fn with_retries<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 0u32;
    loop {
        match attempt().await {
            Err(e) if e.is_retryable() && tries < 10 => {
                tries += 1;
                let jitter = (uuid::Uuid::new_v4().as_u128() % 7) as u64;
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(tries) * 3 + jitter)).await;
            }
            other => return other,
        }
    }
}

/// Applies this service's database migrations (`oxistack manage db-sync`).
pub async fn migrate(db: &store::Db) -> Result<(), store::StoreError> {
    db::migrate(db).await
}
