//! Security groups and rules: the lazy default group, rule validation,
//! duplicates, in-use and default-group deletes.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use crate::{assert_error, call, cloud, id, network, port, project_user, subnet};

async fn rule(cloud: &TestCloud, token: &str, body: Value) -> (u16, Value) {
    call(
        cloud,
        Method::POST,
        "security-group-rules",
        token,
        Some(json!({"security_group_rule": body})),
    )
    .await
}

#[tokio::test]
async fn default_group_is_made_once_per_project() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;
    // Ten first lists racing make one default group.
    let lists = (0..10).map(|_| call(&cloud, Method::GET, "security-groups", &member, None));
    for (s, v) in futures::future::join_all(lists).await {
        assert_eq!(s, 200, "{v}");
    }
    let (_, v) = call(&cloud, Method::GET, "security-groups", &member, None).await;
    let groups = v["security_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{v}");
    let g = &groups[0];
    assert_eq!(g["name"], "default");
    assert_eq!(g["project_id"], pid.as_str());
    let rules = g["security_group_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    let mut shapes: Vec<(String, String, Value)> = rules
        .iter()
        .map(|r| {
            (
                r["direction"].as_str().unwrap().to_owned(),
                r["ethertype"].as_str().unwrap().to_owned(),
                r["remote_group_id"].clone(),
            )
        })
        .collect();
    shapes.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        shapes,
        [
            ("egress".into(), "IPv4".into(), Value::Null),
            ("egress".into(), "IPv6".into(), Value::Null),
            ("ingress".into(), "IPv4".into(), g["id"].clone()),
            ("ingress".into(), "IPv6".into(), g["id"].clone()),
        ]
    );
    // The member's default group is not the admin's.
    let (_, v) = call(&cloud, Method::GET, "security-groups?name=default", &admin, None).await;
    assert_eq!(
        v["security_groups"].as_array().unwrap().len(),
        2,
        "admin sees both: {v}"
    );

    // Defaults cannot be renamed, duplicated or removed by their member.
    let gid = id(g);
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("security-groups/{gid}"),
        &member,
        Some(json!({"security_group": {"name": "other"}})),
    )
    .await;
    assert_error(s, &v, 409, "SecurityGroupCannotUpdateDefault");
    let (s, v) = call(
        &cloud,
        Method::POST,
        "security-groups",
        &member,
        Some(json!({"security_group": {"name": "default"}})),
    )
    .await;
    assert_error(s, &v, 409, "SecurityGroupDefaultAlreadyExists");
    let (s, v) = call(&cloud, Method::DELETE, &format!("security-groups/{gid}"), &member, None).await;
    assert_error(s, &v, 409, "SecurityGroupCannotRemoveDefault");
    let (s, _) = call(&cloud, Method::DELETE, &format!("security-groups/{gid}"), &admin, None).await;
    assert_eq!(s, 204);
    cloud.stop().await;
}

#[tokio::test]
async fn groups_crud_and_in_use() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (_, other) = project_user(&cloud, &admin, "p2", "member").await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "security-groups",
        &member,
        Some(json!({"security_group": {"name": "web", "description": "http"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let g = v["security_group"].clone();
    let gid = id(&g);
    assert_eq!(g["description"], "http");
    // New groups allow egress only.
    let rules = g["security_group_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().all(|r| r["direction"] == "egress"));
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("security-groups/{gid}"),
        &member,
        Some(json!({"security_group": {"name": "www"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["security_group"]["name"], "www");
    let (s, v) = call(&cloud, Method::GET, &format!("security-groups/{gid}"), &other, None).await;
    assert_error(s, &v, 404, "SecurityGroupNotFound");

    let nid = id(&network(&cloud, &member, json!({})).await);
    subnet(&cloud, &member, &nid, "10.0.0.0/24", json!({})).await;
    let p = port(&cloud, &member, json!({"network_id": nid, "security_groups": [gid]})).await;
    assert_eq!(p["security_groups"], json!([gid]));
    let (s, v) = call(&cloud, Method::DELETE, &format!("security-groups/{gid}"), &member, None).await;
    assert_error(s, &v, 409, "SecurityGroupInUse");
    let (s, _) = call(&cloud, Method::DELETE, &format!("ports/{}", id(&p)), &member, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&cloud, Method::DELETE, &format!("security-groups/{gid}"), &member, None).await;
    assert_eq!(s, 204);
    let (s, v) = call(&cloud, Method::GET, &format!("security-groups/{gid}"), &member, None).await;
    assert_error(s, &v, 404, "SecurityGroupNotFound");
    cloud.stop().await;
}

#[tokio::test]
async fn rules_are_validated() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (_, v) = call(
        &cloud,
        Method::POST,
        "security-groups",
        &member,
        Some(json!({"security_group": {"name": "g"}})),
    )
    .await;
    let gid = id(&v["security_group"]);
    let base = |extra: Value| {
        let mut b = json!({"security_group_id": gid, "direction": "ingress"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let (s, v) = rule(
        &cloud,
        &member,
        base(json!({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let r = v["security_group_rule"].clone();
    assert_eq!(r["protocol"], "tcp");
    assert_eq!(r["ethertype"], "IPv4");
    assert_eq!(r["port_range_min"], 22);
    assert_eq!(r["remote_ip_prefix"], "10.0.0.0/8");
    // The same rule, even spelled with a protocol number, is a duplicate.
    let (s, v) = rule(
        &cloud,
        &member,
        base(json!({"protocol": "6", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"})),
    )
    .await;
    assert_error(s, &v, 409, "SecurityGroupRuleExists");
    assert!(
        v["NeutronError"]["message"]
            .as_str()
            .unwrap()
            .contains(r["id"].as_str().unwrap())
    );

    let icmp = rule(
        &cloud,
        &member,
        base(json!({"protocol": "icmp", "port_range_min": 8, "port_range_max": 0})),
    )
    .await;
    assert_eq!(icmp.0, 201, "{}", icmp.1);
    let v6 = rule(
        &cloud,
        &member,
        base(json!({"protocol": "ipv6-icmp", "ethertype": "IPv6"})),
    )
    .await;
    assert_eq!(v6.0, 201, "{}", v6.1);
    let host = rule(
        &cloud,
        &member,
        base(json!({"protocol": 17, "remote_ip_prefix": "192.168.1.5"})),
    )
    .await;
    assert_eq!(host.0, 201, "{}", host.1);
    assert_eq!(host.1["security_group_rule"]["remote_ip_prefix"], "192.168.1.5/32");
    assert_eq!(host.1["security_group_rule"]["protocol"], "17");
    let remote = rule(
        &cloud,
        &member,
        base(json!({"remote_group_id": gid, "protocol": "tcp"})),
    )
    .await;
    assert_eq!(remote.0, 201, "{}", remote.1);

    for (bad, kind) in [
        (json!({"protocol": "bogus"}), "SecurityGroupRuleInvalidProtocol"),
        (json!({"protocol": "300"}), "SecurityGroupRuleInvalidProtocol"),
        (
            json!({"protocol": "tcp", "port_range_min": 30, "port_range_max": 20}),
            "InvalidInput",
        ),
        (
            json!({"protocol": "tcp", "port_range_min": 0, "port_range_max": 20}),
            "InvalidInput",
        ),
        (
            json!({"protocol": "tcp", "port_range_min": 1, "port_range_max": 70000}),
            "InvalidInput",
        ),
        (json!({"protocol": "icmp", "port_range_max": 0}), "InvalidInput"),
        (json!({"protocol": "icmp", "port_range_min": 300}), "InvalidInput"),
        (
            json!({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}),
            "InvalidInput",
        ),
        (json!({"port_range_min": 1, "port_range_max": 2}), "InvalidInput"),
        (json!({"protocol": "icmpv6", "ethertype": "IPv4"}), "InvalidInput"),
        (json!({"ethertype": "IPv5"}), "InvalidInput"),
        (json!({"remote_ip_prefix": "2001:db8::/64"}), "InvalidInput"),
        (json!({"remote_ip_prefix": "not-a-cidr"}), "InvalidCIDR"),
        (
            json!({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": gid}),
            "InvalidInput",
        ),
        (json!({"direction": "sideways"}), "HTTPBadRequest"),
        (json!({"colour": "red"}), "HTTPBadRequest"),
    ] {
        let (s, v) = rule(&cloud, &member, base(bad.clone())).await;
        assert_error(s, &v, 400, kind);
    }
    let (s, v) = rule(
        &cloud,
        &member,
        base(json!({"remote_group_id": "00000000-0000-4000-8000-000000000000"})),
    )
    .await;
    assert_error(s, &v, 404, "SecurityGroupNotFound");
    let (s, v) = rule(
        &cloud,
        &member,
        json!({"security_group_id": "00000000-0000-4000-8000-000000000000", "direction": "ingress"}),
    )
    .await;
    assert_error(s, &v, 404, "SecurityGroupNotFound");

    // Rules list, show and go; another project sees none of them.
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("security-group-rules?security_group_id={gid}"),
        &member,
        None,
    )
    .await;
    assert_eq!(v["security_group_rules"].as_array().unwrap().len(), 7);
    let rid = id(&r);
    let (s, _) = call(
        &cloud,
        Method::GET,
        &format!("security-group-rules/{rid}"),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (_, other) = project_user(&cloud, &admin, "p2", "member").await;
    let (s, v) = call(
        &cloud,
        Method::GET,
        &format!("security-group-rules/{rid}"),
        &other,
        None,
    )
    .await;
    assert_error(s, &v, 404, "SecurityGroupRuleNotFound");
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &format!("security-group-rules/{rid}"),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = call(
        &cloud,
        Method::DELETE,
        &format!("security-group-rules/{rid}"),
        &member,
        None,
    )
    .await;
    assert_error(s, &v, 404, "SecurityGroupRuleNotFound");
    cloud.stop().await;
}
