//! The compute service as block storage calls it (Cinder's
//! `cinder/compute/nova.py`): server external events sent with the
//! service's own credentials (Cinder's `[nova]` section, its
//! "privileged user"), today `volume-extended` after an attached volume
//! grew, so that the servers' hypervisors resize their disks.
//!
//! The compute endpoint is the configured one, else the `compute` entry
//! of the service token's catalog (Cinder's default, a catalog lookup).
//! Failures are the caller's to log: as in Cinder, a compute that cannot
//! be told does not undo the extend.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::ServiceCredentials;

/// The microversion Cinder sends `volume-extended` with.
pub const EVENTS_VERSION: &str = "2.51";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("identity: {0}")]
    Identity(String),
    #[error("no compute endpoint is configured or in the catalog")]
    NoEndpoint,
    #[error("compute: {0}")]
    Compute(String),
}

pub struct ComputeClient {
    http: reqwest::Client,
    creds: ServiceCredentials,
    /// `http://host:8774` or a catalog URL ending in `/v2.1`.
    url: Option<String>,
}

/// `{url}/v2.1`, whether `url` names the version already or not.
fn versioned(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.ends_with("/v2.1") || url.contains("/v2.1/") {
        url.to_owned()
    } else {
        format!("{url}/v2.1")
    }
}

/// The public `compute` endpoint of a token's catalog.
fn catalog_compute(token_body: &Value) -> Option<String> {
    let services = token_body["token"]["catalog"].as_array()?;
    let service = services.iter().find(|s| s["type"] == "compute")?;
    let endpoints = service["endpoints"].as_array()?;
    endpoints
        .iter()
        .find(|e| e["interface"] == "public")
        .or_else(|| endpoints.first())
        .and_then(|e| e["url"].as_str())
        .map(str::to_owned)
}

impl ComputeClient {
    pub fn new(url: Option<String>, creds: ServiceCredentials) -> ComputeClient {
        ComputeClient {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            creds,
            url,
        }
    }

    /// A password login as the service; the token and its body (with the
    /// catalog).
    async fn login(&self) -> Result<(String, Value), NotifyError> {
        api::service_login(&self.http, &self.creds)
            .await
            .map_err(|e| NotifyError::Identity(e.to_string()))
    }

    /// `POST /os-server-external-events` with `volume-extended` for each
    /// server (tag: the volume). Returns the per-event codes compute gave.
    pub async fn volume_extended(&self, servers: &[String], volume_id: &str) -> Result<Vec<Value>, NotifyError> {
        let (token, body) = self.login().await?;
        let url = match &self.url {
            Some(u) => u.clone(),
            None => catalog_compute(&body).ok_or(NotifyError::NoEndpoint)?,
        };
        let events: Vec<Value> = servers
            .iter()
            .map(|s| json!({"name": "volume-extended", "server_uuid": s, "tag": volume_id}))
            .collect();
        let resp = self
            .http
            .post(format!("{}/os-server-external-events", versioned(&url)))
            .header("x-auth-token", token)
            .header("openstack-api-version", format!("compute {EVENTS_VERSION}"))
            .json(&json!({ "events": events }))
            .send()
            .await
            .map_err(|e| NotifyError::Compute(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if !matches!(status, 200 | 207) {
            return Err(NotifyError::Compute(format!("answered {status}: {text}")));
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(v["events"].as_array().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_their_version_once() {
        assert_eq!(versioned("http://h:8774"), "http://h:8774/v2.1");
        assert_eq!(versioned("http://h:8774/"), "http://h:8774/v2.1");
        assert_eq!(versioned("http://h:8774/v2.1"), "http://h:8774/v2.1");
        assert_eq!(versioned("http://h:8774/v2.1/abc"), "http://h:8774/v2.1/abc");
    }

    #[test]
    fn the_catalog_gives_the_public_compute_endpoint() {
        let body = json!({"token": {"catalog": [
            {"type": "image", "endpoints": [{"interface": "public", "url": "http://i"}]},
            {"type": "compute", "endpoints": [
                {"interface": "internal", "url": "http://internal/v2.1"},
                {"interface": "public", "url": "http://public/v2.1"}]}]}});
        assert_eq!(catalog_compute(&body).as_deref(), Some("http://public/v2.1"));
        assert_eq!(catalog_compute(&json!({"token": {"catalog": []}})), None);
    }
}
