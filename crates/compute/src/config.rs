//! Settings of the compute service, with Nova's option names where they
//! exist.

use std::path::PathBuf;

/// How this service gets its own token for placement (Nova's
/// `[placement]` keystoneauth section): a password login at `auth_url`.
pub use api::ServiceCredentials;

#[derive(Clone, Debug)]
pub struct ComputeConfig {
    /// The URL clients reach this service at, without `/v2.1`.
    pub public_url: String,
    /// `[oslo_policy] policy_file`: overrides of the default rules.
    pub policy_file: Option<PathBuf>,
    /// Limit of JSON request bodies.
    pub max_request_body_size: usize,
    /// `[api] max_limit`: the most items one list page holds.
    pub max_limit: usize,
    /// The placement endpoint (`http://host:8778`).
    pub placement_url: String,
    /// The image endpoint (`http://host:9292`).
    pub image_url: String,
    /// The network endpoint (`http://host:9696`); `None`: no network
    /// service, servers get no ports.
    pub network_url: Option<String>,
    /// The block-storage endpoint (`http://host:8776`, Nova's `[cinder]`
    /// section); `None`: no volumes in this cloud, attach answers 400.
    pub volume_url: Option<String>,
    /// The service's credentials for placement.
    pub service_credentials: ServiceCredentials,
    /// `[DEFAULT] default_availability_zone`.
    pub default_availability_zone: String,
    /// `[scheduler] max_attempts`: hosts tried for one build.
    pub max_attempts: u32,
    /// `[DEFAULT] reclaim_instance_interval` in seconds; 0 = delete at once
    /// (no soft delete, no restore).
    pub reclaim_instance_interval: u64,
    /// `[DEFAULT] service_down_time`: a service whose last report is older
    /// is `down` (Nova: 60 s).
    pub service_down_time: std::time::Duration,
    /// `[DEFAULT] host` of the controller: where `nova-scheduler` and
    /// `nova-conductor` are shown in `os-services`.
    pub controller_host: String,
    /// `[filter_scheduler] ram_weight_multiplier` (1.0: spread).
    pub ram_weight_multiplier: f64,
    /// `[filter_scheduler] cpu_weight_multiplier` (1.0: spread).
    pub cpu_weight_multiplier: f64,
    /// `[DEFAULT] instance_usage_audit_period`: the periods the instance
    /// usage audit records and `os-instance_usage_audit_log` shows.
    pub instance_usage_audit_period: crate::usage_audit::AuditPeriod,
}

impl ComputeConfig {
    pub fn new(
        public_url: impl Into<String>,
        placement_url: impl Into<String>,
        image_url: impl Into<String>,
        service_credentials: ServiceCredentials,
    ) -> Self {
        ComputeConfig {
            public_url: public_url.into(),
            policy_file: None,
            max_request_body_size: 1 << 20,
            max_limit: 1000,
            placement_url: placement_url.into(),
            image_url: image_url.into(),
            network_url: None,
            volume_url: None,
            service_credentials,
            default_availability_zone: "nova".into(),
            max_attempts: 3,
            reclaim_instance_interval: 0,
            service_down_time: std::time::Duration::from_secs(60),
            controller_host: "controller".into(),
            ram_weight_multiplier: 1.0,
            cpu_weight_multiplier: 1.0,
            instance_usage_audit_period: Default::default(),
        }
    }
}
