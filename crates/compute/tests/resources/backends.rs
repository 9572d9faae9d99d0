//! The core flow on every database the machine offers: SQLite always,
//! PostgreSQL and MariaDB when `OXISTACK_TEST_POSTGRES`/`_MYSQL` are set.

use reqwest::Method;
use serde_json::json;
use test_cloud::Backend;

use crate::Env;

#[tokio::test]
async fn resources_on_every_backend() {
    for backend in Backend::from_env() {
        let env = Env::start_with(backend, |_| {}).await;
        let admin = env.admin.clone();
        // flavors, extra specs, access
        let body = json!({"flavor": {"name": "f1", "ram": 512, "vcpus": 1, "disk": 1, "id": "f1", "rxtx_factor": 1.5,
                                     "os-flavor-access:is_public": false}});
        let (s, v) = env
            .call(Method::POST, "flavors", &admin, None, Some(body.clone()))
            .await;
        assert_eq!(s, 200, "{backend:?}: {v}");
        assert_eq!(v["flavor"]["rxtx_factor"], 1.5, "{backend:?}");
        assert_eq!(
            env.call(Method::POST, "flavors", &admin, None, Some(body)).await.0,
            409,
            "{backend:?}"
        );
        let (s, _) = env
            .call(
                Method::POST,
                "flavors/f1/os-extra_specs",
                &admin,
                None,
                Some(json!({"extra_specs": {"a": "b"}})),
            )
            .await;
        assert_eq!(s, 200, "{backend:?}");
        let (s, _) = env
            .call(
                Method::POST,
                "flavors/f1/action",
                &admin,
                None,
                Some(json!({"addTenantAccess": {"tenant": "p"}})),
            )
            .await;
        assert_eq!(s, 200, "{backend:?}");
        let (s, _) = env
            .call(
                Method::POST,
                "flavors/f1/action",
                &admin,
                None,
                Some(json!({"addTenantAccess": {"tenant": "p"}})),
            )
            .await;
        assert_eq!(s, 409, "{backend:?}: unique violation classified");
        let (_, v) = env.get("flavors/detail?is_public=none", &admin, Some("2.61")).await;
        assert_eq!(v["flavors"][0]["extra_specs"], json!({"a": "b"}), "{backend:?}");
        env.compute.ensure_default_flavors().await.unwrap();
        assert_eq!(env.compute.get_flavor("1").await.unwrap().name, "m1.tiny");

        // keypairs
        let (s, v) = env
            .call(
                Method::POST,
                "os-keypairs",
                &admin,
                Some("2.2"),
                Some(json!({"keypair": {"name": "k"}})),
            )
            .await;
        assert_eq!(s, 201, "{backend:?}: {v}");
        let (s, _) = env
            .call(
                Method::POST,
                "os-keypairs",
                &admin,
                Some("2.2"),
                Some(json!({"keypair": {"name": "k"}})),
            )
            .await;
        assert_eq!(s, 409, "{backend:?}");
        let (_, v) = env.get("os-keypairs/k", &admin, None).await;
        assert!(v["keypair"]["id"].is_i64(), "{backend:?}");

        // services, hypervisors, aggregates
        env.report("cmp1").await;
        env.report("cmp1").await;
        let (_, v) = env.get("os-hypervisors/detail", &admin, Some("2.28")).await;
        assert_eq!(v["hypervisors"][0]["cpu_info"]["arch"], "x86_64", "{backend:?}");
        let (_, a) = env
            .call(
                Method::POST,
                "os-aggregates",
                &admin,
                None,
                Some(json!({"aggregate": {"name": "a", "availability_zone": "z"}})),
            )
            .await;
        let aid = a["aggregate"]["id"].as_i64().unwrap();
        let (s, _) = env
            .call(
                Method::POST,
                &format!("os-aggregates/{aid}/action"),
                &admin,
                None,
                Some(json!({"add_host": {"host": "cmp1"}})),
            )
            .await;
        assert_eq!(s, 200, "{backend:?}");
        let (_, v) = env.get("os-services?binary=nova-compute", &admin, Some("2.53")).await;
        assert_eq!(v["services"][0]["zone"], "z", "{backend:?}");
        assert_eq!(v["services"][0]["state"], "up", "{backend:?}");
        let hosts = env.compute.up_compute_hosts().await.unwrap();
        assert_eq!(hosts[0].availability_zone, "z", "{backend:?}");
        env.stop().await;
    }
}
