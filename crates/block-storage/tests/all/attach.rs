//! The legacy attach actions Nova uses (`os-reserve` … `os-detach`) and
//! their status rules, and the volume view's `attachments`.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;

const SERVER: &str = "0b0e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a01";
const SERVER2: &str = "0b0e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a02";

pub async fn act(cloud: &TestCloud, project: &str, token: &str, id: &str, body: Value) -> (u16, Value) {
    call(
        cloud,
        Method::POST,
        project,
        &format!("volumes/{id}/action"),
        token,
        Some(body),
    )
    .await
}

pub async fn status_of(cloud: &TestCloud, project: &str, token: &str, id: &str) -> Value {
    let (s, v) = call(cloud, Method::GET, project, &format!("volumes/{id}"), token, None).await;
    assert_eq!(s, 200, "{v}");
    v["volume"].clone()
}

fn connector() -> Value {
    json!({"host": "compute1", "ip": "127.0.0.1", "initiator": "iqn.1993-08.org.debian:01:abc", "multipath": false,
           "platform": "x86_64", "os_type": "linux"})
}

#[tokio::test]
async fn nova_attach_and_detach_flow() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();

    // reserve → attaching; a second reserve is refused with Cinder's text.
    let (s, b) = act(&cloud, &project, &token, &id, json!({"os-reserve": {}})).await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "attaching");
    let (s, b) = act(&cloud, &project, &token, &id, json!({"os-reserve": null})).await;
    assert_eq!(s, 400);
    assert_eq!(
        b["badRequest"]["message"],
        "Invalid volume: Volume status must be available to reserve, but the status is attaching."
    );

    // initialize_connection: the file's path, raw, rw.
    let (s, b) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-initialize_connection": {"connector": connector()}}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let ci = &b["connection_info"];
    assert_eq!(ci["driver_volume_type"], "file");
    let path = file_of(&cloud, "volume", &id);
    assert_eq!(ci["data"]["path"], path.display().to_string());
    assert_eq!(ci["data"]["format"], "raw");
    assert_eq!(ci["data"]["volume_id"], id.as_str());
    assert_eq!(ci["data"]["access_mode"], "rw");

    // attach → in-use with one attachment, rendered as Cinder does.
    let (s, b) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb", "mode": "rw"}}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let v = status_of(&cloud, &project, &token, &id).await;
    assert_eq!(v["status"], "in-use");
    let atts = v["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 1);
    let a = &atts[0];
    assert_eq!(a["server_id"], SERVER);
    assert_eq!(a["volume_id"], id.as_str());
    assert_eq!(a["id"], id.as_str());
    assert_eq!(a["device"], "/dev/vdb");
    assert!(a["attachment_id"].is_string());
    assert!(a["attached_at"].as_str().is_some_and(|t| t.len() == 26), "{a}");
    assert!(a.as_object().unwrap().contains_key("host_name"));
    let attachment_id = a["attachment_id"].as_str().unwrap().to_owned();
    // The list's detail view shows it too.
    let (_, l) = call(&cloud, Method::GET, &project, "volumes/detail", &token, None).await;
    assert_eq!(
        l["volumes"][0]["attachments"][0]["attachment_id"],
        attachment_id.as_str()
    );

    // An attached volume cannot be deleted, extended (3.0), or reserved again.
    let (s, _) = call(&cloud, Method::DELETE, &project, &format!("volumes/{id}"), &token, None).await;
    assert_eq!(s, 400);
    let (s, _) = act(&cloud, &project, &token, &id, json!({"os-extend": {"new_size": 2}})).await;
    assert_eq!(s, 400);
    let (s, _) = act(&cloud, &project, &token, &id, json!({"os-reserve": {}})).await;
    assert_eq!(s, 400);
    // Attaching a single-attach in-use volume elsewhere is refused.
    let (s, b) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-attach": {"instance_uuid": SERVER2, "mountpoint": "/dev/vdc"}}),
    )
    .await;
    assert_eq!(s, 400, "{b}");

    // begin_detaching / roll_detaching / begin_detaching again.
    let (s, _) = act(&cloud, &project, &token, &id, json!({"os-begin_detaching": {}})).await;
    assert_eq!(s, 202);
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "detaching");
    let (s, _) = act(&cloud, &project, &token, &id, json!({"os-roll_detaching": {}})).await;
    assert_eq!(s, 202);
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "in-use");
    let (s, _) = act(&cloud, &project, &token, &id, json!({"os-begin_detaching": {}})).await;
    assert_eq!(s, 202);

    // terminate_connection keeps the volume detaching; detach ends it.
    let (s, b) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-terminate_connection": {"connector": connector()}}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "detaching");
    let (s, b) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-detach": {"attachment_id": attachment_id}}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let v = status_of(&cloud, &project, &token, &id).await;
    assert_eq!(v["status"], "available");
    assert_eq!(v["attachments"], json!([]));
    // begin_detaching of a volume that is not attached.
    let (s, b) = act(&cloud, &project, &token, &id, json!({"os-begin_detaching": {}})).await;
    assert_eq!(s, 400);
    assert_eq!(
        b["badRequest"]["message"],
        "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be \
         'attached' to detach."
    );
    // Detached, it can be deleted and leaves no file.
    let (s, _) = call(&cloud, Method::DELETE, &project, &format!("volumes/{id}"), &token, None).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "gone").await;
    assert!(!path.exists());
}

#[tokio::test]
async fn unreserve_and_terminate_roll_back_a_reserve() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    act(&cloud, &project, &token, &id, json!({"os-reserve": {}})).await;
    let (s, _) = act(&cloud, &project, &token, &id, json!({"os-unreserve": {}})).await;
    assert_eq!(s, 202);
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "available");
    // Unreserve of an available volume: nothing to do, still 202.
    let (s, _) = act(&cloud, &project, &token, &id, json!({"os-unreserve": {}})).await;
    assert_eq!(s, 202);
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "available");
    // A failed attach as Nova rolls it back: reserve, connect, terminate.
    act(&cloud, &project, &token, &id, json!({"os-reserve": {}})).await;
    let (s, _) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-initialize_connection": {"connector": connector()}}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-terminate_connection": {"connector": connector()}}),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "available");
    // Detach without attachments: available, 202.
    let (s, _) = act(&cloud, &project, &token, &id, json!({"os-detach": {}})).await;
    assert_eq!(s, 202);
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "available");
}

#[tokio::test]
async fn readonly_volumes_attach_read_only() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, _) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-update_readonly_flag": {"readonly": true}}),
    )
    .await;
    assert_eq!(s, 202);
    let (_, b) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-initialize_connection": {"connector": connector()}}),
    )
    .await;
    assert_eq!(b["connection_info"]["data"]["access_mode"], "ro");
    let (s, b) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb", "mode": "rw"}}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        b["badRequest"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid attaching mode 'rw'"),
        "{b}"
    );
    let (s, _) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb", "mode": "ro"}}),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "in-use");
}

#[tokio::test]
async fn multiattach_volumes_take_several_servers() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1, "multiattach": true})).await;
    assert_eq!(v["multiattach"], true);
    let id = v["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for server in [SERVER, SERVER2] {
        let (s, b) = act(&cloud, &project, &token, &id, json!({"os-reserve": {}})).await;
        assert_eq!(s, 202, "{b}");
        let (s, b) = act(
            &cloud,
            &project,
            &token,
            &id,
            json!({"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb"}}),
        )
        .await;
        assert_eq!(s, 202, "{b}");
    }
    let v = status_of(&cloud, &project, &token, &id).await;
    assert_eq!(v["status"], "in-use");
    for a in v["attachments"].as_array().unwrap() {
        ids.push(a["attachment_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 2);
    // Two attachments: detach needs the id.
    let (s, b) = act(&cloud, &project, &token, &id, json!({"os-detach": {}})).await;
    assert_eq!(s, 400);
    assert!(
        b["badRequest"]["message"]
            .as_str()
            .unwrap()
            .contains("More than one attachment")
    );
    act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-detach": {"attachment_id": ids[0]}}),
    )
    .await;
    let v = status_of(&cloud, &project, &token, &id).await;
    assert_eq!(v["status"], "in-use", "one attachment is left");
    assert_eq!(v["attachments"].as_array().unwrap().len(), 1);
    act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-detach": {"attachment_id": ids[1]}}),
    )
    .await;
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "available");
}

#[tokio::test]
async fn force_detach_is_for_admins() {
    let cloud = cloud().await;
    let (admin_token, _) = admin(&cloud).await;
    let (project, token) = project_user(&cloud, &admin_token, "fd", "member").await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, b) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb"}}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let v = status_of(&cloud, &project, &token, &id).await;
    // Users do not see the attachment's host.
    assert_eq!(v["attachments"][0]["host_name"], Value::Null);
    let aid = v["attachments"][0]["attachment_id"].as_str().unwrap().to_owned();
    let (s, _) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-force_detach": {"attachment_id": aid}}),
    )
    .await;
    assert_eq!(s, 403);
    // The admin acts on the other project's volume from its own project.
    let (admin_tok, admin_project) = admin(&cloud).await;
    let (s, b) = act(
        &cloud,
        &admin_project,
        &admin_tok,
        &id,
        json!({"os-force_detach": {"attachment_id": aid, "connector": connector()}}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let v = status_of(&cloud, &project, &token, &id).await;
    assert_eq!(v["status"], "available");
    assert_eq!(v["attachments"], json!([]));
}

#[tokio::test]
async fn bad_attach_input_is_400_and_others_volumes_404() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    for body in [
        json!({"os-attach": {"mountpoint": "/dev/vdb"}}),
        json!({"os-attach": {"instance_uuid": SERVER}}),
        json!({"os-attach": {"instance_uuid": "not-a-uuid", "mountpoint": "/dev/vdb"}}),
        json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb", "mode": "wr"}}),
        json!({"os-attach": {"instance_uuid": SERVER, "mountpoint": "/dev/vdb", "extra": 1}}),
        json!({"os-attach": "x"}),
        json!({"os-initialize_connection": {}}),
        json!({"os-initialize_connection": {"connector": {"ip": "1.2.3.4"}}}),
        json!({"os-initialize_connection": {"connector": 3}}),
        json!({"os-detach": {"attachment_id": "nope"}}),
    ] {
        let (s, b) = act(&cloud, &project, &token, &id, body.clone()).await;
        assert_eq!(s, 400, "{body} answered {b}");
        assert!(b["badRequest"]["message"].is_string(), "{b}");
    }
    // Nothing changed; a detach of an unknown attachment only puts the
    // status right (Cinder's manager does the same).
    assert_eq!(status_of(&cloud, &project, &token, &id).await["status"], "available");
    let (s, _) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-detach": {"attachment_id": SERVER}}),
    )
    .await;
    assert_eq!(s, 202);
    // Another project's volume: 404 for every action.
    let (other, other_token) = project_user(&cloud, &token, "other", "member").await;
    let (s, _) = act(&cloud, &other, &other_token, &id, json!({"os-reserve": {}})).await;
    assert_eq!(s, 404);
    let (s, _) = act(
        &cloud,
        &project,
        &token,
        "00000000-0000-0000-0000-000000000000",
        json!({"os-reserve": {}}),
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn a_reader_may_not_attach() {
    let cloud = cloud().await;
    let (admin_token, _) = admin(&cloud).await;
    let (project, member) = project_user(&cloud, &admin_token, "rw", "member").await;
    let v = volume(&cloud, &project, &member, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, u) = cloud
        .call(
            Method::POST,
            "users",
            &admin_token,
            Some(json!({"user": {"name": "reader-user", "password": "pw", "domain_id": "default"}})),
        )
        .await;
    assert_eq!(s, 201);
    let uid = u["user"]["id"].as_str().unwrap().to_owned();
    let (_, roles) = cloud.call(Method::GET, "roles?name=reader", &admin_token, None).await;
    let rid = roles["roles"][0]["id"].as_str().unwrap().to_owned();
    cloud
        .call(
            Method::PUT,
            &format!("projects/{project}/users/{uid}/roles/{rid}"),
            &admin_token,
            None,
        )
        .await;
    let (reader, _) = cloud.token_for(&uid, "pw", json!({"project": {"id": project}})).await;
    let (s, _) = act(&cloud, &project, &reader, &id, json!({"os-reserve": {}})).await;
    assert_eq!(s, 403);
    assert_eq!(status_of(&cloud, &project, &member, &id).await["status"], "available");
}
