//! Volumes: create (blank, from a snapshot, another volume or an image),
//! list, update, delete (with `cascade`), extend, metadata, the admin
//! actions, and the status lifecycle the agents drive:
//!
//! ```text
//! creating ──agent──▶ available ──extend──▶ extending ──▶ available
//!    │                    │                     └──▶ error_extending
//!    └──▶ error           └──delete──▶ deleting ──▶ (row removed)
//!                                          └──▶ error_deleting
//! ```
//!
//! Every transition the API makes is a compare-and-swap on `status`, so
//! two requests cannot both start an operation on one volume.

use std::collections::BTreeMap;

use crate::db::volumes::VolumeRow;
use crate::error::{Result, VolumeError};
use crate::image_client::ImageInfo;
use crate::messages::{Action, Detail};
use crate::quotas::Delta;
use crate::rpc::{self, CreateVolume, ExtendVolume, VolumeSource};
use crate::services::PlacementRequest;
use crate::{BlockStorage, Caller, db};

/// Statuses `os-reset_status` accepts (Cinder's volume statuses).
pub const STATUSES: &[&str] = &[
    "creating",
    "available",
    "deleting",
    "error",
    "error_deleting",
    "error_managing",
    "managing",
    "attaching",
    "in-use",
    "detaching",
    "maintenance",
    "reserved",
    "extending",
    "error_extending",
    "downloading",
    "uploading",
    "retyping",
    "reverting",
    "backing-up",
    "restoring-backup",
    "error_restoring",
];

/// Statuses a volume may be deleted from (Cinder's `volume:delete` check).
const DELETABLE: &[&str] = &[
    "available",
    "error",
    "error_restoring",
    "error_extending",
    "error_managing",
];

/// A create request, validated by the API layer's types.
#[derive(Clone, Debug, Default)]
pub struct NewVolume {
    pub name: Option<String>,
    pub description: Option<String>,
    pub size: Option<i64>,
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub snapshot_id: Option<String>,
    pub source_volid: Option<String>,
    pub image_ref: Option<String>,
    pub multiattach: bool,
}

/// Changes of `PUT /volumes/{id}`.
#[derive(Clone, Debug, Default)]
pub struct VolumeUpdate {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
}

pub(crate) fn check_metadata(m: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in m {
        if k.is_empty() || k.len() > 255 {
            return Err(VolumeError::bad(
                "Invalid input received: Metadata property key blank or greater than 255 characters.",
            ));
        }
        if v.len() > 255 {
            return Err(VolumeError::bad(
                "Invalid input received: Metadata property value greater than 255 characters.",
            ));
        }
    }
    Ok(())
}

fn gib_ceil(bytes: u64) -> i64 {
    bytes.div_ceil(1 << 30) as i64
}

impl BlockStorage {
    /// The volume, if the caller may see it (404 otherwise, as Cinder
    /// hides other projects' volumes).
    pub async fn get_volume(&self, caller: &Caller, id: &str) -> Result<VolumeRow> {
        match db::volumes::get(&self.db, id).await? {
            Some(v) if caller.is_admin || v.project_id == caller.project_id => Ok(v),
            _ => Err(VolumeError::volume_not_found(id)),
        }
    }

    /// The caller's volumes, or everyone's for an admin asking `all_tenants`
    /// (optionally of one `project_id`).
    pub async fn list_volumes(
        &self,
        caller: &Caller,
        all_tenants: bool,
        project: Option<&str>,
    ) -> Result<Vec<VolumeRow>> {
        let scope = if caller.is_admin && all_tenants {
            project
        } else {
            Some(caller.project_id.as_str())
        };
        db::volumes::list(&self.db, scope).await
    }

    pub async fn create_volume(&self, caller: &Caller, req: NewVolume) -> Result<VolumeRow> {
        check_metadata(&req.metadata)?;
        let sources = [
            req.snapshot_id.is_some(),
            req.source_volid.is_some(),
            req.image_ref.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(VolumeError::bad(
                "Invalid input received: only one of snapshot_id, source_volid and imageRef may be given.",
            ));
        }
        if let Some(size) = req.size
            && size <= 0
        {
            return Err(VolumeError::bad(format!(
                "Invalid input received: Volume size '{size}' must be an integer and greater than 0"
            )));
        }
        // The source decides the defaults (size, type, zone, host).
        let mut size = req.size;
        let mut type_hint: Option<String> = None;
        let mut source_host: Option<String> = None;
        let mut zone_hint: Option<String> = None;
        let mut source = VolumeSource::Blank;
        let mut image: Option<ImageInfo> = None;
        // A copy keeps its source's `bootable` and image metadata (Cinder
        // copies the Glance metadata along).
        let mut inherited: Option<(bool, BTreeMap<String, String>)> = None;
        if let Some(snap_id) = &req.snapshot_id {
            let snap = self
                .get_snapshot(caller, snap_id)
                .await
                .map_err(|_| VolumeError::snapshot_not_found(snap_id))?;
            if snap.status != "available" {
                return Err(VolumeError::bad(
                    "Invalid snapshot: Originating snapshot status must be one of 'available' values",
                ));
            }
            let size_v = *size.get_or_insert(snap.size);
            if size_v < snap.size {
                return Err(VolumeError::bad(format!(
                    "Invalid input received: Volume size '{size_v}'GB cannot be smaller than the snapshot size {}GB. \
                     They must be >= original snapshot size.",
                    snap.size
                )));
            }
            let vol = db::volumes::get(&self.db, &snap.volume_id).await?;
            source_host = vol.as_ref().and_then(|v| v.host.clone());
            inherited = vol.as_ref().map(|v| (v.bootable, v.image_metadata.clone()));
            zone_hint = vol.map(|v| v.availability_zone);
            type_hint = Some(snap.volume_type_id.clone());
            source = VolumeSource::Snapshot { snapshot_id: snap.id };
        } else if let Some(src_id) = &req.source_volid {
            let src = self.get_volume(caller, src_id).await?;
            if src.status != "available" {
                return Err(VolumeError::bad(format!(
                    "Invalid volume: Unable to clone volume in status {}; it must be available.",
                    src.status
                )));
            }
            let size_v = *size.get_or_insert(src.size);
            if size_v < src.size {
                return Err(VolumeError::bad(format!(
                    "Invalid input received: Clones currently must be >= original volume size ({size_v} < {}).",
                    src.size
                )));
            }
            source_host = src.host.clone();
            inherited = Some((src.bootable, src.image_metadata.clone()));
            zone_hint = Some(src.availability_zone.clone());
            type_hint = Some(src.volume_type_id.clone());
            source = VolumeSource::Volume { volume_id: src.id };
        } else if let Some(image_ref) = &req.image_ref {
            let info = self
                .image
                .get(&caller.token, image_ref)
                .await?
                .ok_or_else(|| VolumeError::bad("Invalid image identifier or unable to access requested image."))?;
            if info.status != "active" {
                return Err(VolumeError::bad(format!(
                    "Invalid image identifier or unable to access requested image: image {} is {}, not active.",
                    info.id, info.status
                )));
            }
            let size_v = size.ok_or_else(|| VolumeError::bad("Invalid input received: size is required."))?;
            let needed = gib_ceil(info.size.unwrap_or(0)).max(gib_ceil(info.virtual_size.unwrap_or(0)));
            if needed > size_v {
                return Err(VolumeError::bad(format!(
                    "Invalid input received: Size of specified image {needed}GB is larger than volume size {size_v}GB."
                )));
            }
            if info.min_disk as i64 > size_v {
                return Err(VolumeError::bad(format!(
                    "Invalid input received: Volume size {size_v}GB cannot be smaller than the image minDisk size {}GB.",
                    info.min_disk
                )));
            }
            source = VolumeSource::Image {
                image_id: info.id.clone(),
                file_url: self.image.file_url(&info.id),
                token: caller.token.clone(),
                disk_format: info.disk_format.clone().unwrap_or_else(|| "raw".into()),
            };
            image = Some(info);
        }
        let size = size.ok_or_else(|| VolumeError::bad("Invalid input received: size is required."))?;
        if size <= 0 {
            return Err(VolumeError::bad(format!(
                "Invalid input received: Volume size '{size}' must be an integer and greater than 0"
            )));
        }
        let vtype = match (&req.volume_type, &type_hint) {
            (Some(t), _) => self
                .get_type(caller, t)
                .await
                .map_err(|_| VolumeError::NotFound(format!("Volume type with name {t} could not be found.")))?,
            (None, Some(id)) => match db::types::get(&self.db, id).await? {
                Some(t) => t,
                None => self.default_type().await?,
            },
            (None, None) => self.default_type().await?,
        };
        let zones = self.zones().await?;
        let zone = match (&req.availability_zone, zone_hint) {
            (Some(z), _) => {
                if !zones.iter().any(|(name, _)| name == z) {
                    return Err(VolumeError::bad(format!(
                        "Invalid input received: Availability zone '{z}' is invalid."
                    )));
                }
                z.clone()
            }
            (None, Some(z)) => z,
            (None, None) => self.config.default_availability_zone.clone(),
        };
        self.check_quota(
            &caller.project_id,
            &Delta {
                volumes: 1,
                gigabytes: size,
                type_name: vtype.name.clone(),
                ..Default::default()
            },
        )
        .await?;
        let now = db::now();
        let row = VolumeRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: req.name,
            description: req.description,
            project_id: caller.project_id.clone(),
            user_id: caller.user_id.clone(),
            status: "creating".into(),
            size,
            availability_zone: zone.clone(),
            volume_type_id: vtype.id.clone(),
            host: None,
            bootable: inherited.as_ref().is_some_and(|(b, _)| *b),
            readonly: false,
            // Cinder: the flag, or a type with `multiattach="<is> True"`.
            multiattach: req.multiattach || vtype.extra_specs.get("multiattach").map(|s| s.trim()) == Some("<is> True"),
            snapshot_id: req.snapshot_id,
            source_volid: req.source_volid,
            metadata: req.metadata,
            image_metadata: match (&image, inherited) {
                (Some(i), _) => i.volume_metadata(),
                (None, Some((_, m))) => m,
                (None, None) => BTreeMap::new(),
            },
            error: None,
            created_at: now,
            updated_at: now,
        };
        db::volumes::insert(&self.db, &row).await?;
        let placement = PlacementRequest {
            size_gb: size,
            availability_zone: zone,
            backend_name: vtype.extra_specs.get("volume_backend_name").cloned(),
            extra_specs: vtype
                .extra_specs
                .iter()
                .filter(|(k, _)| *k != "volume_backend_name")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let msg = CreateVolume {
            volume_id: row.id.clone(),
            size_gb: size as u64,
            source,
            request_id: caller.request_id.clone(),
        };
        self.schedule_create(&row, source_host, placement, msg).await?;
        Ok(db::volumes::get(&self.db, &row.id).await?.unwrap_or(row))
    }

    /// Chooses a backend (the source's, for copies: the file driver copies
    /// locally, as Cinder keeps a snapshot's clone on its backend) and casts
    /// the create. A failed scheduling leaves the volume `error` with the
    /// reason logged and recorded.
    async fn schedule_create(
        &self,
        row: &VolumeRow,
        source_host: Option<String>,
        placement: PlacementRequest,
        msg: CreateVolume,
    ) -> Result<()> {
        let id = row.id.as_str();
        let services = self.services().await?;
        let chosen = match source_host {
            Some(h) => {
                let up = services.iter().any(|s| s.row.host == h && s.up);
                if up {
                    Ok(h)
                } else {
                    Err(format!("The source's backend {h} is down."))
                }
            }
            None => crate::services::choose(&services, &placement),
        };
        match chosen {
            Ok(host) => {
                db::volumes::set_host(&self.db, id, Some(&host), None).await?;
                if let Err(e) = self.bus.cast(&rpc::volume_topic(&host), "create_volume", &msg).await {
                    tracing::error!(volume = %id, host = %host, error = %e, "cannot send the create to the backend");
                    db::volumes::finish(&self.db, id, "error", None, None, Some(&e.to_string())).await?;
                }
            }
            Err(reason) => {
                tracing::error!(volume = %id, reason = %reason, "no valid backend was found");
                db::volumes::set_host(
                    &self.db,
                    id,
                    None,
                    Some(&format!("No valid backend was found. {reason}")),
                )
                .await?;
                db::volumes::set_status(&self.db, id, &["creating"], "error").await?;
                self.record_message(
                    &row.project_id,
                    msg.request_id.as_deref(),
                    "VOLUME",
                    id,
                    Action::ScheduleAllocateVolume,
                    Detail::NoBackendAvailable,
                )
                .await;
            }
        }
        Ok(())
    }

    pub async fn update_volume(&self, caller: &Caller, id: &str, u: VolumeUpdate) -> Result<VolumeRow> {
        let mut v = self.get_volume(caller, id).await?;
        if let Some(n) = u.name {
            v.name = n;
        }
        if let Some(d) = u.description {
            v.description = d;
        }
        if let Some(m) = u.metadata {
            check_metadata(&m)?;
            v.metadata = m;
        }
        db::volumes::update_fields(&self.db, &v).await?;
        self.get_volume(caller, id).await
    }

    /// Writes metadata: replaces it all, or merges `m` into it.
    pub async fn set_volume_metadata(
        &self,
        caller: &Caller,
        id: &str,
        m: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>> {
        check_metadata(&m)?;
        let mut v = self.get_volume(caller, id).await?;
        if replace {
            v.metadata = m;
        } else {
            v.metadata.extend(m);
        }
        db::volumes::update_fields(&self.db, &v).await?;
        Ok(v.metadata)
    }

    pub async fn delete_volume_metadata(&self, caller: &Caller, id: &str, key: &str) -> Result<()> {
        let mut v = self.get_volume(caller, id).await?;
        if v.metadata.remove(key).is_none() {
            return Err(VolumeError::NotFound(format!(
                "Volume {id} has no metadata with key {key}."
            )));
        }
        db::volumes::update_fields(&self.db, &v).await
    }

    pub async fn set_image_metadata(
        &self,
        caller: &Caller,
        id: &str,
        m: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        check_metadata(&m)?;
        let mut v = self.get_volume(caller, id).await?;
        v.image_metadata.extend(m);
        db::volumes::update_fields(&self.db, &v).await?;
        Ok(v.image_metadata)
    }

    pub async fn unset_image_metadata(&self, caller: &Caller, id: &str, key: &str) -> Result<()> {
        let mut v = self.get_volume(caller, id).await?;
        if v.image_metadata.remove(key).is_none() {
            return Err(VolumeError::NotFound(format!(
                "Glance metadata for volume {id} with key {key} cannot be found."
            )));
        }
        db::volumes::update_fields(&self.db, &v).await
    }

    pub async fn set_bootable(&self, caller: &Caller, id: &str, bootable: bool) -> Result<()> {
        let mut v = self.get_volume(caller, id).await?;
        v.bootable = bootable;
        db::volumes::update_fields(&self.db, &v).await
    }

    pub async fn set_readonly(&self, caller: &Caller, id: &str, readonly: bool) -> Result<()> {
        let mut v = self.get_volume(caller, id).await?;
        if !matches!(v.status.as_str(), "available" | "in-use") {
            return Err(VolumeError::bad(format!(
                "Invalid volume: Volume status must be available or in-use, but current status is: {}.",
                v.status
            )));
        }
        v.readonly = readonly;
        db::volumes::update_fields(&self.db, &v).await
    }

    /// Deletes a volume: straight from the table when it never reached a
    /// backend, else through its backend (`deleting` until the agent
    /// reports). `cascade` deletes its snapshots first; `force` (the admin
    /// `os-force_delete`) skips the status check.
    pub async fn delete_volume(&self, caller: &Caller, id: &str, cascade: bool, force: bool) -> Result<()> {
        let v = self.get_volume(caller, id).await?;
        if !force && !DELETABLE.contains(&v.status.as_str()) {
            return Err(VolumeError::bad(format!(
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending or \
                 error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a \
                 transfer, or be disassociated from snapshots after volume transfer. (current status: {})",
                v.status
            )));
        }
        // Cinder's `attach_status != attached`, whatever the status says
        // (an admin may have reset it).
        let attached = db::attachments::of_volume(&self.db, id)
            .await?
            .iter()
            .any(|a| a.attach_status == "attached");
        if attached && !force {
            return Err(VolumeError::bad(format!(
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending or \
                 error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a \
                 transfer, or be disassociated from snapshots after volume transfer. (current status: {})",
                v.status
            )));
        }
        let snaps = db::snapshots::of_volume(&self.db, id).await?;
        if !snaps.is_empty() && !cascade {
            return Err(VolumeError::bad(
                "Invalid volume: Volume status must be available or error or error_restoring or error_extending or \
                 error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a \
                 transfer, or be disassociated from snapshots after volume transfer.",
            ));
        }
        if cascade
            && let Some(s) = snaps
                .iter()
                .find(|s| !matches!(s.status.as_str(), "available" | "error"))
        {
            return Err(VolumeError::bad(format!(
                "Invalid volume: Snapshot {} must be available or error to delete the volume with cascade, not {}.",
                s.id, s.status
            )));
        }
        let from: Vec<&str> = if force { Vec::new() } else { DELETABLE.to_vec() };
        if !db::volumes::set_status(&self.db, id, &from, "deleting").await? {
            return Err(VolumeError::bad(
                "Invalid volume: the volume changed status meanwhile; try again.",
            ));
        }
        for s in &snaps {
            db::snapshots::set_status(&self.db, &s.id, &[], "deleting", None).await?;
        }
        let Some(host) = v.host else {
            for s in &snaps {
                db::snapshots::delete(&self.db, &s.id).await?;
            }
            db::attachments::delete_of_volume(&self.db, id).await?;
            return db::volumes::delete(&self.db, id).await;
        };
        let msg = rpc::DeleteVolume {
            volume_id: id.to_owned(),
            snapshots: snaps.iter().map(|s| s.id.clone()).collect(),
        };
        if let Err(e) = self.bus.cast(&rpc::volume_topic(&host), "delete_volume", &msg).await {
            tracing::error!(volume = %id, error = %e, "cannot send the delete to the backend");
            db::volumes::finish(&self.db, id, "error_deleting", None, None, Some(&e.to_string())).await?;
        }
        Ok(())
    }

    /// `os-extend`: bigger only, from `available` (or `in-use` when
    /// `attached_too`: microversion 3.42), within quota. An attached
    /// volume's file grows under the running guest; once it has, compute
    /// is sent a `volume-extended` event for each server the volume is
    /// attached to (see [`BlockStorage::volume_updated`]), whose
    /// hypervisor resizes the guest's disk.
    pub async fn extend_volume(&self, caller: &Caller, id: &str, new_size: i64, attached_too: bool) -> Result<()> {
        let v = self.get_volume(caller, id).await?;
        let from = if attached_too && v.status == "in-use" {
            "in-use"
        } else {
            "available"
        };
        if v.status != from {
            return Err(VolumeError::bad(format!(
                "Invalid volume: Volume {id} status must be 'available' to extend, current status is: {}.",
                v.status
            )));
        }
        if new_size <= v.size {
            return Err(VolumeError::bad(format!(
                "Invalid input received: New size for extend must be greater than current size. (current: {}, \
                 extended: {new_size}).",
                v.size
            )));
        }
        let vtype = db::types::get(&self.db, &v.volume_type_id).await?;
        self.check_quota(
            &v.project_id,
            &Delta {
                gigabytes: new_size - v.size,
                type_name: vtype.map(|t| t.name).unwrap_or_default(),
                ..Default::default()
            },
        )
        .await?;
        let Some(host) = v.host.clone() else {
            return Err(VolumeError::bad("Invalid volume: the volume is not on a backend."));
        };
        if !db::volumes::set_status(&self.db, id, &[from], "extending").await? {
            return Err(VolumeError::bad(
                "Invalid volume: the volume changed status meanwhile; try again.",
            ));
        }
        let msg = ExtendVolume {
            volume_id: id.to_owned(),
            new_size_gb: new_size as u64,
            done_status: Some(from.to_owned()),
            request_id: caller.request_id.clone(),
        };
        if let Err(e) = self.bus.cast(&rpc::volume_topic(&host), "extend_volume", &msg).await {
            tracing::error!(volume = %id, error = %e, "cannot send the extend to the backend");
            db::volumes::finish(&self.db, id, "error_extending", None, None, Some(&e.to_string())).await?;
        }
        Ok(())
    }

    /// `os-retype` without migration: the new type must place the volume
    /// on the backend it is on (its `volume_backend_name`, if it sets one);
    /// moving data between backends is not built, so a retype that needs it
    /// is refused whatever the `migration_policy`.
    pub async fn retype_volume(&self, caller: &Caller, id: &str, new_type: &str, policy: Option<&str>) -> Result<()> {
        let v = self.get_volume(caller, id).await?;
        if !matches!(v.status.as_str(), "available" | "in-use") {
            return Err(VolumeError::bad(format!(
                "Invalid volume: Volume status must be available or in-use, but current status is: {}.",
                v.status
            )));
        }
        if let Some(p) = policy
            && p != "never"
            && p != "on-demand"
        {
            return Err(VolumeError::bad(format!(
                "Invalid input received: migration_policy {p} is not valid."
            )));
        }
        let t = self
            .get_type(caller, new_type)
            .await
            .map_err(|_| VolumeError::NotFound(format!("Volume type {new_type} could not be found.")))?;
        if t.id == v.volume_type_id {
            return Err(VolumeError::bad(
                "Invalid input received: New volume type must be different from the current one.",
            ));
        }
        let services = self.services().await?;
        let backend = v
            .host
            .as_ref()
            .and_then(|h| services.iter().find(|s| &s.row.host == h))
            .and_then(|s| s.row.backend_name.clone());
        if let Some(want) = t.extra_specs.get("volume_backend_name")
            && backend.as_deref() != Some(want.as_str())
        {
            return Err(VolumeError::bad(
                "Invalid input received: Retype requires migration, which this cloud does not do.",
            ));
        }
        self.check_quota(
            &v.project_id,
            &Delta {
                volumes: 1,
                gigabytes: v.size,
                type_name: t.name.clone(),
                ..Default::default()
            }
            .per_type_only(),
        )
        .await?;
        db::volumes::set_type(&self.db, id, &t.id).await
    }

    /// `revert` (3.40): the volume's data becomes that of its latest
    /// snapshot, of the same size. The volume is `reverting` and the
    /// snapshot `restoring` until the backend reports.
    pub async fn revert_volume(&self, caller: &Caller, id: &str, snapshot_id: Option<&str>) -> Result<()> {
        let v = self.get_volume(caller, id).await?;
        let snaps = db::snapshots::of_volume(&self.db, id).await?;
        let Some(latest) = snaps
            .iter()
            .max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
        else {
            return Err(VolumeError::bad(format!("Volume {id} doesn't have any snapshots.")));
        };
        if snapshot_id != Some(latest.id.as_str()) {
            return Err(VolumeError::bad(format!(
                "Specified snapshot {} is None or not the latest one of volume {id}.",
                snapshot_id.unwrap_or("None")
            )));
        }
        if v.size != latest.size {
            return Err(VolumeError::bad(format!(
                "Can't revert volume {id} to its latest snapshot {}. The volume size must be equal to the snapshot \
                 size.",
                latest.id
            )));
        }
        let Some(host) = v.host.clone() else {
            return Err(VolumeError::Conflict(format!(
                "Invalid volume: Can't revert volume {id} to its latest snapshot {}. Volume's status must be \
                 'available'.",
                latest.id
            )));
        };
        if !db::volumes::set_status(&self.db, id, &["available"], "reverting").await? {
            return Err(VolumeError::Conflict(format!(
                "Invalid volume: Can't revert volume {id} to its latest snapshot {}. Volume's status must be \
                 'available'.",
                latest.id
            )));
        }
        if !db::snapshots::set_status(&self.db, &latest.id, &["available"], "restoring", None).await? {
            db::volumes::set_status(&self.db, id, &["reverting"], "available").await?;
            return Err(VolumeError::Conflict(format!(
                "Invalid snapshot: Can't revert volume {id} to its latest snapshot {}. Snapshot's status must be \
                 'available'.",
                latest.id
            )));
        }
        let msg = rpc::SnapshotRef {
            snapshot_id: latest.id.clone(),
            volume_id: id.to_owned(),
        };
        if let Err(e) = self
            .bus
            .cast(&rpc::volume_topic(&host), "revert_to_snapshot", &msg)
            .await
        {
            tracing::error!(volume = %id, error = %e, "cannot send the revert to the backend");
            db::snapshots::set_status(&self.db, &latest.id, &["restoring"], "available", None).await?;
            db::volumes::set_status(&self.db, id, &["reverting"], "available").await?;
            return Err(VolumeError::Bus(e));
        }
        Ok(())
    }

    /// `os-reset_status` (admin): any known status, no backend involved.
    pub async fn reset_volume_status(&self, caller: &Caller, id: &str, status: &str) -> Result<()> {
        self.get_volume(caller, id).await?;
        if !STATUSES.contains(&status) {
            return Err(VolumeError::bad(format!(
                "Invalid input received: Must specify a valid status, not {status}."
            )));
        }
        db::volumes::set_status(&self.db, id, &[], status).await?;
        Ok(())
    }

    /// An agent reports the end of an operation.
    pub async fn volume_updated(&self, u: &rpc::VolumeUpdate) -> Result<()> {
        let Some(v) = db::volumes::get(&self.db, &u.volume_id).await? else {
            return Ok(());
        };
        if v.host.as_deref() != Some(u.host.as_str()) {
            tracing::warn!(volume = %u.volume_id, from = %u.host, "update from a backend the volume is not on; ignored");
            return Ok(());
        }
        if let Some(reason) = &u.reason {
            tracing::error!(volume = %u.volume_id, status = %u.status, reason = %reason, "volume operation failed");
        }
        let failure = match (v.status.as_str(), u.status.as_str()) {
            ("creating", "error") => Some((Action::CreateVolumeFromBackend, Detail::DriverFailedCreate)),
            ("extending", "error_extending") => Some((Action::ExtendVolume, Detail::DriverFailedExtend)),
            _ => None,
        };
        if let Some((action, detail)) = failure {
            self.record_message(&v.project_id, u.request_id.as_deref(), "VOLUME", &v.id, action, detail)
                .await;
        }
        if u.status == "deleted" {
            for s in db::snapshots::of_volume(&self.db, &u.volume_id).await? {
                db::snapshots::delete(&self.db, &s.id).await?;
            }
            db::attachments::delete_of_volume(&self.db, &u.volume_id).await?;
            return db::volumes::delete(&self.db, &u.volume_id).await;
        }
        // A volume with attachments is in use whatever its backend says
        // (an online extend or a reconciled extend ends here).
        let attachments = db::attachments::of_volume(&self.db, &v.id).await?;
        let status = if u.status == "available" && !attachments.is_empty() {
            "in-use"
        } else {
            u.status.as_str()
        };
        if v.status == "extending" && status == "in-use" {
            let mut servers: Vec<String> = attachments.into_iter().filter_map(|a| a.instance_uuid).collect();
            servers.sort();
            servers.dedup();
            self.notify_volume_extended(&v.id, servers);
        }
        db::volumes::finish(
            &self.db,
            &u.volume_id,
            status,
            u.size_gb.map(|s| s as i64),
            u.bootable,
            u.reason.as_deref(),
        )
        .await?;
        Ok(())
    }
}

impl BlockStorage {
    /// Cinder's `nova.API.extend_volume`: a `volume-extended` event to
    /// compute for each server, with the service's credentials, in the
    /// background. A failure is logged, not undone: the volume did grow.
    fn notify_volume_extended(&self, volume_id: &str, servers: Vec<String>) {
        let Some(creds) = self.config.service_credentials.clone() else {
            tracing::info!(volume = %volume_id, "no credentials for compute: the servers are not told of the extend");
            return;
        };
        if servers.is_empty() {
            return;
        }
        let client = crate::compute_client::ComputeClient::new(self.config.compute_url.clone(), creds);
        let volume_id = volume_id.to_owned();
        tokio::spawn(async move {
            match client.volume_extended(&servers, &volume_id).await {
                Ok(events) => {
                    for e in events.iter().filter(|e| e["code"] != 200) {
                        tracing::warn!(volume = %volume_id, server = %e["server_uuid"], code = %e["code"],
                            "compute did not take the volume-extended event");
                    }
                    tracing::info!(volume = %volume_id, servers = ?servers, "compute told of the extend");
                }
                Err(e) => {
                    tracing::error!(volume = %volume_id, servers = ?servers, error = %e, "failed to notify compute of the extend")
                }
            }
        });
    }
}
