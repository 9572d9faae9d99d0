use std::io::Read;

use reqwest::Method;
use serde_json::{Value, json};

use super::*;

async fn image(cloud: &TestCloud, token: &str, disk_format: &str, data: Vec<u8>, extra: Value) -> String {
    let base = cloud.image_url.as_deref().unwrap();
    let mut body = json!({"name": "img", "disk_format": disk_format, "container_format": "bare"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let resp = cloud
        .http
        .post(format!("{base}/v2/images"))
        .header("x-auth-token", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    let resp = cloud
        .http
        .put(format!("{base}/v2/images/{id}/file"))
        .header("x-auth-token", token)
        .header("content-type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    id
}

#[tokio::test]
async fn volumes_from_raw_and_qcow2_images() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let data: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let raw = image(&cloud, &token, "raw", data.clone(), json!({"os_distro": "testos"})).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1, "imageRef": raw})).await;
    assert_eq!(v["bootable"], "true");
    assert_eq!(v["volume_image_metadata"]["image_id"], raw.as_str());
    assert_eq!(v["volume_image_metadata"]["os_distro"], "testos");
    assert_eq!(v["volume_image_metadata"]["disk_format"], "raw");
    let path = file_of(&cloud, "volume", v["id"].as_str().unwrap());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 30);
    let mut head = vec![0; data.len()];
    std::fs::File::open(&path).unwrap().read_exact(&mut head).unwrap();
    assert!(head == data, "the volume holds the image's bytes");
    // The scratch copy is gone.
    let scratch = cloud.dir().join("block-storage/node1/tmp");
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);

    // Image metadata actions.
    let id = v["id"].as_str().unwrap();
    let (s, m) = call(
        &cloud,
        Method::POST,
        &project,
        &format!("volumes/{id}/action"),
        &token,
        Some(json!({"os-set_image_metadata": {"metadata": {"hw_disk_bus": "scsi"}}})),
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["metadata"]["hw_disk_bus"], "scsi");
    let (s, _) = call(
        &cloud,
        Method::POST,
        &project,
        &format!("volumes/{id}/action"),
        &token,
        Some(json!({"os-unset_image_metadata": {"key": "hw_disk_bus"}})),
    )
    .await;
    assert_eq!(s, 200);

    // qcow2: converted to raw by qemu-img; 2 GiB virtual does not fit 1 GB.
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("img.qcow2");
    let st = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&q)
        .arg("2G")
        .status()
        .unwrap();
    assert!(st.success());
    let qcow = image(&cloud, &token, "qcow2", std::fs::read(&q).unwrap(), json!({})).await;
    let (s, e) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 1, "imageRef": qcow}})),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    let v = volume(&cloud, &project, &token, json!({"size": 2, "imageRef": qcow})).await;
    let path = file_of(&cloud, "volume", v["id"].as_str().unwrap());
    let mut magic = [0u8; 4];
    std::fs::File::open(&path).unwrap().read_exact(&mut magic).unwrap();
    assert_ne!(&magic, b"QFI\xfb", "converted to raw");
    // Size defaults are not guessed for images.
    let (s, _) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"imageRef": raw}})),
    )
    .await;
    assert_eq!(s, 400);
    cloud.stop().await;
}
