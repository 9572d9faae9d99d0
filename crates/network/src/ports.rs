//! Ports: a MAC and addresses on a network, the security groups that
//! filter them, and where they are bound.
//!
//! Addresses are allocated under the network's allocation lock (see the
//! crate doc): the free addresses are read after the lock is taken, so
//! two creations on one network never pick the same one; the unique key
//! on `(subnet_id, ip_address)` and the retry are the safety net. Free
//! addresses are picked at random among the first free ones of the pools,
//! as Neutron does, which keeps the retries rare when the lock is not
//! there (an operator's replica without row locks).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use rand::seq::SliceRandom;
use serde_json::Value;

use crate::db::networks::NetworkRow;
use crate::db::ports::{self as q, PortRow};
use crate::db::subnets::SubnetRow;
use crate::db::{self, Conn};
use crate::error::{NetworkError, Result};
use crate::ip::{from_u128, parse_mac, to_u128};
use crate::{Caller, Network, floating_ips, networks, quotas, routers, security_groups, subnets, tags};

/// The VNIC types Neutron knows (`binding:vnic_type`).
pub const VNIC_TYPES: &[&str] = &[
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
    "accelerator-direct",
    "accelerator-direct-physical",
];

/// How many free addresses the random pick chooses among.
const PICK_WINDOW: usize = 16;

/// An allowed address pair as requested: an address or CIDR, and a MAC
/// (`None`: the port's own).
pub type RequestedPair = (String, Option<String>);

/// One entry of `fixed_ips` in a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedIpRequest {
    pub subnet_id: Option<String>,
    pub ip_address: Option<IpAddr>,
}

#[derive(Clone, Debug, Default)]
pub struct NewPort {
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub mac_address: Option<String>,
    pub admin_state_up: bool,
    pub device_id: String,
    pub device_owner: String,
    /// `None`: one address per IP version, as Neutron allocates by default.
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    /// `None`: the network's setting.
    pub port_security_enabled: Option<bool>,
    /// `None`: the project's `default` group when port security is on.
    pub security_groups: Option<Vec<String>>,
    pub allowed_address_pairs: Vec<RequestedPair>,
    pub binding_host_id: String,
    pub binding_vnic_type: String,
    pub binding_profile: Value,
    pub dns_name: String,
    /// `None`: `DOWN` until an agent reports the port up; the ports of
    /// floating IPs are `N/A`, as no agent ever will.
    pub status: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct PortChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub mac_address: Option<String>,
    pub admin_state_up: Option<bool>,
    pub device_id: Option<String>,
    pub device_owner: Option<String>,
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    pub port_security_enabled: Option<bool>,
    pub security_groups: Option<Vec<String>>,
    pub allowed_address_pairs: Option<Vec<RequestedPair>>,
    pub binding_host_id: Option<String>,
    pub binding_vnic_type: Option<String>,
    pub binding_profile: Option<Value>,
    pub dns_name: Option<String>,
}

/// The binding a port gets, as the Linux-bridge mechanism driver would
/// answer: `(vif_type, vif_details)`.
pub fn binding(p: &PortRow) -> (&'static str, Value) {
    if p.binding_host_id.is_empty() {
        ("unbound", serde_json::json!({}))
    } else if p.binding_vnic_type == "normal" {
        ("bridge", serde_json::json!({"connectivity": "l2", "port_filter": true}))
    } else {
        ("binding_failed", serde_json::json!({}))
    }
}

pub(crate) async fn load(n: &Network, c: &mut Conn, caller: &Caller, id: &str) -> Result<PortRow> {
    let Some(row) = q::get(&n.db, c, id).await? else {
        return Err(NetworkError::port_not_found(id));
    };
    if caller.owns(&row.project_id) {
        return Ok(row);
    }
    match db::networks::get(&n.db, c, &row.network_id).await? {
        Some(net) if caller.owns(&net.project_id) => Ok(row),
        _ => Err(NetworkError::port_not_found(id)),
    }
}

pub async fn get(n: &Network, caller: &Caller, id: &str) -> Result<PortRow> {
    let mut c = n.reader().await?;
    load(n, &mut c, caller, id).await
}

pub async fn list(n: &Network, caller: &Caller) -> Result<Vec<PortRow>> {
    let mut c = n.reader().await?;
    q::list(
        &n.db,
        &mut c,
        (!caller.all_projects).then_some(caller.project_id.as_str()),
    )
    .await
}

fn random_mac(base: [u8; 3]) -> String {
    let tail: [u8; 3] = rand::random();
    crate::ip::format_mac(&[base[0], base[1], base[2], tail[0], tail[1], tail[2]])
}

/// The addresses taken on a network, per subnet.
async fn taken_on(n: &Network, c: &mut Conn, network_id: &str) -> Result<HashMap<String, HashSet<u128>>> {
    let mut out: HashMap<String, HashSet<u128>> = HashMap::new();
    for (subnet, ip, _) in q::allocations_on_network(&n.db, c, network_id).await? {
        if let Ok(ip) = ip.parse::<IpAddr>() {
            out.entry(subnet).or_default().insert(to_u128(&ip));
        }
    }
    Ok(out)
}

/// A free address from a subnet's pools, or `None` when they are full.
fn pick_free(subnet: &SubnetRow, taken: &HashSet<u128>) -> Option<IpAddr> {
    let mut free = Vec::with_capacity(PICK_WINDOW);
    for pool in subnets::pools_of(subnet) {
        let mut a = pool.start;
        while a <= pool.end && free.len() < PICK_WINDOW {
            if !taken.contains(&a) {
                free.push(a);
            }
            if a == u128::MAX {
                break;
            }
            a += 1;
        }
        if free.len() >= PICK_WINDOW {
            break;
        }
    }
    free.choose(&mut rand::thread_rng())
        .map(|a| from_u128(*a, subnet.ip_version))
}

/// An address chosen for a port; `requested` when the client named it.
#[derive(Clone, Debug)]
struct Chosen {
    subnet_id: String,
    ip: IpAddr,
    requested: bool,
}

fn ip_in_use(ip: &IpAddr, subnet_id: &str) -> NetworkError {
    NetworkError::conflict(
        "IpAddressAlreadyAllocated",
        format!("IP address {ip} already allocated in subnet {subnet_id}"),
    )
}

fn exhausted(network_id: &str) -> NetworkError {
    NetworkError::conflict(
        "IpAddressGenerationFailure",
        format!("No more IP addresses available on network {network_id}."),
    )
}

/// Chooses the addresses of a port: the requested ones, checked, and free
/// ones where only a subnet (or nothing) is named. Without `requests`
/// (`fixed_ips` omitted), an IPv4 address from the first IPv4 subnet with
/// room, an EUI-64 address on every SLAAC subnet, and an IPv6 address from
/// the first other IPv6 subnet with room — Neutron's defaults. `keep` are
/// addresses the port already holds (on update) that stay its own.
fn allocate(
    network_id: &str,
    subnets: &[SubnetRow],
    taken: &mut HashMap<String, HashSet<u128>>,
    mac: &[u8; 6],
    requests: Option<&[FixedIpRequest]>,
    keep: &[(String, String)],
) -> Result<Vec<Chosen>> {
    let mut out = Vec::new();
    let eui64 = |s: &SubnetRow| subnets::cidr_of(s).eui64(mac);
    let Some(requests) = requests else {
        if subnets.iter().any(|s| s.ip_version == 4) {
            let pick = subnets
                .iter()
                .filter(|s| s.ip_version == 4)
                .find_map(|s| pick_free(s, taken.entry(s.id.clone()).or_default()).map(|ip| (s, ip)));
            let Some((s, ip)) = pick else {
                return Err(exhausted(network_id));
            };
            taken.entry(s.id.clone()).or_default().insert(to_u128(&ip));
            out.push(Chosen {
                subnet_id: s.id.clone(),
                ip,
                requested: false,
            });
        }
        for s in subnets.iter().filter(|s| subnets::is_auto_address(s)) {
            out.push(Chosen {
                subnet_id: s.id.clone(),
                ip: eui64(s),
                requested: false,
            });
        }
        let stateful: Vec<&SubnetRow> = subnets
            .iter()
            .filter(|s| s.ip_version == 6 && !subnets::is_auto_address(s))
            .collect();
        if !stateful.is_empty() {
            let pick = stateful
                .iter()
                .find_map(|s| pick_free(s, taken.entry(s.id.clone()).or_default()).map(|ip| (*s, ip)));
            let Some((s, ip)) = pick else {
                return Err(exhausted(network_id));
            };
            taken.entry(s.id.clone()).or_default().insert(to_u128(&ip));
            out.push(Chosen {
                subnet_id: s.id.clone(),
                ip,
                requested: false,
            });
        }
        return Ok(out);
    };
    let kept = |subnet: &str, ip: &IpAddr| keep.iter().any(|(s, i)| s == subnet && *i == ip.to_string());
    for r in requests {
        let subnet = match (&r.subnet_id, &r.ip_address) {
            (Some(sid), _) => subnets.iter().find(|s| s.id == *sid).ok_or_else(|| {
                NetworkError::invalid_input(format!(
                    "Failed to create port on network {network_id}, because fixed_ips included invalid subnet {sid}"
                ))
            })?,
            (None, Some(ip)) => subnets
                .iter()
                .find(|s| subnets::cidr_of(s).valid_host(ip))
                .ok_or_else(|| {
                    NetworkError::bad(
                        "InvalidIpForNetwork",
                        format!("IP address {ip} is not a valid IP for any of the subnets on the specified network."),
                    )
                })?,
            (None, None) => {
                return Err(NetworkError::invalid_input(
                    "IP allocation requires subnet_id or ip_address",
                ));
            }
        };
        let set = taken.entry(subnet.id.clone()).or_default();
        let chosen = match r.ip_address {
            Some(ip) => {
                if !subnets::cidr_of(subnet).valid_host(&ip) {
                    return Err(NetworkError::bad(
                        "InvalidIpForSubnet",
                        format!("IP address {ip} is not a valid IP for the specified subnet."),
                    ));
                }
                if set.contains(&to_u128(&ip)) && !kept(&subnet.id, &ip) {
                    return Err(ip_in_use(&ip, &subnet.id));
                }
                Chosen {
                    subnet_id: subnet.id.clone(),
                    ip,
                    requested: true,
                }
            }
            None if subnets::is_auto_address(subnet) => Chosen {
                subnet_id: subnet.id.clone(),
                ip: eui64(subnet),
                requested: false,
            },
            None => {
                // A subnet the port already has an address on keeps it.
                if let Some((_, ip)) = keep.iter().find(|(s, _)| *s == subnet.id)
                    && let Ok(ip) = ip.parse::<IpAddr>()
                    && !out.iter().any(|c: &Chosen| c.ip == ip)
                {
                    Chosen {
                        subnet_id: subnet.id.clone(),
                        ip,
                        requested: true,
                    }
                } else {
                    let ip = pick_free(subnet, set).ok_or_else(|| exhausted(network_id))?;
                    Chosen {
                        subnet_id: subnet.id.clone(),
                        ip,
                        requested: false,
                    }
                }
            }
        };
        if out
            .iter()
            .any(|c: &Chosen| c.subnet_id == chosen.subnet_id && c.ip == chosen.ip)
        {
            return Err(ip_in_use(&chosen.ip, &chosen.subnet_id));
        }
        set.insert(to_u128(&chosen.ip));
        out.push(chosen);
    }
    Ok(out)
}

/// Writes the chosen addresses; a lost race on a free pick is retried,
/// on a requested address it is the client's conflict.
async fn write_allocations(n: &Network, c: &mut Conn, port_id: &str, network_id: &str, ips: &[Chosen]) -> Result<()> {
    for a in ips {
        match q::insert_allocation(&n.db, c, &a.subnet_id, &a.ip.to_string(), port_id, network_id).await {
            Err(NetworkError::Store(store::StoreError::Conflict(_))) if a.requested => {
                return Err(ip_in_use(&a.ip, &a.subnet_id));
            }
            Err(NetworkError::Store(store::StoreError::Conflict(_))) => return Err(NetworkError::Retry("ip address")),
            other => other?,
        }
    }
    Ok(())
}

/// The groups of a port: checked to exist and to be the port's
/// project's (a caller seeing all projects may use any).
async fn check_groups(n: &Network, c: &mut Conn, caller: &Caller, project_id: &str, groups: &[String]) -> Result<()> {
    for g in groups {
        match db::security_groups::get(&n.db, c, g).await? {
            Some(row) if row.project_id == project_id || caller.all_projects => {}
            _ => return Err(NetworkError::security_group_not_found(g)),
        }
    }
    Ok(())
}

fn port_security_needed_for_groups() -> NetworkError {
    NetworkError::bad(
        "PortSecurityAndIPRequiredForSecurityGroups",
        "Port security must be enabled and port must have an IP address in order to use security groups.",
    )
}

fn port_security_needed_for_pairs() -> NetworkError {
    NetworkError::conflict(
        "AddressPairAndPortSecurityRequired",
        "Port Security must be enabled in order to have allowed address pairs on a port.",
    )
}

/// Checks the address pairs (count, duplicates) and fills in the port's
/// MAC where a pair has none.
fn address_pairs(n: &Network, pairs: &[RequestedPair], mac: &str) -> Result<Vec<(String, String)>> {
    if pairs.len() > n.config.max_allowed_address_pair {
        return Err(NetworkError::bad(
            "AllowedAddressPairExhausted",
            format!(
                "The number of allowed address pair exceeds the maximum {}.",
                n.config.max_allowed_address_pair
            ),
        ));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (ip, pair_mac) in pairs {
        let pair = (ip.clone(), pair_mac.clone().unwrap_or_else(|| mac.to_owned()));
        if out.contains(&pair) {
            return Err(NetworkError::bad(
                "DuplicateAddressPairInRequest",
                format!(
                    "Request contains duplicate address pair: mac_address {} ip_address {}.",
                    pair.1, pair.0
                ),
            ));
        }
        out.push(pair);
    }
    Ok(out)
}

pub async fn create(n: &Network, caller: &Caller, spec: NewPort) -> Result<PortRow> {
    let network = networks::get(n, caller, &spec.network_id).await?;
    let port_security = spec.port_security_enabled.unwrap_or(network.port_security_enabled);
    // The default group is made (if need be) in its own transaction first:
    // on SQLite the port's transaction holds the only writer.
    let default_group = if port_security && spec.security_groups.is_none() {
        Some(security_groups::ensure_default(n, &spec.project_id).await?)
    } else {
        None
    };
    let id = uuid::Uuid::new_v4().to_string();
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if !db::networks::lock(&n.db, &mut tx, &network.id).await? {
            return Err(NetworkError::network_not_found(&network.id));
        }
        quotas::check(n, &mut tx, &spec.project_id, "port", 1).await?;
        let row = insert_on(n, &mut tx, caller, &spec, &id, &network, default_group.as_deref()).await?;
        tx.commit().await?;
        Ok(row)
    })
    .await
}

/// Writes a new port `id` in the transaction `tx`, which holds the
/// allocation lock of `network`: its MAC, its addresses, its groups
/// (`default_group` when none are asked for). No quota is checked here:
/// the ports the service makes for routers and floating IPs are not the
/// project's to count, as in Neutron.
pub(crate) async fn insert_on(
    n: &Network,
    tx: &mut Conn,
    caller: &Caller,
    spec: &NewPort,
    id: &str,
    network: &NetworkRow,
    default_group: Option<&str>,
) -> Result<PortRow> {
    let port_security = spec.port_security_enabled.unwrap_or(network.port_security_enabled);
    if !port_security && !spec.allowed_address_pairs.is_empty() {
        return Err(port_security_needed_for_pairs());
    }
    let requested_mac =
        match &spec.mac_address {
            Some(m) => Some(parse_mac(m).ok_or_else(|| {
                NetworkError::invalid_attr("mac_address", format!("'{m}' is not a valid MAC address"))
            })?),
            None => None,
        };
    let (mac, mac_bytes) = match &requested_mac {
        Some((m, b)) => {
            if q::mac_in_use(&n.db, tx, &network.id, m).await? {
                return Err(mac_in_use(&network.id, m));
            }
            (m.clone(), *b)
        }
        None => {
            let mut mac = random_mac(n.config.base_mac);
            while q::mac_in_use(&n.db, tx, &network.id, &mac).await? {
                mac = random_mac(n.config.base_mac);
            }
            parse_mac(&mac).expect("generated MACs parse")
        }
    };
    let subnets = db::subnets::of_network(&n.db, tx, &network.id).await?;
    let mut taken = taken_on(n, tx, &network.id).await?;
    let ips = allocate(
        &network.id,
        &subnets,
        &mut taken,
        &mac_bytes,
        spec.fixed_ips.as_deref(),
        &[],
    )?;
    let groups = match (&spec.security_groups, default_group) {
        (Some(g), _) => {
            let mut g = g.clone();
            g.sort();
            g.dedup();
            if !g.is_empty() && (!port_security || ips.is_empty()) {
                return Err(port_security_needed_for_groups());
            }
            check_groups(n, tx, caller, &spec.project_id, &g).await?;
            g
        }
        (None, Some(default)) if !ips.is_empty() => vec![default.to_owned()],
        _ => Vec::new(),
    };
    let now = db::now();
    let mut row = PortRow {
        id: id.to_owned(),
        project_id: spec.project_id.clone(),
        network_id: network.id.clone(),
        name: spec.name.clone(),
        description: spec.description.clone(),
        mac_address: mac.clone(),
        admin_state_up: spec.admin_state_up,
        status: spec.status.clone().unwrap_or_else(|| "DOWN".into()),
        device_id: spec.device_id.clone(),
        device_owner: spec.device_owner.clone(),
        port_security_enabled: port_security,
        allowed_address_pairs: address_pairs(n, &spec.allowed_address_pairs, &mac)?,
        binding_host_id: spec.binding_host_id.clone(),
        binding_vnic_type: spec.binding_vnic_type.clone(),
        binding_profile: spec.binding_profile.clone(),
        dns_name: spec.dns_name.clone(),
        revision_number: 1,
        created_at: now,
        updated_at: now,
        fixed_ips: ips.iter().map(|c| (c.subnet_id.clone(), c.ip.to_string())).collect(),
        security_groups: groups.clone(),
    };
    match q::insert(&n.db, tx, &row).await {
        Err(NetworkError::Store(store::StoreError::Conflict(_))) if requested_mac.is_some() => {
            return Err(mac_in_use(&network.id, &mac));
        }
        Err(NetworkError::Store(store::StoreError::Conflict(_))) => return Err(NetworkError::Retry("mac address")),
        other => other?,
    }
    write_allocations(n, tx, id, &network.id, &ips).await?;
    q::set_security_groups(&n.db, tx, id, &groups).await?;
    row.security_groups.sort();
    Ok(row)
}

fn mac_in_use(network_id: &str, mac: &str) -> NetworkError {
    NetworkError::conflict(
        "MacAddressInUse",
        format!("Unable to complete operation for network {network_id}. The mac address {mac} is in use."),
    )
}

pub async fn update(n: &Network, caller: &Caller, id: &str, ch: PortChanges) -> Result<PortRow> {
    let current = get(n, caller, id).await?;
    let network: NetworkRow = {
        let mut c = n.reader().await?;
        db::networks::get(&n.db, &mut c, &current.network_id)
            .await?
            .ok_or_else(|| NetworkError::network_not_found(&current.network_id))?
    };
    let requested_mac =
        match &ch.mac_address {
            Some(m) => Some(parse_mac(m).ok_or_else(|| {
                NetworkError::invalid_attr("mac_address", format!("'{m}' is not a valid MAC address"))
            })?),
            None => None,
        };
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if !db::networks::lock(&n.db, &mut tx, &network.id).await? {
            return Err(NetworkError::network_not_found(&network.id));
        }
        let mut row = load(n, &mut tx, caller, id).await?;
        let mut mac_bytes = parse_mac(&row.mac_address).map(|(_, b)| b).unwrap_or_default();
        if let Some((mac, bytes)) = &requested_mac
            && *mac != row.mac_address
        {
            if !row.binding_host_id.is_empty() {
                return Err(NetworkError::conflict(
                    "PortBound",
                    format!(
                        "Unable to complete operation on port {id}, port is already bound, port type: {}, old_mac {}, \
                         new_mac {mac}.",
                        binding(&row).0,
                        row.mac_address
                    ),
                ));
            }
            if q::mac_in_use(&n.db, &mut tx, &network.id, mac).await? {
                return Err(mac_in_use(&network.id, mac));
            }
            row.mac_address = mac.clone();
            mac_bytes = *bytes;
        }
        let mut new_ips = None;
        if let Some(requests) = &ch.fixed_ips {
            let subnets = db::subnets::of_network(&n.db, &mut tx, &network.id).await?;
            let mut taken = taken_on(n, &mut tx, &network.id).await?;
            let ips = allocate(
                &network.id,
                &subnets,
                &mut taken,
                &mac_bytes,
                Some(requests),
                &row.fixed_ips,
            )?;
            new_ips = Some(ips);
        }
        // Neutron's `prevent_internal_ip_change_for_fip`: an address with a
        // floating IP stays.
        if let Some(ips) = &new_ips {
            for f in db::floating_ips::of_fixed_port(&n.db, &mut tx, id).await? {
                let kept = f
                    .fixed_ip_address
                    .as_ref()
                    .is_none_or(|a| ips.iter().any(|c| c.ip.to_string() == *a));
                if !kept {
                    return Err(NetworkError::bad_resource(
                        "port",
                        format!(
                            "Cannot update the fixed_ips of the port {id}, because its original fixed_ip has been \
                             associated to a floating ip"
                        ),
                    ));
                }
            }
        }
        let port_security = ch.port_security_enabled.unwrap_or(row.port_security_enabled);
        let has_ips = new_ips.as_ref().map_or(!row.fixed_ips.is_empty(), |i| !i.is_empty());
        let groups = match &ch.security_groups {
            Some(g) => {
                let mut g = g.clone();
                g.sort();
                g.dedup();
                if !g.is_empty() && (!port_security || !has_ips) {
                    return Err(port_security_needed_for_groups());
                }
                check_groups(n, &mut tx, caller, &row.project_id, &g).await?;
                g
            }
            None => row.security_groups.clone(),
        };
        if !port_security && !groups.is_empty() {
            return Err(NetworkError::conflict(
                "PortSecurityPortHasSecurityGroup",
                "Port has security group associated. Cannot disable port security or IP address until security \
                 group is removed.",
            ));
        }
        let pairs = match &ch.allowed_address_pairs {
            Some(p) => address_pairs(n, p, &row.mac_address)?,
            None => row.allowed_address_pairs.clone(),
        };
        if !port_security && !pairs.is_empty() {
            return Err(port_security_needed_for_pairs());
        }
        row.name = ch.name.clone().unwrap_or(row.name);
        row.description = ch.description.clone().unwrap_or(row.description);
        row.admin_state_up = ch.admin_state_up.unwrap_or(row.admin_state_up);
        row.device_id = ch.device_id.clone().unwrap_or(row.device_id);
        row.device_owner = ch.device_owner.clone().unwrap_or(row.device_owner);
        row.port_security_enabled = port_security;
        row.allowed_address_pairs = pairs;
        row.binding_host_id = ch.binding_host_id.clone().unwrap_or(row.binding_host_id);
        row.binding_vnic_type = ch.binding_vnic_type.clone().unwrap_or(row.binding_vnic_type);
        row.binding_profile = ch.binding_profile.clone().unwrap_or(row.binding_profile);
        row.dns_name = ch.dns_name.clone().unwrap_or(row.dns_name);
        if let Err(NetworkError::Store(store::StoreError::Conflict(_))) = q::update(&n.db, &mut tx, &row).await {
            return Err(mac_in_use(&network.id, &row.mac_address));
        }
        if let Some(ips) = &new_ips {
            for (s, ip) in &row.fixed_ips {
                if !ips.iter().any(|c| c.subnet_id == *s && c.ip.to_string() == *ip) {
                    q::delete_allocation(&n.db, &mut tx, s, ip).await?;
                }
            }
            let fresh: Vec<Chosen> = ips
                .iter()
                .filter(|c| {
                    !row.fixed_ips
                        .iter()
                        .any(|(s, ip)| *s == c.subnet_id && *ip == c.ip.to_string())
                })
                .cloned()
                .collect();
            write_allocations(n, &mut tx, id, &network.id, &fresh).await?;
        }
        if ch.security_groups.is_some() {
            q::set_security_groups(&n.db, &mut tx, id, &groups).await?;
        }
        let row = q::get(&n.db, &mut tx, id)
            .await?
            .ok_or_else(|| NetworkError::port_not_found(id))?;
        tx.commit().await?;
        Ok(row)
    })
    .await
}

/// Deletes a port unless the L3 service owns it (a router's gateway or
/// interface, a floating IP's address: those go through their own API);
/// floating IPs associated with it are disassociated.
pub async fn delete(n: &Network, caller: &Caller, id: &str) -> Result<()> {
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        let row = load(n, &mut tx, caller, id).await?;
        if let Some(reason) = l3_owner(n, &mut tx, &row).await? {
            return Err(NetworkError::conflict(
                "ServicePortInUse",
                format!("Port {id} cannot be deleted directly via the port API: {reason}."),
            ));
        }
        floating_ips::disassociate_port(n, &mut tx, id).await?;
        remove_on(n, &mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// Why the L3 service still owns a port (Neutron's
/// `prevent_l3_port_deletion`): its device owner is a router's or a
/// floating IP's, and that router or floating IP still exists.
async fn l3_owner(n: &Network, c: &mut Conn, p: &PortRow) -> Result<Option<String>> {
    let owned = match p.device_owner.as_str() {
        routers::DEVICE_OWNER_ROUTER_INTF | routers::DEVICE_OWNER_ROUTER_GW => {
            db::routers::router_of_port(&n.db, c, &p.id).await?.is_some()
                || db::routers::get(&n.db, c, &p.device_id).await?.is_some()
        }
        floating_ips::DEVICE_OWNER_FLOATINGIP => db::floating_ips::of_floating_port(&n.db, c, &p.id).await?.is_some(),
        _ => false,
    };
    Ok(owned.then(|| format!("has device owner {}", p.device_owner)))
}

/// Removes a port, its addresses, groups and tags in `tx`.
pub(crate) async fn remove_on(n: &Network, tx: &mut Conn, id: &str) -> Result<()> {
    q::delete(&n.db, tx, id).await?;
    db::tags::remove_all(&n.db, tx, tags::Taggable::Port.key(), id).await?;
    Ok(())
}
