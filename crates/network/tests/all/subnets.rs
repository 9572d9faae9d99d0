//! Subnets: CIDRs, gateways, allocation pools, IPv6 modes, in-use deletes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{assert_error, call, cloud, id, network, port, project_user, subnet};

async fn post(cloud: &test_cloud::TestCloud, token: &str, body: Value) -> (u16, Value) {
    call(cloud, Method::POST, "subnets", token, Some(json!({"subnet": body}))).await
}

#[tokio::test]
async fn ipv4_defaults_and_validation() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let nid = id(&network(&cloud, &admin, json!({})).await);
    let s = subnet(
        &cloud,
        &admin,
        &nid,
        "10.0.0.0/24",
        json!({"name": "s1", "dns_nameservers": ["8.8.8.8"]}),
    )
    .await;
    assert_eq!(s["gateway_ip"], "10.0.0.1");
    assert_eq!(
        s["allocation_pools"],
        json!([{"start": "10.0.0.2", "end": "10.0.0.254"}])
    );
    assert_eq!(s["ip_version"], 4);
    assert_eq!(s["enable_dhcp"], true);
    assert_eq!(s["dns_nameservers"], json!(["8.8.8.8"]));
    assert_eq!(s["host_routes"], json!([]));
    assert!(s["ipv6_ra_mode"].is_null());
    assert!(s["subnetpool_id"].is_null());
    assert_eq!(s["network_id"], nid.as_str());

    let bad = |cidr: &'static str| json!({"network_id": nid, "ip_version": 4, "cidr": cidr});
    let (st, v) = post(&cloud, &admin, bad("10.1.0.1/24")).await;
    assert_error(st, &v, 400, "HTTPBadRequest");
    assert_eq!(
        v["NeutronError"]["message"],
        "Invalid input for cidr. Reason: '10.1.0.1/24' isn't a recommended CIDR, use '10.1.0.0/24' instead."
    );
    for cidr in ["10.1.0.0/33", "bogus", "10.1.0.0"] {
        let (st, v) = post(&cloud, &admin, bad(cidr)).await;
        assert_error(st, &v, 400, "HTTPBadRequest");
    }
    // Overlap on the same network.
    let (st, v) = post(&cloud, &admin, bad("10.0.0.128/25")).await;
    assert_error(st, &v, 400, "InvalidInput");
    // ip_version disagreeing with the CIDR, or not 4/6.
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 6, "cidr": "10.5.0.0/24"}),
    )
    .await;
    assert_error(st, &v, 400, "InvalidInput");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 5, "cidr": "10.5.0.0/24"}),
    )
    .await;
    assert_error(st, &v, 400, "HTTPBadRequest");
    let (st, v) = post(&cloud, &admin, json!({"network_id": nid, "cidr": "10.5.0.0/24"})).await;
    assert_error(st, &v, 400, "HTTPBadRequest");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": "00000000-0000-4000-8000-000000000000", "ip_version": 4, "cidr": "10.5.0.0/24"}),
    )
    .await;
    assert_error(st, &v, 404, "NetworkNotFound");

    // Gateways: none, outside the CIDR (Neutron allows it), broadcast (not).
    let s2 = subnet(&cloud, &admin, &nid, "10.2.0.0/24", json!({"gateway_ip": null})).await;
    assert!(s2["gateway_ip"].is_null());
    assert_eq!(
        s2["allocation_pools"],
        json!([{"start": "10.2.0.1", "end": "10.2.0.254"}])
    );
    let s3 = subnet(
        &cloud,
        &admin,
        &nid,
        "10.3.0.0/24",
        json!({"gateway_ip": "192.168.0.1"}),
    )
    .await;
    assert_eq!(
        s3["allocation_pools"],
        json!([{"start": "10.3.0.1", "end": "10.3.0.254"}])
    );
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.4.0.0/24", "gateway_ip": "10.4.0.255"}),
    )
    .await;
    assert_error(st, &v, 400, "InvalidInput");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.4.0.0/24", "gateway_ip": "not-an-ip"}),
    )
    .await;
    assert_error(st, &v, 400, "HTTPBadRequest");

    // Pools: out of bounds, reversed, overlapping, holding the gateway.
    let pools = |p: Value| json!({"network_id": nid, "ip_version": 4, "cidr": "10.4.0.0/24", "allocation_pools": p});
    let (st, v) = post(
        &cloud,
        &admin,
        pools(json!([{"start": "10.4.0.10", "end": "10.4.1.10"}])),
    )
    .await;
    assert_error(st, &v, 400, "OutOfBoundsAllocationPool");
    let (st, v) = post(
        &cloud,
        &admin,
        pools(json!([{"start": "10.4.0.0", "end": "10.4.0.10"}])),
    )
    .await;
    assert_error(st, &v, 400, "OutOfBoundsAllocationPool");
    let (st, v) = post(
        &cloud,
        &admin,
        pools(json!([{"start": "10.4.0.20", "end": "10.4.0.10"}])),
    )
    .await;
    assert_error(st, &v, 400, "InvalidAllocationPool");
    let (st, v) = post(
        &cloud,
        &admin,
        pools(json!([{"start": "10.4.0.10", "end": "10.4.0.20"}, {"start": "10.4.0.15", "end": "10.4.0.30"}])),
    )
    .await;
    assert_error(st, &v, 409, "OverlappingAllocationPools");
    let (st, v) = post(
        &cloud,
        &admin,
        pools(json!([{"start": "10.4.0.1", "end": "10.4.0.20"}])),
    )
    .await;
    assert_error(st, &v, 409, "GatewayConflictWithAllocationPools");
    let (st, v) = post(&cloud, &admin, pools(json!([{"start": "10.4.0.10"}]))).await;
    assert_error(st, &v, 400, "HTTPBadRequest");
    let s4 = subnet(
        &cloud,
        &admin,
        &nid,
        "10.4.0.0/24",
        json!({"allocation_pools": [{"start": "10.4.0.100", "end": "10.4.0.150"}],
               "host_routes": [{"destination": "172.16.0.0/16", "nexthop": "10.4.0.254"}]}),
    )
    .await;
    assert_eq!(
        s4["allocation_pools"],
        json!([{"start": "10.4.0.100", "end": "10.4.0.150"}])
    );
    assert_eq!(s4["host_routes"][0]["destination"], "172.16.0.0/16");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.6.0.0/24", "dns_nameservers": ["1.1.1.1", "1.1.1.1"]}),
    )
    .await;
    assert_error(st, &v, 400, "HTTPBadRequest");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.6.0.0/24",
               "dns_nameservers": ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6"]}),
    )
    .await;
    assert_error(st, &v, 400, "DNSNameServersExhausted");

    // The network lists its subnets.
    let (_, v) = call(&cloud, Method::GET, &format!("networks/{nid}"), &admin, None).await;
    assert_eq!(v["network"]["subnets"].as_array().unwrap().len(), 4);
    cloud.stop().await;
}

#[tokio::test]
async fn ipv6_subnets() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let nid = id(&network(&cloud, &admin, json!({})).await);
    let s = subnet(
        &cloud,
        &admin,
        &nid,
        "2001:db8::/64",
        json!({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}),
    )
    .await;
    assert_eq!(s["gateway_ip"], "2001:db8::1");
    assert_eq!(
        s["allocation_pools"],
        json!([{"start": "2001:db8::2", "end": "2001:db8::ffff:ffff:ffff:ffff"}])
    );
    assert_eq!(s["ipv6_address_mode"], "slaac");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:db9::/80", "ipv6_address_mode": "slaac"}),
    )
    .await;
    assert_error(st, &v, 400, "InvalidInput");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:dba::/64",
               "ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"}),
    )
    .await;
    assert_error(st, &v, 400, "InvalidInput");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24", "ipv6_ra_mode": "slaac"}),
    )
    .await;
    assert_error(st, &v, 400, "InvalidInput");
    let (st, v) = post(
        &cloud,
        &admin,
        json!({"network_id": nid, "ip_version": 6, "cidr": "2001:dbb::/64", "ipv6_ra_mode": "sometimes"}),
    )
    .await;
    assert_error(st, &v, 400, "HTTPBadRequest");
    // A SLAAC address derived from the MAC.
    let p = port(
        &cloud,
        &admin,
        json!({"network_id": nid, "mac_address": "fa:16:3e:00:11:22"}),
    )
    .await;
    assert_eq!(p["fixed_ips"][0]["ip_address"], "2001:db8::f816:3eff:fe00:1122");
    let stateful = subnet(&cloud, &admin, &nid, "2001:dbc::/64", json!({})).await;
    let p = port(&cloud, &admin, json!({"network_id": nid})).await;
    let ips: Vec<&str> = p["fixed_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["subnet_id"].as_str().unwrap())
        .collect();
    assert!(ips.contains(&stateful["id"].as_str().unwrap()), "{p}");
    cloud.stop().await;
}

#[tokio::test]
async fn updates_are_validated_and_in_use_subnets_stay() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let nid = id(&network(&cloud, &admin, json!({})).await);
    let s = subnet(&cloud, &admin, &nid, "10.0.0.0/24", json!({})).await;
    let sid = id(&s);
    let path = format!("subnets/{sid}");
    let put = |body: Value| call(&cloud, Method::PUT, &path, &admin, Some(json!({"subnet": body})));
    let (st, v) = put(json!({"name": "new", "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}]})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["subnet"]["name"], "new");
    assert_eq!(
        v["subnet"]["allocation_pools"],
        json!([{"start": "10.0.0.10", "end": "10.0.0.20"}])
    );
    let (st, v) = put(json!({"gateway_ip": "10.0.0.15"})).await;
    assert_error(st, &v, 409, "GatewayConflictWithAllocationPools");
    let (st, v) = put(json!({"gateway_ip": "10.0.0.254"})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["subnet"]["gateway_ip"], "10.0.0.254");
    let (st, v) = put(json!({"gateway_ip": null})).await;
    assert_eq!(st, 200, "{v}");
    assert!(v["subnet"]["gateway_ip"].is_null());
    let (st, v) = put(json!({"cidr": "10.1.0.0/24"})).await;
    assert_error(st, &v, 400, "HTTPBadRequest");
    let (st, v) = put(json!({"allocation_pools": [{"start": "10.0.1.10", "end": "10.0.1.20"}]})).await;
    assert_error(st, &v, 400, "OutOfBoundsAllocationPool");

    let p = port(&cloud, &admin, json!({"network_id": nid})).await;
    let (st, v) = call(&cloud, Method::DELETE, &format!("subnets/{sid}"), &admin, None).await;
    assert_error(st, &v, 409, "SubnetInUse");
    let (st, _) = call(&cloud, Method::DELETE, &format!("ports/{}", id(&p)), &admin, None).await;
    assert_eq!(st, 204);
    let dhcp = port(
        &cloud,
        &admin,
        json!({"network_id": nid, "device_owner": "network:dhcp"}),
    )
    .await;
    assert_eq!(dhcp["fixed_ips"].as_array().unwrap().len(), 1);
    let (st, v) = call(&cloud, Method::DELETE, &format!("subnets/{sid}"), &admin, None).await;
    assert_eq!(st, 204, "{v}");
    let (_, v) = call(&cloud, Method::GET, &format!("ports/{}", id(&dhcp)), &admin, None).await;
    assert_eq!(v["port"]["fixed_ips"], json!([]));
    cloud.stop().await;
}

#[tokio::test]
async fn members_subnet_only_their_networks() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "p1", "member").await;
    let private = id(&network(&cloud, &admin, json!({})).await);
    let shared = id(&network(&cloud, &admin, json!({"shared": true})).await);
    let mine = id(&network(&cloud, &member, json!({})).await);
    let body = |nid: &str| json!({"network_id": nid, "ip_version": 4, "cidr": "10.0.0.0/24"});
    let (st, v) = post(&cloud, &member, body(&private)).await;
    assert_error(st, &v, 404, "NetworkNotFound");
    let (st, v) = post(&cloud, &member, body(&shared)).await;
    assert_error(st, &v, 403, "PolicyNotAuthorized");
    subnet(&cloud, &member, &mine, "10.0.0.0/24", json!({})).await;
    let admin_sub = subnet(&cloud, &admin, &shared, "10.1.0.0/24", json!({})).await;
    // Subnets of shared networks are visible, not writable.
    let (st, _) = call(
        &cloud,
        Method::GET,
        &format!("subnets/{}", id(&admin_sub)),
        &member,
        None,
    )
    .await;
    assert_eq!(st, 200);
    let (st, v) = call(
        &cloud,
        Method::DELETE,
        &format!("subnets/{}", id(&admin_sub)),
        &member,
        None,
    )
    .await;
    assert_error(st, &v, 403, "PolicyNotAuthorized");
    let (_, v) = call(&cloud, Method::GET, "subnets", &member, None).await;
    assert_eq!(v["subnets"].as_array().unwrap().len(), 2);
    cloud.stop().await;
}
