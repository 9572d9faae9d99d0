//! What tempest and the `openstack` CLI found missing once the service was
//! served by `oxistack up`: bulk creation, `check_limit` on quota updates,
//! `router:external` on subnets, floating IPs going with their external
//! network, and remote groups looked up whatever their form.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, cloud, id, network, project_user, subnet};

#[tokio::test]
async fn bulk_creation_makes_all_or_nothing() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "bulk", "member").await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "networks",
        &member,
        Some(json!({"networks": [{"name": "b1"}, {"name": "b2"}]})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let nets = v["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 2);
    assert_eq!(nets[1]["name"], "b2");
    let (n1, n2) = (id(&nets[0]), id(&nets[1]));

    let (s, v) = call(
        &cloud,
        Method::POST,
        "subnets",
        &member,
        Some(json!({"subnets": [
            {"network_id": n1, "cidr": "10.1.0.0/24", "ip_version": 4},
            {"network_id": n2, "cidr": "10.2.0.0/24", "ip_version": 4},
        ]})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["subnets"][1]["cidr"], "10.2.0.0/24");

    // The second port asks for the first one's address: neither is left.
    let (s, v) = call(
        &cloud,
        Method::POST,
        "ports",
        &member,
        Some(json!({"ports": [
            {"network_id": n1, "fixed_ips": [{"ip_address": "10.1.0.50"}]},
            {"network_id": n1, "fixed_ips": [{"ip_address": "10.1.0.50"}]},
        ]})),
    )
    .await;
    assert_error(s, &v, 409, "IpAddressAlreadyAllocated");
    let (s, v) = call(&cloud, Method::GET, &format!("ports?network_id={n1}"), &member, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["ports"], json!([]), "the first port was not rolled back");

    for bad in [json!({"networks": []}), json!({"networks": {"name": "x"}})] {
        let (s, v) = call(&cloud, Method::POST, "networks", &member, Some(bad)).await;
        assert_error(s, &v, 400, "HTTPBadRequest");
    }
}

#[tokio::test]
async fn quota_updates_may_check_the_usage() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "checked", "member").await;
    network(&cloud, &member, json!({"name": "one"})).await;
    network(&cloud, &member, json!({"name": "two"})).await;
    let path = format!("quotas/{pid}");
    let put = |body| call(&cloud, Method::PUT, &path, &admin, Some(body));
    let (s, v) = put(json!({"quota": {"network": 1, "check_limit": true}})).await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    let (s, v) = put(json!({"quota": {"network": 2, "check_limit": true}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quota"]["network"], 2);
    assert!(v["quota"].get("check_limit").is_none(), "{v}");
    let (s, v) = put(json!({"quota": {"network": 1, "check_limit": true, "force": true}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quota"]["network"], 1);
    let (s, v) = put(json!({"quota": {"network": 0}})).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn subnets_say_whether_their_network_is_external() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "viewer", "member").await;
    let public = id(&network(&cloud, &admin, json!({"router:external": true})).await);
    let ext = subnet(&cloud, &admin, &public, "203.0.113.0/24", json!({"enable_dhcp": false})).await;
    assert_eq!(ext["router:external"], true);
    let own = id(&network(&cloud, &member, json!({})).await);
    let internal = subnet(&cloud, &member, &own, "10.9.0.0/24", json!({})).await;
    assert_eq!(internal["router:external"], false);

    let (s, v) = call(&cloud, Method::GET, "subnets?router:external=true", &member, None).await;
    assert_eq!(s, 200, "{v}");
    let ids: Vec<String> = v["subnets"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, vec![id(&ext)]);
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("subnets/{}", id(&internal)),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["subnet"]["router:external"], false);
    let (s, v) = call(&cloud, Method::GET, "extensions/subnet-external-network", &member, None).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn an_external_network_goes_with_its_floating_ips() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let public = id(&network(&cloud, &admin, json!({"router:external": true})).await);
    subnet(&cloud, &admin, &public, "203.0.113.0/24", json!({"enable_dhcp": false})).await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "floatingips",
        &admin,
        Some(json!({"floatingip": {"floating_network_id": public}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let fip = id(&v["floatingip"]);

    // A router's gateway still holds the network.
    let (s, v) = call(
        &cloud,
        Method::POST,
        "routers",
        &admin,
        Some(json!({"router": {"external_gateway_info": {"network_id": public}}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let router = id(&v["router"]);
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{public}"), &admin, None).await;
    assert_error(s, &v, 409, "NetworkInUse");
    let (s, _) = call(&cloud, Method::DELETE, &format!("routers/{router}"), &admin, None).await;
    assert_eq!(s, 204);

    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{public}"), &admin, None).await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = call(&cloud, Method::GET, &format!("floatingips/{fip}"), &admin, None).await;
    assert_error(s, &v, 404, "FloatingIPNotFound");
    let (s, v) = call(&cloud, Method::GET, "ports", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["ports"], json!([]));
}

#[tokio::test]
async fn a_remote_group_that_is_no_group_is_not_found_whatever_its_form() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "security-groups",
        &admin,
        Some(json!({"security_group": {"name": "sg"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let sg = id(&v["security_group"]);
    for remote in [json!("bad_group_id"), json!("5d0b4ff9-2fa3-4a4e-9a3b-4a4c7f8b1f0e")] {
        let (s, v) = call(
            &cloud,
            Method::POST,
            "security-group-rules",
            &admin,
            Some(
                json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress",
                        "protocol": "tcp", "remote_group_id": remote}}),
            ),
        )
        .await;
        assert_error(s, &v, 404, "SecurityGroupNotFound");
    }
    let (s, v) = call(
        &cloud,
        Method::POST,
        "security-group-rules",
        &admin,
        Some(
            json!({"security_group_rule": {"security_group_id": sg, "direction": "ingress",
                    "remote_group_id": 7}}),
        ),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
}
