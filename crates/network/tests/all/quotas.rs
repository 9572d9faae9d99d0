//! Quotas: defaults, per-project limits, usage details, OverQuota.

use reqwest::Method;
use serde_json::json;

use crate::{assert_error, call, cloud, network, project_user};

#[tokio::test]
async fn limits_usage_and_over_quota() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (pid, member) = project_user(&cloud, &admin, "p1", "member").await;
    let (s, v) = call(&cloud, Method::GET, &format!("quotas/{pid}"), &member, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["quota"],
        json!({"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
               "security_group": 10, "security_group_rule": 100})
    );
    let (s, v) = call(&cloud, Method::GET, &format!("quotas/{pid}/default"), &member, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["quota"]["network"], 100);

    // Members may not set limits, nor read another project's.
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("quotas/{pid}"),
        &member,
        Some(json!({"quota": {"network": 1}})),
    )
    .await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");
    let (s, v) = call(&cloud, Method::GET, "quotas/someone-else", &member, None).await;
    assert_error(s, &v, 403, "PolicyNotAuthorized");

    let (s, v) = call(
        &cloud,
        Method::PUT,
        &format!("quotas/{pid}"),
        &admin,
        Some(json!({"quota": {"network": 2}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["quota"]["network"], 2);
    assert_eq!(v["quota"]["port"], 500);
    for bad in [
        json!({"network": -2}),
        json!({"network": "lots"}),
        json!({"wormhole": 3}),
    ] {
        let (s, v) = call(
            &cloud,
            Method::PUT,
            &format!("quotas/{pid}"),
            &admin,
            Some(json!({"quota": bad})),
        )
        .await;
        assert_error(s, &v, 400, "HTTPBadRequest");
    }
    let (_, v) = call(&cloud, Method::GET, "quotas", &admin, None).await;
    assert_eq!(v["quotas"][0]["project_id"], pid.as_str());
    assert_eq!(v["quotas"][0]["network"], 2);

    network(&cloud, &member, json!({})).await;
    network(&cloud, &member, json!({})).await;
    let (s, v) = call(&cloud, Method::POST, "networks", &member, Some(json!({"network": {}}))).await;
    assert_error(s, &v, 409, "OverQuota");
    assert_eq!(
        v["NeutronError"]["message"],
        "Quota exceeded for resources: ['network']."
    );
    let (s, v) = call(&cloud, Method::GET, &format!("quotas/{pid}/details"), &member, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["quota"]["network"], json!({"limit": 2, "used": 2, "reserved": 0}));
    assert_eq!(v["quota"]["security_group"]["used"], 0);

    // -1 is unlimited; DELETE returns to the defaults.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("quotas/{pid}"),
        &admin,
        Some(json!({"quota": {"network": -1}})),
    )
    .await;
    assert_eq!(s, 200);
    network(&cloud, &member, json!({})).await;
    let (s, _) = call(&cloud, Method::DELETE, &format!("quotas/{pid}"), &admin, None).await;
    assert_eq!(s, 204);
    let (_, v) = call(&cloud, Method::GET, &format!("quotas/{pid}"), &admin, None).await;
    assert_eq!(v["quota"]["network"], 100);
    let (_, v) = call(&cloud, Method::GET, "quotas", &admin, None).await;
    assert_eq!(v["quotas"], json!([]));

    // Security groups count their own quota.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("quotas/{pid}"),
        &admin,
        Some(json!({"quota": {"security_group": 2}})),
    )
    .await;
    assert_eq!(s, 200);
    let sg = |name: &str| {
        let body = json!({"security_group": {"name": name}});
        call(&cloud, Method::POST, "security-groups", &member, Some(body))
    };
    assert_eq!(sg("a").await.0, 201, "the default group counts as one");
    let (s, v) = sg("b").await;
    assert_error(s, &v, 409, "OverQuota");
    cloud.stop().await;
}
