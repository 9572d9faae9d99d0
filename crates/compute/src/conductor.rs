//! The conductor: the controller's end of the bus ([`rpc::CONDUCTOR_TOPIC`])
//! and the build pipeline.
//!
//! - `report_state`: a placement resource provider named after the host,
//!   whose uuid is the compute node's id, gets the host's
//!   VCPU/MEMORY_MB/DISK_GB at Nova's default allocation ratios
//!   (4.0/1.0/1.0, see [`crate::placement_client`]); then the heartbeat of
//!   the host's service and compute node is recorded. In that order, so
//!   that a host the scheduler sees up always has its provider.
//! - `instance_update`: applied with a compare-and-swap on
//!   `expected_task_state` and only from the instance's current host; the
//!   event goes to the instance's latest action; a terminated instance
//!   has its allocation removed and its row marked deleted; a shelve
//!   offload, and a build the agent errors out (cut short by its
//!   restart), release the allocation and the host.
//! - `build_failed`: the claim is released and the build re-scheduled on
//!   another host, up to `max_attempts`; then the instance goes to ERROR.
//! - `instances_on_host`: the controller's view, for the agent's start.
//! - `instance_usage_audit`: records the host's usage audit of the last
//!   completed period, once ([`crate::usage_audit`]).
//!
//! Every path that ends a build or deletes an instance releases its
//! allocation.

use std::sync::Arc;

use bus::{Handler, RemoteError};
use compute_agent::rpc::{
    self, BuildFailed, BuildRequest, HostQuery, HostReport, InstanceRecord, InstanceUpdate, PowerState, RequestContext,
    task_states, vm_states,
};
use serde_json::Value;

use crate::Compute;
use crate::db;
use crate::db::servers::{Changes, Expect, FaultRow, InstanceRow};
use crate::error::Result;
use crate::servers::instance_spec;

/// The instance-action event of the conductor's part of a build.
pub const SCHEDULE_EVENT: &str = "conductor_schedule_and_build_instances";

pub(crate) struct ConductorHandler(pub(crate) Compute);

fn args<T: serde::de::DeserializeOwned>(method: &str, a: Value) -> Result<T, RemoteError> {
    serde_json::from_value(a).map_err(|e| RemoteError::new("InvalidArgs", format!("{method}: {e}")))
}

fn remote(e: crate::ComputeError) -> RemoteError {
    RemoteError::new("ConductorError", e.to_string())
}

#[async_trait::async_trait]
impl Handler for ConductorHandler {
    async fn handle(&self, method: &str, a: Value) -> Result<Value, RemoteError> {
        let c = &self.0;
        match method {
            "report_state" => {
                let report: HostReport = args(method, a)?;
                c.handle_report(&report).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "instance_update" => {
                let u: InstanceUpdate = args(method, a)?;
                c.handle_update(u).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "build_failed" => {
                let f: BuildFailed = args(method, a)?;
                c.handle_build_failed(f).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "volume_event" => {
                let e: rpc::VolumeEvent = args(method, a)?;
                c.handle_volume_event(e).await.map_err(remote)?;
                Ok(Value::Null)
            }
            "instances_on_host" => {
                let q: HostQuery = args(method, a)?;
                let records = c.instances_on_host(&q.host).await.map_err(remote)?;
                serde_json::to_value(records).map_err(|e| RemoteError::new("InternalError", e.to_string()))
            }
            "instance_usage_audit" => {
                let q: HostQuery = args(method, a)?;
                let audit = c.run_usage_audit(&q.host).await.map_err(remote)?;
                serde_json::to_value(audit).map_err(|e| RemoteError::new("InternalError", e.to_string()))
            }
            other => Err(RemoteError::new(
                "UnsupportedVersion",
                format!("the conductor has no method {other}"),
            )),
        }
    }
}

fn power_from_code(code: i64) -> PowerState {
    match code {
        1 => PowerState::Running,
        3 => PowerState::Paused,
        4 => PowerState::Shutdown,
        6 => PowerState::Crashed,
        7 => PowerState::Suspended,
        _ => PowerState::NoState,
    }
}

impl Compute {
    // ----- builds -----------------------------------------------------

    /// Schedules the instance, claims, records the host, casts the build.
    /// Errors are logged; the instance ends in ERROR when no host fits.
    pub async fn schedule_and_build(&self, uuid: &str, ctx: RequestContext, attempt: u32) {
        self.schedule_and_build_many(&[uuid.to_owned()], ctx, attempt).await;
    }

    /// [`Self::schedule_and_build`] for the instances of one request (a
    /// multi-create): one scheduler reading serves them all (Nova's
    /// `select_destinations` with `num_instances`), each claim is its own,
    /// and each build goes on as soon as its host is claimed.
    pub async fn schedule_and_build_many(&self, uuids: &[String], ctx: RequestContext, attempt: u32) {
        let mut view = None;
        for uuid in uuids {
            let span = tracing::info_span!("schedule", instance = %uuid, request_id = %ctx.request_id, attempt);
            let claimed =
                tracing::Instrument::instrument(self.claim_host(uuid, &ctx, attempt, &mut view), span.clone()).await;
            match claimed {
                Ok(Some(chosen)) => {
                    let (me, uuid, ctx) = (self.clone(), uuid.clone(), ctx.clone());
                    let build = async move {
                        if let Err(e) = me.build_on(&uuid, chosen, ctx, attempt).await {
                            me.scheduling_failed(&uuid, e).await;
                        }
                    };
                    self.spawn_task(tracing::Instrument::instrument(build, span));
                }
                Ok(None) => {}
                Err(e) => self.scheduling_failed(uuid, e).await,
            }
        }
    }

    async fn scheduling_failed(&self, uuid: &str, e: crate::ComputeError) {
        tracing::error!(instance = %uuid, error = %e, "scheduling failed");
        if let Ok(Some(row)) = db::servers::get(&self.db, uuid).await
            && row.task_state.as_deref() == Some(task_states::SCHEDULING)
        {
            let _ = self.no_valid_host(&row, &format!("{e}")).await;
        }
    }

    /// Picks and claims a host and records it on the instance, one
    /// decision at a time. `None`: nothing to build (no host, so the
    /// instance failed; or it went meanwhile).
    async fn claim_host(
        &self,
        uuid: &str,
        ctx: &RequestContext,
        attempt: u32,
        view: &mut Option<crate::scheduler::SchedulerView>,
    ) -> Result<Option<crate::scheduler::HostCandidate>> {
        self.remember_build_context(uuid, ctx.clone());
        let guard = self.sched_lock.lock().await;
        let Some(row) = db::servers::get(&self.db, uuid).await? else {
            return Ok(None);
        };
        if row.task_state.as_deref() != Some(task_states::SCHEDULING) {
            return Ok(None);
        }
        let Some(chosen) = self.select_and_claim(&row, view).await? else {
            drop(guard);
            self.no_valid_host(&row, "There are not enough hosts available.")
                .await?;
            return Ok(None);
        };
        let c = Changes {
            host: Some(Some(chosen.host.clone())),
            node: Some(Some(chosen.node.clone())),
            availability_zone: Some(Some(chosen.availability_zone.clone())),
            attempts: Some(i64::from(attempt)),
            ..Default::default()
        };
        let expect = Expect {
            task_state: Some(Some(task_states::SCHEDULING.to_owned())),
            ..Default::default()
        };
        if !db::servers::update(&self.db, uuid, &c, &expect).await? {
            drop(guard);
            tracing::info!(instance = %uuid, "instance deleted while scheduling; releasing the claim");
            self.placement.release(uuid).await?;
            return Ok(None);
        }
        Ok(Some(chosen))
    }

    /// Records the scheduling, allocates the networks and casts the build
    /// to the chosen host.
    async fn build_on(
        &self,
        uuid: &str,
        chosen: crate::scheduler::HostCandidate,
        ctx: RequestContext,
        attempt: u32,
    ) -> Result<()> {
        self.record_event(uuid, SCHEDULE_EVENT, "Success", None, Some(&chosen.host))
            .await?;
        let Some(mut row) = db::servers::get(&self.db, uuid).await? else {
            return self.placement.release(uuid).await;
        };
        match self.allocate_networks(&row, &chosen.host, &ctx).await {
            Ok(vifs) => row.network_info = vifs,
            Err(e) => {
                // Nova's BuildAbortException: another host would not help.
                tracing::error!(instance = %uuid, error = %e, "network allocation failed");
                let message = format!(
                    "Build of instance {uuid} aborted: Failed to allocate the network(s), not rescheduling. {e}"
                );
                return self.fail_build(&row, &message).await;
            }
        }
        let req = BuildRequest {
            context: ctx,
            instance: instance_spec(&row),
            attempt,
        };
        tracing::info!(instance = %uuid, host = %chosen.host, attempt, "casting build_and_run_instance");
        self.bus
            .cast(&rpc::agent_topic(&chosen.host), "build_and_run_instance", &req)
            .await?;
        Ok(())
    }

    /// The build cannot go anywhere: ERROR with Nova's NoValidHost fault
    /// (an unshelve goes back to shelved-offloaded instead).
    pub(crate) async fn no_valid_host(&self, row: &InstanceRow, reason: &str) -> Result<()> {
        let message = format!("No valid host was found. {reason}");
        self.fail_build(row, &message).await
    }

    async fn fail_build(&self, row: &InstanceRow, message: &str) -> Result<()> {
        self.placement.release(&row.uuid).await?;
        self.forget_build_context(&row.uuid);
        let unshelving = row.vm_state == vm_states::SHELVED_OFFLOADED;
        let c = Changes {
            vm_state: (!unshelving).then(|| vm_states::ERROR.to_owned()),
            task_state: Some(None),
            host: Some(None),
            node: Some(None),
            fault: Some(Some(FaultRow {
                code: 500,
                message: message.to_owned(),
                details: Some(format!("nova.exception: {message}")),
                created_at: db::now(),
            })),
            ..Default::default()
        };
        // Either build task state (see `handle_build_failed`); a delete
        // that took over keeps its own.
        for task in [task_states::SCHEDULING, task_states::SPAWNING] {
            let expect = Expect {
                task_state: Some(Some(task.to_owned())),
                ..Default::default()
            };
            if db::servers::update(&self.db, &row.uuid, &c, &expect).await? {
                break;
            }
        }
        self.record_event(&row.uuid, SCHEDULE_EVENT, "Error", Some(message.to_owned()), None)
            .await?;
        tracing::warn!(instance = %row.uuid, reason = %message, "build failed for good");
        Ok(())
    }

    async fn handle_build_failed(&self, f: BuildFailed) -> Result<()> {
        let uuid = f.instance_uuid.clone();
        let Some(row) = db::servers::get(&self.db, &uuid).await? else {
            // Deleted meanwhile: only the claim may be left.
            return self.placement.release(&uuid).await;
        };
        if row.host.as_deref() != Some(f.host.as_str()) {
            tracing::info!(instance = %uuid, host = %f.host, "stale build_failed ignored");
            return Ok(());
        }
        if !matches!(
            row.task_state.as_deref(),
            Some(task_states::SCHEDULING) | Some(task_states::SPAWNING)
        ) {
            // A delete (or another request) took over; its own path frees.
            tracing::info!(instance = %uuid, task_state = ?row.task_state, "build_failed for an instance no longer building");
            return Ok(());
        }
        tracing::warn!(instance = %uuid, host = %f.host, attempt = f.attempt, reason = %f.reason, "build failed on host");
        self.placement.release(&uuid).await?;
        self.record_event(&uuid, rpc::BUILD_EVENT, "Error", Some(f.reason.clone()), Some(&f.host))
            .await?;
        let mut tried = row.tried_hosts.clone();
        tried.push(f.host.clone());
        let max = self.config.max_attempts;
        if !f.retryable || f.attempt >= max {
            let message = if f.retryable {
                format!(
                    "Exceeded maximum number of retries. Exceeded max scheduling attempts {max} for instance {uuid}. Last exception: {}",
                    f.reason
                )
            } else {
                f.reason.clone()
            };
            let c = Changes {
                tried_hosts: Some(tried),
                ..Default::default()
            };
            db::servers::update(&self.db, &uuid, &c, &Expect::default()).await?;
            return self.fail_build(&row, &message).await;
        }
        let c = Changes {
            task_state: Some(Some(task_states::SCHEDULING.to_owned())),
            host: Some(None),
            node: Some(None),
            tried_hosts: Some(tried),
            ..Default::default()
        };
        // The agent's `spawning` update may be handled concurrently with
        // this message: accept either build task state.
        let mut moved = false;
        for task in [task_states::SCHEDULING, task_states::SPAWNING] {
            let expect = Expect {
                task_state: Some(Some(task.to_owned())),
                host: Some(Some(f.host.clone())),
                ..Default::default()
            };
            if db::servers::update(&self.db, &uuid, &c, &expect).await? {
                moved = true;
                break;
            }
        }
        if !moved {
            tracing::info!(instance = %uuid, "instance changed before it could be re-scheduled");
            return Ok(());
        }
        let ctx = self.build_context(&uuid).unwrap_or_else(|| RequestContext {
            request_id: format!("req-{}", uuid::Uuid::new_v4()),
            token: None,
            project_id: row.project_id.clone(),
            user_id: row.user_id.clone(),
        });
        let me = self.clone();
        let next = f.attempt + 1;
        self.spawn_task(async move { me.schedule_and_build(&uuid, ctx, next).await });
        Ok(())
    }

    // ----- updates ----------------------------------------------------

    async fn handle_update(&self, u: InstanceUpdate) -> Result<()> {
        let uuid = u.instance_uuid.clone();
        let Some(row) = db::servers::get(&self.db, &uuid).await? else {
            if u.deleted {
                self.placement.release(&uuid).await?;
            }
            return Ok(());
        };
        // The steps of a cold migration come from either of its hosts.
        if self.migration_update(&row, &u).await?.is_some() {
            return Ok(());
        }
        if row.host.as_deref() != Some(u.host.as_str()) {
            tracing::info!(instance = %uuid, from = %u.host, host = ?row.host, "update from another host ignored");
            return Ok(());
        }
        if let Some(event) = &u.event {
            self.record_event(
                &uuid,
                &event.event,
                &event.result,
                event.traceback.clone(),
                Some(&u.host),
            )
            .await?;
        }
        if let Some(event) = &u.event
            && let Err(e) = self
                .interface_op_done(&uuid, &event.event, event.result == "Success")
                .await
        {
            tracing::error!(instance = %uuid, error = %e, "cannot settle the interface change");
        }
        if u.deleted {
            tracing::info!(instance = %uuid, host = %u.host, "terminated on its host");
            return self.finish_delete(&uuid).await;
        }
        let mut c = Changes::default();
        if let Some(vm) = &u.vm_state {
            // A soft-deleted instance stays soft-deleted when powered off.
            let keep = row.vm_state == vm_states::SOFT_DELETED && vm == vm_states::STOPPED;
            if !keep {
                c.vm_state = Some(vm.clone());
            }
            if vm == vm_states::ACTIVE && row.vm_state == vm_states::BUILDING {
                c.launched_at = Some(db::now());
                c.progress = Some(100);
            }
        }
        if let Some(t) = &u.task_state {
            c.task_state = Some(t.clone());
        }
        if let Some(p) = u.power_state {
            c.power_state = Some(i64::from(p.code()));
        }
        if let Some(f) = &u.fault {
            c.fault = Some(Some(FaultRow {
                code: i64::from(f.code),
                message: f.message.clone(),
                details: f.details.clone(),
                created_at: db::now(),
            }));
        }
        if let Some(fl) = &u.flavor {
            c.flavor = Some(fl.clone());
        }
        let finishing_resize = matches!(
            u.event.as_ref().map(|e| e.event.as_str()),
            Some("compute_confirm_resize") | Some("compute_finish_revert_resize")
        ) && u.event.as_ref().is_some_and(|e| e.result == "Success");
        if finishing_resize {
            c.old_flavor = Some(None);
        }
        let offloaded = u.vm_state.as_deref() == Some(vm_states::SHELVED_OFFLOADED);
        // A build the agent gave up (its restart cut it short) ends as a
        // failed build does: no host, no claim.
        let build_failed = u.vm_state.as_deref() == Some(vm_states::ERROR) && row.vm_state == vm_states::BUILDING;
        if offloaded || build_failed {
            c.host = Some(None);
            c.node = Some(None);
        }
        let host = Some(Some(u.host.clone()));
        let mut applied = db::servers::update(
            &self.db,
            &uuid,
            &c,
            &Expect {
                task_state: u.expected_task_state.clone(),
                host: host.clone(),
                ..Default::default()
            },
        )
        .await?;
        // Messages are handled concurrently: a build's final update may
        // overtake its `spawning` one, or race with it (then the task moves
        // from `scheduling` to `spawning` between two attempts).
        if u.expected_task_state == Some(Some(task_states::SPAWNING.to_owned())) {
            for task in [task_states::SCHEDULING, task_states::SPAWNING] {
                if applied {
                    break;
                }
                applied = db::servers::update(
                    &self.db,
                    &uuid,
                    &c,
                    &Expect {
                        task_state: Some(Some(task.to_owned())),
                        host: host.clone(),
                        ..Default::default()
                    },
                )
                .await?;
            }
        }
        if !applied {
            tracing::info!(instance = %uuid, expected = ?u.expected_task_state, task_state = ?row.task_state,
                "update skipped: the task changed meanwhile");
            return Ok(());
        }
        tracing::info!(instance = %uuid, vm_state = ?u.vm_state, task_state = ?u.task_state, "instance updated");
        if let Some(event) = &u.event {
            self.resize_step_done(&uuid, &event.event, event.result == "Success")
                .await?;
        }
        if offloaded || build_failed {
            self.placement.release(&uuid).await?;
            // The ports stay the instance's, bound to no host until it is
            // built again (Nova's shelve offload).
            if let Err(e) = self.unbind_ports(&uuid).await {
                tracing::error!(instance = %uuid, error = %e, "cannot unbind the instance's ports");
            }
        }
        if build_failed {
            self.forget_build_context(&uuid);
            tracing::warn!(instance = %uuid, host = %u.host, "build failed for good on its host; claim released");
        }
        if let Some(fl) = &u.flavor
            && let Ok((_, provider)) = self.instance_provider(&row).await
        {
            let r = crate::scheduler::flavor_resources(fl);
            if !self
                .placement
                .reclaim(&uuid, &provider, &r, &row.project_id, &row.user_id)
                .await?
            {
                tracing::warn!(instance = %uuid, "placement refused the allocation of the flavor now in effect");
            }
        }
        if u.vm_state.as_deref() == Some(vm_states::ACTIVE) && row.vm_state != vm_states::ACTIVE {
            // A build (or an unshelve) is over.
            let ctx = self.build_context(&uuid);
            self.forget_build_context(&uuid);
            // `row` was read before this update: the build's `spawning`
            // update may not have been applied yet (they race), so the
            // instance may still read as shelved.
            let unshelved = [vm_states::BUILDING, vm_states::SHELVED, vm_states::SHELVED_OFFLOADED];
            if unshelved.contains(&row.vm_state.as_str())
                && let Some(image) = row.shelved_image_id.clone()
            {
                let c = Changes {
                    shelved_image_id: Some(None),
                    ..Default::default()
                };
                db::servers::update(&self.db, &uuid, &c, &Expect::default()).await?;
                if let Some(token) = ctx.and_then(|c| c.token) {
                    let _ = self.image.delete(&token, &image).await;
                }
            }
        }
        Ok(())
    }

    // ----- hosts ------------------------------------------------------

    /// The provider first, then the heartbeat: the heartbeat is what makes
    /// the host `up` for the scheduler, which must find the host's
    /// resource provider (with this report's inventory) in placement by
    /// then. A new host is registered `down` (its service and compute node,
    /// whose uuid names the provider) until its provider exists.
    async fn handle_report(&self, report: &HostReport) -> Result<()> {
        let r = &report.resources;
        let node = self.compute_node_of(report).await?;
        let known = |uuid: String| crate::KnownProvider {
            uuid,
            vcpus: r.vcpus,
            memory_mb: r.memory_mb,
            local_gb: r.local_gb,
            allocation: report.allocation.clone(),
        };
        let current = node
            .as_ref()
            .is_some_and(|n| self.known_providers().get(&report.host) == Some(&known(n.uuid.clone())));
        if !current {
            let provider = match node {
                Some(n) => n.uuid,
                None => self.register_compute_node(report).await?,
            };
            self.placement
                .ensure_provider(
                    &provider,
                    &report.host,
                    i64::from(r.vcpus),
                    r.memory_mb as i64,
                    r.local_gb as i64,
                    &report.allocation,
                )
                .await?;
            tracing::info!(host = %report.host, provider = %provider, "placement inventory set");
            self.known_providers().insert(report.host.clone(), known(provider));
        }
        self.record_report(report).await
    }

    async fn instances_on_host(&self, host: &str) -> Result<Vec<InstanceRecord>> {
        let rows = db::servers::on_host(&self.db, host).await?;
        Ok(rows
            .iter()
            .map(|r| InstanceRecord {
                spec: instance_spec(r),
                vm_state: r.vm_state.clone(),
                task_state: r.task_state.clone(),
                power_state: power_from_code(r.power_state),
            })
            .collect())
    }

    /// Listens on the conductor topic and starts the controller's own
    /// loops: the `nova-scheduler`/`nova-conductor` heartbeats and the
    /// reclaim of soft-deleted instances.
    pub(crate) async fn start_conductor(&self) -> Result<(), bus::BusError> {
        let listener = self
            .bus
            .listen(rpc::CONDUCTOR_TOPIC, Arc::new(ConductorHandler(self.clone())))
            .await?;
        *self.conductor_listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(listener);
        let me = self.clone();
        self.spawn_task(async move {
            let mut tick = tokio::time::interval(rpc::REPORT_INTERVAL);
            loop {
                tick.tick().await;
                for binary in ["nova-scheduler", "nova-conductor"] {
                    if let Err(e) = me.record_controller_service(&me.config.controller_host, binary).await {
                        tracing::error!(binary, error = %e, "heartbeat failed");
                    }
                }
                if me.config.reclaim_instance_interval > 0
                    && let Err(e) = me.reclaim_soft_deleted().await
                {
                    tracing::error!(error = %e, "reclaim of soft-deleted instances failed");
                }
            }
        });
        Ok(())
    }
}
