//! Security groups with the real kernel: one bridge, "guest" namespaces
//! plugged into it by veths whose bridge ends (`tap…`) stand for the
//! guests' taps, the firewall's iptables chains in the root namespace
//! (br_netfilter hands the bridged packets to them), and real packets
//! (`busybox ping`, `busybox nc`).
//!
//! Needs root, `iptables` (Debian `iptables`, nf_tables backend),
//! `busybox` (`busybox-static`) and `net.bridge.bridge-nf-call-iptables=1`
//! in the root namespace; each test prints why it is skipped otherwise.
//! Every kernel name a test makes carries its own random tag — its
//! interfaces and namespaces, and its chains, `oxi<tag>-…`, so that tests
//! running in parallel, and a cloud running on the host (chains `oxi-…`),
//! never touch each other's. The rules match only the test's own taps. A
//! [`Scene`] guard removes the chains and the jumps to them, then the
//! namespaces and interfaces, when the test ends, passed or failed.
//! Addresses (10.77.x) exist only inside the tests' namespaces.

mod common;

use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use network_agent::{Direction, Ethertype, Firewall, PortFirewall, Protocol, SecurityGroupRule, firewall, host, names};

/// Prefixes of every kernel name the tests make; a tag follows each.
const OUR_PREFIXES: &[&str] = &["brq", "tap", "ge", "qguest-"];
const PROGRAMS: [&str; 4] = ["ip", "iptables-save", "iptables-restore", "busybox"];
const PACKAGES: &str = "iproute2, iptables, busybox-static";
const BRIDGE_NF: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/// Returns from the test when it cannot run here, saying why.
macro_rules! skip_unless_bridged {
    () => {
        skip_unless_able!(PROGRAMS, PACKAGES);
        if !std::fs::read_to_string(BRIDGE_NF).is_ok_and(|v| v.trim() == "1") {
            eprintln!("skipping: {BRIDGE_NF} is not 1 (br_netfilter off: bridged packets skip iptables)");
            return;
        }
    };
}

/// Removes the chains `<prefix>-…` and the jumps to them, synchronously.
struct Chains {
    prefix: String,
}

impl Drop for Chains {
    fn drop(&mut self) {
        let Ok(saved) = Command::new("iptables-save").args(["-t", "filter"]).output() else {
            return;
        };
        let Some(script) = firewall::removal_script(&self.prefix, &String::from_utf8_lossy(&saved.stdout)) else {
            return;
        };
        if let Ok(mut child) = Command::new("iptables-restore")
            .args(["--noflush", "-w", "10"])
            .stdin(Stdio::piped())
            .spawn()
        {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(script.as_bytes());
            }
            let _ = child.wait();
        }
    }
}

/// One test's world. Fields drop in order: the chains first, then every
/// process, namespace and interface carrying the tag.
struct Scene {
    _chains: Chains,
    kernel: common::Tagged,
    tag: String,
    firewall: Firewall,
    bridge: String,
}

impl Scene {
    async fn new() -> Scene {
        let tag = uuid::Uuid::new_v4().to_string()[..6].to_owned();
        let prefix = format!("oxi{tag}");
        let kernel = common::Tagged::new(tag.clone(), OUR_PREFIXES);
        let bridge = names::bridge(&kernel.id());
        let scene = Scene {
            _chains: Chains { prefix: prefix.clone() },
            kernel,
            tag,
            firewall: Firewall::with_prefix(&prefix).unwrap(),
            bridge,
        };
        host::bridge_add(&scene.bridge).await.unwrap();
        host::link_set(None, &scene.bridge, &up()).await.unwrap();
        scene
    }

    /// A guest: namespace `qguest-<tag>-<n>` holding `ge<tag><n>` with the
    /// port's MAC and `10.77.1.<n>0/24`; the veth's other end is the port's
    /// tap on the bridge.
    async fn guest(&self, n: u8) -> Guest {
        let port_id = format!("{}{n:02}-0000-4000-8000-000000000000", self.tag);
        let netns = format!("qguest-{}-{n}", self.tag);
        let inner = format!("ge{}{n}", self.tag);
        let tap = names::tap(&port_id);
        let mac = format!("fa:16:3e:77:00:{n:02x}");
        let ip = format!("10.77.1.{n}0");
        host::netns_add(&netns).await.unwrap();
        host::veth_add(&tap, &inner, Some(&netns)).await.unwrap();
        let on_bridge = host::LinkSettings {
            master: Some(&self.bridge),
            up: true,
            ..Default::default()
        };
        host::link_set(None, &tap, &on_bridge).await.unwrap();
        let guest_side = host::LinkSettings {
            mac: Some(&mac),
            up: true,
            ..Default::default()
        };
        host::link_set(Some(&netns), &inner, &guest_side).await.unwrap();
        host::address_add(Some(&netns), &inner, &format!("{ip}/24"))
            .await
            .unwrap();
        Guest {
            netns,
            inner,
            ip: ip.clone(),
            port: PortFirewall {
                port_id,
                tap,
                mac,
                fixed_ips: vec![ip.parse().unwrap()],
                port_security_enabled: true,
                allowed_address_pairs: Vec::new(),
                rules: Vec::new(),
            },
        }
    }

    /// Our lines of `iptables-save`: the chains `<prefix>-…`, their rules
    /// and the jumps to them.
    async fn saved(&self) -> Vec<String> {
        let prefix = format!("{}-", self.firewall.prefix());
        host::iptables_save("filter")
            .await
            .unwrap()
            .lines()
            .filter(|l| l.contains(&prefix))
            .map(str::to_owned)
            .collect()
    }
}

struct Guest {
    netns: String,
    inner: String,
    ip: String,
    port: PortFirewall,
}

fn up() -> host::LinkSettings<'static> {
    host::LinkSettings {
        up: true,
        ..Default::default()
    }
}

fn rule(direction: Direction) -> SecurityGroupRule {
    SecurityGroupRule {
        direction,
        ethertype: Ethertype::IPv4,
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_group_ips: None,
    }
}

/// Neutron's default group for ports whose members are `members`: egress
/// anywhere, ingress from the group's members only.
fn default_group(members: &[&Guest]) -> Vec<SecurityGroupRule> {
    let ips: Vec<IpAddr> = members.iter().map(|g| g.ip.parse().unwrap()).collect();
    vec![
        rule(Direction::Egress),
        SecurityGroupRule {
            remote_group_ips: Some(ips),
            ..rule(Direction::Ingress)
        },
    ]
}

/// A group open both ways.
fn open_group() -> Vec<SecurityGroupRule> {
    vec![rule(Direction::Egress), rule(Direction::Ingress)]
}

fn icmp_from_anywhere() -> SecurityGroupRule {
    SecurityGroupRule {
        protocol: Some(Protocol::Icmp),
        remote_ip_prefix: Some("0.0.0.0/0".to_owned()),
        ..rule(Direction::Ingress)
    }
}

/// Runs `args` in `netns`; its output.
async fn exec(netns: &str, args: &[&str]) -> std::process::Output {
    tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new("ip")
            .args(["netns", "exec", netns])
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("command timed out")
    .unwrap()
}

/// Whether one echo request from `netns` to `to` (from `source` when
/// given) is answered; tries a few times (the first packets wait for ARP).
async fn reaches(netns: &str, to: &str, source: Option<&str>) -> bool {
    let mut args = vec!["busybox", "ping", "-c", "1", "-W", "1"];
    if let Some(source) = source {
        args.extend(["-I", source]);
    }
    args.push(to);
    for _ in 0..5 {
        if exec(netns, &args).await.status.success() {
            return true;
        }
    }
    false
}

/// Whether none of two echo requests is answered.
async fn unreachable(netns: &str, to: &str, source: Option<&str>) -> bool {
    let mut args = vec!["busybox", "ping", "-c", "2", "-W", "1"];
    if let Some(source) = source {
        args.extend(["-I", source]);
    }
    args.push(to);
    !exec(netns, &args).await.status.success()
}

/// Whether a TCP connection from `netns` to `to:port` is set up within 2 s.
async fn connects(netns: &str, to: &str, port: u16) -> bool {
    let port = port.to_string();
    exec(netns, &["timeout", "5", "busybox", "nc", "-w", "2", to, &port])
        .await
        .status
        .success()
}

/// A TCP server in `netns` on `port` that accepts and closes each
/// connection (killed with its namespace by the guard).
fn listen(netns: &str, port: u16) -> tokio::process::Child {
    tokio::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            netns,
            "busybox",
            "nc",
            "-ll",
            "-p",
            &port.to_string(),
            "-e",
            "true",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn security_groups_allow_members_and_rules_statefully() {
    skip_unless_bridged!();
    let started = Instant::now();
    let scene = Scene::new().await;
    let (mut a, mut b, mut c) = (scene.guest(1).await, scene.guest(2).await, scene.guest(3).await);
    let group = default_group(&[&a, &b]);
    a.port.rules = group.clone();
    b.port.rules = group.clone();
    c.port.rules = open_group();
    scene
        .firewall
        .sync(&[a.port.clone(), b.port.clone(), c.port.clone()])
        .await
        .unwrap();

    // (a) A member reaches A; a guest outside the group does not.
    assert!(reaches(&b.netns, &a.ip, None).await, "B (member) cannot ping A");
    assert!(unreachable(&c.netns, &a.ip, None).await, "C (not a member) pings A");

    // (b) A reaches C, and C's replies come back although nothing lets C
    // start a flow to A.
    assert!(reaches(&a.netns, &c.ip, None).await, "A gets no replies from C");
    assert!(unreachable(&c.netns, &a.ip, None).await);

    // (c) A rule admitting ICMP from anywhere lets C in; without it, C is
    // out again.
    a.port.rules.push(icmp_from_anywhere());
    let ports = |a: &Guest| [a.port.clone(), b.port.clone(), c.port.clone()];
    scene.firewall.sync(&ports(&a)).await.unwrap();
    assert!(reaches(&c.netns, &a.ip, None).await, "the ICMP rule does not let C in");
    a.port.rules.pop();
    scene.firewall.sync(&ports(&a)).await.unwrap();
    assert!(
        unreachable(&c.netns, &a.ip, None).await,
        "C still pings A without the rule"
    );

    // (d) One TCP port opened to anywhere: C connects to it and not to the
    // next one, which a member (B) reaches, so something listens there.
    let _servers = [listen(&a.netns, 8080), listen(&a.netns, 8081)];
    a.port.rules.push(SecurityGroupRule {
        protocol: Some(Protocol::Tcp),
        port_range_min: Some(8080),
        port_range_max: Some(8080),
        remote_ip_prefix: Some("0.0.0.0/0".to_owned()),
        ..rule(Direction::Ingress)
    });
    scene.firewall.sync(&ports(&a)).await.unwrap();
    let mut open = false;
    for _ in 0..20 {
        open = connects(&b.netns, &a.ip, 8081).await;
        if open {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(open, "B (member) cannot connect to A:8081: is the server up?");
    assert!(connects(&c.netns, &a.ip, 8080).await, "C cannot connect to A:8080");
    assert!(!connects(&c.netns, &a.ip, 8081).await, "C connects to A:8081");
    eprintln!("filtering test took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_guest_cannot_send_from_an_address_it_does_not_own() {
    skip_unless_bridged!();
    let started = Instant::now();
    let scene = Scene::new().await;
    let (mut a, mut c) = (scene.guest(1).await, scene.guest(3).await);
    a.port.rules = open_group();
    c.port.rules = open_group();
    scene.firewall.sync(&[a.port.clone(), c.port.clone()]).await.unwrap();
    let spoofed = "10.77.1.99";
    host::address_add(Some(&a.netns), &a.inner, &format!("{spoofed}/24"))
        .await
        .unwrap();

    // (e) From its own address A reaches C; from another, nothing leaves.
    assert!(reaches(&a.netns, &c.ip, Some(&a.ip)).await, "A cannot ping C");
    assert!(
        unreachable(&a.netns, &c.ip, Some(spoofed)).await,
        "A pings C from an address it does not own"
    );
    // With port security off, anything goes.
    a.port.port_security_enabled = false;
    scene.firewall.sync(&[a.port.clone(), c.port.clone()]).await.unwrap();
    assert!(
        reaches(&a.netns, &c.ip, Some(spoofed)).await,
        "port security off, A still cannot send from another address"
    );
    // And back on: the address pair makes the address A's.
    a.port.port_security_enabled = true;
    a.port.allowed_address_pairs = vec![network_agent::AddressPair {
        ip_address: spoofed.to_owned(),
        mac_address: None,
    }];
    scene.firewall.sync(&[a.port.clone(), c.port.clone()]).await.unwrap();
    assert!(
        reaches(&a.netns, &c.ip, Some(spoofed)).await,
        "an allowed address pair does not let A send from it"
    );
    a.port.allowed_address_pairs.clear();
    scene.firewall.sync(&[a.port.clone(), c.port.clone()]).await.unwrap();
    assert!(unreachable(&a.netns, &c.ip, Some(spoofed)).await);
    eprintln!("anti-spoofing test took {:?}", started.elapsed());
}

#[tokio::test]
async fn syncs_converge_and_removal_leaves_nothing() {
    skip_unless_bridged!();
    let started = Instant::now();
    let scene = Scene::new().await;
    let (mut a, mut b) = (scene.guest(1).await, scene.guest(2).await);
    let group = default_group(&[&a, &b]);
    a.port.rules = group.clone();
    b.port.rules = group;
    let ports = [a.port.clone(), b.port.clone()];
    let prefix = scene.firewall.prefix().to_owned();

    // (f) Once, twice, and from a fresh instance: the same lines, each
    // rule once, one jump from FORWARD and from INPUT.
    scene.firewall.sync(&ports).await.unwrap();
    let first = scene.saved().await;
    scene.firewall.sync(&ports).await.unwrap();
    assert_eq!(scene.saved().await, first);
    Firewall::with_prefix(&prefix).unwrap().sync(&ports).await.unwrap();
    assert_eq!(scene.saved().await, first);
    let wanted = firewall::chains(&prefix, &ports).unwrap();
    for chain in &wanted {
        let added: Vec<&String> = first
            .iter()
            .filter(|l| l.starts_with(&format!("-A {} ", chain.name)))
            .collect();
        assert_eq!(added.len(), chain.rules.len(), "{}: {added:#?}", chain.name);
    }
    let rules: Vec<&String> = first.iter().filter(|l| l.starts_with("-A ")).collect();
    let mut unique = rules.clone();
    unique.sort();
    unique.dedup();
    // Per chain the rules differ; across chains a line names its chain.
    assert_eq!(unique.len(), rules.len(), "{rules:#?}");
    for top in ["FORWARD", "INPUT"] {
        let jump = format!("-A {top} -j {prefix}-{top}");
        assert_eq!(first.iter().filter(|l| **l == jump).count(), 1, "{first:#?}");
    }
    assert!(reaches(&a.netns, &b.ip, None).await, "A cannot ping B");

    // A port gone: its chains go with the next sync.
    scene.firewall.sync(std::slice::from_ref(&a.port)).await.unwrap();
    let short = &b.port.port_id[..10];
    assert!(
        !scene.saved().await.iter().any(|l| l.contains(short)),
        "{:#?}",
        scene.saved().await
    );

    // (g) Removal leaves no chain of ours, no jump; removing again is fine.
    scene.firewall.remove().await.unwrap();
    assert_eq!(scene.saved().await, Vec::<String>::new());
    scene.firewall.remove().await.unwrap();
    // Unfiltered again.
    assert!(reaches(&a.netns, &b.ip, None).await);
    drop(scene);
    eprintln!("convergence test took {:?}", started.elapsed());
}

#[tokio::test]
async fn the_guard_removes_our_chains_and_interfaces() {
    skip_unless_bridged!();
    let scene = Scene::new().await;
    let a = scene.guest(1).await;
    scene.firewall.sync(std::slice::from_ref(&a.port)).await.unwrap();
    let prefix = format!("{}-", scene.firewall.prefix());
    let tag = scene.tag.clone();
    assert!(!scene.saved().await.is_empty());
    assert!(!scene.kernel.leftovers().await.is_empty());
    drop(scene);
    let saved = host::iptables_save("filter").await.unwrap();
    assert!(!saved.contains(&prefix), "{saved}");
    let left = common::Tagged::new(tag, OUR_PREFIXES).leftovers().await;
    assert_eq!(left, Vec::<String>::new());
}
