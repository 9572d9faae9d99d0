use reqwest::Method;
use serde_json::json;

use super::*;

#[tokio::test]
async fn create_show_list_update_extend_delete() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(
        &cloud,
        &project,
        &token,
        json!({"size": 1, "name": "v1", "description": "first", "metadata": {"k": "v"}}),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["size"], 1);
    assert_eq!(v["volume_type"], "__DEFAULT__");
    assert_eq!(v["bootable"], "false");
    assert_eq!(v["encrypted"], false);
    assert_eq!(v["multiattach"], false);
    assert_eq!(v["attachments"], json!([]));
    assert_eq!(v["availability_zone"], "nova");
    assert_eq!(v["metadata"]["k"], "v");
    assert_eq!(v["os-vol-tenant-attr:tenant_id"], project.as_str());
    assert_eq!(v["os-vol-host-attr:host"], "node1@file#file");
    // A thin, real file of 1 GiB.
    let path = file_of(&cloud, "volume", &id);
    let meta = std::fs::metadata(&path).expect("volume file");
    assert_eq!(meta.len(), 1 << 30);
    {
        use std::os::unix::fs::MetadataExt;
        assert!(meta.blocks() * 512 < 1 << 20, "the file is not sparse");
    }

    // A second one to list.
    volume(&cloud, &project, &token, json!({"size": 2, "name": "v2"})).await;
    let (s, l) = call(&cloud, Method::GET, &project, "volumes", &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(l["volumes"].as_array().unwrap().len(), 2);
    assert_eq!(l["volumes"][0]["name"], "v2", "newest first");
    assert!(l["volumes"][0].get("size").is_none(), "the summary has id, name, links");
    let (_, l) = call(&cloud, Method::GET, &project, "volumes/detail?name=v1", &token, None).await;
    assert_eq!(l["volumes"].as_array().unwrap().len(), 1);
    assert_eq!(l["volumes"][0]["size"], 1);
    let (_, l) = call(
        &cloud,
        Method::GET,
        &project,
        "volumes/detail?metadata=%7B%22k%22%3A%22v%22%7D",
        &token,
        None,
    )
    .await;
    assert_eq!(l["volumes"].as_array().unwrap().len(), 1);
    let (_, l) = call(
        &cloud,
        Method::GET,
        &project,
        "volumes/detail?sort=size:asc&limit=1",
        &token,
        None,
    )
    .await;
    assert_eq!(l["volumes"][0]["size"], 1);
    let next = l["volumes_links"][0]["href"].as_str().expect("next link").to_owned();
    assert!(next.contains("marker="), "{next}");
    let resp = cloud
        .http
        .get(&next)
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    let page2: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(page2["volumes"][0]["size"], 2);
    let (s, _) = call(
        &cloud,
        Method::GET,
        &project,
        "volumes/detail?sort=bogus:asc",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(&cloud, Method::GET, &project, "volumes?marker=nope", &token, None).await;
    assert_eq!(s, 404);

    // Update and metadata.
    let (s, u) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("volumes/{id}"),
        &token,
        Some(json!({"volume": {"name": "renamed", "description": null}})),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["volume"]["name"], "renamed");
    assert_eq!(u["volume"]["description"], serde_json::Value::Null);
    let (s, m) = call(
        &cloud,
        Method::POST,
        &project,
        &format!("volumes/{id}/metadata"),
        &token,
        Some(json!({"metadata": {"a": "1"}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(m["metadata"], json!({"k": "v", "a": "1"}));
    let (s, m) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("volumes/{id}/metadata/a"),
        &token,
        Some(json!({"meta": {"a": "2"}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(m["meta"]["a"], "2");
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("volumes/{id}/metadata/a"),
        &token,
        Some(json!({"meta": {"b": "2"}})),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &project,
        &format!("volumes/{id}/metadata/k"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &project,
        &format!("volumes/{id}/metadata/k"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (_, m) = call(
        &cloud,
        Method::GET,
        &project,
        &format!("volumes/{id}/metadata"),
        &token,
        None,
    )
    .await;
    assert_eq!(m["metadata"], json!({"a": "2"}));
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("volumes/{id}/metadata"),
        &token,
        Some(json!({"metadata": {}})),
    )
    .await;
    assert_eq!(s, 200);

    // Actions.
    let action_path = format!("volumes/{id}/action");
    let action = |body: serde_json::Value| call(&cloud, Method::POST, &project, &action_path, &token, Some(body));
    let (s, _) = action(json!({"os-set_bootable": {"bootable": true}})).await;
    assert_eq!(s, 200);
    let (s, _) = action(json!({"os-update_readonly_flag": {"readonly": true}})).await;
    assert_eq!(s, 202);
    let (s, e) = action(json!({"os-extend": {"new_size": 1}})).await;
    assert_eq!(s, 400, "{e}");
    assert!(
        e["badRequest"]["message"]
            .as_str()
            .unwrap()
            .contains("greater than current size")
    );
    let (s, _) = action(json!({"os-extend": {"new_size": 3}})).await;
    assert_eq!(s, 202);
    let v = wait_status(
        &cloud,
        &project,
        &token,
        &format!("volumes/{id}"),
        "volume",
        "available",
    )
    .await;
    assert_eq!(v["size"], 3);
    assert_eq!(v["bootable"], "true");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 << 30);
    let (s, e) = action(json!({"os-attach": {"mountpoint": "/dev/vdb"}})).await;
    assert_eq!(s, 400, "{e}");

    // Delete: the row and the file go.
    let (s, _) = call(&cloud, Method::DELETE, &project, &format!("volumes/{id}"), &token, None).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "gone").await;
    assert!(!path.exists());
    cloud.stop().await;
}

#[tokio::test]
async fn admin_actions_and_other_projects() {
    let cloud = cloud().await;
    let (admin_token, admin_project) = admin(&cloud).await;
    let (project, token) = project_user(&cloud, &admin_token, "p1", "member").await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(v.get("os-vol-host-attr:host").is_none(), "host is for admins");
    assert_eq!(v["os-vol-tenant-attr:tenant_id"], project.as_str());

    // Another project sees nothing; a reader cannot write.
    let (other, other_token) = project_user(&cloud, &admin_token, "p2", "member").await;
    let (s, _) = call(
        &cloud,
        Method::GET,
        &other,
        &format!("volumes/{id}"),
        &other_token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (reader_project, reader) = project_user(&cloud, &admin_token, "p3", "reader").await;
    let (s, e) = call(
        &cloud,
        Method::POST,
        &reader_project,
        "volumes",
        &reader,
        Some(json!({"volume": {"size": 1}})),
    )
    .await;
    assert_eq!(s, 403, "{e}");

    // Reset status: admins only.
    let path = format!("volumes/{id}/action");
    let (s, _) = call(
        &cloud,
        Method::POST,
        &project,
        &path,
        &token,
        Some(json!({"os-reset_status": {"status": "error"}})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &cloud,
        Method::POST,
        &admin_project,
        &path,
        &admin_token,
        Some(json!({"os-reset_status": {"status": "error"}})),
    )
    .await;
    assert_eq!(s, 202);
    let (_, l) = call(
        &cloud,
        Method::GET,
        &admin_project,
        "volumes/detail?all_tenants=1&status=error",
        &admin_token,
        None,
    )
    .await;
    assert_eq!(l["volumes"].as_array().unwrap().len(), 1);
    let (_, l) = call(
        &cloud,
        Method::GET,
        &admin_project,
        "volumes/detail",
        &admin_token,
        None,
    )
    .await;
    assert_eq!(
        l["volumes"].as_array().unwrap().len(),
        0,
        "without all_tenants: own project"
    );
    let (s, _) = call(
        &cloud,
        Method::POST,
        &admin_project,
        &path,
        &admin_token,
        Some(json!({"os-force_delete": {}})),
    )
    .await;
    assert_eq!(s, 202);
    wait_status(
        &cloud,
        &admin_project,
        &admin_token,
        &format!("volumes/{id}"),
        "volume",
        "gone",
    )
    .await;
    assert!(!file_of(&cloud, "volume", &id).exists());
    cloud.stop().await;
}

#[tokio::test]
async fn services_zones_limits_and_quotas() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let (s, l) = call(&cloud, Method::GET, &project, "os-services", &token, None).await;
    assert_eq!(s, 200, "{l}");
    let services = l["services"].as_array().unwrap();
    let vol = services
        .iter()
        .find(|s| s["binary"] == "cinder-volume")
        .expect("cinder-volume");
    assert_eq!(vol["host"], "node1@file");
    assert_eq!(vol["state"], "up");
    assert!(
        services
            .iter()
            .any(|s| s["binary"] == "cinder-scheduler" && s["state"] == "up")
    );
    let (_, z) = call(&cloud, Method::GET, &project, "os-availability-zone", &token, None).await;
    assert_eq!(z["availabilityZoneInfo"][0]["zoneName"], "nova");
    assert_eq!(z["availabilityZoneInfo"][0]["zoneState"]["available"], true);

    // Disabled backends are not scheduled to.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        "os-services/disable",
        &token,
        Some(json!({"host": "node1@file", "binary": "cinder-volume"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, v) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 1}})),
    )
    .await;
    let id = v["volume"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &project, &token, &format!("volumes/{id}"), "volume", "error").await;
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        "os-services/enable",
        &token,
        Some(json!({"host": "node1@file", "binary": "cinder-volume"})),
    )
    .await;
    assert_eq!(s, 200);
    // The volume in error never reached a backend: deleted at once.
    let (s, _) = call(&cloud, Method::DELETE, &project, &format!("volumes/{id}"), &token, None).await;
    assert_eq!(s, 202);
    let (s, _) = call(&cloud, Method::GET, &project, &format!("volumes/{id}"), &token, None).await;
    assert_eq!(s, 404);

    // Quotas: usage, update, 413.
    volume(&cloud, &project, &token, json!({"size": 2})).await;
    let (s, q) = call(
        &cloud,
        Method::GET,
        &project,
        &format!("os-quota-sets/{project}?usage=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["quota_set"]["volumes"]["in_use"], 1);
    assert_eq!(q["quota_set"]["gigabytes"]["in_use"], 2);
    assert_eq!(q["quota_set"]["volumes___DEFAULT__"]["in_use"], 1);
    let (_, d) = call(
        &cloud,
        Method::GET,
        &project,
        &format!("os-quota-sets/{project}/defaults"),
        &token,
        None,
    )
    .await;
    assert_eq!(d["quota_set"]["volumes"], 10);
    let (s, e) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("os-quota-sets/{project}"),
        &token,
        Some(json!({"quota_set": {"volumes": 0}})),
    )
    .await;
    assert_eq!(s, 400, "below usage: {e}");
    let (s, q) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("os-quota-sets/{project}"),
        &token,
        Some(json!({"quota_set": {"volumes": 1, "gigabytes": 5}})),
    )
    .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["quota_set"]["volumes"], 1);
    let (s, e) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 1}})),
    )
    .await;
    assert_eq!(s, 413, "{e}");
    assert_eq!(
        e["overLimit"]["message"],
        "Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    );
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("os-quota-sets/{project}"),
        &token,
        Some(json!({"quota_set": {"volumes": 5}})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, e) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 4}})),
    )
    .await;
    assert_eq!(s, 413, "{e}");
    assert_eq!(
        e["overLimit"]["message"],
        "Requested volume or snapshot exceeds allowed gigabytes quota. Requested 4G, quota is 5G and 2G has been consumed."
    );
    let (_, lim) = call(&cloud, Method::GET, &project, "limits", &token, None).await;
    assert_eq!(lim["limits"]["absolute"]["maxTotalVolumes"], 5);
    assert_eq!(lim["limits"]["absolute"]["totalGigabytesUsed"], 2);
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &project,
        &format!("os-quota-sets/{project}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (_, q) = call(
        &cloud,
        Method::GET,
        &project,
        &format!("os-quota-sets/{project}"),
        &token,
        None,
    )
    .await;
    assert_eq!(q["quota_set"]["volumes"], 10);
    cloud.stop().await;
}

#[tokio::test]
async fn the_default_quota_class_sets_every_projects_defaults() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let (other, other_token) = project_user(&cloud, &token, "qc", "member").await;
    let (s, c) = call(
        &cloud,
        Method::GET,
        &project,
        "os-quota-class-sets/default",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["quota_class_set"]["volumes"], 10);
    let (s, _) = call(
        &cloud,
        Method::GET,
        &other,
        "os-quota-class-sets/default",
        &other_token,
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, c) = call(
        &cloud,
        Method::PUT,
        &project,
        "os-quota-class-sets/default",
        &token,
        Some(json!({"quota_class_set": {"volumes": 1}})),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["quota_class_set"]["volumes"], 1);
    let (_, d) = call(
        &cloud,
        Method::GET,
        &other,
        &format!("os-quota-sets/{other}/defaults"),
        &other_token,
        None,
    )
    .await;
    assert_eq!(d["quota_set"]["volumes"], 1);
    volume(&cloud, &other, &other_token, json!({"size": 1})).await;
    let (s, e) = call(
        &cloud,
        Method::POST,
        &other,
        "volumes",
        &other_token,
        Some(json!({"volume": {"size": 1}})),
    )
    .await;
    assert_eq!(s, 413, "{e}");
    // A project's own limit beats the class.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("os-quota-sets/{other}"),
        &token,
        Some(json!({"quota_set": {"volumes": 3}})),
    )
    .await;
    assert_eq!(s, 200);
    volume(&cloud, &other, &other_token, json!({"size": 1})).await;
    cloud.stop().await;
}
