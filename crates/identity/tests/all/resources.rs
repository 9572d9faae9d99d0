//! Domains, projects (hierarchy, tags), users and groups: CRUD, conflicts,
//! not-found, and what deleting takes with it.

use reqwest::Method;
use serde_json::json;
use test_cloud::TestCloud;

use crate::{create_project, create_user};

#[tokio::test]
async fn domains_projects_and_hierarchy() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (s, d) = cloud
        .call(
            Method::POST,
            "domains",
            &admin,
            Some(json!({"domain": {"name": "d1", "description": "x"}})),
        )
        .await;
    assert_eq!(s, 201);
    let did = d["domain"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        cloud
            .call(Method::POST, "domains", &admin, Some(json!({"domain": {"name": "d1"}})))
            .await
            .0,
        409
    );
    assert_eq!(
        cloud
            .call(
                Method::POST,
                "domains",
                &admin,
                Some(json!({"domain": {"name": "x".repeat(65)}}))
            )
            .await
            .0,
        400
    );
    assert_eq!(
        cloud
            .call(Method::POST, "domains", &admin, Some(json!({"domain": {"name": ""}})))
            .await
            .0,
        400
    );

    let (s, p) = cloud
        .call(
            Method::POST,
            "projects",
            &admin,
            Some(json!({"project": {"name": "parent", "domain_id": did, "tags": ["a", "b"]}})),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let parent = p["project"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        p["project"]["parent_id"],
        did.as_str(),
        "top-level projects hang off their domain"
    );
    let (s, c) = cloud
        .call(
            Method::POST,
            "projects",
            &admin,
            Some(json!({"project": {"name": "child", "parent_id": parent}})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(
        c["project"]["domain_id"],
        did.as_str(),
        "a child lands in its parent's domain"
    );
    let (_, list) = cloud
        .call(Method::GET, &format!("projects?parent_id={parent}"), &admin, None)
        .await;
    assert_eq!(list["projects"].as_array().unwrap().len(), 1);
    let (_, list) = cloud.call(Method::GET, "projects?tags=a,b", &admin, None).await;
    assert_eq!(list["projects"][0]["id"], parent.as_str());
    let (_, list) = cloud.call(Method::GET, "projects?not-tags-any=a", &admin, None).await;
    assert!(
        list["projects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != parent.as_str())
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("projects/{parent}"), &admin, None)
            .await
            .0,
        403,
        "not a leaf"
    );
    assert_eq!(
        cloud
            .call(Method::PUT, &format!("projects/{parent}/tags/c"), &admin, None)
            .await
            .0,
        201
    );
    assert_eq!(
        cloud
            .call(Method::GET, &format!("projects/{parent}/tags/c"), &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        cloud
            .call(
                Method::PATCH,
                &format!("projects/{parent}"),
                &admin,
                Some(json!({"project": {"domain_id": "default"}}))
            )
            .await
            .0,
        400
    );

    let user = cloud
        .call(
            Method::POST,
            "users",
            &admin,
            Some(json!({"user": {"name": "u", "domain_id": did, "email": "u@example.org"}})),
        )
        .await
        .1;
    assert_eq!(user["user"]["email"], "u@example.org", "extra attributes are kept");
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("domains/{did}"), &admin, None)
            .await
            .0,
        403,
        "enabled"
    );
    assert_eq!(
        cloud
            .call(
                Method::PATCH,
                &format!("domains/{did}"),
                &admin,
                Some(json!({"domain": {"enabled": false}}))
            )
            .await
            .0,
        200
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("domains/{did}"), &admin, None)
            .await
            .0,
        204
    );
    let uid = user["user"]["id"].as_str().unwrap();
    assert_eq!(
        cloud.call(Method::GET, &format!("users/{uid}"), &admin, None).await.0,
        404,
        "cascaded"
    );
    assert_eq!(
        cloud
            .call(Method::GET, &format!("projects/{parent}"), &admin, None)
            .await
            .0,
        404,
        "cascaded"
    );
    cloud.stop().await;
}

#[tokio::test]
async fn users_groups_and_membership() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let uid = create_user(&cloud, &admin, "bob", "pw").await;
    let (s, body) = cloud
        .call(
            Method::POST,
            "users",
            &admin,
            Some(json!({"user": {"name": "bob", "domain_id": "default"}})),
        )
        .await;
    assert_eq!((s, body["error"]["title"].as_str()), (409, Some("Conflict")));
    assert_eq!(
        cloud
            .call(
                Method::POST,
                "users",
                &admin,
                Some(json!({"user": {"name": "x", "domain_id": "nope"}}))
            )
            .await
            .0,
        404,
        "Keystone: DomainNotFound"
    );
    assert_eq!(
        cloud
            .call(Method::POST, "users", &admin, Some(json!({"user": {"name": 5}})))
            .await
            .0,
        400
    );
    let (s, g) = cloud
        .call(
            Method::POST,
            "groups",
            &admin,
            Some(json!({"group": {"name": "g", "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201);
    let gid = g["group"]["id"].as_str().unwrap();
    let member = format!("groups/{gid}/users/{uid}");
    assert_eq!(cloud.call(Method::HEAD, &member, &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::PUT, &member, &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::HEAD, &member, &admin, None).await.0, 204);
    let (_, groups) = cloud
        .call(Method::GET, &format!("users/{uid}/groups"), &admin, None)
        .await;
    assert_eq!(groups["groups"][0]["id"], gid);
    let (_, users) = cloud
        .call(Method::GET, &format!("groups/{gid}/users"), &admin, None)
        .await;
    assert_eq!(users["users"][0]["id"], uid.as_str());
    assert_eq!(cloud.call(Method::DELETE, &member, &admin, None).await.0, 204);
    assert_eq!(cloud.call(Method::DELETE, &member, &admin, None).await.0, 404);
    assert_eq!(cloud.call(Method::GET, "users/nope", &admin, None).await.0, 404);
    let (_, list) = cloud.call(Method::GET, "users?name=bob", &admin, None).await;
    assert_eq!(list["users"].as_array().unwrap().len(), 1);
    assert!(list["links"]["self"].as_str().unwrap().ends_with("/v3/users"));
    let pid = create_project(&cloud, &admin, "p").await;
    assert_eq!(
        cloud
            .call(
                Method::POST,
                "projects",
                &admin,
                Some(json!({"project": {"name": "p", "domain_id": "default"}}))
            )
            .await
            .0,
        409
    );
    assert_eq!(
        cloud
            .call(Method::DELETE, &format!("projects/{pid}"), &admin, None)
            .await
            .0,
        204
    );
    cloud.stop().await;
}
