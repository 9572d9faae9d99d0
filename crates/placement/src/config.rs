//! Settings of the placement service, with Placement's option names where
//! they exist.

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct PlacementConfig {
    /// The URL clients reach this service at, e.g. `http://127.0.0.1:8778`.
    pub public_url: String,
    /// `[oslo_policy] policy_file`: overrides of the default rules.
    pub policy_file: Option<PathBuf>,
    /// Limit of JSON request bodies.
    pub max_request_body_size: usize,
    /// `[placement] incomplete_consumer_project_id`: the project recorded
    /// for allocations written before microversion 1.8 (without one).
    pub incomplete_consumer_project_id: String,
    /// `[placement] incomplete_consumer_user_id`.
    pub incomplete_consumer_user_id: String,
}

impl PlacementConfig {
    /// Defaults as Placement ships them.
    pub fn new(public_url: impl Into<String>) -> Self {
        PlacementConfig {
            public_url: public_url.into(),
            policy_file: None,
            max_request_body_size: 1 << 20,
            incomplete_consumer_project_id: "00000000-0000-0000-0000-000000000000".into(),
            incomplete_consumer_user_id: "00000000-0000-0000-0000-000000000000".into(),
        }
    }
}
