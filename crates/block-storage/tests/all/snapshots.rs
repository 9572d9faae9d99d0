use std::io::{Read, Seek, SeekFrom, Write};

use reqwest::Method;
use serde_json::json;

use super::*;

fn write_at(path: &std::path::Path, offset: u64, data: &[u8]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(data).unwrap();
}

fn read_at(path: &std::path::Path, offset: u64, len: usize) -> Vec<u8> {
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0; len];
    f.read_exact(&mut buf).unwrap();
    buf
}

#[tokio::test]
async fn snapshots_clones_and_cascade() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1, "name": "src"})).await;
    let vid = v["id"].as_str().unwrap().to_owned();
    let vpath = file_of(&cloud, "volume", &vid);
    write_at(&vpath, 4096, b"before");

    let (s, snap) = call(
        &cloud,
        Method::POST,
        &project,
        "snapshots",
        &token,
        Some(json!({"snapshot": {"volume_id": vid, "name": "s1", "force": false, "metadata": {"a": "b"}}})),
    )
    .await;
    assert_eq!(s, 202, "{snap}");
    let sid = snap["snapshot"]["id"].as_str().unwrap().to_owned();
    let snap = wait_status(
        &cloud,
        &project,
        &token,
        &format!("snapshots/{sid}"),
        "snapshot",
        "available",
    )
    .await;
    assert_eq!(snap["size"], 1);
    assert_eq!(snap["volume_id"], vid.as_str());
    assert_eq!(snap["metadata"]["a"], "b");
    assert_eq!(snap["os-extended-snapshot-attributes:progress"], "100%");

    // The snapshot keeps its data when the volume is written to.
    write_at(&vpath, 4096, b"after!");
    let spath = file_of(&cloud, "snapshot", &sid);
    assert_eq!(read_at(&spath, 4096, 6), b"before");

    // A volume with a snapshot cannot be deleted without cascade.
    let (s, e) = call(
        &cloud,
        Method::DELETE,
        &project,
        &format!("volumes/{vid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 400, "{e}");

    // From the snapshot (bigger), and a clone of the volume.
    let from_snap = volume(&cloud, &project, &token, json!({"snapshot_id": sid, "size": 2})).await;
    assert_eq!(from_snap["snapshot_id"], sid.as_str());
    assert_eq!(from_snap["size"], 2);
    let fpath = file_of(&cloud, "volume", from_snap["id"].as_str().unwrap());
    assert_eq!(read_at(&fpath, 4096, 6), b"before");
    assert_eq!(std::fs::metadata(&fpath).unwrap().len(), 2 << 30);
    let clone = volume(&cloud, &project, &token, json!({"source_volid": vid})).await;
    assert_eq!(clone["size"], 1);
    let cpath = file_of(&cloud, "volume", clone["id"].as_str().unwrap());
    assert_eq!(read_at(&cpath, 4096, 6), b"after!");
    let (s, e) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"snapshot_id": sid, "size": 0}})),
    )
    .await;
    assert_eq!(s, 400, "{e}");

    // Lists, update, metadata.
    let (_, l) = call(&cloud, Method::GET, &project, "snapshots/detail", &token, None).await;
    assert_eq!(l["snapshots"].as_array().unwrap().len(), 1);
    let (s, u) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("snapshots/{sid}"),
        &token,
        Some(json!({"snapshot": {"name": "s1b"}})),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["snapshot"]["name"], "s1b");
    let (s, m) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("snapshots/{sid}/metadata"),
        &token,
        Some(json!({"metadata": {"x": "y"}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(m["metadata"], json!({"x": "y"}));

    // Cascade deletes the snapshot and then the volume, files included.
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &project,
        &format!("volumes/{vid}?cascade=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 202);
    wait_status(&cloud, &project, &token, &format!("volumes/{vid}"), "volume", "gone").await;
    let (s, _) = call(&cloud, Method::GET, &project, &format!("snapshots/{sid}"), &token, None).await;
    assert_eq!(s, 404);
    assert!(!vpath.exists() && !spath.exists());
    // The copies live on.
    assert_eq!(read_at(&fpath, 4096, 6), b"before");
    cloud.stop().await;
}

#[tokio::test]
async fn snapshot_delete_and_quota() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let vid = v["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("os-quota-sets/{project}"),
        &token,
        Some(json!({"quota_set": {"snapshots": 1}})),
    )
    .await;
    assert_eq!(s, 200);
    let create = || {
        call(
            &cloud,
            Method::POST,
            &project,
            "snapshots",
            &token,
            Some(json!({"snapshot": {"volume_id": vid}})),
        )
    };
    let (s, snap) = create().await;
    assert_eq!(s, 202);
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
    let (s, e) = create().await;
    assert_eq!(s, 413, "{e}");
    assert_eq!(
        e["overLimit"]["message"],
        "Maximum number of snapshots allowed (1) exceeded for quota 'snapshots'."
    );
    // os-update_snapshot_status: only from creating (or deleting).
    let action_path = format!("snapshots/{sid}/action");
    let act = |body: serde_json::Value| call(&cloud, Method::POST, &project, &action_path, &token, Some(body));
    let (s, _) = act(json!({"os-update_snapshot_status": {"status": "error"}})).await;
    assert_eq!(s, 400, "not from available");
    let (s, _) = act(json!({"os-reset_status": {"status": "creating"}})).await;
    assert_eq!(s, 202);
    let (s, _) = act(json!({"os-update_snapshot_status": {"status": "error", "progress": "80%"}})).await;
    assert_eq!(s, 202);
    let (_, shown) = call(&cloud, Method::GET, &project, &format!("snapshots/{sid}"), &token, None).await;
    assert_eq!(shown["snapshot"]["status"], "error");
    assert_eq!(shown["snapshot"]["os-extended-snapshot-attributes:progress"], "80%");
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &project,
        &format!("snapshots/{sid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 202);
    wait_status(
        &cloud,
        &project,
        &token,
        &format!("snapshots/{sid}"),
        "snapshot",
        "gone",
    )
    .await;
    assert!(!file_of(&cloud, "snapshot", &sid).exists());
    let (s, e) = call(
        &cloud,
        Method::POST,
        &project,
        "snapshots",
        &token,
        Some(json!({"snapshot": {"volume_id": "no-such-volume"}})),
    )
    .await;
    assert_eq!(s, 404, "{e}");
    cloud.stop().await;
}
