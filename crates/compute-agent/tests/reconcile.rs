//! Start-up reconciliation: the controller's records against what the
//! driver has, and the persistent fake driver across agent restarts.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use common::*;
use compute_agent::driver::Driver;
use compute_agent::rpc::{self, Action, PowerState};
use compute_agent::{Agent, AgentConfig, FakeDriver};

async fn spawned(driver: &FakeDriver) -> compute_agent::rpc::InstanceSpec {
    let s = spec();
    driver.spawn(&ctx(), &s).await.unwrap();
    s
}

#[tokio::test]
async fn an_instance_the_driver_lost_gets_no_power_state() {
    let s = spec();
    let c = cloud_with(FakeDriver::new(), vec![record(&s, "active", None, PowerState::Running)]).await;
    let u = c.conductor.wait_updates(&s.uuid, 1).await;
    assert_eq!(u[0].power_state, Some(PowerState::NoState));
    assert_eq!(u[0].vm_state, None, "Nova keeps the vm_state");
    assert_eq!(u[0].expected_task_state, Some(None));
}

#[tokio::test]
async fn a_build_cut_short_errors_the_instance() {
    let driver = FakeDriver::new();
    let half = spawned(&driver).await; // the driver got as far as spawning
    let never = spec();
    let c = cloud_with(
        driver,
        vec![
            record(&half, "building", Some("spawning"), PowerState::NoState),
            record(&never, "building", Some("scheduling"), PowerState::NoState),
        ],
    )
    .await;
    for s in [&half, &never] {
        let u = c.conductor.wait_updates(&s.uuid, 1).await;
        assert_eq!(u[0].vm_state.as_deref(), Some("error"));
        assert_eq!(u[0].task_state, Some(None));
        assert_eq!(u[0].power_state, Some(PowerState::NoState));
        assert!(u[0].fault.is_some());
        let event = u[0].event.as_ref().expect("build event");
        assert_eq!(
            (event.event.as_str(), event.result.as_str()),
            (rpc::BUILD_EVENT, "Error")
        );
    }
    // As after a failed spawn, nothing of the build stays on the host (the
    // conductor releases its claim when the build ends in ERROR).
    assert!(c.driver.instance(&half.uuid).is_none());
    // A build message for it still queued is not run.
    let req = rpc::BuildRequest {
        context: ctx(),
        instance: never.clone(),
        attempt: 1,
    };
    c.bus
        .cast(&rpc::agent_topic(HOST), "build_and_run_instance", &req)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.conductor.updates(&never.uuid).len(), 1);
    assert!(c.driver.instance(&never.uuid).is_none());
}

#[tokio::test]
async fn an_unfinished_delete_is_finished() {
    let driver = FakeDriver::new();
    let s = spawned(&driver).await;
    let gone = spec(); // deleting, and already destroyed on the hypervisor
    let c = cloud_with(
        driver,
        vec![
            record(&s, "active", Some("deleting"), PowerState::Running),
            record(&gone, "stopped", Some("deleting"), PowerState::Shutdown),
        ],
    )
    .await;
    for s in [&s, &gone] {
        let u = c.conductor.wait_updates(&s.uuid, 1).await;
        assert!(u[0].deleted);
        assert_eq!(u[0].expected_task_state, Some(Some("deleting".to_owned())));
    }
    assert!(c.driver.uuids().is_empty());
}

#[tokio::test]
async fn an_instance_unknown_to_the_controller_is_destroyed() {
    let driver = FakeDriver::new();
    let known = spawned(&driver).await;
    let unknown = spawned(&driver).await;
    let c = cloud_with(driver, vec![record(&known, "active", None, PowerState::Running)]).await;
    assert_eq!(c.driver.uuids(), vec![known.uuid.clone()]);
    assert!(c.conductor.updates(&known.uuid).is_empty(), "nothing to change");
    assert!(c.conductor.updates(&unknown.uuid).is_empty());
}

#[tokio::test]
async fn interrupted_power_operations_are_finished() {
    let driver = FakeDriver::new();
    let stopping = spawned(&driver).await;
    let starting = spawned(&driver).await;
    driver.set_power_state(&starting.uuid, PowerState::Shutdown).unwrap();
    let rebooting = spawned(&driver).await;
    driver.set_power_state(&rebooting.uuid, PowerState::Shutdown).unwrap();
    let pausing = spawned(&driver).await;
    let c = cloud_with(
        driver,
        vec![
            record(&stopping, "active", Some("powering-off"), PowerState::Running),
            record(&starting, "stopped", Some("powering-on"), PowerState::Shutdown),
            record(&rebooting, "active", Some("rebooting"), PowerState::Running),
            record(&pausing, "active", Some("pausing"), PowerState::Running),
        ],
    )
    .await;
    let u = c.conductor.wait_updates(&stopping.uuid, 1).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("stopped"));
    assert_eq!(u[0].expected_task_state, Some(Some("powering-off".to_owned())));
    assert_eq!(
        c.driver.instance(&stopping.uuid).unwrap().power_state,
        PowerState::Shutdown
    );

    let u = c.conductor.wait_updates(&starting.uuid, 1).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("active"));
    assert_eq!(u[0].power_state, Some(PowerState::Running));

    // A soft reboot found the guest off: it becomes a hard reboot.
    let u = c.conductor.wait_updates(&rebooting.uuid, 1).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("active"));
    assert_eq!(u[0].power_state, Some(PowerState::Running));
    assert!(u[0].fault.is_none());

    // Pausing with the guest still running: Nova clears the task.
    let u = c.conductor.wait_updates(&pausing.uuid, 1).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("active"));
    assert_eq!(u[0].task_state, Some(None));
    assert_eq!(
        c.driver.instance(&pausing.uuid).unwrap().power_state,
        PowerState::Running
    );
}

#[tokio::test]
async fn power_states_are_synced() {
    let driver = FakeDriver::new();
    let shut_itself = spawned(&driver).await;
    driver.set_power_state(&shut_itself.uuid, PowerState::Shutdown).unwrap();
    let running_stopped = spawned(&driver).await;
    let snapshotting = spawned(&driver).await;
    let c = cloud_with(
        driver,
        vec![
            record(&shut_itself, "active", None, PowerState::Running),
            record(&running_stopped, "stopped", None, PowerState::Shutdown),
            record(&snapshotting, "active", Some("image_uploading"), PowerState::Running),
        ],
    )
    .await;
    let u = c.conductor.wait_updates(&shut_itself.uuid, 1).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("stopped"));
    assert_eq!(u[0].power_state, Some(PowerState::Shutdown));

    // Stopped in the controller but running: powered off, and the power
    // state agrees again, so nothing needs telling.
    wait_until(|| {
        (c.driver.instance(&running_stopped.uuid).unwrap().power_state == PowerState::Shutdown).then_some(())
    })
    .await
    .unwrap();

    let u = c.conductor.wait_updates(&snapshotting.uuid, 1).await;
    assert_eq!(u[0].task_state, Some(None));
    assert_eq!(u[0].vm_state, None);
}

#[tokio::test]
async fn an_interrupted_rescue_errors_the_instance_and_a_hard_reboot_ends_it() {
    let driver = FakeDriver::new();
    let s = spawned(&driver).await;
    let image = s.image.clone().unwrap();
    driver.rescue(&ctx(), &s, &image).await.unwrap();
    let c = cloud_with(
        driver,
        vec![record(&s, "active", Some("rescuing"), PowerState::Running)],
    )
    .await;
    let u = c.conductor.wait_updates(&s.uuid, 1).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("error"));
    assert_eq!(u[0].task_state, Some(None));
    assert_eq!(u[0].expected_task_state, Some(Some("rescuing".to_owned())));
    assert!(
        u[0].fault.as_ref().unwrap().message.contains("rescue"),
        "{:?}",
        u[0].fault
    );
    assert!(c.driver.instance(&s.uuid).unwrap().rescue_image.is_some());

    let u = c.act_and_wait(&s.uuid, Action::Reboot { hard: true }).await;
    assert_eq!(u.vm_state.as_deref(), Some("active"));
    assert_eq!(c.driver.instance(&s.uuid).unwrap().rescue_image, None);
}

#[tokio::test]
async fn an_interrupted_resize_is_rolled_back() {
    let driver = FakeDriver::new();
    let s = spawned(&driver).await;
    let mut bigger = s.clone();
    bigger.flavor = flavor("m1.small", 2, 2048, 20);
    driver.resize(&bigger, &s.flavor).await.unwrap();
    let c = cloud_with(
        driver,
        vec![record(&s, "active", Some("resize_migrating"), PowerState::Running)],
    )
    .await;
    let u = c.conductor.wait_updates(&s.uuid, 1).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("active"));
    assert_eq!(u[0].task_state, Some(None));
    assert_eq!(u[0].flavor.as_ref(), Some(&s.flavor));
    assert_eq!(c.driver.instance(&s.uuid).unwrap().flavor, s.flavor);
}

#[tokio::test]
async fn the_agent_starts_before_the_controller_and_reconciles_later() {
    let bus = Bus::in_process();
    let driver = Arc::new(FakeDriver::new());
    let orphan = spawned(&driver).await;
    let started = tokio::time::Instant::now();
    let agent = Agent::start(AgentConfig::new(HOST), bus.clone(), driver.clone())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(!agent.is_reconciled());
    // The agent answers already.
    let _: rpc::HostReport = bus
        .call(&rpc::agent_topic(HOST), "ping", &serde_json::json!({}), WAIT)
        .await
        .unwrap();

    let conductor = FakeConductor::with_records(vec![]);
    let _l = bus.listen(rpc::CONDUCTOR_TOPIC, conductor.clone()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), agent.reconciled())
        .await
        .expect("reconciled once the conductor is up");
    assert!(driver.instance(&orphan.uuid).is_none());
}

#[tokio::test]
async fn work_that_arrives_during_a_late_reconcile_is_not_undone() {
    let bus = Bus::in_process();
    let driver = Arc::new(FakeDriver::new());
    let agent = Agent::start(AgentConfig::new(HOST), bus.clone(), driver.clone())
        .await
        .unwrap();
    // A build arrives before the controller answered instances_on_host …
    let s = spec();
    let req = rpc::BuildRequest {
        context: ctx(),
        instance: s.clone(),
        attempt: 1,
    };
    bus.cast(&rpc::agent_topic(HOST), "build_and_run_instance", &req)
        .await
        .unwrap();
    wait_until(|| driver.instance(&s.uuid)).await.unwrap();
    // … and the controller's (older) view does not have it yet.
    let conductor = FakeConductor::with_records(vec![]);
    let _l = bus.listen(rpc::CONDUCTOR_TOPIC, conductor.clone()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), agent.reconciled())
        .await
        .unwrap();
    assert!(driver.instance(&s.uuid).is_some(), "not reaped");
}

#[tokio::test]
async fn the_persistent_fake_driver_survives_an_agent_restart() {
    let dir = std::env::temp_dir().join(format!("oxistack-fake-{}", uuid::Uuid::new_v4()));
    let path = dir.join("hypervisor");

    let c = cloud_with(FakeDriver::persistent(&path).unwrap(), vec![]).await;
    let keep = spec();
    let deleted_meanwhile = spec();
    let stopped = spec();
    c.build_active(&keep).await;
    c.build_active(&deleted_meanwhile).await;
    c.build_active(&stopped).await;
    c.act_and_wait(&stopped.uuid, Action::Stop).await;
    // The agent dies (and with it the process' view of the hypervisor).
    c.agent.stop();
    drop(c);

    // Meanwhile the controller deleted one server. A new agent process
    // opens the same hypervisor.
    let driver = FakeDriver::persistent(&path).unwrap();
    let mut uuids = driver.uuids();
    uuids.sort();
    let mut expected = vec![keep.uuid.clone(), deleted_meanwhile.uuid.clone(), stopped.uuid.clone()];
    expected.sort();
    assert_eq!(uuids, expected, "the hypervisor still runs them");
    assert_eq!(
        driver.instance(&stopped.uuid).unwrap().power_state,
        PowerState::Shutdown
    );

    let c = cloud_with(
        driver,
        vec![
            record(&keep, "active", None, PowerState::Running),
            record(&stopped, "stopped", None, PowerState::Shutdown),
        ],
    )
    .await;
    let mut left = c.driver.uuids();
    left.sort();
    let mut expected = vec![keep.uuid.clone(), stopped.uuid.clone()];
    expected.sort();
    assert_eq!(left, expected);
    assert!(c.conductor.updates(&keep.uuid).is_empty(), "in sync");
    // The file says so too.
    let reread = FakeDriver::persistent(&path).unwrap();
    assert_eq!(reread.uuids().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
