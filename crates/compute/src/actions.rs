//! Server actions (`POST /servers/{id}/action`) and their records
//! (`os-instance-actions`).
//!
//! Every action follows Nova's API: the instance must not be locked
//! (admins excepted), its `vm_state`/`task_state` must allow the action
//! (else 409 with Nova's words), then the task state is set with a
//! compare-and-swap on the state just checked, an instance action is
//! recorded under the request id, and the action is cast to the host's
//! agent, whose closing `instance_update` names that task state.
//!
//! Decisions: a resize stays on the instance's host when the host has room
//! (the agent contract's resize is same-host, as
//! `allow_resize_to_same_host`); its claim is the instance's allocation
//! moved to the new flavor at once, and a revert moves it back. When the
//! host has no room, the resize moves to another host by the steps of a
//! cold migration ([`crate::migrations`]). Either way it has a migration
//! record (type `resize`); the confirm and revert of a move to another
//! host branch off here. Shelve always offloads (Nova's default
//! `shelve_offload_time = 0`).

use std::collections::BTreeMap;

use compute_agent::rpc::{self, Action, ConsoleRequest, task_states, vm_states};
use serde_json::{Map, Value, json};

use crate::Compute;
use crate::db;
use crate::db::actions::{ActionRow, EventRow};
use crate::db::servers::{Changes, Expect, InstanceRow};
use crate::error::{ComputeError, Result};
use crate::servers::{Caller, instance_spec, invalid_state, ref_id};

const ANY_VM: &[&str] = &[];

/// The state rules of one action.
pub(crate) struct Rule {
    /// The API's name for it (used in 409 messages and instance actions).
    pub(crate) name: &'static str,
    pub(crate) vm: &'static [&'static str],
    /// Allowed task states; `&[None]` is Nova's default.
    pub(crate) task: &'static [Option<&'static str>],
}

pub(crate) const NO_TASK: &[Option<&str>] = &[None];

impl Compute {
    // ----- instance actions ------------------------------------------

    pub async fn record_action(&self, caller: &Caller, uuid: &str, action: &str) -> Result<()> {
        let now = db::now();
        db::actions::insert_action(
            &self.db,
            &ActionRow {
                id: uuid::Uuid::new_v4().to_string(),
                instance_uuid: uuid.to_owned(),
                action: action.to_owned(),
                request_id: caller.request_id.clone(),
                user_id: caller.user_id().to_owned(),
                project_id: caller.project_id().to_owned(),
                start_time: now,
                finish_time: None,
                message: None,
                updated_at: now,
            },
        )
        .await
    }

    /// Adds a finished event to the instance's latest action.
    pub async fn record_event(
        &self,
        uuid: &str,
        event: &str,
        result: &str,
        traceback: Option<String>,
        host: Option<&str>,
    ) -> Result<()> {
        let actions = db::actions::list_actions(&self.db, uuid).await?;
        let Some(action) = actions.first() else { return Ok(()) };
        let now = db::now();
        db::actions::insert_event(
            &self.db,
            &EventRow {
                id: uuid::Uuid::new_v4().to_string(),
                action_id: action.id.clone(),
                event: event.to_owned(),
                start_time: action.start_time,
                finish_time: Some(now),
                result: Some(result.to_owned()),
                traceback,
                host: host.map(str::to_owned),
            },
        )
        .await?;
        db::actions::touch_action(&self.db, &action.id, result != "Success", now).await
    }

    // ----- the common path -------------------------------------------

    /// Checks lock and state, sets `task` (and `extra`) with a
    /// compare-and-swap, records the action. Returns the row as it was.
    pub(crate) async fn begin(
        &self,
        caller: &Caller,
        uuid: &str,
        rule: &Rule,
        task: Option<&str>,
        extra: Changes,
    ) -> Result<InstanceRow> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        check_state(&row, rule)?;
        let mut c = extra;
        if let Some(t) = task {
            c.task_state = Some(Some(t.to_owned()));
        }
        let expect = Expect {
            task_state: Some(row.task_state.clone()),
            vm_state: Some(row.vm_state.clone()),
            host: None,
        };
        if !db::servers::update(&self.db, uuid, &c, &expect).await? {
            // Changed meanwhile: answer from the new state.
            let now = self.get_instance(uuid).await?;
            check_state(&now, rule)?;
            return Err(invalid_state(rule.name, uuid, "task_state", now.task_state.as_deref()));
        }
        self.record_action(caller, uuid, rule.name).await?;
        tracing::info!(instance = %uuid, request_id = %caller.request_id, action = rule.name, "action accepted");
        Ok(row)
    }

    /// The simple power actions: the task state is the action's own.
    pub async fn power_action(&self, caller: &Caller, uuid: &str, action: Action) -> Result<()> {
        let rule = match &action {
            Action::Start => Rule {
                name: "start",
                vm: &[vm_states::STOPPED],
                task: NO_TASK,
            },
            Action::Stop => Rule {
                name: "stop",
                vm: &[vm_states::ACTIVE, vm_states::ERROR, vm_states::RESCUED],
                task: NO_TASK,
            },
            Action::Reboot { hard: false } => Rule {
                name: "reboot",
                vm: &[vm_states::ACTIVE],
                task: NO_TASK,
            },
            Action::Reboot { hard: true } => Rule {
                name: "reboot",
                vm: &[
                    vm_states::ACTIVE,
                    vm_states::STOPPED,
                    vm_states::PAUSED,
                    vm_states::SUSPENDED,
                    vm_states::ERROR,
                ],
                task: &[
                    None,
                    Some(task_states::REBOOTING),
                    Some(task_states::REBOOT_PENDING),
                    Some(task_states::REBOOT_STARTED),
                    Some(task_states::REBOOTING_HARD),
                    Some(task_states::RESUMING),
                    Some(task_states::UNPAUSING),
                    Some(task_states::PAUSING),
                    Some(task_states::SUSPENDING),
                ],
            },
            Action::Pause => Rule {
                name: "pause",
                vm: &[vm_states::ACTIVE],
                task: NO_TASK,
            },
            Action::Unpause => Rule {
                name: "unpause",
                vm: &[vm_states::PAUSED],
                task: NO_TASK,
            },
            Action::Suspend => Rule {
                name: "suspend",
                vm: &[vm_states::ACTIVE],
                task: NO_TASK,
            },
            Action::Resume => Rule {
                name: "resume",
                vm: &[vm_states::SUSPENDED],
                task: NO_TASK,
            },
            other => return Err(ComputeError::Internal(format!("not a power action: {other:?}"))),
        };
        let row = self
            .begin(caller, uuid, &rule, action.task_state(), Changes::default())
            .await?;
        self.cast_action(caller, &row, action).await
    }

    pub async fn lock_server(&self, caller: &Caller, uuid: &str, reason: Option<String>) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        let by = if caller.project_id() == row.project_id {
            "owner"
        } else {
            "admin"
        };
        let c = Changes {
            locked: Some(true),
            locked_by: Some(Some(by.to_owned())),
            locked_reason: Some(reason),
            ..Default::default()
        };
        db::servers::update(&self.db, uuid, &c, &Expect::default()).await?;
        self.record_action(caller, uuid, "lock").await
    }

    pub async fn unlock_server(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        if row.locked && row.locked_by.as_deref() == Some("admin") && !caller.is_admin() {
            api::enforce(
                &self.policy,
                "os_compute_api:os-lock-server:unlock:unlock_override",
                &caller.auth,
                &json!({"project_id": row.project_id, "user_id": row.user_id}),
            )
            .map_err(|e| ComputeError::forbidden(e.message))?;
        }
        let c = Changes {
            locked: Some(false),
            locked_by: Some(None),
            locked_reason: Some(None),
            ..Default::default()
        };
        db::servers::update(&self.db, uuid, &c, &Expect::default()).await?;
        self.record_action(caller, uuid, "unlock").await
    }

    // ----- rebuild, resize -------------------------------------------

    /// Rebuild from `image_ref` with the optional new attributes.
    #[allow(clippy::too_many_arguments)]
    pub async fn rebuild_server(
        &self,
        caller: &Caller,
        uuid: &str,
        image_ref: &str,
        name: Option<String>,
        metadata: Option<BTreeMap<String, String>>,
        description: Option<Option<String>>,
        key_name: Option<Option<String>>,
        user_data: Option<Option<String>>,
        hostname: Option<String>,
        access_ips: crate::servers::AccessIps,
    ) -> Result<InstanceRow> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        let rule = Rule {
            name: "rebuild",
            vm: &[vm_states::ACTIVE, vm_states::STOPPED, vm_states::ERROR],
            task: NO_TASK,
        };
        check_state(&row, &rule)?;
        let image = self.boot_image(&caller.auth.token, image_ref, &row.flavor).await?;
        let (key_name, key_data) = match key_name {
            Some(Some(k)) => match self.get_keypair(caller.user_id(), &k).await {
                Ok(kp) => (Some(Some(kp.name)), Some(Some(kp.public_key))),
                Err(ComputeError::NotFound(_)) => return Err(ComputeError::bad("Invalid key_name provided.")),
                Err(e) => return Err(e),
            },
            Some(None) => (Some(None), Some(None)),
            None => (None, None),
        };
        if let Some(m) = &metadata {
            self.check_metadata_quota(&row.project_id, m.len()).await?;
        }
        let c = Changes {
            display_name: name,
            display_description: description,
            hostname,
            access_ip_v4: access_ips.v4,
            access_ip_v6: access_ips.v6,
            image_ref: Some(Some(image.id.clone())),
            image: Some(Some(image)),
            key_name,
            key_data,
            user_data,
            ..Default::default()
        };
        self.begin(caller, uuid, &rule, Some(task_states::REBUILDING), c)
            .await?;
        if let Some(m) = &metadata {
            db::servers::set_metadata(&self.db, uuid, m, true).await?;
        }
        let now = self.get_instance(uuid).await?;
        let spec = instance_spec(&now);
        self.cast_action(
            caller,
            &now,
            Action::Rebuild {
                instance: Box::new(spec),
            },
        )
        .await?;
        Ok(now)
    }

    pub async fn resize_server(&self, caller: &Caller, uuid: &str, flavor_ref: &str) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        let rule = Rule {
            name: "resize",
            vm: &[vm_states::ACTIVE, vm_states::STOPPED],
            task: NO_TASK,
        };
        check_state(&row, &rule)?;
        let new = match self.get_flavor(ref_id(flavor_ref)).await {
            Ok(f) => f,
            Err(ComputeError::NotFound(_)) => return Err(ComputeError::bad("Unable to locate requested flavor.")),
            Err(e) => return Err(e),
        };
        if !self.flavor_accessible(&new, &row.project_id).await? {
            return Err(ComputeError::bad("Unable to locate requested flavor."));
        }
        let new = new.to_spec();
        if new.id == row.flavor.id {
            return Err(ComputeError::bad("When resizing, instances must change flavor!"));
        }
        if new.root_gb < row.flavor.root_gb {
            return Err(ComputeError::bad("Resize error: Unable to resize disk down."));
        }
        self.check_resize_quota(
            &row.project_id,
            &row.user_id,
            i64::from(new.vcpus) - i64::from(row.flavor.vcpus),
            new.memory_mb as i64 - row.flavor.memory_mb as i64,
        )
        .await?;
        let (host, provider) = self.instance_provider(&row).await?;
        // The claim first: no capacity on this host is Nova's NoValidHost.
        let resources = crate::scheduler::flavor_resources(&new);
        if !self
            .placement
            .reclaim(uuid, &provider, &resources, &row.project_id, &row.user_id)
            .await?
        {
            // No room here: the resize moves to another host, as a cold
            // migration does, with the new flavor claimed there.
            tracing::info!(instance = %uuid, host = %host, "no room for the resize on its host; moving it");
            return self.resize_to_another_host(caller, &rule, &row, new).await;
        }
        let c = Changes {
            old_flavor: Some(Some(row.flavor.clone())),
            ..Default::default()
        };
        let before = match self.begin(caller, uuid, &rule, Some(task_states::RESIZE_PREP), c).await {
            Ok(r) => r,
            Err(e) => {
                let old = crate::scheduler::flavor_resources(&row.flavor);
                let _ = self
                    .placement
                    .reclaim(uuid, &provider, &old, &row.project_id, &row.user_id)
                    .await;
                return Err(e);
            }
        };
        // The record of the move (on this host), whose status follows it.
        self.create_migration(&before, crate::migrations::RESIZE, &new.id, true)
            .await?;
        let mut spec = instance_spec(&before);
        spec.flavor = new;
        self.cast_action(
            caller,
            &before,
            Action::Resize {
                instance: Box::new(spec),
                old_flavor: before.flavor.clone(),
            },
        )
        .await
    }

    pub async fn confirm_resize(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let rule = Rule {
            name: "confirmResize",
            vm: &[vm_states::RESIZED],
            task: NO_TASK,
        };
        let row = self
            .begin(
                caller,
                uuid,
                &rule,
                Some(task_states::RESIZE_CONFIRMING),
                Changes::default(),
            )
            .await?;
        if self.finish_cold_migration(caller, &row, true).await? {
            return Ok(());
        }
        self.cast_action(caller, &row, Action::ConfirmResize).await
    }

    pub async fn revert_resize(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let rule = Rule {
            name: "revertResize",
            vm: &[vm_states::RESIZED],
            task: NO_TASK,
        };
        let row = self
            .begin(
                caller,
                uuid,
                &rule,
                Some(task_states::RESIZE_REVERTING),
                Changes::default(),
            )
            .await?;
        if self.finish_cold_migration(caller, &row, false).await? {
            return Ok(());
        }
        let Some(old) = row.old_flavor.clone() else {
            return Err(ComputeError::bad("Instance has not been resized."));
        };
        self.cast_action(caller, &row, Action::RevertResize { old_flavor: old })
            .await
    }

    // ----- rescue ------------------------------------------------------

    /// `rescue`: boot the server from `rescue_image_ref` (else its own
    /// image, as Nova does without one) with its root disk attached second.
    pub async fn rescue_server(&self, caller: &Caller, uuid: &str, rescue_image_ref: Option<&str>) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        let rule = Rule {
            name: "rescue",
            vm: &[vm_states::ACTIVE, vm_states::STOPPED, vm_states::ERROR],
            task: NO_TASK,
        };
        check_state(&row, &rule)?;
        let unsupported = |id: &str| ComputeError::bad(format!("Requested rescue image '{id}' is not supported"));
        let Some(own_image) = row.image.clone() else {
            return Err(ComputeError::bad(format!(
                "Instance {uuid} cannot be rescued: Cannot rescue a volume-backed instance"
            )));
        };
        let rescue_image = match rescue_image_ref {
            Some(id) => match self.image.get(&caller.auth.token, id).await? {
                // An image without data cannot boot: refused here rather
                // than failing on the host and erroring the server.
                Some(image) if image.status == "active" => image.to_spec(self.image.base_url()),
                _ => return Err(unsupported(id)),
            },
            None => own_image,
        };
        let row = self
            .begin(caller, uuid, &rule, Some(task_states::RESCUING), Changes::default())
            .await?;
        let action = Action::Rescue {
            instance: Box::new(instance_spec(&row)),
            rescue_image: Box::new(rescue_image),
        };
        self.cast_action(caller, &row, action).await
    }

    pub async fn unrescue_server(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let rule = Rule {
            name: "unrescue",
            vm: &[vm_states::RESCUED],
            task: NO_TASK,
        };
        let row = self
            .begin(caller, uuid, &rule, Some(task_states::UNRESCUING), Changes::default())
            .await?;
        self.cast_action(caller, &row, Action::Unrescue).await
    }

    /// The host and the placement provider of the instance's node.
    pub(crate) async fn instance_provider(&self, row: &InstanceRow) -> Result<(String, String)> {
        let Some(host) = row.host.clone() else {
            return Err(ComputeError::conflict(format!("Instance {} is not ready", row.uuid)));
        };
        let (allocs, _) = self.placement.allocations(&row.uuid).await?;
        if let Some(rp) = allocs.keys().next() {
            return Ok((host, rp.clone()));
        }
        let provider = self
            .scheduler_hosts()
            .await?
            .into_iter()
            .find(|h| h.host == host)
            .map(|h| h.provider)
            .ok_or_else(|| ComputeError::conflict(format!("Compute host {host} could not be found.")))?;
        Ok((host, provider))
    }

    // ----- snapshots, shelve ------------------------------------------

    /// Creates the image record of a snapshot in the image service.
    async fn snapshot_image(
        &self,
        caller: &Caller,
        row: &InstanceRow,
        name: &str,
        extra: &BTreeMap<String, String>,
    ) -> Result<String> {
        let mut body = Map::new();
        body.insert("name".into(), json!(name));
        let (disk, container) = match &row.image {
            Some(i) => (
                i.disk_format.clone().unwrap_or_else(|| "raw".into()),
                i.container_format.clone().unwrap_or_else(|| "bare".into()),
            ),
            None => ("raw".into(), "bare".into()),
        };
        body.insert("disk_format".into(), json!(disk));
        body.insert("container_format".into(), json!(container));
        if let Some(i) = &row.image {
            body.insert("min_ram".into(), json!(i.min_ram));
            body.insert("min_disk".into(), json!(i.min_disk.max(row.flavor.root_gb)));
            for (k, v) in &i.properties {
                if let Value::String(s) = v
                    && !body.contains_key(k)
                {
                    body.insert(k.clone(), json!(s));
                }
            }
        }
        body.insert("image_type".into(), json!("snapshot"));
        body.insert("instance_uuid".into(), json!(row.uuid));
        body.insert("owner_id".into(), json!(row.project_id));
        body.insert("user_id".into(), json!(row.user_id));
        if let Some(r) = &row.image_ref {
            body.insert("base_image_ref".into(), json!(r));
        }
        for (k, v) in extra {
            body.insert(k.clone(), json!(v));
        }
        let image = self.image.create(&caller.auth.token, body).await?;
        Ok(image.id)
    }

    fn upload_url(&self, image_id: &str) -> String {
        format!("{}/v2/images/{image_id}/file", self.image.base_url())
    }

    /// `createImage`: the image record now, its data from the agent.
    pub async fn create_image(
        &self,
        caller: &Caller,
        uuid: &str,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        let rule = Rule {
            name: "createImage",
            vm: &[
                vm_states::ACTIVE,
                vm_states::STOPPED,
                vm_states::PAUSED,
                vm_states::SUSPENDED,
            ],
            task: NO_TASK,
        };
        check_state(&row, &rule)?;
        let image_id = self.snapshot_image(caller, &row, name, metadata).await?;
        if let Err(e) = self
            .begin(
                caller,
                uuid,
                &rule,
                Some(task_states::IMAGE_SNAPSHOT),
                Changes::default(),
            )
            .await
        {
            let _ = self.image.delete(&caller.auth.token, &image_id).await;
            return Err(e);
        }
        let upload_url = self.upload_url(&image_id);
        self.cast_action(
            caller,
            &row,
            Action::Snapshot {
                image_id: image_id.clone(),
                upload_url,
            },
        )
        .await?;
        Ok(image_id)
    }

    /// `createBackup`: a snapshot marked as a backup of `backup_type`;
    /// once it is uploaded, the oldest backups of that type beyond
    /// `rotation` are deleted, as Nova's compute manager rotates them.
    pub async fn create_backup(
        &self,
        caller: &Caller,
        uuid: &str,
        name: &str,
        backup_type: &str,
        rotation: u64,
        metadata: &BTreeMap<String, String>,
    ) -> Result<String> {
        let mut props = metadata.clone();
        props.insert("image_type".into(), "backup".into());
        props.insert("backup_type".into(), backup_type.to_owned());
        let image_id = self.create_image(caller, uuid, name, &props).await?;
        let me = self.clone();
        let token = caller.auth.token.clone();
        let (uuid, backup_type) = (uuid.to_owned(), backup_type.to_owned());
        self.spawn_task(async move {
            if let Err(e) = me
                .rotate_backups_after_snapshot(&token, &uuid, &backup_type, rotation)
                .await
            {
                tracing::warn!(instance = %uuid, error = %e, "backup rotation failed");
            }
        });
        Ok(image_id)
    }

    /// Waits for the snapshot task of `uuid` to end, then deletes its
    /// backups of `backup_type` beyond the newest `rotation`.
    async fn rotate_backups_after_snapshot(
        &self,
        token: &str,
        uuid: &str,
        backup_type: &str,
        rotation: u64,
    ) -> Result<()> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
        loop {
            match db::servers::get(&self.db, uuid).await? {
                Some(r) if r.task_state.as_deref() == Some(task_states::IMAGE_SNAPSHOT) => {}
                _ => break,
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ComputeError::Internal(format!("snapshot of {uuid} did not end")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let filters = [
            ("instance_uuid".to_owned(), uuid.to_owned()),
            ("image_type".to_owned(), "backup".to_owned()),
            ("backup_type".to_owned(), backup_type.to_owned()),
            ("sort_key".to_owned(), "created_at".to_owned()),
            ("sort_dir".to_owned(), "desc".to_owned()),
        ];
        let backups = self.image.list_json(token, &filters).await?;
        let keep = usize::try_from(rotation).unwrap_or(usize::MAX);
        for old in backups.iter().skip(keep) {
            if let Some(id) = old["id"].as_str() {
                tracing::info!(instance = %uuid, image = %id, "deleting rotated-out backup");
                self.image.delete(token, id).await?;
            }
        }
        Ok(())
    }

    /// `os-resetState` (admin): forces the vm state to `active` or
    /// `error` and clears the task, without asking the host.
    pub async fn reset_state(&self, uuid: &str, state: &str) -> Result<()> {
        let vm_state = match state {
            "active" => vm_states::ACTIVE,
            "error" => vm_states::ERROR,
            other => {
                return Err(ComputeError::bad(format!(
                    "Invalid input for field/attribute state. Value: {other}. '{other}' is not one of ['active', 'error']"
                )));
            }
        };
        let c = Changes {
            vm_state: Some(vm_state.to_owned()),
            task_state: Some(None),
            ..Default::default()
        };
        if !db::servers::update(&self.db, uuid, &c, &db::servers::Expect::default()).await? {
            return Err(ComputeError::not_found(format!("Instance {uuid} could not be found.")));
        }
        Ok(())
    }

    pub async fn shelve_server(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        let rule = Rule {
            name: "shelve",
            vm: &[
                vm_states::ACTIVE,
                vm_states::STOPPED,
                vm_states::PAUSED,
                vm_states::SUSPENDED,
            ],
            task: NO_TASK,
        };
        check_state(&row, &rule)?;
        let name = format!("{}-shelved", row.display_name);
        let image_id = self.snapshot_image(caller, &row, &name, &BTreeMap::new()).await?;
        let c = Changes {
            shelved_image_id: Some(Some(image_id.clone())),
            ..Default::default()
        };
        if let Err(e) = self.begin(caller, uuid, &rule, Some(task_states::SHELVING), c).await {
            let _ = self.image.delete(&caller.auth.token, &image_id).await;
            return Err(e);
        }
        let snapshot = Action::Snapshot {
            upload_url: self.upload_url(&image_id),
            image_id,
        };
        self.cast_action(
            caller,
            &row,
            Action::Shelve {
                snapshot: Some(Box::new(snapshot)),
            },
        )
        .await
    }

    pub async fn shelve_offload_server(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let rule = Rule {
            name: "shelveOffload",
            vm: &[vm_states::SHELVED],
            task: NO_TASK,
        };
        let row = self
            .begin(caller, uuid, &rule, Some(task_states::SHELVING), Changes::default())
            .await?;
        self.cast_action(caller, &row, Action::Shelve { snapshot: None }).await
    }

    /// `unshelve`: a new build from the shelved snapshot, scheduled anew.
    pub async fn unshelve_server(&self, caller: &Caller, uuid: &str, az: Option<String>) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        let rule = Rule {
            name: "unshelve",
            vm: &[vm_states::SHELVED, vm_states::SHELVED_OFFLOADED],
            task: NO_TASK,
        };
        check_state(&row, &rule)?;
        if let Some(zone) = &az
            && !self.availability_zones_in_use().await?.contains(zone)
        {
            return Err(ComputeError::bad("The requested availability zone is not available"));
        }
        let mut c = Changes {
            attempts: Some(0),
            tried_hosts: Some(Vec::new()),
            ..Default::default()
        };
        if let Some(id) = &row.shelved_image_id
            && let Some(img) = self.image.get(&caller.auth.token, id).await?
        {
            c.image = Some(Some(img.to_spec(self.image.base_url())));
        }
        if az.is_some() {
            c.availability_zone = Some(az);
        }
        self.begin(caller, uuid, &rule, Some(task_states::SCHEDULING), c)
            .await?;
        let me = self.clone();
        let ctx = caller.rpc();
        let id = uuid.to_owned();
        self.spawn_task(async move { me.schedule_and_build(&id, ctx, 1).await });
        Ok(())
    }

    /// The uptime line of a compute host, from its agent.
    pub async fn host_uptime(&self, host: &str) -> Result<String> {
        Ok(self
            .bus
            .call::<_, String>(
                &rpc::agent_topic(host),
                "get_host_uptime",
                &json!({}),
                std::time::Duration::from_secs(5),
            )
            .await?)
    }

    // ----- console ----------------------------------------------------

    pub async fn console_output(&self, uuid: &str, length: Option<u64>) -> Result<String> {
        let row = self.get_instance(uuid).await?;
        let Some(host) = &row.host else {
            return Err(ComputeError::conflict(format!("Instance {uuid} is not ready")));
        };
        if row.vm_state == vm_states::BUILDING {
            return Err(ComputeError::conflict(format!("Instance {uuid} is not ready")));
        }
        let req = ConsoleRequest {
            instance_uuid: uuid.to_owned(),
            length,
        };
        match self
            .bus
            .call::<_, String>(
                &rpc::agent_topic(host),
                "get_console_output",
                &req,
                std::time::Duration::from_secs(30),
            )
            .await
        {
            Ok(out) => Ok(out),
            Err(bus::BusError::Remote(e)) if e.kind == "InstanceNotFound" => {
                Err(ComputeError::not_found(format!("Instance {uuid} could not be found.")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

pub(crate) fn check_state(row: &InstanceRow, rule: &Rule) -> Result<()> {
    if rule.vm != ANY_VM && !rule.vm.contains(&row.vm_state.as_str()) {
        return Err(invalid_state(rule.name, &row.uuid, "vm_state", Some(&row.vm_state)));
    }
    if !rule.task.contains(&row.task_state.as_deref()) {
        return Err(invalid_state(
            rule.name,
            &row.uuid,
            "task_state",
            row.task_state.as_deref(),
        ));
    }
    Ok(())
}
