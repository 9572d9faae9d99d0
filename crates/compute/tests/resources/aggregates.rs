//! Host aggregates: CRUD, hosts, metadata and availability zones.

use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;

async fn act(env: &Env, id: i64, body: Value) -> (u16, Value) {
    env.call(
        Method::POST,
        &format!("os-aggregates/{id}/action"),
        &env.admin,
        None,
        Some(body),
    )
    .await
}

fn message(v: &Value) -> String {
    v.as_object().unwrap().values().next().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn aggregate_crud() {
    let env = Env::start().await;
    let (s, v) = env
        .call(
            Method::POST,
            "os-aggregates",
            &env.admin,
            None,
            Some(json!({"aggregate": {"name": "fast"}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let a = &v["aggregate"];
    assert!(a.get("hosts").is_none() && a.get("metadata").is_none() && a.get("uuid").is_none());
    assert!(a["availability_zone"].is_null());
    assert_eq!(
        (a["deleted"].as_bool(), a["name"].as_str()),
        (Some(false), Some("fast"))
    );
    let id = a["id"].as_i64().unwrap();
    let (s, v) = env
        .call(
            Method::POST,
            "os-aggregates",
            &env.admin,
            Some("2.41"),
            Some(json!({"aggregate": {"name": "slow", "availability_zone": "az1"}})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(uuid::Uuid::parse_str(v["aggregate"]["uuid"].as_str().unwrap()).is_ok());
    assert_eq!(v["aggregate"]["availability_zone"], "az1");
    let slow = v["aggregate"]["id"].as_i64().unwrap();

    let (s, v) = env
        .call(
            Method::POST,
            "os-aggregates",
            &env.admin,
            None,
            Some(json!({"aggregate": {"name": "fast"}})),
        )
        .await;
    assert_eq!((s, message(&v)), (409, "Aggregate fast already exists.".to_owned()));
    for body in [
        json!({"aggregate": {}}),
        json!({"aggregate": {"name": ""}}),
        json!({"aggregate": {"name": "x", "availability_zone": "a:b"}}),
        json!({"aggregate": {"name": "x", "colour": "red"}}),
        json!({"name": "x"}),
    ] {
        let (s, v) = env
            .call(Method::POST, "os-aggregates", &env.admin, None, Some(body.clone()))
            .await;
        assert_eq!(s, 400, "{body}: {v}");
    }

    let (s, v) = env.get("os-aggregates", &env.admin, Some("2.41")).await;
    assert_eq!(s, 200);
    assert_eq!(v["aggregates"].as_array().unwrap().len(), 2);
    let first = &v["aggregates"][0];
    assert_eq!(first["hosts"], json!([]));
    assert_eq!(first["metadata"], json!({}));
    let (s, v) = env.get(&format!("os-aggregates/{slow}"), &env.admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["aggregate"]["metadata"], json!({"availability_zone": "az1"}));

    let upd = |id: i64, body: Value| {
        let env = &env;
        async move {
            env.call(
                Method::PUT,
                &format!("os-aggregates/{id}"),
                &env.admin,
                None,
                Some(body),
            )
            .await
        }
    };
    let (s, v) = upd(id, json!({"aggregate": {"name": "faster", "availability_zone": "az9"}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (
            v["aggregate"]["name"].as_str(),
            v["aggregate"]["availability_zone"].as_str()
        ),
        (Some("faster"), Some("az9"))
    );
    assert!(v["aggregate"]["updated_at"].is_string());
    let (s, v) = upd(id, json!({"aggregate": {"name": "slow"}})).await;
    assert_eq!((s, message(&v)), (409, "Aggregate slow already exists.".to_owned()));
    assert_eq!(upd(id, json!({"aggregate": {}})).await.0, 400);
    assert_eq!(upd(999, json!({"aggregate": {"name": "n"}})).await.0, 404);

    let (_, _, member) = env.project_user("p1", "member").await;
    assert_eq!(env.get("os-aggregates", &member, None).await.0, 403);
    let (s, _) = env
        .call(
            Method::POST,
            "os-aggregates",
            &member,
            None,
            Some(json!({"aggregate": {"name": "m"}})),
        )
        .await;
    assert_eq!(s, 403);

    let (s, v) = env
        .call(Method::DELETE, &format!("os-aggregates/{id}"), &env.admin, None, None)
        .await;
    assert_eq!((s, v), (200, Value::Null));
    let (s, v) = env.get(&format!("os-aggregates/{id}"), &env.admin, None).await;
    assert_eq!((s, message(&v)), (404, format!("Aggregate {id} could not be found.")));
    assert_eq!(env.get("os-aggregates/abc", &env.admin, None).await.0, 404);
    assert_eq!(
        env.call(Method::DELETE, &format!("os-aggregates/{id}"), &env.admin, None, None)
            .await
            .0,
        404
    );
    env.stop().await;
}

#[tokio::test]
async fn aggregate_hosts_metadata_and_zones() {
    let env = Env::start().await;
    env.report("cmp1").await;
    env.report("cmp2").await;
    let mk = |name: &'static str, az: Option<&'static str>| {
        let env = &env;
        async move {
            let mut a = json!({"name": name});
            if let Some(z) = az {
                a["availability_zone"] = json!(z);
            }
            let (s, v) = env
                .call(
                    Method::POST,
                    "os-aggregates",
                    &env.admin,
                    None,
                    Some(json!({"aggregate": a})),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            v["aggregate"]["id"].as_i64().unwrap()
        }
    };
    let a1 = mk("a1", Some("az1")).await;
    let a2 = mk("a2", Some("az2")).await;
    let plain = mk("plain", None).await;

    let (s, v) = act(&env, a1, json!({"add_host": {"host": "nowhere"}})).await;
    assert_eq!(
        (s, message(&v)),
        (404, "Compute host nowhere could not be found.".to_owned())
    );
    let (s, v) = act(&env, a1, json!({"add_host": {"host": "cmp1"}})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["aggregate"]["hosts"], json!(["cmp1"]));
    let (s, v) = act(&env, a1, json!({"add_host": {"host": "cmp1"}})).await;
    assert_eq!(
        (s, message(&v)),
        (409, format!("Aggregate {a1} already has host cmp1."))
    );
    // one host, one zone
    let (s, v) = act(&env, a2, json!({"add_host": {"host": "cmp1"}})).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        message(&v),
        format!(
            "Cannot add host to aggregate {a2}. Reason: One or more hosts already in availability zone(s) ['az1']."
        )
    );
    // an aggregate without a zone takes any host
    assert_eq!(act(&env, plain, json!({"add_host": {"host": "cmp1"}})).await.0, 200);
    let (s, v) = act(
        &env,
        plain,
        json!({"set_metadata": {"metadata": {"availability_zone": "az3", "ssd": "true"}}}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(message(&v).starts_with(&format!("Cannot update metadata of aggregate {plain}.")));
    let (s, v) = act(
        &env,
        plain,
        json!({"set_metadata": {"metadata": {"ssd": "true", "gpu": "1"}}}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["aggregate"]["metadata"], json!({"ssd": "true", "gpu": "1"}));
    let (s, v) = act(&env, plain, json!({"set_metadata": {"metadata": {"gpu": null}}})).await;
    assert_eq!((s, v["aggregate"]["metadata"].clone()), (200, json!({"ssd": "true"})));
    let (s, v) = env
        .call(
            Method::PUT,
            &format!("os-aggregates/{plain}"),
            &env.admin,
            None,
            Some(json!({"aggregate": {"availability_zone": "az2"}})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(message(&v).starts_with(&format!("Cannot update aggregate {plain}.")));
    // the same zone is no conflict
    let (s, _) = act(
        &env,
        plain,
        json!({"set_metadata": {"metadata": {"availability_zone": "az1"}}}),
    )
    .await;
    assert_eq!(s, 200);
    for body in [
        json!({"add_host": {}}),
        json!({"add_host": {"host": "cmp1", "x": 1}}),
        json!({"set_metadata": {"metadata": {"k": 1}}}),
        json!({"set_metadata": {}}),
        json!({"fly": {}}),
        json!({"add_host": {"host": "cmp1"}, "remove_host": {"host": "cmp1"}}),
    ] {
        let (s, v) = act(&env, a1, body.clone()).await;
        assert_eq!(s, 400, "{body}: {v}");
    }

    // the scheduler sees the metadata
    let hosts = env.compute.up_compute_hosts().await.unwrap();
    let h1 = hosts.iter().find(|h| h.host == "cmp1").unwrap();
    assert_eq!(h1.availability_zone, "az1");
    assert_eq!(h1.aggregate_metadata["ssd"], vec!["true".to_owned()]);

    // delete needs an empty aggregate
    let (s, v) = env
        .call(Method::DELETE, &format!("os-aggregates/{a1}"), &env.admin, None, None)
        .await;
    assert_eq!(
        (s, message(&v)),
        (
            400,
            format!("Cannot delete aggregate {a1}. Reason: Host aggregate is not empty.")
        )
    );
    let (s, v) = act(&env, a1, json!({"remove_host": {"host": "cmp1"}})).await;
    assert_eq!(s, 200);
    assert_eq!(v["aggregate"]["hosts"], json!([]));
    let (s, v) = act(&env, a1, json!({"remove_host": {"host": "cmp1"}})).await;
    assert_eq!(
        (s, message(&v)),
        (404, format!("Cannot remove host cmp1 in aggregate {a1}"))
    );
    assert_eq!(act(&env, 999, json!({"add_host": {"host": "cmp1"}})).await.0, 404);
    assert_eq!(
        env.call(Method::DELETE, &format!("os-aggregates/{a1}"), &env.admin, None, None)
            .await
            .0,
        200
    );
    // now cmp1 may join az2 (plain still says az1: refused)
    assert_eq!(act(&env, a2, json!({"add_host": {"host": "cmp1"}})).await.0, 409);
    act(
        &env,
        plain,
        json!({"set_metadata": {"metadata": {"availability_zone": null}}}),
    )
    .await;
    assert_eq!(act(&env, a2, json!({"add_host": {"host": "cmp1"}})).await.0, 200);
    // deleting a compute service takes its host out of its aggregates
    let (_, v) = env.get("os-services?host=cmp1", &env.admin, Some("2.53")).await;
    let sid = v["services"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        env.call(
            Method::DELETE,
            &format!("os-services/{sid}"),
            &env.admin,
            Some("2.53"),
            None
        )
        .await
        .0,
        204
    );
    let (_, v) = env.get(&format!("os-aggregates/{a2}"), &env.admin, None).await;
    assert_eq!(v["aggregate"]["hosts"], json!([]));
    env.stop().await;
}
