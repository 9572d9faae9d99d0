//! `os-volume_attachments` against a cloud with block storage (file
//! driver volume agent) and a fake-driver compute agent: attach, list,
//! show, the server view, detach, the delete of a server with volumes,
//! and the errors Nova answers.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};

use super::{action, admin_project, boot, call, call_at, image, wait_status};

async fn cinder(
    cloud: &TestCloud,
    token: &str,
    project: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/v3/{project}/{path}", cloud.block_storage_url.as_deref().unwrap());
    let mut req = cloud.http.request(method, url).header("x-auth-token", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn new_volume(cloud: &TestCloud, token: &str, project: &str, name: &str) -> String {
    let (s, v) = cinder(
        cloud,
        token,
        project,
        Method::POST,
        "volumes",
        Some(json!({"volume": {"size": 1, "name": name}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let id = v["volume"]["id"].as_str().unwrap().to_owned();
    wait_volume(cloud, token, project, &id, "available").await;
    id
}

async fn wait_volume(cloud: &TestCloud, token: &str, project: &str, id: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (s, v) = cinder(cloud, token, project, Method::GET, &format!("volumes/{id}"), None).await;
        if s == 404 && want == "deleted" {
            return Value::Null;
        }
        if v["volume"]["status"] == want {
            return v["volume"].clone();
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("volume {id} never became {want}: {last}");
}

async fn cloud_with_volumes() -> (TestCloud, String, String, String) {
    cloud_with_volumes_on(Backend::Sqlite).await
}

async fn cloud_with_volumes_on(backend: Backend) -> (TestCloud, String, String, String) {
    let cloud = TestCloud::start_on(backend)
        .await
        .with_block_storage()
        .await
        .with_compute()
        .await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    (cloud, token, project, img)
}

async fn active_server(cloud: &TestCloud, token: &str, img: &str) -> String {
    let (s, v) = boot(cloud, token, img, json!({})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(cloud, token, &id, "ACTIVE").await;
    id
}

fn attachments_path(server: &str) -> String {
    format!("servers/{server}/os-volume_attachments")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_list_show_and_detach() {
    let (cloud, token, project, img) = cloud_with_volumes().await;
    let server = active_server(&cloud, &token, &img).await;
    let vol = new_volume(&cloud, &token, &project, "data").await;

    let (s, v) = call_at(
        &cloud,
        "2.79",
        Method::POST,
        &attachments_path(&server),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol, "tag": "data", "delete_on_termination": false}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let a = &v["volumeAttachment"];
    assert_eq!(a["id"], vol.as_str());
    assert_eq!(a["volumeId"], vol.as_str());
    assert_eq!(a["serverId"], server.as_str());
    assert_eq!(a["device"], "/dev/vdb");
    assert_eq!(a["tag"], "data");
    assert_eq!(a["delete_on_termination"], false);

    let volume = wait_volume(&cloud, &token, &project, &vol, "in-use").await;
    assert_eq!(volume["attachments"][0]["server_id"], server.as_str(), "{volume}");
    assert_eq!(volume["attachments"][0]["device"], "/dev/vdb", "{volume}");
    // The fake hypervisor got the volume with the connection block storage gave.
    let driver = &cloud.agents[0].1;
    let plugged = driver.instance(&server).unwrap().volumes[&vol].clone();
    assert_eq!(plugged.mountpoint, "/dev/vdb");
    assert!(
        plugged.connection_info["driver_volume_type"].is_string(),
        "{:?}",
        plugged
    );

    // list and show, per microversion
    let (s, v) = call_at(&cloud, "2.1", Method::GET, &attachments_path(&server), &token, None).await;
    assert_eq!(s, 200, "{v}");
    let list = v["volumeAttachments"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], vol.as_str());
    assert!(list[0].get("tag").is_none() && list[0].get("delete_on_termination").is_none());
    let (s, v) = call_at(
        &cloud,
        "2.89",
        Method::GET,
        &format!("{}/{vol}", attachments_path(&server)),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let a = &v["volumeAttachment"];
    assert!(a.get("id").is_none(), "{a}");
    assert!(a["bdm_uuid"].is_string() && a.get("attachment_id").is_some(), "{a}");
    assert_eq!(a["tag"], "data");

    // the server view
    let (_, v) = call_at(&cloud, "2.1", Method::GET, &format!("servers/{server}"), &token, None).await;
    assert_eq!(
        v["server"]["os-extended-volumes:volumes_attached"],
        json!([{"id": vol}])
    );
    let (_, v) = call(&cloud, Method::GET, &format!("servers/{server}"), &token, None).await;
    assert_eq!(
        v["server"]["os-extended-volumes:volumes_attached"],
        json!([{"id": vol, "delete_on_termination": false}])
    );

    // the instance action
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{server}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    assert!(
        v["instanceActions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "attach_volume"),
        "{v}"
    );

    // PUT: delete_on_termination changes at 2.85; a swap is checked, then refused
    let one = format!("{}/{vol}", attachments_path(&server));
    let (s, v) = call_at(
        &cloud,
        "2.85",
        Method::PUT,
        &one,
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol, "delete_on_termination": true}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let (_, v) = call(&cloud, Method::GET, &one, &token, None).await;
    assert_eq!(v["volumeAttachment"]["delete_on_termination"], true);
    let (s, _) = call_at(
        &cloud,
        "2.85",
        Method::PUT,
        &one,
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol, "device": "/dev/vdz"}})),
    )
    .await;
    assert_eq!(s, 400, "the device cannot change");
    let missing = uuid::Uuid::new_v4().to_string();
    let body = json!({"volumeAttachment": {"volumeId": vol}});
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &format!("{}/{missing}", attachments_path(&server)),
        &token,
        Some(body),
    )
    .await;
    assert_eq!(s, 404, "a volume in the URI that does not exist");
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &one,
        &token,
        Some(json!({"volumeAttachment": {"volumeId": missing}})),
    )
    .await;
    assert_eq!(s, 400, "a volume in the body that does not exist");
    let other = new_volume(&cloud, &token, &project, "other").await;
    let (s, v) = call(
        &cloud,
        Method::PUT,
        &one,
        &token,
        Some(json!({"volumeAttachment": {"volumeId": other}})),
    )
    .await;
    assert_eq!(s, 409, "no swap: {v}");

    // detach
    let (s, v) = call(
        &cloud,
        Method::DELETE,
        &format!("{}/{vol}", attachments_path(&server)),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 202, "{v}");
    wait_volume(&cloud, &token, &project, &vol, "available").await;
    for _ in 0..100 {
        let (_, v) = call(&cloud, Method::GET, &attachments_path(&server), &token, None).await;
        if v["volumeAttachments"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, v) = call(&cloud, Method::GET, &attachments_path(&server), &token, None).await;
    assert_eq!(v["volumeAttachments"], json!([]));
    assert!(driver.instance(&server).unwrap().volumes.is_empty());
    let (s, _) = call(
        &cloud,
        Method::GET,
        &format!("{}/{vol}", attachments_path(&server)),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_errors_are_novas() {
    let (cloud, token, project, img) = cloud_with_volumes().await;
    let server = active_server(&cloud, &token, &img).await;
    let other = active_server(&cloud, &token, &img).await;
    let vol = new_volume(&cloud, &token, &project, "one").await;
    let path = attachments_path(&server);
    let attach = |body: Value| {
        let (cloud, token, path) = (&cloud, &token, path.clone());
        async move { call(cloud, Method::POST, &path, token, Some(body)).await }
    };

    // shape
    for body in [
        json!({}),
        json!({"volumeAttachment": {}}),
        json!({"volumeAttachment": {"volumeId": "not-a-uuid"}}),
        json!({"volumeAttachment": {"volumeId": vol, "device": "/dev/../etc/passwd"}}),
        json!({"volumeAttachment": {"volumeId": vol, "bogus": 1}}),
        json!({"volumeAttachment": {"volumeId": vol, "tag": "a/b"}}),
        json!({"volumeAttachment": {"volumeId": vol, "delete_on_termination": "yes"}}),
    ] {
        let (s, v) = attach(body.clone()).await;
        assert_eq!(s, 400, "{body} -> {v}");
        assert!(v["badRequest"]["message"].is_string(), "{v}");
    }
    // delete_on_termination before 2.79 is an unexpected property
    let (s, _) = call_at(
        &cloud,
        "2.78",
        Method::POST,
        &path,
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol, "delete_on_termination": true}})),
    )
    .await;
    assert_eq!(s, 400);

    // no such volume
    let missing = uuid::Uuid::new_v4().to_string();
    let (s, v) = attach(json!({"volumeAttachment": {"volumeId": missing}})).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Volume {missing} could not be found.")
    );
    // no such server
    let (s, _) = call(
        &cloud,
        Method::POST,
        &attachments_path(&uuid::Uuid::new_v4().to_string()),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol}})),
    )
    .await;
    assert_eq!(s, 404);

    // attached once; again to the same server, and to another, is refused
    let (s, v) = attach(json!({"volumeAttachment": {"volumeId": vol, "device": "/dev/vdc"}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["volumeAttachment"]["device"], "/dev/vdc");
    wait_volume(&cloud, &token, &project, &vol, "in-use").await;
    let (s, v) = attach(json!({"volumeAttachment": {"volumeId": vol}})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        format!("Invalid volume: volume {vol} already attached")
    );
    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&other),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol}})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    // the device is in use
    let second = new_volume(&cloud, &token, &project, "two").await;
    let (s, v) = attach(json!({"volumeAttachment": {"volumeId": second, "device": "/dev/vdc"}})).await;
    assert_eq!(s, 400, "{v}");
    wait_volume(&cloud, &token, &project, &second, "available").await;

    // detach of a volume the server does not have
    let (s, v) = call(&cloud, Method::DELETE, &format!("{path}/{second}"), &token, None).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Instance {server} is not attached to volume {second}")
    );
    let (s, _) = call(&cloud, Method::DELETE, &format!("{path}/nonsense"), &token, None).await;
    assert_eq!(s, 404);

    // a suspended server answers 409
    let (s, _) = action(&cloud, &token, &other, json!({"suspend": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &other, "SUSPENDED").await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&other),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": second}})),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["conflictingRequest"]["message"],
        format!("Cannot 'attach_volume' instance {other} while it is in vm_state suspended")
    );
    wait_volume(&cloud, &token, &project, &second, "available").await;
    cloud.stop().await;
}

/// On every database the machine offers (the mappings' table and its
/// unique indexes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_delete_releases_its_volumes() {
    for backend in Backend::from_env() {
        server_delete_releases_its_volumes_on(backend).await;
    }
}

async fn server_delete_releases_its_volumes_on(backend: Backend) {
    let (cloud, token, project, img) = cloud_with_volumes_on(backend).await;
    let server = active_server(&cloud, &token, &img).await;
    let keep = new_volume(&cloud, &token, &project, "keep").await;
    let gone = new_volume(&cloud, &token, &project, "gone").await;
    for (vol, dot) in [(&keep, false), (&gone, true)] {
        let (s, v) = call(
            &cloud,
            Method::POST,
            &attachments_path(&server),
            &token,
            Some(json!({"volumeAttachment": {"volumeId": vol, "delete_on_termination": dot}})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        wait_volume(&cloud, &token, &project, vol, "in-use").await;
    }
    // attached while shut off: recorded for the next start
    let (s, _) = action(&cloud, &token, &server, json!({"os-stop": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &server, "SHUTOFF").await;
    let third = new_volume(&cloud, &token, &project, "third").await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&server),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": third}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["volumeAttachment"]["device"], "/dev/vdd");
    wait_volume(&cloud, &token, &project, &third, "in-use").await;

    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{server}"), &token, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &server, "DELETED").await;
    wait_volume(&cloud, &token, &project, &keep, "available").await;
    wait_volume(&cloud, &token, &project, &third, "available").await;
    wait_volume(&cloud, &token, &project, &gone, "deleted").await;
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_block_storage_attach_is_refused() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let server = active_server(&cloud, &token, &img).await;
    let vol = uuid::Uuid::new_v4().to_string();
    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&server),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol}})),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = call(&cloud, Method::GET, &attachments_path(&server), &token, None).await;
    assert_eq!((s, v["volumeAttachments"].clone()), (200, json!([])));
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attach_is_rolled_back() {
    use compute_agent::Driver;
    let (cloud, token, project, img) = cloud_with_volumes().await;
    let server = active_server(&cloud, &token, &img).await;
    let vol = new_volume(&cloud, &token, &project, "fails").await;
    // Behind the controller's back the hypervisor already uses /dev/vdb:
    // the driver refuses the attach after the volume was connected.
    let driver = cloud.agents[0].1.clone();
    driver
        .attach_volume(&server, "squatter", &json!({}), "/dev/vdb")
        .await
        .unwrap();

    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&server),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // The volume is unreserved, the mapping dropped, the event an error.
    let mut mapped = true;
    for _ in 0..200 {
        let (_, v) = call(&cloud, Method::GET, &attachments_path(&server), &token, None).await;
        mapped = !v["volumeAttachments"].as_array().unwrap().is_empty();
        if !mapped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!mapped, "the mapping of the failed attach is gone");
    let volume = wait_volume(&cloud, &token, &project, &vol, "available").await;
    assert_eq!(volume["attachments"], json!([]), "{volume}");
    assert!(!driver.instance(&server).unwrap().volumes.contains_key(&vol));
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{server}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    let req = v["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "attach_volume")
        .unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut result = Value::Null;
    for _ in 0..100 {
        let (_, v) = call(
            &cloud,
            Method::GET,
            &format!("servers/{server}/os-instance-actions/{req}"),
            &token,
            None,
        )
        .await;
        result = v["instanceAction"]["events"][0]["result"].clone();
        if !result.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(result, "Error");
    // The server is unharmed and the volume attaches elsewhere.
    let (_, v) = call(&cloud, Method::GET, &format!("servers/{server}"), &token, None).await;
    assert_eq!(v["server"]["status"], "ACTIVE");
    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&server),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol, "device": "/dev/vdc"}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    wait_volume(&cloud, &token, &project, &vol, "in-use").await;
    cloud.stop().await;
}

/// A member works in its project; an admin scoped to another project
/// reaches the member's volumes through its own endpoint, as Nova does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_attaches_and_an_admin_detaches() {
    let (cloud, admin, _, _) = cloud_with_volumes().await;
    let (project, _, member) = super::quotas::project_user(&cloud, &admin, "vp", "member").await;
    let img = image(&cloud, &member).await;
    let server = active_server(&cloud, &member, &img).await;
    let vol = new_volume(&cloud, &member, &project, "mine").await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&server),
        &member,
        Some(json!({"volumeAttachment": {"volumeId": vol}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    wait_volume(&cloud, &member, &project, &vol, "in-use").await;
    let (s, v) = call(
        &cloud,
        Method::DELETE,
        &format!("{}/{vol}", attachments_path(&server)),
        &admin,
        None,
    )
    .await;
    assert_eq!(s, 202, "{v}");
    wait_volume(&cloud, &member, &project, &vol, "available").await;
    cloud.stop().await;
}

/// A soft-deleted server reclaimed later has no user's token left: its
/// volumes are released with the service's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reclaimed_server_releases_its_volumes_as_the_service() {
    let cloud = TestCloud::start()
        .await
        .with_block_storage()
        .await
        .with_compute_config(|c| c.reclaim_instance_interval = 1)
        .await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    let server = active_server(&cloud, &token, &img).await;
    let vol = new_volume(&cloud, &token, &project, "reclaimed").await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&server),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    wait_volume(&cloud, &token, &project, &vol, "in-use").await;
    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{server}"), &token, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &server, "SOFT_DELETED").await;
    // The reclaim runs every report interval (10 s).
    for _ in 0..4 {
        let (s, _) = call(&cloud, Method::GET, &format!("servers/{server}"), &token, None).await;
        if s == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    wait_status(&cloud, &token, &server, "DELETED").await;
    wait_volume(&cloud, &token, &project, &vol, "available").await;
    cloud.stop().await;
}

/// Block storage's 3.42 extend of an attached volume tells compute
/// (`volume-extended`, as the service user `cinder`), whose agent resizes
/// the guest's disk to the volume's new size; the server gets Nova's
/// `extend_volume` action. Compute answers the same event for a volume
/// the server does not have without touching anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_use_extend_reaches_the_guest() {
    let (cloud, token, project, img) = cloud_with_volumes().await;
    let server = active_server(&cloud, &token, &img).await;
    let vol = new_volume(&cloud, &token, &project, "grow").await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        &attachments_path(&server),
        &token,
        Some(json!({"volumeAttachment": {"volumeId": vol}})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    wait_volume(&cloud, &token, &project, &vol, "in-use").await;
    let driver = cloud.agents[0].1.clone();
    assert_eq!(driver.instance(&server).unwrap().volumes[&vol].size, None);

    let url = format!(
        "{}/v3/{project}/volumes/{vol}/action",
        cloud.block_storage_url.as_deref().unwrap()
    );
    let resp = cloud
        .http
        .post(url)
        .header("x-auth-token", &token)
        .header("openstack-api-version", "volume 3.42")
        .json(&json!({"os-extend": {"new_size": 3}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let volume = wait_volume(&cloud, &token, &project, &vol, "in-use").await;
    assert_eq!(volume["size"], 3, "{volume}");

    let mut size = None;
    for _ in 0..200 {
        size = driver.instance(&server).unwrap().volumes[&vol].size;
        if size.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(size, Some(3 << 30), "the guest's disk never grew");
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{server}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    let action = v["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "extend_volume")
        .unwrap_or_else(|| panic!("no extend_volume action: {v}"))
        .clone();
    let mut events = Value::Null;
    for _ in 0..100 {
        let (_, v) = call(
            &cloud,
            Method::GET,
            &format!(
                "servers/{server}/os-instance-actions/{}",
                action["request_id"].as_str().unwrap()
            ),
            &token,
            None,
        )
        .await;
        events = v["instanceAction"]["events"].clone();
        if events.as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(events[0]["event"], "compute_extend_volume", "{events}");
    assert_eq!(events[0]["result"], "Success", "{events}");

    // A volume the server does not have: accepted, the disk left alone.
    let other = uuid::Uuid::new_v4().to_string();
    let (s, v) = call(
        &cloud,
        Method::POST,
        "os-server-external-events",
        &token,
        Some(json!({"events": [{"name": "volume-extended", "server_uuid": server, "tag": other}]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(driver.instance(&server).unwrap().volumes.len(), 1);
    cloud.stop().await;
}
