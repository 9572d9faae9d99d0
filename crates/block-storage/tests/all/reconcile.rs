use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use super::*;
use block_storage::agent::driver::file::FileDriver;

async fn restart_agent(cloud: &mut TestCloud) {
    let agent = cloud.volume_agents.pop().expect("agent");
    agent.stop();
    drop(agent);
    let driver = FileDriver::open(cloud.dir().join("block-storage/node1")).unwrap();
    cloud.add_volume_agent("node1", Arc::new(driver)).await;
}

#[tokio::test]
async fn a_restarted_agent_reconciles_half_done_work() {
    let mut cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let reset = |id: String, status: &'static str| {
        let (cloud, project, token) = (&cloud, project.clone(), token.clone());
        async move {
            let (s, _) = call(
                cloud,
                Method::POST,
                &project,
                &format!("volumes/{id}/action"),
                &token,
                Some(json!({"os-reset_status": {"status": status}})),
            )
            .await;
            assert_eq!(s, 202);
        }
    };
    // Left `creating` with its file: the create had finished.
    let done = volume(&cloud, &project, &token, json!({"size": 1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    reset(done.clone(), "creating").await;
    // Left `creating` without a file: cut short.
    let cut = volume(&cloud, &project, &token, json!({"size": 1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    reset(cut.clone(), "creating").await;
    std::fs::remove_file(file_of(&cloud, "volume", &cut)).unwrap();
    // Left `deleting`: deleted.
    let gone = volume(&cloud, &project, &token, json!({"size": 1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    reset(gone.clone(), "deleting").await;
    // A file nobody knows, and a `.part` an interrupted create left.
    let orphan = file_of(&cloud, "volume", "00000000-0000-0000-0000-000000000000");
    std::fs::write(&orphan, b"").unwrap();
    let part = cloud.dir().join("block-storage/node1/volumes/volume-x.part");
    std::fs::write(&part, b"").unwrap();

    restart_agent(&mut cloud).await;
    wait_status(
        &cloud,
        &project,
        &token,
        &format!("volumes/{done}"),
        "volume",
        "available",
    )
    .await;
    wait_status(&cloud, &project, &token, &format!("volumes/{cut}"), "volume", "error").await;
    wait_status(&cloud, &project, &token, &format!("volumes/{gone}"), "volume", "gone").await;
    assert!(!file_of(&cloud, "volume", &gone).exists());
    assert!(orphan.exists(), "unknown files are reported, not deleted");
    assert!(!part.exists(), "partial creates are cleaned");
    cloud.stop().await;
}

#[tokio::test]
async fn a_silent_backend_goes_down_and_is_not_scheduled_to() {
    let cloud = TestCloud::start()
        .await
        .with_block_storage_config(|c| c.service_down_time = std::time::Duration::from_millis(600))
        .await;
    let (token, project) = admin(&cloud).await;
    cloud.volume_agents[0].stop();
    let mut down = false;
    for _ in 0..100 {
        let (_, l) = call(
            &cloud,
            Method::GET,
            &project,
            "os-services?binary=cinder-volume",
            &token,
            None,
        )
        .await;
        if l["services"][0]["state"] == "down" {
            down = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(down, "the backend never went down");
    let (s, v) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 1}})),
    )
    .await;
    assert_eq!(s, 202);
    let id = v["volume"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "error").await;
    cloud.stop().await;
}

#[tokio::test]
async fn attached_volumes_survive_an_agent_restart() {
    let mut cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let attach = |id: String| {
        let (cloud, project, token) = (&cloud, project.clone(), token.clone());
        async move {
            let (s, b) = super::attach::act(
                cloud,
                &project,
                &token,
                &id,
                json!({"os-attach": {"instance_uuid": "5f9e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a01", "mountpoint": "/dev/vdb"}}),
            )
            .await;
            assert_eq!(s, 202, "{b}");
        }
    };
    let kept = volume(&cloud, &project, &token, json!({"size": 1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    attach(kept.clone()).await;
    let lost = volume(&cloud, &project, &token, json!({"size": 1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    attach(lost.clone()).await;
    std::fs::remove_file(file_of(&cloud, "volume", &lost)).unwrap();
    let reverting = volume(&cloud, &project, &token, json!({"size": 1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = call(
        &cloud,
        Method::POST,
        &project,
        &format!("volumes/{reverting}/action"),
        &token,
        Some(json!({"os-reset_status": {"status": "reverting"}})),
    )
    .await;
    assert_eq!(s, 202);
    restart_agent(&mut cloud).await;
    let v = super::attach::status_of(&cloud, &project, &token, &kept).await;
    assert_eq!(v["status"], "in-use");
    assert_eq!(v["attachments"].as_array().unwrap().len(), 1);
    wait_status(&cloud, &project, &token, &format!("volumes/{lost}"), "volume", "error").await;
    wait_status(
        &cloud,
        &project,
        &token,
        &format!("volumes/{reverting}"),
        "volume",
        "available",
    )
    .await;
}

/// A backend's failures leave user messages (3.3) naming Cinder's action
/// and detail.
#[tokio::test]
async fn backend_failures_leave_user_messages() {
    use block_storage::agent::driver::fake::FakeDriver;
    let mut cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let fake = Arc::new(FakeDriver::new(100.0, cloud.dir().join("fake-scratch")));
    std::fs::create_dir_all(cloud.dir().join("fake-scratch")).unwrap();
    cloud.add_volume_agent("node2", fake.clone()).await;
    let (s, _) = call(
        &cloud,
        Method::POST,
        &project,
        "types",
        &token,
        Some(json!({"volume_type": {"name": "on-fake", "extra_specs": {"volume_backend_name": "fake"}}})),
    )
    .await;
    assert_eq!(s, 200);
    fake.fail_next("create_volume", "injected");
    let (s, v) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 1, "volume_type": "on-fake"}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let failed = v["volume"]["id"].as_str().unwrap().to_owned();
    wait_status(
        &cloud,
        &project,
        &token,
        &format!("volumes/{failed}"),
        "volume",
        "error",
    )
    .await;
    let ok = volume(&cloud, &project, &token, json!({"size": 1, "volume_type": "on-fake"})).await;
    let ok = ok["id"].as_str().unwrap().to_owned();
    fake.fail_next("extend_volume", "injected");
    let (s, _) = super::attach::act(&cloud, &project, &token, &ok, json!({"os-extend": {"new_size": 2}})).await;
    assert_eq!(s, 202);
    wait_status(
        &cloud,
        &project,
        &token,
        &format!("volumes/{ok}"),
        "volume",
        "error_extending",
    )
    .await;
    let base = volume(&cloud, &project, &token, json!({"size": 1, "volume_type": "on-fake"})).await;
    fake.fail_next("create_snapshot", "injected");
    let (s, snap) = call(
        &cloud,
        Method::POST,
        &project,
        "snapshots",
        &token,
        Some(json!({"snapshot": {"volume_id": base["id"]}})),
    )
    .await;
    assert_eq!(s, 202, "{snap}");
    let sid = snap["snapshot"]["id"].as_str().unwrap().to_owned();
    wait_status(
        &cloud,
        &project,
        &token,
        &format!("snapshots/{sid}"),
        "snapshot",
        "error",
    )
    .await;
    let (_, b, _) = super::attachments::call_at(&cloud, "3.3", Method::GET, &project, "messages", &token, None).await;
    let events: Vec<(String, String)> = b["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["resource_uuid"].as_str().unwrap_or_default().to_owned(),
                m["event_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        events.contains(&(failed.clone(), "VOLUME_VOLUME_008_012".into())),
        "{b}"
    );
    assert!(events.contains(&(ok.clone(), "VOLUME_VOLUME_007_010".into())), "{b}");
    assert!(
        events.contains(&(sid.clone(), "VOLUME_VOLUME_SNAPSHOT_009_013".into())),
        "{b}"
    );
    let create_failure = b["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["resource_uuid"] == failed.as_str())
        .unwrap();
    assert_eq!(
        create_failure["user_message"],
        "create volume from backend storage:Driver failed to create the volume."
    );
    assert!(
        create_failure["request_id"].as_str().unwrap().starts_with("req-"),
        "the create's request id"
    );
}
