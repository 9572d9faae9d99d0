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
        // Attachments (the legacy actions and the 3.27 list, whose query
        // joins volumes) and user messages (3.3) on this database.
        let (s, b) = super::attach::act(
            &cloud,
            &project,
            &token,
            &id,
            json!({"os-attach": {"instance_uuid": "5f9e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a01", "mountpoint": "/dev/vdb"}}),
        )
        .await;
        assert_eq!(s, 202, "{backend:?}: {b}");
        let (_, b, _) = super::attachments::call_at(
            &cloud,
            "3.44",
            Method::GET,
            &project,
            "attachments/detail",
            &token,
            None,
        )
        .await;
        assert_eq!(b["attachments"][0]["status"], "attached", "{backend:?}: {b}");
        let (s, _) = super::attach::act(&cloud, &project, &token, &id, json!({"os-detach": {}})).await;
        assert_eq!(s, 202, "{backend:?}");
        assert_eq!(
            super::attach::status_of(&cloud, &project, &token, &id).await["status"],
            "available"
        );
        let (_, b, _) =
            super::attachments::call_at(&cloud, "3.3", Method::GET, &project, "messages", &token, None).await;
        assert_eq!(b["messages"], json!([]), "{backend:?}: {b}");
        let (s, _) = call(
            &cloud,
            Method::POST,
            &project,
            "types",
            &token,
            Some(json!({"volume_type": {"name": "nowhere", "extra_specs": {"vendor_name": "Nobody"}}})),
        )
        .await;
        assert_eq!(s, 200, "{backend:?}");
        let (s, bad) = call(
            &cloud,
            Method::POST,
            &project,
            "volumes",
            &token,
            Some(json!({"volume": {"size": 1, "volume_type": "nowhere"}})),
        )
        .await;
        assert_eq!(s, 202, "{backend:?}: {bad}");
        let bad_id = bad["volume"]["id"].as_str().unwrap().to_owned();
        wait_status(
            &cloud,
            &project,
            &token,
            &format!("volumes/{bad_id}"),
            "volume",
            "error",
        )
        .await;
        let (_, b, _) =
            super::attachments::call_at(&cloud, "3.3", Method::GET, &project, "messages", &token, None).await;
        assert_eq!(b["messages"][0]["resource_uuid"], bad_id.as_str(), "{backend:?}: {b}");
        let (s, _) = call(
            &cloud,
            Method::DELETE,
            &project,
            &format!("volumes/{bad_id}"),
            &token,
            None,
        )
        .await;
        assert_eq!(s, 202, "{backend:?}");
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
