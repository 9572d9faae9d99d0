//! The compute API's use of the block-storage service: the Cinder client
//! of [`compute_agent::volume_client`] (one client for both ends of an
//! attach), made for a caller's project and token, and its errors as the
//! compute API answers them (Nova's `translate_cinder_exception`: Cinder's
//! 404 stays 404, its 400/409 become 400 with Cinder's message).

pub use compute_agent::volume_client::{VolumeClient, VolumeError, VolumeInfo, connector, project_endpoint};

use crate::Compute;
use crate::error::{ComputeError, Result};

/// Why a volume operation cannot even start: no block storage here.
pub const NO_BLOCK_STORAGE: &str =
    "Block storage is not available in this cloud (no [cinder] endpoint is configured): volumes cannot be attached.";

impl From<VolumeError> for ComputeError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::NotFound(m) => ComputeError::NotFound(m),
            VolumeError::Invalid(m) => ComputeError::BadRequest(m),
            VolumeError::Unavailable(m) => ComputeError::Upstream(m),
        }
    }
}

impl Compute {
    /// The project's block-storage endpoint, or 400 when this cloud has
    /// none.
    pub fn volume_endpoint(&self, project_id: &str) -> Result<String> {
        match &self.config.volume_url {
            Some(url) => Ok(project_endpoint(url, project_id)),
            None => Err(ComputeError::bad(NO_BLOCK_STORAGE)),
        }
    }

    /// A client of the project's volumes acting with `token`.
    pub fn volume_client(&self, project_id: &str, token: Option<String>) -> Result<VolumeClient> {
        Ok(VolumeClient::new(self.volume_endpoint(project_id)?, token))
    }
}

/// The project a token is scoped to (`GET /v3/auth/tokens` with the token
/// as its own subject), for calls at that project's endpoint.
pub async fn token_project(auth_url: &str, token: &str) -> Result<String> {
    let base = auth_url.trim_end_matches('/');
    let url = if base.ends_with("/v3") {
        format!("{base}/auth/tokens")
    } else {
        format!("{base}/v3/auth/tokens")
    };
    let resp = reqwest::Client::new()
        .get(url)
        .header("X-Auth-Token", token)
        .header("X-Subject-Token", token)
        .send()
        .await
        .map_err(|e| ComputeError::Upstream(format!("identity: token validation: {e}")))?;
    if !resp.status().is_success() {
        return Err(ComputeError::Upstream(format!(
            "identity: token validation answered {}",
            resp.status()
        )));
    }
    let body: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| ComputeError::Upstream(format!("identity: unreadable token: {e}")))?;
    body["token"]["project"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ComputeError::Upstream("identity: the service token has no project".to_owned()))
}
