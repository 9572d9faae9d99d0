//! Unified limits: registered limits and project/domain limits, their
//! validation and conflicts, who sees which limit, and the effective limit
//! the other services read.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use crate::{create_project, create_user, project_scope, role_id};

async fn create_service(cloud: &TestCloud, admin: &str, stype: &str) -> String {
    let (s, body) = cloud
        .call(
            Method::POST,
            "services",
            admin,
            Some(json!({"service": {"type": stype, "name": stype}})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    body["service"]["id"].as_str().unwrap().to_owned()
}

fn ids(body: &Value, key: &str) -> Vec<String> {
    body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn registered_limits_and_limits() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let svc = create_service(&cloud, &admin, "compute").await;
    let p1 = create_project(&cloud, &admin, "p1").await;
    let p2 = create_project(&cloud, &admin, "p2").await;

    let (s, body) = cloud
        .call(
            Method::POST,
            "registered_limits",
            &admin,
            Some(json!({"registered_limits": [
                {"service_id": svc, "region_id": "RegionOne", "resource_name": "cores", "default_limit": 10,
                 "description": "vCPUs"},
                {"service_id": svc, "resource_name": "ram", "default_limit": 1024},
            ]})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let created = body["registered_limits"].as_array().unwrap();
    assert_eq!(created.len(), 2);
    assert!(body.get("links").is_none());
    assert_eq!(created[0]["region_id"], "RegionOne");
    assert_eq!(created[0]["default_limit"], 10);
    assert_eq!(created[0]["description"], "vCPUs");
    assert_eq!(created[1]["region_id"], Value::Null);
    let cores = created[0]["id"].as_str().unwrap().to_owned();
    assert!(
        created[0]["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v3/registered_limits/{cores}"))
    );

    // Conflicts, references, shapes.
    let post = |body: Value| {
        let cloud = &cloud;
        let admin = &admin;
        async move { cloud.call(Method::POST, "registered_limits", admin, Some(body)).await }
    };
    let one = |extra: Value| {
        let mut r = json!({"service_id": svc, "region_id": "RegionOne", "resource_name": "disk", "default_limit": 1});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                r.as_object_mut().unwrap().remove(k);
            } else {
                r[k] = v.clone();
            }
        }
        json!({"registered_limits": [r]})
    };
    let dup = json!({"registered_limits": [
        {"service_id": svc, "region_id": "RegionOne", "resource_name": "cores", "default_limit": 3}]});
    assert_eq!(post(dup).await.0, 409);
    let twice = json!({"registered_limits": [
        {"service_id": svc, "resource_name": "gpus", "default_limit": 3},
        {"service_id": svc, "resource_name": "gpus", "default_limit": 4}]});
    assert_eq!(post(twice).await.0, 409);
    let (s, body) = post(one(json!({"service_id": "nope"}))).await;
    assert_eq!(s, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("service_id"),
        "{body}"
    );
    let (s, body) = post(one(json!({"region_id": "Atlantis"}))).await;
    assert_eq!(s, 400);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("region_id"),
        "{body}"
    );
    for bad in [
        one(json!({"default_limit": null})),
        one(json!({"default_limit": -2})),
        one(json!({"default_limit": "5"})),
        one(json!({"default_limit": 2_147_483_648_i64})),
        one(json!({"resource_name": ""})),
        one(json!({"resource_name": null})),
        one(json!({"colour": "blue"})),
        json!({"registered_limits": []}),
        json!({"registered_limits": {"service_id": svc}}),
        json!({"registered_limit": [{}]}),
    ] {
        let (s, body) = post(bad.clone()).await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }

    // Lists and filters.
    let (s, body) = cloud.call(Method::GET, "registered_limits", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["registered_limits"].as_array().unwrap().len(), 2);
    for (query, n) in [
        ("resource_name=cores", 1),
        (&format!("service_id={svc}") as &str, 2),
        ("region_id=RegionOne", 1),
        ("service_id=other", 0),
    ] {
        let (_, body) = cloud
            .call(Method::GET, &format!("registered_limits?{query}"), &admin, None)
            .await;
        assert_eq!(body["registered_limits"].as_array().unwrap().len(), n, "{query}");
    }
    let (s, body) = cloud.call(Method::GET, "registered_limits/nope", &admin, None).await;
    assert_eq!(s, 404);
    assert_eq!(body["error"]["message"], "Could not find registered limit: nope.");

    // Limits.
    let limit = |owner: Value, resource: &str, region: Value, value: i64| {
        let mut l = json!({"service_id": svc, "resource_name": resource, "resource_limit": value});
        if !region.is_null() {
            l["region_id"] = region;
        }
        for (k, v) in owner.as_object().unwrap() {
            l[k] = v.clone();
        }
        json!({"limits": [l]})
    };
    let (s, body) = cloud
        .call(
            Method::POST,
            "limits",
            &admin,
            Some(limit(json!({"project_id": p1}), "cores", json!("RegionOne"), 5)),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let l = &body["limits"][0];
    assert_eq!(l["project_id"], p1.as_str());
    assert_eq!(l["domain_id"], Value::Null);
    assert_eq!(l["resource_limit"], 5);
    let l1 = l["id"].as_str().unwrap().to_owned();

    let post_limit = |b: Value| {
        let cloud = &cloud;
        let admin = &admin;
        async move { cloud.call(Method::POST, "limits", admin, Some(b)).await }
    };
    assert_eq!(
        post_limit(limit(json!({"project_id": p1}), "cores", json!("RegionOne"), 6))
            .await
            .0,
        409
    );
    let (s, body) = post_limit(limit(json!({"project_id": p1}), "gpus", json!("RegionOne"), 1)).await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no corresponding registered limit")
    );
    for bad in [
        limit(json!({"project_id": p1, "domain_id": "default"}), "ram", Value::Null, 1),
        limit(json!({}), "ram", Value::Null, 1),
        limit(json!({"project_id": "nope"}), "ram", Value::Null, 1),
        limit(json!({"domain_id": "nope"}), "ram", Value::Null, 1),
        limit(json!({"project_id": p1, "default_limit": 3}), "ram", Value::Null, 1),
    ] {
        let (s, body) = post_limit(bad.clone()).await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }
    // A project id that names a domain makes a domain limit.
    let (s, body) = post_limit(limit(json!({"project_id": "default"}), "ram", Value::Null, 2048)).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["limits"][0]["domain_id"], "default");
    assert_eq!(body["limits"][0]["project_id"], Value::Null);
    assert_eq!(
        post_limit(limit(json!({"domain_id": "default"}), "ram", Value::Null, 1))
            .await
            .0,
        409
    );

    let (_, body) = cloud
        .call(Method::GET, &format!("limits?project_id={p1}"), &admin, None)
        .await;
    assert_eq!(ids(&body, "limits"), vec![l1.clone()]);
    let (_, body) = cloud.call(Method::GET, "limits?domain_id=default", &admin, None).await;
    assert_eq!(body["limits"].as_array().unwrap().len(), 1);
    let (_, body) = cloud.call(Method::GET, "limits", &admin, None).await;
    assert_eq!(body["limits"].as_array().unwrap().len(), 2);

    let (s, body) = cloud
        .call(
            Method::PATCH,
            &format!("limits/{l1}"),
            &admin,
            Some(json!({"limit": {"resource_limit": 7, "description": "more"}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["limit"]["resource_limit"], 7);
    assert_eq!(body["limit"]["description"], "more");
    for bad in [
        json!({"limit": {"service_id": svc}}),
        json!({"limit": {"resource_limit": "x"}}),
        json!({"limit": {"resource_limit": -5}}),
    ] {
        assert_eq!(
            cloud
                .call(Method::PATCH, &format!("limits/{l1}"), &admin, Some(bad))
                .await
                .0,
            400
        );
    }
    assert_eq!(
        cloud
            .call(
                Method::PATCH,
                "limits/nope",
                &admin,
                Some(json!({"limit": {"resource_limit": 1}}))
            )
            .await
            .0,
        404
    );

    // A referenced registered limit keeps its triple, but its default may change.
    let (s, _) = cloud
        .call(
            Method::PATCH,
            &format!("registered_limits/{cores}"),
            &admin,
            Some(json!({"registered_limit": {"resource_name": "vcpus"}})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, body) = cloud
        .call(
            Method::PATCH,
            &format!("registered_limits/{cores}"),
            &admin,
            Some(json!({"registered_limit": {"default_limit": 20}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["registered_limit"]["default_limit"], 20);
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("registered_limits/{cores}"), &admin, None)
            .await
            .0,
        403
    );

    // What the other services read.
    let id = &cloud.identity;
    assert_eq!(
        id.effective_limit(&p1, "compute", Some("RegionOne"), "cores")
            .await
            .unwrap(),
        Some(7)
    );
    assert_eq!(
        id.effective_limit(&p1, &svc, Some("RegionOne"), "cores").await.unwrap(),
        Some(7)
    );
    assert_eq!(
        id.effective_limit(&p2, "compute", Some("RegionOne"), "cores")
            .await
            .unwrap(),
        Some(20)
    );
    assert_eq!(id.effective_limit(&p2, "compute", None, "cores").await.unwrap(), None);
    assert_eq!(
        id.effective_limit(&p1, "compute", Some("RegionOne"), "ram")
            .await
            .unwrap(),
        Some(1024)
    );
    assert_eq!(id.effective_limit(&p1, "compute", None, "gpus").await.unwrap(), None);
    assert_eq!(id.effective_limit(&p1, "volume", None, "cores").await.unwrap(), None);
    assert!(id.effective_limit("nope", "compute", None, "cores").await.is_err());

    let (s, body) = cloud.call(Method::GET, "limits/model", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["model"]["name"], "flat");
    assert!(body["model"]["description"].as_str().unwrap().contains("hierarchy"));

    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("limits/{l1}"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        cloud.call(Method::GET, &format!("limits/{l1}"), &admin, None).await.0,
        404
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("limits/{l1}"), &admin, None)
            .await
            .0,
        404
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("registered_limits/{cores}"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        cloud
            .call(Method::GET, &format!("registered_limits/{cores}"), &admin, None)
            .await
            .0,
        404
    );
    cloud.stop().await;
}

#[tokio::test]
async fn project_members_see_their_own_limits() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let svc = create_service(&cloud, &admin, "volumev3").await;
    let p1 = create_project(&cloud, &admin, "p1").await;
    let p2 = create_project(&cloud, &admin, "p2").await;
    let (s, _) = cloud
        .call(
            Method::POST,
            "registered_limits",
            &admin,
            Some(json!({"registered_limits": [{"service_id": svc, "resource_name": "volumes", "default_limit": 10}]})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, body) = cloud
        .call(
            Method::POST,
            "limits",
            &admin,
            Some(json!({"limits": [
                {"project_id": p1, "service_id": svc, "resource_name": "volumes", "resource_limit": 1},
                {"project_id": p2, "service_id": svc, "resource_name": "volumes", "resource_limit": 2},
            ]})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let l1 = body["limits"][0]["id"].as_str().unwrap().to_owned();
    let l2 = body["limits"][1]["id"].as_str().unwrap().to_owned();

    let member = role_id(&cloud, &admin, "member").await;
    let uid = create_user(&cloud, &admin, "erin", "pw").await;
    let (s, _) = cloud
        .call(
            Method::PUT,
            &format!("projects/{p1}/users/{uid}/roles/{member}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (token, _) = cloud.token_for(&uid, "pw", project_scope(&p1)).await;

    let (s, body) = cloud.call(Method::GET, "limits", &token, None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(ids(&body, "limits"), vec![l1.clone()]);
    let (_, body) = cloud
        .call(Method::GET, &format!("limits?project_id={p2}"), &token, None)
        .await;
    assert!(body["limits"].as_array().unwrap().is_empty());
    assert_eq!(
        cloud.call(Method::GET, &format!("limits/{l1}"), &token, None).await.0,
        200
    );
    assert_eq!(
        cloud.call(Method::GET, &format!("limits/{l2}"), &token, None).await.0,
        403
    );
    assert_eq!(cloud.call(Method::GET, "registered_limits", &token, None).await.0, 200);
    assert_eq!(cloud.call(Method::GET, "limits/model", &token, None).await.0, 200);
    let (s, body) = cloud
        .call(
            Method::POST,
            "registered_limits",
            &token,
            Some(json!({"registered_limits": [{"service_id": svc, "resource_name": "x", "default_limit": 1}]})),
        )
        .await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(
        cloud
            .call(
                Method::PATCH,
                &format!("limits/{l1}"),
                &token,
                Some(json!({"limit": {"resource_limit": 99}}))
            )
            .await
            .0,
        403
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("limits/{l1}"), &token, None)
            .await
            .0,
        403
    );

    // An admin sees every limit.
    let (_, body) = cloud.call(Method::GET, "limits", &admin, None).await;
    assert_eq!(body["limits"].as_array().unwrap().len(), 2);
    cloud.stop().await;
}
