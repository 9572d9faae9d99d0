//! L3 with the real kernel: a router namespace between two tenant networks
//! and an external one, with "guest" namespaces on the tenant bridges and
//! an "outside" namespace on the external bridge standing in for the
//! upstream gateway. Packets are real (`busybox ping`); where they come
//! from is read from nftables counters in the receiving namespace.
//!
//! Needs root, `nft` (Debian `nftables`), `sysctl` (`procps`) and
//! `busybox` (`busybox-static`); each test prints why it is skipped
//! otherwise. As in `l2_dhcp.rs`, every name a test makes carries its own
//! random tag, and a [`Scene`] guard removes everything with that tag when
//! the test ends, passed or failed. Addresses (10.x) exist only inside the
//! tests' own namespaces; nft tables only in them too.

mod common;

use std::time::Duration;

use network_agent::{FloatingIpSpec, HostRoute, L3, RouterGateway, RouterInterface, RouterSpec, host, l3, names};

/// Prefixes of every kernel name the tests make; a tag follows each.
const OUR_PREFIXES: &[&str] = &["brq", "tap", "qr-", "qg-", "gv", "ge", "qrouter-", "qguest-"];
const PROGRAMS: [&str; 4] = ["ip", "nft", "sysctl", "busybox"];
const PACKAGES: &str = "iproute2, nftables, procps, busybox-static";

/// One test's world. Dropping it removes every process, namespace and
/// interface carrying the tag, synchronously, so it also runs when an
/// assertion unwinds; the nft tables are inside those namespaces.
struct Scene {
    kernel: common::Tagged,
    tag: String,
    router_id: String,
    /// The second octet of every address in the test.
    octet: u8,
}

impl Scene {
    fn new(octet: u8) -> Scene {
        let router_id = uuid::Uuid::new_v4().to_string();
        let tag = router_id[..6].to_owned();
        Scene {
            kernel: common::Tagged::new(tag.clone(), OUR_PREFIXES),
            tag,
            router_id,
            octet,
        }
    }

    fn id(&self) -> String {
        self.kernel.id()
    }

    fn ip(&self, third: u8, fourth: u8) -> String {
        format!("10.{}.{third}.{fourth}", self.octet)
    }

    /// A namespace standing in for a guest (or the outside): `ge<tag><n>`
    /// holding `address`, its other end (`gv<tag><n>`) on the bridge.
    async fn guest(&self, n: u32, network_id: &str, address: &str, via: Option<&str>) -> String {
        let netns = format!("qguest-{}-{n}", self.tag);
        let outer = format!("gv{}{n}", self.tag);
        let inner = format!("ge{}{n}", self.tag);
        host::netns_add(&netns).await.unwrap();
        host::veth_add(&outer, &inner, Some(&netns)).await.unwrap();
        let bridge = names::bridge(network_id);
        let on_bridge = host::LinkSettings {
            master: Some(&bridge),
            up: true,
            ..Default::default()
        };
        host::link_set(None, &outer, &on_bridge).await.unwrap();
        let up = host::LinkSettings {
            up: true,
            ..Default::default()
        };
        host::link_set(Some(&netns), &inner, &up).await.unwrap();
        host::address_add(Some(&netns), &inner, address).await.unwrap();
        if let Some(via) = via {
            host::route_replace(Some(&netns), "default", Some(via), &inner)
                .await
                .unwrap();
        }
        netns
    }
}

/// Runs `args` in `netns`; its output.
async fn exec(netns: &str, args: &[&str]) -> std::process::Output {
    tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("ip")
            .args(["netns", "exec", netns])
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("command timed out")
    .unwrap()
}

async fn nft(netns: &str, args: &[&str]) -> serde_json::Value {
    let full: Vec<&str> = ["nft", "-j"].into_iter().chain(args.iter().copied()).collect();
    let out = exec(netns, &full).await;
    assert!(
        out.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Whether one echo request from `netns` to `to` is answered; tries a few
/// times (the first packets wait for ARP).
async fn reaches(netns: &str, to: &str) -> bool {
    for _ in 0..5 {
        let out = exec(netns, &["busybox", "ping", "-c", "1", "-W", "1", to]).await;
        if out.status.success() {
            return true;
        }
    }
    false
}

/// Whether none of two echo requests is answered.
async fn unreachable(netns: &str, to: &str) -> bool {
    !exec(netns, &["busybox", "ping", "-c", "2", "-W", "1", to])
        .await
        .status
        .success()
}

/// Counts, in `netns`, incoming packets per named match (a table of ours,
/// `ip probe`).
async fn probe(netns: &str, counters: &[(&str, String)]) {
    let mut script = String::from("table ip probe {\n");
    for (name, _) in counters {
        script.push_str(&format!("\tcounter {name} {{}}\n"));
    }
    script.push_str("\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n");
    for (name, matches) in counters {
        script.push_str(&format!("\t\t{matches} counter name {name}\n"));
    }
    script.push_str("\t}\n}\n");
    host::nft_apply(netns, &script).await.unwrap();
}

async fn count(netns: &str, counter: &str) -> u64 {
    let json = nft(netns, &["list", "counter", "ip", "probe", counter]).await;
    json["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o["counter"]["packets"].as_u64())
        .unwrap()
}

/// The router's nft tables, and the rules of its NAT table as text.
async fn router_nat(netns: &str) -> (Vec<String>, Vec<String>) {
    let tables = nft(netns, &["list", "tables"]).await;
    let tables = tables["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["table"]["name"].as_str().map(str::to_owned))
        .collect();
    let table = nft(netns, &["list", "table", "ip", l3::NAT_TABLE]).await;
    let rules = table["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("rule"))
        .map(|r| format!("{} {}", r["chain"], r["expr"]))
        .collect();
    (tables, rules)
}

/// The world: two tenant networks (10.o.1.0/24, 10.o.2.0/24) with a guest
/// each (.10), an external network (10.o.254.0/24) whose outside
/// namespace is .1 with no route to the tenants, and the router spec (.1 on
/// each tenant subnet, .2 outside). The tenant bridges are made here, the
/// external one by the router.
struct World {
    spec: RouterSpec,
    guest_a: String,
    guest_b: String,
    outside: String,
}

async fn world(scene: &Scene) -> World {
    let (net_a, net_b, net_ext) = (scene.id(), scene.id(), scene.id());
    for network in [&net_a, &net_b] {
        let bridge = names::bridge(network);
        host::bridge_add(&bridge).await.unwrap();
        let up = host::LinkSettings {
            up: true,
            ..Default::default()
        };
        host::link_set(None, &bridge, &up).await.unwrap();
    }
    let interface = |network_id: &String, third: u8| RouterInterface {
        port_id: scene.id(),
        network_id: network_id.clone(),
        mac: format!("fa:16:3e:00:{third:02x}:01"),
        ip: scene.ip(third, 1).parse().unwrap(),
        prefix_len: 24,
    };
    let spec = RouterSpec {
        id: scene.router_id.clone(),
        admin_state_up: true,
        interfaces: vec![interface(&net_a, 1), interface(&net_b, 2)],
        gateway: Some(RouterGateway {
            port_id: scene.id(),
            network_id: net_ext.clone(),
            mac: "fa:16:3e:00:fe:02".to_owned(),
            ip: scene.ip(254, 2).parse().unwrap(),
            prefix_len: 24,
            gateway_ip: scene.ip(254, 1).parse().unwrap(),
            enable_snat: true,
        }),
        routes: Vec::new(),
        floating_ips: Vec::new(),
    };
    L3::new().ensure_router(&spec).await.unwrap();
    let guest_a = scene
        .guest(1, &net_a, &format!("{}/24", scene.ip(1, 10)), Some(&scene.ip(1, 1)))
        .await;
    let guest_b = scene
        .guest(2, &net_b, &format!("{}/24", scene.ip(2, 10)), Some(&scene.ip(2, 1)))
        .await;
    let outside = scene
        .guest(9, &net_ext, &format!("{}/24", scene.ip(254, 1)), None)
        .await;
    World {
        spec,
        guest_a,
        guest_b,
        outside,
    }
}

#[tokio::test]
async fn guests_route_through_the_router_with_snat_and_floating_ips() {
    skip_unless_able!(PROGRAMS, PACKAGES);
    let scene = Scene::new(81);
    let l3 = L3::new();
    let World {
        mut spec,
        guest_a,
        guest_b,
        outside,
    } = world(&scene).await;
    let router_ns = names::router_namespace(&spec.id);
    let (gateway_ip, floating_ip) = (scene.ip(254, 2), scene.ip(254, 50));
    let tenants = format!("{{ {}, {} }}", scene.ip(1, 0) + "/24", scene.ip(2, 0) + "/24");
    probe(
        &outside,
        &[
            ("from_gateway", format!("ip saddr {gateway_ip}")),
            ("from_floating", format!("ip saddr {floating_ip}")),
            ("from_tenants", format!("ip saddr {tenants}")),
        ],
    )
    .await;
    probe(
        &guest_b,
        &[
            ("from_a", format!("ip saddr {}", scene.ip(1, 10))),
            ("from_outside", format!("ip saddr {}", scene.ip(254, 1))),
        ],
    )
    .await;

    // The router's own shape.
    let qr_a = names::router_interface(&spec.interfaces[0].port_id);
    let tap_a = host::link(None, &names::tap(&spec.interfaces[0].port_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tap_a.master, Some(names::bridge(&spec.interfaces[0].network_id)));
    assert_eq!(
        host::ipv4_addresses(Some(&router_ns), &qr_a).await.unwrap(),
        [format!("{}/24", scene.ip(1, 1))]
    );
    let ext_bridge = names::bridge(&spec.gateway.as_ref().unwrap().network_id);
    assert!(
        host::link(None, &ext_bridge).await.unwrap().unwrap().up,
        "external bridge made, up"
    );

    // (a) Across the router, east-west, without NAT.
    assert!(reaches(&guest_a, &scene.ip(2, 10)).await, "A does not reach B");
    assert!(count(&guest_b, "from_a").await > 0, "B did not see A's own address");

    // (b) Out through the gateway, SNATed: the outside has no route back to
    // the tenants, and sees only the gateway address.
    assert!(
        reaches(&guest_a, &scene.ip(254, 1)).await,
        "A does not reach the outside"
    );
    assert!(count(&outside, "from_gateway").await > 0);
    assert_eq!(count(&outside, "from_tenants").await, 0);

    // (c) A floating IP for B: reachable from the outside, and B's own
    // traffic leaves with it.
    spec.floating_ips.push(FloatingIpSpec {
        floating_ip: floating_ip.parse().unwrap(),
        fixed_ip: scene.ip(2, 10).parse().unwrap(),
    });
    l3.ensure_router(&spec).await.unwrap();
    assert!(
        reaches(&outside, &floating_ip).await,
        "the outside does not reach B's floating IP"
    );
    assert!(
        count(&guest_b, "from_outside").await > 0,
        "B did not get the outside's packets"
    );
    let from_gateway = count(&outside, "from_gateway").await;
    assert!(
        reaches(&guest_b, &scene.ip(254, 1)).await,
        "B does not reach the outside"
    );
    assert!(
        count(&outside, "from_floating").await > 0,
        "B did not appear as its floating IP"
    );
    assert_eq!(count(&outside, "from_gateway").await, from_gateway);
    assert_eq!(count(&outside, "from_tenants").await, 0);

    // (d) Floating IP removed: unreachable; B goes out as the gateway again.
    spec.floating_ips.clear();
    l3.ensure_router(&spec).await.unwrap();
    assert!(
        unreachable(&outside, &floating_ip).await,
        "the floating IP still answers"
    );
    let qg = names::router_gateway(&spec.gateway.as_ref().unwrap().port_id);
    assert_eq!(
        host::ipv4_addresses(Some(&router_ns), &qg).await.unwrap(),
        [format!("{gateway_ip}/24")]
    );
    assert!(reaches(&guest_b, &scene.ip(254, 1)).await);
    assert!(count(&outside, "from_gateway").await > from_gateway);

    // (f) Removal: no router namespace, no router veth, no process; twice.
    l3.remove_router(&spec.id).await.unwrap();
    l3.remove_router(&spec.id).await.unwrap();
    assert!(!host::netns_exists(&router_ns).await.unwrap());
    let mut expected: Vec<String> = [&spec.interfaces[0].network_id, &spec.interfaces[1].network_id]
        .into_iter()
        .chain([&spec.gateway.as_ref().unwrap().network_id])
        .map(|n| names::bridge(n))
        .chain((1..=2).chain([9]).map(|n| format!("gv{}{n}", scene.tag)))
        .chain((1..=2).chain([9]).map(|n| format!("qguest-{}-{n}", scene.tag)))
        .collect();
    expected.sort();
    assert_eq!(
        scene.kernel.leftovers().await,
        expected,
        "only the test's bridges and guests remain"
    );
    assert_eq!(scene.kernel.processes(), Vec::new());
    assert!(
        unreachable(&guest_a, &scene.ip(2, 10)).await,
        "A still reaches B without the router"
    );
}

#[tokio::test]
async fn ensuring_again_and_restarting_duplicates_nothing_and_drops_what_went() {
    skip_unless_able!(PROGRAMS, PACKAGES);
    let scene = Scene::new(82);
    let World {
        mut spec,
        guest_a,
        outside,
        ..
    } = world(&scene).await;
    let router_ns = names::router_namespace(&spec.id);
    spec.floating_ips.push(FloatingIpSpec {
        floating_ip: scene.ip(254, 50).parse().unwrap(),
        fixed_ip: scene.ip(1, 10).parse().unwrap(),
    });
    spec.routes.push(HostRoute {
        destination: "10.250.0.0/16".to_owned(),
        nexthop: scene.ip(2, 254).parse().unwrap(),
    });
    let qg = names::router_gateway(&spec.gateway.as_ref().unwrap().port_id);
    let qr_b = names::router_interface(&spec.interfaces[1].port_id);

    let l3 = L3::new();
    l3.ensure_router(&spec).await.unwrap();
    let first = router_nat(&router_ns).await;
    assert_eq!(first.0, [l3::NAT_TABLE], "exactly one table");
    assert_eq!(first.1.len(), 4, "DNAT twice, floating SNAT, SNAT: {:#?}", first.1);

    let one_of_each = async |l3: &L3| {
        l3.ensure_router(&spec).await.unwrap();
        assert_eq!(router_nat(&router_ns).await, first);
        let mut addresses = host::ipv4_addresses(Some(&router_ns), &qg).await.unwrap();
        addresses.sort();
        assert_eq!(
            addresses,
            [format!("{}/24", scene.ip(254, 2)), format!("{}/32", scene.ip(254, 50))]
        );
        for (interface, third) in spec.interfaces.iter().zip([1, 2]) {
            let qr = names::router_interface(&interface.port_id);
            let addresses = host::ipv4_addresses(Some(&router_ns), &qr).await.unwrap();
            assert_eq!(addresses, [format!("{}/24", scene.ip(third, 1))]);
        }
        let routes = host::routes(Some(&router_ns)).await.unwrap();
        let extra: Vec<_> = routes.iter().filter(|r| r.destination == "10.250.0.0/16").collect();
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].dev.as_deref(), Some(qr_b.as_str()));
        let links = host::links(Some(&router_ns), "q").await.unwrap();
        assert_eq!(links.len(), 3, "{links:?}");
        assert_eq!(host::links(None, &format!("tap{}", scene.tag)).await.unwrap().len(), 3);
    };
    one_of_each(&l3).await;
    one_of_each(&L3::new()).await;
    assert!(
        reaches(&outside, &scene.ip(254, 50)).await,
        "A's floating IP after the restart"
    );
    assert!(reaches(&guest_a, &scene.ip(254, 1)).await);

    // What the spec drops goes: B's interface (both veth ends), the floating
    // IP's address and rules, the extra route (its nexthop was on B).
    let removed = spec.interfaces.pop().unwrap();
    spec.floating_ips.clear();
    spec.routes.clear();
    let fresh = L3::new();
    fresh.ensure_router(&spec).await.unwrap();
    assert!(host::link(Some(&router_ns), &qr_b).await.unwrap().is_none());
    assert!(host::link(None, &names::tap(&removed.port_id)).await.unwrap().is_none());
    assert_eq!(
        host::ipv4_addresses(Some(&router_ns), &qg).await.unwrap(),
        [format!("{}/24", scene.ip(254, 2))]
    );
    let (tables, rules) = router_nat(&router_ns).await;
    assert_eq!(tables, [l3::NAT_TABLE]);
    assert_eq!(rules.len(), 1, "only the SNAT: {rules:#?}");
    assert!(
        host::routes(Some(&router_ns))
            .await
            .unwrap()
            .iter()
            .all(|r| r.destination != "10.250.0.0/16")
    );
    assert!(unreachable(&outside, &scene.ip(254, 50)).await);
    assert!(reaches(&guest_a, &scene.ip(254, 1)).await, "A still gets out");

    // Without a gateway: no qg, no default route, a table with no rules.
    spec.gateway = None;
    fresh.ensure_router(&spec).await.unwrap();
    assert!(host::link(Some(&router_ns), &qg).await.unwrap().is_none());
    let routes = host::routes(Some(&router_ns)).await.unwrap();
    assert!(routes.iter().all(|r| r.destination != "default"), "{routes:?}");
    assert_eq!(
        router_nat(&router_ns).await,
        (vec![l3::NAT_TABLE.to_owned()], Vec::new())
    );

    fresh.remove_router(&spec.id).await.unwrap();
    assert!(!host::netns_exists(&router_ns).await.unwrap());
    assert!(
        scene
            .kernel
            .leftovers()
            .await
            .iter()
            .all(|n| !n.starts_with("tap") && !n.starts_with("qrouter-")),
        "router leftovers"
    );
}
