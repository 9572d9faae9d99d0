//! Routers: gateways (external networks only, SNAT mode for admins),
//! interfaces by subnet and by port, the conflicts they raise, extra
//! routes, visibility and quota.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use crate::{assert_error, call, cloud, id, network, port, project_user, subnet};

/// An external network with a subnet, made by the admin: (network, subnet).
pub async fn external(cloud: &TestCloud, admin: &str, cidr: &str) -> (String, String) {
    let net = id(&network(cloud, admin, json!({"name": "public", "router:external": true})).await);
    let sub = id(&subnet(cloud, admin, &net, cidr, json!({})).await);
    (net, sub)
}

pub async fn router(cloud: &TestCloud, token: &str, body: Value) -> Value {
    let (s, v) = call(cloud, Method::POST, "routers", token, Some(json!({"router": body}))).await;
    assert_eq!(s, 201, "{v}");
    v["router"].clone()
}

pub async fn put_router(cloud: &TestCloud, token: &str, rid: &str, body: Value) -> (u16, Value) {
    call(
        cloud,
        Method::PUT,
        &format!("routers/{rid}"),
        token,
        Some(json!({"router": body})),
    )
    .await
}

pub async fn interface(cloud: &TestCloud, token: &str, rid: &str, action: &str, body: Value) -> (u16, Value) {
    call(
        cloud,
        Method::PUT,
        &format!("routers/{rid}/{action}_router_interface"),
        token,
        Some(body),
    )
    .await
}

async fn ports_of(cloud: &TestCloud, admin: &str, query: &str) -> Vec<Value> {
    let (s, v) = call(cloud, Method::GET, &format!("ports?{query}"), admin, None).await;
    assert_eq!(s, 200, "{v}");
    v["ports"].as_array().unwrap().clone()
}

#[tokio::test]
async fn create_show_gateway_and_snat() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (_, other) = project_user(&cloud, &admin, "p2", "member").await;
    let (ext, ext_sub) = external(&cloud, &admin, "172.24.4.0/24").await;

    let r = router(&cloud, &member, json!({"name": "r1", "description": "d"})).await;
    let rid = id(&r);
    assert_eq!(r["status"], "ACTIVE");
    assert_eq!(r["admin_state_up"], true);
    assert_eq!(r["project_id"], pid.as_str());
    assert_eq!(r["tenant_id"], pid.as_str());
    assert_eq!(r["external_gateway_info"], Value::Null);
    assert_eq!(r["routes"], json!([]));
    assert_eq!(r["flavor_id"], Value::Null);
    assert_eq!(r["availability_zone_hints"], json!([]));
    assert_eq!(r["availability_zones"], json!([]));
    assert_eq!(r["tags"], json!([]));
    assert!(r.get("distributed").is_none(), "admin-only attribute: {r}");
    assert!(r["created_at"].as_str().unwrap().ends_with('Z'));
    let (s, v) = call(&cloud, Method::GET, &format!("routers/{rid}"), &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["router"]["distributed"], false);
    assert_eq!(v["router"]["ha"], false);

    // Another project neither sees nor touches it.
    let (s, v) = call(&cloud, Method::GET, &format!("routers/{rid}"), &other, None).await;
    assert_error(s, &v, 404, "RouterNotFound");
    let (_, v) = call(&cloud, Method::GET, "routers", &other, None).await;
    assert_eq!(v["routers"], json!([]));
    let (s, v) = call(&cloud, Method::DELETE, &format!("routers/{rid}"), &other, None).await;
    assert_error(s, &v, 404, "RouterNotFound");

    // A gateway: an address of the external network on a port of no project.
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"external_gateway_info": {"network_id": ext}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let gw = &v["router"]["external_gateway_info"];
    assert_eq!(gw["network_id"], ext.as_str());
    assert_eq!(gw["enable_snat"], true);
    assert_eq!(gw["external_fixed_ips"][0]["subnet_id"], ext_sub.as_str());
    let gw_ip = gw["external_fixed_ips"][0]["ip_address"].as_str().unwrap().to_owned();
    assert!(gw_ip.starts_with("172.24.4."), "{gw_ip}");
    assert!(v["router"]["revision_number"].as_i64().unwrap() > r["revision_number"].as_i64().unwrap());
    let gw_ports = ports_of(&cloud, &admin, "device_owner=network:router_gateway").await;
    assert_eq!(gw_ports.len(), 1);
    assert_eq!(gw_ports[0]["device_id"], rid.as_str());
    assert_eq!(gw_ports[0]["project_id"], "");
    assert_eq!(gw_ports[0]["fixed_ips"][0]["ip_address"], gw_ip.as_str());
    assert!(
        ports_of(&cloud, &member, "").await.is_empty(),
        "the gateway port is hidden"
    );

    // SNAT and chosen addresses are an admin's; the gateway's own address
    // and non-external networks are refused.
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"external_gateway_info": {"network_id": ext, "enable_snat": false}}),
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"external_gateway_info": {"network_id": ext, "external_fixed_ips": [{"ip_address": "172.24.4.50"}]}}),
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = put_router(
        &cloud,
        &admin,
        &rid,
        json!({"external_gateway_info": {"network_id": ext, "enable_snat": false,
               "external_fixed_ips": [{"subnet_id": ext_sub, "ip_address": "172.24.4.50"}]}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let gw = &v["router"]["external_gateway_info"];
    assert_eq!(gw["enable_snat"], false);
    assert_eq!(gw["external_fixed_ips"][0]["ip_address"], "172.24.4.50");
    assert_eq!(
        ports_of(&cloud, &admin, "device_owner=network:router_gateway")
            .await
            .len(),
        1
    );
    let (s, v) = put_router(
        &cloud,
        &admin,
        &rid,
        json!({"external_gateway_info": {"network_id": ext, "external_fixed_ips": [{"ip_address": "172.24.4.1"}]}}),
    )
    .await;
    assert_error(s, &v, 400, "BadRequest");
    let private = id(&network(&cloud, &member, json!({})).await);
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"external_gateway_info": {"network_id": private}}),
    )
    .await;
    assert_error(s, &v, 400, "BadRequest");
    assert!(
        v["NeutronError"]["message"]
            .as_str()
            .unwrap()
            .contains("is not an external network"),
        "{v}"
    );
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"external_gateway_info": {"network_id": "00000000-0000-4000-8000-000000000000"}}),
    )
    .await;
    assert_error(s, &v, 404, "NetworkNotFound");
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"external_gateway_info": {"enable_snat": true}}),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let (s, v) = put_router(&cloud, &member, &rid, json!({"status": "DOWN"})).await;
    assert_error(s, &v, 400, "HTTPBadRequest");

    // The external network is in use while the gateway is there.
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{ext}"), &admin, None).await;
    assert_error(s, &v, 409, "NetworkInUse");
    let gw_port = id(&ports_of(&cloud, &admin, "device_owner=network:router_gateway").await[0]);
    let (s, v) = call(&cloud, Method::DELETE, &format!("ports/{gw_port}"), &admin, None).await;
    assert_error(s, &v, 409, "ServicePortInUse");

    // Clearing the gateway removes its port and resets SNAT.
    let (s, v) = put_router(&cloud, &member, &rid, json!({"external_gateway_info": {}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["router"]["external_gateway_info"], Value::Null);
    assert!(
        ports_of(&cloud, &admin, "device_owner=network:router_gateway")
            .await
            .is_empty()
    );
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"external_gateway_info": {"network_id": ext}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["router"]["external_gateway_info"]["enable_snat"], true);
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"external_gateway_info": null, "name": "r1b", "admin_state_up": false}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["router"]["name"], "r1b");
    assert_eq!(v["router"]["admin_state_up"], false);

    // A router made with a gateway; filters, fields and tags.
    let r2 = router(
        &cloud,
        &member,
        json!({"name": "r2", "external_gateway_info": {"network_id": ext}}),
    )
    .await;
    assert_eq!(r2["external_gateway_info"]["network_id"], ext.as_str());
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("routers/{}/tags/blue", id(&r2)),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 201);
    let (_, v) = call(&cloud, Method::GET, "routers?tags=blue&fields=name", &member, None).await;
    assert_eq!(v["routers"], json!([{"name": "r2"}]));
    let (_, v) = call(
        &cloud,
        Method::GET,
        "routers?name=r1b&sort_key=name&sort_dir=asc",
        &member,
        None,
    )
    .await;
    assert_eq!(v["routers"].as_array().unwrap().len(), 1);
    let (s, v) = call(&cloud, Method::GET, "routers?bogus=1", &member, None).await;
    assert_error(s, &v, 400, "HTTPBadRequest");

    for r in [&rid, &id(&r2)] {
        let (s, v) = call(&cloud, Method::DELETE, &format!("routers/{r}"), &member, None).await;
        assert_eq!(s, 204, "{v}");
    }
    let (s, v) = call(&cloud, Method::GET, &format!("routers/{rid}"), &member, None).await;
    assert_error(s, &v, 404, "RouterNotFound");
    assert!(
        ports_of(&cloud, &admin, "device_owner=network:router_gateway")
            .await
            .is_empty()
    );
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{ext}"), &admin, None).await;
    assert_eq!(s, 204, "{v}");

    // A reader may look but not make.
    let (_, reader) = project_user(&cloud, &admin, "p3", "reader").await;
    let (s, v) = call(&cloud, Method::POST, "routers", &reader, Some(json!({"router": {}}))).await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    cloud.stop().await;
}

#[tokio::test]
async fn interfaces_conflicts_and_routes() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (ext, _) = external(&cloud, &admin, "172.24.4.0/24").await;
    let r = router(&cloud, &member, json!({"external_gateway_info": {"network_id": ext}})).await;
    let rid = id(&r);
    let net = id(&network(&cloud, &member, json!({})).await);
    let sub = id(&subnet(&cloud, &member, &net, "10.0.0.0/24", json!({})).await);

    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"subnet_id": sub})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], rid.as_str());
    assert_eq!(v["subnet_id"], sub.as_str());
    assert_eq!(v["subnet_ids"], json!([sub]));
    assert_eq!(v["network_id"], net.as_str());
    assert_eq!(v["project_id"], pid.as_str());
    assert_eq!(v["tenant_id"], pid.as_str());
    let iface = v["port_id"].as_str().unwrap().to_owned();
    let (_, p) = call(&cloud, Method::GET, &format!("ports/{iface}"), &member, None).await;
    assert_eq!(p["port"]["device_owner"], "network:router_interface");
    assert_eq!(p["port"]["device_id"], rid.as_str());
    assert_eq!(
        p["port"]["fixed_ips"],
        json!([{"subnet_id": sub, "ip_address": "10.0.0.1"}])
    );
    assert_eq!(p["port"]["project_id"], pid.as_str());

    // The same subnet twice, an overlapping one, one without a gateway.
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"subnet_id": sub})).await;
    assert_error(s, &v, 400, "BadRequest");
    let net2 = id(&network(&cloud, &member, json!({})).await);
    let wide = id(&subnet(&cloud, &member, &net2, "10.0.0.0/16", json!({})).await);
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"subnet_id": wide})).await;
    assert_error(s, &v, 400, "BadRequest");
    let msg = v["NeutronError"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "Cidr 10.0.0.0/16 of subnet {wide} overlaps with cidr 10.0.0.0/24 of subnet {sub}"
        )),
        "{msg}"
    );
    let net3 = id(&network(&cloud, &member, json!({})).await);
    let nogw = id(&subnet(&cloud, &member, &net3, "10.3.0.0/24", json!({"gateway_ip": null})).await);
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"subnet_id": nogw})).await;
    assert_error(s, &v, 400, "BadRequest");
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({})).await;
    assert_error(s, &v, 400, "BadRequest");
    let (s, v) = interface(
        &cloud,
        &member,
        &rid,
        "add",
        json!({"subnet_id": sub, "port_id": iface}),
    )
    .await;
    assert_error(s, &v, 400, "BadRequest");
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"subnet_id": "nope"})).await;
    assert_error(s, &v, 400, "BadRequest");
    let (s, v) = interface(
        &cloud,
        &member,
        &rid,
        "add",
        json!({"subnet_id": "00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert_error(s, &v, 404, "SubnetNotFound");

    // The interface keeps its port, subnet, network and router in place.
    let (s, v) = call(&cloud, Method::DELETE, &format!("ports/{iface}"), &member, None).await;
    assert_error(s, &v, 409, "ServicePortInUse");
    assert_eq!(
        v["NeutronError"]["message"],
        format!("Port {iface} cannot be deleted directly via the port API: has device owner network:router_interface.")
    );
    let (s, v) = call(&cloud, Method::DELETE, &format!("subnets/{sub}"), &member, None).await;
    assert_error(s, &v, 409, "SubnetInUse");
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{net}"), &member, None).await;
    assert_error(s, &v, 409, "NetworkInUse");
    let (s, v) = call(&cloud, Method::DELETE, &format!("routers/{rid}"), &member, None).await;
    assert_error(s, &v, 409, "RouterInUse");

    // By port: an unbound port with an address; a port in use is a 409.
    let net4 = id(&network(&cloud, &member, json!({})).await);
    let sub4 = id(&subnet(&cloud, &member, &net4, "10.4.0.0/24", json!({})).await);
    let p4 = port(&cloud, &member, json!({"network_id": net4})).await;
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"port_id": id(&p4)})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["port_id"], id(&p4).as_str());
    assert_eq!(v["subnet_ids"], json!([sub4]));
    let (_, p) = call(&cloud, Method::GET, &format!("ports/{}", id(&p4)), &member, None).await;
    assert_eq!(p["port"]["device_owner"], "network:router_interface");
    assert_eq!(p["port"]["device_id"], rid.as_str());
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"port_id": id(&p4)})).await;
    assert_error(s, &v, 409, "PortInUse");
    let vm = port(&cloud, &member, json!({"network_id": net4, "device_id": "vm-1"})).await;
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"port_id": id(&vm)})).await;
    assert_error(s, &v, 409, "PortInUse");
    let bare = port(&cloud, &member, json!({"network_id": net2, "fixed_ips": []})).await;
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"port_id": id(&bare)})).await;
    assert_error(s, &v, 400, "BadRequest");

    // Extra routes: the nexthop must be on one of the router's subnets and
    // none of its own addresses.
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"routes": [{"destination": "192.168.50.0/24", "nexthop": "10.0.0.5"}]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["router"]["routes"],
        json!([{"destination": "192.168.50.0/24", "nexthop": "10.0.0.5"}])
    );
    for hop in ["192.168.99.1", "10.0.0.1"] {
        let (s, v) = put_router(
            &cloud,
            &member,
            &rid,
            json!({"routes": [{"destination": "192.168.60.0/24", "nexthop": hop}]}),
        )
        .await;
        assert_error(s, &v, 400, "InvalidRoutes");
    }
    let (s, v) = put_router(
        &cloud,
        &member,
        &rid,
        json!({"routes": [{"destination": "bad", "nexthop": "10.0.0.5"}]}),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let (s, v) = interface(&cloud, &member, &rid, "remove", json!({"subnet_id": sub})).await;
    assert_error(s, &v, 409, "RouterInterfaceInUseByRoute");
    let (s, v) = put_router(&cloud, &member, &rid, json!({"routes": null})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["router"]["routes"], json!([]));

    // Removal: by subnet, by port; what is not attached is a 404.
    let (s, v) = interface(&cloud, &member, &rid, "remove", json!({"subnet_id": wide})).await;
    assert_error(s, &v, 404, "RouterInterfaceNotFoundForSubnet");
    let (s, v) = interface(&cloud, &member, &rid, "remove", json!({"port_id": id(&vm)})).await;
    assert_error(s, &v, 404, "RouterInterfaceNotFound");
    let (s, v) = interface(
        &cloud,
        &member,
        &rid,
        "remove",
        json!({"port_id": id(&p4), "subnet_id": sub}),
    )
    .await;
    assert_error(s, &v, 400, "SubnetMismatchForPort");
    let (s, v) = interface(&cloud, &member, &rid, "remove", json!({"subnet_id": sub})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["port_id"], iface.as_str());
    assert_eq!(v["subnet_id"], sub.as_str());
    let (s, v) = call(&cloud, Method::GET, &format!("ports/{iface}"), &member, None).await;
    assert_error(s, &v, 404, "PortNotFound");
    let (s, v) = interface(&cloud, &member, &rid, "remove", json!({"port_id": id(&p4)})).await;
    assert_eq!(s, 200, "{v}");
    // Now the overlapping subnet fits.
    let (s, v) = interface(&cloud, &member, &rid, "add", json!({"subnet_id": wide})).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = interface(&cloud, &member, &rid, "remove", json!({"subnet_id": wide})).await;
    assert_eq!(s, 200);

    let (s, v) = call(&cloud, Method::DELETE, &format!("routers/{rid}"), &member, None).await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = call(&cloud, Method::DELETE, &format!("subnets/{sub}"), &member, None).await;
    assert_eq!(s, 204, "{v}");

    // Another project's subnet cannot be attached to one's router.
    let (_, other) = project_user(&cloud, &admin, "p2", "member").await;
    let theirs = router(&cloud, &other, json!({})).await;
    let (s, v) = interface(&cloud, &other, &id(&theirs), "add", json!({"subnet_id": sub4})).await;
    assert_error(s, &v, 404, "SubnetNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn ipv6_prefixes_share_a_port() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let rid = id(&router(&cloud, &admin, json!({})).await);
    let net = id(&network(&cloud, &admin, json!({})).await);
    let a = id(&subnet(
        &cloud,
        &admin,
        &net,
        "fd00:1::/64",
        json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await);
    let b = id(&subnet(
        &cloud,
        &admin,
        &net,
        "fd00:2::/64",
        json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await);
    let (s, first) = interface(&cloud, &admin, &rid, "add", json!({"subnet_id": a})).await;
    assert_eq!(s, 200, "{first}");
    let (s, second) = interface(&cloud, &admin, &rid, "add", json!({"subnet_id": b})).await;
    assert_eq!(s, 200, "{second}");
    assert_eq!(first["port_id"], second["port_id"]);
    let (_, p) = call(
        &cloud,
        Method::GET,
        &format!("ports/{}", first["port_id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(p["port"]["fixed_ips"].as_array().unwrap().len(), 2, "{p}");
    // Removing one prefix keeps the port for the other.
    let (s, v) = interface(&cloud, &admin, &rid, "remove", json!({"subnet_id": a})).await;
    assert_eq!(s, 200, "{v}");
    let (_, p) = call(
        &cloud,
        Method::GET,
        &format!("ports/{}", first["port_id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        p["port"]["fixed_ips"],
        json!([{"subnet_id": b, "ip_address": "fd00:2::1"}])
    );
    // A subnet that takes RAs from a router outside is refused.
    let net2 = id(&network(&cloud, &admin, json!({})).await);
    let ext_ra = id(&subnet(
        &cloud,
        &admin,
        &net2,
        "fd00:3::/64",
        json!({"ipv6_address_mode": "slaac"}),
    )
    .await);
    let (s, v) = interface(&cloud, &admin, &rid, "add", json!({"subnet_id": ext_ra})).await;
    assert_error(s, &v, 400, "BadRequest");
    cloud.stop().await;
}

#[tokio::test]
async fn router_quota_is_counted_and_enforced() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("quotas/{pid}"),
        &admin,
        Some(json!({"quota": {"router": 1}})),
    )
    .await;
    assert_eq!(s, 200);
    router(&cloud, &member, json!({})).await;
    let (s, v) = call(&cloud, Method::POST, "routers", &member, Some(json!({"router": {}}))).await;
    assert_error(s, &v, 409, "OverQuota");
    assert_eq!(
        v["NeutronError"]["message"],
        "Quota exceeded for resources: ['router']."
    );
    let (_, v) = call(&cloud, Method::GET, &format!("quotas/{pid}/details"), &member, None).await;
    assert_eq!(v["quota"]["router"], json!({"limit": 1, "used": 1, "reserved": 0}));
    cloud.stop().await;
}
