//! Attachments of volumes to servers: the legacy volume actions Nova has
//! always used (`os-reserve`, `os-initialize_connection`, `os-attach`,
//! `os-begin_detaching`, `os-terminate_connection`, `os-detach` …) and the
//! attachments API of microversion 3.27 (create, update with a connector,
//! delete, and `os-complete` at 3.44).
//!
//! The statuses, as Cinder moves them:
//!
//! ```text
//! legacy:  available ─reserve─▶ attaching ─attach─▶ in-use ─begin_detaching─▶ detaching
//!              ▲                    │unreserve         ▲ roll_detaching         │ detach
//!              └────────────────────┘                  └────────────────────────┤
//!              available (no attachment left) / in-use (others left) ◀──────────┘
//! 3.27:    available ─create─▶ reserved ─update(connector)─▶ attaching ─complete─▶ in-use
//!          delete of the last attachment ─▶ available
//! ```
//!
//! A multiattach volume may be reserved (or get a new attachment) while
//! `in-use`. Every volume status change is a compare-and-swap, so two
//! reservations of one single-attach volume cannot both succeed.
//!
//! The export itself is the backend's: `initialize_connection` is a call
//! to the volume agent on `volume.<host>`, which asks its driver (see the
//! driver trait's contract); `connection_info.data.access_mode` is added
//! here from the volume's `readonly` flag or the attachment's mode.
//!
//! After a restart nothing is left half-way in this module: each request
//! ends in a state of the graph above. A volume left `attaching` or
//! `reserved` by a client that died (Nova crashed between `os-reserve`
//! and `os-attach`) stays so until the client rolls back (`os-unreserve`,
//! attachment delete) or an admin resets it, as in Cinder; the volume
//! agent's reconciliation keeps such volumes (the data is there) and
//! reports `error` only when the backend lost the data.
//!
//! Not done: Cinder's check (bug #2004555) that a user, rather than Nova
//! with a service token, may not delete an attachment Nova still uses —
//! this cloud cannot ask Nova yet, so the attachment is deleted as asked.

use serde_json::{Value, json};

use crate::db::attachments::AttachmentRow;
use crate::db::volumes::VolumeRow;
use crate::error::{Result, VolumeError};
use crate::rpc::{self, ConnectionInfo, Connector, InitializeConnection, TerminateConnection};
use crate::{BlockStorage, Caller, db};

fn invalid_volume(reason: impl std::fmt::Display) -> VolumeError {
    VolumeError::bad(format!("Invalid volume: {reason}"))
}

/// Cinder's `utils.build_or_str`.
fn or_str(items: &[&str]) -> String {
    items.join(" or ")
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// The arguments of `os-attach`.
#[derive(Clone, Debug, Default)]
pub struct AttachRequest {
    pub instance_uuid: Option<String>,
    pub host_name: Option<String>,
    pub mountpoint: String,
    pub mode: String,
}

impl BlockStorage {
    /// A volume's attachments, oldest first.
    pub async fn attachments_of(&self, volume_id: &str) -> Result<Vec<AttachmentRow>> {
        db::attachments::of_volume(&self.db, volume_id).await
    }

    /// `os-reserve`: `available` (or `in-use`, for multiattach) → `attaching`.
    pub async fn reserve_volume(&self, caller: &Caller, id: &str) -> Result<()> {
        let v = self.get_volume(caller, id).await?;
        let expected: &[&str] = if v.multiattach {
            &["available", "in-use"]
        } else {
            &["available"]
        };
        if !db::volumes::set_status(&self.db, id, expected, "attaching").await? {
            let current = self.get_volume(caller, id).await?.status;
            return Err(invalid_volume(format!(
                "Volume status must be {} to reserve, but the status is {current}.",
                or_str(expected)
            )));
        }
        tracing::info!(volume = %id, "volume reserved");
        Ok(())
    }

    /// `os-unreserve`: `attaching` → `in-use` if the volume has
    /// attachments, else `available`; nothing to do in any other status.
    pub async fn unreserve_volume(&self, caller: &Caller, id: &str) -> Result<()> {
        self.get_volume(caller, id).await?;
        let to = if self.attachments_of(id).await?.is_empty() {
            "available"
        } else {
            "in-use"
        };
        if !db::volumes::set_status(&self.db, id, &["attaching"], to).await? {
            tracing::debug!(volume = %id, "unreserve of a volume that was not reserved; nothing to do");
        }
        Ok(())
    }

    /// `os-begin_detaching`: `in-use` with an attached attachment →
    /// `detaching`.
    pub async fn begin_detaching(&self, caller: &Caller, id: &str) -> Result<()> {
        self.get_volume(caller, id).await?;
        let attached = self
            .attachments_of(id)
            .await?
            .iter()
            .any(|a| a.attach_status == "attached");
        if !attached || !db::volumes::set_status(&self.db, id, &["in-use"], "detaching").await? {
            return Err(invalid_volume(
                "Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to \
                 detach.",
            ));
        }
        Ok(())
    }

    /// `os-roll_detaching`: `detaching` → `in-use`; nothing otherwise.
    pub async fn roll_detaching(&self, caller: &Caller, id: &str) -> Result<()> {
        self.get_volume(caller, id).await?;
        db::volumes::set_status(&self.db, id, &["detaching"], "in-use").await?;
        Ok(())
    }

    /// Asks the volume's backend to export it to the connector's host.
    async fn connect(&self, v: &VolumeRow, connector: &Connector) -> Result<ConnectionInfo> {
        if v.status == "maintenance" {
            return Err(invalid_volume(
                "The volume connection cannot be initialized in maintenance mode.",
            ));
        }
        let Some(host) = &v.host else {
            return Err(invalid_volume(format!(
                "Volume {} is not on a backend (status {}); it cannot be connected.",
                v.id, v.status
            )));
        };
        let req = InitializeConnection {
            volume_id: v.id.clone(),
            connector: connector.clone(),
        };
        self.bus
            .call(
                &rpc::volume_topic(host),
                "initialize_connection",
                &req,
                rpc::CONNECTION_CALL_TIMEOUT,
            )
            .await
            .map_err(|e| backend_error(e, "Unable to fetch connection information from backend."))
    }

    async fn disconnect(&self, v: &VolumeRow, connector: &Connector) -> Result<()> {
        let Some(host) = &v.host else {
            return Ok(());
        };
        let req = TerminateConnection {
            volume_id: v.id.clone(),
            connector: connector.clone(),
        };
        self.bus
            .call::<_, Value>(
                &rpc::volume_topic(host),
                "terminate_connection",
                &req,
                rpc::CONNECTION_CALL_TIMEOUT,
            )
            .await
            .map_err(|e| backend_error(e, "Unable to terminate volume connection from backend."))?;
        Ok(())
    }

    /// `os-initialize_connection`: Cinder's `connection_info` for the
    /// connector's host, with `access_mode` from the `readonly` flag.
    pub async fn initialize_connection(&self, caller: &Caller, id: &str, connector: &Connector) -> Result<Value> {
        let v = self.get_volume(caller, id).await?;
        let info = self.connect(&v, connector).await?;
        let mut data = serde_json::Map::new();
        data.extend(info.data);
        data.insert("volume_id".into(), json!(v.id));
        data.insert("access_mode".into(), json!(if v.readonly { "ro" } else { "rw" }));
        data.insert("encrypted".into(), json!(false));
        data.insert("qos_specs".into(), self.front_end_qos(&v).await?);
        Ok(json!({
            "driver_volume_type": info.driver_volume_type,
            "data": data,
            "enforce_multipath": connector.other.get("enforce_multipath").cloned().unwrap_or(json!(false)),
        }))
    }

    /// `os-terminate_connection`: removes the export for the connector's
    /// host, then unreserves (as Cinder: a terminate rolls back a reserve).
    pub async fn terminate_connection(&self, caller: &Caller, id: &str, connector: Option<&Connector>) -> Result<()> {
        let v = self.get_volume(caller, id).await?;
        if let Some(c) = connector {
            self.disconnect(&v, c).await?;
        }
        self.unreserve_volume(caller, id).await
    }

    /// `os-attach`: records the attachment (`attached`) and moves the
    /// volume to `in-use`.
    pub async fn attach_volume(&self, caller: &Caller, id: &str, req: AttachRequest) -> Result<AttachmentRow> {
        let v = self.get_volume(caller, id).await?;
        if v.status == "maintenance" {
            return Err(invalid_volume("The volume cannot be attached in maintenance mode."));
        }
        if let Some(i) = &req.instance_uuid
            && !is_uuid(i)
        {
            return Err(VolumeError::bad(format!(
                "Error attaching volume - InvalidUUID: Expected a UUID but received {i}."
            )));
        }
        if v.readonly && req.mode != "ro" {
            return Err(VolumeError::bad(format!(
                "Error attaching volume - InvalidVolumeAttachMode: Invalid attaching mode '{}' for volume {id}.",
                req.mode
            )));
        }
        let existing = self.attachments_of(id).await?;
        // Already tracked (a retried attach): the same attachment, in use.
        if let Some(a) = existing.iter().find(|a| {
            a.attach_status == "attached"
                && match &req.instance_uuid {
                    Some(i) => a.instance_uuid.as_deref() == Some(i.as_str()),
                    None => a.attached_host == req.host_name,
                }
        }) {
            db::volumes::set_status(&self.db, id, &[], "in-use").await?;
            return Ok(a.clone());
        }
        if v.status == "in-use" && !v.multiattach {
            return Err(VolumeError::bad(
                "Error attaching volume - InvalidVolume: Invalid volume: volume is already attached and multiple \
                 attachments are not enabled",
            ));
        }
        let from: &[&str] = &["available", "attaching", "reserved", "in-use"];
        if !from.contains(&v.status.as_str()) {
            return Err(VolumeError::bad(format!(
                "Error attaching volume - InvalidVolume: Invalid volume: Volume status must be {} to attach, but the \
                 status is {}.",
                or_str(from),
                v.status
            )));
        }
        let now = db::now();
        let a = AttachmentRow {
            id: uuid::Uuid::new_v4().to_string(),
            volume_id: id.to_owned(),
            instance_uuid: req.instance_uuid,
            attached_host: req.host_name,
            mountpoint: Some(req.mountpoint),
            attach_mode: Some(req.mode),
            attach_status: "attached".into(),
            connector: None,
            connection_info: None,
            attach_time: Some(now),
            detach_time: None,
            created_at: now,
            updated_at: now,
        };
        db::attachments::insert(&self.db, &a).await?;
        if !db::volumes::set_status(&self.db, id, from, "in-use").await? {
            db::attachments::delete(&self.db, &a.id).await?;
            return Err(invalid_volume("the volume changed status meanwhile; try again."));
        }
        tracing::info!(volume = %id, attachment = %a.id, server = ?a.instance_uuid, "volume attached");
        Ok(a)
    }

    /// `os-detach`: removes one attachment (the only one when no id is
    /// given); the volume becomes `available` when none is left.
    pub async fn detach_volume(&self, caller: &Caller, id: &str, attachment_id: Option<&str>) -> Result<()> {
        let v = self.get_volume(caller, id).await?;
        if v.status == "maintenance" {
            return Err(invalid_volume("The volume cannot be detached in maintenance mode."));
        }
        let attachments = self.attachments_of(id).await?;
        let target = match attachment_id {
            Some(aid) => match db::attachments::get(&self.db, aid).await? {
                Some(a) if a.volume_id != id => {
                    return Err(VolumeError::bad(
                        "Invalid input received: Mismatched volume and attachment",
                    ));
                }
                // Already gone: only the volume's status is put right.
                other => other,
            },
            None => match attachments.as_slice() {
                [] => None,
                [one] => Some(one.clone()),
                _ => {
                    return Err(VolumeError::bad(
                        "Error detaching volume - InvalidVolume: Invalid volume: Detach volume failed: More than one \
                         attachment, but no attachment_id provided.",
                    ));
                }
            },
        };
        if let Some(a) = &target {
            db::attachments::delete(&self.db, &a.id).await?;
            tracing::info!(volume = %id, attachment = %a.id, "volume detached");
        }
        self.finish_detach(id).await
    }

    /// Cinder's `volume_detached`: `in-use` while attachments remain,
    /// `available` once none does.
    async fn finish_detach(&self, id: &str) -> Result<()> {
        let left = self.attachments_of(id).await?;
        let to = if left.is_empty() { "available" } else { "in-use" };
        // Statuses an attachment operation may leave a volume in; others
        // (deleting, an admin's reset …) are not overwritten.
        db::volumes::set_status(
            &self.db,
            id,
            &["attaching", "reserved", "in-use", "detaching", "available"],
            to,
        )
        .await?;
        Ok(())
    }

    /// `os-force_detach` (admin): terminates the connection (the given
    /// connector, or the attachment's) and detaches, whatever the status.
    pub async fn force_detach(
        &self,
        caller: &Caller,
        id: &str,
        attachment_id: Option<&str>,
        connector: Option<Connector>,
    ) -> Result<()> {
        let v = self.get_volume(caller, id).await?;
        let attachment = match attachment_id {
            Some(aid) => db::attachments::get(&self.db, aid).await?.filter(|a| a.volume_id == id),
            None => None,
        };
        let connector = connector.or_else(|| {
            attachment
                .as_ref()
                .and_then(|a| a.connector.clone())
                .and_then(|c| serde_json::from_value(c).ok())
        });
        if let Some(c) = &connector {
            self.disconnect(&v, c).await?;
        }
        match (&attachment, attachment_id) {
            (Some(a), _) => {
                db::attachments::delete(&self.db, &a.id).await?;
            }
            (None, Some(aid)) => {
                return Err(VolumeError::NotFound(format!(
                    "Volume attachment could not be found with filter: attachment_id = {aid}."
                )));
            }
            (None, None) => {
                if let [one] = self.attachments_of(id).await?.as_slice() {
                    db::attachments::delete(&self.db, &one.id).await?;
                }
            }
        }
        let left = self.attachments_of(id).await?;
        let to = if left.is_empty() { "available" } else { "in-use" };
        db::volumes::set_status(&self.db, id, &[], to).await?;
        Ok(())
    }

    // ----- the attachments API (3.27) -----------------------------------

    /// An attachment the caller may see (that of a volume it may see).
    pub async fn get_attachment(&self, caller: &Caller, id: &str) -> Result<(AttachmentRow, VolumeRow)> {
        let not_found = || VolumeError::NotFound(format!("Volume attachment {id} could not be found."));
        let a = db::attachments::get(&self.db, id).await?.ok_or_else(not_found)?;
        let v = self.get_volume(caller, &a.volume_id).await.map_err(|_| not_found())?;
        Ok((a, v))
    }

    /// The caller's project's attachments, or everyone's for an admin
    /// asking `all_tenants`.
    pub async fn list_attachments(&self, caller: &Caller, all_tenants: bool) -> Result<Vec<AttachmentRow>> {
        let scope = if caller.is_admin && all_tenants {
            None
        } else {
            Some(caller.project_id.as_str())
        };
        db::attachments::list(&self.db, scope).await
    }

    /// `POST /attachments`: reserves the volume (`reserved`) and, with a
    /// connector, connects it at once (`attaching`).
    pub async fn create_attachment(
        &self,
        caller: &Caller,
        volume_id: &str,
        instance_uuid: Option<String>,
        connector: Option<Connector>,
    ) -> Result<AttachmentRow> {
        let v = self.get_volume(caller, volume_id).await?;
        if v.status.contains("error") {
            return Err(invalid_volume(format!(
                "Volume attachments can not be created if the volume is in an error state. The Volume {} currently \
                 has a status of: {} ",
                v.id, v.status
            )));
        }
        let expected: &[&str] = if v.multiattach {
            &["available", "in-use", "downloading"]
        } else {
            &["available", "downloading"]
        };
        if !db::volumes::set_status(&self.db, volume_id, expected, "reserved").await? {
            // The same server attaching again (a migration) may.
            let current = self.get_volume(caller, volume_id).await?;
            let same_server = match &instance_uuid {
                Some(i) if matches!(current.status.as_str(), "in-use" | "reserved") => self
                    .attachments_of(volume_id)
                    .await?
                    .iter()
                    .any(|a| a.instance_uuid.as_deref() == Some(i.as_str())),
                _ => false,
            };
            if !same_server {
                return Err(invalid_volume(format!(
                    "Volume {volume_id} status must be {} to reserve, but the current status is {}.",
                    or_str(expected),
                    current.status
                )));
            }
        }
        let now = db::now();
        let mut a = AttachmentRow {
            id: uuid::Uuid::new_v4().to_string(),
            volume_id: volume_id.to_owned(),
            instance_uuid,
            attach_mode: Some(if v.readonly { "ro" } else { "null" }.into()),
            attach_status: "reserved".into(),
            created_at: now,
            updated_at: now,
            ..Default::default()
        };
        db::attachments::insert(&self.db, &a).await?;
        if let Some(c) = connector {
            match self.connect_attachment(&v, &mut a, c).await {
                Ok(()) => {}
                Err(e) => {
                    db::attachments::delete(&self.db, &a.id).await?;
                    self.finish_detach(volume_id).await?;
                    return Err(e);
                }
            }
        }
        Ok(a)
    }

    /// `PUT /attachments/{id}`: connects a reserved attachment to the
    /// connector's host (`attaching`, the volume too).
    pub async fn update_attachment(&self, caller: &Caller, id: &str, connector: Connector) -> Result<AttachmentRow> {
        let (mut a, v) = self.get_attachment(caller, id).await?;
        if v.status.contains("error") {
            return Err(VolumeError::Conflict(format!(
                "Volume attachments can not be updated if the volume is in an error state. The Volume {} currently \
                 has a status of: {} ",
                v.id, v.status
            )));
        }
        let others = self.attachments_of(&v.id).await?;
        if others.len() > 1 && !v.multiattach {
            let hosts: std::collections::BTreeSet<String> = others
                .iter()
                .filter(|o| o.id != a.id && o.connection_info.is_some())
                .filter_map(|o| o.attached_host.clone())
                .collect();
            if !hosts.is_empty() && !hosts.contains(&connector.host) {
                return Err(VolumeError::Conflict(format!(
                    "duplicate connectors detected on volume {}",
                    v.id
                )));
            }
        }
        self.connect_attachment(&v, &mut a, connector).await?;
        Ok(a)
    }

    /// Exports the volume to the connector's host and records it on the
    /// attachment (`attaching`), Cinder's flattened `connection_info`
    /// included.
    async fn connect_attachment(&self, v: &VolumeRow, a: &mut AttachmentRow, connector: Connector) -> Result<()> {
        let mode = match a.attach_mode.as_deref() {
            Some("ro") => "ro".to_owned(),
            Some("rw") => "rw".to_owned(),
            _ => connector
                .other
                .get("mode")
                .and_then(Value::as_str)
                .filter(|m| matches!(*m, "rw" | "ro"))
                .unwrap_or("rw")
                .to_owned(),
        };
        let info = self.connect(v, &connector).await?;
        let mut flat = serde_json::Map::new();
        flat.extend(info.data);
        flat.insert("volume_id".into(), json!(v.id));
        flat.insert("access_mode".into(), json!(mode));
        flat.insert("encrypted".into(), json!(false));
        flat.insert("qos_specs".into(), self.front_end_qos(v).await?);
        flat.insert("driver_volume_type".into(), json!(info.driver_volume_type));
        flat.insert("attachment_id".into(), json!(a.id));
        flat.insert(
            "enforce_multipath".into(),
            connector
                .other
                .get("enforce_multipath")
                .cloned()
                .unwrap_or(json!(false)),
        );
        let now = db::now();
        a.mountpoint = Some(
            connector
                .other
                .get("mountpoint")
                .and_then(Value::as_str)
                .unwrap_or("na")
                .to_owned(),
        );
        a.attached_host = Some(connector.host.clone());
        a.attach_mode = Some(mode);
        a.attach_status = "attaching".into();
        a.attach_time = Some(now);
        a.connector = Some(serde_json::to_value(&connector).map_err(|e| VolumeError::Internal(e.to_string()))?);
        a.connection_info = Some(Value::Object(flat));
        db::attachments::update(&self.db, a).await?;
        db::volumes::set_status(&self.db, &v.id, &["reserved", "available", "in-use"], "attaching").await?;
        Ok(())
    }

    /// `POST /attachments/{id}/action {"os-complete": {}}` (3.44): the
    /// attachment is `attached`, the volume `in-use`.
    pub async fn complete_attachment(&self, caller: &Caller, id: &str) -> Result<()> {
        let (mut a, v) = self.get_attachment(caller, id).await?;
        a.attach_status = "attached".into();
        if a.attach_time.is_none() {
            a.attach_time = Some(db::now());
        }
        db::attachments::update(&self.db, &a).await?;
        db::volumes::set_status(&self.db, &v.id, &[], "in-use").await?;
        Ok(())
    }

    /// `DELETE /attachments/{id}`: terminates its connection (if it was
    /// connected) and removes it; the volume's other attachments remain.
    pub async fn delete_attachment(&self, caller: &Caller, id: &str) -> Result<Vec<AttachmentRow>> {
        let (a, v) = self.get_attachment(caller, id).await?;
        if a.attach_status != "reserved"
            && let Some(c) = a
                .connector
                .clone()
                .and_then(|c| serde_json::from_value::<Connector>(c).ok())
            && let Err(e) = self.disconnect(&v, &c).await
        {
            // As Cinder: a failed backend detach does not keep the attachment.
            tracing::warn!(volume = %v.id, attachment = %id, error = %e, "terminating the connection failed; ignored");
        }
        db::attachments::delete(&self.db, id).await?;
        self.finish_detach(&v.id).await?;
        self.attachments_of(&v.id).await
    }
}

/// A failed agent call: bad input (the driver refused the connector) is
/// the caller's 400; anything else is the backend's failure (Cinder's 500
/// with a fixed message; the cause is logged).
fn backend_error(e: bus::BusError, fixed: &str) -> VolumeError {
    match e {
        bus::BusError::Remote(r) if r.kind == "InvalidInput" => {
            VolumeError::bad(format!("Invalid input received: {}", r.message))
        }
        bus::BusError::Remote(r) if r.kind == "VolumeNotFound" => {
            tracing::error!(error = %r.message, "the backend does not have the volume");
            VolumeError::Backend(fixed.to_owned())
        }
        other => {
            tracing::error!(error = %other, "volume backend call failed");
            VolumeError::Backend(fixed.to_owned())
        }
    }
}
