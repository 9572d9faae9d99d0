//! The core flow on every database the machine offers: SQLite always,
//! PostgreSQL and MariaDB when `OXISTACK_TEST_POSTGRES`/`_MYSQL` are set.

use reqwest::Method;
use serde_json::json;
use test_cloud::{Backend, TestCloud};

use crate::{call, create_image, md5_hex, patch, project_user, upload};

#[tokio::test]
async fn core_flow_on_every_backend() {
    for backend in Backend::from_env() {
        let cloud = TestCloud::start_on(backend).await.with_image().await;
        let admin = cloud.admin_token().await;
        let (_, token) = project_user(&cloud, &admin, "p1", "member").await;
        let (alt_pid, alt) = project_user(&cloud, &admin, "p2", "member").await;
        let img = create_image(&cloud, &token, json!({"tags": ["t"], "os_distro": "x"})).await;
        let id = img["id"].as_str().unwrap();
        let data = crate::bytes(300_000, 3);
        assert_eq!(upload(&cloud, id, &token, data.clone()).await, 204, "{backend:?}");
        let (_, v) = call(&cloud, Method::GET, &format!("v2/images/{id}"), &token, None).await;
        assert_eq!(v["checksum"], md5_hex(&data), "{backend:?}");
        let (s, _) = patch(&cloud, id, &token, json!([{"op": "add", "path": "/k", "value": "v"}])).await;
        assert_eq!(s, 200, "{backend:?}");
        let (_, v) = call(&cloud, Method::GET, "v2/images?tag=t&k=v&sort=size:asc", &token, None).await;
        assert_eq!(v["images"].as_array().unwrap().len(), 1, "{backend:?}: {v}");
        let members = format!("v2/images/{id}/members");
        assert_eq!(
            call(&cloud, Method::POST, &members, &token, Some(json!({"member": alt_pid})))
                .await
                .0,
            200
        );
        assert_eq!(
            call(&cloud, Method::POST, &members, &token, Some(json!({"member": alt_pid})))
                .await
                .0,
            409,
            "{backend:?}: unique violation classified"
        );
        let me = format!("{members}/{alt_pid}");
        assert_eq!(
            call(&cloud, Method::PUT, &me, &alt, Some(json!({"status": "accepted"})))
                .await
                .0,
            200
        );
        let (_, v) = call(&cloud, Method::GET, "v2/images", &alt, None).await;
        assert_eq!(v["images"].as_array().unwrap().len(), 1, "{backend:?}");
        assert_eq!(
            call(&cloud, Method::DELETE, &format!("v2/images/{id}"), &token, None)
                .await
                .0,
            204
        );
        cloud.stop().await;
    }
}
