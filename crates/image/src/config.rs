//! Settings of the image service, with Glance's option names where they exist.

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct ImageConfig {
    /// The URL clients reach this service at (`[DEFAULT] public_endpoint`),
    /// without `/v2`.
    pub public_url: String,
    /// `[glance_store] filesystem_store_datadir`: where image data lives.
    pub store_dir: PathBuf,
    /// `[os_glance_staging_store] filesystem_store_datadir`: where
    /// `glance-direct` stages data before the import.
    pub staging_dir: PathBuf,
    /// `[oslo_policy] policy_file`: overrides of the default rules.
    pub policy_file: Option<PathBuf>,
    /// Limit of JSON request bodies (image data is not limited by it).
    pub max_request_body_size: usize,
    /// `[DEFAULT] image_size_cap` (Glance: 1 TiB).
    pub image_size_cap: u64,
    /// `[DEFAULT] limit_param_default` and `api_limit_max`.
    pub limit_param_default: usize,
    pub api_limit_max: usize,
    /// `[image_conversion] output_format`: convert imported qcow2 data to
    /// this format (only `raw` is supported); `None` keeps the data as is.
    pub convert_to: Option<String>,
}

impl ImageConfig {
    /// Defaults as Glance ships them, with the stores under `data_dir`.
    pub fn new(public_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        ImageConfig {
            public_url: public_url.into(),
            store_dir: data_dir.join("images"),
            staging_dir: data_dir.join("staging"),
            policy_file: None,
            max_request_body_size: 65_536,
            image_size_cap: 1 << 40,
            limit_param_default: 25,
            api_limit_max: 1000,
            convert_to: None,
        }
    }
}
