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
