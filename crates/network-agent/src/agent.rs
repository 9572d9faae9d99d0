//! The agent on the bus: [`NetworkAgent`] keeps this host's kernel equal
//! to what the network service wants, as Neutron's linuxbridge, DHCP and
//! L3 agents do together against neutron-server.
//!
//! A reconciler with no input of its own: each pass fetches the host's
//! whole desired state ([`rpc::HostState`]), makes the kernel match it
//! with [`L2`], [`Dhcp`], [`L3`] and [`Firewall`], removes what the state
//! no longer has (router and DHCP namespaces, taps on our bridges, bridges;
//! all found by the names [`crate::names`] derives from ids), and reports
//! which ports are plugged (`update_port_status`). Passes run one at a
//! time, on start, every `resync_interval`, and on each `state_changed`
//! notice (notices arriving during a pass coalesce into one more pass).
//! Heartbeats (`report_state`, one per agent type) go out every
//! `report_interval` whatever the passes do.
//!
//! A host that cannot run the data plane (not root, a program missing)
//! does not crash the agent: it logs the problem once, shows it in its
//! `configurations` (`error`), touches nothing and reports its ports
//! `DOWN`.
//!
//! What "ours" means when removing: namespaces `qrouter-<id>` and
//! `qdhcp-<id>`, bridges `brq…`, and `tap…` interfaces on those bridges.
//! Anything else on the host is never touched.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Bus, BusError, Handler, Listener, RemoteError};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::rpc::{self, AgentState, DhcpPortRequest, HostQuery, HostState, PortStatusUpdate};
use crate::{Dhcp, Firewall, L2, L3, host, names};

/// What the agent needs to know about itself.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The host's name, as ports' `binding:host_id` names it.
    pub host: String,
    /// dnsmasq's files (`<state_dir>/dhcp/<network id>/`).
    pub state_dir: PathBuf,
    /// Neutron's `resync_interval`: a full pass at least this often.
    pub resync_interval: Duration,
    /// Neutron's `[agent] report_interval`.
    pub report_interval: Duration,
    /// How long a call to the service may take.
    pub rpc_timeout: Duration,
    /// The prefix of the firewall's iptables chains (`oxi` by default).
    pub firewall_prefix: Option<String>,
    /// The programs the data plane runs, with the Debian packages that
    /// bring them; checked at start: with one missing the agent builds
    /// nothing and says so.
    pub required_programs: Vec<(String, String)>,
}

impl AgentConfig {
    pub fn new(host: impl Into<String>, state_dir: impl Into<PathBuf>) -> AgentConfig {
        AgentConfig {
            host: host.into(),
            state_dir: state_dir.into(),
            resync_interval: Duration::from_secs(30),
            report_interval: rpc::REPORT_INTERVAL,
            rpc_timeout: Duration::from_secs(10),
            firewall_prefix: None,
            required_programs: PROGRAMS
                .iter()
                .map(|(p, pkg)| ((*p).to_owned(), (*pkg).to_owned()))
                .collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("network agent: bad configuration: {0}")]
    Config(String),
    #[error("network agent: message bus")]
    Bus(#[from] BusError),
    #[error("network agent: the host could not be cleaned: {0}")]
    Cleanup(String),
}

/// What one pass did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    pub networks: usize,
    pub routers: usize,
    /// Ports reported `ACTIVE`.
    pub up: Vec<String>,
    /// Ports reported `DOWN`.
    pub down: Vec<String>,
    /// Routers built.
    pub routers_up: Vec<String>,
    /// Routers that failed.
    pub routers_down: Vec<String>,
    /// Resources that failed, with why.
    pub failures: Vec<String>,
    /// Removed: namespaces, bridges, taps.
    pub removed: Vec<String>,
}

struct Inner {
    config: AgentConfig,
    bus: Bus,
    l2: L2,
    dhcp: Dhcp,
    l3: L3,
    firewall: Firewall,
    /// Why the host cannot run the data plane, if it cannot.
    problem: Option<String>,
    /// What works but not fully (shown in `configurations`).
    warning: Option<String>,
    poke: Notify,
    /// One pass at a time (the loop's and [`NetworkAgent::sync_now`]'s).
    pass: tokio::sync::Mutex<()>,
    last: Mutex<PassReport>,
}

/// A running agent; dropping it stops it. What it built stays.
pub struct NetworkAgent {
    inner: Arc<Inner>,
    listener: Mutex<Option<Listener>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The programs the data plane runs.
const PROGRAMS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("dnsmasq", "dnsmasq-base"),
    ("nft", "nftables"),
    ("iptables-save", "iptables"),
    ("iptables-restore", "iptables"),
];

/// Why this host cannot run the data plane with `programs`, if it
/// cannot.
pub fn host_problem(programs: &[(String, String)]) -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("the network agent must run as root to build bridges, namespaces and firewall rules".into());
    }
    let missing: Vec<String> = programs
        .iter()
        .filter(|(p, _)| find_program(p).is_none())
        .map(|(p, pkg)| format!("{p} (Debian package {pkg})"))
        .collect();
    (!missing.is_empty()).then(|| format!("programs not found: {}", missing.join(", ")))
}

/// The first existing directory on the way to `dir` that other users
/// cannot traverse (no `o+x`), if any.
pub fn closed_dir(dir: &std::path::Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let absolute = std::path::absolute(dir).ok()?;
    absolute
        .ancestors()
        .filter_map(|d| Some((d, std::fs::metadata(d).ok()?)))
        .filter(|(_, m)| m.is_dir())
        .find(|(_, m)| m.permissions().mode() & 0o001 == 0)
        .map(|(d, _)| d.to_path_buf())
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin"])
        .filter(|d| !d.is_empty())
        .map(|dir| std::path::Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// Removes everything agents built on this host, with no agent running:
/// every `qrouter-`/`qdhcp-` namespace (and the dnsmasq in it), every `brq`
/// bridge with its taps, dnsmasq's files under `state_dir`, and the
/// firewall's chains — what Neutron's `netns-cleanup` and
/// `linuxbridge-cleanup` do once the agents are stopped. Guests on those
/// bridges lose their network.
pub async fn clean_host(state_dir: &std::path::Path, firewall_prefix: Option<&str>) -> Result<Vec<String>, AgentError> {
    let mut config = AgentConfig::new("cleanup", state_dir);
    config.firewall_prefix = firewall_prefix.map(str::to_owned);
    let firewall = match &config.firewall_prefix {
        Some(p) => Firewall::with_prefix(p).map_err(|e| AgentError::Config(e.to_string()))?,
        None => Firewall::new(),
    };
    if let Some(problem) = host_problem(&config.required_programs) {
        return Err(AgentError::Cleanup(problem));
    }
    let inner = Inner {
        l2: L2::new(&config.state_dir),
        dhcp: Dhcp::new(config.state_dir.join("dhcp")),
        l3: L3::new(),
        firewall,
        problem: None,
        warning: None,
        bus: Bus::in_process(),
        config,
        poke: Notify::new(),
        pass: tokio::sync::Mutex::new(()),
        last: Mutex::new(PassReport::default()),
    };
    let mut report = PassReport::default();
    remove_stale(&inner, &HostState::default(), &mut report).await;
    if let Err(e) = inner.firewall.remove().await {
        report.failures.push(format!("removing the firewall's chains: {e}"));
    }
    if report.failures.is_empty() {
        Ok(report.removed)
    } else {
        Err(AgentError::Cleanup(report.failures.join("; ")))
    }
}

impl NetworkAgent {
    /// Starts the agent for `config.host` on `bus`: listens for
    /// `state_changed`, heartbeats now and every `report_interval`, and
    /// reconciles now (in the background) and every `resync_interval`.
    /// Fails only on a bad configuration or a bus that refuses the
    /// listener; a host unable to run the data plane is reported, not
    /// refused.
    pub async fn start(config: AgentConfig, bus: Bus) -> Result<NetworkAgent, AgentError> {
        if config.host.is_empty() {
            return Err(AgentError::Config("host must not be empty".into()));
        }
        if config.resync_interval.is_zero() || config.report_interval.is_zero() {
            return Err(AgentError::Config("intervals must be positive".into()));
        }
        let firewall = match &config.firewall_prefix {
            Some(p) => Firewall::with_prefix(p).map_err(|e| AgentError::Config(e.to_string()))?,
            None => Firewall::new(),
        };
        let problem = host_problem(&config.required_programs);
        if let Some(p) = &problem {
            tracing::error!(host = %config.host, problem = %p,
                "network agent cannot build the data plane on this host; ports stay DOWN");
        }
        let warning = closed_dir(&config.state_dir).map(|d| {
            format!(
                "{} cannot be traversed by other users: dnsmasq, which drops root, will not see changed hosts on reload; \
                 use a state dir under a world-traversable path",
                d.display()
            )
        });
        if let Some(w) = &warning {
            tracing::warn!(host = %config.host, "{w}");
        }
        let inner = Arc::new(Inner {
            l2: L2::new(&config.state_dir),
            dhcp: Dhcp::new(config.state_dir.join("dhcp")),
            l3: L3::new(),
            firewall,
            problem,
            warning,
            bus: bus.clone(),
            config,
            poke: Notify::new(),
            pass: tokio::sync::Mutex::new(()),
            last: Mutex::new(PassReport::default()),
        });
        let listener = bus
            .listen(rpc::AGENT_TOPIC, Arc::new(NoticeHandler(inner.clone())))
            .await?;
        let tasks = vec![
            tokio::spawn(report_forever(inner.clone())),
            tokio::spawn(reconcile_forever(inner.clone())),
        ];
        tracing::info!(host = %inner.config.host, "network agent started");
        Ok(NetworkAgent {
            inner,
            listener: Mutex::new(Some(listener)),
            tasks: Mutex::new(tasks),
        })
    }

    pub fn host(&self) -> &str {
        &self.inner.config.host
    }

    /// Why the data plane cannot be built here, if it cannot.
    pub fn problem(&self) -> Option<&str> {
        self.inner.problem.as_deref()
    }

    /// Runs one pass now (after the one in progress, if any).
    pub async fn sync_now(&self) -> PassReport {
        pass(&self.inner).await
    }

    /// What the last pass did.
    pub fn last_pass(&self) -> PassReport {
        lock(&self.inner.last).clone()
    }

    /// Stops listening, reporting and reconciling. Idempotent.
    pub fn stop(&self) {
        if let Some(l) = lock(&self.listener).take() {
            l.stop();
        }
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

impl Drop for NetworkAgent {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct NoticeHandler(Arc<Inner>);

#[async_trait::async_trait]
impl Handler for NoticeHandler {
    async fn handle(&self, method: &str, _args: Value) -> Result<Value, RemoteError> {
        match method {
            "state_changed" => {
                self.0.poke.notify_one();
                Ok(Value::Null)
            }
            other => Err(RemoteError::new(
                "UnknownMethod",
                format!("no method {other} on {}", rpc::AGENT_TOPIC),
            )),
        }
    }
}

async fn reconcile_forever(inner: Arc<Inner>) {
    loop {
        pass(&inner).await;
        // `Notify` keeps one permit: notices during the pass make exactly
        // one more.
        let _ = tokio::time::timeout(inner.config.resync_interval, inner.poke.notified()).await;
    }
}

async fn report_forever(inner: Arc<Inner>) {
    let mut ticks = tokio::time::interval(inner.config.report_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut start_flag = true;
    loop {
        ticks.tick().await;
        let configurations = configurations(&inner);
        for (agent_type, topic) in rpc::AGENT_TYPES {
            let state = AgentState {
                agent_type: (*agent_type).to_owned(),
                binary: rpc::BINARY.to_owned(),
                host: inner.config.host.clone(),
                topic: (*topic).to_owned(),
                configurations: configurations.clone(),
                start_flag,
            };
            if let Err(e) = inner.bus.cast(rpc::SERVICE_TOPIC, "report_state", &state).await {
                tracing::warn!(error = %e, "cannot report state");
            }
        }
        start_flag = false;
    }
}

fn configurations(inner: &Inner) -> Value {
    let last = lock(&inner.last).clone();
    let mut c = json!({
        "bridge_mappings": {},
        "interface_mappings": {},
        "devices": last.up.len(),
        "networks": last.networks,
        "routers": last.routers,
        "dhcp_driver": "dnsmasq",
        "firewall_driver": "iptables",
        "state_dir": inner.config.state_dir.display().to_string(),
    });
    if let Some(w) = &inner.warning {
        c["warning"] = json!(w);
    }
    if let Some(p) = &inner.problem {
        c["error"] = json!(p);
    } else if !last.failures.is_empty() {
        c["failures"] = json!(last.failures);
    }
    c
}

async fn fetch(inner: &Inner) -> Result<HostState, BusError> {
    let q = HostQuery {
        host: inner.config.host.clone(),
    };
    inner
        .bus
        .call(rpc::SERVICE_TOPIC, "get_host_state", &q, inner.config.rpc_timeout)
        .await
}

/// One reconciliation of the whole host.
async fn pass(inner: &Inner) -> PassReport {
    let _one = inner.pass.lock().await;
    let mut report = PassReport::default();
    let mut state = match fetch(inner).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(host = %inner.config.host, error = %e, "cannot fetch the host state; will retry");
            report.failures.push(format!("get_host_state: {e}"));
            *lock(&inner.last) = report.clone();
            return report;
        }
    };

    if inner.problem.is_some() {
        report.down = state.ports.iter().map(|p| p.port.id.clone()).collect();
        send_status(inner, &report).await;
        *lock(&inner.last) = report.clone();
        return report;
    }

    // DHCP ports first: dnsmasq needs one, and the service makes it.
    let missing = state.missing_dhcp_ports();
    if !missing.is_empty() {
        for network_id in &missing {
            let req = DhcpPortRequest {
                host: inner.config.host.clone(),
                network_id: network_id.clone(),
            };
            let r: Result<Value, BusError> = inner
                .bus
                .call(rpc::SERVICE_TOPIC, "ensure_dhcp_port", &req, inner.config.rpc_timeout)
                .await;
            if let Err(e) = r {
                tracing::warn!(network_id = %network_id, error = %e, "cannot get a DHCP port");
                report.failures.push(format!("DHCP port of network {network_id}: {e}"));
            }
        }
        match fetch(inner).await {
            Ok(s) => state = s,
            Err(e) => {
                report.failures.push(format!("get_host_state: {e}"));
                *lock(&inner.last) = report.clone();
                return report;
            }
        }
    }

    realize(inner, &state, &mut report).await;
    remove_stale(inner, &state, &mut report).await;
    send_status(inner, &report).await;
    report.networks = state.networks.len();
    report.routers = state.routers.len();
    if report.failures.is_empty() {
        tracing::debug!(host = %inner.config.host, up = report.up.len(), "host in sync");
    } else {
        tracing::warn!(host = %inner.config.host, failures = ?report.failures, "host partly in sync");
    }
    *lock(&inner.last) = report.clone();
    report
}

async fn realize(inner: &Inner, state: &HostState, report: &mut PassReport) {
    let still_missing: HashSet<String> = state.missing_dhcp_ports().into_iter().collect();
    let mut bridged: HashSet<String> = HashSet::new();
    for spec in &state.networks {
        // Without its DHCP port the network still gets its bridge; DHCP
        // waits for the next pass.
        let spec = if still_missing.contains(&spec.id) {
            let mut s = spec.clone();
            s.subnets.iter_mut().for_each(|sub| sub.enable_dhcp = false);
            std::borrow::Cow::Owned(s)
        } else {
            std::borrow::Cow::Borrowed(spec)
        };
        match inner.l2.ensure_network(&spec).await {
            Ok(_) => {
                bridged.insert(spec.id.clone());
                if let Some(p) = &spec.dhcp_port
                    && !spec.dhcp_subnets().unwrap_or_default().is_empty()
                {
                    report.up.push(p.id.clone());
                }
            }
            Err(e) => {
                tracing::error!(network_id = %spec.id, error = %e, "network not built");
                report.failures.push(format!("network {}: {e}", spec.id));
                if let Some(p) = &spec.dhcp_port {
                    report.down.push(p.id.clone());
                }
            }
        }
    }

    // One listing for all ports: a port whose tap is already right costs
    // no `ip` call (without the listing every port is plugged again).
    let links = host::links(None, "").await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot list the links; plugging every port again");
        Vec::new()
    });
    let links: HashMap<&str, &host::Link> = links.iter().map(|l| (l.name.as_str(), l)).collect();
    let mut plugged = Vec::new();
    for bp in &state.ports {
        let id = &bp.port.id;
        if !bp.admin_state_up || !bridged.contains(&bp.network_id) {
            if let Err(e) = inner.l2.unplug_port(id).await {
                report.failures.push(format!("port {id}: {e}"));
            }
            report.down.push(id.clone());
            continue;
        }
        if L2::is_plugged(&links, &bp.network_id, &bp.port) {
            plugged.push(id.clone());
            continue;
        }
        match inner.l2.plug_port(&bp.network_id, &bp.port).await {
            Ok(_) => plugged.push(id.clone()),
            Err(e) => {
                tracing::error!(port_id = %id, error = %e, "port not plugged");
                report.failures.push(format!("port {id}: {e}"));
                report.down.push(id.clone());
            }
        }
    }
    // A port is up only once its security groups are in force.
    let plugged_set: HashSet<&str> = plugged.iter().map(String::as_str).collect();
    let firewalls: Vec<_> = state
        .firewalls
        .iter()
        .filter(|f| plugged_set.contains(f.port_id.as_str()))
        .cloned()
        .collect();
    match inner.firewall.sync(&firewalls).await {
        Ok(()) => report.up.extend(plugged),
        Err(e) => {
            tracing::error!(error = %e, "security groups not applied; ports stay DOWN");
            report.failures.push(format!("security groups: {e}"));
            report.down.extend(plugged);
        }
    }

    for r in &state.routers {
        let ports = r
            .interfaces
            .iter()
            .map(|i| i.port_id.clone())
            .chain(r.gateway.iter().map(|g| g.port_id.clone()));
        match inner.l3.ensure_router(r).await {
            Ok(()) => {
                report.up.extend(ports);
                // its floating IPs work only while it forwards
                if r.admin_state_up {
                    report.routers_up.push(r.id.clone());
                } else {
                    report.routers_down.push(r.id.clone());
                }
            }
            Err(e) => {
                tracing::error!(router_id = %r.id, error = %e, "router not built");
                report.failures.push(format!("router {}: {e}", r.id));
                report.down.extend(ports);
                report.routers_down.push(r.id.clone());
            }
        }
    }
}

async fn remove_stale(inner: &Inner, state: &HostState, report: &mut PassReport) {
    let mut fail = |what: String, e: crate::Error| {
        tracing::error!(what = %what, error = %e, "cannot remove");
        report.failures.push(format!("removing {what}: {e}"));
    };
    let routers: HashSet<&str> = state.routers.iter().map(|r| r.id.as_str()).collect();
    let dhcp_networks: HashSet<&str> = state
        .networks
        .iter()
        .filter(|n| n.dhcp_port.is_some() && !n.dhcp_subnets().unwrap_or_default().is_empty())
        .map(|n| n.id.as_str())
        .collect();
    let namespaces = match host::netns_list().await {
        Ok(n) => n,
        Err(e) => {
            fail("namespaces".into(), e);
            return;
        }
    };
    let mut removed = Vec::new();
    for ns in &namespaces {
        if let Some(id) = ns.strip_prefix("qrouter-")
            && !routers.contains(id)
            && names::check_id("router", id).is_ok()
        {
            match inner.l3.remove_router(id).await {
                Ok(()) => removed.push(ns.clone()),
                Err(e) => fail(ns.clone(), e),
            }
        }
        if let Some(id) = ns.strip_prefix("qdhcp-")
            && !dhcp_networks.contains(id)
            && names::check_id("network", id).is_ok()
        {
            match inner.dhcp.remove(id).await {
                Ok(()) => removed.push(ns.clone()),
                Err(e) => fail(ns.clone(), e),
            }
        }
    }
    // dnsmasq files of networks whose namespace is already gone.
    if let Ok(entries) = std::fs::read_dir(inner.config.state_dir.join("dhcp")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !dhcp_networks.contains(name.as_str())
                && names::check_id("network", &name).is_ok()
                && let Err(e) = inner.dhcp.remove(&name).await
            {
                fail(format!("DHCP files of {name}"), e);
            }
        }
    }

    let bridges: HashSet<String> = state.networks.iter().map(|n| names::bridge(&n.id)).collect();
    let mut taps: HashSet<String> = state
        .ports
        .iter()
        .filter(|p| p.admin_state_up)
        .map(|p| names::tap(&p.port.id))
        .collect();
    for n in &state.networks {
        if let Some(p) = &n.dhcp_port {
            taps.insert(names::tap(&p.id));
        }
    }
    for r in &state.routers {
        taps.extend(r.interfaces.iter().map(|i| names::tap(&i.port_id)));
        taps.extend(r.gateway.iter().map(|g| names::tap(&g.port_id)));
    }
    let links = match host::links(None, "").await {
        Ok(l) => l,
        Err(e) => {
            fail("links".into(), e);
            return;
        }
    };
    let ours = |l: &host::Link| l.name.starts_with("brq") && l.kind.as_deref() == Some("bridge");
    let our_bridges: HashMap<&str, &host::Link> =
        links.iter().filter(|l| ours(l)).map(|l| (l.name.as_str(), l)).collect();
    for l in &links {
        let on_ours = l.master.as_deref().is_some_and(|m| our_bridges.contains_key(m));
        if l.name.starts_with("tap") && on_ours && !taps.contains(&l.name) {
            match host::link_delete(None, &l.name).await {
                Ok(()) => removed.push(l.name.clone()),
                Err(e) => fail(l.name.clone(), e),
            }
        }
    }
    for name in our_bridges.keys() {
        if !bridges.contains(*name) {
            match host::link_delete(None, name).await {
                Ok(()) => removed.push((*name).to_owned()),
                Err(e) => fail((*name).to_owned(), e),
            }
        }
    }
    if !removed.is_empty() {
        tracing::info!(removed = ?removed, "stale data plane removed");
    }
    report.removed = removed;
}

async fn send_status(inner: &Inner, report: &PassReport) {
    if report.up.is_empty() && report.down.is_empty() && report.routers_up.is_empty() && report.routers_down.is_empty()
    {
        return;
    }
    let update = PortStatusUpdate {
        host: inner.config.host.clone(),
        up: report.up.clone(),
        down: report.down.clone(),
        routers_up: report.routers_up.clone(),
        routers_down: report.routers_down.clone(),
    };
    if let Err(e) = inner.bus.cast(rpc::SERVICE_TOPIC, "update_port_status", &update).await {
        tracing::warn!(error = %e, "cannot report port status");
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_state_dir_others_cannot_reach_is_found() {
        let top = tempfile::tempdir().unwrap();
        let state = top.path().join("a").join("b");
        std::fs::create_dir_all(&state).unwrap();
        for d in [top.path().to_path_buf(), top.path().join("a"), state.clone()] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        // Whatever is above the temp dir (e.g. /tmp) is traversable.
        assert_eq!(closed_dir(&state), None);
        std::fs::set_permissions(top.path().join("a"), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(closed_dir(&state), Some(top.path().join("a")));
    }
}
