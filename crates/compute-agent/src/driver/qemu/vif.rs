//! The guest's network interfaces: one virtio-net NIC per port of
//! `InstanceSpec::network_info`, on the port's tap.
//!
//! The tap (`tap<port id[..11]>`) belongs to the network agent, which
//! creates it once the port is bound to this host and puts it on the
//! network's bridge; QEMU only opens it (`-netdev tap,ifname=…,script=no,
//! downscript=no`), so it must exist first: a start waits for every tap,
//! up to `vif_plugging_timeout` (Nova's option of that name), and fails
//! naming the missing ones. The guest sees the port's MAC
//! (`virtio-net-pci,mac=…`).
//!
//! The NICs live in the record's `spec.network_info`, so that every later
//! start (reboot, power on, resume, resize, rebuild) and an adopting
//! agent see them. Hot-plug is `netdev_add` + `device_add`; unplug is
//! `device_del`, waiting for the guest to release the device
//! (`DEVICE_DELETED`), then `netdev_del`. A NIC is not given an explicit
//! PCI slot: QEMU numbers devices in command-line order, which a NIC
//! hot-plugged at the end matches; after the detach of a NIC that was not
//! the last, a resume from a suspend may not find its devices where the
//! saved state had them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{QemuDriver, failed};
use crate::driver::DriverError;

/// How long the guest has to release an unplugged NIC.
const UNPLUG_TIMEOUT: Duration = Duration::from_secs(30);

/// One NIC, from a VIF (or a Neutron port body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub port_id: String,
    pub mac: String,
    /// The tap, `tap<port id[..11]>`.
    pub devname: String,
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Nic {
    /// The NIC of a VIF (`id`, `address`, `devname`) or of a port body
    /// (`id`, `mac_address`). Everything that reaches QEMU's command line
    /// is checked, so that no value can add an option.
    pub fn from_vif(v: &Value) -> Result<Nic, DriverError> {
        let port_id = v["id"].as_str().unwrap_or_default();
        if uuid::Uuid::parse_str(port_id).is_err() {
            return Err(failed(format!("network info: {:?} is not a port id", v["id"])));
        }
        let mac = v["address"]
            .as_str()
            .or_else(|| v["mac_address"].as_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !is_mac(&mac) {
            return Err(failed(format!(
                "network info: port {port_id} has no valid MAC ({mac:?})"
            )));
        }
        let devname = format!("tap{}", &port_id[..11]);
        if let Some(given) = v["devname"].as_str()
            && given != devname
        {
            return Err(failed(format!(
                "network info: port {port_id} names tap {given:?}, not {devname}"
            )));
        }
        Ok(Nic {
            port_id: port_id.to_owned(),
            mac,
            devname,
        })
    }

    fn netdev_id(&self) -> String {
        format!("net-{}", self.port_id)
    }

    fn device_id(&self) -> String {
        format!("nic-{}", self.port_id)
    }

    fn netdev(&self) -> String {
        format!(
            "tap,id={},ifname={},script=no,downscript=no",
            self.netdev_id(),
            self.devname
        )
    }

    fn device(&self) -> String {
        format!(
            "virtio-net-pci,netdev={},id={},mac={}",
            self.netdev_id(),
            self.device_id(),
            self.mac
        )
    }
}

/// The NICs of `network_info`, in order.
pub fn nics(network_info: &[Value]) -> Result<Vec<Nic>, DriverError> {
    network_info.iter().map(Nic::from_vif).collect()
}

/// QEMU's arguments for `nics`.
pub fn command_line(nics: &[Nic]) -> Vec<String> {
    nics.iter()
        .flat_map(|n| ["-netdev".to_owned(), n.netdev(), "-device".to_owned(), n.device()])
        .collect()
}

/// The config drive's `network_data.json` for `network_info`, as Nova's
/// `netutils.get_network_metadata` writes it: a link per VIF, a network
/// per fixed address (`ipv4_dhcp`/`ipv6_dhcp` where the subnet has DHCP,
/// else the address, netmask and routes), and the DNS servers.
pub fn network_data(network_info: &[Value]) -> Value {
    let (mut links, mut networks, mut services) = (Vec::new(), Vec::new(), Vec::new());
    for (i, vif) in network_info.iter().enumerate() {
        let link = vif["devname"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("interface{i}"));
        // Nova's LEGACY_EXPOSED_VIF_TYPES keep their name; others are `phy`.
        let legacy = ["bridge", "dvs", "hw_veb", "hyperv", "ovs", "tap", "vhostuser", "vif"];
        let kind = vif["type"].as_str().filter(|t| legacy.contains(t)).unwrap_or("phy");
        links.push(json!({"id": link, "vif_id": vif["id"], "type": kind,
            "mtu": vif["network"]["meta"]["mtu"], "ethernet_mac_address": vif["address"]}));
        for subnet in vif["network"]["subnets"].as_array().into_iter().flatten() {
            let v6 = subnet["version"] == 6;
            let dns: Vec<Value> = subnet["dns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| json!({"type": "dns", "address": d["address"]}))
                .collect();
            for d in &dns {
                if !services.contains(d) {
                    services.push(d.clone());
                }
            }
            for ip in subnet["ips"].as_array().into_iter().flatten() {
                let id = format!("network{}", networks.len());
                let mut n = json!({"id": id, "link": link, "network_id": vif["network"]["id"]});
                if subnet["meta"]["enable_dhcp"] == true {
                    n["type"] = json!(if v6 { "ipv6_dhcp" } else { "ipv4_dhcp" });
                } else {
                    n["type"] = json!(if v6 { "ipv6" } else { "ipv4" });
                    n["ip_address"] = ip["address"].clone();
                    n["netmask"] = json!(netmask(subnet["cidr"].as_str().unwrap_or_default(), v6));
                    let mut routes = Vec::new();
                    if let Some(gw) = subnet["gateway"]["address"].as_str() {
                        let any = if v6 { "::" } else { "0.0.0.0" };
                        routes.push(json!({"network": any, "netmask": any, "gateway": gw}));
                    }
                    n["routes"] = json!(routes);
                    n["services"] = json!(dns);
                }
                networks.push(n);
            }
        }
    }
    json!({"links": links, "networks": networks, "services": services})
}

/// The netmask of a CIDR, written as Nova writes it (dotted for IPv4).
fn netmask(cidr: &str, v6: bool) -> String {
    let bits: u32 = cidr.rsplit_once('/').and_then(|(_, b)| b.parse().ok()).unwrap_or(0);
    if v6 {
        let mask = u128::MAX.checked_shl(128 - bits.min(128)).unwrap_or(0);
        std::net::Ipv6Addr::from(mask).to_string()
    } else {
        let mask = u32::MAX.checked_shl(32 - bits.min(32)).unwrap_or(0);
        std::net::Ipv4Addr::from(mask).to_string()
    }
}

fn tap_exists(devname: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(devname).exists()
}

/// Waits until the network agent has made every NIC's tap; fails naming
/// the ones still missing after `timeout`.
pub async fn wait_for_taps(nics: &[Nic], timeout: Duration) -> Result<(), DriverError> {
    let started = Instant::now();
    loop {
        let missing: Vec<&str> = nics
            .iter()
            .filter(|n| !tap_exists(&n.devname))
            .map(|n| n.devname.as_str())
            .collect();
        if missing.is_empty() {
            if !nics.is_empty() {
                tracing::debug!(waited_ms = started.elapsed().as_millis() as u64, "taps present");
            }
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(failed(format!(
                "Virtual Interface creation failed: the network agent did not plug {} within {} s \
                 (is a network agent running on this host, with the same host name?)",
                missing.join(", "),
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl QemuDriver {
    /// Plugs `vif` into the instance: into the running guest by QMP, and
    /// into its record for every later start.
    pub(super) async fn plug_interface(&self, uuid: &str, vif: &Value) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let mut record = self.load(uuid)?;
        let nic = Nic::from_vif(vif)?;
        if nics(&record.spec.network_info)?
            .iter()
            .any(|n| n.port_id == nic.port_id)
        {
            return Err(failed(format!("port {} is already attached to {uuid}", nic.port_id)));
        }
        wait_for_taps(std::slice::from_ref(&nic), self.config.vif_plugging_timeout).await?;
        if self.pid(uuid).is_some() {
            let mut q = self.qmp(uuid).await?;
            let netdev = json!({"type": "tap", "id": nic.netdev_id(), "ifname": nic.devname,
                "script": "no", "downscript": "no"});
            q.execute("netdev_add", Some(netdev)).await.map_err(failed)?;
            let device = json!({"driver": "virtio-net-pci", "netdev": nic.netdev_id(),
                "id": nic.device_id(), "mac": nic.mac});
            if let Err(e) = q.execute("device_add", Some(device)).await {
                let _ = q.execute("netdev_del", Some(json!({"id": nic.netdev_id()}))).await;
                return Err(failed(e));
            }
            tracing::info!(instance = %uuid, port = %nic.port_id, tap = %nic.devname, "NIC hot-plugged");
        }
        record.spec.network_info.push(vif.clone());
        self.save(&record)
    }

    /// Unplugs the port's NIC: from the running guest (which must release
    /// it), and from the record.
    pub(super) async fn unplug_interface(&self, uuid: &str, port_id: &str) -> Result<(), DriverError> {
        let _guard = self.locks.lock(uuid).await;
        let mut record = self.load(uuid)?;
        let all = nics(&record.spec.network_info)?;
        let Some(nic) = all.iter().find(|n| n.port_id == port_id) else {
            return Err(failed(format!("port {port_id} is not attached to {uuid}")));
        };
        if self.pid(uuid).is_some() {
            let mut q = self.qmp(uuid).await?;
            match q.execute("device_del", Some(json!({"id": nic.device_id()}))).await {
                Ok(_) => {
                    let id = nic.device_id();
                    let released = q
                        .wait_event("DEVICE_DELETED", |e| e["data"]["device"] == id.as_str(), UNPLUG_TIMEOUT)
                        .await
                        .map_err(failed)?;
                    if !released {
                        return Err(failed(format!(
                            "the guest did not release the NIC of port {port_id} within {} s",
                            UNPLUG_TIMEOUT.as_secs()
                        )));
                    }
                }
                Err(super::qmp::QmpError::Command { class, .. }) if class == "DeviceNotFound" => {}
                Err(e) => return Err(failed(e)),
            }
            match q.execute("netdev_del", Some(json!({"id": nic.netdev_id()}))).await {
                Ok(_) => {}
                Err(super::qmp::QmpError::Command { class, .. }) if class == "DeviceNotFound" => {}
                Err(e) => return Err(failed(e)),
            }
            tracing::info!(instance = %uuid, port = %port_id, "NIC unplugged");
        }
        record.spec.network_info.retain(|v| v["id"] != port_id);
        self.save(&record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vif_becomes_a_tap_netdev_and_a_virtio_nic() {
        let vif = json!({"id": "0123456789ab-cdef-0123-4567-89abcdef0123", "address": "FA:16:3E:00:11:22"});
        let err = Nic::from_vif(&vif).unwrap_err();
        assert!(err.to_string().contains("not a port id"), "{err}");
        let vif = json!({"id": "01234567-89ab-cdef-0123-456789abcdef", "address": "FA:16:3E:00:11:22",
                         "devname": "tap01234567-89"});
        let nic = Nic::from_vif(&vif).unwrap();
        assert_eq!(nic.devname, "tap01234567-89");
        assert_eq!(
            command_line(&[nic]),
            vec![
                "-netdev",
                "tap,id=net-01234567-89ab-cdef-0123-456789abcdef,ifname=tap01234567-89,script=no,downscript=no",
                "-device",
                "virtio-net-pci,netdev=net-01234567-89ab-cdef-0123-456789abcdef,id=nic-01234567-89ab-cdef-0123-456789abcdef,mac=fa:16:3e:00:11:22",
            ]
        );
        // A port body works too; a MAC that could smuggle options does not.
        let port = json!({"id": "01234567-89ab-cdef-0123-456789abcdef", "mac_address": "fa:16:3e:00:11:22"});
        assert!(Nic::from_vif(&port).is_ok());
        let evil = json!({"id": "01234567-89ab-cdef-0123-456789abcdef", "address": "fa:16:3e:00:11:22,x=y"});
        assert!(Nic::from_vif(&evil).is_err());
        let renamed = json!({"id": "01234567-89ab-cdef-0123-456789abcdef", "address": "fa:16:3e:00:11:22",
                             "devname": "eth0"});
        assert!(Nic::from_vif(&renamed).is_err());
    }

    #[test]
    fn network_data_has_a_link_per_vif_and_dhcp_or_static_networks() {
        let vif = json!({"id": "p1", "address": "fa:16:3e:00:00:01", "devname": "tapp1", "type": "bridge",
            "network": {"id": "n1", "meta": {"mtu": 1450}, "subnets": [
                {"cidr": "10.0.0.0/24", "version": 4, "meta": {"enable_dhcp": true},
                 "gateway": {"address": "10.0.0.1"}, "dns": [{"address": "10.0.0.2"}],
                 "ips": [{"address": "10.0.0.5"}]},
                {"cidr": "10.1.0.0/20", "version": 4, "meta": {"enable_dhcp": false},
                 "gateway": {"address": "10.1.0.1"}, "dns": [], "ips": [{"address": "10.1.0.5"}]}]}});
        let d = network_data(&[vif]);
        assert_eq!(
            d["links"],
            json!([{"id": "tapp1", "vif_id": "p1", "type": "bridge", "mtu": 1450,
                    "ethernet_mac_address": "fa:16:3e:00:00:01"}])
        );
        assert_eq!(
            d["networks"][0],
            json!({"id": "network0", "link": "tapp1", "network_id": "n1", "type": "ipv4_dhcp"})
        );
        assert_eq!(d["networks"][1]["type"], "ipv4");
        assert_eq!(d["networks"][1]["netmask"], "255.255.240.0");
        assert_eq!(d["networks"][1]["routes"][0]["gateway"], "10.1.0.1");
        assert_eq!(d["services"], json!([{"type": "dns", "address": "10.0.0.2"}]));
        assert_eq!(network_data(&[]), json!({"links": [], "networks": [], "services": []}));
    }

    #[tokio::test]
    async fn a_missing_tap_fails_after_the_timeout_naming_it() {
        let nic = Nic::from_vif(&json!({"id": "fffffff0-89ab-cdef-0123-456789abcdef", "address": "fa:16:3e:00:11:22"}))
            .unwrap();
        let err = wait_for_taps(&[nic], Duration::from_millis(200)).await.unwrap_err();
        assert!(err.to_string().contains("tapfffffff0-89"), "{err}");
        assert!(wait_for_taps(&[], Duration::ZERO).await.is_ok());
    }
}
