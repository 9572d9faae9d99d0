//! Services, hypervisors and availability zones, fed by agents' reports.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::Env;

fn find<'a>(list: &'a Value, key: &str, field: &str, value: &str) -> &'a Value {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[field] == value)
        .unwrap_or_else(|| panic!("no {field}={value} in {list}"))
}

#[tokio::test]
async fn reports_show_services_and_hypervisors() {
    let env = Env::start().await;
    env.report("cmp1").await;
    env.report("cmp1").await;
    env.report("cmp2").await;
    env.compute
        .record_controller_service("ctl", "nova-scheduler")
        .await
        .unwrap();

    let (s, v) = env.get("os-services", &env.admin, None).await;
    assert_eq!(s, 200, "{v}");
    let c1 = find(&v, "services", "host", "cmp1");
    assert!(c1["id"].is_i64());
    assert_eq!(c1["binary"], "nova-compute");
    assert_eq!(c1["zone"], "nova");
    assert_eq!(c1["status"], "enabled");
    assert_eq!(c1["state"], "up");
    assert!(c1["disabled_reason"].is_null());
    assert!(c1["updated_at"].as_str().unwrap().contains('T'));
    assert!(c1.get("forced_down").is_none());
    let sched = find(&v, "services", "host", "ctl");
    assert_eq!(
        (sched["binary"].as_str(), sched["zone"].as_str()),
        (Some("nova-scheduler"), Some("internal"))
    );
    let (_, v) = env
        .get("os-services?host=cmp2&binary=nova-compute", &env.admin, Some("2.11"))
        .await;
    assert_eq!(v["services"].as_array().unwrap().len(), 1);
    assert_eq!(v["services"][0]["forced_down"], false);
    let (_, v) = env
        .get("os-services?binary=nova-compute", &env.admin, Some("2.53"))
        .await;
    assert_eq!(v["services"].as_array().unwrap().len(), 2);
    assert!(uuid::Uuid::parse_str(v["services"][0]["id"].as_str().unwrap()).is_ok());
    assert_eq!(env.get("os-services?colour=red", &env.admin, Some("2.75")).await.0, 400);

    // hypervisors
    let (s, v) = env.get("os-hypervisors", &env.admin, None).await;
    assert_eq!(s, 200, "{v}");
    let h = find(&v, "hypervisors", "hypervisor_hostname", "cmp1.node");
    assert_eq!(h.as_object().unwrap().len(), 4, "{h}");
    assert_eq!(
        (h["state"].as_str(), h["status"].as_str()),
        (Some("up"), Some("enabled"))
    );
    let hid = h["id"].as_i64().unwrap();
    let (_, v) = env.get("os-hypervisors/detail", &env.admin, None).await;
    let d = find(&v, "hypervisors", "hypervisor_hostname", "cmp1.node");
    assert!(d["cpu_info"].is_string(), "cpu_info is a string before 2.28");
    assert_eq!(d["vcpus"], 8);
    assert_eq!(d["memory_mb"], 16384);
    assert_eq!(d["local_gb"], 100);
    assert_eq!(d["hypervisor_type"], "QEMU");
    assert_eq!(d["hypervisor_version"], 7002000);
    assert_eq!(d["host_ip"], "192.0.2.10");
    assert_eq!(d["service"]["host"], "cmp1");
    assert!(d["service"]["id"].is_i64());
    assert_eq!(d["running_vms"], 0);
    let (_, v) = env
        .get(&format!("os-hypervisors/{hid}"), &env.admin, Some("2.28"))
        .await;
    assert_eq!(v["hypervisor"]["cpu_info"]["arch"], "x86_64");
    let (s, v) = env.get("os-hypervisors/999", &env.admin, None).await;
    assert_eq!(
        (s, v["itemNotFound"]["message"].as_str()),
        (404, Some("Hypervisor with ID '999' could not be found."))
    );

    // 2.33 paging, 2.53 uuids, patterns, servers
    let (_, v) = env.get("os-hypervisors?limit=1", &env.admin, Some("2.33")).await;
    assert_eq!(v["hypervisors"].as_array().unwrap().len(), 1);
    assert!(v["hypervisors_links"][0]["href"].as_str().unwrap().contains("marker="));
    let (_, v) = env.get("os-hypervisors/detail", &env.admin, Some("2.53")).await;
    let d = find(&v, "hypervisors", "hypervisor_hostname", "cmp1.node");
    let huuid = d["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&huuid).is_ok());
    assert!(uuid::Uuid::parse_str(d["service"]["id"].as_str().unwrap()).is_ok());
    let (_, v) = env
        .get(
            "os-hypervisors?hypervisor_hostname_pattern=cmp2",
            &env.admin,
            Some("2.53"),
        )
        .await;
    assert_eq!(v["hypervisors"][0]["hypervisor_hostname"], "cmp2.node");
    let (s, v) = env
        .get(
            "os-hypervisors?hypervisor_hostname_pattern=zzz",
            &env.admin,
            Some("2.53"),
        )
        .await;
    assert_eq!(
        (s, v["itemNotFound"]["message"].as_str()),
        (404, Some("No hypervisor matching 'zzz' could be found."))
    );
    let (s, _) = env
        .get(
            "os-hypervisors?hypervisor_hostname_pattern=c&limit=1",
            &env.admin,
            Some("2.53"),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(env.get("os-hypervisors/1", &env.admin, Some("2.53")).await.0, 400);
    assert_eq!(
        env.get(&format!("os-hypervisors/{huuid}"), &env.admin, Some("2.53"))
            .await
            .0,
        200
    );
    assert_eq!(
        env.get("os-hypervisors?with_servers=maybe", &env.admin, Some("2.53"))
            .await
            .0,
        400
    );

    // used figures from the instances on the host
    if env
        .put_instance("11111111-1111-1111-1111-111111111111", "cmp1", 2, 1024, 10)
        .await
    {
        let (_, v) = env
            .get(
                &format!("os-hypervisors/{huuid}?with_servers=true"),
                &env.admin,
                Some("2.53"),
            )
            .await;
        let h = &v["hypervisor"];
        assert_eq!(h["vcpus_used"], 2, "{h}");
        assert_eq!(h["memory_mb_used"], 1024);
        assert_eq!(h["local_gb_used"], 10);
        assert_eq!(h["free_ram_mb"], 16384 - 1024);
        assert_eq!(h["running_vms"], 1);
        assert_eq!(h["servers"][0]["uuid"], "11111111-1111-1111-1111-111111111111");
        let (_, v) = env.get("os-hypervisors/cmp1/servers", &env.admin, None).await;
        assert_eq!(v["hypervisors"][0]["servers"].as_array().unwrap().len(), 1);
        let (_, v) = env.get("os-hypervisors/statistics", &env.admin, None).await;
        assert_eq!(v["hypervisor_statistics"]["running_vms"], 1);
        // a compute service hosting instances is not deleted
        let (_, v) = env.get("os-services?host=cmp1", &env.admin, Some("2.53")).await;
        let sid = v["services"][0]["id"].as_str().unwrap().to_owned();
        let (s, _) = env
            .call(
                Method::DELETE,
                &format!("os-services/{sid}"),
                &env.admin,
                Some("2.53"),
                None,
            )
            .await;
        assert_eq!(s, 409);
    }

    // statistics, uptime, search: before 2.88 / 2.53 only
    let (s, v) = env.get("os-hypervisors/statistics", &env.admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["hypervisor_statistics"]["count"], 2);
    assert_eq!(v["hypervisor_statistics"]["vcpus"], 16);
    assert_eq!(
        env.get("os-hypervisors/statistics", &env.admin, Some("2.88")).await.0,
        404
    );
    // these hosts reported, but no agent answers for them
    assert_eq!(
        env.get(&format!("os-hypervisors/{hid}/uptime"), &env.admin, None)
            .await
            .0,
        503
    );
    assert_eq!(
        env.get(&format!("os-hypervisors/{huuid}/uptime"), &env.admin, Some("2.88"))
            .await
            .0,
        404
    );
    let (s, v) = env.get("os-hypervisors/cmp/search", &env.admin, None).await;
    assert_eq!(s, 200);
    assert_eq!(v["hypervisors"].as_array().unwrap().len(), 2);
    assert_eq!(env.get("os-hypervisors/zzz/search", &env.admin, None).await.0, 404);
    assert_eq!(
        env.get("os-hypervisors/cmp/search", &env.admin, Some("2.53")).await.0,
        404
    );
    // 2.88: no resource figures, uptime
    let (_, v) = env
        .get(&format!("os-hypervisors/{huuid}"), &env.admin, Some("2.88"))
        .await;
    let h = &v["hypervisor"];
    assert!(h.get("vcpus").is_none() && h.get("cpu_info").is_none() && h.get("running_vms").is_none());
    assert!(h.as_object().unwrap().contains_key("uptime"));

    // non-admins
    let (_, _, member) = env.project_user("p1", "member").await;
    for path in [
        "os-services",
        "os-hypervisors",
        "os-hypervisors/detail",
        "os-hypervisors/statistics",
    ] {
        assert_eq!(env.get(path, &member, None).await.0, 403, "{path}");
    }
    // the scheduler's view
    let hosts = env.compute.up_compute_hosts().await.unwrap();
    assert_eq!(hosts.len(), 2);
    let h1 = hosts.iter().find(|h| h.host == "cmp1").unwrap();
    assert_eq!((h1.node.as_str(), h1.availability_zone.as_str()), ("cmp1.node", "nova"));
    assert_eq!(h1.cpu_info["arch"], "x86_64");
    assert_eq!(h1.node_uuid, huuid);
    env.stop().await;
}

#[tokio::test]
async fn service_updates_and_deletes() {
    let env = Env::start().await;
    env.report("cmp1").await;
    env.report("cmp2").await;
    env.compute
        .record_controller_service("ctl", "nova-conductor")
        .await
        .unwrap();
    let (_, v) = env.get("os-services", &env.admin, Some("2.53")).await;
    let id1 = find(&v, "services", "host", "cmp1")["id"].as_str().unwrap().to_owned();
    let id2 = find(&v, "services", "host", "cmp2")["id"].as_str().unwrap().to_owned();
    let cond = find(&v, "services", "host", "ctl")["id"].as_str().unwrap().to_owned();
    let put = |id: String, body: Value, version: &'static str| {
        let env = &env;
        async move {
            env.call(
                Method::PUT,
                &format!("os-services/{id}"),
                &env.admin,
                Some(version),
                Some(body),
            )
            .await
        }
    };

    // 2.53 update by uuid
    let (s, v) = put(
        id1.clone(),
        json!({"status": "disabled", "disabled_reason": "maintenance"}),
        "2.53",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["service"]["status"], "disabled");
    assert_eq!(v["service"]["disabled_reason"], "maintenance");
    assert_eq!(v["service"]["id"], id1.as_str());
    let (s, v) = put(id2.clone(), json!({"forced_down": true}), "2.53").await;
    assert_eq!(s, 200);
    assert_eq!(
        (v["service"]["forced_down"].as_bool(), v["service"]["state"].as_str()),
        (Some(true), Some("down"))
    );
    assert!(env.compute.up_compute_hosts().await.unwrap().is_empty());
    let (_, v) = env.get("os-hypervisors", &env.admin, Some("2.53")).await;
    let h1 = find(&v, "hypervisors", "hypervisor_hostname", "cmp1.node");
    assert_eq!(h1["status"], "disabled");
    let h2 = find(&v, "hypervisors", "hypervisor_hostname", "cmp2.node");
    assert_eq!(h2["state"], "down");
    let (s, v) = put(id1.clone(), json!({"status": "enabled"}), "2.53").await;
    assert_eq!(s, 200);
    assert!(v["service"]["disabled_reason"].is_null(), "enabling clears the reason");
    put(id2.clone(), json!({"forced_down": false}), "2.53").await;
    assert_eq!(env.compute.up_compute_hosts().await.unwrap().len(), 2);

    for (id, body, status, needle) in [
        (
            id1.clone(),
            json!({"status": "enabled", "disabled_reason": "x"}),
            400,
            "Specifying 'disabled_reason' with status 'enabled' is invalid.",
        ),
        (id1.clone(), json!({}), 400, "No updates were requested"),
        (id1.clone(), json!({"status": "sleepy"}), 400, "status"),
        (id1.clone(), json!({"forced_down": "yes"}), 400, "forced_down"),
        (id1.clone(), json!({"colour": "red"}), 400, "'colour' was unexpected"),
        (
            "not-a-uuid".to_owned(),
            json!({"status": "enabled"}),
            400,
            "Invalid uuid not-a-uuid",
        ),
        (
            uuid::Uuid::new_v4().to_string(),
            json!({"status": "enabled"}),
            404,
            "could not be found",
        ),
        (
            cond.clone(),
            json!({"status": "disabled"}),
            400,
            "Updating a nova-conductor service is not supported.",
        ),
    ] {
        let (s, v) = put(id.clone(), body.clone(), "2.53").await;
        assert_eq!(s, status, "{body}: {v}");
        let msg = v.as_object().unwrap().values().next().unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(msg.contains(needle), "{body}: {msg}");
    }

    // legacy updates by host and binary
    let hb = json!({"host": "cmp1", "binary": "nova-compute"});
    let (s, v) = put("disable".into(), hb.clone(), "2.1").await;
    assert_eq!(
        (s, v.clone()),
        (
            200,
            json!({"service": {"host": "cmp1", "binary": "nova-compute", "status": "disabled"}})
        ),
        "{v}"
    );
    let (s, v) = put("enable".into(), hb.clone(), "2.1").await;
    assert_eq!((s, v["service"]["status"].as_str()), (200, Some("enabled")));
    let (s, v) = put(
        "disable-log-reason".into(),
        json!({"host": "cmp1", "binary": "nova-compute", "disabled_reason": "why"}),
        "2.1",
    )
    .await;
    assert_eq!((s, v["service"]["disabled_reason"].as_str()), (200, Some("why")));
    let fd = json!({"host": "cmp1", "binary": "nova-compute", "forced_down": true});
    assert_eq!(put("force-down".into(), fd.clone(), "2.10").await.0, 404);
    let (s, v) = put("force-down".into(), fd, "2.11").await;
    assert_eq!((s, v["service"]["forced_down"].as_bool()), (200, Some(true)));
    let (s, v) = put(
        "enable".into(),
        json!({"host": "nope", "binary": "nova-compute"}),
        "2.1",
    )
    .await;
    assert_eq!(
        (s, v["itemNotFound"]["message"].as_str()),
        (404, Some("Could not find binary nova-compute on host nope."))
    );
    assert_eq!(put("enable".into(), json!({"host": "cmp1"}), "2.1").await.0, 400);
    assert_eq!(put("fly".into(), hb.clone(), "2.1").await.0, 404);
    assert_eq!(
        put("enable".into(), hb.clone(), "2.53").await.0,
        400,
        "legacy URLs are gone in 2.53"
    );

    // policy
    let (_, _, member) = env.project_user("p1", "member").await;
    let (s, _) = env
        .call(
            Method::PUT,
            &format!("os-services/{id1}"),
            &member,
            Some("2.53"),
            Some(json!({"status": "enabled"})),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(
        env.call(
            Method::DELETE,
            &format!("os-services/{id1}"),
            &member,
            Some("2.53"),
            None
        )
        .await
        .0,
        403
    );

    // delete: uuid from 2.53, integer before
    assert_eq!(
        env.call(Method::DELETE, "os-services/abc", &env.admin, Some("2.53"), None)
            .await
            .0,
        400
    );
    assert_eq!(
        env.call(Method::DELETE, "os-services/abc", &env.admin, None, None)
            .await
            .0,
        400
    );
    let (s, _) = env
        .call(
            Method::DELETE,
            &format!("os-services/{id2}"),
            &env.admin,
            Some("2.53"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (_, v) = env.get("os-hypervisors", &env.admin, None).await;
    assert_eq!(
        v["hypervisors"].as_array().unwrap().len(),
        1,
        "the compute node went with it"
    );
    let (_, v) = env.get("os-services?host=cmp1", &env.admin, None).await;
    let int_id = v["services"][0]["id"].as_i64().unwrap();
    assert_eq!(
        env.call(Method::DELETE, &format!("os-services/{int_id}"), &env.admin, None, None)
            .await
            .0,
        204
    );
    assert_eq!(
        env.call(Method::DELETE, &format!("os-services/{int_id}"), &env.admin, None, None)
            .await
            .0,
        404
    );
    env.stop().await;
}

#[tokio::test]
async fn a_silent_service_is_down() {
    let env = Env::start_with(test_cloud::Backend::Sqlite, |c| {
        c.service_down_time = Duration::from_secs(1);
    })
    .await;
    env.report("cmp1").await;
    let (_, v) = env.get("os-services?host=cmp1", &env.admin, None).await;
    assert_eq!(v["services"][0]["state"], "up");
    assert_eq!(env.compute.up_compute_hosts().await.unwrap().len(), 1);
    crate::sleep(Duration::from_millis(1500)).await;
    let (_, v) = env.get("os-services?host=cmp1", &env.admin, None).await;
    assert_eq!(v["services"][0]["state"], "down");
    assert!(env.compute.up_compute_hosts().await.unwrap().is_empty());
    assert_eq!(env.compute.compute_hosts().await.unwrap().len(), 1);
    let (_, v) = env.get("os-hypervisors", &env.admin, None).await;
    assert_eq!(v["hypervisors"][0]["state"], "down");
    env.report("cmp1").await;
    let (_, v) = env.get("os-services?host=cmp1", &env.admin, None).await;
    assert_eq!(v["services"][0]["state"], "up", "a new report brings it back");
    env.stop().await;
}

#[tokio::test]
async fn availability_zones() {
    let env = Env::start().await;
    env.report("cmp1").await;
    env.report("cmp2").await;
    env.compute
        .record_controller_service("ctl", "nova-scheduler")
        .await
        .unwrap();
    let (_, _, member) = env.project_user("p1", "member").await;
    let (s, v) = env.get("os-availability-zone", &member, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}]})
    );
    assert_eq!(env.get("os-availability-zone/detail", &member, None).await.0, 403);

    // an aggregate makes cmp2 a zone of its own
    let (_, a) = env
        .call(
            Method::POST,
            "os-aggregates",
            &env.admin,
            None,
            Some(json!({"aggregate": {"name": "a", "availability_zone": "az2"}})),
        )
        .await;
    let aid = a["aggregate"]["id"].as_i64().unwrap();
    let (s, _) = env
        .call(
            Method::POST,
            &format!("os-aggregates/{aid}/action"),
            &env.admin,
            None,
            Some(json!({"add_host": {"host": "cmp2"}})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = env.get("os-availability-zone", &member, None).await;
    let zones: Vec<&str> = v["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zoneName"].as_str().unwrap())
        .collect();
    assert_eq!(zones, ["az2", "nova"]);
    let (s, v) = env.get("os-availability-zone/detail", &env.admin, None).await;
    assert_eq!(s, 200);
    let az2 = find(&v, "availabilityZoneInfo", "zoneName", "az2");
    assert_eq!(az2["hosts"]["cmp2"]["nova-compute"]["available"], true);
    assert_eq!(az2["hosts"]["cmp2"]["nova-compute"]["active"], true);
    let internal = find(&v, "availabilityZoneInfo", "zoneName", "internal");
    assert!(internal["hosts"]["ctl"]["nova-scheduler"].is_object());
    let (_, v) = env.get("os-services?host=cmp2", &env.admin, None).await;
    assert_eq!(v["services"][0]["zone"], "az2");
    let hosts = env.compute.up_compute_hosts().await.unwrap();
    let h2 = hosts.iter().find(|h| h.host == "cmp2").unwrap();
    assert_eq!(h2.availability_zone, "az2");
    assert_eq!(h2.aggregates, vec![aid]);
    assert_eq!(h2.aggregate_metadata["availability_zone"], vec!["az2".to_owned()]);

    // a zone whose services are all disabled is not available
    let (_, v) = env.get("os-services?host=cmp2", &env.admin, Some("2.53")).await;
    let sid = v["services"][0]["id"].as_str().unwrap().to_owned();
    env.call(
        Method::PUT,
        &format!("os-services/{sid}"),
        &env.admin,
        Some("2.53"),
        Some(json!({"status": "disabled"})),
    )
    .await;
    let (_, v) = env.get("os-availability-zone", &member, None).await;
    assert_eq!(
        find(&v, "availabilityZoneInfo", "zoneName", "az2")["zoneState"]["available"],
        false
    );
    env.stop().await;
}

#[tokio::test]
async fn extensions_are_listed() {
    let env = Env::start().await;
    let (_, _, member) = env.project_user("p1", "member").await;
    let (s, v) = env.get("extensions", &member, None).await;
    assert_eq!(s, 200);
    let ext = find(&v, "extensions", "alias", "os-keypairs");
    for k in ["name", "description", "namespace", "updated", "links"] {
        assert!(ext.get(k).is_some(), "{k}");
    }
    let (s, v) = env.get("extensions/os-aggregates", &member, None).await;
    assert_eq!((s, v["extension"]["name"].as_str()), (200, Some("Aggregates")));
    assert_eq!(env.get("extensions/os-nothing", &member, None).await.0, 404);
    env.stop().await;
}
