//! The attachments API (3.27, `os-complete` at 3.44), as Nova's new
//! attach flow drives it: create (reserve) → update (connector) →
//! complete → delete.

use reqwest::Method;
use serde_json::{Value, json};

use super::attach::status_of;
use super::*;

const SERVER: &str = "7d1a35b2-0c48-4b8e-a0a1-3d2b0f0a9e01";
const SERVER2: &str = "7d1a35b2-0c48-4b8e-a0a1-3d2b0f0a9e02";

/// A request at microversion `version`.
pub async fn call_at(
    cloud: &TestCloud,
    version: &str,
    method: Method,
    project: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let base = cloud.block_storage_url.as_deref().expect("block storage");
    let mut req = cloud
        .http
        .request(method, format!("{base}/v3/{project}/{path}"))
        .header("x-auth-token", token)
        .header("openstack-api-version", format!("volume {version}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

fn connector(host: &str) -> Value {
    json!({"host": host, "ip": "127.0.0.1", "initiator": "iqn.1993-08.org.debian:01:x", "multipath": false,
           "mountpoint": "/dev/vdb", "platform": "x86_64", "os_type": "linux"})
}

#[tokio::test]
async fn reserve_update_complete_delete() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();

    // Not there below 3.27.
    let (s, _, _) = call_at(&cloud, "3.26", Method::GET, &project, "attachments", &token, None).await;
    assert_eq!(s, 404);

    // Reserve: `reserved`, the volume too; a second reserve is refused.
    let (s, b, _) = call_at(
        &cloud,
        "3.27",
        Method::POST,
        &project,
        "attachments",
        &token,
        Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": SERVER}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let a = &b["attachment"];
    assert_eq!(a["status"], "reserved");
    assert_eq!(a["instance"], SERVER);
    assert_eq!(a["volume_id"], id.as_str());
    assert_eq!(a["connection_info"], json!({}));
    assert_eq!(a["attached_at"], "");
    let aid = a["id"].as_str().unwrap().to_owned();
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "reserved");
    let (s, b, _) = call_at(
        &cloud,
        "3.27",
        Method::POST,
        &project,
        "attachments",
        &token,
        Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": SERVER2}})),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["badRequest"]["message"].as_str().unwrap().contains("to reserve"),
        "{b}"
    );

    // Update with the connector: `attaching`, Cinder's flat connection_info.
    let (s, b, _) = call_at(
        &cloud,
        "3.27",
        Method::PUT,
        &project,
        &format!("attachments/{aid}"),
        &token,
        Some(json!({"attachment": {"connector": connector("compute1")}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let a = &b["attachment"];
    assert_eq!(a["status"], "attaching");
    assert_eq!(a["attach_mode"], "rw");
    let ci = &a["connection_info"];
    assert_eq!(ci["driver_volume_type"], "file");
    assert_eq!(ci["path"], file_of(&cloud, "volume", &id).display().to_string());
    assert_eq!(ci["attachment_id"], aid.as_str());
    assert_eq!(ci["access_mode"], "rw");
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "attaching");
    // Not attached yet: the volume lists no attachment.
    assert_eq!(status_of(&cloud, &project, &token, &id).await["attachments"], json!([]));

    // os-complete is 3.44.
    let path = format!("attachments/{aid}/action");
    let (s, _, _) = call_at(
        &cloud,
        "3.43",
        Method::POST,
        &project,
        &path,
        &token,
        Some(json!({"os-complete": {}})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, b, _) = call_at(
        &cloud,
        "3.44",
        Method::POST,
        &project,
        &path,
        &token,
        Some(json!({"os-complete": {}})),
    )
    .await;
    assert_eq!(s, 204, "{b}");
    let v = status_of(&cloud, &project, &token, &id).await;
    assert_eq!(v["status"], "in-use");
    assert_eq!(v["attachments"][0]["attachment_id"], aid.as_str());
    assert_eq!(v["attachments"][0]["server_id"], SERVER);
    assert_eq!(v["attachments"][0]["host_name"], "compute1");
    assert_eq!(v["attachments"][0]["device"], "/dev/vdb");

    // Show, list, detail, filters.
    let (s, b, _) = call_at(
        &cloud,
        "3.27",
        Method::GET,
        &project,
        &format!("attachments/{aid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["attachment"]["status"], "attached");
    assert!(b["attachment"]["attached_at"].as_str().unwrap().len() == 26);
    let (_, b, _) = call_at(&cloud, "3.27", Method::GET, &project, "attachments", &token, None).await;
    assert_eq!(b["attachments"].as_array().unwrap().len(), 1);
    assert!(
        b["attachments"][0].get("connection_info").is_none(),
        "the summary is short"
    );
    let (_, b, _) = call_at(
        &cloud,
        "3.27",
        Method::GET,
        &project,
        "attachments/detail",
        &token,
        None,
    )
    .await;
    assert_eq!(b["attachments"][0]["connection_info"]["driver_volume_type"], "file");
    let (_, b, _) = call_at(
        &cloud,
        "3.27",
        Method::GET,
        &project,
        &format!("attachments?instance_id={SERVER2}"),
        &token,
        None,
    )
    .await;
    assert_eq!(b["attachments"], json!([]));

    // The volume cannot go while attached.
    let (s, _) = call(&cloud, Method::DELETE, &project, &format!("volumes/{id}"), &token, None).await;
    assert_eq!(s, 400);

    // Delete: the volume is available again, nothing is left.
    let (s, b, _) = call_at(
        &cloud,
        "3.27",
        Method::DELETE,
        &project,
        &format!("attachments/{aid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["attachments"], json!([]));
    let v = status_of(&cloud, &project, &token, &id).await;
    assert_eq!(v["status"], "available");
    assert_eq!(v["attachments"], json!([]));
    let (s, _, _) = call_at(
        &cloud,
        "3.27",
        Method::GET,
        &project,
        &format!("attachments/{aid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn create_with_a_connector_connects_at_once() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, b, _) = call_at(
        &cloud,
        "3.44",
        Method::POST,
        &project,
        "attachments",
        &token,
        Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": SERVER, "connector": connector("h1")}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["attachment"]["status"], "attaching");
    assert_eq!(b["attachment"]["connection_info"]["driver_volume_type"], "file");
    // Deleting the reservation without completing it rolls back.
    let aid = b["attachment"]["id"].as_str().unwrap().to_owned();
    let (s, _, _) = call_at(
        &cloud,
        "3.44",
        Method::DELETE,
        &project,
        &format!("attachments/{aid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "available");
}

#[tokio::test]
async fn bad_attachment_requests() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    for (body, want) in [
        (json!({"attachment": {}}), 400),
        (json!({"attachment": {"volume_uuid": "nope"}}), 400),
        (json!({"attachment": {"volume_uuid": id, "extra": 1}}), 400),
        (json!({"attachment": {"volume_uuid": id, "instance_uuid": "x"}}), 400),
        (
            json!({"attachment": {"volume_uuid": id, "connector": {"ip": "1.2.3.4"}}}),
            400,
        ),
        (json!({"nope": {}}), 400),
        (
            json!({"attachment": {"volume_uuid": "00000000-0000-0000-0000-000000000000"}}),
            404,
        ),
    ] {
        let (s, b, _) = call_at(
            &cloud,
            "3.27",
            Method::POST,
            &project,
            "attachments",
            &token,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, want, "{body} → {b}");
    }
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "available");
    // An error volume takes no attachment.
    let (s, _) = call(
        &cloud,
        Method::POST,
        &project,
        &format!("volumes/{id}/action"),
        &token,
        Some(json!({"os-reset_status": {"status": "error"}})),
    )
    .await;
    assert_eq!(s, 202);
    let (s, b, _) = call_at(
        &cloud,
        "3.27",
        Method::POST,
        &project,
        "attachments",
        &token,
        Some(json!({"attachment": {"volume_uuid": id}})),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    // Unknown attachment.
    for (method, path) in [
        (Method::GET, "attachments/00000000-0000-0000-0000-000000000000"),
        (Method::DELETE, "attachments/00000000-0000-0000-0000-000000000000"),
    ] {
        let (s, _, _) = call_at(&cloud, "3.27", method, &project, path, &token, None).await;
        assert_eq!(s, 404);
    }
    let (s, _, _) = call_at(
        &cloud,
        "3.27",
        Method::PUT,
        &project,
        "attachments/00000000-0000-0000-0000-000000000000",
        &token,
        Some(json!({"attachment": {"connector": connector("h")}})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, _) = call_at(
        &cloud,
        "3.27",
        Method::PUT,
        &project,
        "attachments/00000000-0000-0000-0000-000000000000",
        &token,
        Some(json!({"attachment": {"connector": {}}})),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn another_projects_attachments_are_hidden() {
    let cloud = cloud().await;
    let (admin_token, _) = admin(&cloud).await;
    let (p1, t1) = project_user(&cloud, &admin_token, "att1", "member").await;
    let (p2, t2) = project_user(&cloud, &admin_token, "att2", "member").await;
    let v = volume(&cloud, &p1, &t1, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, b, _) = call_at(
        &cloud,
        "3.27",
        Method::POST,
        &p1,
        "attachments",
        &t1,
        Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": SERVER}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let aid = b["attachment"]["id"].as_str().unwrap().to_owned();
    let (s, _, _) = call_at(
        &cloud,
        "3.27",
        Method::GET,
        &p2,
        &format!("attachments/{aid}"),
        &t2,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (_, b, _) = call_at(&cloud, "3.27", Method::GET, &p2, "attachments", &t2, None).await;
    assert_eq!(b["attachments"], json!([]));
    let (s, _, _) = call_at(
        &cloud,
        "3.27",
        Method::POST,
        &p2,
        "attachments",
        &t2,
        Some(json!({"attachment": {"volume_uuid": id}})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, _) = call_at(
        &cloud,
        "3.27",
        Method::DELETE,
        &p2,
        &format!("attachments/{aid}"),
        &t2,
        None,
    )
    .await;
    assert_eq!(s, 404);
}
