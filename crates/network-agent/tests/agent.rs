//! The agent on the bus with the real kernel: the network service in
//! process (`test-cloud`), a [`NetworkAgent`] on the same in-process bus,
//! resources made and deleted through the HTTP API, and the kernel
//! watched for bridges, taps, dnsmasq, router namespaces and port status.
//!
//! Needs root, iproute2, dnsmasq (Debian `dnsmasq-base`), nftables and
//! iptables; prints why it is skipped otherwise. The agent owns this
//! host's `brq…` bridges and `qdhcp-`/`qrouter-` namespaces: it removes
//! those the service does not know, so this test must not run next to
//! another network agent (cargo runs test binaries one after another).
//! A [`Leftovers`] guard removes what the test's resources would leave,
//! passed or failed.

#[allow(dead_code, reason = "only the skip check is used here")]
mod common;

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bus::Bus;
use network_agent::{AgentConfig, NetworkAgent, firewall, host, names};
use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

const PROGRAMS: [&str; 5] = ["ip", "dnsmasq", "nft", "iptables-save", "iptables-restore"];
const PACKAGES: &str = "iproute2, dnsmasq-base, nftables, iptables";
const HOST: &str = "agent-test-host";
const WAIT: Duration = Duration::from_secs(15);

/// Names made from the test's resource ids, removed on drop.
struct Leftovers {
    networks: Mutex<HashSet<String>>,
    ports: Mutex<HashSet<String>>,
    routers: Mutex<HashSet<String>>,
    firewall_prefix: String,
}

fn run(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let mut namespaces: Vec<String> = Vec::new();
        let mut links: Vec<String> = Vec::new();
        for n in self.networks.lock().unwrap().iter() {
            namespaces.push(names::dhcp_namespace(n));
            links.push(names::bridge(n));
        }
        for r in self.routers.lock().unwrap().iter() {
            namespaces.push(names::router_namespace(r));
        }
        for p in self.ports.lock().unwrap().iter() {
            links.push(names::tap(p));
        }
        for ns in &namespaces {
            for pid in run("ip", &["netns", "pids", ns]).split_whitespace() {
                run("kill", &["-KILL", pid]);
            }
            for line in run("ip", &["-n", ns, "-o", "link", "show"]).lines() {
                if let Some(name) = line.split(':').nth(1).map(|n| n.trim().split('@').next().unwrap_or(""))
                    && name != "lo"
                    && !name.is_empty()
                {
                    run("ip", &["-n", ns, "link", "delete", "dev", name]);
                }
            }
            run("ip", &["netns", "delete", ns]);
        }
        for l in &links {
            run("ip", &["link", "delete", "dev", l]);
        }
        let saved = run("iptables-save", &["-t", "filter"]);
        if let Some(script) = firewall::removal_script(&self.firewall_prefix, &saved) {
            let mut child = Command::new("iptables-restore")
                .arg("--noflush")
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
            let _ = child.wait();
        }
    }
}

async fn api(cloud: &TestCloud, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}/v2.0/{path}", cloud.network_url.as_deref().unwrap());
    let mut req = cloud.http.request(method, url).header("x-auth-token", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn create(cloud: &TestCloud, token: &str, collection: &str, key: &str, body: Value) -> Value {
    let (s, v) = api(cloud, Method::POST, collection, token, Some(json!({ key: body }))).await;
    assert_eq!(s, 201, "{v}");
    v[key].clone()
}

async fn delete(cloud: &TestCloud, token: &str, path: &str) {
    let (s, v) = api(cloud, Method::DELETE, path, token, None).await;
    assert_eq!(s, 204, "DELETE {path}: {v}");
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Waits until `check` holds, or fails naming `what`.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn link_exists(name: &str) -> bool {
    host::link(None, name).await.unwrap().is_some()
}

async fn netns_exists(name: &str) -> bool {
    host::netns_exists(name).await.unwrap()
}

fn dnsmasq_in(netns: &str) -> bool {
    run("ip", &["netns", "pids", netns])
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .any(|p| host::process_cmdline(p).is_some_and(|c| c.first().is_some_and(|a| a.ends_with("dnsmasq"))))
}

async fn port_status(cloud: &TestCloud, token: &str, port_id: &str) -> String {
    let (_, v) = api(cloud, Method::GET, &format!("ports/{port_id}"), token, None).await;
    v["port"]["status"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_makes_the_kernel_follow_the_api() {
    skip_unless_able!(PROGRAMS, PACKAGES);
    let started = Instant::now();
    let cloud = TestCloud::start().await.with_network().await;
    let service = cloud.network.clone().unwrap();
    let bus = Bus::in_process();
    service.serve_agents(bus.clone()).await.unwrap();
    let admin = cloud.admin_token().await;

    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let leftovers = Leftovers {
        networks: Mutex::default(),
        ports: Mutex::default(),
        routers: Mutex::default(),
        firewall_prefix: format!("oxiat{tag}"),
    };
    let state = tempfile::Builder::new().prefix("network-agent-bus-").tempdir().unwrap();
    // dnsmasq drops root and reads its hosts file again on SIGHUP.
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut config = AgentConfig::new(HOST, state.path());
    config.report_interval = Duration::from_millis(300);
    // Long: what moves the agent in this test is the service's notices.
    config.resync_interval = Duration::from_secs(300);
    config.firewall_prefix = Some(leftovers.firewall_prefix.clone());
    let agent = NetworkAgent::start(config.clone(), bus.clone()).await.unwrap();
    assert_eq!(agent.problem(), None);

    // The agent shows up, alive, as the three agents it plays.
    until("three live agents", || async {
        let (_, v) = api(&cloud, Method::GET, &format!("agents?host={HOST}"), &admin, None).await;
        let list = v["agents"].as_array().cloned().unwrap_or_default();
        list.len() == 3 && list.iter().all(|a| a["alive"] == true)
    })
    .await;

    // A network, a DHCP subnet and a port bound to this host.
    let net = create(&cloud, &admin, "networks", "network", json!({"name": "agent-net"})).await;
    let nid = id(&net);
    leftovers.networks.lock().unwrap().insert(nid.clone());
    let sub = create(
        &cloud,
        &admin,
        "subnets",
        "subnet",
        json!({"network_id": nid, "cidr": "10.231.0.0/24", "ip_version": 4}),
    )
    .await;
    let vm = create(
        &cloud,
        &admin,
        "ports",
        "port",
        json!({"network_id": nid, "binding:host_id": HOST, "device_owner": "compute:nova"}),
    )
    .await;
    let pid = id(&vm);
    leftovers.ports.lock().unwrap().insert(pid.clone());
    let mac = vm["mac_address"].as_str().unwrap().to_owned();
    let ip = vm["fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned();
    assert_eq!(vm["status"], "DOWN");

    let bridge = names::bridge(&nid);
    let tap = names::tap(&pid);
    let dhcp_ns = names::dhcp_namespace(&nid);
    until("the bridge", || link_exists(&bridge)).await;
    until("the port's tap on the bridge", || async {
        host::link(None, &tap)
            .await
            .unwrap()
            .is_some_and(|l| l.master.as_deref() == Some(bridge.as_str()))
    })
    .await;
    until("dnsmasq in the DHCP namespace", || async { dnsmasq_in(&dhcp_ns) }).await;
    let hosts_file = state.path().join("dhcp").join(&nid).join("host");
    until("the port in dnsmasq's hosts", || async {
        std::fs::read_to_string(&hosts_file).is_ok_and(|h| h.contains(&mac) && h.contains(&ip))
    })
    .await;
    until("the port ACTIVE", || async {
        port_status(&cloud, &admin, &pid).await == "ACTIVE"
    })
    .await;

    // The DHCP port the agent asked for: bound here, ACTIVE, its veth up.
    let (_, v) = api(
        &cloud,
        Method::GET,
        &format!("ports?network_id={nid}&device_owner=network:dhcp"),
        &admin,
        None,
    )
    .await;
    let dhcp_ports = v["ports"].as_array().unwrap().clone();
    assert_eq!(dhcp_ports.len(), 1, "{v}");
    let dhcp_port = id(&dhcp_ports[0]);
    leftovers.ports.lock().unwrap().insert(dhcp_port.clone());
    assert_eq!(dhcp_ports[0]["fixed_ips"][0]["subnet_id"], sub["id"]);
    until("the DHCP port ACTIVE", || async {
        port_status(&cloud, &admin, &dhcp_port).await == "ACTIVE"
    })
    .await;
    until("the agent's report counting the network", || async {
        let path = format!("agents?host={HOST}&agent_type=DHCP%20agent");
        let (_, v) = api(&cloud, Method::GET, &path, &admin, None).await;
        v["agents"][0]["configurations"]["networks"] == 1
    })
    .await;

    // Admin down: unplugged and DOWN; up again: back.
    let (s, _) = api(
        &cloud,
        Method::PUT,
        &format!("ports/{pid}"),
        &admin,
        Some(json!({"port": {"admin_state_up": false}})),
    )
    .await;
    assert_eq!(s, 200);
    until("the tap gone", || async { !link_exists(&tap).await }).await;
    until("the port DOWN", || async {
        port_status(&cloud, &admin, &pid).await == "DOWN"
    })
    .await;

    // Deleting the port and the network removes the tap, dnsmasq, its
    // namespace and files, and the bridge.
    delete(&cloud, &admin, &format!("ports/{pid}")).await;
    delete(&cloud, &admin, &format!("networks/{nid}")).await;
    until("the DHCP namespace gone", || async { !netns_exists(&dhcp_ns).await }).await;
    until("the bridge gone", || async { !link_exists(&bridge).await }).await;
    assert!(!dnsmasq_in(&dhcp_ns));
    until("dnsmasq's files gone", || async { !hosts_file.exists() }).await;
    assert!(!link_exists(&names::tap(&dhcp_port)).await);

    // A router with a gateway on an external network and an interface on
    // a tenant network, and a floating IP for a port behind it: the
    // router's namespace, the gateway's and the floating IP's addresses on
    // `qg-`, the DNAT rule, the floating IP ACTIVE. Deleted: all gone.
    let ext = create(
        &cloud,
        &admin,
        "networks",
        "network",
        json!({"name": "agent-public", "router:external": true}),
    )
    .await;
    let ext_id = id(&ext);
    leftovers.networks.lock().unwrap().insert(ext_id.clone());
    create(
        &cloud,
        &admin,
        "subnets",
        "subnet",
        json!({"network_id": ext_id, "cidr": "172.31.231.0/24", "ip_version": 4, "enable_dhcp": false}),
    )
    .await;
    let inner = create(&cloud, &admin, "networks", "network", json!({"name": "agent-inner"})).await;
    let inner_id = id(&inner);
    leftovers.networks.lock().unwrap().insert(inner_id.clone());
    let inner_sub = create(
        &cloud,
        &admin,
        "subnets",
        "subnet",
        json!({"network_id": inner_id, "cidr": "10.233.0.0/24", "ip_version": 4, "enable_dhcp": false}),
    )
    .await;
    let guest = create(
        &cloud,
        &admin,
        "ports",
        "port",
        json!({"network_id": inner_id, "binding:host_id": HOST, "device_owner": "compute:nova"}),
    )
    .await;
    let guest_id = id(&guest);
    leftovers.ports.lock().unwrap().insert(guest_id.clone());
    let router = create(
        &cloud,
        &admin,
        "routers",
        "router",
        json!({"name": "agent-router", "external_gateway_info": {"network_id": ext_id}}),
    )
    .await;
    let rid = id(&router);
    leftovers.routers.lock().unwrap().insert(rid.clone());
    let gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = api(
        &cloud,
        Method::PUT,
        &format!("routers/{rid}/add_router_interface"),
        &admin,
        Some(json!({"subnet_id": id(&inner_sub)})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let fip = create(
        &cloud,
        &admin,
        "floatingips",
        "floatingip",
        json!({"floating_network_id": ext_id, "port_id": guest_id}),
    )
    .await;
    let fip_id = id(&fip);
    let fip_ip = fip["floating_ip_address"].as_str().unwrap().to_owned();
    let router_ns = names::router_namespace(&rid);
    let qg_addresses = || async {
        if !netns_exists(&router_ns).await {
            return Vec::new();
        }
        match host::links(Some(&router_ns), "qg-").await.unwrap().first() {
            Some(qg) => host::ipv4_addresses(Some(&router_ns), &qg.name).await.unwrap(),
            None => Vec::new(),
        }
    };
    until("the gateway and floating addresses on qg-", || async {
        let a = qg_addresses().await;
        a.contains(&format!("{gw_ip}/24")) && a.contains(&format!("{fip_ip}/32"))
    })
    .await;
    until("the router's interface on the tenant subnet", || async {
        let links = host::links(Some(&router_ns), "qr-").await.unwrap();
        match links.first() {
            Some(qr) => host::ipv4_addresses(Some(&router_ns), &qr.name)
                .await
                .unwrap()
                .contains(&"10.233.0.1/24".to_owned()),
            None => false,
        }
    })
    .await;
    let guest_ip = guest["fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned();
    // The NAT table is the last thing a router sync writes.
    until("the floating IP's DNAT in the router's NAT table", || async {
        let table = network_agent::l3::NAT_TABLE;
        let nat = run(
            "ip",
            &["netns", "exec", &router_ns, "nft", "list", "table", "ip", table],
        );
        nat.contains(&fip_ip) && nat.contains(&guest_ip)
    })
    .await;
    until("the floating IP ACTIVE", || async {
        let (_, v) = api(&cloud, Method::GET, &format!("floatingips/{fip_id}"), &admin, None).await;
        v["floatingip"]["status"] == "ACTIVE"
    })
    .await;
    until("the guest port ACTIVE", || async {
        port_status(&cloud, &admin, &guest_id).await == "ACTIVE"
    })
    .await;

    delete(&cloud, &admin, &format!("floatingips/{fip_id}")).await;
    until("the floating address gone", || async {
        !qg_addresses().await.contains(&format!("{fip_ip}/32"))
    })
    .await;
    let (s, v) = api(
        &cloud,
        Method::PUT,
        &format!("routers/{rid}/remove_router_interface"),
        &admin,
        Some(json!({"subnet_id": id(&inner_sub)})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = api(
        &cloud,
        Method::PUT,
        &format!("routers/{rid}"),
        &admin,
        Some(json!({"router": {"external_gateway_info": {}}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    delete(&cloud, &admin, &format!("routers/{rid}")).await;
    until("the router's namespace gone", || async {
        !netns_exists(&router_ns).await
    })
    .await;
    delete(&cloud, &admin, &format!("ports/{guest_id}")).await;
    delete(&cloud, &admin, &format!("networks/{inner_id}")).await;
    delete(&cloud, &admin, &format!("networks/{ext_id}")).await;
    until("the bridges gone", || async {
        !link_exists(&names::bridge(&ext_id)).await && !link_exists(&names::bridge(&inner_id)).await
    })
    .await;
    assert!(!link_exists(&names::tap(&guest_id)).await);

    // An agent restarted over a host whose resources were deleted while
    // it was away removes them on its first pass.
    let late = create(&cloud, &admin, "networks", "network", json!({"name": "agent-late"})).await;
    let late_id = id(&late);
    leftovers.networks.lock().unwrap().insert(late_id.clone());
    create(
        &cloud,
        &admin,
        "subnets",
        "subnet",
        json!({"network_id": late_id, "cidr": "10.234.0.0/24", "ip_version": 4}),
    )
    .await;
    let late_ns = names::dhcp_namespace(&late_id);
    until("dnsmasq for the late network", || async { dnsmasq_in(&late_ns) }).await;
    agent.stop();
    delete(&cloud, &admin, &format!("networks/{late_id}")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(netns_exists(&late_ns).await, "nothing removes it while no agent runs");
    let agent = NetworkAgent::start(config, bus.clone()).await.unwrap();
    until("the late network's DHCP gone", || async {
        !netns_exists(&late_ns).await
    })
    .await;
    until("the late network's bridge gone", || async {
        !link_exists(&names::bridge(&late_id)).await
    })
    .await;

    agent.stop();
    service.stop_serving_agents();
    eprintln!("agent test took {:?}", started.elapsed());
    cloud.stop().await;
}

#[tokio::test]
async fn without_root_or_a_program_the_agent_reports_and_leaves_ports_down() {
    let cloud = TestCloud::start().await.with_network().await;
    let service = cloud.network.clone().unwrap();
    let bus = Bus::in_process();
    service.serve_agents(bus.clone()).await.unwrap();
    let admin = cloud.admin_token().await;
    let state = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::new(HOST, state.path());
    config.report_interval = Duration::from_millis(200);
    config
        .required_programs
        .push(("oxistack-no-such-program".into(), "none".into()));
    let agent = NetworkAgent::start(config, bus).await.unwrap();
    // Not root, or (as root) the missing program.
    let problem = agent.problem().expect("a problem").to_owned();
    assert!(
        problem.contains("root") || problem.contains("oxistack-no-such-program"),
        "{problem}"
    );
    until("the agent reporting its problem", || async {
        let (_, v) = api(&cloud, Method::GET, "agents", &admin, None).await;
        v["agents"][0]["configurations"]["error"] == problem.as_str()
    })
    .await;
    let net = create(&cloud, &admin, "networks", "network", json!({"name": "n"})).await;
    create(
        &cloud,
        &admin,
        "subnets",
        "subnet",
        json!({"network_id": id(&net), "cidr": "10.232.0.0/24", "ip_version": 4}),
    )
    .await;
    let vm = create(
        &cloud,
        &admin,
        "ports",
        "port",
        json!({"network_id": id(&net), "binding:host_id": HOST}),
    )
    .await;
    // A pass after the port exists: it is reported DOWN, nothing is built.
    let report = agent.sync_now().await;
    assert!(report.down.contains(&id(&vm)), "{report:?}");
    assert!(report.up.is_empty());
    assert_eq!(port_status(&cloud, &admin, &id(&vm)).await, "DOWN");
    assert!(!link_exists(&names::bridge(&id(&net))).await);
    agent.stop();
    cloud.stop().await;
}
