//! What each microversion up to the maximum changes, through the API.

use reqwest::Method;
use serde_json::{Value, json};

use super::attach::act;
use super::attachments::call_at;
use super::*;

#[tokio::test]
async fn negotiation_and_version_document() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let (s, v) = call(&cloud, Method::GET, &project, "/v3/", "", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["versions"][0]["version"], "3.44");
    assert_eq!(v["versions"][0]["min_version"], "3.0");
    let (s, _, h) = call_at(&cloud, "3.44", Method::GET, &project, "volumes", &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(h["openstack-api-version"], "volume 3.44");
    let (s, _, h) = call_at(&cloud, "latest", Method::GET, &project, "volumes", &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(h["openstack-api-version"], "volume 3.44");
    let (s, b, _) = call_at(&cloud, "3.45", Method::GET, &project, "volumes", &token, None).await;
    assert_eq!(s, 406);
    assert_eq!(
        b.as_object()
            .and_then(|o| o.values().next())
            .map(|f| f["message"].clone())
            .unwrap_or_default(),
        "Version 3.45 is not supported by the API. Minimum is 3.0 and maximum is 3.44.",
        "{b}"
    );
}

#[tokio::test]
async fn volume_views_and_lists_by_version() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(
        &cloud,
        &project,
        &token,
        json!({"size": 1, "name": "alpha-vol", "metadata": {"tier": "gold"}}),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_owned();
    volume(&cloud, &project, &token, json!({"size": 2, "name": "beta"})).await;

    // group_id at 3.13, provider_id (admins) at 3.21.
    let show = format!("volumes/{id}");
    let (_, b, _) = call_at(&cloud, "3.12", Method::GET, &project, &show, &token, None).await;
    assert!(b["volume"].get("group_id").is_none());
    let (_, b, _) = call_at(&cloud, "3.21", Method::GET, &project, &show, &token, None).await;
    assert_eq!(b["volume"]["group_id"], Value::Null);
    assert!(b["volume"].as_object().unwrap().contains_key("provider_id"));

    // bootable: lenient before 3.2, strict after.
    let (s, b, _) = call_at(
        &cloud,
        "3.0",
        Method::GET,
        &project,
        "volumes/detail?bootable=maybe",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["volumes"], json!([]), "'maybe' reads as true before 3.2");
    let (s, _, _) = call_at(
        &cloud,
        "3.2",
        Method::GET,
        &project,
        "volumes/detail?bootable=maybe",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (_, b, _) = call_at(
        &cloud,
        "3.2",
        Method::GET,
        &project,
        "volumes/detail?bootable=false",
        &token,
        None,
    )
    .await;
    assert_eq!(b["volumes"].as_array().unwrap().len(), 2);

    // like filters from 3.34.
    let (_, b, _) = call_at(
        &cloud,
        "3.34",
        Method::GET,
        &project,
        "volumes/detail?name~=pha",
        &token,
        None,
    )
    .await;
    assert_eq!(b["volumes"].as_array().unwrap().len(), 1);
    assert_eq!(b["volumes"][0]["name"], "alpha-vol");
    // group_id from 3.10: no volume is in a group.
    let (_, b, _) = call_at(
        &cloud,
        "3.10",
        Method::GET,
        &project,
        "volumes?group_id=5f9e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a01",
        &token,
        None,
    )
    .await;
    assert_eq!(b["volumes"], json!([]));
    let (_, b, _) = call_at(
        &cloud,
        "3.9",
        Method::GET,
        &project,
        "volumes?group_id=5f9e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a01",
        &token,
        None,
    )
    .await;
    assert_eq!(b["volumes"].as_array().unwrap().len(), 2, "not a filter before 3.10");

    // Summary: 3.12, with metadata at 3.36.
    let (s, _, _) = call_at(&cloud, "3.11", Method::GET, &project, "volumes/summary", &token, None).await;
    assert_eq!(s, 404);
    let (s, b, _) = call_at(&cloud, "3.12", Method::GET, &project, "volumes/summary", &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(b, json!({"volume-summary": {"total_count": 2, "total_size": 3}}));
    let (_, b, _) = call_at(&cloud, "3.36", Method::GET, &project, "volumes/summary", &token, None).await;
    assert_eq!(b["volume-summary"]["metadata"], json!({"tier": ["gold"]}));

    // Etags on metadata from 3.15; a stale If-Match is 412.
    let meta = format!("volumes/{id}/metadata");
    let (_, _, h) = call_at(&cloud, "3.14", Method::GET, &project, &meta, &token, None).await;
    assert!(h.get("etag").is_none());
    let (_, _, h) = call_at(&cloud, "3.15", Method::GET, &project, &meta, &token, None).await;
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag.len(), 32);
    let base = cloud.block_storage_url.as_deref().unwrap();
    let put = |tag: &str| {
        cloud
            .http
            .put(format!("{base}/v3/{project}/{meta}"))
            .header("x-auth-token", &token)
            .header("openstack-api-version", "volume 3.15")
            .header("if-match", tag)
            .json(&json!({"metadata": {"tier": "silver"}}))
            .send()
    };
    assert_eq!(put("0123456789abcdef0123456789abcdef").await.unwrap().status(), 412);
    assert_eq!(put(&etag).await.unwrap().status(), 200);
    assert_eq!(put(&etag).await.unwrap().status(), 412, "the metadata changed");
}

#[tokio::test]
async fn user_filters_are_checked_from_3_31() {
    let cloud = cloud().await;
    let (admin_token, _) = admin(&cloud).await;
    let (project, token) = project_user(&cloud, &admin_token, "filters", "member").await;
    volume(&cloud, &project, &token, json!({"size": 1, "name": "one"})).await;
    let (s, b, _) = call_at(&cloud, "3.30", Method::GET, &project, "volumes?bogus=1", &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(b["volumes"].as_array().unwrap().len(), 1);
    let (s, b, _) = call_at(&cloud, "3.31", Method::GET, &project, "volumes?bogus=1", &token, None).await;
    assert_eq!(s, 400);
    assert_eq!(
        b["badRequest"]["message"],
        "Invalid filters bogus are found in query options."
    );
    let (s, _, _) = call_at(&cloud, "3.31", Method::GET, &project, "snapshots?bogus=1", &token, None).await;
    assert_eq!(s, 400);
    // The filters users may use, at 3.33.
    let (s, _, _) = call_at(&cloud, "3.32", Method::GET, &project, "resource_filters", &token, None).await;
    assert_eq!(s, 404);
    let (s, b, _) = call_at(
        &cloud,
        "3.33",
        Method::GET,
        &project,
        "resource_filters?resource=volume",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["resource_filters"].as_array().unwrap().len(), 1);
    assert!(
        b["resource_filters"][0]["filters"]
            .as_array()
            .unwrap()
            .contains(&json!("name"))
    );
    // Limits of another project: admins only, from 3.39.
    let (_, admin_project) = admin(&cloud).await;
    let (_, b, _) = call_at(
        &cloud,
        "3.39",
        Method::GET,
        &admin_project,
        &format!("limits?project_id={project}"),
        &admin_token,
        None,
    )
    .await;
    assert_eq!(b["limits"]["absolute"]["totalVolumesUsed"], 1);
    let (_, b, _) = call_at(
        &cloud,
        "3.38",
        Method::GET,
        &admin_project,
        &format!("limits?project_id={project}"),
        &admin_token,
        None,
    )
    .await;
    assert_eq!(
        b["limits"]["absolute"]["totalVolumesUsed"], 0,
        "the admin's own before 3.39"
    );
    let (_, b, _) = call_at(
        &cloud,
        "3.39",
        Method::GET,
        &project,
        &format!("limits?project_id={admin_project}"),
        &token,
        None,
    )
    .await;
    assert_eq!(b["limits"]["absolute"]["totalVolumesUsed"], 1, "a user gets their own");
    // Services show `cluster` from 3.7.
    let (_, b, _) = call_at(
        &cloud,
        "3.7",
        Method::GET,
        &admin_project,
        "os-services",
        &admin_token,
        None,
    )
    .await;
    assert!(b["services"][0].as_object().unwrap().contains_key("cluster"));
    let (_, b, _) = call_at(
        &cloud,
        "3.6",
        Method::GET,
        &admin_project,
        "os-services",
        &admin_token,
        None,
    )
    .await;
    assert!(!b["services"][0].as_object().unwrap().contains_key("cluster"));
}

#[tokio::test]
async fn snapshots_by_version_and_revert() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let path = file_of(&cloud, "volume", &id);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(4096)).unwrap();
        f.write_all(b"before").unwrap();
    }
    let (s, snap) = call(
        &cloud,
        Method::POST,
        &project,
        "snapshots",
        &token,
        Some(json!({"snapshot": {"volume_id": id, "name": "s1", "metadata": {"k": "v"}}})),
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
        "available",
    )
    .await;
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(4096)).unwrap();
        f.write_all(b"after!").unwrap();
    }
    // user_id from 3.41; metadata filter from 3.22.
    let (_, b, _) = call_at(
        &cloud,
        "3.40",
        Method::GET,
        &project,
        &format!("snapshots/{sid}"),
        &token,
        None,
    )
    .await;
    assert!(b["snapshot"].get("user_id").is_none());
    let (_, b, _) = call_at(
        &cloud,
        "3.41",
        Method::GET,
        &project,
        &format!("snapshots/{sid}"),
        &token,
        None,
    )
    .await;
    assert!(b["snapshot"]["user_id"].is_string());
    let q = "snapshots?metadata=%7B%22k%22%3A%22x%22%7D";
    let (_, b, _) = call_at(&cloud, "3.21", Method::GET, &project, q, &token, None).await;
    assert_eq!(b["snapshots"].as_array().unwrap().len(), 1, "not a filter before 3.22");
    let (_, b, _) = call_at(&cloud, "3.22", Method::GET, &project, q, &token, None).await;
    assert_eq!(b["snapshots"], json!([]));

    // Revert: not an action before 3.40; only to the latest snapshot.
    let body = json!({"revert": {"snapshot_id": sid}});
    let action = format!("volumes/{id}/action");
    let (s, _, _) = call_at(
        &cloud,
        "3.39",
        Method::POST,
        &project,
        &action,
        &token,
        Some(body.clone()),
    )
    .await;
    assert_eq!(s, 400);
    let (s, b, _) = call_at(
        &cloud,
        "3.40",
        Method::POST,
        &project,
        &action,
        &token,
        Some(json!({"revert": {"snapshot_id": "5f9e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a01"}})),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, b, _) = call_at(&cloud, "3.40", Method::POST, &project, &action, &token, Some(body)).await;
    assert_eq!(s, 202, "{b}");
    wait_status(
        &cloud,
        &project,
        &token,
        &format!("volumes/{id}"),
        "volume",
        "available",
    )
    .await;
    wait_status(
        &cloud,
        &project,
        &token,
        &format!("snapshots/{sid}"),
        "snapshot",
        "available",
    )
    .await;
    let data = std::fs::read(&path).unwrap();
    assert_eq!(&data[4096..4102], b"before");
    assert_eq!(data.len(), 1 << 30);
}

#[tokio::test]
async fn extend_in_use_from_3_42_and_force_delete_from_3_23() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, _) = act(
        &cloud,
        &project,
        &token,
        &id,
        json!({"os-attach": {"instance_uuid": "5f9e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a01", "mountpoint": "/dev/vdb"}}),
    )
    .await;
    assert_eq!(s, 202);
    let action = format!("volumes/{id}/action");
    let extend = json!({"os-extend": {"new_size": 2}});
    let (s, _, _) = call_at(
        &cloud,
        "3.41",
        Method::POST,
        &project,
        &action,
        &token,
        Some(extend.clone()),
    )
    .await;
    assert_eq!(s, 400);
    let (s, b, _) = call_at(&cloud, "3.42", Method::POST, &project, &action, &token, Some(extend)).await;
    assert_eq!(s, 202, "{b}");
    let v = wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "in-use").await;
    assert_eq!(v["size"], 2);
    assert_eq!(
        std::fs::metadata(file_of(&cloud, "volume", &id)).unwrap().len(),
        2 << 30
    );

    // `force` is not read before 3.23: the attached volume stays.
    let (s, _, _) = call_at(
        &cloud,
        "3.22",
        Method::DELETE,
        &project,
        &format!("volumes/{id}?force=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _, _) = call_at(
        &cloud,
        "3.23",
        Method::DELETE,
        &project,
        &format!("volumes/{id}?force=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 202);
    wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "gone").await;
}

#[tokio::test]
async fn a_volume_without_a_backend_leaves_a_user_message() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let (s, t) = call(
        &cloud,
        Method::POST,
        &project,
        "types",
        &token,
        Some(json!({"volume_type": {"name": "nowhere", "extra_specs": {"volume_backend_name": "absent"}}})),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let (s, v) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 1, "volume_type": "nowhere"}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let id = v["volume"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "error").await;
    let (s, _, _) = call_at(&cloud, "3.2", Method::GET, &project, "messages", &token, None).await;
    assert_eq!(s, 404);
    let (s, b, _) = call_at(&cloud, "3.3", Method::GET, &project, "messages", &token, None).await;
    assert_eq!(s, 200);
    let m = b["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["resource_uuid"] == id.as_str())
        .expect("a message for the volume")
        .clone();
    assert_eq!(m["event_id"], "VOLUME_VOLUME_001_003");
    assert_eq!(
        m["user_message"],
        "schedule allocate volume:Could not find any available weighted backend."
    );
    assert_eq!(m["message_level"], "ERROR");
    assert_eq!(m["resource_type"], "VOLUME");
    assert!(m["request_id"].as_str().unwrap().starts_with("req-"), "{m}");
    let mid = m["id"].as_str().unwrap().to_owned();
    let (s, b, _) = call_at(
        &cloud,
        "3.3",
        Method::GET,
        &project,
        &format!("messages/{mid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["message"]["id"], mid.as_str());
    // Filters from 3.5.
    let (_, b, _) = call_at(
        &cloud,
        "3.5",
        Method::GET,
        &project,
        "messages?event_id=VOLUME_VOLUME_001_002",
        &token,
        None,
    )
    .await;
    assert_eq!(b["messages"], json!([]));
    let (s, _, _) = call_at(
        &cloud,
        "3.3",
        Method::DELETE,
        &project,
        &format!("messages/{mid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = call_at(
        &cloud,
        "3.3",
        Method::GET,
        &project,
        &format!("messages/{mid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404);
}
