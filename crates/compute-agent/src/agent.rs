//! The agent's life: start (reconcile, listen, report), dispatch of the
//! bus methods to the [`Manager`](crate::manager), stop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bus::{Bus, BusError, Handler, Listener, RemoteError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::driver::{Driver, DriverError};
use crate::manager::Manager;
use crate::rpc::{self, ActionRequest, BuildRequest, ConsoleRequest, HostQuery, InstanceRecord};

/// How long the agent waits for the conductor's `instances_on_host`
/// answer at start before going on and retrying in the background.
pub const RECONCILE_CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest wait between two reconcile attempts while the controller
/// is not answering.
pub const RECONCILE_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Nova's `periodic_interval`: how often the usage audit is asked for.
pub const USAGE_AUDIT_INTERVAL: Duration = Duration::from_secs(60);
/// How long the agent waits for the conductor to record an audit.
const USAGE_AUDIT_TIMEOUT: Duration = Duration::from_secs(30);

/// What an agent needs to know about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// The compute host's name (`compute.<host>` is its topic).
    pub host: String,
    pub availability_zone: Option<String>,
    /// How often it casts `report_state` ([`rpc::REPORT_INTERVAL`]).
    pub report_interval: Duration,
    /// Shown in `os-services`.
    pub version: String,
    /// Overcommit ratios and reserved resources of this host.
    pub allocation: rpc::AllocationSettings,
    /// Nova's `instance_usage_audit`: have the conductor record this
    /// host's instance usage audit once per audit period (the period is
    /// the controller's `instance_usage_audit_period`). Off by default,
    /// as in Nova.
    pub instance_usage_audit: bool,
    /// How often the agent asks for the audit (Nova runs the periodic task
    /// every `periodic_interval`, 60 s); a period already recorded costs
    /// one lookup.
    pub usage_audit_interval: Duration,
}

impl AgentConfig {
    /// Defaults: no availability zone, [`rpc::REPORT_INTERVAL`], this
    /// crate's version.
    pub fn new(host: impl Into<String>) -> AgentConfig {
        AgentConfig {
            host: host.into(),
            availability_zone: None,
            report_interval: rpc::REPORT_INTERVAL,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            allocation: rpc::AllocationSettings::default(),
            instance_usage_audit: false,
            usage_audit_interval: USAGE_AUDIT_INTERVAL,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("compute agent: message bus: {0}")]
    Bus(#[from] BusError),
    #[error("compute agent: driver: {0}")]
    Driver(#[from] DriverError),
    #[error("compute agent: bad configuration: {0}")]
    Config(String),
}

/// A running compute agent. Dropping it stops it, as [`Agent::stop`].
pub struct Agent {
    manager: Arc<Manager>,
    listener: std::sync::Mutex<Option<Listener>>,
    background: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Agent {
    /// Starts an agent for `config.host` on `bus` with `driver`:
    ///
    /// 1. asks the conductor which instances it has on this host and
    ///    reconciles them with the driver (Nova's `init_host`); when the
    ///    conductor does not answer within [`RECONCILE_CALL_TIMEOUT`] this
    ///    goes on in the background, retrying with backoff;
    /// 2. listens on `compute.<host>`;
    /// 3. reports its state to the conductor now and every
    ///    `report_interval`.
    ///
    /// Fails only when the driver cannot report the host's resources or the
    /// bus refuses the listener.
    pub async fn start(config: AgentConfig, bus: Bus, driver: Arc<dyn Driver>) -> Result<Agent, AgentError> {
        if config.host.is_empty() {
            return Err(AgentError::Config("host must not be empty".to_owned()));
        }
        if config.report_interval.is_zero() {
            return Err(AgentError::Config("report_interval must be positive".to_owned()));
        }
        if config.instance_usage_audit && config.usage_audit_interval.is_zero() {
            return Err(AgentError::Config("usage_audit_interval must be positive".to_owned()));
        }
        config.allocation.validate().map_err(AgentError::Config)?;
        let resources = driver.host_resources().await?;
        tracing::info!(
            host = %config.host,
            driver = driver.name(),
            vcpus = resources.vcpus,
            memory_mb = resources.memory_mb,
            local_gb = resources.local_gb,
            "compute agent starting"
        );
        let manager = Arc::new(Manager::new(config, bus, driver));

        // Reconcile first, as nova-compute's init_host does before it
        // consumes its queue (messages sent meanwhile wait there).
        let first = fetch_records(&manager, RECONCILE_CALL_TIMEOUT).await;
        let mut background = Vec::new();
        match first {
            Ok(records) => manager.reconcile(records).await,
            Err(e) => {
                tracing::warn!(host = %manager.config.host, error = %e,
                    "the conductor did not answer instances_on_host; reconciling in the background");
                let m = manager.clone();
                background.push(tokio::spawn(
                    async move { reconcile_until_done(m).await }.instrument(tracing::info_span!("reconcile")),
                ));
            }
        }

        let listener = manager
            .bus
            .listen(
                &rpc::agent_topic(&manager.config.host),
                Arc::new(AgentHandler(manager.clone())),
            )
            .await?;

        let m = manager.clone();
        background.push(tokio::spawn(async move { report_forever(m).await }));
        if manager.config.instance_usage_audit {
            let m = manager.clone();
            background.push(tokio::spawn(
                async move { audit_forever(m).await }.instrument(tracing::info_span!("instance_usage_audit")),
            ));
        }

        tracing::info!(host = %manager.config.host, "compute agent started");
        Ok(Agent {
            manager,
            listener: std::sync::Mutex::new(Some(listener)),
            background: std::sync::Mutex::new(background),
        })
    }

    pub fn host(&self) -> &str {
        &self.manager.config.host
    }

    pub fn config(&self) -> &AgentConfig {
        &self.manager.config
    }

    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.manager.driver
    }

    /// Whether the start-up reconciliation has finished.
    pub fn is_reconciled(&self) -> bool {
        *self.manager.reconciled.borrow()
    }

    /// Waits until the start-up reconciliation has finished.
    pub async fn reconciled(&self) {
        let mut rx = self.manager.reconciled.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Stops listening, reporting and reconciling, and abandons operations
    /// in flight without reporting them (as a killed nova-compute would).
    /// What the driver has stays as it is. Idempotent.
    pub fn stop(&self) {
        if self.manager.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(listener) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).take() {
            listener.stop();
        }
        for task in self.background.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            task.abort();
        }
        self.manager.abort_work();
        tracing::info!(host = %self.manager.config.host, "compute agent stopped");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn fetch_records(manager: &Manager, timeout: Duration) -> Result<Vec<InstanceRecord>, BusError> {
    let query = HostQuery {
        host: manager.config.host.clone(),
    };
    manager
        .bus
        .call(rpc::CONDUCTOR_TOPIC, "instances_on_host", &query, timeout)
        .await
}

async fn reconcile_until_done(manager: Arc<Manager>) {
    let mut backoff = Duration::from_millis(500);
    loop {
        tokio::time::sleep(backoff).await;
        match fetch_records(&manager, RECONCILE_CALL_TIMEOUT.max(backoff)).await {
            Ok(records) => {
                manager.reconcile(records).await;
                return;
            }
            Err(e) => {
                tracing::warn!(host = %manager.config.host, error = %e, retry_in = ?backoff,
                    "instances_on_host failed; retrying");
                backoff = (backoff * 2).min(RECONCILE_MAX_BACKOFF);
            }
        }
    }
}

async fn report_forever(manager: Arc<Manager>) {
    let mut ticks = tokio::time::interval(manager.config.report_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match manager.host_report().await {
            Ok(report) => manager.cast("report_state", &report).await,
            Err(e) => tracing::error!(host = %manager.config.host, error = %e, "cannot report state: driver failed"),
        }
    }
}

/// Nova's `_instance_usage_audit` periodic task: the agent has no
/// database, so it asks the conductor to record the audit of the last
/// completed period for this host; the conductor does it once per period.
async fn audit_forever(manager: Arc<Manager>) {
    let mut ticks = tokio::time::interval(manager.config.usage_audit_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let query = HostQuery {
        host: manager.config.host.clone(),
    };
    loop {
        ticks.tick().await;
        match manager
            .bus
            .call::<_, rpc::UsageAudit>(
                rpc::CONDUCTOR_TOPIC,
                "instance_usage_audit",
                &query,
                USAGE_AUDIT_TIMEOUT,
            )
            .await
        {
            Ok(a) if a.ran => tracing::info!(host = %query.host, instances = a.instances,
                period_beginning = a.period_beginning, period_ending = a.period_ending,
                "instance usage audit recorded"),
            Ok(_) => {}
            Err(e) => tracing::warn!(host = %query.host, error = %e, "instance usage audit failed; trying again later"),
        }
    }
}

/// The agent's side of `compute.<host>`.
struct AgentHandler(Arc<Manager>);

fn args<T: DeserializeOwned>(method: &str, args: Value) -> Result<T, RemoteError> {
    serde_json::from_value(args).map_err(|e| RemoteError::new("InvalidArgs", format!("{method}: {e}")))
}

fn remote(e: DriverError) -> RemoteError {
    RemoteError::new(e.kind(), e.to_string())
}

#[async_trait::async_trait]
impl Handler for AgentHandler {
    async fn handle(&self, method: &str, a: Value) -> Result<Value, RemoteError> {
        let m = &self.0;
        match method {
            "build_and_run_instance" => {
                let req: BuildRequest = args(method, a)?;
                m.submit_build(req);
                Ok(Value::Null)
            }
            "instance_action" => {
                let req: ActionRequest = args(method, a)?;
                m.submit_action(req);
                Ok(Value::Null)
            }
            "get_console_output" => {
                let req: ConsoleRequest = args(method, a)?;
                let out = m.console_output(&req).await.map_err(remote)?;
                Ok(Value::String(out))
            }
            "get_diagnostics" => {
                let req: rpc::DiagnosticsRequest = args(method, a)?;
                match m.diagnostics(&req.instance_uuid).await {
                    Ok(d) => serde_json::to_value(d).map_err(|e| RemoteError::new("InternalError", e.to_string())),
                    // Nova's message (`raise_http_conflict_for_instance_invalid_state`).
                    Err(DriverError::InvalidState { uuid, state, operation }) => Err(RemoteError::new(
                        "InstanceInvalidState",
                        format!(
                            "Cannot '{operation}' instance {uuid} while it is in power_state {}",
                            state.name()
                        ),
                    )),
                    Err(e) => Err(remote(e)),
                }
            }
            "get_host_uptime" => crate::host::uptime()
                .map(Value::String)
                .map_err(|e| RemoteError::new("HostUptimeUnavailable", e.to_string())),
            "ping" => {
                let report = m.host_report().await.map_err(remote)?;
                serde_json::to_value(report).map_err(|e| RemoteError::new("InternalError", e.to_string()))
            }
            other => Err(RemoteError::new(
                "UnsupportedVersion",
                format!("compute agent has no method {other}"),
            )),
        }
    }
}
