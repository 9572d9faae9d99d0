//! Image: a Glance v2 service that stores, shares and streams images.
//!
//! Where it sits: port 9292, controller role, catalog type `image`. Callers:
//! the `openstack` CLI and SDKs, tempest, and later compute (to boot) and
//! block storage (volumes from images). Callees: identity, in process, for
//! token validation and for the project quotas kept as unified limits
//! ([`quota`]); a filesystem store ([`stores`]) for the bytes.
//!
//! The rooms, in the order of a request:
//! - `api/` — the route table ([`Image::router`]) and one file per resource
//!   group: versions, images (incl. tags, actions, tasks), data (upload,
//!   download, stage, import), members, schemas, info, metadefs, and the
//!   legacy `/v2/tasks` (`import` from an `http://` URL);
//! - [`policy`] — Glance's default rules, fed to the `policy` crate;
//! - domain logic: [`images`] (create, show, list, patch, delete, visibility),
//!   [`members`] (sharing), [`metadefs`] (metadata definitions), [`data`]
//!   (the upload/import state machine and the streams), [`convert`]
//!   (qcow2 → raw on import, with `qemu-img`), [`quota`];
//! - [`stores`] — the [`stores::Store`] trait and the filesystem store;
//! - `db/` — the tables and every SQL statement, on SQLite, PostgreSQL or
//!   MySQL.
//!
//! Why this shape: an image's bytes never sit in memory — an upload is
//! hashed (md5 `checksum`, sha512 `os_hash_value`) chunk by chunk while it
//! is written to the store, and a download is a stream from the store. The
//! image's `status` is the persisted state of the upload: every transition
//! is a compare-and-swap on it in the database, so two uploads cannot race,
//! a failed upload puts the image back to `queued` (`killed` when the store
//! itself failed) with the partial data removed, and images left `saving`
//! or `importing` by a stopped process are put back when it starts again.
//!
//! Decisions where Glance leaves room: deleted images are removed outright
//! (Glance keeps soft-deleted rows); the sole store is called `file`;
//! `web-download`, `copy-image` and locations are not offered.

pub mod api;
pub mod config;
pub mod convert;
pub mod data;
pub(crate) mod db;
pub mod error;
pub mod images;
pub mod members;
pub mod metadefs;
pub mod policy;
pub mod quota;
pub mod stores;

use std::sync::Arc;

pub use config::ImageConfig;
pub use error::{ImageError, Result};

/// The running image service; cheap to clone.
#[derive(Clone)]
pub struct Image(Arc<Inner>);

pub struct Inner {
    pub config: ImageConfig,
    pub db: store::Db,
    pub policy: ::policy::Policy,
    pub auth: ::api::TokenAuth,
    /// The store new data goes to (the default store).
    pub store: Arc<dyn stores::Store>,
    /// The `glance-direct` staging area.
    pub staging: Arc<dyn stores::Store>,
    pub limits: Option<Arc<dyn quota::LimitSource>>,
}

impl std::ops::Deref for Image {
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
    Image(#[from] ImageError),
    #[error("image store directory")]
    Io(#[from] std::io::Error),
    #[error("policy")]
    Policy(#[from] ::policy::PolicyError),
}

impl Image {
    /// Opens the database (migrating it), the stores (creating their
    /// directories) and the policy; puts back images a stopped process left
    /// half-uploaded. `auth` validates tokens; `limits`, when given, supplies
    /// the per-project quotas.
    pub async fn start(
        config: ImageConfig,
        db: store::Db,
        auth: ::api::TokenAuth,
        limits: Option<Arc<dyn quota::LimitSource>>,
    ) -> Result<Image, StartError> {
        db::migrate(&db).await?;
        let store: Arc<dyn stores::Store> = Arc::new(stores::filesystem::FileStore::open("file", &config.store_dir)?);
        let staging: Arc<dyn stores::Store> = Arc::new(stores::filesystem::FileStore::open(
            "os_glance_staging_store",
            &config.staging_dir,
        )?);
        let rules = policy::default_rules();
        let pairs: Vec<(&str, &str)> = rules.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut policy = ::policy::Policy::new(&pairs)?;
        if let Some(path) = &config.policy_file {
            policy.load_overrides_file(path)?;
        }
        let image = Image(Arc::new(Inner {
            config,
            db,
            policy,
            auth,
            store,
            staging,
            limits,
        }));
        image.recover().await?;
        Ok(image)
    }

    /// The public base URL, e.g. `http://127.0.0.1:9292`.
    pub fn base_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }
}

/// Applies this service's database migrations (`oxistack manage db-sync`).
pub async fn migrate(db: &store::Db) -> Result<(), store::StoreError> {
    db::migrate(db).await
}
