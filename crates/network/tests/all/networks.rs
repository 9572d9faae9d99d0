//! Networks: CRUD, segments, visibility across projects, in-use deletes.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, cloud, id, network, port, project_user, subnet};

#[tokio::test]
async fn create_show_update_delete() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let net = network(&cloud, &admin, json!({"name": "net1", "description": "d"})).await;
    let nid = id(&net);
    assert_eq!(net["name"], "net1");
    assert_eq!(net["status"], "ACTIVE");
    assert_eq!(net["admin_state_up"], true);
    assert_eq!(net["shared"], false);
    assert_eq!(net["router:external"], false);
    assert_eq!(net["port_security_enabled"], true);
    assert_eq!(net["mtu"], 1450);
    assert_eq!(net["provider:network_type"], "vxlan");
    let vni = net["provider:segmentation_id"].as_i64().unwrap();
    assert!((1..=1000).contains(&vni), "{net}");
    assert!(net["provider:physical_network"].is_null());
    assert_eq!(net["subnets"], json!([]));
    assert_eq!(net["tags"], json!([]));
    assert_eq!(net["project_id"], net["tenant_id"]);
    assert_eq!(net["availability_zone_hints"], json!([]));
    assert!(net["ipv4_address_scope"].is_null());
    assert_eq!(net["revision_number"], 1);
    assert!(net["created_at"].as_str().unwrap().ends_with('Z'));

    let (s, v) = call(&cloud, Method::GET, &format!("networks/{nid}"), &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["network"], net);
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("networks/{nid}?fields=id&fields=name"),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["network"], json!({"id": nid, "name": "net1"}));

    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("networks/{nid}"),
        &admin,
        Some(json!({"network": {"name": "renamed", "admin_state_up": false}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["network"]["name"], "renamed");
    assert_eq!(v["network"]["admin_state_up"], false);
    assert_eq!(v["network"]["revision_number"], 2);
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("networks/{nid}"),
        &admin,
        Some(json!({"network": {"mtu": 9000}})),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    assert_eq!(v["NeutronError"]["message"], "Cannot update read-only attribute mtu");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("networks/{nid}"),
        &admin,
        Some(json!({"network": {"provider:segmentation_id": vni + 1}})),
    )
    .await;
    assert_error(s, &v, 400, "InvalidInput");

    let (s, _) = call(&cloud, Method::DELETE, &format!("networks/{nid}"), &admin, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::GET, &format!("networks/{nid}"), &admin, None).await;
    assert_error(s, &v, 404, "NetworkNotFound");
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{nid}"), &admin, None).await;
    assert_error(s, &v, 404, "NetworkNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn segments_flat_vxlan_local() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let flat = network(
        &cloud,
        &admin,
        json!({"name": "public", "router:external": true, "provider:network_type": "flat",
               "provider:physical_network": "physnet1"}),
    )
    .await;
    assert_eq!(flat["mtu"], 1500);
    assert_eq!(flat["provider:physical_network"], "physnet1");
    assert!(flat["provider:segmentation_id"].is_null());
    let (s, v) = call(
        &cloud,
        Method::POST,
        "networks",
        &admin,
        Some(json!({"network": {"provider:network_type": "flat", "provider:physical_network": "physnet1"}})),
    )
    .await;
    assert_error(s, &v, 409, "FlatNetworkInUse");
    let (s, v) = call(
        &cloud,
        Method::POST,
        "networks",
        &admin,
        Some(json!({"network": {"provider:network_type": "flat"}})),
    )
    .await;
    assert_error(s, &v, 400, "InvalidInput");
    let (s, v) = call(
        &cloud,
        Method::POST,
        "networks",
        &admin,
        Some(json!({"network": {"provider:network_type": "vlan"}})),
    )
    .await;
    assert_error(s, &v, 400, "InvalidInput");

    let fixed = network(
        &cloud,
        &admin,
        json!({"provider:network_type": "vxlan", "provider:segmentation_id": 4242}),
    )
    .await;
    assert_eq!(fixed["provider:segmentation_id"], 4242);
    let (s, v) = call(
        &cloud,
        Method::POST,
        "networks",
        &admin,
        Some(json!({"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 4242}})),
    )
    .await;
    assert_error(s, &v, 409, "TunnelIdInUse");
    let (s, v) = call(
        &cloud,
        Method::POST,
        "networks",
        &admin,
        Some(json!({"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 1 << 24}})),
    )
    .await;
    assert_error(s, &v, 400, "InvalidInput");
    let local = network(&cloud, &admin, json!({"provider:network_type": "local"})).await;
    assert_eq!(local["provider:network_type"], "local");

    // Tenant networks get distinct VNIs.
    let mut vnis = std::collections::BTreeSet::new();
    for i in 0..5 {
        let n = network(&cloud, &admin, json!({"name": format!("t{i}")})).await;
        assert!(vnis.insert(n["provider:segmentation_id"].as_i64().unwrap()));
    }
    cloud.stop().await;
}

#[tokio::test]
async fn members_see_their_own_shared_and_external_networks() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (_, other) = project_user(&cloud, &admin, "p2", "member").await;
    let (_, reader) = project_user(&cloud, &admin, "p3", "reader").await;

    let private = network(&cloud, &admin, json!({"name": "admin-private"})).await;
    let shared = network(&cloud, &admin, json!({"name": "admin-shared", "shared": true})).await;
    let external = network(&cloud, &admin, json!({"name": "ext", "router:external": true})).await;
    let mine = network(&cloud, &member, json!({"name": "mine"})).await;
    assert_eq!(mine["project_id"], pid.as_str());
    // Members do not see segments.
    assert!(mine.get("provider:network_type").is_none(), "{mine}");

    let (s, v) = call(&cloud, Method::GET, "networks", &member, None).await;
    assert_eq!(s, 200);
    let mut names: Vec<&str> = v["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["admin-shared", "ext", "mine"]);
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("networks/{}", id(&private)),
        &member,
        None,
    )
    .await;
    assert_error(s, &v, 404, "NetworkNotFound");
    let (s, _) = call(&cloud, Method::GET, &format!("networks/{}", id(&shared)), &member, None).await;
    assert_eq!(s, 200);
    let (s, v) = call(&cloud, Method::GET, &format!("networks/{}", id(&mine)), &other, None).await;
    assert_error(s, &v, 404, "NetworkNotFound");

    // What members may not do.
    for body in [
        json!({"shared": true}),
        json!({"router:external": true}),
        json!({"provider:network_type": "vxlan"}),
    ] {
        let (s, v) = call(
            &cloud,
            Method::POST,
            "networks",
            &member,
            Some(json!({"network": body})),
        )
        .await;
        assert_error(s, &v, 403, "PolicyNotAuthorized");
    }
    let (s, v) = call(
        &cloud,
        Method::POST,
        "networks",
        &member,
        Some(json!({"network": {"project_id": "someone-else"}})),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let (s, v) = call(
        &cloud,
        Method::POST,
        "networks",
        &admin,
        Some(json!({"network": {"project_id": "a", "tenant_id": "b"}})),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let (s, v) = call(&cloud, Method::POST, "networks", &reader, Some(json!({"network": {}}))).await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("networks/{}", id(&shared)),
        &member,
        Some(json!({"network": {"name": "mine now"}})),
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = call(
        &cloud,
        Method::DELETE,
        &format!("networks/{}", id(&external)),
        &member,
        None,
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{}", id(&mine)), &other, None).await;
    assert_error(s, &v, 404, "NetworkNotFound");

    // Admins create for other projects and see everything.
    let theirs = network(&cloud, &admin, json!({"name": "for-p1", "tenant_id": pid})).await;
    assert_eq!(theirs["project_id"], pid.as_str());
    let (_, v) = call(&cloud, Method::GET, "networks", &admin, None).await;
    assert_eq!(v["networks"].as_array().unwrap().len(), 5);
    let (_, v) = call(&cloud, Method::GET, "networks", &member, None).await;
    assert_eq!(v["networks"].as_array().unwrap().len(), 4);

    // Unsharing is refused while another project has a port on it.
    let sub = subnet(&cloud, &admin, &id(&shared), "10.9.0.0/24", json!({})).await;
    let p = port(&cloud, &member, json!({"network_id": id(&shared)})).await;
    assert_eq!(p["fixed_ips"][0]["subnet_id"], sub["id"]);
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("networks/{}", id(&shared)),
        &admin,
        Some(json!({"network": {"shared": false}})),
    )
    .await;
    assert_error(s, &v, 409, "InvalidSharedSetting");
    cloud.stop().await;
}

#[tokio::test]
async fn networks_with_ports_cannot_be_deleted_but_dhcp_ports_go_with_them() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let net = network(&cloud, &admin, json!({"name": "busy"})).await;
    let nid = id(&net);
    let sub = subnet(&cloud, &admin, &nid, "10.0.0.0/24", json!({})).await;
    let (_, v) = call(&cloud, Method::GET, &format!("networks/{nid}"), &admin, None).await;
    assert_eq!(v["network"]["subnets"], json!([sub["id"]]));
    let vm = port(
        &cloud,
        &admin,
        json!({"network_id": nid, "device_owner": "compute:nova"}),
    )
    .await;
    port(
        &cloud,
        &admin,
        json!({"network_id": nid, "device_owner": "network:dhcp"}),
    )
    .await;
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{nid}"), &admin, None).await;
    assert_error(s, &v, 409, "NetworkInUse");
    let (s, _) = call(&cloud, Method::DELETE, &format!("ports/{}", id(&vm)), &admin, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{nid}"), &admin, None).await;
    assert_eq!(s, 204, "{v}");
    let (_, v) = call(&cloud, Method::GET, "ports", &admin, None).await;
    assert_eq!(v["ports"], json!([]));
    let (s, _) = call(&cloud, Method::GET, &format!("subnets/{}", id(&sub)), &admin, None).await;
    assert_eq!(s, 404);
    cloud.stop().await;
}
