//! The default policy's personas: a project member may not administer.

use reqwest::Method;
use serde_json::json;
use test_cloud::TestCloud;

use crate::{create_project, create_user, project_scope, role_id};

#[tokio::test]
async fn members_cannot_administer() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let mine = create_project(&cloud, &admin, "mine").await;
    let other = create_project(&cloud, &admin, "other").await;
    let uid = create_user(&cloud, &admin, "dave", "pw").await;
    let member = role_id(&cloud, &admin, "member").await;
    let admin_role = role_id(&cloud, &admin, "admin").await;
    assert_eq!(
        cloud
            .call(
                Method::PUT,
                &format!("projects/{mine}/users/{uid}/roles/{member}"),
                &admin,
                None
            )
            .await
            .0,
        204
    );
    let (token, _) = cloud.token_for(&uid, "pw", project_scope(&mine)).await;

    let (s, body) = cloud.call(Method::GET, "users", &token, None).await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("identity:list_users")
    );
    assert_eq!(
        cloud
            .call(Method::GET, &format!("projects/{other}"), &token, None)
            .await
            .0,
        403
    );
    assert_eq!(
        cloud
            .call(Method::GET, &format!("projects/{mine}"), &token, None)
            .await
            .0,
        200
    );
    assert_eq!(
        cloud
            .call(
                Method::PUT,
                &format!("projects/{mine}/users/{uid}/roles/{admin_role}"),
                &token,
                None
            )
            .await
            .0,
        403
    );
    assert_eq!(
        cloud
            .call(
                Method::POST,
                "projects",
                &token,
                Some(json!({"project": {"name": "x"}}))
            )
            .await
            .0,
        403
    );
    assert_eq!(
        cloud.call(Method::GET, &format!("users/{uid}"), &token, None).await.0,
        200,
        "self"
    );
    let (s, _) = cloud.call(Method::GET, "auth/projects", &token, None).await;
    assert_eq!(s, 200);
    cloud.stop().await;
}
