//! What every collection shares: filters, fields, sorting, pagination
//! with links, and tags with their filters.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{assert_error, call, cloud, id, network, subnet};

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn filters_fields_sorting_and_pages() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    for (name, up) in [("c", true), ("a", false), ("e", true), ("b", true), ("d", false)] {
        network(&cloud, &admin, json!({"name": name, "admin_state_up": up})).await;
    }
    let (_, v) = call(&cloud, Method::GET, "networks?name=a&name=c", &admin, None).await;
    let mut got = names(&v, "networks");
    got.sort();
    assert_eq!(got, ["a", "c"]);
    let (_, v) = call(
        &cloud,
        Method::GET,
        "networks?admin_state_up=False&sort_key=name&sort_dir=asc",
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v, "networks"), ["a", "d"]);
    let (_, v) = call(&cloud, Method::GET, "networks?name=", &admin, None).await;
    assert_eq!(v["networks"].as_array().unwrap().len(), 5);
    let (_, v) = call(
        &cloud,
        Method::GET,
        "networks?sort_key=name&sort_dir=desc&fields=name",
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v, "networks"), ["e", "d", "c", "b", "a"]);
    assert_eq!(v["networks"][0], json!({"name": "e"}));
    let (_, v) = call(&cloud, Method::GET, "networks?mtu=1450&shared=false", &admin, None).await;
    assert_eq!(v["networks"].as_array().unwrap().len(), 5);

    for bad in [
        "networks?colour=red",
        "networks?sort_key=name",
        "networks?sort_key=subnets&sort_dir=asc",
        "networks?sort_key=name&sort_dir=up",
        "networks?limit=-1",
        "networks?limit=many",
        "networks?admin_state_up=perhaps",
        "networks?mtu=big",
        "networks?project_id=a&tenant_id=b",
    ] {
        let (s, v) = call(&cloud, Method::GET, bad, &admin, None).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(v["NeutronError"]["type"].is_string(), "{v}");
    }

    // Pages of two by name, following the links.
    let (_, v) = call(
        &cloud,
        Method::GET,
        "networks?sort_key=name&sort_dir=asc&limit=2",
        &admin,
        None,
    )
    .await;
    assert_eq!(names(&v, "networks"), ["a", "b"]);
    let links = v["networks_links"].as_array().unwrap();
    let next = links.iter().find(|l| l["rel"] == "next").unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(links.iter().any(|l| l["rel"] == "previous"));
    let path = next.split("/v2.0/").nth(1).unwrap().to_owned();
    let (_, v) = call(&cloud, Method::GET, &path, &admin, None).await;
    assert_eq!(names(&v, "networks"), ["c", "d"]);
    let next = v["networks_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, v) = call(&cloud, Method::GET, next.split("/v2.0/").nth(1).unwrap(), &admin, None).await;
    assert_eq!(names(&v, "networks"), ["e"]);
    // The last page has no next, only a previous link.
    let rels: Vec<&str> = v["networks_links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert_eq!(rels, ["previous"]);
    let prev = v["networks_links"][0]["href"].as_str().unwrap().to_owned();
    let (_, v) = call(&cloud, Method::GET, prev.split("/v2.0/").nth(1).unwrap(), &admin, None).await;
    assert_eq!(names(&v, "networks"), ["c", "d"]);
    // No limit, no links.
    let (_, v) = call(&cloud, Method::GET, "networks", &admin, None).await;
    assert!(v.get("networks_links").is_none());
    cloud.stop().await;
}

#[tokio::test]
async fn tags_and_tag_filters() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let a = id(&network(&cloud, &admin, json!({"name": "a"})).await);
    let b = id(&network(&cloud, &admin, json!({"name": "b"})).await);
    network(&cloud, &admin, json!({"name": "c"})).await;
    let (s, _) = call(&cloud, Method::PUT, &format!("networks/{a}/tags/red"), &admin, None).await;
    assert_eq!(s, 201);
    let (s, _) = call(&cloud, Method::PUT, &format!("networks/{a}/tags/red"), &admin, None).await;
    assert_eq!(s, 201, "adding again is fine");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("networks/{b}/tags"),
        &admin,
        Some(json!({"tags": ["red", "blue"]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["tags"], json!(["blue", "red"]));
    let (_, v) = call(&cloud, Method::GET, &format!("networks/{b}"), &admin, None).await;
    assert_eq!(v["network"]["tags"], json!(["blue", "red"]));
    assert_eq!(v["network"]["revision_number"], 2);
    let (s, _) = call(&cloud, Method::GET, &format!("networks/{b}/tags/blue"), &admin, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::GET, &format!("networks/{a}/tags/blue"), &admin, None).await;
    assert_error(s, &v, 404, "TagNotFound");

    let (cloud_ref, admin_ref) = (&cloud, &admin);
    let q = |query: &'static str| async move {
        let path = format!("networks?{query}&sort_key=name&sort_dir=asc");
        let (_, v) = call(cloud_ref, Method::GET, &path, admin_ref, None).await;
        names(&v, "networks")
    };
    assert_eq!(q("tags=red").await, ["a", "b"]);
    assert_eq!(q("tags=red,blue").await, ["b"]);
    assert_eq!(q("tags-any=blue,green").await, ["b"]);
    assert_eq!(q("not-tags=red,blue").await, ["a", "c"]);
    assert_eq!(q("not-tags-any=red").await, ["c"]);

    let (s, _) = call(&cloud, Method::DELETE, &format!("networks/{b}/tags/red"), &admin, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::DELETE, &format!("networks/{b}/tags/red"), &admin, None).await;
    assert_error(s, &v, 404, "TagNotFound");
    let (s, _) = call(&cloud, Method::DELETE, &format!("networks/{b}/tags"), &admin, None).await;
    assert_eq!(s, 204);
    let (_, v) = call(&cloud, Method::GET, &format!("networks/{b}/tags"), &admin, None).await;
    assert_eq!(v["tags"], json!([]));

    // Subnets, ports and groups take tags too; unknown ids are 404s.
    let sid = id(&subnet(&cloud, &admin, &a, "10.0.0.0/24", json!({})).await);
    let (s, _) = call(&cloud, Method::PUT, &format!("subnets/{sid}/tags/x"), &admin, None).await;
    assert_eq!(s, 201);
    let (_, v) = call(&cloud, Method::GET, "subnets?tags=x", &admin, None).await;
    assert_eq!(v["subnets"].as_array().unwrap().len(), 1);
    let (s, v) = call(
        &cloud,
        Method::PUT,
        "ports/00000000-0000-4000-8000-000000000000/tags/x",
        &admin,
        None,
    )
    .await;
    assert_error(s, &v, 404, "PortNotFound");
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("networks/{a}/tags"),
        &admin,
        Some(json!({"tags": "red"})),
    )
    .await;
    assert_error(s, &v, 400, "HTTPBadRequest");
    cloud.stop().await;
}
