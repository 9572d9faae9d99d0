//! The same flows on every database the machine offers: SQLite always,
//! PostgreSQL and MariaDB when `OXISTACK_TEST_POSTGRES`/`_MYSQL` are set (the
//! test script sets them).

use reqwest::Method;
use serde_json::json;
use test_cloud::{Backend, TestCloud};

use crate::{create_project, create_user, project_scope, role_id};

#[tokio::test]
async fn core_flows_on_every_backend() {
    for backend in Backend::from_env() {
        let cloud = TestCloud::start_on(backend).await;
        let admin = cloud.admin_token().await;
        let pid = create_project(&cloud, &admin, "proj").await;
        let uid = create_user(&cloud, &admin, "erin", "pw").await;
        assert_eq!(
            cloud
                .call(
                    Method::POST,
                    "users",
                    &admin,
                    Some(json!({"user": {"name": "erin", "domain_id": "default"}}))
                )
                .await
                .0,
            409,
            "{backend:?}: unique violation classified"
        );
        let member = role_id(&cloud, &admin, "member").await;
        assert_eq!(
            cloud
                .call(
                    Method::PUT,
                    &format!("projects/{pid}/users/{uid}/roles/{member}"),
                    &admin,
                    None
                )
                .await
                .0,
            204
        );
        let (token, body) = cloud.token_for(&uid, "pw", project_scope(&pid)).await;
        assert_eq!(body["token"]["roles"].as_array().unwrap().len(), 2, "{backend:?}");
        let (s, _) = cloud.call(Method::GET, &format!("projects/{pid}"), &token, None).await;
        assert_eq!(s, 200, "{backend:?}");
        let (s, _) = cloud
            .call(
                Method::PATCH,
                &format!("projects/{pid}"),
                &admin,
                Some(json!({"project": {"tags": ["t1"], "enabled": false}})),
            )
            .await;
        assert_eq!(s, 200, "{backend:?}");
        assert_eq!(
            cloud.call(Method::GET, "users", &token, None).await.0,
            401,
            "{backend:?}: disabled project revoked"
        );
        assert_eq!(
            cloud
                .call(Method::DELETE, &format!("users/{uid}"), &admin, None)
                .await
                .0,
            204
        );
        cloud.stop().await;
    }
}
