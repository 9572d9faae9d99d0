//! Network: the Neutron v2.0 API core — networks, subnets, ports,
//! security groups and their rules, quotas and tags — and its L3 API —
//! routers (gateways, SNAT mode, interfaces, extra routes) and floating
//! IPs — with the network IP availability report, kept in its own
//! database. It is the control plane only: nothing here touches a bridge,
//! a namespace, NAT or dnsmasq (that is the network agent's job,
//! DESIGN.md §5); ports and floating IPs stay `DOWN` until an agent
//! reports them up.
//!
//! Where it sits: port 9696, controller role, catalog type `network`.
//! Callers: the compute service (ports for servers, over REST), the
//! `openstack` CLI and openstacksdk, tempest; network agents over the bus
//! ([`Network::serve_agents`]). Callees: identity, in process, for token
//! validation; agents, with a `state_changed` fanout.
//!
//! The rooms, in the order of a request:
//! - `api/` — the route table ([`Network::router`]), the version and
//!   extension documents, request parsing with Neutron's attribute rules
//!   (unknown attributes, read-only attributes, types → 400) and the list
//!   machinery every collection shares (filters, `fields`, sorting,
//!   marker/limit pagination with `*_links`);
//! - [`policy`] — Neutron's default rules, fed to the `policy` crate;
//! - domain logic: [`networks`] (segments: VXLAN VNIs, flat and local
//!   networks, MTU), [`subnets`] (CIDRs, gateways, allocation pools),
//!   [`ports`] (MACs, fixed IPs, bindings, port security),
//!   [`security_groups`] (per-project `default` groups and rules),
//!   [`routers`] (gateway ports, interface ports, routes),
//!   [`floating_ips`] (addresses of external networks and the router that
//!   reaches their fixed address), [`ip_availability`], [`quotas`],
//!   [`tags`]; [`ip`] holds the address arithmetic;
//! - [`rpc`] — the RPC server agents call on the bus (topic `network`:
//!   each host's desired state, DHCP ports, heartbeats, port status) and
//!   the `state_changed` notice after data-plane writes; [`agents`] — the
//!   agents table behind `/v2.0/agents`;
//! - `db/` — the tables and every SQL statement, on SQLite, PostgreSQL or
//!   MySQL.
//!
//! Why this shape: IP addresses are handed out race-free on every backend.
//! A port's addresses are allocated in one transaction that first takes
//! its network's allocation lock (an `UPDATE` of the network row, which
//! serializes writers on PostgreSQL and MySQL; SQLite has one writer
//! anyway) and then reads the free addresses; a unique key on
//! `(subnet_id, ip_address)` backs this up, and a write that loses a race
//! on it (or on a MAC or a VNI) is rolled back and retried.
//!
//! Decisions where Neutron leaves room, and what is not offered: list
//! filters, sorting and pagination are applied to the caller's visible
//! rows in memory (Neutron's "emulated" helpers; fine for a cloud of
//! thousands of ports, not for a hyperscaler); bulk creation
//! (`{"networks": [...]}`, for networks, subnets and ports) is emulated as
//! Neutron's emulated bulk is: one creation after the other, those made
//! deleted again when one fails; subnets of external networks are
//! readable by every project and say `router:external`
//! (`subnet-external-network`); deleting an external network deletes its
//! floating IPs; subnet pools, RBAC
//! policies, address scopes, DHCP options, DNS integration (no `dns_*`
//! on floating IPs) and availability zones are not offered; a gateway
//! outside the subnet's CIDR is accepted, as Neutron accepts it; adding a
//! SLAAC subnet does not give existing ports an address on it. Bound
//! ports (`binding:host_id` set) get the Linux-bridge binding (`vif_type`
//! `bridge`) for `normal` VNICs and `binding_failed` for the others.
//!
//! L3, offered: `router`, `ext-gw-mode`, `extraroute` and
//! `network-ip-availability`, with quotas for routers and floating IPs
//! and tags on both. Not offered: HA and distributed routers (`l3-ha`,
//! `dvr`: `ha` and `distributed` are shown to admins, always false, and
//! refused in requests), router flavors and availability zones
//! (`flavor_id` null, zone lists empty), the atomic route actions
//! (`extraroute-atomic`), several gateways per router, floating IP port
//! details, port forwardings and QoS. A router's gateway changing its
//! addresses on the same network gets a new port (Neutron updates the
//! port in place; what clients see, the addresses, is the same). A
//! subnet's `gateway_ip` may still be changed while a router interface
//! holds the old address (Neutron refuses it). There is no per-router
//! limit on extra routes (Neutron's `router_route` quota).

pub mod agents;
pub mod api;
pub mod config;
pub(crate) mod db;
pub mod error;
pub mod floating_ips;
pub mod ip;
pub mod ip_availability;
pub mod networks;
pub mod policy;
pub mod ports;
pub mod quotas;
pub mod routers;
pub mod rpc;
pub mod security_groups;
pub mod subnets;
pub mod tags;

use std::sync::Arc;

pub use config::NetworkConfig;
pub use error::{NetworkError, Result};

/// The running network service; cheap to clone.
#[derive(Clone)]
pub struct Network(Arc<Inner>);

pub struct Inner {
    pub config: NetworkConfig,
    pub db: store::Db,
    pub policy: ::policy::Policy,
    pub auth: ::api::TokenAuth,
    pub agent_link: rpc::AgentLink,
}

impl std::ops::Deref for Network {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database")]
    Store(#[from] store::StoreError),
    #[error("policy")]
    Policy(#[from] ::policy::PolicyError),
}

/// Who asks, as the domain needs to know it: the project whose resources
/// are created and seen, and whether every project's resources are
/// visible (admins and services).
#[derive(Clone, Debug)]
pub struct Caller {
    pub project_id: String,
    pub all_projects: bool,
}

impl Caller {
    /// Whether a resource of `owner` is the caller's to see without
    /// sharing.
    pub fn owns(&self, owner: &str) -> bool {
        self.all_projects || self.project_id == owner
    }

    /// The service itself, acting for no project: how the L3 code makes
    /// and removes the ports of routers and floating IPs (Neutron's
    /// `context.elevated()`).
    pub fn service() -> Caller {
        Caller {
            project_id: String::new(),
            all_projects: true,
        }
    }
}

impl Network {
    /// Opens the database (migrating it) and the policy. `auth` validates
    /// tokens.
    pub async fn start(config: NetworkConfig, db: store::Db, auth: ::api::TokenAuth) -> Result<Network, StartError> {
        db::migrate(&db).await?;
        let policy = policy::build(config.policy_file.as_deref())?;
        Ok(Network(Arc::new(Inner {
            config,
            db,
            policy,
            auth,
            agent_link: rpc::AgentLink::default(),
        })))
    }

    /// The public base URL, e.g. `http://127.0.0.1:9696`.
    pub fn base_url(&self) -> &str {
        self.config.public_url.trim_end_matches('/')
    }

    /// A pooled connection for reads.
    pub(crate) async fn reader(&self) -> Result<store::sqlx::pool::PoolConnection<store::sqlx::Any>> {
        Ok(self.db.reader().acquire().await?)
    }

    /// A transaction on the write pool.
    pub(crate) async fn begin(&self) -> Result<store::sqlx::Transaction<'static, store::sqlx::Any>> {
        Ok(self.db.writer().begin().await?)
    }
}

/// Runs `attempt` until it succeeds or fails for a reason that another try
/// would not change; at most twenty tries, with a growing, jittered pause.
pub(crate) async fn with_retries<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut tries = 0u64;
    loop {
        match attempt().await {
            Err(e) if e.is_retryable() && tries < 20 => {
                tries += 1;
                tracing::debug!(error = %e, tries, "retrying a transaction");
                let jitter = rand::random::<u64>() % 7;
                tokio::time::sleep(std::time::Duration::from_millis(tries * 2 + jitter)).await;
            }
            other => return other,
        }
    }
}

/// Applies this service's database migrations (`oxistack manage db-sync`).
pub async fn migrate(db: &store::Db) -> Result<(), store::StoreError> {
    db::migrate(db).await
}
