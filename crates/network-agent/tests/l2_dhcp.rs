//! L2 and DHCP with the real kernel: bridges, veths, namespaces, dnsmasq,
//! and DHCP clients (busybox `udhcpc`) in "guest" namespaces that stand in
//! for QEMU guests.
//!
//! Needs root, `dnsmasq` (Debian `dnsmasq-base`) and `busybox` (Debian
//! `busybox-static`); each test prints why it is skipped otherwise.
//! Every name a test makes carries its own random tag (the first
//! characters of its network id), so tests run in parallel and next to a
//! running cloud; a [`Scene`] guard removes everything with that tag when
//! the test ends, passed or failed. Addresses are 10.x, and only inside
//! the tests' own namespaces (the bridges carry none).

mod common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use network_agent::{
    DhcpOutcome, DhcpPortSpec, FixedIp, HostRoute, L2, NetworkSpec, PortSpec, SubnetSpec, host, names,
};

/// Prefixes of every kernel name the tests make; a tag follows each.
const OUR_PREFIXES: &[&str] = &["brq", "tap", "ns-", "gv", "ge", "qdhcp-", "qguest-"];
const PROGRAMS: [&str; 3] = ["ip", "dnsmasq", "busybox"];
const PACKAGES: &str = "iproute2, dnsmasq-base, busybox-static";

/// One test's world: its tag, ids and state dir. Dropping it removes every
/// process, namespace and interface carrying the tag, synchronously, so it
/// also runs when an assertion unwinds.
struct Scene {
    kernel: common::Tagged,
    tag: String,
    network_id: String,
    state: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let network_id = uuid::Uuid::new_v4().to_string();
        let tag = network_id[..6].to_owned();
        let state = tempfile::Builder::new()
            .prefix(&format!("network-agent-{tag}-"))
            .tempdir()
            .unwrap();
        // dnsmasq drops root and reads its hosts file again on SIGHUP.
        std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Scene {
            kernel: common::Tagged::new(tag.clone(), OUR_PREFIXES),
            tag,
            network_id,
            state,
        }
    }

    fn id(&self) -> String {
        self.kernel.id()
    }

    fn l2(&self) -> L2 {
        L2::new(self.state.path())
    }

    /// A namespace standing in for a guest: `ge<tag><n>` with the port's
    /// MAC, its other end (`gv<tag><n>`) on the network's bridge.
    async fn guest(&self, n: u32, mac: &str) -> (String, String) {
        let netns = format!("qguest-{}-{n}", self.tag);
        let outer = format!("gv{}{n}", self.tag);
        let inner = format!("ge{}{n}", self.tag);
        host::netns_add(&netns).await.unwrap();
        host::veth_add(&outer, &inner, None).await.unwrap();
        host::link_set_netns(&inner, &netns).await.unwrap();
        host::link_set_netns(&inner, &netns).await.unwrap();
        let bridge = names::bridge(&self.network_id);
        let on_bridge = host::LinkSettings {
            master: Some(&bridge),
            up: true,
            ..Default::default()
        };
        host::link_set(None, &outer, &on_bridge).await.unwrap();
        let with_mac = host::LinkSettings {
            mac: Some(mac),
            up: true,
            ..Default::default()
        };
        host::link_set(Some(&netns), &inner, &with_mac).await.unwrap();
        (netns, inner)
    }

    async fn remove_guest(&self, n: u32) {
        host::link_delete(None, &format!("gv{}{n}", self.tag)).await.unwrap();
        host::netns_delete(&format!("qguest-{}-{n}", self.tag)).await.unwrap();
    }

    /// Runs `udhcpc` in the guest namespace; what its script was given.
    async fn dhcp_request(&self, (netns, interface): &(String, String)) -> HashMap<String, String> {
        let out = self.state.path().join(format!("{netns}.lease"));
        let script = self.state.path().join(format!("{netns}.sh"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n[ \"$1\" = bound ] || exit 0\n\
                 for v in ip mask router mtu dns staticroutes; do eval echo \"$v=\\${{$v}}\"; done > {}\n",
                out.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = script.display().to_string();
        let args = ["netns", "exec", netns, "busybox", "udhcpc", "-i", interface, "-n", "-q"];
        let args = args
            .into_iter()
            .chain(["-t", "10", "-T", "1", "-O", "staticroutes", "-s", &script]);
        let status = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new("ip")
                .args(args)
                .kill_on_drop(true)
                .status(),
        )
        .await
        .expect("udhcpc timed out")
        .unwrap();
        assert!(status.success(), "udhcpc in {netns} got no lease");
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect()
    }

    fn dnsmasqs(&self) -> usize {
        self.kernel
            .processes()
            .iter()
            .filter(|(_, c)| c[0].ends_with("dnsmasq"))
            .count()
    }
}

/// A network with one 10.x/24 DHCP subnet and one port.
fn network(scene: &Scene, octet: u8) -> NetworkSpec {
    let subnet_id = scene.id();
    let fixed = |host: u8| FixedIp {
        subnet_id: subnet_id.clone(),
        ip_address: format!("10.{octet}.7.{host}").parse().unwrap(),
    };
    NetworkSpec {
        id: scene.network_id.clone(),
        mtu: 1450,
        subnets: vec![SubnetSpec {
            id: subnet_id.clone(),
            cidr: format!("10.{octet}.7.0/24"),
            gateway_ip: Some(format!("10.{octet}.7.1").parse().unwrap()),
            dns_nameservers: vec![format!("10.{octet}.9.9").parse().unwrap()],
            host_routes: vec![HostRoute {
                destination: "10.250.0.0/16".to_owned(),
                nexthop: format!("10.{octet}.7.254").parse().unwrap(),
            }],
            enable_dhcp: true,
        }],
        dhcp_port: Some(DhcpPortSpec {
            id: scene.id(),
            mac: "fa:16:3e:00:07:02".to_owned(),
            fixed_ips: vec![fixed(2)],
        }),
        ports: vec![PortSpec {
            id: scene.id(),
            mac: "fa:16:3e:00:07:10".to_owned(),
            fixed_ips: vec![fixed(10)],
        }],
    }
}

fn port(spec: &NetworkSpec, id: String, mac: &str, host: u8) -> PortSpec {
    let subnet = &spec.subnets[0];
    let prefix = subnet.cidr.trim_end_matches(".0/24");
    PortSpec {
        id,
        mac: mac.to_owned(),
        fixed_ips: vec![FixedIp {
            subnet_id: subnet.id.clone(),
            ip_address: format!("{prefix}.{host}").parse().unwrap(),
        }],
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn guests_get_their_addresses_options_and_reach_the_dhcp_port() {
    skip_unless_able!(PROGRAMS, PACKAGES);
    let scene = Scene::new();
    let l2 = scene.l2();
    let mut spec = network(&scene, 71);

    assert_eq!(l2.ensure_network(&spec).await.unwrap(), DhcpOutcome::Started);
    let bridge = host::link(None, &names::bridge(&spec.id)).await.unwrap().unwrap();
    assert_eq!(
        (bridge.kind.as_deref(), bridge.mtu, bridge.up),
        (Some("bridge"), 1450, true)
    );

    // The first guest gets exactly its port's address and the subnet's options.
    let guest1 = scene.guest(1, &spec.ports[0].mac).await;
    let lease = scene.dhcp_request(&guest1).await;
    assert_eq!(lease["ip"], "10.71.7.10");
    assert_eq!(lease["mask"], "24");
    assert_eq!(lease["router"], "10.71.7.1");
    assert_eq!(lease["mtu"], "1450");
    assert_eq!(lease["dns"], "10.71.9.9");
    assert_eq!(lease["staticroutes"], "10.250.0.0/16 10.71.7.254 0.0.0.0/0 10.71.7.1");

    // A port added later is served after a reload, without a restart.
    let pid_before = std::fs::read_to_string(scene.state.path().join("dhcp").join(&spec.id).join("pid")).unwrap();
    spec.ports.push(port(&spec, scene.id(), "fa:16:3e:00:07:11", 11));
    assert_eq!(l2.ensure_network(&spec).await.unwrap(), DhcpOutcome::Reloaded);
    let guest2 = scene.guest(2, &spec.ports[1].mac).await;
    assert_eq!(scene.dhcp_request(&guest2).await["ip"], "10.71.7.11");
    let pid_after = std::fs::read_to_string(scene.state.path().join("dhcp").join(&spec.id).join("pid")).unwrap();
    assert_eq!(pid_before, pid_after, "dnsmasq was restarted, not reloaded");

    // The guest, configured as told, reaches the DHCP port across the bridge.
    let (netns1, eth1) = &guest1;
    host::address_add(Some(netns1), eth1, &format!("{}/{}", lease["ip"], lease["mask"]))
        .await
        .unwrap();
    host::route_replace(Some(netns1), "default", Some(&lease["router"]), eth1)
        .await
        .unwrap();
    let ping = tokio::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            netns1,
            "busybox",
            "ping",
            "-c",
            "3",
            "-W",
            "5",
            "10.71.7.2",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        ping.status.success(),
        "ping failed: {}",
        String::from_utf8_lossy(&ping.stdout)
    );

    // A QEMU tap: created on the bridge, idempotently, and removed.
    let vm_port = port(&spec, scene.id(), "fa:16:3e:00:07:12", 12);
    let tap = l2.plug_port(&spec.id, &vm_port).await.unwrap();
    assert_eq!(tap, l2.plug_port(&spec.id, &vm_port).await.unwrap());
    let link = host::link(None, &tap).await.unwrap().unwrap();
    assert_eq!(link.kind.as_deref(), Some("tun"));
    assert_eq!(link.master.as_deref(), Some(bridge.name.as_str()));
    assert_eq!(link.mac.as_deref(), Some("fe:16:3e:00:07:12"));
    assert_eq!(link.mtu, 1450);
    l2.unplug_port(&vm_port.id).await.unwrap();
    l2.unplug_port(&vm_port.id).await.unwrap();
    assert!(host::link(None, &tap).await.unwrap().is_none());

    // Removal leaves nothing behind, and is idempotent.
    scene.remove_guest(1).await;
    scene.remove_guest(2).await;
    l2.remove_network(&spec.id).await.unwrap();
    l2.remove_network(&spec.id).await.unwrap();
    assert_eq!(scene.kernel.leftovers().await, Vec::<String>::new());
    assert_eq!(scene.kernel.processes(), Vec::new());
    assert_eq!(files_under(&scene.state.path().join("dhcp")), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn ensuring_again_and_restarting_the_agent_duplicates_nothing() {
    skip_unless_able!(PROGRAMS, PACKAGES);
    let scene = Scene::new();
    let mut spec = network(&scene, 72);
    let dhcp_port = spec.dhcp_port.clone().unwrap();
    let netns = names::dhcp_namespace(&spec.id);
    let inner = names::dhcp_interface(&dhcp_port.id);

    let l2 = scene.l2();
    assert_eq!(l2.ensure_network(&spec).await.unwrap(), DhcpOutcome::Started);
    assert_eq!(l2.ensure_network(&spec).await.unwrap(), DhcpOutcome::Unchanged);
    drop(l2);
    let restarted = scene.l2();
    assert_eq!(restarted.ensure_network(&spec).await.unwrap(), DhcpOutcome::Unchanged);

    let one_of_each = async || {
        assert_eq!(scene.dnsmasqs(), 1);
        let bridges = host::links(None, &names::bridge(&spec.id)).await.unwrap();
        assert_eq!(bridges.len(), 1);
        let dhcp_veths = host::links(None, &names::tap(&dhcp_port.id)).await.unwrap();
        assert_eq!(dhcp_veths.len(), 1);
        assert_eq!(dhcp_veths[0].master.as_ref(), Some(&bridges[0].name));
        assert_eq!(
            host::ipv4_addresses(Some(&netns), &inner).await.unwrap(),
            ["10.72.7.2/24"]
        );
    };
    one_of_each().await;

    // A changed MTU is on dnsmasq's command line: a restart, still one.
    spec.mtu = 1400;
    assert_eq!(restarted.ensure_network(&spec).await.unwrap(), DhcpOutcome::Restarted);
    one_of_each().await;

    // A dnsmasq that died is started again.
    let pid: u32 = std::fs::read_to_string(scene.state.path().join("dhcp").join(&spec.id).join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while host::process_cmdline(pid).is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(restarted.ensure_network(&spec).await.unwrap(), DhcpOutcome::Started);
    one_of_each().await;

    // Turning DHCP off stops it and removes its namespace; the bridge stays.
    spec.subnets[0].enable_dhcp = false;
    assert_eq!(restarted.ensure_network(&spec).await.unwrap(), DhcpOutcome::Disabled);
    assert_eq!(scene.dnsmasqs(), 0);
    assert!(!host::netns_exists(&netns).await.unwrap());
    assert_eq!(scene.kernel.leftovers().await, [names::bridge(&spec.id)]);

    restarted.remove_network(&spec.id).await.unwrap();
    assert_eq!(scene.kernel.leftovers().await, Vec::<String>::new());
}
