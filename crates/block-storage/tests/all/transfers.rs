//! `os-volume-transfer`: a volume and its snapshots handed from one
//! project to another, with the quota usage following, on every database
//! the environment offers.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::Backend;

use super::*;

fn usage(q: &Value, key: &str) -> i64 {
    q["quota_set"][key]["in_use"]
        .as_i64()
        .unwrap_or_else(|| panic!("{key}: {q}"))
}

async fn quota(cloud: &TestCloud, admin: &str, admin_project: &str, project: &str) -> Value {
    let (s, q) = call(
        cloud,
        Method::GET,
        admin_project,
        &format!("os-quota-sets/{project}?usage=true"),
        admin,
        None,
    )
    .await;
    assert_eq!(s, 200, "{q}");
    q
}

async fn volume_status(cloud: &TestCloud, project: &str, token: &str, id: &str) -> String {
    let (s, v) = call(cloud, Method::GET, project, &format!("volumes/{id}"), token, None).await;
    assert_eq!(s, 200, "{v}");
    v["volume"]["status"].as_str().unwrap().to_owned()
}

async fn create(cloud: &TestCloud, project: &str, token: &str, volume_id: &str, name: &str) -> (u16, Value) {
    call(
        cloud,
        Method::POST,
        project,
        "os-volume-transfer",
        token,
        Some(json!({"transfer": {"volume_id": volume_id, "name": name}})),
    )
    .await
}

#[tokio::test]
async fn transfer_and_accept_on_every_database() {
    for backend in Backend::from_env() {
        let cloud = TestCloud::start_on(backend).await.with_block_storage().await;
        let (admin_token, admin_project) = admin(&cloud).await;
        let (giver, giver_token) = project_user(&cloud, &admin_token, "giver", "member").await;
        let (taker, taker_token) = project_user(&cloud, &admin_token, "taker", "member").await;

        let v = volume(&cloud, &giver, &giver_token, json!({"size": 2, "name": "gift"})).await;
        let vid = v["id"].as_str().unwrap().to_owned();
        let (s, snap) = call(
            &cloud,
            Method::POST,
            &giver,
            "snapshots",
            &giver_token,
            Some(json!({"snapshot": {"volume_id": vid}})),
        )
        .await;
        assert_eq!(s, 202, "{backend:?}: {snap}");
        let sid = snap["snapshot"]["id"].as_str().unwrap().to_owned();
        wait_status(
            &cloud,
            &giver,
            &giver_token,
            &format!("snapshots/{sid}"),
            "snapshot",
            "available",
        )
        .await;

        // Create: the key is shown once, the volume waits.
        let (s, t) = create(&cloud, &giver, &giver_token, &vid, " present ").await;
        assert_eq!(s, 202, "{backend:?}: {t}");
        let t = &t["transfer"];
        let tid = t["id"].as_str().unwrap().to_owned();
        let key = t["auth_key"].as_str().unwrap().to_owned();
        assert_eq!(key.len(), 16, "{t}");
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{t}");
        assert_eq!(t["name"], "present");
        assert_eq!(t["volume_id"], vid.as_str());
        assert!(t["created_at"].is_string(), "{t}");
        assert!(
            t["links"][0]["href"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/v3/{giver}/os-volume-transfer/{tid}")),
            "{t}"
        );
        assert_eq!(
            volume_status(&cloud, &giver, &giver_token, &vid).await,
            "awaiting-transfer"
        );

        // Show and lists: never the key; the summary has no created_at.
        let (s, shown) = call(
            &cloud,
            Method::GET,
            &giver,
            &format!("os-volume-transfer/{tid}"),
            &giver_token,
            None,
        )
        .await;
        assert_eq!(s, 200, "{shown}");
        assert_eq!(shown["transfer"]["volume_id"], vid.as_str());
        assert!(shown["transfer"].get("auth_key").is_none(), "{shown}");
        let (_, list) = call(&cloud, Method::GET, &giver, "os-volume-transfer", &giver_token, None).await;
        assert_eq!(list["transfers"].as_array().unwrap().len(), 1, "{list}");
        assert!(list["transfers"][0].get("created_at").is_none(), "{list}");
        let (_, detail) = call(
            &cloud,
            Method::GET,
            &giver,
            "os-volume-transfer/detail",
            &giver_token,
            None,
        )
        .await;
        assert_eq!(detail["transfers"][0]["id"], tid.as_str());
        assert!(detail["transfers"][0]["created_at"].is_string(), "{detail}");
        assert!(detail["transfers"][0]["links"].is_array(), "{detail}");

        // Another project sees neither the transfer nor the volume; the
        // admin sees the transfer with all_tenants only.
        let (s, _) = call(
            &cloud,
            Method::GET,
            &taker,
            &format!("os-volume-transfer/{tid}"),
            &taker_token,
            None,
        )
        .await;
        assert_eq!(s, 404);
        let (_, list) = call(&cloud, Method::GET, &taker, "os-volume-transfer", &taker_token, None).await;
        assert_eq!(list["transfers"], json!([]), "{list}");
        let (_, list) = call(
            &cloud,
            Method::GET,
            &admin_project,
            "os-volume-transfer",
            &admin_token,
            None,
        )
        .await;
        assert_eq!(list["transfers"], json!([]), "{list}");
        let (_, list) = call(
            &cloud,
            Method::GET,
            &admin_project,
            "os-volume-transfer/detail?all_tenants=1",
            &admin_token,
            None,
        )
        .await;
        assert_eq!(list["transfers"][0]["id"], tid.as_str(), "{list}");

        // A wrong key moves nothing.
        let (s, e) = call(
            &cloud,
            Method::POST,
            &taker,
            &format!("os-volume-transfer/{tid}/accept"),
            &taker_token,
            Some(json!({"accept": {"auth_key": "0123456789abcdef"}})),
        )
        .await;
        assert_eq!(s, 400, "{e}");
        assert!(
            e["badRequest"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid auth key"),
            "{e}"
        );
        assert_eq!(
            volume_status(&cloud, &giver, &giver_token, &vid).await,
            "awaiting-transfer"
        );

        // Over the taker's quota: 413, nothing moves.
        let (s, _) = call(
            &cloud,
            Method::PUT,
            &admin_project,
            &format!("os-quota-sets/{taker}"),
            &admin_token,
            Some(json!({"quota_set": {"gigabytes": 3}})),
        )
        .await;
        assert_eq!(s, 200);
        let (s, e) = call(
            &cloud,
            Method::POST,
            &taker,
            &format!("os-volume-transfer/{tid}/accept"),
            &taker_token,
            Some(json!({"accept": {"auth_key": key}})),
        )
        .await;
        assert_eq!(s, 413, "{backend:?}: {e}");
        assert!(
            e["overLimit"]["message"]
                .as_str()
                .unwrap()
                .contains("exceeds allowed gigabytes quota"),
            "{e}"
        );
        assert_eq!(
            volume_status(&cloud, &giver, &giver_token, &vid).await,
            "awaiting-transfer"
        );
        assert_eq!(
            usage(&quota(&cloud, &admin_token, &admin_project, &giver).await, "gigabytes"),
            4
        );

        // Room again: accepted; the volume, its snapshot and their usage
        // belong to the taker now.
        let (s, _) = call(
            &cloud,
            Method::PUT,
            &admin_project,
            &format!("os-quota-sets/{taker}"),
            &admin_token,
            Some(json!({"quota_set": {"gigabytes": 4}})),
        )
        .await;
        assert_eq!(s, 200);
        let (s, acc) = call(
            &cloud,
            Method::POST,
            &taker,
            &format!("os-volume-transfer/{tid}/accept"),
            &taker_token,
            Some(json!({"accept": {"auth_key": key}})),
        )
        .await;
        assert_eq!(s, 202, "{backend:?}: {acc}");
        assert_eq!(acc["transfer"]["id"], tid.as_str());
        assert_eq!(acc["transfer"]["volume_id"], vid.as_str());
        assert_eq!(acc["transfer"]["name"], "present");
        assert!(acc["transfer"]["links"].is_array(), "{acc}");
        let (s, mine) = call(
            &cloud,
            Method::GET,
            &taker,
            &format!("volumes/{vid}"),
            &taker_token,
            None,
        )
        .await;
        assert_eq!(s, 200, "{mine}");
        assert_eq!(mine["volume"]["status"], "available");
        assert_eq!(mine["volume"]["os-vol-tenant-attr:tenant_id"], taker.as_str());
        let (s, _) = call(
            &cloud,
            Method::GET,
            &giver,
            &format!("volumes/{vid}"),
            &giver_token,
            None,
        )
        .await;
        assert_eq!(s, 404);
        let (s, snap) = call(
            &cloud,
            Method::GET,
            &taker,
            &format!("snapshots/{sid}"),
            &taker_token,
            None,
        )
        .await;
        assert_eq!(s, 200, "{snap}");
        let g = quota(&cloud, &admin_token, &admin_project, &giver).await;
        let r = quota(&cloud, &admin_token, &admin_project, &taker).await;
        for (k, giver_has, taker_has) in [
            ("volumes", 0, 1),
            ("gigabytes", 0, 4),
            ("snapshots", 0, 1),
            ("volumes___DEFAULT__", 0, 1),
            ("gigabytes___DEFAULT__", 0, 4),
        ] {
            assert_eq!(usage(&g, k), giver_has, "{backend:?} giver {k}: {g}");
            assert_eq!(usage(&r, k), taker_has, "{backend:?} taker {k}: {r}");
        }
        // The transfer is gone.
        let (s, _) = call(
            &cloud,
            Method::GET,
            &giver,
            &format!("os-volume-transfer/{tid}"),
            &giver_token,
            None,
        )
        .await;
        assert_eq!(s, 404);
        let (s, _) = call(
            &cloud,
            Method::POST,
            &taker,
            &format!("os-volume-transfer/{tid}/accept"),
            &taker_token,
            Some(json!({"accept": {"auth_key": key}})),
        )
        .await;
        assert_eq!(s, 404);
        cloud.stop().await;
    }
}

#[tokio::test]
async fn delete_refusals_and_volume_deletion() {
    let cloud = cloud().await;
    let (admin_token, admin_project) = admin(&cloud).await;
    let (giver, giver_token) = project_user(&cloud, &admin_token, "giver", "member").await;
    let (other, other_token) = project_user(&cloud, &admin_token, "other", "member").await;

    let v = volume(&cloud, &giver, &giver_token, json!({"size": 1})).await;
    let vid = v["id"].as_str().unwrap().to_owned();

    // Another project's volume: 404; a volume that is not available: 400.
    let (s, e) = create(&cloud, &other, &other_token, &vid, "x").await;
    assert_eq!(s, 404, "{e}");
    let (s, e) = create(
        &cloud,
        &giver,
        &giver_token,
        "5f9e1b6e-6d1c-4f4a-9a47-5f1b6f0c1a01",
        "x",
    )
    .await;
    assert_eq!(s, 404, "{e}");
    for body in [
        json!({}),
        json!({"transfer": "x"}),
        json!({"transfer": {}}),
        json!({"transfer": {"volume_id": "not-a-uuid"}}),
        json!({"transfer": {"volume_id": vid, "name": 5}}),
        json!({"transfer": {"volume_id": vid, "name": "n".repeat(256)}}),
    ] {
        let (s, e) = call(
            &cloud,
            Method::POST,
            &giver,
            "os-volume-transfer",
            &giver_token,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 400, "{body} → {e}");
        assert!(e["badRequest"]["message"].is_string(), "{e}");
    }
    let (s, _) = call(
        &cloud,
        Method::POST,
        &admin_project,
        &format!("volumes/{vid}/action"),
        &admin_token,
        Some(json!({"os-reset_status": {"status": "error"}})),
    )
    .await;
    assert_eq!(s, 202);
    let (s, e) = create(&cloud, &giver, &giver_token, &vid, "x").await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(
        e["badRequest"]["message"],
        "Invalid volume: Status of volume must be available"
    );
    let (s, _) = call(
        &cloud,
        Method::POST,
        &admin_project,
        &format!("volumes/{vid}/action"),
        &admin_token,
        Some(json!({"os-reset_status": {"status": "available"}})),
    )
    .await;
    assert_eq!(s, 202);

    // A second transfer of the same volume is refused (it is no longer
    // available); deleting the first makes it available again.
    let (s, t) = create(&cloud, &giver, &giver_token, &vid, "first").await;
    assert_eq!(s, 202, "{t}");
    let tid = t["transfer"]["id"].as_str().unwrap().to_owned();
    let (s, _) = create(&cloud, &giver, &giver_token, &vid, "second").await;
    assert_eq!(s, 400);
    // Only the giver's project may withdraw it; bad accept bodies are 400.
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &other,
        &format!("os-volume-transfer/{tid}"),
        &other_token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    for body in [json!({}), json!({"accept": {}}), json!({"accept": {"auth_key": 5}})] {
        let (s, e) = call(
            &cloud,
            Method::POST,
            &other,
            &format!("os-volume-transfer/{tid}/accept"),
            &other_token,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 400, "{body} → {e}");
    }
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &giver,
        &format!("os-volume-transfer/{tid}"),
        &giver_token,
        None,
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(volume_status(&cloud, &giver, &giver_token, &vid).await, "available");
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &giver,
        &format!("os-volume-transfer/{tid}"),
        &giver_token,
        None,
    )
    .await;
    assert_eq!(s, 404);

    // A volume awaiting a transfer cannot be deleted (Cinder's 400); the
    // admin's force-delete removes the pending transfer with it.
    let (s, t) = create(&cloud, &giver, &giver_token, &vid, "again").await;
    assert_eq!(s, 202, "{t}");
    let tid = t["transfer"]["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &cloud,
        Method::DELETE,
        &giver,
        &format!("volumes/{vid}"),
        &giver_token,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, e) = call(
        &cloud,
        Method::POST,
        &admin_project,
        &format!("volumes/{vid}/action"),
        &admin_token,
        Some(json!({"os-force_delete": {}})),
    )
    .await;
    assert_eq!(s, 202, "{e}");
    wait_status(
        &cloud,
        &giver,
        &giver_token,
        &format!("volumes/{vid}"),
        "volume",
        "gone",
    )
    .await;
    let (s, _) = call(
        &cloud,
        Method::GET,
        &admin_project,
        &format!("os-volume-transfer/{tid}"),
        &admin_token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    cloud.stop().await;
}
