//! The instance usage audit and `os-instance_usage_audit_log`, on every
//! database the machine offers: an agent with `instance_usage_audit` on
//! gets its host recorded over the bus, the conductor's audit counts the
//! host's instances of the period (deleted ones too) once per period,
//! and the log sums the records over every compute host; Nova's errors
//! (400 bad timestamp, 403 non-admin).

use std::time::Duration;

use chrono::NaiveDateTime;
use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};

use super::rescue::user_in;
use super::{admin_project, boot, call, image, wait_status};

const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

async fn log_before(cloud: &TestCloud, token: &str, before: &str) -> (u16, Value) {
    let path = format!("os-instance_usage_audit_log/{}", before.replace(' ', "%20"));
    call(cloud, Method::GET, &path, token, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_audit_on_every_backend() {
    for backend in Backend::from_env() {
        audit_on(backend).await;
    }
}

async fn audit_on(backend: Backend) {
    let cloud = TestCloud::start_on(backend).await.with_compute().await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    let compute = cloud.compute.clone().unwrap();

    // Two servers on compute1 (the only host yet), one deleted: both
    // existed in this month, which the audit sees completed a month and
    // more from now.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, v) = boot(&cloud, &token, &img, json!({})).await;
        assert_eq!(s, 202, "{backend:?}: {v}");
        let id = v["server"]["id"].as_str().unwrap().to_owned();
        wait_status(&cloud, &token, &id, "ACTIVE").await;
        ids.push(id);
    }
    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{}", ids[1]), &token, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &ids[1], "DELETED").await;
    // A second host whose agent audits (compute1's does not, Nova's default).
    let mut config = compute_agent::AgentConfig::new("audit1");
    config.report_interval = Duration::from_millis(200);
    config.instance_usage_audit = true;
    config.usage_audit_interval = Duration::from_millis(100);
    let driver = std::sync::Arc::new(compute_agent::FakeDriver::new().with_node("audit1-node"));
    let agent = compute_agent::Agent::start(config, cloud.bus.clone().unwrap(), driver)
        .await
        .expect("start the auditing agent");
    let mut log = Value::Null;
    for _ in 0..100 {
        let (s, v) = call(&cloud, Method::GET, "os-instance_usage_audit_log", &token, None).await;
        assert_eq!(s, 200, "{backend:?}: {v}");
        log = v["instance_usage_audit_logs"].clone();
        if log["log"]["audit1"]["state"] == "DONE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log["log"]["audit1"]["state"], "DONE", "{backend:?}: {log}");
    assert_eq!(log["log"]["audit1"]["instances"], 0);
    assert_eq!(log["log"]["audit1"]["errors"], 0);
    assert!(
        log["log"]["audit1"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Instance usage audit ran for host audit1, 0 instances")
    );
    assert_eq!(log["num_hosts"], 2, "{log}");
    assert_eq!(log["num_hosts_done"], 1);
    assert_eq!(log["num_hosts_running"], 0);
    assert_eq!(log["num_hosts_not_run"], 1);
    assert_eq!(log["hosts_not_run"], json!(["compute1"]));
    assert_eq!(log["overall_status"], "1 of 2 hosts done. 0 errors.");
    assert_eq!(log.as_object().unwrap().len(), 11);
    // The month before this one (the default period).
    let now = chrono::Utc::now().naive_utc();
    let begin = NaiveDateTime::parse_from_str(log["period_beginning"].as_str().unwrap(), FORMAT).unwrap();
    let end = NaiveDateTime::parse_from_str(log["period_ending"].as_str().unwrap(), FORMAT).unwrap();
    assert!(
        begin < end && end <= now && now - end <= chrono::Duration::days(31),
        "{log}"
    );

    let later = now + chrono::Duration::days(40);
    let a = compute.run_usage_audit_at("compute1", later).await.unwrap();
    assert!(a.ran, "{backend:?}");
    assert_eq!(a.instances, 2, "{backend:?}");
    let again = compute.run_usage_audit_at("compute1", later).await.unwrap();
    assert!(!again.ran, "{backend:?}: once per period");
    let (s, v) = log_before(&cloud, &token, &later.format(FORMAT).to_string()).await;
    assert_eq!(s, 200, "{backend:?}: {v}");
    let l = &v["instance_usage_audit_log"];
    assert_eq!(l["total_instances"], 2, "{l}");
    assert_eq!(l["log"]["compute1"]["state"], "DONE");
    assert_eq!(l["log"]["compute1"]["instances"], 2);
    assert_eq!(l["hosts_not_run"], json!(["audit1"]));
    assert_eq!(l["overall_status"], "1 of 2 hosts done. 0 errors.");
    // With microseconds, as Nova takes it too; the period is the same.
    let (s, v) = log_before(&cloud, &token, &format!("{}.500000", later.format(FORMAT))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["instance_usage_audit_log"]["total_instances"], 2);
    // A period with no audit yet: every host not run.
    let (s, v) = log_before(&cloud, &token, "2001-06-15 00:00:00").await;
    assert_eq!(s, 200);
    let l = &v["instance_usage_audit_log"];
    assert_eq!(
        (l["period_beginning"].as_str(), l["period_ending"].as_str()),
        (Some("2001-05-01 00:00:00"), Some("2001-06-01 00:00:00"))
    );
    assert_eq!(
        (l["num_hosts_not_run"].clone(), l["log"].clone()),
        (json!(2), json!({}))
    );
    assert_eq!(l["overall_status"], "0 of 2 hosts done. 0 errors.");

    // Bad timestamps.
    for bad in [
        "invalid_time",
        "2026-12-03",
        "2026-12-03T10:00:00",
        "2026-02-30%2010:00:00",
    ] {
        let (s, v) = call(
            &cloud,
            Method::GET,
            &format!("os-instance_usage_audit_log/{bad}"),
            &token,
            None,
        )
        .await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(
            v["badRequest"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid timestamp for date"),
            "{v}"
        );
    }

    // Admin only.
    let member = user_in(&cloud, &token, &project, "audit-member", "member").await;
    let (s, _) = call(&cloud, Method::GET, "os-instance_usage_audit_log", &member, None).await;
    assert_eq!(s, 403);
    let (s, _) = log_before(&cloud, &member, "2026-12-03 10:00:00").await;
    assert_eq!(s, 403);
    agent.stop();
    cloud.stop().await;
}
