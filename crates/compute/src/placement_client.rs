//! Placement over REST, as Nova's scheduler report client: the service's
//! own token (a password login with [`ServiceCredentials`], cached until a
//! minute before it expires), `OpenStack-API-Version: placement 1.36`.
//!
//! What compute uses: resource providers and inventories for each compute
//! node, allocation candidates for a flavor, and allocations keyed by the
//! instance uuid (the consumer).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use compute_agent::rpc::AllocationSettings;

use crate::config::ServiceCredentials;
use crate::error::{ComputeError, Result};

pub const PLACEMENT_VERSION: &str = "placement 1.36";

/// Resources of one request, by resource class.
pub type Resources = BTreeMap<String, i64>;

/// One allocation candidate: the providers and what each would give.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub allocations: BTreeMap<String, Resources>,
}

/// Capacity and usage of a provider, from `provider_summaries`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ClassSummary {
    pub capacity: i64,
    pub used: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Candidates {
    pub candidates: Vec<Candidate>,
    pub summaries: BTreeMap<String, BTreeMap<String, ClassSummary>>,
}

struct CachedToken {
    token: String,
    good_until: Instant,
}

/// The compute service's own token, cached until a minute before it
/// expires; shared by the clients that call other services as Nova.
pub struct ServiceToken {
    creds: ServiceCredentials,
    cached: Mutex<Option<CachedToken>>,
}

impl ServiceToken {
    pub fn new(creds: ServiceCredentials) -> ServiceToken {
        ServiceToken {
            creds,
            cached: Mutex::new(None),
        }
    }

    /// The cached token, or a new one when there is none, it is about to
    /// expire, or `fresh` asks for one (after a 401).
    pub async fn get(&self, http: &reqwest::Client, fresh: bool) -> Result<String> {
        let mut cached = self.cached.lock().await;
        if !fresh
            && let Some(t) = cached.as_ref()
            && t.good_until > Instant::now()
        {
            return Ok(t.token.clone());
        }
        let (token, lifetime) = service_token(http, &self.creds).await?;
        *cached = Some(CachedToken {
            token: token.clone(),
            good_until: Instant::now() + lifetime.saturating_sub(Duration::from_secs(60)),
        });
        Ok(token)
    }
}

pub struct PlacementClient {
    url: String,
    http: reqwest::Client,
    token: ServiceToken,
}

fn upstream(what: &str, e: impl std::fmt::Display) -> ComputeError {
    ComputeError::Upstream(format!("placement: {what}: {e}"))
}

impl PlacementClient {
    pub fn new(url: &str, creds: ServiceCredentials) -> PlacementClient {
        PlacementClient {
            url: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            token: ServiceToken::new(creds),
        }
    }

    /// Sends a request; retries once with a fresh token on 401.
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<(u16, Value)> {
        for attempt in 0..2 {
            let token = self.token.get(&self.http, attempt > 0).await?;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.url))
                .header("x-auth-token", token)
                .header("openstack-api-version", PLACEMENT_VERSION)
                .header("accept", "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| upstream(path, e))?;
            let status = resp.status().as_u16();
            if status == 401 && attempt == 0 {
                continue;
            }
            let text = resp.text().await.unwrap_or_default();
            let value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status >= 500 {
                return Err(upstream(path, format!("{status}: {text}")));
            }
            return Ok((status, value));
        }
        Err(upstream(path, "unauthorized"))
    }

    /// Makes sure a provider `uuid` named `name` exists with these totals
    /// (VCPU, MEMORY_MB, DISK_GB), at the host's allocation ratios and
    /// with its reserved amounts (never more than the total, which
    /// placement refuses).
    pub async fn ensure_provider(
        &self,
        uuid: &str,
        name: &str,
        vcpus: i64,
        memory_mb: i64,
        disk_gb: i64,
        allocation: &AllocationSettings,
    ) -> Result<()> {
        let (status, _) = self
            .send(reqwest::Method::GET, &format!("/resource_providers/{uuid}"), None)
            .await?;
        if status == 404 {
            let (status, body) = self
                .send(
                    reqwest::Method::POST,
                    "/resource_providers",
                    Some(&json!({"name": name, "uuid": uuid})),
                )
                .await?;
            if !(200..300).contains(&status) && status != 409 {
                return Err(upstream("create resource provider", format!("{status}: {body}")));
            }
        }
        let mut inventories = serde_json::Map::new();
        let a = allocation;
        for (class, total, ratio, reserved) in [
            ("VCPU", vcpus, a.cpu_allocation_ratio, i64::from(a.reserved_host_cpus)),
            (
                "MEMORY_MB",
                memory_mb,
                a.ram_allocation_ratio,
                a.reserved_host_memory_mb as i64,
            ),
            (
                "DISK_GB",
                disk_gb,
                a.disk_allocation_ratio,
                a.reserved_host_disk_mb.div_ceil(1024) as i64,
            ),
        ] {
            if total > 0 {
                inventories.insert(
                    class.to_owned(),
                    json!({"total": total, "reserved": reserved.min(total), "min_unit": 1, "max_unit": total,
                           "step_size": 1, "allocation_ratio": ratio}),
                );
            }
        }
        for _ in 0..4 {
            let (status, current) = self
                .send(
                    reqwest::Method::GET,
                    &format!("/resource_providers/{uuid}/inventories"),
                    None,
                )
                .await?;
            if status != 200 {
                return Err(upstream("read inventories", format!("{status}: {current}")));
            }
            let same = current["inventories"].as_object().is_some_and(|have| {
                have.len() == inventories.len()
                    && inventories.iter().all(|(k, want)| {
                        have.get(k).is_some_and(|h| {
                            h["total"] == want["total"]
                                && h["reserved"] == want["reserved"]
                                && h["allocation_ratio"].as_f64() == want["allocation_ratio"].as_f64()
                        })
                    })
            });
            if same {
                return Ok(());
            }
            let generation = current["resource_provider_generation"].clone();
            let (status, body) = self
                .send(
                    reqwest::Method::PUT,
                    &format!("/resource_providers/{uuid}/inventories"),
                    Some(&json!({"resource_provider_generation": generation, "inventories": inventories})),
                )
                .await?;
            match status {
                200..=299 => return Ok(()),
                409 => continue,
                _ => return Err(upstream("set inventories", format!("{status}: {body}"))),
            }
        }
        Err(upstream("set inventories", "generation conflicts"))
    }

    /// `GET /allocation_candidates` for `resources`.
    pub async fn candidates(&self, resources: &Resources) -> Result<Candidates> {
        let wanted: Vec<String> = resources
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k}:{n}"))
            .collect();
        if wanted.is_empty() {
            return Ok(Candidates::default());
        }
        let (status, body) = self
            .send(
                reqwest::Method::GET,
                &format!("/allocation_candidates?resources={}", wanted.join(",")),
                None,
            )
            .await?;
        if status != 200 {
            return Err(upstream("allocation candidates", format!("{status}: {body}")));
        }
        let mut out = Candidates::default();
        for req in body["allocation_requests"].as_array().into_iter().flatten() {
            let mut allocations = BTreeMap::new();
            for (rp, a) in req["allocations"].as_object().into_iter().flatten() {
                let res: Resources = serde_json::from_value(a["resources"].clone()).unwrap_or_default();
                allocations.insert(rp.clone(), res);
            }
            out.candidates.push(Candidate { allocations });
        }
        for (rp, s) in body["provider_summaries"].as_object().into_iter().flatten() {
            let res: BTreeMap<String, ClassSummary> =
                serde_json::from_value(s["resources"].clone()).unwrap_or_default();
            out.summaries.insert(rp.clone(), res);
        }
        Ok(out)
    }

    /// The consumer's allocations and generation (`None` when it has none).
    pub async fn allocations(&self, consumer: &str) -> Result<(BTreeMap<String, Resources>, Option<i64>)> {
        let (status, body) = self
            .send(reqwest::Method::GET, &format!("/allocations/{consumer}"), None)
            .await?;
        if status != 200 {
            return Err(upstream("read allocations", format!("{status}: {body}")));
        }
        let mut out = BTreeMap::new();
        for (rp, a) in body["allocations"].as_object().into_iter().flatten() {
            out.insert(
                rp.clone(),
                serde_json::from_value(a["resources"].clone()).unwrap_or_default(),
            );
        }
        Ok((out, body["consumer_generation"].as_i64()))
    }

    /// Claims `allocations` for `consumer`. `Ok(false)`: placement refused
    /// (capacity gone or a generation conflict) — try another candidate.
    pub async fn claim(
        &self,
        consumer: &str,
        allocations: &BTreeMap<String, Resources>,
        generation: Option<i64>,
        project_id: &str,
        user_id: &str,
    ) -> Result<bool> {
        let allocs: serde_json::Map<String, Value> = allocations
            .iter()
            .map(|(rp, r)| (rp.clone(), json!({"resources": r})))
            .collect();
        let body = json!({
            "allocations": allocs,
            "project_id": project_id,
            "user_id": user_id,
            "consumer_generation": generation,
        });
        let (status, resp) = self
            .send(reqwest::Method::PUT, &format!("/allocations/{consumer}"), Some(&body))
            .await?;
        match status {
            200..=299 => Ok(true),
            409 => {
                tracing::info!(instance = %consumer, reason = %resp, "placement refused the claim");
                Ok(false)
            }
            _ => Err(upstream("claim", format!("{status}: {resp}"))),
        }
    }

    /// Replaces the consumer's allocation on `provider` with `resources`
    /// (resize, revert), reading the consumer generation first.
    pub async fn reclaim(
        &self,
        consumer: &str,
        provider: &str,
        resources: &Resources,
        project_id: &str,
        user_id: &str,
    ) -> Result<bool> {
        for _ in 0..3 {
            let (_, generation) = self.allocations(consumer).await?;
            let mut allocs = BTreeMap::new();
            allocs.insert(provider.to_owned(), resources.clone());
            if self.claim(consumer, &allocs, generation, project_id, user_id).await? {
                return Ok(true);
            }
            // A generation conflict is worth another read; no capacity is not,
            // but one more try costs little.
        }
        Ok(false)
    }

    /// Moves every allocation of `from` to `to` in one write (placement's
    /// `POST /allocations`), replacing what `to` held, as Nova moves an
    /// instance's allocation to its migration and back. Nothing to move
    /// is `Ok(true)`; `Ok(false)` when placement kept refusing.
    pub async fn move_allocations(&self, from: &str, to: &str, project_id: &str, user_id: &str) -> Result<bool> {
        for _ in 0..3 {
            let (allocs, from_generation) = self.allocations(from).await?;
            if allocs.is_empty() {
                tracing::info!(from, to, "no allocation to move");
                return Ok(true);
            }
            let (_, to_generation) = self.allocations(to).await?;
            let moved: serde_json::Map<String, Value> = allocs
                .iter()
                .map(|(rp, r)| (rp.clone(), json!({"resources": r})))
                .collect();
            let body = json!({
                from: {"allocations": {}, "project_id": project_id, "user_id": user_id,
                       "consumer_generation": from_generation},
                to: {"allocations": moved, "project_id": project_id, "user_id": user_id,
                     "consumer_generation": to_generation},
            });
            let (status, resp) = self.send(reqwest::Method::POST, "/allocations", Some(&body)).await?;
            match status {
                200..=299 => return Ok(true),
                // A generation conflict: read again.
                409 => tracing::info!(from, to, reason = %resp, "placement refused the move"),
                _ => return Err(upstream("move allocations", format!("{status}: {resp}"))),
            }
        }
        Ok(false)
    }

    /// Removes every allocation of `consumer`; gone already is fine.
    pub async fn release(&self, consumer: &str) -> Result<()> {
        let (status, body) = self
            .send(reqwest::Method::DELETE, &format!("/allocations/{consumer}"), None)
            .await?;
        match status {
            200..=299 | 404 => Ok(()),
            _ => Err(upstream("release", format!("{status}: {body}"))),
        }
    }
}

/// A project-scoped token for the service user: (token, lifetime).
pub async fn service_token(http: &reqwest::Client, c: &ServiceCredentials) -> Result<(String, Duration)> {
    let (token, body) = api::service_login(http, c)
        .await
        .map_err(|e| ComputeError::Upstream(format!("identity: {e}")))?;
    let lifetime = body["token"]["expires_at"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            (t.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        })
        .unwrap_or(Duration::from_secs(300));
    Ok((token, lifetime))
}
