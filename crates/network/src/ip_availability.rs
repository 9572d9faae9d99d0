//! Network IP availability (`network-ip-availability`): per network and
//! per subnet, how many addresses the allocation pools hold and how many
//! are handed out, as Neutron's `IpAvailabilityMixin` counts them: the
//! total is the size of the pools (the whole CIDR for a subnet without
//! pools), so an IPv6 /64 with the default pool counts 2^64 - 2; used is
//! every allocation on the subnet, inside the pools or not.

use crate::db;
use crate::error::Result;
use crate::{Network, subnets};

#[derive(Clone, Debug)]
pub struct SubnetAvailability {
    pub subnet_id: String,
    pub subnet_name: String,
    pub cidr: String,
    pub ip_version: u8,
    pub total_ips: u128,
    pub used_ips: u128,
}

#[derive(Clone, Debug)]
pub struct NetworkAvailability {
    pub network_id: String,
    pub network_name: String,
    pub project_id: String,
    pub total_ips: u128,
    pub used_ips: u128,
    pub subnets: Vec<SubnetAvailability>,
}

/// Every network's availability (the API is an admin's).
pub async fn all(n: &Network) -> Result<Vec<NetworkAvailability>> {
    let mut c = n.reader().await?;
    let networks = db::networks::list(&n.db, &mut c, None).await?;
    let mut subnet_rows = db::subnets::list(&n.db, &mut c, None).await?;
    subnet_rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let used = db::ports::allocation_counts(&n.db, &mut c).await?;
    let mut out = Vec::with_capacity(networks.len());
    for net in networks {
        let mut a = NetworkAvailability {
            network_id: net.id.clone(),
            network_name: net.name.clone(),
            project_id: net.project_id.clone(),
            total_ips: 0,
            used_ips: 0,
            subnets: Vec::new(),
        };
        for s in subnet_rows.iter().filter(|s| s.network_id == net.id) {
            let pools = subnets::pools_of(s);
            let total = if pools.is_empty() {
                let cidr = subnets::cidr_of(s);
                (cidr.last() - cidr.first()).saturating_add(1)
            } else {
                pools.iter().fold(0u128, |t, p| t.saturating_add(p.size()))
            };
            let used = used.get(&s.id).copied().unwrap_or(0).max(0) as u128;
            a.total_ips = a.total_ips.saturating_add(total);
            a.used_ips += used;
            a.subnets.push(SubnetAvailability {
                subnet_id: s.id.clone(),
                subnet_name: s.name.clone(),
                cidr: s.cidr.clone(),
                ip_version: s.ip_version,
                total_ips: total,
                used_ips: used,
            });
        }
        out.push(a);
    }
    Ok(out)
}
