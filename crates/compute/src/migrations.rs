//! Migration records (`os-migrations`) and cold migration (the `migrate`
//! server action), as Nova's compute API and conductor do them.
//!
//! Every resize and every cold migration has a record. A resize on its
//! host (see [`crate::actions`]) goes `pre-migrating` → `finished` (the
//! server is `VERIFY_RESIZE`) → `confirming`/`confirmed` or
//! `reverting`/`reverted`, or `error`.
//!
//! A cold migration, and a resize its host has no room for, move the
//! server to another host (the new flavor, for a resize, is what the
//! destination claims and what the server has there), in steps that each
//! end with an agent's `instance_update`, from which the conductor takes
//! the next step (`Compute::migration_update`):
//!
//! 1. API (synchronous, so that no host is Nova's 400 `NoValidHost`): the
//!    record (`pre-migrating`); the instance's allocation moves to the
//!    migration as consumer (Nova's `move_allocations`), so the source
//!    stays claimed by the migration; the scheduler picks another host
//!    (the source excluded, or the `host` asked for) and claims it for the
//!    instance. Then `migrating`, task `resize_migrating`, and
//!    [`Action::MigrateDiskAndPowerOff`] to the source agent.
//! 2. Source done: `post-migrating`, the instance's host becomes the
//!    destination (task `resize_finish`), [`Action::FinishMigration`] to
//!    the destination agent.
//! 3. Destination done: `finished`, the server `VERIFY_RESIZE`.
//! 4. `confirmResize`: `confirming`; [`Action::ConfirmMigration`] to the
//!    source (its guest goes); then `confirmed` and the migration's
//!    allocation (the source) is deleted.
//! 5. `revertResize`: `reverting`; [`Action::RevertMigration`] to the
//!    destination (its guest goes); the instance's host becomes the source
//!    again and [`Action::FinishRevertMigration`] goes there; then
//!    `reverted`, and the migration's allocation moves back to the
//!    instance, which frees the destination.
//!
//! A failure before the guest left the source (no host, an agent that
//! cannot move disks) puts the migration in `error`, moves the allocation
//! back and leaves the server as it was (with an instance fault when an
//! agent refused). Updates of these steps are accepted from the host the
//! step ran on even while the instance's host is the other one.

use compute_agent::rpc::{
    self, Action, ActionRequest, FlavorSpec, InstanceUpdate, RequestContext, task_states, vm_states,
};

use crate::Compute;
use crate::actions::{NO_TASK, Rule, check_state};
use crate::db;
use crate::db::migrations::{ListFilter, MigrationRow};
use crate::db::servers::{Changes, Expect, FaultRow, InstanceRow};
use crate::error::{ComputeError, Result};
use crate::servers::{Caller, instance_spec};

/// `migration_type` of a cold migration.
pub const COLD: &str = "migration";
/// `migration_type` of a resize.
pub const RESIZE: &str = "resize";

/// The conductor's instance-action event of a cold migration.
const COLD_MIGRATE_EVENT: &str = "cold_migrate";

/// The agent events that move a cold migration on.
const STEP_EVENTS: &[&str] = &[
    "compute_resize_instance",
    "compute_finish_resize",
    "compute_confirm_resize",
    "compute_revert_resize",
    "compute_finish_revert_resize",
];

impl Compute {
    /// A new record for a move of `row` (its host is the source).
    pub(crate) async fn create_migration(
        &self,
        row: &InstanceRow,
        migration_type: &str,
        new_flavor: &str,
        same_host: bool,
    ) -> Result<MigrationRow> {
        let now = db::now();
        let status = "pre-migrating";
        let mut m = MigrationRow {
            uuid: uuid::Uuid::new_v4().to_string(),
            id: 0,
            instance_uuid: row.uuid.clone(),
            migration_type: migration_type.to_owned(),
            status: status.to_owned(),
            source_compute: row.host.clone(),
            source_node: row.node.clone(),
            dest_compute: if same_host { row.host.clone() } else { None },
            dest_node: if same_host { row.node.clone() } else { None },
            dest_host: None,
            old_instance_type_id: db::migrations::flavor_int_id(&self.db, &row.flavor.id).await?,
            new_instance_type_id: db::migrations::flavor_int_id(&self.db, new_flavor).await?,
            project_id: row.project_id.clone(),
            user_id: row.user_id.clone(),
            created_at: now,
            updated_at: now,
        };
        if same_host && let Some(h) = &row.host {
            m.dest_host = self.host_ip(h).await?;
        }
        db::migrations::insert(&self.db, &mut m).await?;
        tracing::info!(instance = %row.uuid, migration = %m.uuid, migration_type, "migration recorded");
        Ok(m)
    }

    async fn host_ip(&self, host: &str) -> Result<Option<String>> {
        Ok(self
            .compute_hosts()
            .await?
            .into_iter()
            .find(|h| h.host == host)
            .map(|h| h.host_ip)
            .filter(|ip| !ip.is_empty()))
    }

    async fn set_migration_status(&self, m: &MigrationRow, expected: &[&str], status: &str) -> Result<bool> {
        let done = db::migrations::set_status(&self.db, &m.uuid, expected, status, db::now()).await?;
        if done {
            tracing::info!(instance = %m.instance_uuid, migration = %m.uuid, status, "migration status");
        }
        Ok(done)
    }

    /// The `migrate` action (cold migration, admin by default), to `host`
    /// when given (2.56).
    pub async fn migrate_server(&self, caller: &Caller, uuid: &str, host: Option<&str>) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        let rule = Rule {
            name: "migrate",
            vm: &[vm_states::ACTIVE, vm_states::STOPPED],
            task: NO_TASK,
        };
        check_state(&row, &rule)?;
        let Some(source) = row.host.clone() else {
            return Err(ComputeError::conflict(format!("Instance {uuid} is not ready")));
        };
        if let Some(h) = host {
            if !self.compute_hosts().await?.iter().any(|s| s.host == h) {
                return Err(ComputeError::bad(format!("Compute host {h} could not be found.")));
            }
            if h == source {
                return Err(ComputeError::bad("Cannot migrate to the host where the server exists."));
            }
        }
        let c = Changes {
            old_flavor: Some(Some(row.flavor.clone())),
            ..Default::default()
        };
        let row = self
            .begin(caller, uuid, &rule, Some(task_states::RESIZE_PREP), c)
            .await?;
        let m = self.create_migration(&row, COLD, &row.flavor.id, false).await?;
        self.move_host(caller, &row, &m, host, row.flavor.clone()).await
    }

    /// A resize its host has no room for: the same steps as a cold
    /// migration, with `new` claimed on the destination and in effect from
    /// there (the record's type stays `resize`, as Nova's).
    pub(crate) async fn resize_to_another_host(
        &self,
        caller: &Caller,
        rule: &Rule,
        row: &InstanceRow,
        new: FlavorSpec,
    ) -> Result<()> {
        let c = Changes {
            old_flavor: Some(Some(row.flavor.clone())),
            ..Default::default()
        };
        let row = self
            .begin(caller, &row.uuid, rule, Some(task_states::RESIZE_PREP), c)
            .await?;
        let m = self.create_migration(&row, RESIZE, &new.id, false).await?;
        self.move_host(caller, &row, &m, None, new).await
    }

    /// The first step of a move to another host, after the record:
    /// schedule (to `host` if given) for `flavor`, cast the hand-over to
    /// the source; with no host, or on an error, all back as it was.
    async fn move_host(
        &self,
        caller: &Caller,
        row: &InstanceRow,
        m: &MigrationRow,
        host: Option<&str>,
        flavor: FlavorSpec,
    ) -> Result<()> {
        match self.schedule_migration(row, m, host, &flavor).await {
            Ok(Some(dest)) => {
                let mut spec = instance_spec(row);
                spec.flavor = flavor;
                self.cast_action(
                    caller,
                    row,
                    Action::MigrateDiskAndPowerOff {
                        instance: Box::new(spec),
                        dest_host: dest,
                    },
                )
                .await
            }
            Ok(None) => {
                let message = "No valid host was found. There are not enough hosts available.";
                self.undo_migration(row, m, task_states::RESIZE_PREP, message).await?;
                Err(ComputeError::bad(message))
            }
            Err(e) => {
                self.undo_migration(row, m, task_states::RESIZE_PREP, &e.to_string())
                    .await?;
                Err(e)
            }
        }
    }

    /// Steps 1 of a cold migration after the record: the source's
    /// allocation to the migration, a destination chosen and claimed.
    /// `None`: no host.
    async fn schedule_migration(
        &self,
        row: &InstanceRow,
        m: &MigrationRow,
        host: Option<&str>,
        flavor: &FlavorSpec,
    ) -> Result<Option<String>> {
        let source = row.host.clone().unwrap_or_default();
        if !self
            .placement
            .move_allocations(&row.uuid, &m.uuid, &row.project_id, &row.user_id)
            .await?
        {
            return Err(ComputeError::conflict(format!(
                "Instance {} allocations could not be moved to its migration",
                row.uuid
            )));
        }
        let mut wanted = row.clone();
        wanted.tried_hosts = vec![source];
        wanted.requested_host = host.map(str::to_owned);
        wanted.flavor = flavor.clone();
        let chosen = {
            let _guard = self.sched_lock.lock().await;
            self.select_and_claim(&wanted, &mut None).await?
        };
        let Some(dest) = chosen else { return Ok(None) };
        let ip = self.host_ip(&dest.host).await?;
        db::migrations::set_dest(&self.db, &m.uuid, &dest.host, &dest.node, ip.as_deref(), db::now()).await?;
        self.set_migration_status(m, &["pre-migrating"], "migrating").await?;
        let c = Changes {
            task_state: Some(Some(task_states::RESIZE_MIGRATING.to_owned())),
            ..Default::default()
        };
        let expect = Expect {
            task_state: Some(Some(task_states::RESIZE_PREP.to_owned())),
            ..Default::default()
        };
        if !db::servers::update(&self.db, &row.uuid, &c, &expect).await? {
            return Err(ComputeError::conflict(format!(
                "Instance {} changed while it was being migrated",
                row.uuid
            )));
        }
        self.record_event(&row.uuid, COLD_MIGRATE_EVENT, "Success", None, Some(&dest.host))
            .await?;
        tracing::info!(instance = %row.uuid, from = ?row.host, to = %dest.host, "cold migration scheduled");
        Ok(Some(dest.host))
    }

    /// A migration that failed before the guest left the source: the
    /// allocation back to the instance (which frees any destination
    /// claimed), the migration `error`, the task cleared (if still
    /// `task`).
    async fn undo_migration(&self, row: &InstanceRow, m: &MigrationRow, task: &str, reason: &str) -> Result<()> {
        tracing::warn!(instance = %row.uuid, migration = %m.uuid, reason, "cold migration failed; rolling back");
        self.placement
            .move_allocations(&m.uuid, &row.uuid, &row.project_id, &row.user_id)
            .await?;
        self.set_migration_status(m, &["pre-migrating", "migrating"], "error")
            .await?;
        let c = Changes {
            task_state: Some(None),
            old_flavor: Some(None),
            ..Default::default()
        };
        let expect = Expect {
            task_state: Some(Some(task.to_owned())),
            ..Default::default()
        };
        db::servers::update(&self.db, &row.uuid, &c, &expect).await?;
        self.record_event(&row.uuid, COLD_MIGRATE_EVENT, "Error", Some(reason.to_owned()), None)
            .await
    }

    /// `confirmResize`/`revertResize` of a cold-migrated server: `Ok(false)`
    /// when the server's move is a resize on its host (the caller goes on
    /// with the same-host path).
    pub(crate) async fn finish_cold_migration(
        &self,
        caller: &Caller,
        row: &InstanceRow,
        confirm: bool,
    ) -> Result<bool> {
        let Some(m) = db::migrations::in_progress(&self.db, &row.uuid).await? else {
            return Ok(false);
        };
        if !moves(&m) {
            let status = if confirm { "confirming" } else { "reverting" };
            self.set_migration_status(&m, &["finished"], status).await?;
            return Ok(false);
        }
        let (status, host, action) = if confirm {
            ("confirming", m.source_compute.clone(), Action::ConfirmMigration)
        } else {
            ("reverting", m.dest_compute.clone(), Action::RevertMigration)
        };
        self.set_migration_status(&m, &["finished"], status).await?;
        let mut target = row.clone();
        target.host = host;
        self.cast_action(caller, &target, action).await?;
        Ok(true)
    }

    /// A resize on the host reached `status` (the agent's outcome).
    pub(crate) async fn resize_step_done(&self, uuid: &str, event: &str, ok: bool) -> Result<()> {
        let Some(m) = db::migrations::in_progress(&self.db, uuid).await? else {
            return Ok(());
        };
        if moves(&m) {
            return Ok(());
        }
        let (from, to): (&[&str], &str) = match (event, ok) {
            (_, false) => (
                &[
                    "pre-migrating",
                    "migrating",
                    "post-migrating",
                    "finished",
                    "confirming",
                    "reverting",
                ],
                "error",
            ),
            ("compute_finish_resize", true) => (&["pre-migrating"], "finished"),
            ("compute_confirm_resize", true) => (&["confirming"], "confirmed"),
            ("compute_finish_revert_resize", true) => (&["reverting"], "reverted"),
            _ => return Ok(()),
        };
        self.set_migration_status(&m, from, to).await?;
        Ok(())
    }

    /// The conductor's part of a cold migration: `Ok(None)` when `u` is
    /// not a step of one (the generic update path applies), else the step
    /// is taken and the update consumed.
    pub(crate) async fn migration_update(&self, row: &InstanceRow, u: &InstanceUpdate) -> Result<Option<()>> {
        let Some(event) = &u.event else { return Ok(None) };
        if !STEP_EVENTS.contains(&event.event.as_str()) {
            return Ok(None);
        }
        let Some(m) = db::migrations::in_progress(&self.db, &row.uuid).await? else {
            return Ok(None);
        };
        if !moves(&m) {
            return Ok(None);
        }
        let source = m.source_compute.clone().unwrap_or_default();
        let dest = m.dest_compute.clone().unwrap_or_default();
        let (from_host, status) = match event.event.as_str() {
            "compute_resize_instance" => (&source, "migrating"),
            "compute_finish_resize" => (&dest, "post-migrating"),
            "compute_confirm_resize" => (&source, "confirming"),
            "compute_revert_resize" => (&dest, "reverting"),
            _ => (&source, "reverting"),
        };
        if u.host != *from_host || m.status != status {
            tracing::info!(instance = %row.uuid, host = %u.host, event = %event.event, status = %m.status,
                "migration update out of step ignored");
            return Ok(Some(()));
        }
        self.record_event(
            &row.uuid,
            &event.event,
            &event.result,
            event.traceback.clone(),
            Some(&u.host),
        )
        .await?;
        let ok = event.result == "Success";
        let fault = u.fault.as_ref().map(|f| FaultRow {
            code: i64::from(f.code),
            message: f.message.clone(),
            details: f.details.clone(),
            created_at: db::now(),
        });
        let expect = |task: &str, host: &str| Expect {
            task_state: Some(Some(task.to_owned())),
            host: Some(Some(host.to_owned())),
            ..Default::default()
        };
        let power = u.power_state.map(|p| i64::from(p.code()));
        match (event.event.as_str(), ok) {
            ("compute_resize_instance", true) => {
                // The flavor of the hand-over (a resize's new one) is in
                // effect from the destination on.
                let c = Changes {
                    host: Some(Some(dest.clone())),
                    node: Some(m.dest_node.clone()),
                    task_state: Some(Some(task_states::RESIZE_FINISH.to_owned())),
                    power_state: power,
                    flavor: u.flavor.clone(),
                    ..Default::default()
                };
                if !db::servers::update(&self.db, &row.uuid, &c, &expect(task_states::RESIZE_MIGRATING, &source))
                    .await?
                {
                    return Ok(Some(()));
                }
                self.set_migration_status(&m, &["migrating"], "post-migrating").await?;
                let Some(moved) = db::servers::get(&self.db, &row.uuid).await? else {
                    return Ok(Some(()));
                };
                let power_on = row.vm_state != vm_states::STOPPED;
                self.cast_step(
                    &moved,
                    &dest,
                    Action::FinishMigration {
                        instance: Box::new(instance_spec(&moved)),
                        power_on,
                    },
                )
                .await?;
            }
            ("compute_resize_instance", false) => {
                // The guest never left: back as it was, with the fault.
                self.placement
                    .move_allocations(&m.uuid, &row.uuid, &row.project_id, &row.user_id)
                    .await?;
                self.set_migration_status(&m, &["migrating"], "error").await?;
                let c = Changes {
                    task_state: Some(None),
                    old_flavor: Some(None),
                    power_state: power,
                    fault: Some(fault),
                    ..Default::default()
                };
                db::servers::update(&self.db, &row.uuid, &c, &expect(task_states::RESIZE_MIGRATING, &source)).await?;
            }
            ("compute_finish_resize", true) => {
                let c = Changes {
                    vm_state: Some(vm_states::RESIZED.to_owned()),
                    task_state: Some(None),
                    power_state: power,
                    ..Default::default()
                };
                if db::servers::update(&self.db, &row.uuid, &c, &expect(task_states::RESIZE_FINISH, &dest)).await? {
                    self.set_migration_status(&m, &["post-migrating"], "finished").await?;
                }
            }
            ("compute_confirm_resize", true) => {
                let c = Changes {
                    vm_state: Some(settled(row.power_state).to_owned()),
                    task_state: Some(None),
                    old_flavor: Some(None),
                    ..Default::default()
                };
                if db::servers::update(&self.db, &row.uuid, &c, &expect(task_states::RESIZE_CONFIRMING, &dest)).await? {
                    self.placement.release(&m.uuid).await?;
                    self.set_migration_status(&m, &["confirming"], "confirmed").await?;
                }
            }
            ("compute_revert_resize", true) => {
                let c = Changes {
                    host: Some(Some(source.clone())),
                    node: Some(m.source_node.clone()),
                    ..Default::default()
                };
                if !db::servers::update(&self.db, &row.uuid, &c, &expect(task_states::RESIZE_REVERTING, &dest)).await? {
                    return Ok(Some(()));
                }
                let Some(back) = db::servers::get(&self.db, &row.uuid).await? else {
                    return Ok(Some(()));
                };
                self.cast_step(&back, &source, Action::FinishRevertMigration).await?;
            }
            ("compute_finish_revert_resize", true) => {
                let c = Changes {
                    vm_state: u.vm_state.clone(),
                    task_state: Some(None),
                    flavor: row.old_flavor.clone(),
                    old_flavor: Some(None),
                    power_state: power,
                    ..Default::default()
                };
                if db::servers::update(&self.db, &row.uuid, &c, &expect(task_states::RESIZE_REVERTING, &source)).await?
                {
                    // The source's allocation back to the instance: the
                    // destination's claim goes with it.
                    self.placement
                        .move_allocations(&m.uuid, &row.uuid, &row.project_id, &row.user_id)
                        .await?;
                    self.set_migration_status(&m, &["reverting"], "reverted").await?;
                }
            }
            (_, _) => {
                // The guest may be half-moved: ERROR, as Nova leaves it,
                // with the migration over. The instance keeps the claim
                // of the host it is on; the migration's goes.
                let task = row.task_state.clone().unwrap_or_default();
                let c = Changes {
                    vm_state: Some(vm_states::ERROR.to_owned()),
                    task_state: Some(None),
                    fault: Some(fault),
                    ..Default::default()
                };
                db::servers::update(
                    &self.db,
                    &row.uuid,
                    &c,
                    &expect(&task, row.host.as_deref().unwrap_or_default()),
                )
                .await?;
                if row.host.as_deref() == Some(source.as_str()) {
                    self.placement
                        .move_allocations(&m.uuid, &row.uuid, &row.project_id, &row.user_id)
                        .await?;
                } else {
                    self.placement.release(&m.uuid).await?;
                }
                self.set_migration_status(&m, &[status], "error").await?;
            }
        }
        Ok(Some(()))
    }

    /// Casts the next step of a migration to `host`, for the conductor
    /// (which has no user request: the context names the instance's
    /// owner).
    async fn cast_step(&self, row: &InstanceRow, host: &str, action: Action) -> Result<()> {
        let ctx = self.build_context(&row.uuid).unwrap_or_else(|| RequestContext {
            request_id: format!("req-{}", uuid::Uuid::new_v4()),
            token: None,
            project_id: row.project_id.clone(),
            user_id: row.user_id.clone(),
        });
        let req = ActionRequest {
            context: ctx,
            instance_uuid: row.uuid.clone(),
            action,
        };
        tracing::info!(instance = %row.uuid, host, event = req.action.event_name(), "casting the next migration step");
        self.bus.cast(&rpc::agent_topic(host), "instance_action", &req).await?;
        Ok(())
    }

    /// A deleted instance's migration in progress is over: its allocation
    /// goes (Nova confirms a resize on delete), and a guest a cold
    /// migration left on its other host is destroyed.
    pub(crate) async fn end_migration_on_delete(&self, row: &InstanceRow) -> Result<()> {
        let Some(m) = db::migrations::in_progress(&self.db, &row.uuid).await? else {
            return Ok(());
        };
        self.placement.release(&m.uuid).await?;
        let status = if m.status == "finished" { "confirmed" } else { "error" };
        self.set_migration_status(&m, &[m.status.as_str()], status).await?;
        if moves(&m) {
            for other in [&m.source_compute, &m.dest_compute].into_iter().flatten() {
                if row.host.as_deref() != Some(other.as_str()) {
                    self.cast_step(row, other, Action::ConfirmMigration).await?;
                }
            }
        }
        Ok(())
    }

    /// `os-migrations`.
    pub async fn list_migrations(&self, filter: &ListFilter) -> Result<Vec<MigrationRow>> {
        db::migrations::list(&self.db, filter).await
    }
}

/// Whether the migration moves the instance to another host (a cold
/// migration, or a resize its host had no room for).
fn moves(m: &MigrationRow) -> bool {
    m.dest_compute.is_none() || m.dest_compute != m.source_compute
}

/// `vm_state` after a confirmed move, from the power state in effect.
fn settled(power_state: i64) -> &'static str {
    if power_state == i64::from(rpc::PowerState::Running.code()) {
        vm_states::ACTIVE
    } else {
        vm_states::STOPPED
    }
}
