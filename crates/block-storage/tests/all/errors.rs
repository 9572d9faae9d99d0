use reqwest::Method;
use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn bad_input_gets_cinder_faults_and_never_a_5xx() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let cases: Vec<(Value, u16)> = vec![
        (json!({"volume": {"size": 0}}), 400),
        (json!({"volume": {"size": -1}}), 400),
        (json!({"volume": {"size": "x"}}), 400),
        (json!({"volume": {"size": 1.5}}), 400),
        (json!({"volume": {}}), 400),
        (json!({"volume": {"size": 1, "name": "n".repeat(256)}}), 400),
        (json!({"volume": {"size": 1, "metadata": {"k": ["list"]}}}), 400),
        (json!({"volume": {"size": 1, "metadata": "nope"}}), 400),
        (json!({"volume": {"size": 1, "availability_zone": "mars"}}), 400),
        (json!({"volume": {"size": 1, "volume_type": "nope"}}), 404),
        (json!({"volume": {"size": 1, "snapshot_id": "nope"}}), 404),
        (json!({"volume": {"size": 1, "source_volid": "nope"}}), 404),
        (json!({"volume": {"size": 1, "imageRef": "nope"}}), 400),
        (json!({"volume": "x"}), 400),
        (json!([1, 2]), 400),
    ];
    for (body, want) in cases {
        let (s, e) = call(&cloud, Method::POST, &project, "volumes", &token, Some(body.clone())).await;
        assert_eq!(s, want, "{body} → {e}");
        let key = match want {
            400 => "badRequest",
            404 => "itemNotFound",
            _ => unreachable!(),
        };
        assert!(e[key]["message"].is_string(), "{body} → {e}");
    }
    let (s, e) = call(
        &cloud,
        Method::POST,
        &project,
        "volumes",
        &token,
        Some(json!({"volume": {"size": 0}})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        e["badRequest"]["message"],
        "Invalid input received: Volume size '0' must be an integer and greater than 0"
    );
    // Not JSON at all.
    let url = format!("{}/v3/{project}/volumes", cloud.block_storage_url.as_deref().unwrap());
    let resp = cloud
        .http
        .post(&url)
        .header("x-auth-token", &token)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = cloud
        .http
        .post(&url)
        .header("x-auth-token", &token)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // Unknown ids, bad actions.
    for (m, p) in [
        (Method::GET, "volumes/nope"),
        (Method::DELETE, "volumes/nope"),
        (Method::GET, "snapshots/nope"),
        (Method::GET, "types/nope"),
        (Method::GET, "volumes/nope/metadata"),
    ] {
        let (s, e) = call(&cloud, m.clone(), &project, p, &token, None).await;
        assert_eq!(s, 404, "{m} {p}: {e}");
    }
    let v = volume(&cloud, &project, &token, json!({"size": 1})).await;
    let id = v["id"].as_str().unwrap();
    for (body, want) in [
        (json!({"os-extend": {"new_size": "x"}}), 400),
        (json!({"os-extend": {}}), 400),
        (json!({"os-reset_status": {"status": "bogus"}}), 400),
        (json!({"os-set_bootable": {"bootable": "maybe"}}), 400),
        (json!({"os-nothing": {}}), 400),
        (json!({"a": 1, "b": 2}), 400),
    ] {
        let (s, e) = call(
            &cloud,
            Method::POST,
            &project,
            &format!("volumes/{id}/action"),
            &token,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, want, "{body} → {e}");
    }
    let (s, e) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("os-quota-sets/{project}"),
        &token,
        Some(json!({"quota_set": {"bogus": 1}})),
    )
    .await;
    assert_eq!(s, 400, "{e}");
    cloud.stop().await;
}
