//! Settings of the block-storage service, with Cinder's option names where
//! they exist.

use std::path::PathBuf;
use std::time::Duration;

/// How this service logs in to call compute (Cinder's `[nova]`
/// keystoneauth section, its privileged user).
pub use api::ServiceCredentials;

#[derive(Clone, Debug)]
pub struct BlockStorageConfig {
    /// The URL clients reach this service at, without `/v3`.
    pub public_url: String,
    /// The image endpoint (`http://host:9292`), for volumes from images.
    pub image_url: String,
    /// `[oslo_policy] policy_file`: overrides of the default rules.
    pub policy_file: Option<PathBuf>,
    /// Limit of JSON request bodies.
    pub max_request_body_size: usize,
    /// `[DEFAULT] osapi_max_limit`: the most items one list page holds.
    pub max_limit: usize,
    /// `[DEFAULT] default_availability_zone` / `storage_availability_zone`.
    pub default_availability_zone: String,
    /// `[DEFAULT] service_down_time` (Cinder: 60 s).
    pub service_down_time: Duration,
    /// `[DEFAULT] host` of the controller, where `cinder-scheduler` runs.
    pub controller_host: String,
    /// `[DEFAULT] quota_volumes`, `quota_snapshots`, `quota_gigabytes`,
    /// `quota_backups`, `quota_backup_gigabytes`, `per_volume_size_limit`,
    /// `quota_groups` (Cinder's defaults: 10, 10, 1000, 10, 1000, -1, 10).
    pub quota_defaults: crate::quotas::QuotaDefaults,
    /// The compute endpoint (`http://host:8774`) told of extended attached
    /// volumes; `None`: the `compute` entry of the service token's catalog.
    pub compute_url: Option<String>,
    /// The service's credentials for compute; `None`: compute is not told
    /// (its guests see a grown volume at their next start only).
    pub service_credentials: Option<ServiceCredentials>,
}

impl BlockStorageConfig {
    pub fn new(public_url: impl Into<String>, image_url: impl Into<String>) -> Self {
        BlockStorageConfig {
            public_url: public_url.into(),
            image_url: image_url.into(),
            policy_file: None,
            max_request_body_size: 65_536,
            max_limit: 1000,
            default_availability_zone: "nova".into(),
            service_down_time: crate::rpc::SERVICE_DOWN_TIME,
            controller_host: "localhost".into(),
            quota_defaults: crate::quotas::QuotaDefaults::default(),
            compute_url: None,
            service_credentials: None,
        }
    }
}
