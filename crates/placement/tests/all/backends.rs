//! The core flow on every database the machine offers (SQLite always,
//! PostgreSQL and MariaDB when `OXISTACK_TEST_POSTGRES`/`_MYSQL` are set),
//! and concurrent allocations that must never oversubscribe.

use reqwest::Method;
use serde_json::json;
use test_cloud::{Backend, TestCloud};

use crate::{call, inventory, provider, uuid};

#[tokio::test]
async fn core_flow_and_concurrency_on_every_backend() {
    for backend in Backend::from_env() {
        let cloud = TestCloud::start_on(backend).await.with_placement().await;
        let admin = cloud.admin_token().await;
        let rp = provider(&cloud, &admin, "cn", None).await;
        let (s, v) = call(
            &cloud,
            Method::POST,
            "resource_providers",
            &admin,
            Some(json!({"name": "cn"})),
        )
        .await;
        assert_eq!(s, 409, "{backend:?}: {v}");
        inventory(&cloud, &admin, &rp, &[("VCPU", 10), ("MEMORY_MB", 10240)]).await;
        let (s, v) = call(&cloud, Method::PUT, "traits/CUSTOM_B", &admin, None).await;
        assert_eq!(s, 201, "{backend:?}: {v}");

        // 40 writers race for 10 VCPUs.
        let writers = 40;
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let http = cloud.http.clone();
            let url = crate::url(&cloud, &format!("allocations/{}", uuid()));
            let token = admin.clone();
            let body = json!({"allocations": {rp.clone(): {"resources": {"VCPU": 1, "MEMORY_MB": 256}}},
                              "project_id": "p", "user_id": "u", "consumer_generation": null,
                              "consumer_type": "INSTANCE"});
            tasks.push(tokio::spawn(async move {
                let resp = http
                    .put(url)
                    .header("x-auth-token", token)
                    .header("openstack-api-version", "placement 1.39")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                (status, text)
            }));
        }
        let mut ok = 0;
        for t in futures::future::join_all(tasks).await {
            let (status, text) = t.unwrap();
            assert!(status == 204 || status == 409, "{backend:?}: {status} {text}");
            if status == 204 {
                ok += 1;
            }
        }
        let (_, v) = call(
            &cloud,
            Method::GET,
            &format!("resource_providers/{rp}/usages"),
            &admin,
            None,
        )
        .await;
        let used = v["usages"]["VCPU"].as_i64().unwrap();
        assert!(used <= 10, "{backend:?}: oversubscribed: {used}");
        assert_eq!(used, ok, "{backend:?}: every 204 is counted once");
        assert_eq!(v["usages"]["MEMORY_MB"].as_i64().unwrap(), ok * 256, "{backend:?}");
        assert!(ok >= 1, "{backend:?}: someone got through");

        // Candidates see the rest; deleting the provider is refused.
        let (s, v) = call(
            &cloud,
            Method::GET,
            "allocation_candidates?resources=VCPU:1",
            &admin,
            None,
        )
        .await;
        assert_eq!(s, 200, "{backend:?}");
        assert_eq!(
            v["allocation_requests"].as_array().unwrap().len(),
            usize::from(used < 10),
            "{backend:?}"
        );
        let (s, _) = call(
            &cloud,
            Method::DELETE,
            &format!("resource_providers/{rp}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(s, 409, "{backend:?}");
        // A NUL byte in a name is refused or kept, never a 500.
        let (s, _) = call(
            &cloud,
            Method::POST,
            "resource_providers",
            &admin,
            Some(json!({"name": "x\u{0}y"})),
        )
        .await;
        assert!(s == 200 || s == 400, "{backend:?}: {s}");
        cloud.stop().await;
    }
}
