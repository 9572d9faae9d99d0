//! The network service (Neutron v2.0) over REST, as Nova's neutron
//! client: what the user may see and create goes with the user's token
//! (network look-ups, port creation, so that quotas and ownership are the
//! project's); what only the compute service may write — a port's
//! `binding:host_id`, its `device_id` on a port the user handed over, the
//! clean-up after a delete — goes with the service's own token (Nova's
//! "admin client"), as do the refreshes of the network info cache.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::ServiceCredentials;
use crate::error::{ComputeError, Result};
use crate::placement_client::ServiceToken;

/// Which token a request goes with.
#[derive(Clone, Copy, Debug)]
pub enum As<'a> {
    /// The user's token, forwarded.
    User(&'a str),
    /// The compute service's own token.
    Service,
}

/// A refusal from the network service: the status and Neutron's fault
/// (`NeutronError.type`, `.message`).
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub kind: String,
    pub message: String,
}

pub struct NetworkClient {
    url: String,
    http: reqwest::Client,
    token: ServiceToken,
}

fn upstream(what: &str, e: impl std::fmt::Display) -> ComputeError {
    ComputeError::Upstream(format!("network service: {what}: {e}"))
}

fn refusal(status: u16, body: &Value) -> Refusal {
    let fault = &body["NeutronError"];
    Refusal {
        status,
        kind: fault["type"].as_str().unwrap_or_default().to_owned(),
        message: fault["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| body.to_string()),
    }
}

impl NetworkClient {
    pub fn new(url: &str, creds: ServiceCredentials) -> NetworkClient {
        NetworkClient {
            url: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            token: ServiceToken::new(creds),
        }
    }

    /// Sends a request under `/v2.0`; returns the status and the body
    /// (`Null` when empty). A 401 on the service's token is tried once
    /// more with a new one; a 5xx or no answer is an upstream failure.
    pub async fn send(
        &self,
        who: As<'_>,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        for attempt in 0..2 {
            let token = match who {
                As::User(t) => t.to_owned(),
                As::Service => self.token.get(&self.http, attempt > 0).await?,
            };
            let mut req = self
                .http
                .request(method.clone(), format!("{}/v2.0/{path}", self.url))
                .query(query)
                .header("x-auth-token", token)
                .header("accept", "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| upstream(path, e))?;
            let status = resp.status().as_u16();
            if status == 401 && attempt == 0 && matches!(who, As::Service) {
                continue;
            }
            let text = resp.text().await.unwrap_or_default();
            if status >= 500 {
                return Err(upstream(path, format!("{status}: {text}")));
            }
            return Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)));
        }
        Err(upstream(path, "unauthorized"))
    }

    /// A collection (`networks`, `ports`, …) filtered by `query`.
    pub async fn list(&self, who: As<'_>, collection: &str, query: &[(&str, String)]) -> Result<Vec<Value>> {
        let (status, body) = self.send(who, reqwest::Method::GET, collection, query, None).await?;
        if status != 200 {
            return Err(upstream(collection, format!("{status}: {body}")));
        }
        Ok(body[collection].as_array().cloned().unwrap_or_default())
    }

    /// A port, or `None` when it does not exist (or the token may not see
    /// it).
    pub async fn show_port(&self, who: As<'_>, id: &str) -> Result<Option<Value>> {
        if id.is_empty() || id.contains('/') || id.contains('?') {
            return Ok(None);
        }
        let (status, body) = self
            .send(who, reqwest::Method::GET, &format!("ports/{id}"), &[], None)
            .await?;
        match status {
            200 => Ok(Some(body["port"].clone())),
            404 | 403 => Ok(None),
            s => Err(upstream("show port", format!("{s}: {body}"))),
        }
    }

    /// Creates a port; a refusal (no address left, over quota, …) is
    /// given back as such.
    pub async fn create_port(&self, who: As<'_>, port: Value) -> Result<std::result::Result<Value, Refusal>> {
        let (status, body) = self
            .send(who, reqwest::Method::POST, "ports", &[], Some(&json!({"port": port})))
            .await?;
        Ok(match status {
            201 => Ok(body["port"].clone()),
            s => Err(refusal(s, &body)),
        })
    }

    /// Changes a port with the service's token.
    pub async fn update_port(&self, id: &str, changes: Value) -> Result<std::result::Result<Value, Refusal>> {
        let (status, body) = self
            .send(
                As::Service,
                reqwest::Method::PUT,
                &format!("ports/{id}"),
                &[],
                Some(&json!({"port": changes})),
            )
            .await?;
        Ok(match status {
            200 => Ok(body["port"].clone()),
            s => Err(refusal(s, &body)),
        })
    }

    /// Deletes a port with the service's token; gone already is fine.
    pub async fn delete_port(&self, id: &str) -> Result<()> {
        let (status, body) = self
            .send(As::Service, reqwest::Method::DELETE, &format!("ports/{id}"), &[], None)
            .await?;
        match status {
            200..=299 | 404 => Ok(()),
            s => Err(upstream("delete port", format!("{s}: {body}"))),
        }
    }
}
