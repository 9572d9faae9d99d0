//! The version document, the resource list, extensions, auth and faults.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{assert_error, call, cloud, url};

#[tokio::test]
async fn versions_resources_and_extensions() {
    let cloud = cloud().await;
    let resp = cloud.http.get(url(&cloud, "/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["versions"][0]["id"], "v2.0");
    assert_eq!(v["versions"][0]["status"], "CURRENT");
    assert!(
        v["versions"][0]["links"][0]["href"]
            .as_str()
            .unwrap()
            .ends_with("/v2.0/")
    );

    // Everything below /v2.0 needs a token; the 401 is a Neutron fault.
    let resp = cloud.http.get(url(&cloud, "/v2.0/networks")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let resp = cloud
        .http
        .get(url(&cloud, "/v2.0/networks"))
        .header("x-auth-token", "bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let admin = cloud.admin_token().await;
    let (s, v) = call(&cloud, Method::GET, "", &admin, None).await;
    assert_eq!(s, 200, "{v}");
    let names: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["collection"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["networks", "subnets", "ports"]);

    let (s, v) = call(&cloud, Method::GET, "extensions", &admin, None).await;
    assert_eq!(s, 200);
    let aliases: Vec<&str> = v["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    for want in [
        "external-net",
        "security-group",
        "quotas",
        "binding",
        "provider",
        "standard-attr-tag",
        "router",
        "ext-gw-mode",
        "extraroute",
        "network-ip-availability",
    ] {
        assert!(aliases.contains(&want), "{want} in {aliases:?}");
    }
    for absent in [
        "l3-ha",
        "dvr",
        "l3-flavors",
        "router_availability_zone",
        "extraroute-atomic",
        "fip-port-details",
        "default-subnetpools",
        "extra_dhcp_opt",
        "dns-integration",
    ] {
        assert!(!aliases.contains(&absent), "{absent}");
    }
    let (s, v) = call(&cloud, Method::GET, "extensions/port-security", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["extension"]["alias"], "port-security");
    let (s, v) = call(&cloud, Method::GET, "extensions/router", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["extension"]["name"], "Neutron L3 Router");
    let (s, v) = call(&cloud, Method::GET, "extensions/l3-ha", &admin, None).await;
    assert_error(s, &v, 404, "HTTPNotFound");

    // Unknown routes and methods get Neutron faults too.
    let (s, v) = call(&cloud, Method::GET, "nonsense", &admin, None).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["NeutronError"].is_object(), "{v}");
    let (s, v) = call(&cloud, Method::PATCH, "networks", &admin, Some(json!({}))).await;
    assert_eq!(s, 405, "{v}");
    assert!(v["NeutronError"].is_object(), "{v}");
    cloud.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_400s_and_415s() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let post = |body: &'static str, ct: &'static str| {
        let req = cloud
            .http
            .post(url(&cloud, "/v2.0/networks"))
            .header("x-auth-token", &admin)
            .header("content-type", ct)
            .body(body);
        async move {
            let resp = req.send().await.unwrap();
            let s = resp.status().as_u16();
            (s, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for body in ["", "{", "[]", "{\"net\": {}}", "{\"network\": 3}"] {
        let (s, v) = post(body, "application/json").await;
        assert_eq!(s, 400, "{body}: {v}");
        assert!(v["NeutronError"]["message"].is_string(), "{v}");
    }
    let (s, _) = post("{\"network\": {}}", "text/plain").await;
    assert_eq!(s, 415);
    let (s, v) = post(
        "{\"network\": {\"colour\": \"red\", \"name\": \"x\"}}",
        "application/json",
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["NeutronError"]["message"], "Unrecognized attribute(s) 'colour'");
    let (s, v) = post("{\"network\": {\"status\": \"DOWN\"}}", "application/json").await;
    assert_eq!(s, 400);
    assert_eq!(v["NeutronError"]["message"], "Attribute 'status' not allowed in POST");
    let (s, v) = post("{\"network\": {\"admin_state_up\": \"perhaps\"}}", "application/json").await;
    assert_eq!(s, 400);
    assert!(
        v["NeutronError"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be converted to boolean"),
        "{v}"
    );
    let long = format!("{{\"network\": {{\"name\": \"{}\"}}}}", "x".repeat(256));
    let resp = cloud
        .http
        .post(url(&cloud, "/v2.0/networks"))
        .header("x-auth-token", &admin)
        .header("content-type", "application/json")
        .body(long)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    cloud.stop().await;
}
