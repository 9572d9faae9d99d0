//! Servers on Neutron networks: what Nova's `nova.network.neutron.API`
//! does for the compute service — check the networks and ports a create
//! asks for, create (or take over) one port per request once the host is
//! chosen and bind it there, keep the instance's network info cache, and
//! give the ports back when the server goes.
//!
//! Without a network service (`ComputeConfig::network_url` unset) none of
//! this runs: `networks` is only checked for shape and a server has no
//! ports.
//!
//! The network info cache (`instance_info_caches`) is a list of VIFs in
//! the shape of Nova's network model (`nova/network/model.py`), which is
//! also what the agent gets in `InstanceSpec::network_info`:
//!
//! ```json
//! {"id": "<port id>", "address": "fa:16:3e:…", "type": "bridge",
//!  "devname": "tap<port id[..11]>", "vnic_type": "normal", "active": false,
//!  "details": {…binding:vif_details}, "preserve_on_delete": false,
//!  "network": {"id": "…", "label": "<network name>", "bridge": "brq…",
//!    "meta": {"tenant_id": "…", "mtu": 1500},
//!    "subnets": [{"cidr": "10.0.0.0/24", "version": 4, "meta": {"enable_dhcp": true},
//!      "gateway": {"address": "10.0.0.1", "type": "gateway", "version": 4},
//!      "dns": [{"address": "…", "type": "dns", "version": 4}],
//!      "ips": [{"address": "10.0.0.5", "type": "fixed", "version": 4,
//!        "floating_ips": [{"address": "…", "type": "floating", "version": 4}]}]}]}}
//! ```
//!
//! plus `pending: "attach" | "detach"` while an interface attach or
//! detach is with the agent (a VIF being detached is no longer given to
//! the agent; one whose attach failed is removed).
//!
//! `preserve_on_delete` marks ports the user handed over (`networks:
//! [{"port": …}]`, `os-interface` with a `port_id`): they are unbound when
//! the server goes, the others deleted.
//!
//! Decisions where Nova leaves room:
//! - Ports are made by the conductor once the scheduler has chosen the
//!   host (Nova makes them on the compute host), with the user's token,
//!   then bound (`binding:host_id`) with the service's; a build
//!   re-scheduled to another host re-binds the same ports, and a build
//!   started again finds the ports it made by their `device_id`.
//! - A show refreshes the cache from Neutron (the ports and their floating
//!   IPs, read together), so a floating IP appears at once; listings use
//!   the cache. A refresh only updates the VIFs the cache has.

use std::collections::{BTreeMap, HashSet};

use compute_agent::rpc::RequestContext;
use serde_json::{Map, Value, json};

use crate::Compute;
use crate::db;
use crate::db::servers::InstanceRow;
use crate::error::{ComputeError, Result};
use crate::network_client::{As, NetworkClient, Refusal};
use crate::servers::Caller;

/// The network service, or the 400 a request needing it gets.
fn client(c: &Compute) -> Result<&NetworkClient> {
    c.network
        .as_ref()
        .ok_or_else(|| ComputeError::bad("This cloud has no network service."))
}

/// One entry of a create's `networks` list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetRequest {
    pub network_id: Option<String>,
    pub port_id: Option<String>,
    pub fixed_ip: Option<String>,
    pub tag: Option<String>,
}

/// What a create asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Requested {
    /// No `networks` (before 2.37), or an empty list: the project's only
    /// network, if it has one.
    Default,
    /// `"auto"`: the project's only network; there is no auto-allocated
    /// topology to make one.
    Auto,
    /// `"none"`.
    Nothing,
    List(Vec<NetRequest>),
}

impl Requested {
    /// Parses the `networks` of a create as Nova's
    /// `_get_requested_networks` does (shape errors are 400s).
    pub fn parse(networks: Option<&Value>) -> Result<Requested> {
        let items = match networks {
            None | Some(Value::Null) => return Ok(Requested::Default),
            Some(Value::String(s)) if s == "auto" => return Ok(Requested::Auto),
            Some(Value::String(s)) if s == "none" => return Ok(Requested::Nothing),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(ComputeError::bad("Bad networks format")),
        };
        if items.is_empty() {
            return Ok(Requested::Default);
        }
        let mut out = Vec::new();
        for n in items {
            let Value::Object(o) = n else {
                return Err(ComputeError::bad("Bad networks format"));
            };
            let text = |k: &str| {
                o.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let mut r = NetRequest {
                fixed_ip: text("fixed_ip"),
                port_id: text("port"),
                tag: text("tag"),
                network_id: None,
            };
            if let Some(port) = &r.port_id {
                if let Some(addr) = &r.fixed_ip {
                    return Err(ComputeError::bad(format!(
                        "Specified Fixed IP '{addr}' cannot be used with port '{port}': the two cannot be specified together."
                    )));
                }
            } else {
                match o.get("uuid") {
                    None => return Err(ComputeError::bad("Bad network format: missing 'uuid'")),
                    Some(u) => {
                        let id = u.as_str().unwrap_or_default();
                        if uuid::Uuid::parse_str(id).is_err() {
                            return Err(ComputeError::bad(format!(
                                "Bad networks format: network uuid is not in proper format ({id})"
                            )));
                        }
                        r.network_id = Some(id.to_owned());
                    }
                }
            }
            if let Some(addr) = &r.fixed_ip
                && addr.parse::<std::net::IpAddr>().is_err()
            {
                return Err(ComputeError::bad(format!("Invalid fixed IP address ({addr})")));
            }
            out.push(r);
        }
        Ok(Requested::List(out))
    }

    /// The request stored with an instance (`instances.networks`).
    pub fn of_row(row: &InstanceRow) -> Requested {
        let v = row
            .networks
            .as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        Requested::parse(v.as_ref()).unwrap_or(Requested::Default)
    }
}

/// The VIFs the agent plugs: the cache without those being detached.
pub fn plugged(network_info: &[Value]) -> Vec<Value> {
    network_info
        .iter()
        .filter(|v| v["pending"] != "detach")
        .cloned()
        .collect()
}

fn ip_version(addr: &str) -> u8 {
    if addr.contains(':') { 6 } else { 4 }
}

/// Nova's `addresses`: per network name, each fixed then floating address
/// of each VIF with its MAC.
pub fn addresses(network_info: &[Value]) -> Value {
    let mut out: Map<String, Value> = Map::new();
    for vif in network_info {
        let label = vif["network"]["label"].as_str().unwrap_or_default().to_owned();
        let mac = vif["address"].clone();
        let mut fixed = Vec::new();
        let mut floating = Vec::new();
        for subnet in vif["network"]["subnets"].as_array().into_iter().flatten() {
            for ip in subnet["ips"].as_array().into_iter().flatten() {
                fixed.push(json!({"version": ip["version"], "addr": ip["address"],
                    "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": mac}));
                for f in ip["floating_ips"].as_array().into_iter().flatten() {
                    floating.push(json!({"version": f["version"], "addr": f["address"],
                        "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": mac}));
                }
            }
        }
        let list = out.entry(label).or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.extend(fixed);
            a.extend(floating);
        }
    }
    Value::Object(out)
}

/// Nova's `ip`/`ip6` list filters: a fixed address of that version that
/// the regular expression matches from its start.
pub fn has_fixed_ip(network_info: &[Value], v4: Option<&regex::Regex>, v6: Option<&regex::Regex>) -> bool {
    network_info.iter().any(|vif| {
        vif["network"]["subnets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["ips"].as_array().into_iter().flatten())
            .any(|ip| {
                let addr = ip["address"].as_str().unwrap_or_default();
                let re = if ip_version(addr) == 4 { v4 } else { v6 };
                re.is_some_and(|re| re.find(addr).is_some_and(|m| m.start() == 0))
            })
    })
}

/// The `interfaceAttachment` view of a port (`os-interface`).
pub fn interface_attachment(port: &Value) -> Value {
    let fixed: Vec<Value> = port["fixed_ips"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| json!({"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}))
        .collect();
    json!({
        "net_id": port["network_id"],
        "port_id": port["id"],
        "mac_addr": port["mac_address"],
        "port_state": port["status"],
        "fixed_ips": fixed,
    })
}

/// A subnet as a VIF carries it (without its `ips`), from Neutron's.
fn subnet_entry(s: &Value) -> Value {
    let version = s["ip_version"].as_u64().unwrap_or(4);
    let gateway = match s["gateway_ip"].as_str() {
        Some(g) => json!({"address": g, "type": "gateway", "version": version}),
        None => Value::Null,
    };
    let dns: Vec<Value> = s["dns_nameservers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| json!({"address": d, "type": "dns", "version": version}))
        .collect();
    let routes: Vec<Value> = s["host_routes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| json!({"cidr": r["destination"], "gateway": {"address": r["nexthop"], "type": "gateway"}}))
        .collect();
    json!({"id": s["id"], "cidr": s["cidr"], "version": version, "gateway": gateway, "dns": dns,
           "routes": routes, "meta": {"enable_dhcp": s["enable_dhcp"]}})
}

fn short(id: &str) -> String {
    id.chars().take(11).collect()
}

/// A network as a VIF carries it (without its `subnets`), from Neutron's.
fn network_entry(n: &Value) -> Value {
    let id = n["id"].as_str().unwrap_or_default();
    json!({"id": id, "label": n["name"], "bridge": format!("brq{}", short(id)),
           "meta": {"tenant_id": n["project_id"], "mtu": n["mtu"]}})
}

/// A VIF of `port` on its network (`network`, from [`network_entry`]) with
/// its subnets (by id, from [`subnet_entry`]) and the floating addresses
/// of its fixed ones (`(fixed, floating)`).
fn vif(
    port: &Value,
    network: &Value,
    subnets: &BTreeMap<String, Value>,
    floating: &[(String, String)],
    preserve: bool,
) -> Value {
    let id = port["id"].as_str().unwrap_or_default();
    let mut by_subnet: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for f in port["fixed_ips"].as_array().into_iter().flatten() {
        let addr = f["ip_address"].as_str().unwrap_or_default();
        let floats: Vec<Value> = floating
            .iter()
            .filter(|(fixed, _)| fixed == addr)
            .map(|(_, fip)| json!({"address": fip, "type": "floating", "version": ip_version(fip)}))
            .collect();
        by_subnet
            .entry(f["subnet_id"].as_str().unwrap_or_default().to_owned())
            .or_default()
            .push(json!({"address": addr, "type": "fixed", "version": ip_version(addr), "floating_ips": floats}));
    }
    let subnets: Vec<Value> = by_subnet
        .into_iter()
        .map(|(sid, ips)| {
            let mut entry = subnets.get(&sid).cloned().unwrap_or_else(|| json!({"id": sid}));
            entry["ips"] = json!(ips);
            entry
        })
        .collect();
    let mut network = network.clone();
    network["id"] = port["network_id"].clone();
    network["subnets"] = json!(subnets);
    json!({
        "id": id,
        "address": port["mac_address"],
        "type": port.get("binding:vif_type").cloned().unwrap_or(json!("bridge")),
        "details": port.get("binding:vif_details").cloned().unwrap_or(json!({})),
        "devname": format!("tap{}", short(id)),
        "vnic_type": port.get("binding:vnic_type").cloned().unwrap_or(json!("normal")),
        "active": port["status"] == "ACTIVE",
        "preserve_on_delete": preserve,
        "network": network,
    })
}

/// `(fixed, floating)` address pairs of `port` among `fips`.
fn floating_of(port: &Value, fips: &[Value]) -> Vec<(String, String)> {
    fips.iter()
        .filter(|f| f["port_id"] == port["id"])
        .filter_map(|f| {
            Some((
                f["fixed_ip_address"].as_str()?.to_owned(),
                f["floating_ip_address"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn id_of(v: &Value) -> &str {
    v["id"].as_str().unwrap_or_default()
}

fn neutron_error(what: &str, r: &Refusal) -> ComputeError {
    ComputeError::Upstream(format!(
        "network service: {what}: {} {}: {}",
        r.status, r.kind, r.message
    ))
}

impl Compute {
    /// Networks the project may boot on without naming one (Nova's
    /// `_get_available_networks`): its own unshared ones, then the shared
    /// ones.
    async fn available_networks(&self, who: As<'_>, project_id: &str) -> Result<Vec<Value>> {
        let n = client(self)?;
        let mut nets = n
            .list(
                who,
                "networks",
                &[("project_id", project_id.to_owned()), ("shared", "false".to_owned())],
            )
            .await?;
        nets.extend(n.list(who, "networks", &[("shared", "true".to_owned())]).await?);
        Ok(nets)
    }

    /// Checks the networks and ports a create asks for, as Nova's
    /// `validate_networks`; nothing is made yet.
    pub async fn validate_networks(&self, caller: &Caller, networks: Option<&Value>, max_count: i64) -> Result<()> {
        let Some(n) = self.network.as_ref() else {
            return Ok(());
        };
        let requested = Requested::parse(networks)?;
        let who = As::User(&caller.auth.token);
        match requested {
            Requested::Nothing => Ok(()),
            Requested::Default | Requested::Auto => {
                let nets = self.available_networks(who, caller.project_id()).await?;
                if nets.len() > 1 {
                    return Err(ComputeError::conflict(
                        "More than one possible network found. Specify network ID(s) to select which one(s) to connect to.",
                    ));
                }
                if nets.is_empty() && requested == Requested::Auto {
                    return Err(ComputeError::bad(format!(
                        "Unable to automatically allocate a network for project {}",
                        caller.project_id()
                    )));
                }
                Ok(())
            }
            Requested::List(list) => {
                let mut wanted: Vec<String> = Vec::new();
                for r in &list {
                    if let Some(port_id) = &r.port_id {
                        if max_count > 1 {
                            return Err(ComputeError::bad(
                                "Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.",
                            ));
                        }
                        let Some(port) = n.show_port(who, port_id).await? else {
                            return Err(ComputeError::bad(format!("Port id {port_id} could not be found.")));
                        };
                        if port["device_id"].as_str().is_some_and(|d| !d.is_empty()) {
                            return Err(ComputeError::conflict(format!("Port {port_id} is still in use.")));
                        }
                        if port["fixed_ips"].as_array().is_none_or(Vec::is_empty) {
                            return Err(ComputeError::bad(format!(
                                "Port {port_id} requires a FixedIP in order to be used."
                            )));
                        }
                        continue;
                    }
                    let Some(net) = &r.network_id else { continue };
                    if let Some(addr) = &r.fixed_ip {
                        if max_count > 1 {
                            return Err(ComputeError::bad(
                                "max_count cannot be greater than 1 if an fixed_ip is specified.",
                            ));
                        }
                        let used = n
                            .list(
                                who,
                                "ports",
                                &[("network_id", net.clone()), ("fixed_ips", format!("ip_address={addr}"))],
                            )
                            .await?;
                        if let Some(p) = used.first() {
                            return Err(ComputeError::bad(format!(
                                "Fixed IP address {addr} is already in use on instance {}.",
                                p["device_id"].as_str().unwrap_or_default()
                            )));
                        }
                    }
                    if !wanted.contains(net) {
                        wanted.push(net.clone());
                    }
                }
                if wanted.is_empty() {
                    return Ok(());
                }
                let query: Vec<(&str, String)> = wanted.iter().map(|id| ("id", id.clone())).collect();
                let nets = n.list(who, "networks", &query).await?;
                let found: HashSet<&str> = nets.iter().map(id_of).collect();
                let lost: Vec<&str> = wanted
                    .iter()
                    .map(String::as_str)
                    .filter(|id| !found.contains(id))
                    .collect();
                if !lost.is_empty() {
                    return Err(ComputeError::bad(format!(
                        "Network {} could not be found.",
                        lost.join(", ")
                    )));
                }
                for net in &nets {
                    if net["subnets"].as_array().is_none_or(Vec::is_empty) {
                        return Err(ComputeError::bad(format!(
                            "Network {} requires a subnet in order to boot instances on.",
                            id_of(net)
                        )));
                    }
                }
                Ok(())
            }
        }
    }

    /// Makes the instance's ports (or takes over the user's) and binds
    /// them to `host`; returns the VIFs, also written to the cache.
    /// Idempotent: ports it made before (a build started again, or
    /// re-scheduled) are found by `device_id` and re-bound.
    pub async fn allocate_networks(&self, row: &InstanceRow, host: &str, ctx: &RequestContext) -> Result<Vec<Value>> {
        let Some(n) = self.network.as_ref() else {
            return Ok(Vec::new());
        };
        let who = match &ctx.token {
            Some(t) => As::User(t),
            None => As::Service,
        };
        let requests: Vec<NetRequest> = match Requested::of_row(row) {
            Requested::Nothing => Vec::new(),
            Requested::Default | Requested::Auto => {
                let nets = self.available_networks(who, &row.project_id).await?;
                match nets.as_slice() {
                    [] => Vec::new(),
                    [one] => vec![NetRequest {
                        network_id: Some(id_of(one).to_owned()),
                        ..Default::default()
                    }],
                    _ => {
                        return Err(ComputeError::conflict(
                            "More than one possible network found. Specify network ID(s) to select which one(s) to connect to.",
                        ));
                    }
                }
            }
            Requested::List(l) => l,
        };
        let az = row
            .availability_zone
            .clone()
            .unwrap_or_else(|| self.config.default_availability_zone.clone());
        let owner = format!("compute:{az}");
        let mut existing = n.list(As::Service, "ports", &[("device_id", row.uuid.clone())]).await?;
        let cached: BTreeMap<String, bool> = db::info_cache::get(&self.db, &row.uuid)
            .await?
            .iter()
            .map(|v| (id_of(v).to_owned(), v["preserve_on_delete"] == true))
            .collect();
        let bind = json!({"device_id": row.uuid, "device_owner": owner, "binding:host_id": host});
        let mut ports: Vec<(Value, bool)> = Vec::new();
        for r in &requests {
            let (port_id, preserve) = if let Some(id) = &r.port_id {
                (id.clone(), true)
            } else {
                let net = r.network_id.clone().unwrap_or_default();
                let reuse = existing
                    .iter()
                    .position(|p| p["network_id"] == net.as_str() && !cached.get(id_of(p)).copied().unwrap_or(false));
                match reuse {
                    Some(i) => (id_of(&existing.remove(i)).to_owned(), false),
                    None => {
                        let mut body = json!({"network_id": net, "admin_state_up": true,
                            "device_id": row.uuid, "device_owner": owner});
                        if let Some(addr) = &r.fixed_ip {
                            body["fixed_ips"] = json!([{"ip_address": addr}]);
                        }
                        if matches!(who, As::Service) {
                            body["project_id"] = json!(row.project_id);
                        }
                        let port = n.create_port(who, body).await?.map_err(|e| {
                            ComputeError::bad(format!("Creating a port on network {net} failed: {}", e.message))
                        })?;
                        tracing::info!(instance = %row.uuid, port = %id_of(&port), network = %net, "port created");
                        let id = id_of(&port).to_owned();
                        // Recorded at once, so that a failure from here on
                        // still deletes it with the server.
                        self.cache_note(&row.uuid, &id).await?;
                        (id, false)
                    }
                }
            };
            existing.retain(|p| id_of(p) != port_id);
            let port = n
                .update_port(&port_id, bind.clone())
                .await?
                .map_err(|e| neutron_error(&format!("binding port {port_id} to {host}"), &e))?;
            tracing::info!(instance = %row.uuid, port = %port_id, host, "port bound");
            ports.push((port, preserve));
        }
        self.cache_put(&row.uuid, &ports).await?;
        db::info_cache::get(&self.db, &row.uuid).await
    }

    /// Writes VIFs of `ports` (with their preserve flags) into the cache,
    /// replacing those of the same ports and keeping the others.
    async fn cache_put(&self, uuid: &str, ports: &[(Value, bool)]) -> Result<()> {
        let vifs = self.vifs(ports).await?;
        let _one = self.network_cache_lock.lock().await;
        let mut cache = db::info_cache::get(&self.db, uuid).await?;
        for v in vifs {
            match cache.iter_mut().find(|c| id_of(c) == id_of(&v)) {
                Some(c) => {
                    let pending = c.get("pending").cloned();
                    *c = v;
                    if let Some(p) = pending {
                        c["pending"] = p;
                    }
                }
                None => cache.push(v),
            }
        }
        db::info_cache::set(&self.db, uuid, &cache, db::now()).await
    }

    /// Notes a port the instance made in the cache (a bare VIF, filled
    /// in once the port is bound).
    async fn cache_note(&self, uuid: &str, port_id: &str) -> Result<()> {
        let _one = self.network_cache_lock.lock().await;
        let mut cache = db::info_cache::get(&self.db, uuid).await?;
        if !cache.iter().any(|c| id_of(c) == port_id) {
            cache.push(json!({"id": port_id, "preserve_on_delete": false, "network": {"subnets": []}}));
        }
        db::info_cache::set(&self.db, uuid, &cache, db::now()).await
    }

    /// VIFs of ports, with their networks, subnets and floating IPs read
    /// from the network service.
    async fn vifs(&self, ports: &[(Value, bool)]) -> Result<Vec<Value>> {
        if ports.is_empty() {
            return Ok(Vec::new());
        }
        let n = client(self)?;
        let mut net_ids: Vec<(&str, String)> = Vec::new();
        let mut subnet_ids: Vec<(&str, String)> = Vec::new();
        let mut port_ids: Vec<(&str, String)> = Vec::new();
        for (p, _) in ports {
            let net = ("id", p["network_id"].as_str().unwrap_or_default().to_owned());
            if !net_ids.contains(&net) {
                net_ids.push(net);
            }
            for f in p["fixed_ips"].as_array().into_iter().flatten() {
                let s = ("id", f["subnet_id"].as_str().unwrap_or_default().to_owned());
                if !subnet_ids.contains(&s) {
                    subnet_ids.push(s);
                }
            }
            port_ids.push(("port_id", id_of(p).to_owned()));
        }
        let (nets, subnets, fips) = tokio::join!(
            n.list(As::Service, "networks", &net_ids),
            async {
                if subnet_ids.is_empty() {
                    Ok(Vec::new())
                } else {
                    n.list(As::Service, "subnets", &subnet_ids).await
                }
            },
            n.list(As::Service, "floatingips", &port_ids),
        );
        let nets: BTreeMap<String, Value> = nets?.iter().map(|v| (id_of(v).to_owned(), network_entry(v))).collect();
        let subnets: BTreeMap<String, Value> = subnets?
            .iter()
            .map(|v| (id_of(v).to_owned(), subnet_entry(v)))
            .collect();
        let fips = fips?;
        Ok(ports
            .iter()
            .map(|(p, preserve)| {
                let net = nets
                    .get(p["network_id"].as_str().unwrap_or_default())
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                vif(p, &net, &subnets, &floating_of(p, &fips), *preserve)
            })
            .collect())
    }

    /// The cache brought up to date with the network service (addresses,
    /// floating IPs, port status) for the VIFs it has; the cache as it
    /// was when the network service cannot be asked.
    pub async fn refresh_network_info(&self, row: &InstanceRow) -> Vec<Value> {
        if self.network.is_none() || row.network_info.is_empty() {
            return row.network_info.clone();
        }
        match self.try_refresh(row).await {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(instance = %row.uuid, error = %e, "cannot refresh the network info cache; showing it as it was");
                row.network_info.clone()
            }
        }
    }

    /// Nova's refresh on a `network-changed` event (its
    /// `refresh_vif_id`): the cache brought up to date, and the event's
    /// port added when it is the instance's but not cached yet (made for
    /// it behind compute's back; kept on the instance's delete, as a
    /// user's port).
    pub(crate) async fn network_changed(&self, row: &InstanceRow, port_id: Option<&str>) -> Result<()> {
        if let (Some(id), Some(n)) = (port_id, self.network.as_ref())
            && !row.network_info.iter().any(|v| id_of(v) == id)
            && let Some(port) = n.show_port(As::Service, id).await?
            && port["device_id"] == row.uuid.as_str()
        {
            tracing::info!(instance = %row.uuid, port = %id, "network-changed for a port not cached; adding it");
            self.cache_put(&row.uuid, &[(port, true)]).await?;
        }
        self.refresh_network_info(row).await;
        Ok(())
    }

    async fn try_refresh(&self, row: &InstanceRow) -> Result<Vec<Value>> {
        let n = client(self)?;
        let ids: Vec<(&str, String)> = row.network_info.iter().map(|v| ("id", id_of(v).to_owned())).collect();
        let port_ids: Vec<(&str, String)> = ids.iter().map(|(_, id)| ("port_id", id.clone())).collect();
        // One round trip: the ports and their floating IPs together; the
        // networks and subnets are those the cache already has.
        let (ports, fips) = tokio::join!(
            n.list(As::Service, "ports", &ids),
            n.list(As::Service, "floatingips", &port_ids)
        );
        let (ports, fips) = (ports?, fips?);
        let mut nets: BTreeMap<String, Value> = BTreeMap::new();
        let mut subnets: BTreeMap<String, Value> = BTreeMap::new();
        for v in &row.network_info {
            let mut net = v["network"].clone();
            if let Some(list) = net.as_object_mut().and_then(|o| o.remove("subnets")) {
                for mut sub in list.as_array().cloned().unwrap_or_default() {
                    if let Some(o) = sub.as_object_mut() {
                        o.remove("ips");
                    }
                    subnets.insert(id_of(&sub).to_owned(), sub);
                }
            }
            nets.insert(id_of(&net).to_owned(), net);
        }
        let mut fresh = Vec::new();
        let mut unknown = Vec::new();
        for p in ports.into_iter().filter(|p| p["device_id"] == row.uuid.as_str()) {
            let keep = row
                .network_info
                .iter()
                .any(|v| id_of(v) == id_of(&p) && v["preserve_on_delete"] == true);
            let net = nets.get(p["network_id"].as_str().unwrap_or_default());
            let known_subnets = p["fixed_ips"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|f| subnets.contains_key(f["subnet_id"].as_str().unwrap_or_default()));
            match net {
                Some(net) if known_subnets && net.get("label").is_some() => {
                    fresh.push(vif(&p, net, &subnets, &floating_of(&p, &fips), keep))
                }
                _ => unknown.push((p, keep)),
            }
        }
        // Ports on a subnet or network the cache does not have yet.
        fresh.extend(self.vifs(&unknown).await?);
        let _one = self.network_cache_lock.lock().await;
        let mut cache = db::info_cache::get(&self.db, &row.uuid).await?;
        let mut changed = false;
        for c in cache.iter_mut() {
            if let Some(v) = fresh.iter().find(|v| id_of(v) == id_of(c)) {
                let mut v = v.clone();
                if let Some(p) = c.get("pending") {
                    v["pending"] = p.clone();
                }
                if *c != v {
                    *c = v;
                    changed = true;
                }
            }
        }
        if changed {
            db::info_cache::set(&self.db, &row.uuid, &cache, db::now()).await?;
        }
        Ok(cache)
    }

    /// Gives the instance's ports back: the ones it made are deleted, the
    /// user's unbound. Every port whose `device_id` is the instance is
    /// found, cached or not.
    pub async fn deallocate_networks(&self, uuid: &str) -> Result<()> {
        let Some(n) = self.network.as_ref() else {
            return Ok(());
        };
        let cache = db::info_cache::get(&self.db, uuid).await?;
        let mut ids: Vec<(String, bool)> = cache
            .iter()
            .map(|v| (id_of(v).to_owned(), v["preserve_on_delete"] == true))
            .collect();
        for p in n.list(As::Service, "ports", &[("device_id", uuid.to_owned())]).await? {
            if !ids.iter().any(|(id, _)| id == id_of(&p)) {
                ids.push((id_of(&p).to_owned(), false));
            }
        }
        for (id, preserve) in ids {
            self.release_port(uuid, &id, preserve).await?;
        }
        db::info_cache::set(&self.db, uuid, &[], db::now()).await
    }

    /// Clears the host binding of the instance's cached ports (they stay
    /// the instance's: a later build binds them again).
    pub async fn unbind_ports(&self, uuid: &str) -> Result<()> {
        let Some(n) = self.network.as_ref() else {
            return Ok(());
        };
        for v in db::info_cache::get(&self.db, uuid).await? {
            if let Err(e) = n.update_port(id_of(&v), json!({"binding:host_id": ""})).await?
                && e.status != 404
            {
                return Err(neutron_error(&format!("unbinding port {}", id_of(&v)), &e));
            }
        }
        Ok(())
    }

    /// Deletes a port the instance made, or unbinds a user's port that
    /// still names the instance.
    async fn release_port(&self, uuid: &str, port_id: &str, preserve: bool) -> Result<()> {
        let n = client(self)?;
        if !preserve {
            n.delete_port(port_id).await?;
            tracing::info!(instance = %uuid, port = %port_id, "port deleted");
            return Ok(());
        }
        match n.show_port(As::Service, port_id).await? {
            Some(p) if p["device_id"] == uuid => {
                let unbind = json!({"device_id": "", "device_owner": "", "binding:host_id": ""});
                n.update_port(port_id, unbind)
                    .await?
                    .map_err(|e| neutron_error(&format!("unbinding port {port_id}"), &e))?;
                tracing::info!(instance = %uuid, port = %port_id, "port unbound");
            }
            _ => {}
        }
        Ok(())
    }

    // ----- os-interface ---------------------------------------------

    /// Makes (or takes over) one port for an attach and binds it to the
    /// instance's host; the VIF goes into the cache marked `pending:
    /// attach` and is returned with the port.
    pub async fn allocate_interface(
        &self,
        caller: &Caller,
        row: &InstanceRow,
        network_id: Option<String>,
        port_id: Option<String>,
        fixed_ip: Option<String>,
    ) -> Result<(Value, Value)> {
        let n = client(self)?;
        let who = As::User(&caller.auth.token);
        let host = row.host.clone().unwrap_or_default();
        let az = row
            .availability_zone
            .clone()
            .unwrap_or_else(|| self.config.default_availability_zone.clone());
        let bind = json!({"device_id": row.uuid, "device_owner": format!("compute:{az}"), "binding:host_id": host});
        let (port_id, preserve) = match port_id {
            Some(id) => {
                let Some(port) = n.show_port(who, &id).await? else {
                    return Err(ComputeError::not_found(format!("Port id {id} could not be found.")));
                };
                if port["device_id"].as_str().is_some_and(|d| !d.is_empty()) {
                    return Err(ComputeError::conflict(format!("Port {id} is still in use.")));
                }
                (id, true)
            }
            None => {
                let net = match network_id {
                    Some(net) => {
                        let nets = n.list(who, "networks", &[("id", net.clone())]).await?;
                        if nets.is_empty() {
                            return Err(ComputeError::not_found(format!("Network {net} could not be found.")));
                        }
                        net
                    }
                    None => {
                        let nets = self.available_networks(who, &row.project_id).await?;
                        match nets.as_slice() {
                            [one] => id_of(one).to_owned(),
                            [] => {
                                return Err(ComputeError::bad(format!(
                                    "No network(s) configured for the project {}. Unable to attach an interface.",
                                    row.project_id
                                )));
                            }
                            _ => {
                                return Err(ComputeError::bad(
                                    "More than one possible network found. Specify network ID(s) to select which one(s) to connect to.",
                                ));
                            }
                        }
                    }
                };
                let mut body = json!({"network_id": net, "admin_state_up": true,
                    "device_id": row.uuid, "device_owner": format!("compute:{az}")});
                if let Some(addr) = &fixed_ip {
                    body["fixed_ips"] = json!([{"ip_address": addr}]);
                }
                let port = match n.create_port(who, body).await? {
                    Ok(p) => p,
                    Err(r) if r.kind == "IpAddressAlreadyAllocated" || r.status == 409 => {
                        return Err(ComputeError::conflict(r.message));
                    }
                    Err(r) if r.status == 404 => return Err(ComputeError::not_found(r.message)),
                    Err(r) => return Err(ComputeError::bad(r.message)),
                };
                (id_of(&port).to_owned(), false)
            }
        };
        let port = match n.update_port(&port_id, bind).await? {
            Ok(p) => p,
            Err(e) => {
                if !preserve {
                    let _ = n.delete_port(&port_id).await;
                }
                return Err(neutron_error(&format!("binding port {port_id}"), &e));
            }
        };
        let vif = self
            .vifs(&[(port.clone(), preserve)])
            .await?
            .pop()
            .unwrap_or(Value::Null);
        let mut marked = vif.clone();
        marked["pending"] = json!("attach");
        {
            let _one = self.network_cache_lock.lock().await;
            let mut cache = db::info_cache::get(&self.db, &row.uuid).await?;
            cache.retain(|c| id_of(c) != port_id);
            cache.push(marked);
            db::info_cache::set(&self.db, &row.uuid, &cache, db::now()).await?;
        }
        tracing::info!(instance = %row.uuid, port = %port_id, "interface allocated; attaching");
        Ok((port, vif))
    }

    /// Marks a cached VIF `pending: detach`; 404 when the instance has no
    /// such port.
    pub async fn mark_detaching(&self, row: &InstanceRow, port_id: &str) -> Result<()> {
        let _one = self.network_cache_lock.lock().await;
        let mut cache = db::info_cache::get(&self.db, &row.uuid).await?;
        let Some(v) = cache.iter_mut().find(|v| id_of(v) == port_id) else {
            return Err(ComputeError::not_found(format!("Port {port_id} is not attached")));
        };
        v["pending"] = json!("detach");
        db::info_cache::set(&self.db, &row.uuid, &cache, db::now()).await
    }

    /// The agent's word on an attach or detach: the pending VIFs are
    /// settled — a detached one (or one whose attach failed) leaves the
    /// cache and its port is given back; the others lose their mark.
    pub(crate) async fn interface_op_done(&self, uuid: &str, event: &str, success: bool) -> Result<()> {
        let op = match event {
            "compute_attach_interface" => "attach",
            "compute_detach_interface" => "detach",
            _ => return Ok(()),
        };
        let gone_ones = {
            let _one = self.network_cache_lock.lock().await;
            let mut cache = db::info_cache::get(&self.db, uuid).await?;
            let drop_it = |v: &Value| v["pending"] == op && (op == "detach") == success;
            let gone: Vec<(String, bool)> = cache
                .iter()
                .filter(|v| drop_it(v))
                .map(|v| (id_of(v).to_owned(), v["preserve_on_delete"] == true))
                .collect();
            cache.retain(|v| !drop_it(v));
            for v in cache.iter_mut() {
                if v["pending"] == op
                    && let Some(o) = v.as_object_mut()
                {
                    o.remove("pending");
                }
            }
            db::info_cache::set(&self.db, uuid, &cache, db::now()).await?;
            gone
        };
        for (id, preserve) in gone_ones {
            if let Err(e) = self.release_port(uuid, &id, preserve).await {
                tracing::error!(instance = %uuid, port = %id, error = %e, "cannot give the port back");
            }
        }
        Ok(())
    }
}
