//! The compute manager (Nova's `ComputeManager`): turns builds and
//! instance actions into driver calls, and their outcomes into the
//! `vm_state`/`task_state`/`power_state` updates Nova would make.
//!
//! Operations on one instance run one at a time (Nova's per-instance
//! lock); operations on different instances run concurrently.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bus::{Bus, BusError};
use serde::Serialize;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::agent::AgentConfig;
use crate::driver::{Driver, DriverError};
use crate::rpc::{
    self, Action, ActionEvent, ActionRequest, BuildFailed, BuildRequest, ConsoleRequest, Diagnostics, Fault,
    HostReport, InstanceUpdate, PowerState, RequestContext, task_states, vm_states,
};

/// The pause between two failed attempts of an instance's cast (each
/// attempt itself retries for the bus's `publish_retry`).
const CAST_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) struct Manager {
    pub(crate) config: AgentConfig,
    pub(crate) bus: Bus,
    pub(crate) driver: Arc<dyn Driver>,
    pub(crate) stopped: AtomicBool,
    /// Set once the start-up reconciliation is done.
    pub(crate) reconciled: tokio::sync::watch::Sender<bool>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Instances the controller has sent work for since start: the
    /// reconciliation leaves them alone (its view may predate the work).
    touched: Mutex<HashSet<String>>,
    /// Instances whose build must not run any more: terminated since
    /// start, or given up by the start-up reconciliation. A build that
    /// arrives late for one of them (still queued, or delivered again) is
    /// not run.
    no_build: Mutex<HashSet<String>>,
    /// Builds (instance, attempt, request id) received since start: the bus delivers
    /// at least once, and a second delivery of a build is not run again.
    builds: Mutex<HashSet<(String, u32, String)>>,
    work: Mutex<JoinSet<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Nova's fault code for a driver error.
fn fault(e: &DriverError) -> Fault {
    let code = match e {
        DriverError::NotFound(_) => 404,
        DriverError::InvalidState { .. } => 409,
        DriverError::ImageUnacceptable { .. } => 400,
        DriverError::Failed(_) => 500,
        DriverError::NotSupported(_) => 501,
    };
    Fault {
        code,
        message: e.to_string(),
        details: Some(format!("{}: {e}", e.kind())),
    }
}

/// `vm_state` that matches a power state after an operation that leaves
/// the instance usable (rebuild, confirm/revert resize).
pub(crate) fn settled_vm_state(power: PowerState) -> &'static str {
    match power {
        PowerState::Shutdown | PowerState::Crashed | PowerState::NoState => vm_states::STOPPED,
        PowerState::Paused => vm_states::PAUSED,
        PowerState::Suspended => vm_states::SUSPENDED,
        PowerState::Running => vm_states::ACTIVE,
    }
}

/// The last `length` lines of `text` (all of it when `None`), as Nova's
/// compute manager cuts them: split on newlines, so a log ending in one
/// gives an empty last line, and clients count `length` parts.
pub(crate) fn tail(text: &str, length: Option<u64>) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    match length.and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n < lines.len() => lines[lines.len() - n..].join("\n"),
        _ => text.to_owned(),
    }
}

impl Manager {
    pub(crate) fn new(config: AgentConfig, bus: Bus, driver: Arc<dyn Driver>) -> Manager {
        Manager {
            config,
            bus,
            driver,
            stopped: AtomicBool::new(false),
            reconciled: tokio::sync::watch::channel(false).0,
            locks: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashSet::new()),
            no_build: Mutex::new(HashSet::new()),
            builds: Mutex::new(HashSet::new()),
            work: Mutex::new(JoinSet::new()),
        }
    }

    /// Casts to the conductor, unless the agent was stopped (a killed
    /// agent says nothing more). While the bus cannot take the message
    /// (the broker is away longer than a cast's own retries), an instance's
    /// update or failed build is tried again until it goes or the agent
    /// stops, as oslo.messaging retries a cast forever by default: losing
    /// it would leave the instance in its task for good. The instance's
    /// lock is held meanwhile, so its updates keep their order. A heartbeat
    /// is not tried again; the next one replaces it.
    pub(crate) async fn cast<T: Serialize>(&self, method: &str, args: &T) {
        let mut failures = 0u32;
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                tracing::debug!(method, "agent stopped; not casting");
                return;
            }
            match self.bus.cast(rpc::CONDUCTOR_TOPIC, method, args).await {
                Ok(()) => return,
                Err(e @ BusError::Transport(_)) if method != "report_state" => {
                    failures += 1;
                    tracing::error!(method, error = %e, failures, "cast to the conductor failed; trying again");
                    tokio::time::sleep(CAST_RETRY_PAUSE).await;
                }
                Err(e) => {
                    tracing::error!(method, error = %e, "cast to the conductor failed");
                    return;
                }
            }
        }
    }

    pub(crate) async fn update(&self, update: InstanceUpdate) {
        tracing::info!(
            vm_state = ?update.vm_state,
            task_state = ?update.task_state,
            power_state = ?update.power_state,
            deleted = update.deleted,
            "instance_update"
        );
        self.cast("instance_update", &update).await;
    }

    pub(crate) fn new_update(&self, uuid: &str) -> InstanceUpdate {
        InstanceUpdate::new(uuid, &self.config.host)
    }

    pub(crate) fn was_touched(&self, uuid: &str) -> bool {
        lock(&self.touched).contains(uuid)
    }

    /// From now on, a build of `uuid` that arrives is not run.
    pub(crate) fn refuse_builds(&self, uuid: &str) {
        lock(&self.no_build).insert(uuid.to_owned());
    }

    pub(crate) async fn lock_instance(&self, uuid: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = lock(&self.locks).entry(uuid.to_owned()).or_default().clone();
        m.lock_owned().await
    }

    fn spawn_work(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let mut work = lock(&self.work);
        while let Some(done) = work.try_join_next() {
            if let Err(e) = done
                && e.is_panic()
            {
                tracing::error!(error = %e, "compute agent operation panicked");
            }
        }
        work.spawn(fut);
    }

    pub(crate) fn abort_work(&self) {
        lock(&self.work).abort_all();
    }

    pub(crate) async fn host_report(&self) -> Result<HostReport, DriverError> {
        let resources = self.driver.host_resources().await?;
        let instances = self
            .driver
            .list_instances()
            .await?
            .into_iter()
            .map(|i| i.uuid)
            .collect();
        Ok(HostReport {
            host: self.config.host.clone(),
            binary: "nova-compute".to_owned(),
            availability_zone: self.config.availability_zone.clone(),
            resources,
            instances,
            version: self.config.version.clone(),
            allocation: self.config.allocation.clone(),
        })
    }

    pub(crate) async fn console_output(&self, req: &ConsoleRequest) -> Result<String, DriverError> {
        let text = self.driver.console_output(&req.instance_uuid).await?;
        Ok(tail(&text, req.length))
    }

    /// The guest's diagnostics (Nova's `get_instance_diagnostics`): only
    /// of a guest the driver reports running.
    pub(crate) async fn diagnostics(&self, uuid: &str) -> Result<Diagnostics, DriverError> {
        let state = self.driver.get_info(uuid).await?.power_state;
        if state != PowerState::Running {
            return Err(DriverError::InvalidState {
                uuid: uuid.to_owned(),
                state,
                operation: "get_diagnostics".to_owned(),
            });
        }
        self.driver.get_diagnostics(uuid).await
    }

    /// The driver's power state of an instance; `NoState` when it has
    /// none (Nova's `_get_power_state`).
    pub(crate) async fn power_state(&self, uuid: &str) -> PowerState {
        match self.driver.get_info(uuid).await {
            Ok(info) => info.power_state,
            Err(_) => PowerState::NoState,
        }
    }

    // ----- build -----------------------------------------------------

    pub(crate) fn submit_build(self: &Arc<Self>, req: BuildRequest) {
        let uuid = req.instance.uuid.clone();
        // The request id tells a build delivered again from a new build of
        // the same instance (an unshelve builds it again, from attempt 1).
        let key = (uuid.clone(), req.attempt, req.context.request_id.clone());
        if !lock(&self.builds).insert(key) {
            tracing::info!(instance = %uuid, attempt = req.attempt, "build delivered again; already taken, ignored");
            return;
        }
        lock(&self.touched).insert(uuid.clone());
        let span =
            tracing::info_span!("build", instance = %uuid, request_id = %req.context.request_id, attempt = req.attempt);
        let me = self.clone();
        self.spawn_work(async move { me.build(req).await }.instrument(span));
    }

    async fn build(&self, req: BuildRequest) {
        let uuid = req.instance.uuid.clone();
        let _guard = self.lock_instance(&uuid).await;
        if lock(&self.no_build).contains(&uuid) {
            tracing::info!("instance was deleted or given up before its build ran; not building");
            return;
        }
        if self.driver.get_info(&uuid).await.is_ok() {
            // Only a build delivered again (by a bus that redelivers after
            // a connection loss, to an agent restarted since) finds its
            // instance there: it must neither spawn again nor treat the
            // running guest as the leftovers of a failed spawn. The outcome
            // is reported again, which changes nothing if it was received.
            tracing::info!("instance already on this hypervisor: its build was delivered again; not building");
            let mut u = self.new_update(&uuid);
            u.vm_state = Some(vm_states::ACTIVE.to_owned());
            u.task_state = Some(None);
            u.power_state = Some(self.power_state(&uuid).await);
            u.expected_task_state = Some(Some(task_states::SPAWNING.to_owned()));
            self.update(u).await;
            return;
        }
        tracing::info!(flavor = %req.instance.flavor.name, "building instance");
        let mut u = self.new_update(&uuid);
        u.vm_state = Some(vm_states::BUILDING.to_owned());
        u.task_state = Some(Some(task_states::SPAWNING.to_owned()));
        u.expected_task_state = Some(Some(task_states::SCHEDULING.to_owned()));
        self.update(u).await;

        match self.driver.spawn(&req.context, &req.instance).await {
            Ok(()) => {
                tracing::info!("instance spawned");
                let mut u = self.new_update(&uuid);
                u.vm_state = Some(vm_states::ACTIVE.to_owned());
                u.task_state = Some(None);
                u.power_state = Some(self.power_state(&uuid).await);
                u.expected_task_state = Some(Some(task_states::SPAWNING.to_owned()));
                u.event = Some(ActionEvent::success(rpc::BUILD_EVENT));
                self.update(u).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "build failed; asking to re-schedule");
                // Nova cleans up what a failed spawn left on the host
                // before re-scheduling.
                // (destroy also removes what a spawn left before the
                // instance existed for the hypervisor.)
                match self.driver.destroy(&uuid).await {
                    Ok(()) | Err(DriverError::NotFound(_)) => {}
                    Err(e) => tracing::error!(error = %e, "cannot clean up after the failed build"),
                }
                let failed = BuildFailed {
                    instance_uuid: uuid.clone(),
                    host: self.config.host.clone(),
                    attempt: req.attempt,
                    reason: format!("{}: {e}", e.kind()),
                    retryable: e.retryable(),
                };
                self.cast("build_failed", &failed).await;
            }
        }
    }

    // ----- actions ---------------------------------------------------

    pub(crate) fn submit_action(self: &Arc<Self>, req: ActionRequest) {
        let uuid = req.instance_uuid.clone();
        lock(&self.touched).insert(uuid.clone());
        let span = tracing::info_span!("action", instance = %uuid, request_id = %req.context.request_id,
            event = req.action.event_name());
        let me = self.clone();
        self.spawn_work(
            async move {
                let _guard = me.lock_instance(&req.instance_uuid).await;
                let expected = req.action.task_state().map(|t| Some(t.to_owned()));
                me.perform(&req.context, &req.instance_uuid, &req.action, expected)
                    .await;
            }
            .instrument(span),
        );
    }

    /// Runs `action` on the instance (its lock held by the caller) and
    /// casts the resulting update, which applies only if the instance's
    /// task is still `expected` (when given).
    pub(crate) async fn perform(
        &self,
        ctx: &RequestContext,
        uuid: &str,
        action: &Action,
        expected: Option<Option<String>>,
    ) {
        tracing::info!("running {}", action.event_name());
        let event = action.event_name();
        let outcome = self.run(ctx, uuid, action).await;
        let power = self.power_state(uuid).await;
        let mut u = self.new_update(uuid);
        u.expected_task_state = expected;
        u.power_state = Some(power);
        match outcome {
            Ok(()) => {
                tracing::info!(power_state = ?power, "{event} done");
                u.event = Some(ActionEvent::success(event));
                if action.task_state().is_some() {
                    u.task_state = Some(None);
                }
                match action {
                    Action::Stop => u.vm_state = Some(vm_states::STOPPED.to_owned()),
                    Action::Start | Action::Reboot { .. } | Action::Unpause | Action::Resume => {
                        u.vm_state = Some(vm_states::ACTIVE.to_owned())
                    }
                    Action::Pause => u.vm_state = Some(vm_states::PAUSED.to_owned()),
                    Action::Suspend => u.vm_state = Some(vm_states::SUSPENDED.to_owned()),
                    Action::Rebuild { .. } | Action::ConfirmResize => {
                        u.vm_state = Some(settled_vm_state(power).to_owned())
                    }
                    Action::Resize { instance, .. } => {
                        u.vm_state = Some(vm_states::RESIZED.to_owned());
                        u.flavor = Some(instance.flavor.clone());
                    }
                    Action::RevertResize { old_flavor } => {
                        u.vm_state = Some(settled_vm_state(power).to_owned());
                        u.flavor = Some(old_flavor.clone());
                    }
                    Action::Shelve { .. } => u.vm_state = Some(vm_states::SHELVED_OFFLOADED.to_owned()),
                    Action::Rescue { .. } => u.vm_state = Some(vm_states::RESCUED.to_owned()),
                    Action::Unrescue => u.vm_state = Some(vm_states::ACTIVE.to_owned()),
                    // The controller moves a cold migration on from these
                    // updates and sets the states itself.
                    Action::MigrateDiskAndPowerOff { instance, .. } => {
                        u.task_state = Some(Some(task_states::RESIZE_MIGRATED.to_owned()));
                        // The flavor the instance has on the destination.
                        u.flavor = Some(instance.flavor.clone());
                    }
                    Action::FinishMigration { .. } => u.vm_state = Some(vm_states::RESIZED.to_owned()),
                    Action::FinishRevertMigration => u.vm_state = Some(settled_vm_state(power).to_owned()),
                    Action::ConfirmMigration | Action::RevertMigration => {}
                    Action::Terminate => {
                        u.vm_state = Some(vm_states::DELETED.to_owned());
                        u.deleted = true;
                    }
                    Action::Snapshot { .. }
                    | Action::AttachVolume { .. }
                    | Action::DetachVolume { .. }
                    | Action::ExtendVolume { .. }
                    | Action::AttachInterface { .. }
                    | Action::DetachInterface { .. } => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, power_state = ?power, "{event} failed");
                u.event = Some(ActionEvent::error(event, format!("{}: {e}", e.kind())));
                u.fault = Some(fault(&e));
                if action.task_state().is_some() {
                    u.task_state = Some(None);
                }
                // Nova errors the instance when a failure may have left it
                // half-changed (rebuild, resize and its confirm/revert,
                // terminate, a reboot that left it not running); otherwise
                // it only reverts the task and records the fault.
                let error_out = match action {
                    Action::Reboot { .. } => power != PowerState::Running,
                    Action::Rebuild { .. }
                    | Action::Resize { .. }
                    | Action::ConfirmResize
                    | Action::RevertResize { .. }
                    | Action::Rescue { .. }
                    | Action::Unrescue
                    | Action::FinishMigration { .. }
                    | Action::FinishRevertMigration
                    | Action::Terminate => true,
                    _ => false,
                };
                if error_out {
                    u.vm_state = Some(vm_states::ERROR.to_owned());
                }
            }
        }
        self.update(u).await;
    }

    async fn run(&self, ctx: &RequestContext, uuid: &str, action: &Action) -> Result<(), DriverError> {
        let d = &self.driver;
        match action {
            Action::Stop => d.power_off(uuid).await,
            Action::Start => d.power_on(uuid).await,
            Action::Reboot { hard } => d.reboot(uuid, *hard).await,
            Action::Pause => d.pause(uuid).await,
            Action::Unpause => d.unpause(uuid).await,
            Action::Suspend => d.suspend(uuid).await,
            Action::Resume => d.resume(uuid).await,
            Action::Rebuild { instance } => {
                check_uuid(uuid, &instance.uuid)?;
                d.rebuild(ctx, instance).await
            }
            Action::Resize { instance, old_flavor } => {
                check_uuid(uuid, &instance.uuid)?;
                d.resize(instance, old_flavor).await
            }
            Action::ConfirmResize => d.confirm_resize(uuid).await,
            Action::RevertResize { old_flavor } => d.revert_resize(uuid, old_flavor).await,
            Action::Snapshot { upload_url, image_id } => {
                let bytes = d.snapshot(ctx, uuid, upload_url).await?;
                tracing::info!(image_id = %image_id, bytes, "snapshot uploaded");
                Ok(())
            }
            Action::Shelve { snapshot } => {
                match snapshot.as_deref() {
                    Some(Action::Snapshot { image_id, upload_url }) => {
                        let bytes = d.snapshot(ctx, uuid, upload_url).await?;
                        tracing::info!(image_id = %image_id, bytes, "shelve snapshot uploaded");
                    }
                    Some(other) => {
                        return Err(DriverError::Failed(format!(
                            "shelve can only snapshot, not {}",
                            other.event_name()
                        )));
                    }
                    None => {}
                }
                d.power_off(uuid).await?;
                d.destroy(uuid).await
            }
            Action::Terminate => {
                self.refuse_builds(uuid);
                match d.destroy(uuid).await {
                    // Already gone from the hypervisor: the delete is done.
                    Ok(()) | Err(DriverError::NotFound(_)) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Action::AttachVolume {
                volume_id,
                connection_info,
                mountpoint,
                volume_api,
            } => match volume_api {
                Some(api) => self.attach_volume(ctx, uuid, volume_id, mountpoint, api).await,
                None => d.attach_volume(uuid, volume_id, connection_info, mountpoint).await,
            },
            Action::DetachVolume {
                volume_id,
                mountpoint,
                volume_api,
            } => match volume_api {
                Some(api) => self.detach_volume(ctx, uuid, volume_id, mountpoint, api).await,
                None => d.detach_volume(uuid, volume_id, mountpoint).await,
            },
            Action::ExtendVolume {
                volume_id,
                volume_api,
                new_size,
            } => {
                self.extend_volume(ctx, uuid, volume_id, volume_api.as_deref(), *new_size)
                    .await
            }
            Action::AttachInterface { port } => d.attach_interface(uuid, port).await,
            Action::DetachInterface { port_id } => d.detach_interface(uuid, port_id).await,
            Action::Rescue { instance, rescue_image } => {
                check_uuid(uuid, &instance.uuid)?;
                d.rescue(ctx, instance, rescue_image).await
            }
            Action::Unrescue => d.unrescue(uuid).await,
            Action::MigrateDiskAndPowerOff { instance, dest_host } => {
                check_uuid(uuid, &instance.uuid)?;
                d.migrate_disk_and_power_off(instance, dest_host).await
            }
            Action::FinishMigration { instance, power_on } => {
                check_uuid(uuid, &instance.uuid)?;
                d.finish_migration(ctx, instance, *power_on).await
            }
            // The guest left on the source, or created on the destination,
            // goes; already gone is fine.
            Action::ConfirmMigration | Action::RevertMigration => match d.destroy(uuid).await {
                Ok(()) | Err(DriverError::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            },
            Action::FinishRevertMigration => d.finish_revert_migration(uuid).await,
        }
    }
}

fn check_uuid(target: &str, spec: &str) -> Result<(), DriverError> {
    if target != spec {
        return Err(DriverError::Failed(format!(
            "the request is for instance {target} but carries the spec of {spec}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn tail_keeps_the_last_lines() {
        let text = "a\nb\nc\n";
        assert_eq!(tail(text, None), "a\nb\nc\n");
        // Nova's cut: the empty part after the last newline counts
        assert_eq!(tail(text, Some(2)), "c\n");
        assert_eq!(tail(text, Some(3)), "b\nc\n");
        assert_eq!(tail(text, Some(10)), "a\nb\nc\n");
        assert_eq!(tail(text, Some(0)), "");
        assert_eq!(tail("", Some(3)), "");
    }
}
