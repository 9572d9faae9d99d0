//! OS-EP-FILTER: endpoint groups, project–endpoint and
//! project–endpoint-group associations.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use crate::create_project;

async fn post(cloud: &TestCloud, token: &str, path: &str, body: Value) -> Value {
    let (s, b) = cloud.call(Method::POST, path, token, Some(body)).await;
    assert_eq!(s, 201, "{path}: {b}");
    b
}

fn ids(body: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = body[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn endpoint_groups_and_project_associations() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let svc = post(
        &cloud,
        &admin,
        "services",
        json!({"service": {"type": "image", "name": "glance"}}),
    )
    .await["service"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut eps = Vec::new();
    for interface in ["public", "internal"] {
        let e = post(
            &cloud,
            &admin,
            "endpoints",
            json!({"endpoint": {"service_id": svc, "interface": interface, "url": "http://img:9292",
                                "region_id": "RegionOne"}}),
        )
        .await;
        eps.push(e["endpoint"]["id"].as_str().unwrap().to_owned());
    }
    let p1 = create_project(&cloud, &admin, "p1").await;

    // Endpoint groups.
    let base = "OS-EP-FILTER/endpoint_groups";
    let g = post(
        &cloud,
        &admin,
        base,
        json!({"endpoint_group": {"name": "images", "description": "d", "filters": {"service_id": svc}}}),
    )
    .await["endpoint_group"]
        .clone();
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["filters"]["service_id"], svc.as_str());
    assert!(
        g["links"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v3/{base}/{gid}"))
    );
    let public = post(
        &cloud,
        &admin,
        base,
        json!({"endpoint_group": {"name": "public", "filters": {"interface": "public"}}}),
    )
    .await["endpoint_group"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for bad in [
        json!({"endpoint_group": {"name": "x"}}),
        json!({"endpoint_group": {"name": "x", "filters": {}}}),
        json!({"endpoint_group": {"name": "x", "filters": {"enabled": true}}}),
        json!({"endpoint_group": {"name": "x", "filters": {"interface": "private"}}}),
        json!({"endpoint_group": {"name": "x", "filters": "service_id"}}),
        json!({"endpoint_group": {"filters": {"interface": "public"}}}),
        json!({"endpoint_group": {"name": "x", "filters": {"interface": "public"}, "extra": 1}}),
    ] {
        let (s, body) = cloud.call(Method::POST, base, &admin, Some(bad.clone())).await;
        assert_eq!(s, 400, "{bad} -> {body}");
    }

    let (s, body) = cloud.call(Method::GET, base, &admin, None).await;
    assert_eq!(s, 200);
    assert!(body["endpoint_groups"].as_array().unwrap().contains(&g), "{body}");
    let (_, body) = cloud
        .call(Method::GET, &format!("{base}?name=public"), &admin, None)
        .await;
    assert_eq!(ids(&body, "endpoint_groups"), vec![public.clone()]);
    let (s, body) = cloud.call(Method::GET, &format!("{base}/{gid}"), &admin, None).await;
    assert_eq!((s, &body["endpoint_group"]), (200, &g));
    let head = cloud
        .http
        .head(cloud.url(&format!("{base}/{gid}")))
        .header("x-auth-token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        cloud.call(Method::GET, &format!("{base}/nope"), &admin, None).await.0,
        404
    );

    let (s, body) = cloud
        .call(
            Method::PATCH,
            &format!("{base}/{public}"),
            &admin,
            Some(json!({"endpoint_group": {"name": "internal", "filters": {"service_id": svc, "interface": "internal"}}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["endpoint_group"]["name"], "internal");
    assert_eq!(body["endpoint_group"]["description"], Value::Null);
    assert_eq!(
        cloud
            .call(
                Method::PATCH,
                &format!("{base}/{public}"),
                &admin,
                Some(json!({"endpoint_group": {}}))
            )
            .await
            .0,
        400
    );

    let (_, body) = cloud
        .call(Method::GET, &format!("{base}/{gid}/endpoints"), &admin, None)
        .await;
    assert_eq!(ids(&body, "endpoints"), sorted(eps.clone()));
    let (_, body) = cloud
        .call(Method::GET, &format!("{base}/{public}/endpoints"), &admin, None)
        .await;
    assert_eq!(ids(&body, "endpoints"), vec![eps[1].clone()]);

    // Project–endpoint associations.
    let pe = |p: &str, e: &str| format!("OS-EP-FILTER/projects/{p}/endpoints/{e}");
    assert_eq!(cloud.call(Method::GET, &pe(&p1, &eps[0]), &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::PUT, &pe(&p1, &eps[0]), &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::PUT, &pe(&p1, &eps[0]), &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::GET, &pe(&p1, &eps[0]), &admin, None).await.0, 204);
    let head = cloud
        .http
        .head(cloud.url(&pe(&p1, &eps[0])))
        .header("x-auth-token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 204);
    assert_eq!(cloud.call(Method::PUT, &pe("nope", &eps[0]), &admin, None).await.0, 404);
    let (s, body) = cloud.call(Method::PUT, &pe(&p1, "nope"), &admin, None).await;
    assert_eq!(s, 404);
    assert_eq!(body["error"]["message"], "Could not find endpoint: nope.");
    let (_, body) = cloud
        .call(
            Method::GET,
            &format!("OS-EP-FILTER/projects/{p1}/endpoints"),
            &admin,
            None,
        )
        .await;
    assert_eq!(ids(&body, "endpoints"), vec![eps[0].clone()]);
    let (_, body) = cloud
        .call(
            Method::GET,
            &format!("OS-EP-FILTER/endpoints/{}/projects", eps[0]),
            &admin,
            None,
        )
        .await;
    assert_eq!(ids(&body, "projects"), vec![p1.clone()]);
    assert_eq!(
        cloud
            .call(Method::GET, "OS-EP-FILTER/endpoints/nope/projects", &admin, None)
            .await
            .0,
        404
    );

    // Project–endpoint-group associations.
    let gp = |g: &str, p: &str| format!("{base}/{g}/projects/{p}");
    assert_eq!(cloud.call(Method::GET, &gp(&public, &p1), &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::PUT, &gp(&public, &p1), &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::PUT, &gp(&public, &p1), &admin, None).await.0, 409);
    assert_eq!(cloud.call(Method::PUT, &gp("nope", &p1), &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::PUT, &gp(&public, "nope"), &admin, None).await.0, 404);
    let (s, body) = cloud.call(Method::GET, &gp(&public, &p1), &admin, None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["project_endpoint_group"]["endpoint_group_id"], public.as_str());
    assert_eq!(body["project_endpoint_group"]["project_id"], p1.as_str());
    let (_, body) = cloud
        .call(Method::GET, &format!("{base}/{public}/projects"), &admin, None)
        .await;
    assert_eq!(ids(&body, "projects"), vec![p1.clone()]);
    let (_, body) = cloud
        .call(
            Method::GET,
            &format!("OS-EP-FILTER/projects/{p1}/endpoint_groups"),
            &admin,
            None,
        )
        .await;
    assert_eq!(ids(&body, "endpoint_groups"), vec![public.clone()]);
    // The project's endpoints: the direct one and the group's, once each.
    let (_, body) = cloud
        .call(
            Method::GET,
            &format!("OS-EP-FILTER/projects/{p1}/endpoints"),
            &admin,
            None,
        )
        .await;
    assert_eq!(ids(&body, "endpoints"), sorted(eps.clone()));
    assert_eq!(
        cloud
            .call(Method::GET, "OS-EP-FILTER/projects/nope/endpoints", &admin, None)
            .await
            .0,
        404
    );

    // The catalog is not filtered (Keystone's default `sql` catalog driver).
    let (_, body) = cloud.call(Method::GET, "auth/catalog", &admin, None).await;
    let image = body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "image")
        .unwrap()
        .clone();
    assert_eq!(image["endpoints"].as_array().unwrap().len(), 2);

    // Removal.
    assert_eq!(cloud.call(Method::DELETE, &gp(&public, &p1), &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::DELETE, &gp(&public, &p1), &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::DELETE, &pe(&p1, &eps[0]), &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::DELETE, &pe(&p1, &eps[0]), &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::PUT, &gp(&gid, &p1), &admin, None).await.0, 204);
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("{base}/{gid}"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("{base}/{gid}"), &admin, None)
            .await
            .0,
        404
    );
    let (_, body) = cloud
        .call(
            Method::GET,
            &format!("OS-EP-FILTER/projects/{p1}/endpoint_groups"),
            &admin,
            None,
        )
        .await;
    assert!(body["endpoint_groups"].as_array().unwrap().is_empty(), "{body}");
    cloud.stop().await;
}

#[tokio::test]
async fn endpoint_filter_needs_admin() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let p1 = create_project(&cloud, &admin, "p1").await;
    let uid = crate::create_user(&cloud, &admin, "frank", "pw").await;
    let member = crate::role_id(&cloud, &admin, "member").await;
    let (s, _) = cloud
        .call(
            Method::PUT,
            &format!("projects/{p1}/users/{uid}/roles/{member}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (token, _) = cloud.token_for(&uid, "pw", crate::project_scope(&p1)).await;
    for (method, path) in [
        (Method::GET, "OS-EP-FILTER/endpoint_groups".to_owned()),
        (Method::GET, format!("OS-EP-FILTER/projects/{p1}/endpoints")),
        (Method::PUT, format!("OS-EP-FILTER/projects/{p1}/endpoints/x")),
    ] {
        let (s, body) = cloud.call(method, &path, &token, None).await;
        assert_eq!(s, 403, "{path}: {body}");
    }
    let (s, _) = cloud
        .call(
            Method::POST,
            "OS-EP-FILTER/endpoint_groups",
            &token,
            Some(json!({"endpoint_group": {"name": "x", "filters": {"interface": "public"}}})),
        )
        .await;
    assert_eq!(s, 403);
    cloud.stop().await;
}
