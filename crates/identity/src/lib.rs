//! Identity: a Keystone v3 service.
//!
//! Where it sits: port 5000, controller role. Every other service validates
//! its callers' tokens here (in process through [`::api::TokenValidator`], or
//! over HTTP) and finds its peers in the catalog kept here. It calls no other
//! service.
//!
//! The rooms, in the order of a request:
//! - `api/` — the route table ([`Identity::router`]) and one file per resource
//!   group: request/response JSON and thin handlers (authorize, convert, call
//!   the domain, render);
//! - [`policy`] — Keystone's default rules, fed to the `policy` crate;
//!   [`scope_types`] — their oslo.policy scope types, enforced too;
//! - domain logic: [`resource`] (domains, projects), [`users`] (users, groups,
//!   passwords), [`assignment`] (roles, implications, grants, effective
//!   roles), [`catalog`], [`token`] (issue, validate, revoke, cache),
//!   [`revoke`] (revocation events), [`bootstrap`];
//! - delegation: [`app_creds`] (application credentials, access rules),
//!   [`trusts`] (OS-TRUST), [`credentials`] (credentials, OS-EC2);
//! - the smaller APIs' domain logic: [`limits`] (unified limits, which the
//!   other services read for quotas), [`policies`] (legacy policy blobs),
//!   [`domain_config`], [`endpoint_filter`] (OS-EP-FILTER), [`oauth`]
//!   (OS-OAUTH1 consumers);
//! - `db/` — the tables and every SQL statement, on SQLite, PostgreSQL or
//!   MySQL.
//!
//! Why this shape: token validation is the hot path of the whole cloud, so a
//! validated token is cached with the identity data's *generation* — a counter
//! bumped by every successful write request — and rebuilt when stale, while
//! revocation events are checked on every validation, cached or not.

pub mod api;
pub mod app_creds;
pub mod assignment;
pub mod bootstrap;
pub mod catalog;
pub mod config;
pub mod credentials;
pub mod db;
pub mod domain_config;
pub mod endpoint_filter;
pub mod error;
pub mod limits;
pub mod oauth;
pub mod policies;
pub mod policy;
pub mod resource;
pub mod revoke;
pub mod scope_types;
pub mod token;
pub mod trusts;
pub mod users;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use bootstrap::BootstrapSpec;
pub use config::IdentityConfig;
pub use error::{IdentityError, Result};

/// The running identity service; cheap to clone.
#[derive(Clone)]
pub struct Identity(Arc<Inner>);

pub struct Inner {
    pub config: IdentityConfig,
    pub db: store::Db,
    pub policy: ::policy::Policy,
    pub keys: std::sync::RwLock<token::fernet_keys::TokenKeys>,
    pub revocations: revoke::Revocations,
    /// Bumped by every write; cached validations older than it are rebuilt.
    generation: AtomicU64,
    pub tokens: token::TokenCache,
}

impl std::ops::Deref for Identity {
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
    Sqlx(#[from] store::sqlx::Error),
    #[error("fernet key repository")]
    Keys(#[from] token::fernet_keys::KeyError),
    #[error("policy")]
    Policy(#[from] ::policy::PolicyError),
}

impl Identity {
    /// Opens the database (migrating it), the key repository (creating keys
    /// on first start) and the policy (defaults + the operator's file).
    pub async fn start(config: IdentityConfig, db: store::Db) -> Result<Identity, StartError> {
        db::migrate(&db).await?;
        let repo = token::fernet_keys::KeyRepository::new(&config.key_repository);
        repo.setup()?;
        let keys = repo.load()?;
        let mut policy = ::policy::Policy::new(policy::DEFAULT_RULES)?;
        policy.set_scope_types(scope_types::DEFAULT_SCOPE_TYPES)?;
        if let Some(path) = &config.policy_file {
            policy.load_overrides_file(path)?;
        }
        let max_age = config.token_expiration.as_secs() as i64 + config.allow_expired_window.as_secs() as i64;
        let revocations = revoke::Revocations::load(&db, max_age).await?;
        Ok(Identity(Arc::new(Inner {
            config,
            db,
            policy,
            keys: std::sync::RwLock::new(keys),
            revocations,
            generation: AtomicU64::new(1),
            tokens: token::TokenCache::default(),
        })))
    }

    /// The current generation of identity data.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Marks every cached view of identity data stale.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The public base URL, e.g. `http://127.0.0.1:5000`.
    pub fn base_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }

    /// Re-reads the key repository (after `fernet-rotate`).
    pub fn reload_keys(&self) -> Result<(), token::fernet_keys::KeyError> {
        let keys = token::fernet_keys::KeyRepository::new(&self.config.key_repository).load()?;
        *self.keys.write().expect("keys lock") = keys;
        self.changed();
        Ok(())
    }
}

impl ::api::TokenValidator for Identity {
    fn validate<'a>(&'a self, token: &'a str) -> ::api::auth::ValidateFuture<'a> {
        Box::pin(async move {
            self.validate_token(token, false)
                .await
                .map(|v| v.context.clone())
                .map_err(|e| match e {
                    IdentityError::NotFound { .. } | IdentityError::Unauthorized(_) => {
                        ::api::ApiError::unauthorized("The request you have made requires authentication.")
                    }
                    other => other.into(),
                })
        })
    }
}
