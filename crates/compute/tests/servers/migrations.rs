//! Cold migration (`migrate`), its confirm and revert across two fake
//! agents, and the migration records (`os-migrations`) of migrations and
//! resizes.

use compute_agent::rpc::PowerState;
use reqwest::Method;
use serde_json::{Value, json};
use test_cloud::{Backend, TestCloud};

use super::{
    action, admin_project, boot, call, call_at, image, placement_get, placement_usages, usage_is_zero, wait_status,
};

/// The uuid of the resource provider of `host`.
async fn provider(cloud: &TestCloud, token: &str, host: &str) -> String {
    let rps = placement_get(cloud, token, &format!("/resource_providers?name={host}")).await;
    rps["resource_providers"][0]["uuid"]
        .as_str()
        .unwrap_or_else(|| panic!("provider of {host}: {rps}"))
        .to_owned()
}

/// The provider's VCPU usage.
async fn vcpus_used(cloud: &TestCloud, token: &str, rp: &str) -> i64 {
    let u = placement_get(cloud, token, &format!("/resource_providers/{rp}/usages")).await;
    u["usages"]["VCPU"]
        .as_i64()
        .unwrap_or_else(|| panic!("usages of {rp}: {u}"))
}

/// The server's migrations at `version`, newest first.
async fn migrations_of(cloud: &TestCloud, token: &str, version: &str, server: &str) -> Vec<Value> {
    let (s, v) = call_at(
        cloud,
        version,
        Method::GET,
        &format!("os-migrations?instance_uuid={server}"),
        token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["migrations"].as_array().unwrap().clone()
}

/// Waits until the driver's view of the instance is `want` (`None`: gone).
async fn wait_driver(driver: &compute_agent::FakeDriver, uuid: &str, want: Option<PowerState>) {
    for _ in 0..200 {
        if driver.instance(uuid).map(|i| i.power_state) == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "instance {uuid} never reached {want:?} in the driver: {:?}",
        driver.instance(uuid).map(|i| i.power_state)
    );
}

/// Migrate, confirm, migrate back, revert, delete — on every database the
/// machine offers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_migration_confirm_and_revert() {
    for backend in Backend::from_env() {
        cold_migration_on(backend).await;
    }
}

async fn cold_migration_on(backend: Backend) {
    let mut cloud = TestCloud::start_on(backend).await.with_compute().await;
    cloud.add_agent("compute2").await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    let drivers = [cloud.agents[0].1.clone(), cloud.agents[1].1.clone()];
    let rps = [
        provider(&cloud, &token, "compute1").await,
        provider(&cloud, &token, "compute2").await,
    ];

    let (s, v) = boot(&cloud, &token, &img, json!({})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    let src = usize::from(server["OS-EXT-SRV-ATTR:host"] == "compute2");
    let dst = 1 - src;
    let hosts = ["compute1", "compute2"];

    // migrate: the source's claim goes to the migration, the destination
    // is claimed for the server.
    let (s, v) = action(&cloud, &token, &id, json!({"migrate": null})).await;
    assert_eq!(s, 202, "{v}");
    let server = wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], hosts[dst], "{server}");
    assert_eq!(
        server["OS-EXT-SRV-ATTR:hypervisor_hostname"],
        format!("{}-node", hosts[dst])
    );
    assert_eq!(drivers[src].instance(&id).unwrap().power_state, PowerState::Shutdown);
    assert_eq!(drivers[dst].instance(&id).unwrap().power_state, PowerState::Running);
    assert_eq!(vcpus_used(&cloud, &token, &rps[src]).await, 1);
    assert_eq!(vcpus_used(&cloud, &token, &rps[dst]).await, 1);
    let allocs = placement_get(&cloud, &token, &format!("/allocations/{id}")).await;
    let held: Vec<&String> = allocs["allocations"].as_object().unwrap().keys().collect();
    assert_eq!(held, vec![&rps[dst]], "{allocs}");
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["status"], "finished");
    assert_eq!(m[0]["migration_type"], "migration");
    assert_eq!(m[0]["source_compute"], hosts[src]);
    assert_eq!(m[0]["dest_compute"], hosts[dst]);
    assert_eq!(m[0]["source_node"], format!("{}-node", hosts[src]));
    assert_eq!(m[0]["dest_node"], format!("{}-node", hosts[dst]));
    assert_eq!(m[0]["old_instance_type_id"], m[0]["new_instance_type_id"]);
    assert!(m[0]["old_instance_type_id"].is_i64(), "{}", m[0]);
    let first = m[0]["uuid"].as_str().unwrap().to_owned();
    // The migration holds the source's share.
    let mig_allocs = placement_get(&cloud, &token, &format!("/allocations/{first}")).await;
    assert!(mig_allocs["allocations"][&rps[src]].is_object(), "{mig_allocs}");

    // A second migrate while it waits for confirmation: 409.
    let (s, v) = action(&cloud, &token, &id, json!({"migrate": null})).await;
    assert_eq!(s, 409, "{v}");

    // confirm: the source is freed, its guest gone.
    let (s, v) = action(&cloud, &token, &id, json!({"confirmResize": null})).await;
    assert_eq!(s, 204, "{v}");
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], hosts[dst]);
    wait_driver(&drivers[src], &id, None).await;
    assert_eq!(vcpus_used(&cloud, &token, &rps[src]).await, 0);
    assert_eq!(vcpus_used(&cloud, &token, &rps[dst]).await, 1);
    let mig_allocs = placement_get(&cloud, &token, &format!("/allocations/{first}")).await;
    assert_eq!(mig_allocs["allocations"], json!({}), "{mig_allocs}");
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert_eq!(m[0]["status"], "confirmed");

    // Stopped, migrated back with the 2.56 host, then reverted: the
    // server is back where it was, still stopped, the target freed.
    let (s, _) = action(&cloud, &token, &id, json!({"os-stop": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "SHUTOFF").await;
    let (s, v) = call_at(
        &cloud,
        "2.56",
        Method::POST,
        &format!("servers/{id}/action"),
        &token,
        Some(json!({"migrate": {"host": hosts[src]}})),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let server = wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], hosts[src]);
    assert_eq!(drivers[src].instance(&id).unwrap().power_state, PowerState::Shutdown);
    let (s, v) = action(&cloud, &token, &id, json!({"revertResize": null})).await;
    assert_eq!(s, 202, "{v}");
    let server = wait_status(&cloud, &token, &id, "SHUTOFF").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], hosts[dst], "{server}");
    wait_driver(&drivers[src], &id, None).await;
    assert_eq!(drivers[dst].instance(&id).unwrap().power_state, PowerState::Shutdown);
    assert_eq!(vcpus_used(&cloud, &token, &rps[src]).await, 0);
    assert_eq!(vcpus_used(&cloud, &token, &rps[dst]).await, 1);
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["status"], "reverted");
    assert_eq!(m[0]["source_compute"], hosts[dst]);
    assert_eq!(m[0]["dest_compute"], hosts[src]);
    let second = m[0]["uuid"].as_str().unwrap().to_owned();
    let mig_allocs = placement_get(&cloud, &token, &format!("/allocations/{second}")).await;
    assert_eq!(mig_allocs["allocations"], json!({}), "{mig_allocs}");

    // The instance actions name the migrations.
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{id}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    let names: Vec<&str> = v["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(names.iter().filter(|a| **a == "migrate").count(), 2, "{names:?}");

    // Migrated again and deleted while it waits: nothing is left anywhere.
    let (s, _) = action(&cloud, &token, &id, json!({"migrate": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await;
    let (s, _) = call(&cloud, Method::DELETE, &format!("servers/{id}"), &token, None).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &id, "DELETED").await;
    wait_driver(&drivers[dst], &id, None).await;
    wait_driver(&drivers[src], &id, None).await;
    let u = placement_usages(&cloud, &token, &project).await;
    assert!(usage_is_zero(&u), "{u}");
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert_eq!(m[0]["status"], "confirmed");
    cloud.stop().await;
}

/// What `migrate` refuses, and a source that cannot move its guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_errors_leave_the_server_where_it_is() {
    let mut cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let rp1 = provider(&cloud, &token, "compute1").await;
    let (_, v) = boot(&cloud, &token, &img, json!({})).await;
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    // One host: no valid host, the server untouched, the record in error.
    let (s, v) = action(&cloud, &token, &id, json!({"migrate": null})).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["badRequest"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No valid host was found."),
        "{v}"
    );
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], "compute1");
    assert_eq!(vcpus_used(&cloud, &token, &rp1).await, 1);
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["status"], "error");
    let mig = m[0]["uuid"].as_str().unwrap();
    let allocs = placement_get(&cloud, &token, &format!("/allocations/{mig}")).await;
    assert_eq!(allocs["allocations"], json!({}), "{allocs}");
    let allocs = placement_get(&cloud, &token, &format!("/allocations/{id}")).await;
    assert!(allocs["allocations"][&rp1].is_object(), "{allocs}");

    // Bad hosts and bodies.
    let at = |version: &'static str, body: Value| {
        let cloud = &cloud;
        let token = &token;
        let id = &id;
        async move {
            call_at(
                cloud,
                version,
                Method::POST,
                &format!("servers/{id}/action"),
                token,
                Some(body),
            )
            .await
        }
    };
    let (s, v) = at("2.56", json!({"migrate": {"host": "nowhere"}})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["badRequest"]["message"], "Compute host nowhere could not be found.");
    let (s, v) = at("2.56", json!({"migrate": {"host": "compute1"}})).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        "Cannot migrate to the host where the server exists."
    );
    // Before 2.56 the body is not looked at (tempest sends `{}`): the
    // host is ignored and the one host there is cannot take it.
    let (s, v) = at("2.55", json!({"migrate": {"host": "compute1"}})).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["badRequest"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No valid host was found."),
        "{v}"
    );
    let (s, v) = at("2.1", json!({"migrate": {}})).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["badRequest"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No valid host was found."),
        "{v}"
    );
    let (s, v) = at("2.56", json!({"migrate": "compute2"})).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = at("2.56", json!({"migrate": {"hots": "compute1"}})).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = call(
        &cloud,
        Method::POST,
        "servers/00000000-0000-0000-0000-000000000000/action",
        &token,
        Some(json!({"migrate": null})),
    )
    .await;
    assert_eq!(s, 404, "{v}");

    // The wrong state: 409.
    let (s, _) = action(&cloud, &token, &id, json!({"suspend": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "SUSPENDED").await;
    let (s, v) = action(&cloud, &token, &id, json!({"migrate": null})).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["conflictingRequest"].is_object(), "{v}");
    let (s, _) = action(&cloud, &token, &id, json!({"resume": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    // A source that refuses (as the qemu driver does): the server stays
    // on its host, ACTIVE, with the fault; nothing is claimed elsewhere.
    cloud.add_agent("compute2").await;
    let rp2 = provider(&cloud, &token, "compute2").await;
    let (_, v) = boot(
        &cloud,
        &token,
        &img,
        json!({"metadata": {"fake_fail_migrate": "true"}, "availability_zone": "nova:compute1"}),
    )
    .await;
    let stuck = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &stuck, "ACTIVE").await;
    let (s, v) = action(&cloud, &token, &stuck, json!({"migrate": null})).await;
    assert_eq!(s, 202, "{v}");
    let mut m = Vec::new();
    for _ in 0..200 {
        m = migrations_of(&cloud, &token, "2.59", &stuck).await;
        if m[0]["status"] == "error" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(m[0]["status"], "error", "{m:?}");
    let server = wait_status(&cloud, &token, &stuck, "ACTIVE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], "compute1");
    assert_eq!(server["OS-EXT-STS:power_state"], 1);
    // The fault is kept (Nova shows it on the server only in ERROR) and
    // the migrate action's events tell what happened.
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{stuck}/os-instance-actions"),
        &token,
        None,
    )
    .await;
    let migrate = v["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "migrate")
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert_eq!(migrate["message"], "Error", "{migrate}");
    let request = migrate["request_id"].as_str().unwrap();
    let (_, v) = call(
        &cloud,
        Method::GET,
        &format!("servers/{stuck}/os-instance-actions/{request}"),
        &token,
        None,
    )
    .await;
    let events = v["instanceAction"]["events"].as_array().unwrap();
    let refused = events
        .iter()
        .find(|e| e["event"] == "compute_resize_instance")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(refused["result"], "Error");
    assert!(
        refused["traceback"].as_str().unwrap().contains("cannot move"),
        "{refused}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "cold_migrate" && e["result"] == "Success"),
        "{v}"
    );
    assert_eq!(
        cloud.agents[0].1.instance(&stuck).unwrap().power_state,
        PowerState::Running
    );
    assert!(cloud.agents[1].1.instance(&stuck).is_none());
    assert_eq!(vcpus_used(&cloud, &token, &rp1).await, 2);
    assert_eq!(vcpus_used(&cloud, &token, &rp2).await, 0);
    let mig = m[0]["uuid"].as_str().unwrap();
    let allocs = placement_get(&cloud, &token, &format!("/allocations/{mig}")).await;
    assert_eq!(allocs["allocations"], json!({}), "{allocs}");

    // Not an admin (the server's own project member): 403, for the
    // action and the listings.
    let project = admin_project(&cloud, &token).await;
    let member = super::rescue::user_in(&cloud, &token, &project, "mover", "member").await;
    let (s, v) = action(&cloud, &member, &stuck, json!({"migrate": null})).await;
    assert_eq!(s, 403, "{v}");
    let (s, _) = call(&cloud, Method::GET, "os-migrations", &member, None).await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &cloud,
        Method::GET,
        &format!("servers/{stuck}/migrations"),
        &member,
        None,
    )
    .await;
    assert_eq!(s, 403);
    cloud.stop().await;
}

/// A resize has its record too, and `os-migrations` renders and filters
/// per microversion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resize_records_and_os_migrations_views() {
    let cloud = TestCloud::start().await.with_compute().await;
    let token = cloud.admin_token().await;
    let project = admin_project(&cloud, &token).await;
    let img = image(&cloud, &token).await;
    let (_, v) = boot(&cloud, &token, &img, json!({})).await;
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    let (s, v) = action(&cloud, &token, &id, json!({"resize": {"flavorRef": "2"}})).await;
    assert_eq!(s, 202, "{v}");
    wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await;
    let m = migrations_of(&cloud, &token, "2.80", &id).await;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["migration_type"], "resize");
    assert_eq!(m[0]["status"], "finished");
    assert_eq!(m[0]["source_compute"], "compute1");
    assert_eq!(m[0]["dest_compute"], "compute1");
    assert_ne!(m[0]["old_instance_type_id"], m[0]["new_instance_type_id"]);
    assert_eq!(m[0]["project_id"], project);
    assert!(m[0]["user_id"].is_string());
    let (s, _) = action(&cloud, &token, &id, json!({"confirmResize": null})).await;
    assert_eq!(s, 204);
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert_eq!(m[0]["status"], "confirmed");

    let (s, _) = action(&cloud, &token, &id, json!({"resize": {"flavorRef": "3"}})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await;
    let (s, _) = action(&cloud, &token, &id, json!({"revertResize": null})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["status"], "reverted");
    assert_eq!(m[1]["status"], "confirmed");

    // Fields per microversion.
    let m = migrations_of(&cloud, &token, "2.1", &id).await;
    let keys: Vec<&String> = m[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        vec![
            "created_at",
            "dest_compute",
            "dest_host",
            "dest_node",
            "id",
            "instance_uuid",
            "new_instance_type_id",
            "old_instance_type_id",
            "source_compute",
            "source_node",
            "status",
            "updated_at"
        ]
    );
    assert!(m[0]["id"].is_i64());
    let m = migrations_of(&cloud, &token, "2.23", &id).await;
    assert_eq!(m[0]["migration_type"], "resize");
    assert!(m[0].get("uuid").is_none());
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert!(m[0]["uuid"].is_string());
    assert!(m[0].get("user_id").is_none());

    // Filters.
    let list = |version: &'static str, query: String| {
        let cloud = &cloud;
        let token = &token;
        async move {
            call_at(
                cloud,
                version,
                Method::GET,
                &format!("os-migrations?{query}"),
                token,
                None,
            )
            .await
        }
    };
    let count = |v: &Value| v["migrations"].as_array().map(Vec::len).unwrap_or(usize::MAX);
    let (_, v) = list("2.59", "status=reverted".into()).await;
    assert_eq!(count(&v), 1, "{v}");
    let (_, v) = list("2.59", "migration_type=migration".into()).await;
    assert_eq!(count(&v), 0, "{v}");
    let (_, v) = list("2.59", "host=compute1".into()).await;
    assert_eq!(count(&v), 2, "{v}");
    let (_, v) = list("2.59", "host=compute9".into()).await;
    assert_eq!(count(&v), 0, "{v}");
    let (_, v) = list("2.59", "source_compute=compute1".into()).await;
    assert_eq!(count(&v), 2, "{v}");
    let (_, v) = list("2.80", format!("project_id={project}")).await;
    assert_eq!(count(&v), 2, "{v}");
    let (_, v) = list("2.80", "user_id=nobody".into()).await;
    assert_eq!(count(&v), 0, "{v}");
    // Before 2.80 a user_id filter is not one (and unknown from 2.59: 400).
    let (s, v) = list("2.23", "user_id=nobody".into()).await;
    assert_eq!((s, count(&v)), (200, 2), "{v}");
    let (s, v) = list("2.59", "user_id=nobody".into()).await;
    assert_eq!(s, 400, "{v}");

    // Paging from 2.59: newest first, a next link, the marker.
    let (_, v) = list("2.59", "limit=1".into()).await;
    assert_eq!(count(&v), 1, "{v}");
    assert_eq!(v["migrations"][0]["status"], "reverted");
    let href = v["migrations_links"][0]["href"].as_str().unwrap().to_owned();
    let newest = v["migrations"][0]["uuid"].as_str().unwrap().to_owned();
    assert!(href.contains(&format!("marker={newest}")), "{href}");
    let (_, v) = list("2.59", format!("limit=1&marker={newest}")).await;
    assert_eq!(count(&v), 1, "{v}");
    assert_eq!(v["migrations"][0]["status"], "confirmed");
    assert!(v.get("migrations_links").is_none(), "{v}");
    let (s, v) = list("2.59", "marker=00000000-0000-0000-0000-000000000000".into()).await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = list("2.59", "limit=-1".into()).await;
    assert_eq!(s, 400);
    let (s, _) = list("2.59", "changes-since=yesterday".into()).await;
    assert_eq!(s, 400);
    let (_, v) = list("2.59", "changes-since=2000-01-01T00:00:00Z".into()).await;
    assert_eq!(count(&v), 2, "{v}");
    let (_, v) = list("2.66", "changes-before=2000-01-01T00:00:00Z".into()).await;
    assert_eq!(count(&v), 0, "{v}");
    let (s, _) = list(
        "2.66",
        "changes-since=2001-01-01T00:00:00Z&changes-before=2000-01-01T00:00:00Z".into(),
    )
    .await;
    assert_eq!(s, 400);

    // The server's live migrations in progress: none; an unknown server 404.
    let (s, v) = call(&cloud, Method::GET, &format!("servers/{id}/migrations"), &token, None).await;
    assert_eq!((s, v), (200, json!({"migrations": []})));
    let (s, _) = call(
        &cloud,
        Method::GET,
        "servers/00000000-0000-0000-0000-000000000000/migrations",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(&cloud, Method::GET, &format!("servers/{id}/migrations/1"), &token, None).await;
    assert_eq!(s, 404);
    cloud.stop().await;
}

/// A resize its host has no room for moves to another host, by the steps
/// of a cold migration: revert brings the server and its old flavor back,
/// confirm frees the first host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resize_moves_when_its_host_is_full() {
    let mut cloud = TestCloud::start().await.with_compute().await;
    cloud.add_agent("compute2").await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let rp1 = provider(&cloud, &token, "compute1").await;
    let rp2 = provider(&cloud, &token, "compute2").await;
    let (s, v) = boot(&cloud, &token, &img, json!({"availability_zone": "nova:compute1"})).await;
    assert_eq!(s, 202, "{v}");
    let id = v["server"]["id"].as_str().unwrap().to_owned();
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    // compute1 keeps room for m1.tiny (512 MiB), not for m1.small (2 GiB).
    let inv = placement_get(&cloud, &token, &format!("/resource_providers/{rp1}/inventories")).await;
    let resp = cloud
        .http
        .put(format!(
            "{}/resource_providers/{rp1}/inventories/MEMORY_MB",
            cloud.placement_url.as_deref().unwrap()
        ))
        .header("x-auth-token", &token)
        .header("openstack-api-version", "placement 1.36")
        .json(
            &json!({"resource_provider_generation": inv["resource_provider_generation"],
                      "total": 1024, "reserved": 0, "allocation_ratio": 1.0}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let memory = |rp: String| {
        let cloud = &cloud;
        let token = &token;
        async move {
            let u = placement_get(cloud, token, &format!("/resource_providers/{rp}/usages")).await;
            u["usages"]["MEMORY_MB"].as_i64().unwrap()
        }
    };

    let (s, v) = action(&cloud, &token, &id, json!({"resize": {"flavorRef": "2"}})).await;
    assert_eq!(s, 202, "{v}");
    let server = wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], "compute2", "{server}");
    assert_eq!(server["flavor"]["original_name"], "m1.small");
    assert_eq!(cloud.agents[1].1.instance(&id).unwrap().flavor.memory_mb, 2048);
    assert_eq!(memory(rp1.clone()).await, 512);
    assert_eq!(memory(rp2.clone()).await, 2048);
    let m = migrations_of(&cloud, &token, "2.59", &id).await;
    assert_eq!(m[0]["migration_type"], "resize");
    assert_eq!(m[0]["status"], "finished");
    assert_eq!(m[0]["source_compute"], "compute1");
    assert_eq!(m[0]["dest_compute"], "compute2");
    assert_ne!(m[0]["old_instance_type_id"], m[0]["new_instance_type_id"]);

    let (s, _) = action(&cloud, &token, &id, json!({"revertResize": null})).await;
    assert_eq!(s, 202);
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], "compute1");
    assert_eq!(server["flavor"]["original_name"], "m1.tiny");
    wait_driver(&cloud.agents[1].1, &id, None).await;
    assert_eq!(memory(rp1.clone()).await, 512);
    assert_eq!(memory(rp2.clone()).await, 0);
    assert_eq!(
        migrations_of(&cloud, &token, "2.59", &id).await[0]["status"],
        "reverted"
    );

    let (s, _) = action(&cloud, &token, &id, json!({"resize": {"flavorRef": "2"}})).await;
    assert_eq!(s, 202);
    wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await;
    let (s, _) = action(&cloud, &token, &id, json!({"confirmResize": null})).await;
    assert_eq!(s, 204);
    let server = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(server["OS-EXT-SRV-ATTR:host"], "compute2");
    assert_eq!(server["flavor"]["original_name"], "m1.small");
    wait_driver(&cloud.agents[0].1, &id, None).await;
    assert_eq!(memory(rp1.clone()).await, 0);
    assert_eq!(memory(rp2.clone()).await, 2048);
    assert_eq!(
        migrations_of(&cloud, &token, "2.59", &id).await[0]["status"],
        "confirmed"
    );
    cloud.stop().await;
}
