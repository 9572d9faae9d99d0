//! Image data: streamed upload with checksums, download with ranges, the
//! status lifecycle, a truncated upload, deactivation, staging + import,
//! and quotas.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::{bytes, call, cloud, create_image, md5_hex, patch, project_user, sha512_hex, upload, url};

async fn status_of(cloud: &test_cloud::TestCloud, id: &str, token: &str) -> serde_json::Value {
    call(cloud, Method::GET, &format!("v2/images/{id}"), token, None)
        .await
        .1
}

/// Waits (up to 30 s) until the image's status is `want`.
async fn wait_status(cloud: &test_cloud::TestCloud, id: &str, token: &str, want: &str) -> serde_json::Value {
    for _ in 0..300 {
        let v = status_of(cloud, id, token).await;
        if v["status"] == want {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("image {id} never reached {want}: {}", status_of(cloud, id, token).await);
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn upload_download_lifecycle() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, token) = project_user(&cloud, &admin, "p1", "member").await;
    let img = create_image(&cloud, &token, json!({})).await;
    let id = img["id"].as_str().unwrap();
    let file = url(&cloud, &format!("v2/images/{id}/file"));

    // No data yet: 204.
    let resp = cloud
        .http
        .get(&file)
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // Wrong content type: 415, and nothing changed.
    let resp = cloud
        .http
        .put(&file)
        .header("x-auth-token", &token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);

    // A 5 MiB upload, streamed in chunks (chunked transfer encoding).
    let data = bytes(5 << 20, 1);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = data.chunks(100_000).map(|c| Ok(c.to_vec())).collect();
    let resp = cloud
        .http
        .put(&file)
        .header("x-auth-token", &token)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let v = status_of(&cloud, id, &token).await;
    assert_eq!(v["status"], "active");
    assert_eq!(v["size"], data.len());
    assert_eq!(v["virtual_size"], data.len());
    assert_eq!(v["checksum"], md5_hex(&data));
    assert_eq!(v["os_hash_algo"], "sha512");
    assert_eq!(v["os_hash_value"], sha512_hex(&data));
    assert_eq!(v["stores"], "file");

    // Download, whole and ranged.
    let resp = cloud
        .http
        .get(&file)
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-md5"], md5_hex(&data).as_str());
    assert_eq!(resp.headers()["content-length"], data.len().to_string().as_str());
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());
    for (range, want) in [
        ("bytes=10-19", &data[10..20]),
        ("bytes=-5", &data[data.len() - 5..]),
        ("bytes=5242870-", &data[5_242_870..]),
    ] {
        let resp = cloud
            .http
            .get(&file)
            .header("x-auth-token", &token)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 206, "{range}");
        assert!(
            resp.headers()["content-range"]
                .to_str()
                .unwrap()
                .ends_with(&format!("/{}", data.len()))
        );
        assert_eq!(resp.bytes().await.unwrap().as_ref(), want, "{range}");
    }
    let resp = cloud
        .http
        .get(&file)
        .header("x-auth-token", &token)
        .header("range", "bytes=99999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);

    // A second upload to an active image: 409.
    assert_eq!(upload(&cloud, id, &token, vec![1, 2, 3]).await, 409);
    // Formats cannot change once there is data.
    let (s, _) = patch(
        &cloud,
        id,
        &token,
        json!([{"op": "replace", "path": "/disk_format", "value": "qcow2"}]),
    )
    .await;
    assert_eq!(s, 403);

    // Deactivate: download refused (403) for the owner, allowed for admin;
    // reactivate restores it.
    let act = |a: &str| format!("v2/images/{id}/actions/{a}");
    assert_eq!(
        call(&cloud, Method::POST, &act("deactivate"), &token, None).await.0,
        204
    );
    assert_eq!(status_of(&cloud, id, &token).await["status"], "deactivated");
    let resp = cloud
        .http
        .get(&file)
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // (Bodies are read to the end: a client that stops reading holds its
    // connection, and the server's graceful shutdown waits for it.)
    let resp = cloud
        .http
        .get(&file)
        .header("x-auth-token", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), data.len());
    assert_eq!(
        call(&cloud, Method::POST, &act("reactivate"), &token, None).await.0,
        204
    );
    let resp = cloud
        .http
        .get(&file)
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), data.len());
    // Deactivating a queued image is refused.
    let queued = create_image(&cloud, &token, json!({})).await;
    let qa = format!("v2/images/{}/actions/deactivate", queued["id"].as_str().unwrap());
    assert_eq!(call(&cloud, Method::POST, &qa, &token, None).await.0, 403);
    // Upload without formats: 400.
    let bare = call(
        &cloud,
        Method::POST,
        "v2/images",
        &token,
        Some(json!({"name": "noformat"})),
    )
    .await
    .1;
    assert_eq!(upload(&cloud, bare["id"].as_str().unwrap(), &token, vec![1]).await, 400);

    // Deleting removes the data file.
    let store_dir = cloud.dir().join("image-data/images");
    assert!(files_in(&store_dir).contains(&id.to_owned()));
    assert_eq!(
        call(&cloud, Method::DELETE, &format!("v2/images/{id}"), &token, None)
            .await
            .0,
        204
    );
    assert!(!files_in(&store_dir).contains(&id.to_owned()));
    cloud.stop().await;
}

#[tokio::test]
async fn truncated_upload_leaves_nothing() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, token) = project_user(&cloud, &admin, "p1", "member").await;
    let img = create_image(&cloud, &token, json!({})).await;
    let id = img["id"].as_str().unwrap();
    let addr = cloud
        .image_url
        .as_deref()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {token}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&vec![9u8; 2 << 20]).await.unwrap();
    // Wait until the server is saving, then hang up half-way.
    wait_status(&cloud, id, &token, "saving").await;
    sock.shutdown().await.unwrap();
    drop(sock);
    let v = wait_status(&cloud, id, &token, "queued").await;
    assert!(v["checksum"].is_null() && v["size"].is_null());
    let store_dir = cloud.dir().join("image-data/images");
    assert!(files_in(&store_dir).is_empty(), "{:?}", files_in(&store_dir));
    // The image can be uploaded again.
    assert_eq!(upload(&cloud, id, &token, vec![1, 2, 3]).await, 204);
    assert_eq!(status_of(&cloud, id, &token).await["size"], 3);
    cloud.stop().await;
}

#[tokio::test]
async fn stage_and_import() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, token) = project_user(&cloud, &admin, "p1", "member").await;
    let img = create_image(&cloud, &token, json!({})).await;
    let id = img["id"].as_str().unwrap();
    // Import before staging: 409.
    let import = json!({"method": {"name": "glance-direct"}});
    let (s, _) = call(
        &cloud,
        Method::POST,
        &format!("v2/images/{id}/import"),
        &token,
        Some(import.clone()),
    )
    .await;
    assert_eq!(s, 409);
    let data = bytes(3 << 20, 7);
    let resp = cloud
        .http
        .put(url(&cloud, &format!("v2/images/{id}/stage")))
        .header("x-auth-token", &token)
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(status_of(&cloud, id, &token).await["status"], "uploading");
    for (body, want) in [
        (json!({}), 400),
        (json!({"method": {}}), 400),
        (json!({"method": {"name": "web-download"}}), 400),
        (json!({"method": {"name": "glance-direct"}, "stores": ["nope"]}), 400),
    ] {
        let (s, v) = call(
            &cloud,
            Method::POST,
            &format!("v2/images/{id}/import"),
            &token,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, want, "{body}: {v}");
    }
    let resp = cloud
        .http
        .post(url(&cloud, &format!("v2/images/{id}/import")))
        .header("x-auth-token", &token)
        .json(&import)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let request_id = resp.headers()["x-openstack-request-id"].to_str().unwrap().to_owned();
    let v = wait_status(&cloud, id, &token, "active").await;
    assert_eq!(v["checksum"], md5_hex(&data));
    assert_eq!(v["os_hash_value"], sha512_hex(&data));
    assert_eq!(v["os_glance_importing_to_stores"], "");
    assert_eq!(v["stores"], "file");
    let (s, tasks) = call(&cloud, Method::GET, &format!("v2/images/{id}/tasks"), &token, None).await;
    assert_eq!(s, 200);
    let task = &tasks["tasks"][0];
    for _ in 0..100 {
        let (_, t) = call(&cloud, Method::GET, &format!("v2/images/{id}/tasks"), &token, None).await;
        if t["tasks"][0]["status"] == "success" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(task["request_id"], request_id.as_str());
    assert_eq!(task["input"]["import_req"]["method"]["name"], "glance-direct");
    let resp = cloud
        .http
        .get(url(&cloud, &format!("v2/images/{id}/file")))
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());
    assert!(files_in(&cloud.dir().join("image-data/staging")).is_empty());
    cloud.stop().await;
}

#[tokio::test]
async fn quotas_from_unified_limits() {
    let cloud = cloud().await;
    let admin = cloud.admin_token().await;
    let (_, token) = project_user(&cloud, &admin, "p1", "member").await;
    let (_, services) = cloud.call(Method::GET, "services?type=image", &admin, None).await;
    let sid = services["services"][0]["id"].as_str().unwrap().to_owned();
    let (s, v) = cloud
        .call(
            Method::POST,
            "registered_limits",
            &admin,
            Some(json!({"registered_limits": [
                {"service_id": sid, "resource_name": "image_count_total", "default_limit": 2},
                {"service_id": sid, "resource_name": "image_size_total", "default_limit": 1},
            ]})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // 1 MiB total: a 2 MiB upload is refused (413) and stores nothing.
    let a = create_image(&cloud, &token, json!({})).await;
    let aid = a["id"].as_str().unwrap();
    assert_eq!(upload(&cloud, aid, &token, vec![0; 2 << 20]).await, 413);
    let v = status_of(&cloud, aid, &token).await;
    assert_eq!(v["status"], "queued");
    assert!(files_in(&cloud.dir().join("image-data/images")).is_empty());
    assert_eq!(upload(&cloud, aid, &token, vec![0; 1000]).await, 204);
    // Two images at most.
    create_image(&cloud, &token, json!({})).await;
    let (s, v) = call(
        &cloud,
        Method::POST,
        "v2/images",
        &token,
        Some(json!({"name": "third"})),
    )
    .await;
    assert_eq!(s, 413, "{v}");
    let (s, v) = call(&cloud, Method::GET, "v2/info/usage", &token, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["usage"]["image_count_total"], json!({"limit": 2, "usage": 2}));
    cloud.stop().await;
}
