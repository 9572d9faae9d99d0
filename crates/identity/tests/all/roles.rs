//! Roles, implications, grants (direct, group, inherited, system) and the
//! role-assignment listing with `effective` and `include_names`.

use reqwest::Method;
use serde_json::json;
use test_cloud::TestCloud;

use crate::{create_project, create_user, project_scope, role_id};

#[tokio::test]
async fn effective_assignments_expand_groups_inheritance_and_implication() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let uid = create_user(&cloud, &admin, "carol", "pw").await;
    let parent = create_project(&cloud, &admin, "parent").await;
    let (_, c) = cloud
        .call(
            Method::POST,
            "projects",
            &admin,
            Some(json!({"project": {"name": "child", "parent_id": parent}})),
        )
        .await;
    let child = c["project"]["id"].as_str().unwrap().to_owned();
    let (_, g) = cloud
        .call(Method::POST, "groups", &admin, Some(json!({"group": {"name": "team"}})))
        .await;
    let gid = g["group"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        cloud
            .call(Method::PUT, &format!("groups/{gid}/users/{uid}"), &admin, None)
            .await
            .0,
        204
    );
    let member = role_id(&cloud, &admin, "member").await;

    // Inherited group grant on the parent: the child gets it, the parent not.
    let inherit = format!("OS-INHERIT/projects/{parent}/groups/{gid}/roles/{member}/inherited_to_projects");
    assert_eq!(cloud.call(Method::PUT, &inherit, &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::HEAD, &inherit, &admin, None).await.0, 204);
    let (_, rows) = cloud
        .call(
            Method::GET,
            &format!("role_assignments?user.id={uid}&effective&include_names"),
            &admin,
            None,
        )
        .await;
    let rows = rows["role_assignments"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "member on the child, and reader implied by it: {rows:?}");
    assert!(rows.iter().all(|r| r["scope"]["project"]["id"] == child.as_str()));
    assert!(
        rows.iter()
            .any(|r| r["role"]["name"] == "reader" && r["links"]["prior_role"].is_string())
    );
    assert!(rows.iter().all(|r| r["links"]["membership"].is_string()));
    assert_eq!(rows[0]["user"]["name"], "carol");
    let (_, raw) = cloud
        .call(Method::GET, &format!("role_assignments?group.id={gid}"), &admin, None)
        .await;
    assert_eq!(
        raw["role_assignments"][0]["scope"]["OS-INHERIT:inherited_to"],
        "projects"
    );

    let (_, body) = cloud.token_for(&uid, "pw", project_scope(&child)).await;
    assert_eq!(body["token"]["roles"].as_array().unwrap().len(), 2);
    let scoped = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": uid, "password": "pw"}}}, "scope": project_scope(&parent)}});
    assert_eq!(
        cloud
            .http
            .post(cloud.url("auth/tokens"))
            .json(&scoped)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Implications: no cycles.
    let reader = role_id(&cloud, &admin, "reader").await;
    assert_eq!(
        cloud
            .call(Method::PUT, &format!("roles/{reader}/implies/{member}"), &admin, None)
            .await
            .0,
        403
    );
    let (s, inf) = cloud.call(Method::GET, "role_inferences", &admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        inf["role_inferences"].as_array().unwrap().len(),
        3,
        "admin, manager and member each imply"
    );

    // Domain-specific roles imply but are not themselves in tokens.
    let (s, dr) = cloud
        .call(
            Method::POST,
            "roles",
            &admin,
            Some(json!({"role": {"name": "dom-role", "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201);
    let dr = dr["role"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        cloud
            .call(Method::PUT, &format!("roles/{dr}/implies/{member}"), &admin, None)
            .await
            .0,
        201
    );
    assert_eq!(
        cloud
            .call(
                Method::PUT,
                &format!("projects/{parent}/users/{uid}/roles/{dr}"),
                &admin,
                None
            )
            .await
            .0,
        204
    );
    let (_, body) = cloud.token_for(&uid, "pw", project_scope(&parent)).await;
    let names: Vec<&str> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["member", "reader"]);
    let (_, global) = cloud.call(Method::GET, "roles", &admin, None).await;
    assert!(
        global["roles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "dom-role")
    );

    // System grants.
    let sys = format!("system/users/{uid}/roles/{reader}");
    assert_eq!(cloud.call(Method::PUT, &sys, &admin, None).await.0, 204);
    let (_, body) = cloud.token_for(&uid, "pw", json!({"system": {"all": true}})).await;
    assert_eq!(body["token"]["system"]["all"], true);
    let (_, listed) = cloud
        .call(Method::GET, &format!("system/users/{uid}/roles"), &admin, None)
        .await;
    assert_eq!(listed["roles"][0]["id"], reader.as_str());
    assert_eq!(
        cloud
            .call(
                Method::PUT,
                &format!("projects/{parent}/users/{uid}/roles/nope"),
                &admin,
                None
            )
            .await
            .0,
        404
    );
    cloud.stop().await;
}
