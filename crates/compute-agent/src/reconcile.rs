//! Start-up reconciliation (Nova's `init_host`: `_init_instance` for each
//! instance the controller places here, `_sync_instance_power_state`, and
//! the "running deleted instance" cleanup).
//!
//! The agent compares the controller's records (`instances_on_host`) with
//! what the driver has:
//!
//! | controller's record | what the agent does |
//! |---|---|
//! | `soft-delete`, or `error` (unless `deleting`/`resize_migrating`) | nothing but the power state |
//! | `deleted` | finishes the delete (destroy, `deleted: true`) |
//! | `building`, or task `scheduling`/`networking`/`block_device_mapping`/`spawning` | destroys what the driver has of it, `error`, no task, with a fault: the build was cut short (the conductor releases its claim; a build message for it that comes later is not run) |
//! | `active`/`stopped` with a `rebuilding` task | `error`, no task, with a fault |
//! | task `rescuing`/`unrescuing` | `error`, no task, with a fault (a hard reboot then boots the instance's own disk) |
//! | task `image_*` or `resize_prep` | clears the task |
//! | task `deleting` | finishes the delete |
//! | task `rebooting*` | reboots again (hard unless the guest runs), or clears the task if a started reboot left it running |
//! | task `pausing`/`unpausing` and the guest runs | `active`, no task |
//! | task `unpausing`/`resuming` and the guest is still paused/suspended | unpauses/resumes |
//! | task `pausing`/`suspending` already done by the driver | `paused`/`suspended`, no task |
//! | task `powering-off`/`powering-on` | stops/starts again |
//! | task `resize_migrating`/`resize_migrated`/`resize_finish` | reverts the resize (if the driver got that far), no task |
//! | task `resize_confirming`/`resize_reverting` | finishes the confirm/revert |
//! | other tasks (`shelving*`, `migrating`, …) | clears the task |
//!
//! Then, for instances with no task, the power state is synced: a mismatch
//! updates `power_state`; an `active` or `paused` instance whose guest shut
//! down is stopped (Nova calls the stop API); a `stopped` instance found
//! running is powered off. An instance the driver no longer has keeps its
//! `vm_state` with power state `NOSTATE` (Nova: "instance is unexpectedly
//! not found. Ignore."; a hard reboot re-creates it on real drivers).
//!
//! An instance the driver has but the controller does not place here is
//! destroyed (Nova's `running_deleted_instance_action = reap`).
//!
//! Instances the controller sent work for since the agent started are left
//! alone: the records may predate that work.

use std::collections::{BTreeMap, HashSet};

use tracing::Instrument;

use crate::driver::{DriverError, DriverInstance};
use crate::manager::{Manager, settled_vm_state};
use crate::rpc::{
    self, Action, ActionEvent, Fault, InstanceRecord, InstanceUpdate, PowerState, RequestContext, task_states::*,
    vm_states,
};

impl Manager {
    pub(crate) async fn reconcile(&self, records: Vec<InstanceRecord>) {
        let driver_instances = match self.driver.list_instances().await {
            Ok(list) => list,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the driver's instances; skipping reconciliation");
                self.reconciled.send_replace(true);
                return;
            }
        };
        let on_driver: BTreeMap<String, PowerState> = driver_instances
            .iter()
            .map(|DriverInstance { uuid, power_state }| (uuid.clone(), *power_state))
            .collect();
        tracing::info!(
            controller = records.len(),
            driver = on_driver.len(),
            "reconciling the controller's instances with the driver's"
        );
        let known: HashSet<&str> = records.iter().map(|r| r.spec.uuid.as_str()).collect();
        for record in &records {
            let uuid = record.spec.uuid.as_str();
            if self.was_touched(uuid) {
                continue;
            }
            let _guard = self.lock_instance(uuid).await;
            let span = tracing::info_span!("reconcile", instance = %uuid);
            self.reconcile_one(record, on_driver.get(uuid).copied())
                .instrument(span)
                .await;
        }
        for uuid in on_driver.keys() {
            if known.contains(uuid.as_str()) || self.was_touched(uuid) {
                continue;
            }
            let _guard = self.lock_instance(uuid).await;
            tracing::warn!(instance = %uuid, "destroying an instance the controller does not place on this host");
            if let Err(e) = self.driver.destroy(uuid).await {
                tracing::error!(instance = %uuid, error = %e, "cannot destroy the unknown instance");
            }
        }
        self.reconciled.send_replace(true);
        tracing::info!("reconciliation done");
    }

    async fn reconcile_one(&self, record: &InstanceRecord, on_driver: Option<PowerState>) {
        let uuid = record.spec.uuid.as_str();
        let vm = record.vm_state.as_str();
        let task = record.task_state.as_deref();
        let current = on_driver.unwrap_or(PowerState::NoState);
        let ctx = RequestContext {
            request_id: format!("req-{}", uuid::Uuid::new_v4()),
            token: None,
            project_id: record.spec.project_id.clone(),
            user_id: record.spec.user_id.clone(),
        };
        let expected = Some(task.map(str::to_owned));

        if vm == vm_states::SOFT_DELETED
            || (vm == vm_states::ERROR && !matches!(task, Some(RESIZE_MIGRATING) | Some(DELETING)))
        {
            self.sync_power_state(record, current).await;
            return;
        }
        if vm == vm_states::DELETED || task == Some(DELETING) {
            tracing::info!("the delete was not finished; finishing it");
            self.perform(&ctx, uuid, &Action::Terminate, expected).await;
            return;
        }
        if vm == vm_states::BUILDING || matches!(task, Some(SCHEDULING | BLOCK_DEVICE_MAPPING | NETWORKING | SPAWNING))
        {
            tracing::warn!("the build was cut short by the agent's restart; setting the instance to ERROR");
            // As after a failed spawn: nothing of the build stays on the
            // host (the controller releases its claim), and its build
            // message, should it still be queued, is not run.
            self.refuse_builds(uuid);
            let mut current = current;
            if on_driver.is_some() {
                match self.driver.destroy(uuid).await {
                    Ok(()) | Err(DriverError::NotFound(_)) => current = PowerState::NoState,
                    Err(e) => tracing::error!(error = %e, "cannot clean up the interrupted build"),
                }
            }
            let message = "the compute agent stopped before the instance finished building";
            let mut u = self.error_update(record, current, message);
            u.event = Some(ActionEvent::error(
                rpc::BUILD_EVENT,
                format!("BuildAbortException: {message}"),
            ));
            self.update(u).await;
            return;
        }
        if matches!(vm, vm_states::ACTIVE | vm_states::STOPPED)
            && matches!(task, Some(REBUILDING | REBUILD_BLOCK_DEVICE_MAPPING | REBUILD_SPAWNING))
        {
            tracing::warn!("the rebuild was cut short by the agent's restart; setting the instance to ERROR");
            self.error_out(
                record,
                current,
                "the compute agent stopped before the instance finished rebuilding",
            )
            .await;
            return;
        }
        if matches!(task, Some(RESCUING | UNRESCUING)) {
            // Whether the guest booted its rescue disk is not known here;
            // from ERROR a hard reboot boots the instance's own disk again.
            tracing::warn!(
                "the rescue or unrescue was cut short by the agent's restart; setting the instance to ERROR"
            );
            self.error_out(
                record,
                current,
                "the compute agent stopped before the instance finished its rescue or unrescue",
            )
            .await;
            return;
        }

        let Some(task) = task else {
            self.sync_power_state(record, current).await;
            return;
        };
        tracing::info!(task_state = task, power_state = ?current, "instance in a transitional state at start-up");
        match task {
            REBOOTING | REBOOT_PENDING => {
                let hard = current != PowerState::Running;
                self.perform(&ctx, uuid, &Action::Reboot { hard }, expected).await;
            }
            REBOOTING_HARD | REBOOT_PENDING_HARD => {
                self.perform(&ctx, uuid, &Action::Reboot { hard: true }, expected).await;
            }
            REBOOT_STARTED | REBOOT_STARTED_HARD if current != PowerState::Running => {
                self.perform(&ctx, uuid, &Action::Reboot { hard: true }, expected).await;
            }
            REBOOT_STARTED | REBOOT_STARTED_HARD | PAUSING | UNPAUSING | RESUMING if current == PowerState::Running => {
                self.finish(record, current, Some(vm_states::ACTIVE)).await;
            }
            UNPAUSING if current == PowerState::Paused => {
                self.perform(&ctx, uuid, &Action::Unpause, expected).await;
            }
            PAUSING if current == PowerState::Paused => {
                self.finish(record, current, Some(vm_states::PAUSED)).await;
            }
            SUSPENDING if current == PowerState::Suspended => {
                self.finish(record, current, Some(vm_states::SUSPENDED)).await;
            }
            RESUMING if current == PowerState::Suspended => {
                self.perform(&ctx, uuid, &Action::Resume, expected).await;
            }
            POWERING_OFF => self.perform(&ctx, uuid, &Action::Stop, expected).await,
            POWERING_ON => self.perform(&ctx, uuid, &Action::Start, expected).await,
            RESIZE_MIGRATING | RESIZE_MIGRATED | RESIZE_FINISH | RESIZE_REVERTING | RESIZE_CONFIRMING => {
                let old_flavor = match self.driver.get_info(uuid).await {
                    Ok(info) => info.old_flavor,
                    Err(_) => None,
                };
                match (task, old_flavor) {
                    (RESIZE_CONFIRMING, Some(_)) => {
                        self.perform(&ctx, uuid, &Action::ConfirmResize, expected).await;
                    }
                    (_, Some(old_flavor)) => {
                        tracing::info!("rolling back the interrupted resize");
                        self.perform(&ctx, uuid, &Action::RevertResize { old_flavor }, expected)
                            .await;
                    }
                    (_, None) => {
                        let vm_state = (on_driver.is_some()).then(|| settled_vm_state(current));
                        self.finish(record, current, vm_state).await;
                    }
                }
            }
            _ => {
                // Snapshots, resize_prep, shelving, migrating, …: nothing
                // to finish on this host; clear the task.
                self.finish(record, current, None).await;
            }
        }
    }

    /// Clears the task (expecting it), optionally sets `vm_state`, and
    /// reports the driver's power state.
    async fn finish(&self, record: &InstanceRecord, current: PowerState, vm_state: Option<&str>) {
        let mut u = self.new_update(&record.spec.uuid);
        u.task_state = Some(None);
        u.expected_task_state = Some(record.task_state.clone());
        u.vm_state = vm_state.map(str::to_owned);
        u.power_state = Some(current);
        self.update(u).await;
    }

    async fn error_out(&self, record: &InstanceRecord, current: PowerState, message: &str) {
        let u = self.error_update(record, current, message);
        self.update(u).await;
    }

    fn error_update(&self, record: &InstanceRecord, current: PowerState, message: &str) -> InstanceUpdate {
        let mut u = self.new_update(&record.spec.uuid);
        u.vm_state = Some(vm_states::ERROR.to_owned());
        u.task_state = Some(None);
        u.expected_task_state = Some(record.task_state.clone());
        u.power_state = Some(current);
        u.fault = Some(Fault {
            code: 500,
            message: message.to_owned(),
            details: Some(format!(
                "found at start-up in vm_state {} task_state {:?}",
                record.vm_state, record.task_state
            )),
        });
        u
    }

    /// Nova's `_sync_instance_power_state` for an instance with no task.
    async fn sync_power_state(&self, record: &InstanceRecord, current: PowerState) {
        let uuid = record.spec.uuid.as_str();
        let mut u = self.new_update(uuid);
        u.expected_task_state = Some(record.task_state.clone());
        let mut changed = false;
        if current != record.power_state {
            u.power_state = Some(current);
            changed = true;
        }
        match record.vm_state.as_str() {
            vm_states::ACTIVE | vm_states::PAUSED if matches!(current, PowerState::Shutdown | PowerState::Crashed) => {
                tracing::warn!(power_state = ?current, "instance shut down by itself; stopping it");
                if current == PowerState::Crashed
                    && let Err(e) = self.driver.power_off(uuid).await
                {
                    tracing::error!(error = %e, "cannot power off the crashed instance");
                }
                u.vm_state = Some(vm_states::STOPPED.to_owned());
                u.power_state = Some(self.power_state(uuid).await);
                changed = true;
            }
            vm_states::STOPPED
                if matches!(
                    current,
                    PowerState::Running | PowerState::Paused | PowerState::Suspended
                ) =>
            {
                tracing::warn!(power_state = ?current, "instance is not stopped; powering it off");
                if let Err(e) = self.driver.power_off(uuid).await {
                    tracing::error!(error = %e, "cannot power off the instance");
                }
                u.power_state = Some(self.power_state(uuid).await);
                changed = u.power_state != Some(record.power_state);
            }
            _ => {
                if current == PowerState::NoState && record.power_state != PowerState::NoState {
                    tracing::warn!("instance is unexpectedly not found on the hypervisor");
                }
            }
        }
        if changed {
            self.update(u).await;
        }
    }
}
