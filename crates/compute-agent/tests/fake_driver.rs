//! The fake driver as a hypervisor model.

use std::time::{Duration, Instant};

use compute_agent::FakeDriver;
use compute_agent::driver::{Driver, DriverError};
use compute_agent::rpc::{FlavorSpec, InstanceSpec, PowerState, RequestContext};

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "req-1".to_owned(),
        token: None,
        project_id: "p".to_owned(),
        user_id: "u".to_owned(),
    }
}

fn spec(uuid: &str) -> InstanceSpec {
    InstanceSpec {
        uuid: uuid.to_owned(),
        name: format!("instance-{uuid}"),
        display_name: uuid.to_owned(),
        hostname: uuid.to_owned(),
        project_id: "p".to_owned(),
        user_id: "u".to_owned(),
        flavor: FlavorSpec {
            id: "1".to_owned(),
            name: "tiny".to_owned(),
            vcpus: 1,
            memory_mb: 128,
            root_gb: 1,
            ephemeral_gb: 0,
            swap_mb: 0,
            extra_specs: Default::default(),
        },
        image: None,
        user_data: None,
        key_name: None,
        key_data: None,
        config_drive: false,
        metadata: Default::default(),
        availability_zone: None,
        network_info: vec![serde_json::json!({"id": "port-a"})],
        block_device_info: vec![],
    }
}

#[tokio::test]
async fn power_state_rules_are_enforced() {
    let d = FakeDriver::new();
    d.spawn(&ctx(), &spec("a")).await.unwrap();
    let state = |d: &FakeDriver| d.instance("a").unwrap().power_state;
    assert_eq!(state(&d), PowerState::Running);
    assert!(matches!(d.unpause("a").await, Err(DriverError::InvalidState { .. })));
    assert!(matches!(d.resume("a").await, Err(DriverError::InvalidState { .. })));
    d.pause("a").await.unwrap();
    assert_eq!(state(&d), PowerState::Paused);
    assert!(matches!(d.power_on("a").await, Err(DriverError::InvalidState { .. })));
    d.suspend("a").await.unwrap();
    assert_eq!(state(&d), PowerState::Suspended);
    d.resume("a").await.unwrap();
    d.power_off("a").await.unwrap();
    d.power_off("a").await.unwrap(); // idempotent
    assert!(matches!(
        d.reboot("a", false).await,
        Err(DriverError::InvalidState { .. })
    ));
    d.reboot("a", true).await.unwrap();
    assert_eq!(state(&d), PowerState::Running);
    assert!(d.instance("a").unwrap().boots >= 2);

    // Spawning the same uuid twice fails; unknown uuids are NotFound.
    assert!(matches!(d.spawn(&ctx(), &spec("a")).await, Err(DriverError::Failed(_))));
    assert_eq!(d.pause("zz").await, Err(DriverError::NotFound("zz".to_owned())));
    assert_eq!(d.destroy("zz").await, Err(DriverError::NotFound("zz".to_owned())));

    // Ports from network_info are plugged at spawn.
    assert_eq!(d.get_info("a").await.unwrap().interfaces, vec!["port-a".to_owned()]);
    d.destroy("a").await.unwrap();
    assert!(d.list_instances().await.unwrap().is_empty());
}

#[tokio::test]
async fn failures_and_delay_are_configurable() {
    let d = FakeDriver::new().with_delay(Duration::from_millis(100));
    d.fail_next_spawns(2);
    assert!(d.spawn(&ctx(), &spec("a")).await.is_err());
    assert!(d.spawn(&ctx(), &spec("a")).await.is_err());
    let t = Instant::now();
    d.spawn(&ctx(), &spec("a")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(100));
    d.set_delay(Duration::ZERO);
    let t = Instant::now();
    d.power_off("a").await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(100));
}

#[tokio::test]
async fn resources_are_configurable() {
    let r = FakeDriver::new().host_resources().await.unwrap();
    assert_eq!((r.vcpus, r.memory_mb, r.local_gb), (1000, 1024 * 1024, 100 * 1024));
    assert_eq!(r.hypervisor_hostname, "fake-mini");
    let r = FakeDriver::new()
        .with_resources(4, 8192, 80)
        .with_node("node-7")
        .host_resources()
        .await
        .unwrap();
    assert_eq!((r.vcpus, r.memory_mb, r.local_gb), (4, 8192, 80));
    assert_eq!(r.hypervisor_hostname, "node-7");
}

#[tokio::test]
async fn console_output_tells_the_boot() {
    let d = FakeDriver::new();
    let mut s = spec("a");
    s.key_name = Some("k".to_owned());
    d.spawn(&ctx(), &s).await.unwrap();
    let out = d.console_output("a").await.unwrap();
    assert!(out.contains("instance-a"));
    assert!(out.contains("injected ssh key k"));
    assert!(out.trim_end().ends_with("a login:"));
}

#[tokio::test]
async fn the_persistent_mode_writes_every_change() {
    let dir = std::env::temp_dir().join(format!("oxistack-fake-{}", uuid::Uuid::new_v4()));
    let path = dir.join("sub").join("state");
    {
        let d = FakeDriver::persistent(&path).unwrap();
        d.spawn(&ctx(), &spec("a")).await.unwrap();
        d.spawn(&ctx(), &spec("b")).await.unwrap();
        d.pause("b").await.unwrap();
        d.destroy("a").await.unwrap();
    }
    let d = FakeDriver::persistent(&path).unwrap();
    assert_eq!(d.uuids(), vec!["b".to_owned()]);
    assert_eq!(d.instance("b").unwrap().power_state, PowerState::Paused);
    assert!(d.forget("b"));
    assert!(FakeDriver::persistent(&path).unwrap().uuids().is_empty());

    assert_eq!(
        std::fs::read_dir(&path).unwrap().count(),
        0,
        "a forgotten instance's file is removed"
    );

    std::fs::write(path.join("x.json"), b"not json").unwrap();
    assert!(matches!(FakeDriver::persistent(&path), Err(DriverError::Failed(_))));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_persistent_mode_takes_over_the_one_file_format() {
    let dir = std::env::temp_dir().join(format!("oxistack-fake-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state");
    {
        let d = FakeDriver::persistent(&path).unwrap();
        d.spawn(&ctx(), &spec("a")).await.unwrap();
    }
    let a = std::fs::read(path.join("a.json")).unwrap();
    let legacy = format!(r#"{{"instances": {{"a": {}}}}}"#, String::from_utf8(a).unwrap());
    std::fs::remove_dir_all(&path).unwrap();
    std::fs::write(dir.join("state.json"), legacy).unwrap();
    let d = FakeDriver::persistent(&path).unwrap();
    assert_eq!(d.uuids(), vec!["a".to_owned()]);
    assert!(!dir.join("state.json").exists());
    assert!(path.join("a.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A cold migration between two fake hypervisors: the source keeps the
/// guest off until confirm (destroy) or revert (back as it was).
#[tokio::test]
async fn a_cold_migration_hands_the_guest_over() {
    let (src, dst) = (FakeDriver::new(), FakeDriver::new());
    src.spawn(&ctx(), &spec("m")).await.unwrap();
    src.migrate_disk_and_power_off(&spec("m"), "dest").await.unwrap();
    assert_eq!(src.instance("m").unwrap().power_state, PowerState::Shutdown);
    assert!(matches!(
        src.migrate_disk_and_power_off(&spec("m"), "dest").await,
        Err(DriverError::Failed(_))
    ));
    dst.finish_migration(&ctx(), &spec("m"), true).await.unwrap();
    assert_eq!(dst.instance("m").unwrap().power_state, PowerState::Running);

    // Revert: the destination's guest goes, the source's runs again.
    dst.destroy("m").await.unwrap();
    src.finish_revert_migration("m").await.unwrap();
    assert_eq!(src.instance("m").unwrap().power_state, PowerState::Running);
    assert!(matches!(
        src.finish_revert_migration("m").await,
        Err(DriverError::Failed(_))
    ));

    // A stopped guest arrives stopped; one marked to refuse stays put.
    src.power_off("m").await.unwrap();
    src.migrate_disk_and_power_off(&spec("m"), "dest").await.unwrap();
    dst.finish_migration(&ctx(), &spec("m"), false).await.unwrap();
    assert_eq!(dst.instance("m").unwrap().power_state, PowerState::Shutdown);
    let mut stuck = spec("s");
    stuck.metadata.insert(
        compute_agent::driver::fake::FAIL_MIGRATE_METADATA.to_owned(),
        "true".to_owned(),
    );
    src.spawn(&ctx(), &stuck).await.unwrap();
    assert!(matches!(
        src.migrate_disk_and_power_off(&stuck, "dest").await,
        Err(DriverError::Failed(_))
    ));
    assert_eq!(src.instance("s").unwrap().power_state, PowerState::Running);
    assert!(src.instance("s").unwrap().migrated_from.is_none());
}
