//! A fake conductor for the agent's tests: it answers
//! `instances_on_host` from a list the test sets and records every cast.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bus::{Bus, Handler, Listener, RemoteError};
use compute_agent::rpc::{
    self, Action, ActionRequest, BuildFailed, BuildRequest, FlavorSpec, HostReport, ImageSpec, InstanceRecord,
    InstanceSpec, InstanceUpdate, PowerState, RequestContext,
};
use compute_agent::{Agent, AgentConfig, FakeDriver};
use serde_json::Value;

pub const WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct FakeConductor {
    pub records: Mutex<Vec<InstanceRecord>>,
    pub casts: Mutex<Vec<(String, Value)>>,
    pub queries: AtomicUsize,
}

#[async_trait::async_trait]
impl Handler for FakeConductor {
    async fn handle(&self, method: &str, args: Value) -> Result<Value, RemoteError> {
        match method {
            "instances_on_host" => {
                self.queries.fetch_add(1, Ordering::SeqCst);
                let records = self.records.lock().unwrap().clone();
                Ok(serde_json::to_value(records).unwrap())
            }
            "report_state" | "instance_update" | "build_failed" => {
                self.casts.lock().unwrap().push((method.to_owned(), args));
                Ok(Value::Null)
            }
            other => Err(RemoteError::new("UnknownMethod", other)),
        }
    }
}

impl FakeConductor {
    pub fn with_records(records: Vec<InstanceRecord>) -> Arc<FakeConductor> {
        Arc::new(FakeConductor {
            records: Mutex::new(records),
            ..Default::default()
        })
    }

    pub fn casts_of(&self, method: &str) -> Vec<Value> {
        self.casts
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn updates(&self, uuid: &str) -> Vec<InstanceUpdate> {
        self.casts_of("instance_update")
            .into_iter()
            .map(|v| serde_json::from_value::<InstanceUpdate>(v).unwrap())
            .filter(|u| u.instance_uuid == uuid)
            .collect()
    }

    pub fn reports(&self) -> Vec<HostReport> {
        self.casts_of("report_state")
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect()
    }

    pub fn build_failures(&self) -> Vec<BuildFailed> {
        self.casts_of("build_failed")
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect()
    }

    /// Waits until `n` updates of `uuid` have come, and returns them.
    pub async fn wait_updates(&self, uuid: &str, n: usize) -> Vec<InstanceUpdate> {
        wait_until(|| {
            let u = self.updates(uuid);
            (u.len() >= n).then_some(u)
        })
        .await
        .unwrap_or_else(|| panic!("fewer than {n} updates of {uuid}: {:?}", self.updates(uuid)))
    }

    /// The first update of `uuid` after the first `skip` that has an event.
    pub async fn wait_event(&self, uuid: &str, skip: usize) -> InstanceUpdate {
        wait_until(|| self.updates(uuid).into_iter().skip(skip).find(|u| u.event.is_some()))
            .await
            .unwrap_or_else(|| panic!("no event update of {uuid}: {:?}", self.updates(uuid)))
    }
}

pub async fn wait_until<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > WAIT {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub struct Cloud {
    pub bus: Bus,
    pub conductor: Arc<FakeConductor>,
    pub driver: Arc<FakeDriver>,
    pub agent: Agent,
    pub _listener: Listener,
}

pub const HOST: &str = "cn1";

pub async fn cloud_with(driver: FakeDriver, records: Vec<InstanceRecord>) -> Cloud {
    let bus = Bus::in_process();
    let conductor = FakeConductor::with_records(records);
    let listener = bus.listen(rpc::CONDUCTOR_TOPIC, conductor.clone()).await.unwrap();
    let driver = Arc::new(driver);
    let agent = Agent::start(AgentConfig::new(HOST), bus.clone(), driver.clone())
        .await
        .unwrap();
    agent.reconciled().await;
    Cloud {
        bus,
        conductor,
        driver,
        agent,
        _listener: listener,
    }
}

pub async fn cloud() -> Cloud {
    cloud_with(FakeDriver::new(), vec![]).await
}

impl Cloud {
    pub async fn build(&self, spec: &InstanceSpec) {
        let req = BuildRequest {
            context: ctx(),
            instance: spec.clone(),
            attempt: 1,
        };
        self.bus
            .cast(&rpc::agent_topic(HOST), "build_and_run_instance", &req)
            .await
            .unwrap();
    }

    /// Builds and waits until it is active; returns the number of updates
    /// of the instance so far.
    pub async fn build_active(&self, spec: &InstanceSpec) -> usize {
        self.build(spec).await;
        let u = self.conductor.wait_event(&spec.uuid, 0).await;
        assert_eq!(u.vm_state.as_deref(), Some("active"));
        self.conductor.updates(&spec.uuid).len()
    }

    pub async fn act(&self, uuid: &str, action: Action) {
        let req = ActionRequest {
            context: ctx(),
            instance_uuid: uuid.to_owned(),
            action,
        };
        self.bus
            .cast(&rpc::agent_topic(HOST), "instance_action", &req)
            .await
            .unwrap();
    }

    /// Runs an action and returns the update that closes it.
    pub async fn act_and_wait(&self, uuid: &str, action: Action) -> InstanceUpdate {
        let skip = self.conductor.updates(uuid).len();
        self.act(uuid, action).await;
        self.conductor.wait_event(uuid, skip).await
    }
}

pub fn ctx() -> RequestContext {
    RequestContext {
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        token: Some("user-token".to_owned()),
        project_id: "p1".to_owned(),
        user_id: "u1".to_owned(),
    }
}

pub fn flavor(name: &str, vcpus: u32, memory_mb: u64, root_gb: u64) -> FlavorSpec {
    FlavorSpec {
        id: name.to_owned(),
        name: name.to_owned(),
        vcpus,
        memory_mb,
        root_gb,
        ephemeral_gb: 0,
        swap_mb: 0,
        extra_specs: BTreeMap::new(),
    }
}

pub fn spec() -> InstanceSpec {
    let uuid = uuid::Uuid::new_v4().to_string();
    InstanceSpec {
        name: format!("instance-{}", &uuid[..8]),
        uuid,
        display_name: "vm".to_owned(),
        hostname: "vm".to_owned(),
        project_id: "p1".to_owned(),
        user_id: "u1".to_owned(),
        flavor: flavor("m1.tiny", 1, 512, 1),
        image: Some(ImageSpec {
            id: "img-1".to_owned(),
            name: Some("cirros".to_owned()),
            disk_format: Some("qcow2".to_owned()),
            container_format: Some("bare".to_owned()),
            size: Some(1024),
            min_disk: 0,
            min_ram: 0,
            properties: BTreeMap::new(),
            file_url: None,
        }),
        user_data: Some("#!/bin/sh\necho hi\n".to_owned()),
        key_name: Some("mykey".to_owned()),
        key_data: Some("ssh-ed25519 AAAA test".to_owned()),
        config_drive: false,
        metadata: BTreeMap::new(),
        availability_zone: None,
        network_info: vec![],
        block_device_info: vec![],
    }
}

pub fn record(
    spec: &InstanceSpec,
    vm_state: &str,
    task_state: Option<&str>,
    power_state: PowerState,
) -> InstanceRecord {
    InstanceRecord {
        spec: spec.clone(),
        vm_state: vm_state.to_owned(),
        task_state: task_state.map(str::to_owned),
        power_state,
    }
}
