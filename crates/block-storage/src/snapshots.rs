//! Snapshots: create (from an `available` volume; `force` is accepted
//! for `in-use` volumes, which cannot exist yet), list, update, delete,
//! metadata and the admin status actions. Lifecycle: `creating →
//! available | error`, `deleting → (row removed) | error_deleting`.

use std::collections::BTreeMap;

use crate::db::snapshots::SnapshotRow;
use crate::error::{Result, VolumeError};
use crate::messages::{Action, Detail};
use crate::quotas::Delta;
use crate::rpc::{self, SnapshotRef};
use crate::volumes::check_metadata;
use crate::{BlockStorage, Caller, db};

pub const STATUSES: &[&str] = &[
    "creating",
    "available",
    "deleting",
    "error",
    "error_deleting",
    "backing-up",
    "restoring",
    "unmanaging",
];

#[derive(Clone, Debug, Default)]
pub struct NewSnapshot {
    pub volume_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub force: bool,
    pub metadata: BTreeMap<String, String>,
}

impl BlockStorage {
    pub async fn get_snapshot(&self, caller: &Caller, id: &str) -> Result<SnapshotRow> {
        match db::snapshots::get(&self.db, id).await? {
            Some(s) if caller.is_admin || s.project_id == caller.project_id => Ok(s),
            _ => Err(VolumeError::snapshot_not_found(id)),
        }
    }

    pub async fn list_snapshots(
        &self,
        caller: &Caller,
        all_tenants: bool,
        project: Option<&str>,
    ) -> Result<Vec<SnapshotRow>> {
        let scope = if caller.is_admin && all_tenants {
            project
        } else {
            Some(caller.project_id.as_str())
        };
        db::snapshots::list(&self.db, scope).await
    }

    pub async fn create_snapshot(&self, caller: &Caller, req: NewSnapshot) -> Result<SnapshotRow> {
        check_metadata(&req.metadata)?;
        let v = self.get_volume(caller, &req.volume_id).await?;
        let ok = v.status == "available" || (req.force && v.status == "in-use");
        if !ok {
            return Err(VolumeError::bad(format!(
                "Invalid volume: Volume {} status must be available, but current status is: {}.",
                v.id, v.status
            )));
        }
        let Some(host) = v.host.clone() else {
            return Err(VolumeError::bad("Invalid volume: the volume is not on a backend."));
        };
        let vtype = db::types::get(&self.db, &v.volume_type_id).await?;
        self.check_quota(
            &v.project_id,
            &Delta {
                snapshots: 1,
                gigabytes: v.size,
                type_name: vtype.map(|t| t.name).unwrap_or_default(),
                ..Default::default()
            },
        )
        .await?;
        let now = db::now();
        let row = SnapshotRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: req.name,
            description: req.description,
            project_id: v.project_id.clone(),
            user_id: caller.user_id.clone(),
            volume_id: v.id.clone(),
            volume_type_id: v.volume_type_id.clone(),
            status: "creating".into(),
            size: v.size,
            metadata: req.metadata,
            error: None,
            progress: None,
            created_at: now,
            updated_at: now,
        };
        db::snapshots::insert(&self.db, &row).await?;
        let msg = SnapshotRef {
            snapshot_id: row.id.clone(),
            volume_id: v.id,
        };
        if let Err(e) = self.bus.cast(&rpc::volume_topic(&host), "create_snapshot", &msg).await {
            tracing::error!(snapshot = %row.id, error = %e, "cannot send the snapshot to the backend");
            db::snapshots::set_status(&self.db, &row.id, &[], "error", Some(&e.to_string())).await?;
        }
        Ok(db::snapshots::get(&self.db, &row.id).await?.unwrap_or(row))
    }

    pub async fn update_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        name: Option<Option<String>>,
        description: Option<Option<String>>,
    ) -> Result<SnapshotRow> {
        let mut s = self.get_snapshot(caller, id).await?;
        if let Some(n) = name {
            s.name = n;
        }
        if let Some(d) = description {
            s.description = d;
        }
        db::snapshots::update_fields(&self.db, &s).await?;
        self.get_snapshot(caller, id).await
    }

    pub async fn set_snapshot_metadata(
        &self,
        caller: &Caller,
        id: &str,
        m: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<BTreeMap<String, String>> {
        check_metadata(&m)?;
        let mut s = self.get_snapshot(caller, id).await?;
        if replace {
            s.metadata = m;
        } else {
            s.metadata.extend(m);
        }
        db::snapshots::update_fields(&self.db, &s).await?;
        Ok(s.metadata)
    }

    pub async fn delete_snapshot_metadata(&self, caller: &Caller, id: &str, key: &str) -> Result<()> {
        let mut s = self.get_snapshot(caller, id).await?;
        if s.metadata.remove(key).is_none() {
            return Err(VolumeError::NotFound(format!(
                "Snapshot {id} has no metadata with key {key}."
            )));
        }
        db::snapshots::update_fields(&self.db, &s).await
    }

    /// Deletes through the volume's backend; `force` skips the status check.
    pub async fn delete_snapshot(&self, caller: &Caller, id: &str, force: bool) -> Result<()> {
        let s = self.get_snapshot(caller, id).await?;
        let from: &[&str] = if force {
            &[]
        } else {
            &["available", "error", "error_deleting"]
        };
        if !db::snapshots::set_status(&self.db, id, from, "deleting", None).await? {
            return Err(VolumeError::bad(format!(
                "Invalid snapshot: Volume Snapshot status must be available or error, not {}.",
                s.status
            )));
        }
        let host = db::volumes::get(&self.db, &s.volume_id).await?.and_then(|v| v.host);
        let Some(host) = host else {
            return db::snapshots::delete(&self.db, id).await;
        };
        let msg = SnapshotRef {
            snapshot_id: s.id.clone(),
            volume_id: s.volume_id.clone(),
        };
        if let Err(e) = self.bus.cast(&rpc::volume_topic(&host), "delete_snapshot", &msg).await {
            tracing::error!(snapshot = %id, error = %e, "cannot send the delete to the backend");
            db::snapshots::set_status(&self.db, id, &[], "error_deleting", Some(&e.to_string())).await?;
        }
        Ok(())
    }

    pub async fn reset_snapshot_status(&self, caller: &Caller, id: &str, status: &str) -> Result<()> {
        self.get_snapshot(caller, id).await?;
        if !STATUSES.contains(&status) {
            return Err(VolumeError::bad(format!(
                "Invalid input received: Must specify a valid status, not {status}."
            )));
        }
        db::snapshots::set_status(&self.db, id, &[], status, None).await?;
        Ok(())
    }

    /// `os-update_snapshot_status` (what Nova's assisted snapshots use):
    /// only `creating → creating | available | error` and `deleting →
    /// deleting | error_deleting`, as Cinder allows.
    pub async fn update_snapshot_status(
        &self,
        caller: &Caller,
        id: &str,
        status: &str,
        progress: Option<&str>,
    ) -> Result<()> {
        if progress.is_some_and(|p| p.len() > 10) {
            return Err(VolumeError::bad(
                "Invalid input received: progress must be at most 10 characters.",
            ));
        }
        let s = self.get_snapshot(caller, id).await?;
        let allowed: &[&str] = match s.status.as_str() {
            "creating" => &["creating", "available", "error"],
            "deleting" => &["deleting", "error_deleting"],
            _ => &[],
        };
        if !allowed.contains(&status) {
            return Err(VolumeError::bad(format!(
                "Provided snapshot status {status} not allowed for snapshot with status {}.",
                s.status
            )));
        }
        if !db::snapshots::set_status(&self.db, id, &[s.status.as_str()], status, None).await? {
            return Err(VolumeError::bad(
                "Invalid snapshot: the snapshot changed status meanwhile; try again.",
            ));
        }
        if let Some(p) = progress {
            db::snapshots::set_progress(&self.db, id, Some(p)).await?;
        }
        Ok(())
    }

    pub async fn snapshot_updated(&self, u: &rpc::SnapshotUpdate) -> Result<()> {
        if let Some(reason) = &u.reason {
            tracing::error!(snapshot = %u.snapshot_id, status = %u.status, reason = %reason, "snapshot operation failed");
        }
        if u.status == "deleted" {
            return db::snapshots::delete(&self.db, &u.snapshot_id).await;
        }
        if let Some(s) = db::snapshots::get(&self.db, &u.snapshot_id).await? {
            let failure = match (s.status.as_str(), u.status.as_str()) {
                ("creating", "error") => Some((Action::SnapshotCreate, Detail::SnapshotCreateError)),
                ("deleting", "error_deleting") => Some((Action::SnapshotDelete, Detail::SnapshotDeleteError)),
                _ => None,
            };
            if let Some((action, detail)) = failure {
                self.record_message(&s.project_id, None, "VOLUME_SNAPSHOT", &s.id, action, detail)
                    .await;
            }
        }
        db::snapshots::set_status(&self.db, &u.snapshot_id, &[], &u.status, u.reason.as_deref()).await?;
        Ok(())
    }
}
