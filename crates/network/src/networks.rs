//! Networks and their segment, as ML2 with the `flat`, `vxlan` and
//! `local` type drivers keeps them: a tenant network gets a free VNI from
//! `vni_ranges`; a flat network owns its physical network; the MTU is the
//! physical MTU minus the encapsulation overhead.

use std::collections::HashMap;

use rand::seq::SliceRandom;

use crate::db::networks::{self as q, NetworkRow};
use crate::db::{self, Conn};
use crate::error::{NetworkError, Result};
use crate::{Caller, Network, quotas, tags};

/// Bytes VXLAN over IPv4 adds to a frame (neutron `VXLAN_ENCAP_OVERHEAD`).
pub const VXLAN_ENCAP_OVERHEAD: i64 = 50;
/// The largest VNI (24 bits).
pub const MAX_VNI: i64 = (1 << 24) - 1;

/// Device owners of ports the service makes and removes itself; they do
/// not keep a network or subnet from being deleted.
pub const AUTO_DELETE_PORT_OWNERS: &[&str] = &["network:dhcp", "network:router_ha_interface"];

/// What a new network asks for.
#[derive(Clone, Debug, Default)]
pub struct NewNetwork {
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub external: bool,
    pub port_security_enabled: bool,
    pub network_type: Option<String>,
    pub physical_network: Option<String>,
    pub segmentation_id: Option<i64>,
    pub availability_zone_hints: Vec<String>,
}

/// The attributes an update may change; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct NetworkChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub admin_state_up: Option<bool>,
    pub shared: Option<bool>,
    pub external: Option<bool>,
    pub port_security_enabled: Option<bool>,
    pub network_type: Option<String>,
    pub physical_network: Option<Option<String>>,
    pub segmentation_id: Option<Option<i64>>,
}

/// Whether the caller may see the network at all.
pub fn visible(caller: &Caller, n: &NetworkRow) -> bool {
    caller.owns(&n.project_id) || n.shared || n.external
}

pub(crate) async fn load(n: &Network, c: &mut Conn, caller: &Caller, id: &str) -> Result<NetworkRow> {
    match q::get(&n.db, c, id).await? {
        Some(row) if visible(caller, &row) => Ok(row),
        _ => Err(NetworkError::network_not_found(id)),
    }
}

pub async fn get(n: &Network, caller: &Caller, id: &str) -> Result<NetworkRow> {
    let mut c = n.reader().await?;
    load(n, &mut c, caller, id).await
}

pub async fn list(n: &Network, caller: &Caller) -> Result<Vec<NetworkRow>> {
    let mut c = n.reader().await?;
    q::list(
        &n.db,
        &mut c,
        (!caller.all_projects).then_some(caller.project_id.as_str()),
    )
    .await
}

/// The subnet ids of every network, oldest first.
pub async fn subnet_ids(n: &Network) -> Result<HashMap<String, Vec<String>>> {
    let mut c = n.reader().await?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (net, subnet) in db::subnets::ids_by_network(&n.db, &mut c).await? {
        out.entry(net).or_default().push(subnet);
    }
    Ok(out)
}

/// The segment a new network gets: its type, physical network and
/// segmentation id, checked against the type driver's rules. `taken` are
/// the segmentation ids in use for the type.
fn segment(n: &Network, spec: &NewNetwork, taken: &[i64]) -> Result<(String, Option<String>, Option<i64>, bool)> {
    let network_type = spec
        .network_type
        .clone()
        .unwrap_or_else(|| n.config.tenant_network_type.clone());
    let phys = spec.physical_network.clone();
    match network_type.as_str() {
        "vxlan" => {
            if phys.is_some() {
                return Err(NetworkError::invalid_input(
                    "provider:physical_network specified for vxlan network",
                ));
            }
            match spec.segmentation_id {
                Some(vni) if !(1..=MAX_VNI).contains(&vni) => Err(NetworkError::invalid_input(format!(
                    "Invalid VXLAN VNI value '{vni}' for provider:segmentation_id"
                ))),
                Some(vni) if taken.contains(&vni) => Err(tunnel_in_use(vni)),
                Some(vni) => Ok((network_type, None, Some(vni), false)),
                None => {
                    let free: Vec<i64> = n
                        .config
                        .vni_ranges
                        .iter()
                        .flat_map(|(lo, hi)| *lo..=*hi)
                        .filter(|v| !taken.contains(v))
                        .take(64)
                        .collect();
                    // A random pick among the first free ones: two creations
                    // racing rarely choose the same VNI.
                    match free.choose(&mut rand::thread_rng()) {
                        Some(vni) => Ok((network_type, None, Some(*vni), true)),
                        None => Err(NetworkError::bad(
                            "NoNetworkAvailable",
                            "Unable to create the network. No tenant network is available for allocation.",
                        )),
                    }
                }
            }
        }
        "flat" => {
            if spec.segmentation_id.is_some() {
                return Err(NetworkError::invalid_input(
                    "provider:segmentation_id specified for flat network",
                ));
            }
            let Some(phys) = phys else {
                return Err(NetworkError::invalid_input(
                    "provider:physical_network required for flat provider network",
                ));
            };
            let allowed = n.config.flat_networks.iter().any(|f| f == "*" || *f == phys);
            if !allowed {
                return Err(NetworkError::invalid_input(format!(
                    "physical_network '{phys}' unknown for flat provider network"
                )));
            }
            Ok((network_type, Some(phys), None, false))
        }
        "local" => {
            if phys.is_some() || spec.segmentation_id.is_some() {
                return Err(NetworkError::invalid_input(
                    "provider:physical_network and provider:segmentation_id prohibited for local provider network",
                ));
            }
            Ok((network_type, None, None, false))
        }
        other => Err(NetworkError::invalid_input(format!(
            "network_type value '{other}' not supported"
        ))),
    }
}

fn tunnel_in_use(vni: i64) -> NetworkError {
    NetworkError::conflict(
        "TunnelIdInUse",
        format!("Unable to create the network. The tunnel ID {vni} is in use."),
    )
}

fn mtu(n: &Network, network_type: &str) -> i64 {
    match network_type {
        "vxlan" => n.config.global_physnet_mtu - VXLAN_ENCAP_OVERHEAD,
        _ => n.config.global_physnet_mtu,
    }
}

pub async fn create(n: &Network, spec: NewNetwork) -> Result<NetworkRow> {
    let id = uuid::Uuid::new_v4().to_string();
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        quotas::check(n, &mut tx, &spec.project_id, "network", 1).await?;
        let requested_type = spec
            .network_type
            .clone()
            .unwrap_or_else(|| n.config.tenant_network_type.clone());
        let taken = q::used_segmentation_ids(&n.db, &mut tx, &requested_type).await?;
        let (network_type, physical_network, segmentation_id, picked) = segment(n, &spec, &taken)?;
        let now = db::now();
        let row = NetworkRow {
            id: id.clone(),
            project_id: spec.project_id.clone(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            admin_state_up: spec.admin_state_up,
            shared: spec.shared,
            external: spec.external,
            mtu: mtu(n, &network_type),
            port_security_enabled: spec.port_security_enabled,
            network_type,
            physical_network,
            segmentation_id,
            availability_zone_hints: spec.availability_zone_hints.clone(),
            revision_number: 1,
            created_at: now,
            updated_at: now,
        };
        match q::insert(&n.db, &mut tx, &row).await {
            Err(NetworkError::Store(store::StoreError::Conflict(_))) if picked => {
                return Err(NetworkError::Retry("segmentation id"));
            }
            Err(NetworkError::Store(store::StoreError::Conflict(_))) => {
                return Err(match (&row.physical_network, row.segmentation_id) {
                    (_, Some(vni)) => tunnel_in_use(vni),
                    (Some(phys), None) => NetworkError::conflict(
                        "FlatNetworkInUse",
                        format!("Unable to create the flat network. Physical network {phys} is in use."),
                    ),
                    // Only the segment key is unique besides the fresh id.
                    _ => NetworkError::Retry("network id"),
                });
            }
            other => other?,
        }
        tx.commit().await?;
        Ok(row)
    })
    .await
}

pub async fn update(n: &Network, caller: &Caller, id: &str, ch: NetworkChanges) -> Result<NetworkRow> {
    let mut tx = n.begin().await?;
    let mut row = load(n, &mut tx, caller, id).await?;
    let segment_changes = ch.network_type.as_ref().is_some_and(|t| *t != row.network_type)
        || ch.physical_network.as_ref().is_some_and(|p| *p != row.physical_network)
        || ch.segmentation_id.as_ref().is_some_and(|s| *s != row.segmentation_id);
    if segment_changes {
        return Err(NetworkError::invalid_input(
            "Plugin does not support updating provider attributes",
        ));
    }
    if ch.shared == Some(false) && row.shared {
        let others = db::ports::of_network(&n.db, &mut tx, id)
            .await?
            .iter()
            .any(|p| p.project_id != row.project_id && !p.device_owner.starts_with("network:"));
        if others {
            return Err(NetworkError::conflict(
                "InvalidSharedSetting",
                format!("Unable to reconfigure sharing settings for network {id}. Multiple projects are using it."),
            ));
        }
    }
    row.name = ch.name.unwrap_or(row.name);
    row.description = ch.description.unwrap_or(row.description);
    row.admin_state_up = ch.admin_state_up.unwrap_or(row.admin_state_up);
    row.shared = ch.shared.unwrap_or(row.shared);
    row.external = ch.external.unwrap_or(row.external);
    row.port_security_enabled = ch.port_security_enabled.unwrap_or(row.port_security_enabled);
    q::update(&n.db, &mut tx, &row).await?;
    let row = q::get(&n.db, &mut tx, id)
        .await?
        .ok_or_else(|| NetworkError::network_not_found(id))?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes a network with its subnets and the ports the service made for
/// it (DHCP); any other port keeps it (`NetworkInUse`).
pub async fn delete(n: &Network, caller: &Caller, id: &str) -> Result<()> {
    crate::with_retries(|| async {
        let mut tx = n.begin().await?;
        if !q::lock(&n.db, &mut tx, id).await? {
            return Err(NetworkError::network_not_found(id));
        }
        load(n, &mut tx, caller, id).await?;
        let ports = db::ports::of_network(&n.db, &mut tx, id).await?;
        // The floating IPs of an external network go with it, as with
        // Neutron's L3 plugin; a router gateway still holds it.
        let goes_with_it = |owner: &str| {
            AUTO_DELETE_PORT_OWNERS.contains(&owner) || owner == crate::floating_ips::DEVICE_OWNER_FLOATINGIP
        };
        if ports.iter().any(|p| !goes_with_it(&p.device_owner)) {
            return Err(NetworkError::network_in_use(id));
        }
        for p in &ports {
            if let Some(f) = db::floating_ips::of_floating_port(&n.db, &mut tx, &p.id).await? {
                db::floating_ips::delete(&n.db, &mut tx, &f.id).await?;
                db::tags::remove_all(&n.db, &mut tx, tags::Taggable::FloatingIp.key(), &f.id).await?;
            }
            db::ports::delete(&n.db, &mut tx, &p.id).await?;
            db::tags::remove_all(&n.db, &mut tx, tags::Taggable::Port.key(), &p.id).await?;
        }
        for s in db::subnets::of_network(&n.db, &mut tx, id).await? {
            db::subnets::delete(&n.db, &mut tx, &s.id).await?;
            db::tags::remove_all(&n.db, &mut tx, tags::Taggable::Subnet.key(), &s.id).await?;
        }
        db::tags::remove_all(&n.db, &mut tx, tags::Taggable::Network.key(), id).await?;
        q::delete(&n.db, &mut tx, id).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}
