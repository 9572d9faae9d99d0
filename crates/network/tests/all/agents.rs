//! The agent contract without a kernel: `/v2.0/agents` fed by
//! `report_state` heartbeats on the bus, and the RPC methods an agent
//! calls (`get_host_state`, `ensure_dhcp_port`, `update_port_status`),
//! plus the `state_changed` notice after API writes — on every database
//! the machine offers.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, BusError, Handler, RemoteError};
use network_agent::rpc::{self, AgentState, HostQuery, HostState};
use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};
use tokio::sync::mpsc;

use crate::{assert_error, call, id, network, port, project_user, subnet};

const T: Duration = Duration::from_secs(5);

async fn heartbeat(bus: &Bus, host: &str, start_flag: bool) {
    for (agent_type, topic) in rpc::AGENT_TYPES {
        let s = AgentState {
            agent_type: (*agent_type).into(),
            binary: rpc::BINARY.into(),
            host: host.into(),
            topic: (*topic).into(),
            configurations: json!({"devices": 3}),
            start_flag,
        };
        bus.cast(rpc::SERVICE_TOPIC, "report_state", &s).await.unwrap();
    }
}

/// Polls `GET agents?<query>` until `n` agents are listed.
async fn agents_listed(cloud: &TestCloud, admin: &str, query: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let (s, v) = call(cloud, Method::GET, &format!("agents{query}"), admin, None).await;
        assert_eq!(s, 200, "{v}");
        let list = v["agents"].as_array().unwrap().clone();
        if list.len() == n || tokio::time::Instant::now() > deadline {
            assert_eq!(list.len(), n, "{v}");
            return list;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn state(bus: &Bus, host: &str) -> HostState {
    bus.call(
        rpc::SERVICE_TOPIC,
        "get_host_state",
        &HostQuery { host: host.into() },
        T,
    )
    .await
    .unwrap()
}

async fn port_status(cloud: &TestCloud, admin: &str, port_id: &str, want: &str) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let (_, v) = call(cloud, Method::GET, &format!("ports/{port_id}"), admin, None).await;
        if v["port"]["status"] == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "port never {want}: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Notices(mpsc::UnboundedSender<String>);

#[async_trait::async_trait]
impl Handler for Notices {
    async fn handle(&self, method: &str, _args: Value) -> Result<Value, RemoteError> {
        let _ = self.0.send(method.to_owned());
        Ok(Value::Null)
    }
}

#[tokio::test]
async fn agents_api_and_rpc_on_every_backend() {
    for backend in Backend::from_env() {
        let label = format!("{backend:?}");
        let cloud = TestCloud::start_on(backend).await.with_network().await;
        let service = cloud.network.clone().unwrap();
        let bus = Bus::in_process();
        service.serve_agents(bus.clone()).await.unwrap();
        let admin = cloud.admin_token().await;
        let (_, member) = project_user(&cloud, &admin, "p1", "member").await;

        // The extension is advertised; the API is the admins'.
        let (s, v) = call(&cloud, Method::GET, "extensions/agent", &admin, None).await;
        assert_eq!(s, 200, "{label}: {v}");
        agents_listed(&cloud, &admin, "", 0).await;

        // Heartbeats make one row per agent type.
        heartbeat(&bus, "h1", true).await;
        let list = agents_listed(&cloud, &admin, "", 3).await;
        for a in &list {
            assert_eq!(a["host"], "h1", "{label}: {a}");
            assert_eq!(a["alive"], true, "{a}");
            assert_eq!(a["admin_state_up"], true, "{a}");
            assert_eq!(a["binary"], rpc::BINARY, "{a}");
            assert_eq!(a["configurations"]["devices"], 3, "{a}");
            assert!(a["heartbeat_timestamp"].as_str().unwrap().ends_with('Z'), "{a}");
        }
        // Others see no agent, as Neutron shows them (tempest checks it).
        agents_listed(&cloud, &member, "", 0).await;
        let dhcp = agents_listed(&cloud, &admin, "?agent_type=DHCP%20agent", 1).await;
        assert_eq!(dhcp[0]["topic"], "dhcp_agent");
        let aid = id(&dhcp[0]);
        heartbeat(&bus, "h1", false).await;
        agents_listed(&cloud, &admin, "", 3).await;
        let (_, v) = call(&cloud, Method::GET, &format!("agents/{aid}"), &admin, None).await;
        assert_eq!(v["agent"]["id"], aid.as_str(), "a heartbeat updates, never duplicates");

        // Admin state and description are the operator's.
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("agents/{aid}"),
            &admin,
            Some(json!({"agent": {"admin_state_up": false, "description": "drain"}})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["agent"]["admin_state_up"], false);
        assert_eq!(v["agent"]["description"], "drain");
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("agents/{aid}"),
            &admin,
            Some(json!({"agent": {"host": "elsewhere"}})),
        )
        .await;
        assert_error(s, &v, 400, "HTTPBadRequest");
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("agents/{aid}"),
            &admin,
            Some(json!({"agent": {"admin_state_up": "maybe"}})),
        )
        .await;
        assert_error(s, &v, 400, "HTTPBadRequest");
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("agents/{aid}"),
            &member,
            Some(json!({"agent": {"description": "x"}})),
        )
        .await;
        assert_error(s, &v, 404, "HTTPNotFound");
        let (s, v) = call(&cloud, Method::GET, &format!("agents/{aid}"), &member, None).await;
        assert_error(s, &v, 404, "HTTPNotFound");
        let (s, v) = call(&cloud, Method::DELETE, &format!("agents/{aid}"), &member, None).await;
        assert_error(s, &v, 404, "HTTPNotFound");
        let (s, v) = call(&cloud, Method::GET, "agents/no-such-agent", &admin, None).await;
        assert_error(s, &v, 404, "AgentNotFound");
        let (s, _) = call(&cloud, Method::DELETE, &format!("agents/{aid}"), &admin, None).await;
        assert_eq!(s, 204);
        let (s, v) = call(&cloud, Method::DELETE, &format!("agents/{aid}"), &admin, None).await;
        assert_error(s, &v, 404, "AgentNotFound");
        agents_listed(&cloud, &admin, "", 2).await;
        heartbeat(&bus, "h1", false).await;
        agents_listed(&cloud, &admin, "", 3).await;

        // Writes to the data plane's resources tell the agents.
        let (tx, mut notices) = mpsc::unbounded_channel();
        let _listener = bus.listen(rpc::AGENT_TOPIC, Arc::new(Notices(tx))).await.unwrap();
        let net = network(&cloud, &member, json!({"name": "n"})).await;
        let nid = id(&net);
        let notice = tokio::time::timeout(T, notices.recv()).await.unwrap().unwrap();
        assert_eq!(notice, "state_changed");
        call(&cloud, Method::GET, "networks", &member, None).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(200), notices.recv())
                .await
                .is_err(),
            "a read notified the agents"
        );
        let sid = id(&subnet(&cloud, &member, &nid, "10.9.0.0/24", json!({})).await);
        let vm = port(&cloud, &admin, json!({"network_id": nid, "binding:host_id": "h1"})).await;
        let vm_id = id(&vm);
        let vm_ip = vm["fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned();

        // The host state: the network with its DHCP subnet but no DHCP
        // port yet, the bound port and its security groups.
        let st = state(&bus, "h1").await;
        let n = st.networks.iter().find(|n| n.id == nid).expect("the network");
        assert!(n.dhcp_port.is_none());
        assert_eq!(st.missing_dhcp_ports(), vec![nid.clone()]);
        assert_eq!(st.ports.len(), 1);
        assert_eq!(st.ports[0].port.id, vm_id);
        let fw = &st.firewalls[0];
        assert!(fw.port_security_enabled);
        let from_group = fw
            .rules
            .iter()
            .find(|r| r.remote_group_ips.is_some())
            .expect("default group's remote-group rule");
        assert_eq!(
            from_group.remote_group_ips.as_ref().unwrap(),
            &vec![vm_ip.parse::<std::net::IpAddr>().unwrap()]
        );
        assert!(state(&bus, "h2").await.ports.is_empty(), "another host's port");

        // The DHCP port, made once, with an address on the subnet.
        for _ in 0..2 {
            let _: Value = bus
                .call(
                    rpc::SERVICE_TOPIC,
                    "ensure_dhcp_port",
                    &json!({"host": "h1", "network_id": nid}),
                    T,
                )
                .await
                .unwrap();
        }
        let (_, v) = call(
            &cloud,
            Method::GET,
            &format!("ports?network_id={nid}&device_owner=network:dhcp"),
            &admin,
            None,
        )
        .await;
        assert_eq!(v["ports"].as_array().unwrap().len(), 1, "{label}: {v}");
        assert_eq!(v["ports"][0]["binding:host_id"], "h1");
        let st = state(&bus, "h1").await;
        let n = st.networks.iter().find(|n| n.id == nid).unwrap();
        let dp = n.dhcp_port.as_ref().expect("DHCP port");
        assert_eq!(dp.fixed_ips[0].subnet_id, sid);
        assert!(st.missing_dhcp_ports().is_empty());
        assert!(n.ports.iter().any(|p| p.id == vm_id), "DHCP answers the port");
        // A second DHCP subnet gives the DHCP port an address on it.
        let sid2 = id(&subnet(&cloud, &member, &nid, "10.9.1.0/24", json!({})).await);
        assert_eq!(state(&bus, "h1").await.missing_dhcp_ports(), vec![nid.clone()]);
        let _: Value = bus
            .call(
                rpc::SERVICE_TOPIC,
                "ensure_dhcp_port",
                &json!({"host": "h1", "network_id": nid}),
                T,
            )
            .await
            .unwrap();
        let st = state(&bus, "h1").await;
        let dp = st
            .networks
            .iter()
            .find(|n| n.id == nid)
            .unwrap()
            .dhcp_port
            .clone()
            .unwrap();
        assert!(dp.fixed_ips.iter().any(|f| f.subnet_id == sid2), "{dp:?}");

        // Port status: only the port's own host moves it.
        port_status(&cloud, &admin, &vm_id, "DOWN").await;
        let up = json!({"host": "h2", "up": [vm_id]});
        let changed: u64 = bus
            .call(rpc::SERVICE_TOPIC, "update_port_status", &up, T)
            .await
            .unwrap();
        assert_eq!(changed, 0);
        let up = json!({"host": "h1", "up": [vm_id, "no-such-port"]});
        let changed: u64 = bus
            .call(rpc::SERVICE_TOPIC, "update_port_status", &up, T)
            .await
            .unwrap();
        assert_eq!(changed, 1);
        port_status(&cloud, &admin, &vm_id, "ACTIVE").await;
        let down = json!({"host": "h1", "down": [vm_id]});
        bus.cast(rpc::SERVICE_TOPIC, "update_port_status", &down).await.unwrap();
        port_status(&cloud, &admin, &vm_id, "DOWN").await;

        // A router with a gateway and an interface.
        let ext = network(&cloud, &admin, json!({"name": "public", "router:external": true})).await;
        subnet(
            &cloud,
            &admin,
            &id(&ext),
            "172.24.4.0/24",
            json!({"enable_dhcp": false}),
        )
        .await;
        let (s, r) = call(
            &cloud,
            Method::POST,
            "routers",
            &member,
            Some(json!({"router": {"name": "r", "external_gateway_info": {"network_id": id(&ext)}}})),
        )
        .await;
        assert_eq!(s, 201, "{r}");
        let rid = id(&r["router"]);
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("routers/{rid}/add_router_interface"),
            &member,
            Some(json!({"subnet_id": sid})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let st = state(&bus, "h1").await;
        let router = st.routers.iter().find(|r| r.id == rid).expect("the router");
        let gw = router.gateway.as_ref().expect("gateway");
        assert_eq!(gw.gateway_ip.to_string(), "172.24.4.1");
        assert!(gw.enable_snat);
        assert_eq!(router.interfaces.len(), 1);
        assert_eq!(router.interfaces[0].ip.to_string(), "10.9.0.1");
        assert!(st.networks.iter().any(|n| n.id == id(&ext)), "the gateway's bridge");

        // A floating IP: in the router's spec; ACTIVE once the router is
        // reported built, DOWN once disassociated.
        let (s, f) = call(
            &cloud,
            Method::POST,
            "floatingips",
            &admin,
            Some(json!({"floatingip": {"floating_network_id": id(&ext), "port_id": vm_id}})),
        )
        .await;
        assert_eq!(s, 201, "{f}");
        let fid = id(&f["floatingip"]);
        assert_eq!(f["floatingip"]["status"], "DOWN");
        let st = state(&bus, "h1").await;
        let router = st.routers.iter().find(|r| r.id == rid).unwrap();
        assert_eq!(router.floating_ips.len(), 1);
        assert_eq!(router.floating_ips[0].fixed_ip.to_string(), vm_ip);
        let built = json!({"host": "h1", "routers_up": [rid]});
        let _: u64 = bus
            .call(rpc::SERVICE_TOPIC, "update_port_status", &built, T)
            .await
            .unwrap();
        let (_, v) = call(&cloud, Method::GET, &format!("floatingips/{fid}"), &admin, None).await;
        assert_eq!(v["floatingip"]["status"], "ACTIVE", "{v}");
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("floatingips/{fid}"),
            &admin,
            Some(json!({"floatingip": {"port_id": null}})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let _: u64 = bus
            .call(rpc::SERVICE_TOPIC, "update_port_status", &built, T)
            .await
            .unwrap();
        let (_, v) = call(&cloud, Method::GET, &format!("floatingips/{fid}"), &admin, None).await;
        assert_eq!(v["floatingip"]["status"], "DOWN", "{v}");

        // Contract errors.
        let e = bus
            .call::<_, Value>(rpc::SERVICE_TOPIC, "get_host_state", &json!({"host": ""}), T)
            .await
            .unwrap_err();
        assert!(matches!(e, BusError::Remote(ref r) if r.kind == "InvalidInput"), "{e}");
        let e = bus
            .call::<_, Value>(rpc::SERVICE_TOPIC, "get_host_state", &json!({"hots": "h1"}), T)
            .await
            .unwrap_err();
        assert!(matches!(e, BusError::Remote(ref r) if r.kind == "InvalidArgs"), "{e}");
        let e = bus
            .call::<_, Value>(rpc::SERVICE_TOPIC, "reboot_the_world", &json!({}), T)
            .await
            .unwrap_err();
        assert!(matches!(e, BusError::Remote(ref r) if r.kind == "UnknownMethod"), "{e}");
        let e = bus
            .call::<_, Value>(
                rpc::SERVICE_TOPIC,
                "ensure_dhcp_port",
                &json!({"host": "h1", "network_id": "nope"}),
                T,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, BusError::Remote(ref r) if r.kind == "NetworkNotFound"),
            "{e}"
        );
        service.stop_serving_agents();
        cloud.stop().await;
    }
}
