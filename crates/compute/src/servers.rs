//! Servers: create (validation, quotas, the build request), update,
//! delete (through the agent, or locally when the host is down or the
//! instance never reached one), soft delete and restore, and Nova's
//! status map.
//!
//! A create answers 202 once the instances are recorded (`BUILD`,
//! task `scheduling`); scheduling, the placement claim and the cast to the
//! agent run on a task of their own ([`Compute::schedule_and_build`]), as
//! Nova's conductor does after the API returns.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::AuthContext;
use compute_agent::rpc::{
    self, Action, ActionRequest, FlavorSpec, ImageSpec, InstanceSpec, RequestContext, task_states, vm_states,
};

use crate::Compute;
use crate::db;
use crate::db::servers::{Changes, Expect, InstanceRow};
use crate::error::{ComputeError, Result};
use crate::image_client::ImageInfo;

/// Who asks, and under which request id.
#[derive(Clone, Debug)]
pub struct Caller {
    pub auth: Arc<AuthContext>,
    pub request_id: String,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.auth.has_role("admin")
    }

    pub fn project_id(&self) -> &str {
        self.auth.project_id.as_deref().unwrap_or_default()
    }

    pub fn user_id(&self) -> &str {
        &self.auth.user_id
    }

    /// The context the agent acts in (the user's token forwarded).
    pub fn rpc(&self) -> RequestContext {
        RequestContext {
            request_id: self.request_id.clone(),
            token: Some(self.auth.token.clone()),
            project_id: self.project_id().to_owned(),
            user_id: self.user_id().to_owned(),
        }
    }
}

/// Nova's `status` for a `vm_state`/`task_state` pair
/// (`nova/api/openstack/common.py` `_STATE_MAP`).
pub fn status(vm_state: &str, task_state: Option<&str>) -> &'static str {
    use task_states as t;
    let task = task_state.unwrap_or("");
    match vm_state {
        vm_states::ACTIVE => match task {
            t::REBOOTING | t::REBOOT_PENDING | t::REBOOT_STARTED => "REBOOT",
            t::REBOOTING_HARD | t::REBOOT_PENDING_HARD | t::REBOOT_STARTED_HARD => "HARD_REBOOT",
            t::UPDATING_PASSWORD => "PASSWORD",
            t::REBUILDING | t::REBUILD_BLOCK_DEVICE_MAPPING | t::REBUILD_SPAWNING => "REBUILD",
            t::MIGRATING => "MIGRATING",
            t::RESIZE_PREP | t::RESIZE_MIGRATING | t::RESIZE_MIGRATED | t::RESIZE_FINISH => "RESIZE",
            _ => "ACTIVE",
        },
        vm_states::BUILDING => "BUILD",
        vm_states::STOPPED => match task {
            t::RESIZE_PREP | t::RESIZE_MIGRATING | t::RESIZE_MIGRATED | t::RESIZE_FINISH => "RESIZE",
            t::REBUILDING | t::REBUILD_BLOCK_DEVICE_MAPPING | t::REBUILD_SPAWNING => "REBUILD",
            _ => "SHUTOFF",
        },
        vm_states::RESIZED => match task {
            t::RESIZE_REVERTING => "REVERT_RESIZE",
            _ => "VERIFY_RESIZE",
        },
        vm_states::PAUSED => match task {
            t::MIGRATING => "MIGRATING",
            _ => "PAUSED",
        },
        vm_states::SUSPENDED => "SUSPENDED",
        vm_states::RESCUED => "RESCUE",
        vm_states::ERROR => match task {
            t::REBUILDING | t::REBUILD_BLOCK_DEVICE_MAPPING | t::REBUILD_SPAWNING => "REBUILD",
            _ => "ERROR",
        },
        vm_states::DELETED => "DELETED",
        vm_states::SOFT_DELETED => "SOFT_DELETED",
        vm_states::SHELVED => "SHELVED",
        vm_states::SHELVED_OFFLOADED => "SHELVED_OFFLOADED",
        _ => "UNKNOWN",
    }
}

/// The `vm_state`s a `status` filter selects (Nova's `task_and_vm_state_from_status`,
/// vm_state part).
pub fn vm_states_for_status(status: &str) -> Vec<&'static str> {
    let all = [
        vm_states::ACTIVE,
        vm_states::BUILDING,
        vm_states::STOPPED,
        vm_states::RESIZED,
        vm_states::PAUSED,
        vm_states::SUSPENDED,
        vm_states::RESCUED,
        vm_states::ERROR,
        vm_states::DELETED,
        vm_states::SOFT_DELETED,
        vm_states::SHELVED,
        vm_states::SHELVED_OFFLOADED,
    ];
    let tasks = [
        None,
        Some(task_states::REBOOTING),
        Some(task_states::REBOOTING_HARD),
        Some(task_states::REBUILDING),
        Some(task_states::RESIZE_PREP),
        Some(task_states::RESIZE_REVERTING),
        Some(task_states::MIGRATING),
        Some(task_states::UPDATING_PASSWORD),
    ];
    let want = status.to_ascii_uppercase();
    all.into_iter()
        .filter(|vm| tasks.iter().any(|t| status_of(vm, *t) == want))
        .collect()
}

fn status_of(vm: &str, t: Option<&str>) -> &'static str {
    status(vm, t)
}

/// Nova's `utils.sanitize_hostname`.
pub fn sanitize_hostname(name: &str, uuid: &str) -> String {
    let mut h: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '_' { '-' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    h.truncate(63);
    let h = h.trim_matches(|c| c == '-' || c == '.').to_owned();
    if h.is_empty() { format!("server-{uuid}") } else { h }
}

/// The hypervisor-side name, `instance-0000002a`.
pub fn instance_name(id: i64) -> String {
    format!("instance-{id:08x}")
}

/// The `hostId` Nova shows: sha224 of project id + host, hex; empty
/// without a host.
pub fn host_id(project_id: &str, host: Option<&str>) -> String {
    use sha2::Digest;
    let Some(host) = host else { return String::new() };
    sha2::Sha224::digest(format!("{project_id}{host}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A create request, parsed and checked for shape by the API.
#[derive(Clone, Debug, Default)]
pub struct CreateServer {
    pub name: String,
    pub description: Option<String>,
    pub flavor_ref: String,
    pub image_ref: Option<String>,
    pub key_name: Option<String>,
    pub user_data: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    pub min_count: i64,
    pub max_count: i64,
    pub networks: Option<serde_json::Value>,
    pub group: Option<String>,
    pub tags: Vec<String>,
    pub hostname: Option<String>,
    pub config_drive: bool,
    pub admin_pass: Option<String>,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
}

pub struct Created {
    pub instances: Vec<InstanceRow>,
    pub admin_pass: String,
    pub reservation_id: String,
}

/// The last path segment of an `imageRef`/`flavorRef` that may be a URL.
pub fn ref_id(r: &str) -> &str {
    r.trim_end_matches('/').rsplit('/').next().unwrap_or(r)
}

pub(crate) fn random_password() -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(12)
        .map(char::from)
        .collect()
}

/// The spec the agent builds from.
pub fn instance_spec(row: &InstanceRow) -> InstanceSpec {
    InstanceSpec {
        uuid: row.uuid.clone(),
        name: instance_name(row.id),
        display_name: row.display_name.clone(),
        hostname: row.hostname.clone(),
        project_id: row.project_id.clone(),
        user_id: row.user_id.clone(),
        flavor: row.flavor.clone(),
        image: row.image.clone(),
        user_data: row.user_data.clone(),
        key_name: row.key_name.clone(),
        key_data: row.key_data.clone(),
        config_drive: row.config_drive.eq_ignore_ascii_case("true"),
        metadata: row.metadata.clone(),
        availability_zone: row.availability_zone.clone(),
        network_info: crate::network::plugged(&row.network_info),
        block_device_info: Vec::new(),
    }
}

/// 409 of Nova's `InstanceInvalidState` as the API words it.
pub fn invalid_state(action: &str, uuid: &str, attr: &str, state: Option<&str>) -> ComputeError {
    ComputeError::conflict(format!(
        "Cannot '{action}' instance {uuid} while it is in {attr} {}",
        state.unwrap_or("None")
    ))
}

pub fn not_found(uuid: &str) -> ComputeError {
    ComputeError::not_found(format!("Instance {uuid} could not be found."))
}

/// Checks the flavor against the image (Nova's `_check_requested_image`).
pub fn check_image_fits(image: &ImageInfo, flavor: &FlavorSpec) -> Result<()> {
    if image.status != "active" {
        return Err(ComputeError::bad(format!("Image {} is not active.", image.id)));
    }
    if image.min_ram > flavor.memory_mb {
        return Err(ComputeError::bad("Flavor's memory is too small for requested image."));
    }
    if flavor.root_gb > 0 {
        let flavor_bytes = flavor.root_gb * 1024 * 1024 * 1024;
        if let Some(size) = image.size
            && size > flavor_bytes
        {
            return Err(ComputeError::bad(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {flavor_bytes} bytes, image is {size} bytes."
            )));
        }
        if image.min_disk > flavor.root_gb {
            return Err(ComputeError::bad(format!(
                "Flavor's disk is too small for requested image. Flavor disk is {flavor_bytes} bytes, minimum disk is {} bytes.",
                image.min_disk * 1024 * 1024 * 1024
            )));
        }
    }
    Ok(())
}

impl Compute {
    /// The live instance, or 404.
    pub async fn get_instance(&self, uuid: &str) -> Result<InstanceRow> {
        db::servers::get(&self.db, uuid).await?.ok_or_else(|| not_found(uuid))
    }

    /// The image for a boot, checked for the flavor.
    pub async fn boot_image(&self, token: &str, image_ref: &str, flavor: &FlavorSpec) -> Result<ImageSpec> {
        let id = ref_id(image_ref);
        let Some(image) = self.image.get(token, id).await? else {
            return Err(ComputeError::bad("Can not find requested image"));
        };
        check_image_fits(&image, flavor)?;
        Ok(image.to_spec(self.image.base_url()))
    }

    /// Creates `min_count..=max_count` servers (as many as the quota
    /// allows) and starts scheduling them.
    pub async fn create_servers(&self, caller: &Caller, req: CreateServer) -> Result<Created> {
        let flavor_id = ref_id(&req.flavor_ref).to_owned();
        let flavor = match self.get_flavor(&flavor_id).await {
            Ok(f) => f,
            Err(ComputeError::NotFound(_)) => return Err(ComputeError::bad("Invalid flavorRef provided.")),
            Err(e) => return Err(e),
        };
        if !self.flavor_accessible(&flavor, caller.project_id()).await? {
            return Err(ComputeError::bad("Invalid flavorRef provided."));
        }
        let flavor = flavor.to_spec();

        let image = match req.image_ref.as_deref().filter(|s| !s.is_empty()) {
            Some(r) => Some(self.boot_image(&caller.auth.token, r, &flavor).await?),
            None => {
                return Err(ComputeError::bad(
                    "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.",
                ));
            }
        };

        let (key_name, key_data) = match &req.key_name {
            Some(name) => match self.get_keypair(caller.user_id(), name).await {
                Ok(k) => (Some(k.name.clone()), Some(k.public_key.clone())),
                Err(ComputeError::NotFound(_)) => return Err(ComputeError::bad("Invalid key_name provided.")),
                Err(e) => return Err(e),
            },
            None => (None, None),
        };

        // availability_zone: "az", "az:host", "az:host:node", ":host".
        let (mut az, mut forced_host) = (None, None);
        if let Some(spec) = req.availability_zone.as_deref().filter(|s| !s.is_empty()) {
            let mut parts = spec.splitn(3, ':');
            let zone = parts.next().unwrap_or_default();
            let host = parts.next().filter(|h| !h.is_empty());
            if host.is_some() {
                api::enforce(
                    &self.policy,
                    "os_compute_api:servers:create:forced_host",
                    &caller.auth,
                    &serde_json::json!({"project_id": caller.project_id(), "user_id": caller.user_id()}),
                )
                .map_err(|e| ComputeError::forbidden(e.message))?;
                forced_host = host.map(str::to_owned);
            }
            if !zone.is_empty() {
                let zones = self.availability_zones_in_use().await?;
                if !zones.iter().any(|z| z == zone) {
                    return Err(ComputeError::bad("The requested availability zone is not available"));
                }
                az = Some(zone.to_owned());
            }
        }

        let group = match &req.group {
            Some(g) => {
                let Some(group) = db::server_groups::get(&self.db, g).await? else {
                    return Err(ComputeError::bad(format!("Instance group {g} could not be found.")));
                };
                if group.project_id != caller.project_id() && !caller.is_admin() {
                    return Err(ComputeError::bad(format!("Instance group {g} could not be found.")));
                }
                let limits = self.quota_limits(caller.project_id(), Some(caller.user_id())).await?;
                let allowed = limits.get("server_group_members").copied().unwrap_or(-1);
                if allowed >= 0 && group.members.len() as i64 + req.max_count > allowed {
                    return Err(ComputeError::OverQuota(
                        "Quota exceeded, too many servers in group".to_owned(),
                    ));
                }
                Some(group)
            }
            None => None,
        };

        self.validate_networks(caller, req.networks.as_ref(), req.max_count)
            .await?;
        self.check_metadata_quota(caller.project_id(), req.metadata.len())
            .await?;
        let count = self
            .check_instance_quota(
                caller.project_id(),
                caller.user_id(),
                i64::from(flavor.vcpus),
                flavor.memory_mb as i64,
                req.min_count,
                req.max_count,
            )
            .await?;

        let now = db::now();
        let reservation_id = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let admin_pass = req.admin_pass.clone().unwrap_or_else(random_password);
        let networks = req.networks.as_ref().map(|n| n.to_string());
        let mut rows = Vec::new();
        for index in 0..count {
            let uuid = uuid::Uuid::new_v4().to_string();
            let display_name = if count > 1 {
                format!("{}-{}", req.name, index + 1)
            } else {
                req.name.clone()
            };
            let hostname = match &req.hostname {
                Some(h) if count == 1 => h.clone(),
                Some(h) => format!("{h}-{}", index + 1),
                None => sanitize_hostname(&display_name, &uuid),
            };
            rows.push(InstanceRow {
                uuid,
                id: 0,
                display_name,
                display_description: req.description.clone(),
                hostname,
                project_id: caller.project_id().to_owned(),
                user_id: caller.user_id().to_owned(),
                host: None,
                node: None,
                flavor: flavor.clone(),
                old_flavor: None,
                image_ref: image.as_ref().map(|i| i.id.clone()),
                image: image.clone(),
                vm_state: vm_states::BUILDING.to_owned(),
                task_state: Some(task_states::SCHEDULING.to_owned()),
                power_state: 0,
                key_name: key_name.clone(),
                key_data: key_data.clone(),
                user_data: req.user_data.clone(),
                availability_zone: az.clone(),
                requested_az: az.clone(),
                requested_host: forced_host.clone(),
                config_drive: if req.config_drive { "True".into() } else { String::new() },
                locked: false,
                locked_by: None,
                locked_reason: None,
                access_ip_v4: req.access_ip_v4.clone(),
                access_ip_v6: req.access_ip_v6.clone(),
                progress: 0,
                reservation_id: reservation_id.clone(),
                launch_index: index,
                networks: networks.clone(),
                group_uuid: group.as_ref().map(|g| g.uuid.clone()),
                attempts: 0,
                tried_hosts: Vec::new(),
                shelved_image_id: None,
                fault: None,
                created_at: now,
                updated_at: now,
                launched_at: None,
                terminated_at: None,
                deleted_at: None,
                deleted: false,
                metadata: req.metadata.clone(),
                tags: req.tags.clone(),
                network_info: Vec::new(),
            });
        }
        db::servers::insert_many(&self.db, &mut rows).await?;
        for row in &rows {
            self.record_action(caller, &row.uuid, "create").await?;
            tracing::info!(instance = %row.uuid, request_id = %caller.request_id, flavor = %flavor.id,
                "server accepted; scheduling");
        }
        let me = self.clone();
        let ctx = caller.rpc();
        let uuids: Vec<String> = rows.iter().map(|r| r.uuid.clone()).collect();
        self.spawn_task(async move { me.schedule_and_build_many(&uuids, ctx, 1).await });
        Ok(Created {
            instances: rows,
            admin_pass,
            reservation_id,
        })
    }

    /// Zones a create may name: those of the up compute hosts and the
    /// default zone.
    pub async fn availability_zones_in_use(&self) -> Result<Vec<String>> {
        let mut zones = vec![self.config.default_availability_zone.clone()];
        for h in self.scheduler_hosts().await? {
            if !zones.contains(&h.availability_zone) {
                zones.push(h.availability_zone.clone());
            }
        }
        Ok(zones)
    }

    /// Sets name, description, hostname.
    pub async fn update_server(
        &self,
        uuid: &str,
        name: Option<String>,
        description: Option<Option<String>>,
        hostname: Option<String>,
        access_ips: AccessIps,
    ) -> Result<InstanceRow> {
        let c = Changes {
            display_name: name,
            display_description: description,
            hostname,
            access_ip_v4: access_ips.v4,
            access_ip_v6: access_ips.v6,
            ..Default::default()
        };
        if !db::servers::update(&self.db, uuid, &c, &Expect::default()).await? {
            return Err(not_found(uuid));
        }
        self.get_instance(uuid).await
    }

    /// 409 if the instance is locked and the caller is no admin.
    pub fn check_locked(&self, caller: &Caller, row: &InstanceRow) -> Result<()> {
        if row.locked && !caller.is_admin() {
            return Err(ComputeError::conflict(format!("Instance {} is locked", row.uuid)));
        }
        Ok(())
    }

    /// Deletes a server: soft when `reclaim_instance_interval` is set,
    /// else through its host's agent, or locally when it has no host or
    /// the host is down.
    pub async fn delete_server(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        if self.config.reclaim_instance_interval > 0
            && row.host.is_some()
            && !matches!(
                row.vm_state.as_str(),
                vm_states::SOFT_DELETED | vm_states::ERROR | vm_states::BUILDING
            )
        {
            return self.soft_delete(caller, row).await;
        }
        self.hard_delete(caller, row, "delete").await
    }

    pub(crate) async fn hard_delete(&self, caller: &Caller, row: InstanceRow, action: &str) -> Result<()> {
        let uuid = row.uuid.clone();
        self.record_action(caller, &uuid, action).await?;
        // The deleting user's token, for the release of the server's volumes.
        self.remember_build_context(&uuid, caller.rpc());
        let host_up = match &row.host {
            Some(h) => self.host_is_up(h).await?,
            None => false,
        };
        if !host_up {
            tracing::info!(instance = %uuid, request_id = %caller.request_id, host = ?row.host,
                "deleting locally (no host, or its compute service is down)");
            return self.finish_delete(&uuid).await;
        }
        let c = Changes {
            task_state: Some(Some(task_states::DELETING.to_owned())),
            ..Default::default()
        };
        if !db::servers::update(&self.db, &uuid, &c, &Expect::default()).await? {
            return Err(not_found(&uuid));
        }
        tracing::info!(instance = %uuid, request_id = %caller.request_id, host = ?row.host, "terminating");
        self.cast_action(caller, &row, Action::Terminate).await
    }

    /// The end of every delete: the allocation goes back to placement and
    /// the row is marked deleted.
    pub(crate) async fn finish_delete(&self, uuid: &str) -> Result<()> {
        self.release_volumes(uuid).await;
        self.forget_build_context(uuid);
        // Nova deallocates after the guest is gone; a network service that
        // cannot be reached leaves ports behind, not an undeletable server.
        if let Err(e) = self.deallocate_networks(uuid).await {
            tracing::error!(instance = %uuid, error = %e, "cannot give the instance's ports back");
        }
        if let Err(e) = self.placement.release(uuid).await {
            tracing::error!(instance = %uuid, error = %e, "cannot release the allocation; will retry at the next delete");
            return Err(e);
        }
        if let Some(row) = db::servers::get(&self.db, uuid).await?
            && let Err(e) = self.end_migration_on_delete(&row).await
        {
            tracing::error!(instance = %uuid, error = %e, "cannot end the instance's migration; will retry at the next delete");
            return Err(e);
        }
        db::servers::mark_deleted(&self.db, uuid, db::now()).await?;
        tracing::info!(instance = %uuid, "instance deleted");
        Ok(())
    }

    async fn soft_delete(&self, caller: &Caller, row: InstanceRow) -> Result<()> {
        self.record_action(caller, &row.uuid, "delete").await?;
        let c = Changes {
            vm_state: Some(vm_states::SOFT_DELETED.to_owned()),
            task_state: Some(Some(task_states::POWERING_OFF.to_owned())),
            deleted_at: Some(db::now()),
            ..Default::default()
        };
        if !db::servers::update(&self.db, &row.uuid, &c, &Expect::default()).await? {
            return Err(not_found(&row.uuid));
        }
        tracing::info!(instance = %row.uuid, request_id = %caller.request_id, "soft-deleted; powering off");
        if row.host.is_some() && self.host_is_up(row.host.as_deref().unwrap_or_default()).await? {
            self.cast_action(caller, &row, Action::Stop).await?;
        } else {
            let c = Changes {
                task_state: Some(None),
                ..Default::default()
            };
            db::servers::update(&self.db, &row.uuid, &c, &Expect::default()).await?;
        }
        Ok(())
    }

    /// `restore`: a soft-deleted server back to life.
    pub async fn restore_server(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        if row.vm_state != vm_states::SOFT_DELETED {
            return Err(invalid_state("restore", uuid, "vm_state", Some(&row.vm_state)));
        }
        self.record_action(caller, uuid, "restore").await?;
        let c = Changes {
            task_state: Some(Some(task_states::POWERING_ON.to_owned())),
            ..Default::default()
        };
        if !db::servers::update(
            &self.db,
            uuid,
            &c,
            &Expect {
                vm_state: Some(vm_states::SOFT_DELETED.to_owned()),
                ..Default::default()
            },
        )
        .await?
        {
            return Err(invalid_state("restore", uuid, "vm_state", Some(&row.vm_state)));
        }
        self.cast_action(caller, &row, Action::Start).await
    }

    /// `forceDelete`: a soft-deleted server deleted now.
    pub async fn force_delete_server(&self, caller: &Caller, uuid: &str) -> Result<()> {
        let row = self.get_instance(uuid).await?;
        self.check_locked(caller, &row)?;
        if row.vm_state != vm_states::SOFT_DELETED {
            return Err(invalid_state("forceDelete", uuid, "vm_state", Some(&row.vm_state)));
        }
        self.hard_delete(caller, row, "forceDelete").await
    }

    /// Soft-deleted servers older than `reclaim_instance_interval` are
    /// deleted for good (Nova's `_reclaim_queued_deletes`).
    pub async fn reclaim_soft_deleted(&self) -> Result<()> {
        let interval = self.config.reclaim_instance_interval as i64 * 1_000_000;
        let rows = db::servers::list(
            &self.db,
            &db::servers::ListFilter {
                vm_states: vec![vm_states::SOFT_DELETED.to_owned()],
                ..Default::default()
            },
        )
        .await?;
        let now = db::now();
        for row in rows {
            if row.deleted_at.unwrap_or(row.updated_at) + interval > now {
                continue;
            }
            let caller = Caller {
                auth: Arc::new(AuthContext {
                    user_id: row.user_id.clone(),
                    project_id: Some(row.project_id.clone()),
                    ..Default::default()
                }),
                request_id: format!("req-{}", uuid::Uuid::new_v4()),
            };
            tracing::info!(instance = %row.uuid, "reclaiming a soft-deleted instance");
            if let Err(e) = self.hard_delete(&caller, row, "delete").await {
                tracing::error!(error = %e, "reclaim failed");
            }
        }
        Ok(())
    }

    /// Casts an action to the instance's host.
    pub(crate) async fn cast_action(&self, caller: &Caller, row: &InstanceRow, action: Action) -> Result<()> {
        let Some(host) = &row.host else {
            return Err(ComputeError::conflict(format!("Instance {} is not ready", row.uuid)));
        };
        let req = ActionRequest {
            context: caller.rpc(),
            instance_uuid: row.uuid.clone(),
            action,
        };
        self.bus.cast(&rpc::agent_topic(host), "instance_action", &req).await?;
        Ok(())
    }
}

/// Access addresses a request changes: `Some(None)` clears one.
#[derive(Clone, Debug, Default)]
pub struct AccessIps {
    pub v4: Option<Option<String>>,
    pub v6: Option<Option<String>>,
}
