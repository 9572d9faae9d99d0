//! Subnets: a CIDR on a network, its gateway, the pools addresses are
//! allocated from, and what DHCP would hand out (DNS servers, host
//! routes). The checks are Neutron's `_validate_subnet` and
//! `validate_allocation_pools`.

use std::net::IpAddr;

use crate::db::subnets::{self as q, SubnetRow};
use crate::db::{self, Conn};
use crate::error::{NetworkError, Result};
use crate::ip::{Cidr, IpRange, to_u128};
use crate::networks::AUTO_DELETE_PORT_OWNERS;
use crate::{Caller, Network, networks, quotas, tags};

/// IPv6 address modes in which hosts configure themselves from router
/// advertisements: addresses are derived from the MAC (EUI-64).
pub const AUTO_ADDRESS_MODES: &[&str] = &["slaac", "dhcpv6-stateless"];
pub const IPV6_MODES: &[&str] = &["slaac", "dhcpv6-stateful", "dhcpv6-stateless"];

/// The gateway a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gateway {
    /// Not given: the first address of the CIDR.
    Default,
    /// `null`: no gateway.
    None,
    Ip(IpAddr),
}

#[derive(Clone, Debug)]
pub struct NewSubnet {
    pub project_id: String,
    pub network_id: String,
    pub name: String,
    pub description: String,
    pub ip_version: u8,
    pub cidr: Cidr,
    pub gateway: Gateway,
    pub allocation_pools: Option<Vec<(IpAddr, IpAddr)>>,
    pub dns_nameservers: Vec<IpAddr>,
    pub host_routes: Vec<(Cidr, IpAddr)>,
    pub enable_dhcp: bool,
    pub ipv6_ra_mode: Option<String>,
    pub ipv6_address_mode: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct SubnetChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `Some(None)`: remove the gateway.
    pub gateway_ip: Option<Option<IpAddr>>,
    pub allocation_pools: Option<Vec<(IpAddr, IpAddr)>>,
    pub dns_nameservers: Option<Vec<IpAddr>>,
    pub host_routes: Option<Vec<(Cidr, IpAddr)>>,
    pub enable_dhcp: Option<bool>,
}

/// A subnet's CIDR; rows are written only after validation.
pub fn cidr_of(s: &SubnetRow) -> Cidr {
    Cidr::parse_lenient(&s.cidr).unwrap_or_else(|| Cidr::parse_lenient("0.0.0.0/32").expect("literal"))
}

/// A subnet's allocation pools as ranges.
pub fn pools_of(s: &SubnetRow) -> Vec<IpRange> {
    s.allocation_pools
        .iter()
        .filter_map(|(a, b)| {
            let (a, b) = (a.parse::<IpAddr>().ok()?, b.parse::<IpAddr>().ok()?);
            Some(IpRange::new(to_u128(&a), to_u128(&b), crate::ip::version(&a)))
        })
        .collect()
}

/// Whether addresses on this subnet are derived from MACs rather than
/// taken from the pools.
pub fn is_auto_address(s: &SubnetRow) -> bool {
    s.ip_version == 6
        && s.ipv6_address_mode
            .as_deref()
            .is_some_and(|m| AUTO_ADDRESS_MODES.contains(&m))
}

pub(crate) async fn load(n: &Network, c: &mut Conn, caller: &Caller, id: &str) -> Result<SubnetRow> {
    let Some(row) = q::get(&n.db, c, id).await? else {
        return Err(NetworkError::subnet_not_found(id));
    };
    if caller.owns(&row.project_id) {
        return Ok(row);
    }
    match db::networks::get(&n.db, c, &row.network_id).await? {
        Some(net) if net.shared || net.external || caller.owns(&net.project_id) => Ok(row),
        _ => Err(NetworkError::subnet_not_found(id)),
    }
}

/// The external networks: their subnets are readable by every project and
/// say `router:external` (Neutron's `subnet-external-network`).
pub async fn external_networks(n: &Network) -> Result<std::collections::HashSet<String>> {
    Ok(crate::networks::list(n, &Caller::service())
        .await?
        .into_iter()
        .filter(|net| net.external)
        .map(|net| net.id)
        .collect())
}

pub async fn get(n: &Network, caller: &Caller, id: &str) -> Result<SubnetRow> {
    let mut c = n.reader().await?;
    load(n, &mut c, caller, id).await
}

pub async fn list(n: &Network, caller: &Caller) -> Result<Vec<SubnetRow>> {
    let mut c = n.reader().await?;
    q::list(
        &n.db,
        &mut c,
        (!caller.all_projects).then_some(caller.project_id.as_str()),
    )
    .await
}

/// Neutron's `validate_allocation_pools`.
fn validate_pools(cidr: &Cidr, pools: &[(IpAddr, IpAddr)]) -> Result<Vec<IpRange>> {
    let (lo, hi) = match cidr.version() {
        4 if cidr.prefix() <= 30 => (cidr.first() + 1, cidr.last() - 1),
        4 => (cidr.first(), cidr.last()),
        _ => (cidr.first() + 1, cidr.last()),
    };
    let mut out = Vec::new();
    for (a, b) in pools {
        let range = IpRange::new(to_u128(a), to_u128(b), crate::ip::version(a));
        let shown = format!("{a}-{b}");
        if crate::ip::version(a) != cidr.version() || crate::ip::version(b) != cidr.version() || range.start > range.end
        {
            return Err(NetworkError::bad(
                "InvalidAllocationPool",
                format!("The allocation pool {shown} is not valid."),
            ));
        }
        if range.start < lo || range.end > hi {
            return Err(NetworkError::bad(
                "OutOfBoundsAllocationPool",
                format!("The allocation pool {shown} spans beyond the subnet cidr {cidr}."),
            ));
        }
        out.push(range);
    }
    for (i, l) in out.iter().enumerate() {
        for r in &out[i + 1..] {
            if l.overlaps(r) {
                return Err(NetworkError::conflict(
                    "OverlappingAllocationPools",
                    format!("Found overlapping allocation pools: {l} {r} for subnet {cidr}."),
                ));
            }
        }
    }
    Ok(out)
}

fn check_gateway_outside_pools(gateway: Option<&IpAddr>, pools: &[IpRange]) -> Result<()> {
    if let Some(g) = gateway
        && let Some(pool) = pools
            .iter()
            .find(|p| p.version == crate::ip::version(g) && p.contains(to_u128(g)))
    {
        return Err(NetworkError::conflict(
            "GatewayConflictWithAllocationPools",
            format!("Gateway ip {g} conflicts with allocation pool {pool}."),
        ));
    }
    Ok(())
}

fn check_gateway(cidr: &Cidr, gateway: Option<&IpAddr>) -> Result<()> {
    if let Some(g) = gateway {
        if crate::ip::version(g) != cidr.version() {
            return Err(NetworkError::invalid_input(format!(
                "{g} is not a valid IPv{} address for gateway_ip",
                cidr.version()
            )));
        }
        if !cidr.valid_gateway(g) {
            return Err(NetworkError::invalid_input("Gateway is not valid on subnet"));
        }
    }
    Ok(())
}

fn check_dhcp_extras(n: &Network, cidr: &Cidr, dns: &[IpAddr], routes: &[(Cidr, IpAddr)], id: &str) -> Result<()> {
    if dns.len() > n.config.max_dns_nameservers {
        return Err(NetworkError::bad(
            "DNSNameServersExhausted",
            format!(
                "Unable to complete operation for {id}. The number of DNS nameservers exceeds the limit {}.",
                n.config.max_dns_nameservers
            ),
        ));
    }
    if routes.len() > n.config.max_subnet_host_routes {
        return Err(NetworkError::bad(
            "HostRoutesExhausted",
            format!(
                "Unable to complete operation for {id}. The number of host routes exceeds the limit {}.",
                n.config.max_subnet_host_routes
            ),
        ));
    }
    for d in dns {
        if crate::ip::version(d) != cidr.version() {
            return Err(NetworkError::invalid_input(format!(
                "{d} is not a valid IPv{} address for dns_nameserver",
                cidr.version()
            )));
        }
    }
    for (dest, hop) in routes {
        if dest.version() != cidr.version() || crate::ip::version(hop) != cidr.version() {
            return Err(NetworkError::invalid_input(format!(
                "Invalid route: destination {dest}, nexthop {hop} for IPv{} subnet",
                cidr.version()
            )));
        }
    }
    Ok(())
}

fn check_ipv6_modes(spec: &NewSubnet) -> Result<()> {
    if spec.ip_version == 4 {
        if spec.ipv6_ra_mode.is_some() {
            return Err(NetworkError::invalid_input(
                "ipv6_ra_mode is not valid when ip_version is 4",
            ));
        }
        if spec.ipv6_address_mode.is_some() {
            return Err(NetworkError::invalid_input(
                "ipv6_address_mode is not valid when ip_version is 4",
            ));
        }
        return Ok(());
    }
    if let (Some(ra), Some(addr)) = (&spec.ipv6_ra_mode, &spec.ipv6_address_mode)
        && ra != addr
    {
        return Err(NetworkError::invalid_input(format!(
            "ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{addr}' is not valid. If both attributes \
             are set, they must be the same value"
        )));
    }
    let auto = [&spec.ipv6_ra_mode, &spec.ipv6_address_mode]
        .into_iter()
        .flatten()
        .any(|m| AUTO_ADDRESS_MODES.contains(&m.as_str()));
    if auto && spec.cidr.prefix() != 64 {
        return Err(NetworkError::invalid_input(format!(
            "Invalid CIDR {} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the \
             prefix to be /64",
            spec.cidr
        )));
    }
    if spec.cidr.first() == 0 {
        return Err(NetworkError::invalid_input("IPv6 subnet '::' is not supported"));
    }
    Ok(())
}

pub async fn create(n: &Network, caller: &Caller, spec: NewSubnet) -> Result<SubnetRow> {
    if spec.cidr.version() != spec.ip_version {
        return Err(NetworkError::invalid_input(format!(
            "{} is not a valid IPv{} address for cidr",
            spec.cidr, spec.ip_version
        )));
    }
    check_ipv6_modes(&spec)?;
    if spec.enable_dhcp
        && ((spec.ip_version == 4 && spec.cidr.prefix() > 30) || (spec.ip_version == 6 && spec.cidr.prefix() > 126))
    {
        return Err(NetworkError::invalid_input(
            "Subnet has a prefix length that is incompatible with DHCP service enabled",
        ));
    }
    let gateway = match &spec.gateway {
        Gateway::Default => spec.cidr.default_gateway(),
        Gateway::None => None,
        Gateway::Ip(ip) => Some(*ip),
    };
    check_gateway(&spec.cidr, gateway.as_ref())?;
    check_dhcp_extras(n, &spec.cidr, &spec.dns_nameservers, &spec.host_routes, "new subnet")?;
    let pools = match &spec.allocation_pools {
        Some(p) => {
            let pools = validate_pools(&spec.cidr, p)?;
            check_gateway_outside_pools(gateway.as_ref(), &pools)?;
            pools
        }
        None => spec.cidr.default_pools(gateway.as_ref()),
    };
    let id = uuid::Uuid::new_v4().to_string();
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if !db::networks::lock(&n.db, &mut tx, &spec.network_id).await? {
            return Err(NetworkError::network_not_found(&spec.network_id));
        }
        networks::load(n, &mut tx, caller, &spec.network_id).await?;
        quotas::check(n, &mut tx, &spec.project_id, "subnet", 1).await?;
        for other in q::of_network(&n.db, &mut tx, &spec.network_id).await? {
            if cidr_of(&other).overlaps(&spec.cidr) {
                return Err(NetworkError::invalid_input(format!(
                    "Requested subnet with cidr: {} for network: {} overlaps with another subnet",
                    spec.cidr, spec.network_id
                )));
            }
        }
        let now = db::now();
        let row = SubnetRow {
            id: id.clone(),
            project_id: spec.project_id.clone(),
            network_id: spec.network_id.clone(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            ip_version: spec.ip_version,
            cidr: spec.cidr.to_string(),
            gateway_ip: gateway.map(|g| g.to_string()),
            enable_dhcp: spec.enable_dhcp,
            ipv6_ra_mode: spec.ipv6_ra_mode.clone(),
            ipv6_address_mode: spec.ipv6_address_mode.clone(),
            allocation_pools: pools
                .iter()
                .map(|p| (p.start_ip().to_string(), p.end_ip().to_string()))
                .collect(),
            dns_nameservers: spec.dns_nameservers.iter().map(IpAddr::to_string).collect(),
            host_routes: spec
                .host_routes
                .iter()
                .map(|(d, h)| (d.to_string(), h.to_string()))
                .collect(),
            revision_number: 0,
            created_at: now,
            updated_at: now,
        };
        q::insert(&n.db, &mut tx, &row).await?;
        db::networks::bump_revision(&n.db, &mut tx, &spec.network_id).await?;
        tx.commit().await?;
        Ok(row)
    })
    .await
}

pub async fn update(n: &Network, caller: &Caller, id: &str, ch: SubnetChanges) -> Result<SubnetRow> {
    let mut tx = n.begin().await?;
    let mut row = load(n, &mut tx, caller, id).await?;
    let cidr = cidr_of(&row);
    let gateway = match ch.gateway_ip {
        Some(g) => g,
        None => row.gateway_ip.as_deref().and_then(|g| g.parse().ok()),
    };
    if ch.gateway_ip.is_some() {
        check_gateway(&cidr, gateway.as_ref())?;
    }
    let pools = match &ch.allocation_pools {
        Some(p) => validate_pools(&cidr, p)?,
        None => pools_of(&row),
    };
    if ch.gateway_ip.is_some() || ch.allocation_pools.is_some() {
        check_gateway_outside_pools(gateway.as_ref(), &pools)?;
    }
    let dns = ch
        .dns_nameservers
        .clone()
        .unwrap_or_else(|| row.dns_nameservers.iter().filter_map(|d| d.parse().ok()).collect());
    let routes = ch.host_routes.clone().unwrap_or_else(|| {
        row.host_routes
            .iter()
            .filter_map(|(d, h)| Some((Cidr::parse_lenient(d)?, h.parse().ok()?)))
            .collect()
    });
    check_dhcp_extras(n, &cidr, &dns, &routes, id)?;
    if ch.enable_dhcp == Some(true)
        && !row.enable_dhcp
        && ((cidr.version() == 4 && cidr.prefix() > 30) || (cidr.version() == 6 && cidr.prefix() > 126))
    {
        return Err(NetworkError::invalid_input(
            "Subnet has a prefix length that is incompatible with DHCP service enabled",
        ));
    }
    row.name = ch.name.unwrap_or(row.name);
    row.description = ch.description.unwrap_or(row.description);
    row.gateway_ip = gateway.map(|g| g.to_string());
    row.allocation_pools = pools
        .iter()
        .map(|p| (p.start_ip().to_string(), p.end_ip().to_string()))
        .collect();
    row.dns_nameservers = dns.iter().map(IpAddr::to_string).collect();
    row.host_routes = routes.iter().map(|(d, h)| (d.to_string(), h.to_string())).collect();
    row.enable_dhcp = ch.enable_dhcp.unwrap_or(row.enable_dhcp);
    q::update(&n.db, &mut tx, &row).await?;
    let row = q::get(&n.db, &mut tx, id)
        .await?
        .ok_or_else(|| NetworkError::subnet_not_found(id))?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes a subnet unless a port other than the service's own (DHCP)
/// holds an address from it; the service's ports lose theirs.
pub async fn delete(n: &Network, caller: &Caller, id: &str) -> Result<()> {
    let network_id = get(n, caller, id).await?.network_id;
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        db::networks::lock(&n.db, &mut tx, &network_id).await?;
        load(n, &mut tx, caller, id).await?;
        let ports = db::ports::of_network(&n.db, &mut tx, &network_id).await?;
        let holders: Vec<_> = ports
            .iter()
            .filter(|p| p.fixed_ips.iter().any(|(s, _)| s == id))
            .collect();
        if holders
            .iter()
            .any(|p| !AUTO_DELETE_PORT_OWNERS.contains(&p.device_owner.as_str()))
        {
            return Err(NetworkError::subnet_in_use(id));
        }
        for p in holders {
            for (s, ip) in p.fixed_ips.iter().filter(|(s, _)| s == id) {
                db::ports::delete_allocation(&n.db, &mut tx, s, ip).await?;
            }
        }
        db::tags::remove_all(&n.db, &mut tx, tags::Taggable::Subnet.key(), id).await?;
        q::delete(&n.db, &mut tx, id).await?;
        db::networks::bump_revision(&n.db, &mut tx, &network_id).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}
