//! The volume lifecycle on every database the environment offers
//! (SQLite always; PostgreSQL and MariaDB when `OXISTACK_TEST_POSTGRES` /
//! `OXISTACK_TEST_MYSQL` are set).

use reqwest::Method;
use serde_json::json;
use test_cloud::Backend;

use super::*;

#[tokio::test]
async fn lifecycle_on_every_database() {
    for backend in Backend::from_env() {
        let cloud = TestCloud::start_on(backend).await.with_block_storage().await;
        let (token, project) = admin(&cloud).await;
        let v = volume(
            &cloud,
            &project,
            &token,
            json!({"size": 1, "metadata": {"db": format!("{backend:?}")}}),
        )
        .await;
        let id = v["id"].as_str().unwrap().to_owned();
        let (s, snap) = call(
            &cloud,
            Method::POST,
            &project,
            "snapshots",
            &token,
            Some(json!({"snapshot": {"volume_id": id}})),
        )
        .await;
        assert_eq!(s, 202, "{backend:?}: {snap}");
        let sid = snap["snapshot"]["id"].as_str().unwrap().to_owned();
        wait_status(
            &cloud,
            &project,
            &token,
            &format!("snapshots/{sid}"),
            "snapshot",
            "available",
        )
        .await;
        let (_, q) = call(
            &cloud,
            Method::GET,
            &project,
            &format!("os-quota-sets/{project}?usage=true"),
            &token,
            None,
        )
        .await;
        assert_eq!(q["quota_set"]["gigabytes"]["in_use"], 2, "{backend:?}: {q}");
        let (s, _) = call(
            &cloud,
            Method::POST,
            &project,
            "types",
            &token,
            Some(json!({"volume_type": {"name": "t"}})),
        )
        .await;
        assert_eq!(s, 200, "{backend:?}");
        let (s, _) = call(
            &cloud,
            Method::DELETE,
            &project,
            &format!("volumes/{id}?cascade=true"),
            &token,
            None,
        )
        .await;
        assert_eq!(s, 202, "{backend:?}");
        wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "gone").await;
        let (_, l) = call(&cloud, Method::GET, &project, "volumes/detail", &token, None).await;
        assert_eq!(l["volumes"], json!([]), "{backend:?}");
        cloud.stop().await;
    }
}
