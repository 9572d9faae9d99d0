//! A small client of the block-storage service (Cinder v3) for what Nova's
//! `nova.volume.cinder.API` does with the legacy attach actions: read a
//! volume, `os-reserve`/`os-unreserve`, `os-initialize_connection`,
//! `os-attach`, `os-begin_detaching`/`os-roll_detaching`,
//! `os-terminate_connection`, `os-detach`, and delete.
//!
//! It lives in the agent's crate because both ends use it: the compute API
//! (reserve, begin detaching, the clean-up of a deleted server) and the
//! agent (connect, attach, detach, and the roll-backs of a failed attach).
//! Every call carries the user's token, as Nova forwards it; the base URL
//! is the project's endpoint, `http://host:8776/v3/{project_id}`.

use serde_json::{Value, json};

/// How long one call to the block-storage service may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// A failed call, classified as the compute API needs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    /// 404: no such volume (for this project).
    #[error("{0}")]
    NotFound(String),
    /// 400 (wrong status for the action, bad input) or 409: Cinder's message.
    #[error("{0}")]
    Invalid(String),
    /// The service could not be reached, refused the token, or failed.
    #[error("{0}")]
    Unavailable(String),
}

/// The fields of a volume the attach flow looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeInfo {
    pub id: String,
    pub status: String,
    pub size: u64,
    pub multiattach: bool,
    pub availability_zone: Option<String>,
}

#[derive(Clone)]
pub struct VolumeClient {
    http: reqwest::Client,
    /// `http://host:8776/v3/{project_id}`, without a trailing slash.
    base: String,
    token: Option<String>,
}

/// The project endpoint of a block-storage service at `url`
/// (`http://host:8776`, with or without `/v3`).
pub fn project_endpoint(url: &str, project_id: &str) -> String {
    let url = url.trim_end_matches('/');
    let url = url.strip_suffix("/v3").unwrap_or(url);
    format!("{url}/v3/{project_id}")
}

/// Cinder's fault body → its message (`{"badRequest": {"message": …}}`).
fn fault_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.as_object()?
                .values()
                .find_map(|f| f.get("message").and_then(Value::as_str).map(str::to_owned))
        })
        .unwrap_or_else(|| body.trim().chars().take(300).collect())
}

impl VolumeClient {
    /// A client of the project endpoint `base` acting with `token`.
    pub fn new(base: impl Into<String>, token: Option<String>) -> VolumeClient {
        VolumeClient {
            http: reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default(),
            base: base.into().trim_end_matches('/').to_owned(),
            token,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, String), VolumeError> {
        let url = format!("{}/{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("Accept", "application/json")
            .header("OpenStack-API-Version", "volume 3.0");
        if let Some(t) = &self.token {
            req = req.header("X-Auth-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| VolumeError::Unavailable(format!("block storage {method} {url}: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Ok((status, text))
    }

    fn classify(status: u16, text: &str, what: &str) -> VolumeError {
        match status {
            404 => VolumeError::NotFound(fault_message(text)),
            400 | 409 => VolumeError::Invalid(fault_message(text)),
            _ => VolumeError::Unavailable(format!(
                "block storage answered {status} to {what}: {}",
                fault_message(text)
            )),
        }
    }

    /// `GET /volumes/{id}`; a missing volume is Nova's
    /// "Volume {id} could not be found."
    pub async fn get(&self, volume_id: &str) -> Result<VolumeInfo, VolumeError> {
        let (status, text) = self
            .send(reqwest::Method::GET, &format!("volumes/{volume_id}"), None)
            .await?;
        if status == 404 {
            return Err(VolumeError::NotFound(format!("Volume {volume_id} could not be found.")));
        }
        if !(200..300).contains(&status) {
            return Err(Self::classify(status, &text, "a volume read"));
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| VolumeError::Unavailable(format!("block storage sent an unreadable volume: {e}")))?;
        let v = &v["volume"];
        Ok(VolumeInfo {
            id: v["id"].as_str().unwrap_or(volume_id).to_owned(),
            status: v["status"].as_str().unwrap_or_default().to_owned(),
            size: v["size"].as_u64().unwrap_or(0),
            multiattach: v["multiattach"].as_bool().unwrap_or(false),
            availability_zone: v["availability_zone"].as_str().map(str::to_owned),
        })
    }

    /// `POST /volumes/{id}/action` with `{name: args}`; the answer's body
    /// (empty for 202).
    pub async fn action(&self, volume_id: &str, name: &str, args: Value) -> Result<Value, VolumeError> {
        let (status, text) = self
            .send(
                reqwest::Method::POST,
                &format!("volumes/{volume_id}/action"),
                Some(json!({ name: args })),
            )
            .await?;
        if !(200..300).contains(&status) {
            return Err(Self::classify(status, &text, name));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .map_err(|e| VolumeError::Unavailable(format!("block storage sent an unreadable answer to {name}: {e}")))
    }

    pub async fn reserve(&self, volume_id: &str) -> Result<(), VolumeError> {
        self.action(volume_id, "os-reserve", json!({})).await.map(drop)
    }

    pub async fn unreserve(&self, volume_id: &str) -> Result<(), VolumeError> {
        self.action(volume_id, "os-unreserve", json!({})).await.map(drop)
    }

    /// The hypervisor's view of the volume for `connector`
    /// (`connection_info`: `driver_volume_type` and `data`).
    pub async fn initialize_connection(&self, volume_id: &str, connector: &Value) -> Result<Value, VolumeError> {
        let v = self
            .action(volume_id, "os-initialize_connection", json!({"connector": connector}))
            .await?;
        match v.get("connection_info") {
            Some(ci) if ci.is_object() => Ok(ci.clone()),
            _ => Err(VolumeError::Unavailable(format!(
                "block storage answered os-initialize_connection of {volume_id} without connection_info"
            ))),
        }
    }

    pub async fn terminate_connection(&self, volume_id: &str, connector: &Value) -> Result<(), VolumeError> {
        self.action(volume_id, "os-terminate_connection", json!({"connector": connector}))
            .await
            .map(drop)
    }

    /// `os-attach`: the volume is `in-use` by `instance_uuid` at `mountpoint`.
    pub async fn attach(&self, volume_id: &str, instance_uuid: &str, mountpoint: &str) -> Result<(), VolumeError> {
        self.action(
            volume_id,
            "os-attach",
            json!({"instance_uuid": instance_uuid, "mountpoint": mountpoint, "mode": "rw"}),
        )
        .await
        .map(drop)
    }

    pub async fn begin_detaching(&self, volume_id: &str) -> Result<(), VolumeError> {
        self.action(volume_id, "os-begin_detaching", json!({})).await.map(drop)
    }

    pub async fn roll_detaching(&self, volume_id: &str) -> Result<(), VolumeError> {
        self.action(volume_id, "os-roll_detaching", json!({})).await.map(drop)
    }

    /// `os-detach`: the volume is `available` again.
    pub async fn detach(&self, volume_id: &str) -> Result<(), VolumeError> {
        self.action(volume_id, "os-detach", json!({})).await.map(drop)
    }

    /// `DELETE /volumes/{id}`; already gone is success.
    pub async fn delete(&self, volume_id: &str) -> Result<(), VolumeError> {
        let (status, text) = self
            .send(reqwest::Method::DELETE, &format!("volumes/{volume_id}"), None)
            .await?;
        if (200..300).contains(&status) || status == 404 {
            return Ok(());
        }
        Err(Self::classify(status, &text, "a volume delete"))
    }
}

/// The connector a compute host presents (Nova's `get_volume_connector`):
/// this cloud's volume drivers export files and `qemu-nbd` sockets, so
/// the host's name is what they need.
pub fn connector(host: &str) -> Value {
    json!({"host": host, "platform": std::env::consts::ARCH, "os_type": std::env::consts::OS, "multipath": false})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_faults() {
        assert_eq!(project_endpoint("http://h:8776/", "p"), "http://h:8776/v3/p");
        assert_eq!(project_endpoint("http://h:8776/v3", "p"), "http://h:8776/v3/p");
        assert_eq!(
            fault_message(r#"{"badRequest": {"code": 400, "message": "Invalid volume: in-use"}}"#),
            "Invalid volume: in-use"
        );
        assert_eq!(fault_message("plain"), "plain");
    }
}
