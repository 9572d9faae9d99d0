//! User messages (Cinder's `/messages`, microversion 3.3): what a user is
//! told about an operation that failed after its request was accepted —
//! a volume that found no backend, a create or extend the backend failed.
//! Each names Cinder's action and detail (`cinder/message/message_field.py`),
//! whose ids make the `event_id` (`VOLUME_VOLUME_001_003`) and whose texts
//! make the `user_message`. Messages live `message_ttl` (Cinder: 30 days)
//! and are removed when listed past that.

use crate::db::messages::MessageRow;
use crate::error::{Result, VolumeError};
use crate::{BlockStorage, Caller, db};

/// Cinder's `message_ttl` default.
pub const MESSAGE_TTL_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

/// The operation that failed (Cinder's `message_field.Action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ScheduleAllocateVolume,
    ExtendVolume,
    CreateVolumeFromBackend,
    SnapshotCreate,
    SnapshotDelete,
}

impl Action {
    pub fn id(self) -> &'static str {
        match self {
            Action::ScheduleAllocateVolume => "001",
            Action::ExtendVolume => "007",
            Action::CreateVolumeFromBackend => "008",
            Action::SnapshotCreate => "009",
            Action::SnapshotDelete => "010",
        }
    }

    fn text(id: &str) -> &'static str {
        match id {
            "001" => "schedule allocate volume",
            "007" => "extend volume",
            "008" => "create volume from backend storage",
            "009" => "create snapshot",
            "010" => "delete snapshot",
            _ => "unknown action",
        }
    }
}

/// Why it failed (Cinder's `message_field.Detail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    UnknownError,
    NoBackendAvailable,
    DriverFailedExtend,
    DriverFailedCreate,
    SnapshotCreateError,
    SnapshotDeleteError,
}

impl Detail {
    pub fn id(self) -> &'static str {
        match self {
            Detail::UnknownError => "001",
            Detail::NoBackendAvailable => "003",
            Detail::DriverFailedExtend => "010",
            Detail::DriverFailedCreate => "012",
            Detail::SnapshotCreateError => "013",
            Detail::SnapshotDeleteError => "016",
        }
    }

    fn text(id: &str) -> &'static str {
        match id {
            "003" => "Could not find any available weighted backend.",
            "010" => "Volume Driver failed to extend volume.",
            "012" => "Driver failed to create the volume.",
            "013" => "Snapshot failed to create.",
            "016" => "Snapshot failed to delete.",
            _ => "An unknown error occurred.",
        }
    }
}

/// Cinder's `user_message`: `"<action>:<detail>"`.
pub fn user_message(m: &MessageRow) -> String {
    format!("{}:{}", Action::text(&m.action_id), Detail::text(&m.detail_id))
}

impl BlockStorage {
    /// Records a message for the owner of a volume or snapshot. A message
    /// that cannot be written is logged, never fails the operation.
    pub async fn record_message(
        &self,
        project_id: &str,
        request_id: Option<&str>,
        resource_type: &str,
        resource_uuid: &str,
        action: Action,
        detail: Detail,
    ) {
        let now = db::now();
        let m = MessageRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project_id.to_owned(),
            request_id: request_id.unwrap_or_default().to_owned(),
            resource_type: resource_type.to_owned(),
            resource_uuid: Some(resource_uuid.to_owned()),
            event_id: format!("VOLUME_{resource_type}_{}_{}", action.id(), detail.id()),
            message_level: "ERROR".into(),
            action_id: action.id().into(),
            detail_id: detail.id().into(),
            created_at: now,
            expires_at: now + MESSAGE_TTL_MICROS,
        };
        if let Err(e) = db::messages::insert(&self.db, &m).await {
            tracing::error!(error = %e, resource = %resource_uuid, "cannot record the user message");
        }
    }

    /// The caller's project's messages (everyone's for an admin asking
    /// `all_tenants`), the expired ones removed first.
    pub async fn list_messages(&self, caller: &Caller, all_tenants: bool) -> Result<Vec<MessageRow>> {
        let now = db::now();
        let gone = db::messages::delete_expired(&self.db, now).await?;
        if gone > 0 {
            tracing::info!(count = gone, "expired user messages removed");
        }
        let scope = if caller.is_admin && all_tenants {
            None
        } else {
            Some(caller.project_id.as_str())
        };
        db::messages::list(&self.db, scope, now).await
    }

    pub async fn get_message(&self, caller: &Caller, id: &str) -> Result<MessageRow> {
        match db::messages::get(&self.db, id).await? {
            Some(m) if (caller.is_admin || m.project_id == caller.project_id) && m.expires_at > db::now() => Ok(m),
            _ => Err(VolumeError::NotFound(format!("Message {id} could not be found."))),
        }
    }

    pub async fn delete_message(&self, caller: &Caller, id: &str) -> Result<()> {
        self.get_message(caller, id).await?;
        db::messages::delete(&self.db, id).await?;
        Ok(())
    }
}
