//! The agent against a fake conductor: builds, every action's resulting
//! states, console output, ping, reports, stop.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use bus::Bus;
use common::*;
use compute_agent::driver::Driver;
use compute_agent::rpc::{self, Action, ActionEvent, ConsoleRequest, HostReport, PowerState};
use compute_agent::{Agent, AgentConfig, FakeDriver};
use serde_json::json;

fn exp(task: &str) -> Option<Option<String>> {
    Some(Some(task.to_owned()))
}

#[tokio::test]
async fn a_build_goes_spawning_then_active() {
    let c = cloud().await;
    let s = spec();
    c.build(&s).await;
    let u = c.conductor.wait_updates(&s.uuid, 2).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("building"));
    assert_eq!(u[0].task_state, Some(Some("spawning".to_owned())));
    assert_eq!(u[0].expected_task_state, exp("scheduling"));
    assert_eq!(u[1].vm_state.as_deref(), Some("active"));
    assert_eq!(u[1].task_state, Some(None));
    assert_eq!(u[1].power_state, Some(PowerState::Running));
    assert_eq!(u[1].expected_task_state, exp("spawning"));
    assert_eq!(u[1].event, Some(ActionEvent::success(rpc::BUILD_EVENT)));
    assert_eq!(u[1].host, HOST);
    let i = c.driver.instance(&s.uuid).unwrap();
    assert_eq!(i.power_state, PowerState::Running);
    assert!(c.conductor.build_failures().is_empty());
}

#[tokio::test]
async fn a_build_delivered_twice_runs_once() {
    let c = cloud().await;
    let s = spec();
    let req = rpc::BuildRequest {
        context: ctx(),
        instance: s.clone(),
        attempt: 1,
    };
    for _ in 0..2 {
        c.bus
            .cast(&rpc::agent_topic(HOST), "build_and_run_instance", &req)
            .await
            .unwrap();
    }
    let u = c.conductor.wait_updates(&s.uuid, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.conductor.updates(&s.uuid).len(), 2, "{u:?}");
    assert!(c.conductor.build_failures().is_empty());
    assert_eq!(c.driver.instance(&s.uuid).unwrap().boots, 1);
}

#[tokio::test]
async fn a_build_redelivered_after_a_restart_keeps_the_guest_and_reports_it_again() {
    // The agent restarted (remembering nothing) after the build's first
    // delivery had spawned the guest.
    let c = cloud().await;
    let s = spec();
    c.driver.spawn(&ctx(), &s).await.unwrap();
    c.build(&s).await;
    let u = c.conductor.wait_updates(&s.uuid, 1).await;
    assert_eq!(u[0].vm_state.as_deref(), Some("active"));
    assert_eq!(u[0].expected_task_state, exp("spawning"));
    assert_eq!(u[0].power_state, Some(PowerState::Running));
    assert!(
        c.conductor.build_failures().is_empty(),
        "the running guest is no failed spawn"
    );
    assert_eq!(c.driver.instance(&s.uuid).unwrap().boots, 1);
}

#[tokio::test]
async fn a_failed_spawn_asks_for_a_reschedule_and_leaves_nothing() {
    let c = cloud().await;
    c.driver.fail_next_spawns(1);
    let s = spec();
    c.build(&s).await;
    let f = wait_until(|| c.conductor.build_failures().into_iter().next())
        .await
        .unwrap();
    assert_eq!(f.instance_uuid, s.uuid);
    assert_eq!(f.host, HOST);
    assert_eq!(f.attempt, 1);
    assert!(f.retryable);
    assert!(f.reason.contains("fail_next_spawns"), "{}", f.reason);
    assert!(c.driver.instance(&s.uuid).is_none());
    // Only the `spawning` update was sent, never `active`.
    assert!(
        c.conductor
            .updates(&s.uuid)
            .iter()
            .all(|u| u.vm_state.as_deref() != Some("active"))
    );

    // The counter is spent: the next build works.
    let s2 = spec();
    c.build_active(&s2).await;
}

#[tokio::test]
async fn metadata_fake_fail_spawn_fails_every_time() {
    let c = cloud().await;
    let mut s = spec();
    s.metadata.insert("fake_fail_spawn".to_owned(), "true".to_owned());
    c.build(&s).await;
    let f = wait_until(|| c.conductor.build_failures().into_iter().next())
        .await
        .unwrap();
    assert!(f.reason.contains("fake_fail_spawn"));
    assert!(c.driver.uuids().is_empty());
}

#[tokio::test]
async fn power_actions_end_in_novas_states() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let id = s.uuid.as_str();

    let cases: Vec<(Action, &str, &str, PowerState)> = vec![
        (Action::Stop, "powering-off", "stopped", PowerState::Shutdown),
        (Action::Start, "powering-on", "active", PowerState::Running),
        (
            Action::Reboot { hard: false },
            "rebooting",
            "active",
            PowerState::Running,
        ),
        (
            Action::Reboot { hard: true },
            "rebooting_hard",
            "active",
            PowerState::Running,
        ),
        (Action::Pause, "pausing", "paused", PowerState::Paused),
        (Action::Unpause, "unpausing", "active", PowerState::Running),
        (Action::Suspend, "suspending", "suspended", PowerState::Suspended),
        (Action::Resume, "resuming", "active", PowerState::Running),
    ];
    for (action, task, vm, power) in cases {
        let event = action.event_name();
        let u = c.act_and_wait(id, action).await;
        assert_eq!(u.expected_task_state, exp(task), "{event}");
        assert_eq!(u.task_state, Some(None), "{event}");
        assert_eq!(u.vm_state.as_deref(), Some(vm), "{event}");
        assert_eq!(u.power_state, Some(power), "{event}");
        assert_eq!(u.event, Some(ActionEvent::success(event)));
        assert!(u.fault.is_none());
        assert_eq!(c.driver.instance(id).unwrap().power_state, power, "{event}");
    }
    // A hard reboot from a stopped instance boots it.
    c.act_and_wait(id, Action::Stop).await;
    let u = c.act_and_wait(id, Action::Reboot { hard: true }).await;
    assert_eq!(u.vm_state.as_deref(), Some("active"));
    assert_eq!(u.power_state, Some(PowerState::Running));
}

#[tokio::test]
async fn a_failed_action_keeps_the_vm_state_and_records_a_fault() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let u = c.act_and_wait(&s.uuid, Action::Unpause).await;
    assert_eq!(u.vm_state, None, "vm_state unchanged");
    assert_eq!(u.task_state, Some(None), "task reverted");
    assert_eq!(u.expected_task_state, exp("unpausing"));
    assert_eq!(u.power_state, Some(PowerState::Running));
    let fault = u.fault.unwrap();
    assert_eq!(fault.code, 409);
    let event = u.event.unwrap();
    assert_eq!(event.event, "compute_unpause_instance");
    assert_eq!(event.result, "Error");
    assert!(event.traceback.unwrap().contains("InstanceInvalidState"));

    // An action on an instance the hypervisor does not have.
    let u = c.act_and_wait("no-such-instance", Action::Stop).await;
    assert_eq!(u.fault.unwrap().code, 404);
    assert_eq!(u.vm_state, None);
    assert_eq!(u.power_state, Some(PowerState::NoState));
}

#[tokio::test]
async fn a_soft_reboot_that_cannot_run_errors_the_instance() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    c.act_and_wait(&s.uuid, Action::Stop).await;
    let u = c.act_and_wait(&s.uuid, Action::Reboot { hard: false }).await;
    assert_eq!(u.vm_state.as_deref(), Some("error"));
    assert_eq!(u.task_state, Some(None));
    assert!(u.fault.is_some());
}

#[tokio::test]
async fn resize_then_confirm_or_revert() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let old = s.flavor.clone();
    let mut bigger = s.clone();
    bigger.flavor = flavor("m1.small", 2, 2048, 20);

    let u = c
        .act_and_wait(
            &s.uuid,
            Action::Resize {
                instance: Box::new(bigger.clone()),
                old_flavor: old.clone(),
            },
        )
        .await;
    assert_eq!(u.expected_task_state, exp("resize_prep"));
    assert_eq!(u.vm_state.as_deref(), Some("resized"));
    assert_eq!(u.task_state, Some(None));
    assert_eq!(u.flavor.as_ref(), Some(&bigger.flavor));
    assert_eq!(u.power_state, Some(PowerState::Running));
    let i = c.driver.instance(&s.uuid).unwrap();
    assert_eq!(i.flavor, bigger.flavor);
    assert_eq!(i.old_flavor.as_ref(), Some(&old));

    let u = c.act_and_wait(&s.uuid, Action::ConfirmResize).await;
    assert_eq!(u.expected_task_state, exp("resize_confirming"));
    assert_eq!(u.vm_state.as_deref(), Some("active"));
    assert_eq!(u.flavor, None);
    assert_eq!(c.driver.instance(&s.uuid).unwrap().old_flavor, None);

    // Resize again (of a stopped instance), then revert.
    c.act_and_wait(&s.uuid, Action::Stop).await;
    let mut biggest = s.clone();
    biggest.flavor = flavor("m1.medium", 4, 4096, 40);
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::Resize {
                instance: Box::new(biggest.clone()),
                old_flavor: bigger.flavor.clone(),
            },
        )
        .await;
    assert_eq!(u.vm_state.as_deref(), Some("resized"));
    assert_eq!(u.power_state, Some(PowerState::Shutdown));
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::RevertResize {
                old_flavor: bigger.flavor.clone(),
            },
        )
        .await;
    assert_eq!(u.expected_task_state, exp("resize_reverting"));
    assert_eq!(
        u.vm_state.as_deref(),
        Some("stopped"),
        "a stopped instance stays stopped"
    );
    assert_eq!(u.flavor.as_ref(), Some(&bigger.flavor));
    assert_eq!(c.driver.instance(&s.uuid).unwrap().flavor, bigger.flavor);

    // Confirming with nothing to confirm errors the instance (as Nova).
    let u = c.act_and_wait(&s.uuid, Action::ConfirmResize).await;
    assert_eq!(u.vm_state.as_deref(), Some("error"));
    assert!(u.fault.is_some());
}

#[tokio::test]
async fn rebuild_keeps_a_stopped_instance_stopped() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let mut rebuilt = s.clone();
    rebuilt.image.as_mut().unwrap().id = "img-2".to_owned();
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::Rebuild {
                instance: Box::new(rebuilt.clone()),
            },
        )
        .await;
    assert_eq!(u.expected_task_state, exp("rebuilding"));
    assert_eq!(u.vm_state.as_deref(), Some("active"));
    assert_eq!(u.power_state, Some(PowerState::Running));
    let info = c.driver.instance(&s.uuid).unwrap();
    assert_eq!(info.spec.image.unwrap().id, "img-2");

    c.act_and_wait(&s.uuid, Action::Stop).await;
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::Rebuild {
                instance: Box::new(rebuilt),
            },
        )
        .await;
    assert_eq!(u.vm_state.as_deref(), Some("stopped"));
    assert_eq!(u.power_state, Some(PowerState::Shutdown));
}

#[derive(Default)]
struct Uploads(Mutex<Vec<(String, HeaderMap, Vec<u8>)>>);

async fn image_service(uploads: Arc<Uploads>) -> String {
    let app = axum::Router::new().route(
        "/v2/images/{id}/file",
        axum::routing::put(
            move |Path(id): Path<String>, headers: HeaderMap, body: axum::body::Bytes| {
                let uploads = uploads.clone();
                async move {
                    if id == "broken" {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    uploads.0.lock().unwrap().push((id, headers, body.to_vec()));
                    StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn snapshot_uploads_the_disk_to_the_image_service() {
    let uploads = Arc::new(Uploads::default());
    let base = image_service(uploads.clone()).await;
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::Snapshot {
                image_id: "snap-1".to_owned(),
                upload_url: format!("{base}/v2/images/snap-1/file"),
            },
        )
        .await;
    assert_eq!(u.expected_task_state, exp("image_snapshot"));
    assert_eq!(u.task_state, Some(None));
    assert_eq!(u.vm_state, None);
    assert_eq!(u.event, Some(ActionEvent::success("compute_snapshot_instance")));
    let first = {
        let got = uploads.0.lock().unwrap();
        assert_eq!(got.len(), 1);
        let (id, headers, body) = &got[0];
        assert_eq!(id, "snap-1");
        assert_eq!(headers["x-auth-token"], "user-token");
        assert_eq!(headers["content-type"], "application/octet-stream");
        assert!(body.len() >= 4096);
        assert!(String::from_utf8_lossy(body).contains(&s.uuid));
        body.clone()
    };
    // Deterministic: the same instance gives the same bytes.
    c.act_and_wait(
        &s.uuid,
        Action::Snapshot {
            image_id: "snap-2".to_owned(),
            upload_url: format!("{base}/v2/images/snap-2/file"),
        },
    )
    .await;
    assert_eq!(uploads.0.lock().unwrap()[1].2, first);

    // An upload the image service refuses: fault, task reverted, the
    // instance keeps running.
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::Snapshot {
                image_id: "broken".to_owned(),
                upload_url: format!("{base}/v2/images/broken/file"),
            },
        )
        .await;
    assert_eq!(u.vm_state, None);
    assert_eq!(u.task_state, Some(None));
    assert!(u.fault.unwrap().message.contains("500"));
    assert_eq!(u.event.unwrap().result, "Error");
}

#[tokio::test]
async fn shelve_snapshots_then_offloads() {
    let uploads = Arc::new(Uploads::default());
    let base = image_service(uploads.clone()).await;
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::Shelve {
                snapshot: Some(Box::new(Action::Snapshot {
                    image_id: "shelved".to_owned(),
                    upload_url: format!("{base}/v2/images/shelved/file"),
                })),
            },
        )
        .await;
    assert_eq!(u.expected_task_state, exp("shelving"));
    assert_eq!(u.vm_state.as_deref(), Some("shelved_offloaded"));
    assert_eq!(u.task_state, Some(None));
    assert_eq!(u.power_state, Some(PowerState::NoState));
    assert!(c.driver.instance(&s.uuid).is_none());
    assert_eq!(uploads.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn terminate_deletes_and_a_late_build_is_not_run() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let u = c.act_and_wait(&s.uuid, Action::Terminate).await;
    assert_eq!(u.expected_task_state, exp("deleting"));
    assert!(u.deleted);
    assert_eq!(u.vm_state.as_deref(), Some("deleted"));
    assert_eq!(u.power_state, Some(PowerState::NoState));
    assert!(c.driver.instance(&s.uuid).is_none());

    // Terminating what the hypervisor no longer has succeeds.
    let u = c.act_and_wait(&s.uuid, Action::Terminate).await;
    assert!(u.deleted);
    assert!(u.fault.is_none());

    // A build for a deleted instance arriving late is dropped.
    let before = c.conductor.updates(&s.uuid).len();
    c.build(&s).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.conductor.updates(&s.uuid).len(), before);
    assert!(c.driver.instance(&s.uuid).is_none());
}

#[tokio::test]
async fn volume_and_interface_hooks_reach_the_driver() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::AttachVolume {
                volume_id: "vol-1".to_owned(),
                connection_info: json!({"driver_volume_type": "file", "data": {"path": "/tmp/v"}}),
                mountpoint: "/dev/vdb".to_owned(),
                volume_api: None,
            },
        )
        .await;
    assert_eq!(u.event, Some(ActionEvent::success("compute_attach_volume")));
    assert_eq!(u.task_state, None, "no task to touch");
    assert_eq!(u.expected_task_state, None);
    assert_eq!(u.vm_state, None);
    let i = c.driver.instance(&s.uuid).unwrap();
    assert_eq!(i.volumes["vol-1"].mountpoint, "/dev/vdb");

    // The same mountpoint twice is refused.
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::AttachVolume {
                volume_id: "vol-2".to_owned(),
                connection_info: json!({}),
                mountpoint: "/dev/vdb".to_owned(),
                volume_api: None,
            },
        )
        .await;
    assert_eq!(u.event.unwrap().result, "Error");

    c.act_and_wait(
        &s.uuid,
        Action::AttachInterface {
            port: json!({"id": "port-1", "mac_address": "fa:16:3e:00:00:01"}),
        },
    )
    .await;
    assert!(c.driver.instance(&s.uuid).unwrap().interfaces.contains_key("port-1"));
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::DetachInterface {
                port_id: "port-1".to_owned(),
            },
        )
        .await;
    assert_eq!(u.event, Some(ActionEvent::success("compute_detach_interface")));
    let u = c
        .act_and_wait(
            &s.uuid,
            Action::DetachVolume {
                volume_id: "vol-1".to_owned(),
                mountpoint: "/dev/vdb".to_owned(),
                volume_api: None,
            },
        )
        .await;
    assert_eq!(u.event, Some(ActionEvent::success("compute_detach_volume")));
    let i = c.driver.instance(&s.uuid).unwrap();
    assert!(i.volumes.is_empty() && i.interfaces.is_empty());
}

#[tokio::test]
async fn console_output_returns_the_last_lines() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let topic = rpc::agent_topic(HOST);
    let all: String = c
        .bus
        .call(
            &topic,
            "get_console_output",
            &ConsoleRequest {
                instance_uuid: s.uuid.clone(),
                length: None,
            },
            WAIT,
        )
        .await
        .unwrap();
    assert!(all.contains(&s.uuid));
    assert!(all.contains("vm login:"));
    let two: String = c
        .bus
        .call(
            &topic,
            "get_console_output",
            &ConsoleRequest {
                instance_uuid: s.uuid.clone(),
                length: Some(2),
            },
            WAIT,
        )
        .await
        .unwrap();
    // Nova's cut: `length` parts of the log split on newlines, so the
    // empty part after the last newline is one of them
    assert_eq!(two.split('\n').count(), 2, "{two:?}");
    assert!(all.ends_with(&two));

    let missing = c
        .bus
        .call::<_, String>(
            &topic,
            "get_console_output",
            &ConsoleRequest {
                instance_uuid: "nope".to_owned(),
                length: None,
            },
            WAIT,
        )
        .await
        .unwrap_err();
    match missing {
        bus::BusError::Remote(e) => assert_eq!(e.kind, "InstanceNotFound"),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn ping_reports_the_host() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    let r: HostReport = c
        .bus
        .call(&rpc::agent_topic(HOST), "ping", &json!({}), WAIT)
        .await
        .unwrap();
    assert_eq!(r.host, HOST);
    assert_eq!(r.binary, "nova-compute");
    assert_eq!(r.resources.vcpus, 1000);
    assert_eq!(r.resources.memory_mb, 1024 * 1024);
    assert_eq!(r.resources.local_gb, 100 * 1024);
    assert_eq!(r.resources.hypervisor_type, "fake");
    assert_eq!(r.instances, vec![s.uuid.clone()]);
}

#[tokio::test]
async fn reports_come_at_once_then_every_interval_until_stop() {
    let bus = Bus::in_process();
    let conductor = FakeConductor::with_records(vec![]);
    let _l = bus.listen(rpc::CONDUCTOR_TOPIC, conductor.clone()).await.unwrap();
    let config = AgentConfig {
        host: "cn-fast".to_owned(),
        availability_zone: Some("az1".to_owned()),
        report_interval: Duration::from_millis(100),
        version: "9.9".to_owned(),
        allocation: rpc::AllocationSettings {
            cpu_allocation_ratio: 16.0,
            ..Default::default()
        },
        ..AgentConfig::new("cn-fast")
    };
    let driver = Arc::new(FakeDriver::new().with_resources(8, 16384, 200));
    let agent = Agent::start(config, bus.clone(), driver).await.unwrap();
    // The first report is immediate.
    wait_until(|| (!conductor.reports().is_empty()).then_some(()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(550)).await;
    let reports = conductor.reports();
    assert!((3..=10).contains(&reports.len()), "{} reports", reports.len());
    let r = &reports[0];
    assert_eq!(r.host, "cn-fast");
    assert_eq!(r.availability_zone.as_deref(), Some("az1"));
    assert_eq!(r.version, "9.9");
    assert_eq!(
        (r.resources.vcpus, r.resources.memory_mb, r.resources.local_gb),
        (8, 16384, 200)
    );
    assert_eq!(r.allocation.cpu_allocation_ratio, 16.0, "the node's own ratio");
    assert_eq!(r.allocation.reserved_host_memory_mb, 512, "Nova's default reserve");

    agent.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_stop = conductor.reports().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(conductor.reports().len(), after_stop, "no report after stop");
    // Nobody answers on the agent's topic any more.
    let e = bus
        .call::<_, HostReport>(
            &rpc::agent_topic("cn-fast"),
            "ping",
            &json!({}),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, bus::BusError::Timeout { .. }), "{e}");
}

#[tokio::test]
async fn stop_abandons_operations_in_flight() {
    let c = cloud_with(FakeDriver::new().with_delay(Duration::from_millis(300)), vec![]).await;
    let s = spec();
    c.build(&s).await;
    c.conductor.wait_updates(&s.uuid, 1).await; // spawning
    c.agent.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.conductor.updates(&s.uuid).len(), 1, "no update after stop");
}

#[tokio::test]
async fn unknown_methods_are_refused() {
    let c = cloud().await;
    let e = c
        .bus
        .call::<_, serde_json::Value>(&rpc::agent_topic(HOST), "frobnicate", &json!({}), WAIT)
        .await
        .unwrap_err();
    assert!(matches!(e, bus::BusError::Remote(_)), "{e}");
}

/// Runs an action in a context with `token` and returns the update that
/// closes it.
async fn act_with_token(c: &Cloud, uuid: &str, action: Action, token: &str) -> rpc::InstanceUpdate {
    let skip = c.conductor.updates(uuid).len();
    let mut context = ctx();
    context.token = Some(token.to_owned());
    let req = rpc::ActionRequest {
        context,
        instance_uuid: uuid.to_owned(),
        action,
    };
    c.bus
        .cast(&rpc::agent_topic(HOST), "instance_action", &req)
        .await
        .unwrap();
    c.conductor.wait_event(uuid, skip).await
}

/// A block-storage stand-in that knows one volume of 5 GiB (what the
/// agent reads the new size from), and checks the forwarded token.
async fn volume_service() -> String {
    let app = axum::Router::new().route(
        "/v3/p1/volumes/{id}",
        axum::routing::get(|Path(id): Path<String>, headers: HeaderMap| async move {
            if headers.get("x-auth-token").and_then(|t| t.to_str().ok()) != Some("tok") {
                return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
            }
            if id != "vol-1" {
                return (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"itemNotFound": {"message": "no"}})),
                );
            }
            (
                StatusCode::OK,
                axum::Json(json!({"volume": {"id": id, "status": "in-use", "size": 5}})),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v3/p1")
}

#[tokio::test]
async fn extend_volume_resizes_the_disk_to_the_volumes_new_size() {
    let c = cloud().await;
    let s = spec();
    c.build_active(&s).await;
    c.act_and_wait(
        &s.uuid,
        Action::AttachVolume {
            volume_id: "vol-1".to_owned(),
            connection_info: json!({"driver_volume_type": "file", "data": {"path": "/tmp/v"}}),
            mountpoint: "/dev/vdb".to_owned(),
            volume_api: None,
        },
    )
    .await;
    let api = volume_service().await;
    let extend = |volume_id: &str, volume_api: Option<String>, new_size: Option<u64>| Action::ExtendVolume {
        volume_id: volume_id.to_owned(),
        volume_api,
        new_size,
    };

    // The size read from block storage, with the context's token.
    let u = act_with_token(&c, &s.uuid, extend("vol-1", Some(api.clone()), None), "tok").await;
    assert_eq!(u.event, Some(ActionEvent::success("compute_extend_volume")));
    assert_eq!((u.task_state, u.vm_state, u.expected_task_state), (None, None, None));
    assert_eq!(c.driver.instance(&s.uuid).unwrap().volumes["vol-1"].size, Some(5 << 30));

    // Block storage refusing (a bad token) fails the event, the disk kept.
    let u = act_with_token(&c, &s.uuid, extend("vol-1", Some(api.clone()), None), "bad").await;
    assert_eq!(u.event.as_ref().unwrap().result, "Error", "{u:?}");
    assert!(u.fault.is_some());
    assert_eq!(c.driver.instance(&s.uuid).unwrap().volumes["vol-1"].size, Some(5 << 30));

    // A size given outright; a smaller one is refused by the driver.
    let u = c.act_and_wait(&s.uuid, extend("vol-1", None, Some(6 << 30))).await;
    assert_eq!(u.event, Some(ActionEvent::success("compute_extend_volume")));
    assert_eq!(c.driver.instance(&s.uuid).unwrap().volumes["vol-1"].size, Some(6 << 30));
    let u = c.act_and_wait(&s.uuid, extend("vol-1", None, Some(1 << 30))).await;
    assert_eq!(u.event.unwrap().result, "Error");

    // A volume the guest does not have: logged, as Nova does, not failed.
    let u = act_with_token(&c, &s.uuid, extend("vol-9", Some(api), None), "tok").await;
    assert_eq!(u.event, Some(ActionEvent::success("compute_extend_volume")));
    assert_eq!(c.driver.instance(&s.uuid).unwrap().volumes.len(), 1);
}
