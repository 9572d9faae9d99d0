//! `GET /servers/{id}/diagnostics` over HTTP with the fake driver: both
//! microversions' shapes from the driver's real state, and Nova's errors
//! (403 for a non-admin, 404 unknown, 409 not ready or not running, 501
//! when the host's driver cannot answer).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::TestCloud;

use super::rescue::user_in;
use super::{action, admin_project, boot, call_at, image, wait_status};

async fn diagnostics(cloud: &TestCloud, token: &str, version: &str, id: &str) -> (u16, Value) {
    call_at(
        cloud,
        version,
        Method::GET,
        &format!("servers/{id}/diagnostics"),
        token,
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_of_a_fake_guest() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    let (s, v) = boot(&cloud, &token, &img, json!({"config_drive": true})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    // 2.48: Nova's standard model, from the fake hypervisor's state
    // (flavor 1: 1 vCPU, 512 MiB, a root disk; the config drive a disk).
    let (s, d) = diagnostics(&cloud, &token, "2.48", &id).await;
    assert_eq!(s, 200, "{d}");
    let keys: std::collections::BTreeSet<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    let want: std::collections::BTreeSet<&str> = [
        "state",
        "driver",
        "hypervisor",
        "hypervisor_os",
        "uptime",
        "config_drive",
        "num_cpus",
        "num_nics",
        "num_disks",
        "memory_details",
        "cpu_details",
        "nic_details",
        "disk_details",
    ]
    .into();
    assert_eq!(keys, want);
    assert_eq!(d["state"], "running");
    assert_eq!(d["driver"], "libvirt");
    assert_eq!(d["hypervisor"], "fake");
    assert_eq!(d["config_drive"], true);
    assert!(d["uptime"].as_u64().is_some(), "{d}");
    assert_eq!(d["num_cpus"], 1);
    assert_eq!(d["cpu_details"], json!([{"id": 0, "time": null, "utilisation": null}]));
    assert_eq!(d["memory_details"], json!({"maximum": 512, "used": null}));
    assert_eq!(d["num_disks"], 2);
    assert_eq!(d["disk_details"].as_array().unwrap().len(), 2);
    assert_eq!(d["num_nics"], 0);
    assert_eq!(d["nic_details"], json!([]));

    // Before 2.48: the free-form dict, only what the driver knows.
    let (s, legacy) = diagnostics(&cloud, &token, "2.47", &id).await;
    assert_eq!(s, 200, "{legacy}");
    assert_eq!(legacy["memory"], 512 * 1024);
    assert!(legacy["uptime"].as_u64().is_some());
    assert!(legacy.get("state").is_none(), "{legacy}");
    let (s, legacy21) = diagnostics(&cloud, &token, "2.1", &id).await;
    assert_eq!((s, legacy21["memory"].clone()), (200, json!(524288)));

    // Admin only: a member of the server's own project is refused.
    let member = user_in(&cloud, &token, &project, "diag-member", "member").await;
    let (s, v) = diagnostics(&cloud, &member, "2.48", &id).await;
    assert_eq!(s, 403, "{v}");
    assert!(v["forbidden"]["message"].is_string(), "{v}");

    // Unknown server.
    let (s, v) = diagnostics(&cloud, &token, "2.48", "00000000-0000-0000-0000-000000000000").await;
    assert_eq!(s, 404, "{v}");
    assert!(v["itemNotFound"]["message"].is_string(), "{v}");

    // A guest that is not running: Nova's conflict.
    let (s, _) = action(&cloud, &token, &id, json!({"os-stop": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "SHUTOFF").await;
    let (s, v) = diagnostics(&cloud, &token, "2.48", &id).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["conflictingRequest"]["message"],
        format!("Cannot 'get_diagnostics' instance {id} while it is in power_state shutdown")
    );
    let (s, _) = diagnostics(&cloud, &token, "2.1", &id).await;
    assert_eq!(s, 409);

    // A server still building has no guest to measure yet.
    cloud.agents[0].1.set_delay(Duration::from_secs(2));
    let (s, v) = boot(&cloud, &token, &img, json!({})).await;
    assert_eq!(s, 202, "{v}");
    let building = v["server"]["id"].as_str().unwrap().to_owned();
    let (s, v) = diagnostics(&cloud, &token, "2.48", &building).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        v["conflictingRequest"]["message"],
        format!("Instance {building} is not ready")
    );
    cloud.agents[0].1.set_delay(Duration::ZERO);
    wait_status(&cloud, &token, &building, "ACTIVE").await;
}

/// An agent whose driver has no diagnostics (the trait's default).
struct NoDiagnostics;

#[async_trait::async_trait]
impl bus::Handler for NoDiagnostics {
    async fn handle(&self, method: &str, _: Value) -> Result<Value, bus::RemoteError> {
        let e = compute_agent::DriverError::NotSupported(method.to_owned());
        Err(bus::RemoteError::new(e.kind(), e.to_string()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_without_diagnostics_is_501() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let (_, v) = boot(&cloud, &token, &img, json!({})).await;
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    // The host's agent goes; one whose driver cannot answer takes its topic.
    cloud.agents[0].0.stop();
    let bus = cloud.bus.clone().unwrap();
    let _l = bus
        .listen(&compute_agent::rpc::agent_topic("compute1"), Arc::new(NoDiagnostics))
        .await
        .unwrap();
    let (s, v) = diagnostics(&cloud, &token, "2.48", &id).await;
    assert_eq!(s, 501, "{v}");
    assert!(v["notImplemented"]["message"].is_string(), "{v}");
}
