//! QoS specs: the admin API (on every database the environment offers),
//! its refusals, and front-end specs in the connection info Nova reads.

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::Backend;

use super::*;

async fn create_qos(cloud: &TestCloud, project: &str, token: &str, body: Value) -> Value {
    let (s, q) = call(
        cloud,
        Method::POST,
        project,
        "qos-specs",
        token,
        Some(json!({"qos_specs": body})),
    )
    .await;
    assert_eq!(s, 200, "{q}");
    q["qos_specs"].clone()
}

async fn create_type(cloud: &TestCloud, project: &str, token: &str, name: &str) -> String {
    let (s, t) = call(
        cloud,
        Method::POST,
        project,
        "types",
        token,
        Some(json!({"volume_type": {"name": name}})),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    t["volume_type"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn qos_specs_lifecycle_on_every_database() {
    for backend in Backend::from_env() {
        let cloud = TestCloud::start_on(backend).await.with_block_storage().await;
        let (token, project) = admin(&cloud).await;
        macro_rules! a {
            ($m:expr, $p:expr, $b:expr $(,)?) => {
                call(&cloud, $m, &project, &$p, &token, $b)
            };
        }

        // Create: consumer defaults to back-end; specs are strings.
        let (s, b) = a!(
            Method::POST,
            "qos-specs",
            Some(json!({"qos_specs": {"name": "gold", "read_iops_sec": 2000, "total_bytes_sec": "1024000"}})),
        )
        .await;
        assert_eq!(s, 200, "{backend:?}: {b}");
        let gold = b["qos_specs"].clone();
        let gold_id = gold["id"].as_str().unwrap().to_owned();
        assert_eq!(gold["name"], "gold");
        assert_eq!(gold["consumer"], "back-end");
        assert_eq!(
            gold["specs"],
            json!({"read_iops_sec": "2000", "total_bytes_sec": "1024000"})
        );
        assert!(
            b["links"][0]["href"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/qos-specs/{gold_id}")),
            "{b}"
        );
        let silver = create_qos(&cloud, &project, &token, json!({"name": "silver", "consumer": "both"})).await;
        let silver_id = silver["id"].as_str().unwrap().to_owned();
        assert_eq!(silver["specs"], json!({}));

        // List (the items are the create answers) with sort and limit.
        let (s, l) = a!(Method::GET, "qos-specs", None).await;
        assert_eq!(s, 200, "{l}");
        assert_eq!(l["qos_specs"].as_array().unwrap().len(), 2, "{l}");
        assert!(l["qos_specs"].as_array().unwrap().contains(&gold), "{l}");
        let (s, l) = a!(Method::GET, "qos-specs?sort=name:asc&limit=1", None).await;
        assert_eq!(s, 200, "{l}");
        assert_eq!(l["qos_specs"], json!([gold]));
        assert!(
            l["qos_specs_links"][0]["href"].as_str().unwrap().contains("marker="),
            "{l}"
        );
        let (s, l) = a!(Method::GET, &format!("qos-specs?sort=name:asc&marker={gold_id}"), None).await;
        assert_eq!(s, 200, "{l}");
        assert_eq!(l["qos_specs"][0]["name"], "silver");

        // Show.
        let (s, b) = a!(Method::GET, &format!("qos-specs/{gold_id}"), None).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["qos_specs"], gold);

        // Set keys and the consumer; the answer echoes the request.
        let (s, b) = a!(
            Method::PUT,
            &format!("qos-specs/{gold_id}"),
            Some(json!({"qos_specs": {"iops_bytes": "500", "consumer": "front-end"}})),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b, json!({"qos_specs": {"iops_bytes": "500", "consumer": "front-end"}}));
        let (_, b) = a!(Method::GET, &format!("qos-specs/{gold_id}"), None).await;
        assert_eq!(b["qos_specs"]["consumer"], "front-end");
        assert_eq!(b["qos_specs"]["specs"]["iops_bytes"], "500");
        assert_eq!(b["qos_specs"]["specs"]["read_iops_sec"], "2000");

        // Unset keys.
        let (s, _) = a!(
            Method::PUT,
            &format!("qos-specs/{gold_id}/delete_keys"),
            Some(json!({"keys": ["iops_bytes", "total_bytes_sec"]})),
        )
        .await;
        assert_eq!(s, 202);
        let (_, b) = a!(Method::GET, &format!("qos-specs/{gold_id}"), None).await;
        assert_eq!(b["qos_specs"]["specs"], json!({"read_iops_sec": "2000"}));

        // Associate with two types; the type shows it; associations list.
        let t1 = create_type(&cloud, &project, &token, "qos-t1").await;
        let t2 = create_type(&cloud, &project, &token, "qos-t2").await;
        for t in [&t1, &t2, &t1] {
            let (s, b) = a!(
                Method::GET,
                &format!("qos-specs/{gold_id}/associate?vol_type_id={t}"),
                None
            )
            .await;
            assert_eq!(s, 202, "{b}");
        }
        let (_, t) = a!(Method::GET, &format!("types/{t1}"), None).await;
        assert_eq!(t["volume_type"]["qos_specs_id"], gold_id.as_str());
        let (s, b) = a!(Method::GET, &format!("qos-specs/{gold_id}/associations"), None).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            b["qos_associations"],
            json!([
                {"association_type": "volume_type", "name": "qos-t1", "id": t1},
                {"association_type": "volume_type", "name": "qos-t2", "id": t2},
            ])
        );
        // A type has at most one spec.
        let (s, b) = a!(
            Method::GET,
            &format!("qos-specs/{silver_id}/associate?vol_type_id={t1}"),
            None
        )
        .await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(
            b["badRequest"]["message"],
            format!("Invalid volume type: Type {t1} is already associated with another qos specs: {gold_id}")
        );

        // Disassociate one, then all.
        let (s, _) = a!(
            Method::GET,
            &format!("qos-specs/{gold_id}/disassociate?vol_type_id={t1}"),
            None
        )
        .await;
        assert_eq!(s, 202);
        let (_, b) = a!(Method::GET, &format!("qos-specs/{gold_id}/associations"), None).await;
        assert_eq!(b["qos_associations"].as_array().unwrap().len(), 1, "{b}");
        assert_eq!(b["qos_associations"][0]["id"], t2.as_str());
        let (_, t) = a!(Method::GET, &format!("types/{t1}"), None).await;
        assert_eq!(t["volume_type"]["qos_specs_id"], Value::Null);
        let (s, _) = a!(Method::GET, &format!("qos-specs/{gold_id}/disassociate_all"), None).await;
        assert_eq!(s, 202);
        let (_, b) = a!(Method::GET, &format!("qos-specs/{gold_id}/associations"), None).await;
        assert_eq!(b["qos_associations"], json!([]));
        // The type is free for another spec now.
        let (s, _) = a!(
            Method::GET,
            &format!("qos-specs/{silver_id}/associate?vol_type_id={t1}"),
            None
        )
        .await;
        assert_eq!(s, 202);

        // Delete: refused while associated, forced disassociates first.
        let (s, b) = a!(Method::DELETE, &format!("qos-specs/{silver_id}"), None).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["badRequest"]["message"], "Qos specs still in use.");
        let (s, _) = a!(Method::DELETE, &format!("qos-specs/{silver_id}?force=True"), None).await;
        assert_eq!(s, 202);
        let (s, _) = a!(Method::GET, &format!("qos-specs/{silver_id}"), None).await;
        assert_eq!(s, 404);
        let (_, t) = a!(Method::GET, &format!("types/{t1}"), None).await;
        assert_eq!(t["volume_type"]["qos_specs_id"], Value::Null, "{backend:?}");
        let (s, _) = a!(Method::DELETE, &format!("qos-specs/{gold_id}"), None).await;
        assert_eq!(s, 202);
        let (_, l) = a!(Method::GET, "qos-specs", None).await;
        assert_eq!(l["qos_specs"], json!([]), "{backend:?}");
        // The name is free again.
        create_qos(&cloud, &project, &token, json!({"name": "gold"})).await;
    }
}

#[tokio::test]
async fn qos_specs_refuse_bad_input_and_non_admins() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let (member_project, member) = project_user(&cloud, &token, "qosm", "member").await;
    macro_rules! a {
        ($m:expr, $p:expr, $b:expr $(,)?) => {
            call(&cloud, $m, &project, &$p, &token, $b)
        };
    }
    let gold = create_qos(
        &cloud,
        &project,
        &token,
        json!({"name": "gold", "consumer": "front-end", "a": "1"}),
    )
    .await;
    let id = gold["id"].as_str().unwrap().to_owned();
    let missing = "00000000-0000-0000-0000-000000000000";

    let cases: Vec<(Method, String, Option<Value>, u16)> = vec![
        // create
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos_specs": {"name": "x", "consumer": "middle"}})),
            400,
        ),
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos_specs": {"consumer": "both"}})),
            400,
        ),
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos_specs": {"name": ""}})),
            400,
        ),
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos_specs": {"name": 5}})),
            400,
        ),
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos_specs": {"name": "y".repeat(256)}})),
            400,
        ),
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos_specs": {"name": "z", "k": {"nested": 1}}})),
            400,
        ),
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos_specs": {"name": "z", "bad key": "1"}})),
            400,
        ),
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos": {"name": "z"}})),
            400,
        ),
        (
            Method::POST,
            "qos-specs".into(),
            Some(json!({"qos_specs": {"name": "gold"}})),
            409,
        ),
        // list, show
        (Method::GET, "qos-specs?sort=bogus:asc".into(), None, 400),
        (Method::GET, format!("qos-specs?marker={missing}"), None, 404),
        (Method::GET, format!("qos-specs/{missing}"), None, 404),
        // set, unset
        (
            Method::PUT,
            format!("qos-specs/{id}"),
            Some(json!({"qos_specs": {"consumer": "nobody"}})),
            400,
        ),
        (
            Method::PUT,
            format!("qos-specs/{id}"),
            Some(json!({"qos_specs": {}})),
            400,
        ),
        (
            Method::PUT,
            format!("qos-specs/{id}"),
            Some(json!({"specs": {"a": "2"}})),
            400,
        ),
        (
            Method::PUT,
            format!("qos-specs/{missing}"),
            Some(json!({"qos_specs": {"a": "2"}})),
            404,
        ),
        (
            Method::PUT,
            format!("qos-specs/{id}/delete_keys"),
            Some(json!({"keys": ["a", "nope"]})),
            404,
        ),
        (
            Method::PUT,
            format!("qos-specs/{id}/delete_keys"),
            Some(json!({"keys": "a"})),
            400,
        ),
        (Method::PUT, format!("qos-specs/{id}/delete_keys"), Some(json!({})), 400),
        (
            Method::PUT,
            format!("qos-specs/{missing}/delete_keys"),
            Some(json!({"keys": ["a"]})),
            404,
        ),
        // associations
        (Method::GET, format!("qos-specs/{id}/associate"), None, 400),
        (Method::GET, format!("qos-specs/{id}/associate?vol_type_id="), None, 400),
        (
            Method::GET,
            format!("qos-specs/{id}/associate?vol_type_id={missing}"),
            None,
            404,
        ),
        (
            Method::GET,
            format!("qos-specs/{missing}/associate?vol_type_id={missing}"),
            None,
            404,
        ),
        (Method::GET, format!("qos-specs/{id}/disassociate"), None, 400),
        (
            Method::GET,
            format!("qos-specs/{id}/disassociate?vol_type_id={missing}"),
            None,
            404,
        ),
        (Method::GET, format!("qos-specs/{missing}/disassociate_all"), None, 404),
        (Method::GET, format!("qos-specs/{missing}/associations"), None, 404),
        // delete
        (Method::DELETE, format!("qos-specs/{id}?force=maybe"), None, 400),
        (Method::DELETE, format!("qos-specs/{missing}"), None, 404),
    ];
    for (m, path, body, want) in cases {
        let (s, b) = a!(m.clone(), path, body.clone()).await;
        assert_eq!(s, want, "{m} {path} {body:?}: {b}");
        let kind = match want {
            400 => "badRequest",
            404 => "itemNotFound",
            _ => "conflictingRequest",
        };
        assert!(b[kind]["message"].is_string(), "{m} {path}: {b}");
    }
    let (_, b) = a!(
        Method::PUT,
        format!("qos-specs/{id}/delete_keys"),
        Some(json!({"keys": ["nope"]}))
    )
    .await;
    assert_eq!(
        b["itemNotFound"]["message"],
        format!("QoS spec {id} has no spec with key nope.")
    );
    let (_, b) = a!(Method::GET, format!("qos-specs/{missing}"), None).await;
    assert_eq!(b["itemNotFound"]["message"], format!("No such QoS spec {missing}."));
    // Nothing was half-done by the refused unset.
    let (_, b) = a!(Method::GET, format!("qos-specs/{id}"), None).await;
    assert_eq!(b["qos_specs"]["specs"], json!({"a": "1"}));

    // Members may not touch QoS specs at all.
    for (m, path, body) in [
        (Method::GET, "qos-specs".to_owned(), None),
        (
            Method::POST,
            "qos-specs".to_owned(),
            Some(json!({"qos_specs": {"name": "mine"}})),
        ),
        (Method::GET, format!("qos-specs/{id}"), None),
        (
            Method::PUT,
            format!("qos-specs/{id}"),
            Some(json!({"qos_specs": {"a": "9"}})),
        ),
        (Method::DELETE, format!("qos-specs/{id}"), None),
        (Method::GET, format!("qos-specs/{id}/associations"), None),
    ] {
        let (s, b) = call(&cloud, m.clone(), &member_project, &path, &member, body).await;
        assert_eq!(s, 403, "{m} {path}: {b}");
    }
    let (_, b) = a!(Method::GET, format!("qos-specs/{id}"), None).await;
    assert_eq!(b["qos_specs"]["specs"], json!({"a": "1"}));
}

fn connector() -> Value {
    json!({"host": "compute1", "ip": "127.0.0.1", "initiator": "iqn.1993-08.org.debian:01:q", "multipath": false,
           "mountpoint": "/dev/vdb", "platform": "x86_64", "os_type": "linux"})
}

/// The `connection_info` of a legacy `os-initialize_connection`.
async fn connection_info(cloud: &TestCloud, project: &str, token: &str, id: &str) -> Value {
    let (s, b) = call(
        cloud,
        Method::POST,
        project,
        &format!("volumes/{id}/action"),
        token,
        Some(json!({"os-initialize_connection": {"connector": connector()}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["connection_info"].clone()
}

#[tokio::test]
async fn front_end_specs_reach_the_connection_info() {
    let cloud = cloud().await;
    let (token, project) = admin(&cloud).await;
    let fast = create_type(&cloud, &project, &token, "fast").await;
    let qos = create_qos(
        &cloud,
        &project,
        &token,
        json!({"name": "fe", "consumer": "front-end", "total_iops_sec": "300",
               "read_bytes_sec_per_gb": "1000", "read_bytes_sec_max": "1500"}),
    )
    .await;
    let qid = qos["id"].as_str().unwrap().to_owned();
    let v = volume(&cloud, &project, &token, json!({"size": 2, "volume_type": "fast"})).await;
    let id = v["id"].as_str().unwrap().to_owned();

    // Not associated yet: no specs.
    assert_eq!(
        connection_info(&cloud, &project, &token, &id).await["data"]["qos_specs"],
        Value::Null
    );

    let (s, _) = call(
        &cloud,
        Method::GET,
        &project,
        &format!("qos-specs/{qid}/associate?vol_type_id={fast}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 202);
    let ci = connection_info(&cloud, &project, &token, &id).await;
    assert_eq!(
        ci["data"]["qos_specs"],
        json!({"total_iops_sec": "300", "read_bytes_sec": 1500}),
        "{ci}"
    );
    assert_eq!(ci["data"]["volume_id"], id.as_str());

    // The 3.27 attachments API carries them too (flattened).
    let (s, b, _) = super::attachments::call_at(
        &cloud,
        "3.27",
        Method::POST,
        &project,
        "attachments",
        &token,
        Some(
            json!({"attachment": {"volume_uuid": id, "instance_uuid": "8d5f1b7a-6c0e-4a55-9a59-2f0c8d1e4b11",
                                   "connector": connector()}}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["attachment"]["connection_info"]["qos_specs"],
        json!({"total_iops_sec": "300", "read_bytes_sec": 1500}),
        "{b}"
    );

    // Back-end specs are the backend's: Nova gets none.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("qos-specs/{qid}"),
        &token,
        Some(json!({"qos_specs": {"consumer": "back-end"}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        connection_info(&cloud, &project, &token, &id).await["data"]["qos_specs"],
        Value::Null
    );
    // `both` is the hypervisor's as well.
    let (s, _) = call(
        &cloud,
        Method::PUT,
        &project,
        &format!("qos-specs/{qid}"),
        &token,
        Some(json!({"qos_specs": {"consumer": "both"}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        connection_info(&cloud, &project, &token, &id).await["data"]["qos_specs"]["total_iops_sec"],
        "300"
    );
}
