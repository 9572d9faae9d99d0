//! The agent's half of a volume attach or detach, as Nova's compute
//! manager does it with Cinder's legacy actions (`driver_block_device`).
//!
//! Attach (the controller has `os-reserve`d the volume, which is
//! `attaching`): `os-initialize_connection` with this host's connector →
//! the driver's hot-plug → `os-attach` (`in-use`). A failure at a step
//! undoes the steps before it (driver detach, `os-terminate_connection`)
//! and `os-unreserve`s the volume, so it is `available` again.
//!
//! Detach (the controller has `os-begin_detaching`, `detaching`): the
//! driver's unplug → `os-terminate_connection` → `os-detach`
//! (`available`). When the unplug fails the volume goes back to `in-use`
//! (`os-roll_detaching`). A volume the driver does not have attached (the
//! guest is gone, or an earlier detach got this far) is only detached in
//! the block-storage service.
//!
//! Either way the controller learns the outcome from a `volume_event`
//! cast, and the instance action's event from the usual closing
//! `instance_update`.
//!
//! Extend (block storage grew an attached volume and told compute with a
//! `volume-extended` event): the volume's size is read from block
//! storage and the driver resizes the guest's disk to it; the outcome is
//! the `compute_extend_volume` event of the `extend_volume` action.

use crate::driver::DriverError;
use crate::manager::Manager;
use crate::rpc::{RequestContext, VolumeEvent};
use crate::volume_client::{VolumeClient, VolumeError, connector};

const GIB: u64 = 1 << 30;

fn volume_failed(step: &str, volume_id: &str, e: VolumeError) -> DriverError {
    DriverError::Failed(format!("{step} of volume {volume_id} failed: {e}"))
}

impl Manager {
    pub(crate) async fn attach_volume(
        &self,
        ctx: &RequestContext,
        uuid: &str,
        volume_id: &str,
        mountpoint: &str,
        volume_api: &str,
    ) -> Result<(), DriverError> {
        let client = VolumeClient::new(volume_api, ctx.token.clone());
        let connector = connector(&self.config.host);
        let outcome = async {
            let info = client
                .initialize_connection(volume_id, &connector)
                .await
                .map_err(|e| volume_failed("os-initialize_connection", volume_id, e))?;
            tracing::info!(volume = %volume_id, driver_volume_type = %info["driver_volume_type"],
                "volume connected; attaching to the guest");
            if let Err(e) = self.driver.attach_volume(uuid, volume_id, &info, mountpoint).await {
                if let Err(t) = client.terminate_connection(volume_id, &connector).await {
                    tracing::warn!(volume = %volume_id, error = %t, "cannot end the connection of a failed attach");
                }
                return Err(e);
            }
            if let Err(e) = client.attach(volume_id, uuid, mountpoint).await {
                tracing::warn!(volume = %volume_id, error = %e, "os-attach failed; unplugging the volume again");
                if let Err(d) = self.driver.detach_volume(uuid, volume_id, mountpoint).await {
                    tracing::error!(volume = %volume_id, error = %d, "cannot unplug the volume of a failed attach");
                }
                let _ = client.terminate_connection(volume_id, &connector).await;
                return Err(volume_failed("os-attach", volume_id, e));
            }
            Ok(())
        }
        .await;
        if outcome.is_err()
            && let Err(e) = client.unreserve(volume_id).await
        {
            tracing::error!(volume = %volume_id, error = %e, "cannot unreserve the volume of a failed attach");
        }
        match &outcome {
            Ok(()) => tracing::info!(volume = %volume_id, mountpoint, "volume attached"),
            Err(e) => tracing::warn!(volume = %volume_id, error = %e, "volume attach failed; rolled back"),
        }
        self.volume_event(uuid, volume_id, "attach", &outcome).await;
        outcome
    }

    pub(crate) async fn detach_volume(
        &self,
        ctx: &RequestContext,
        uuid: &str,
        volume_id: &str,
        mountpoint: &str,
        volume_api: &str,
    ) -> Result<(), DriverError> {
        let client = VolumeClient::new(volume_api, ctx.token.clone());
        let connector = connector(&self.config.host);
        let plugged = match self.driver.get_info(uuid).await {
            Ok(info) => info.volumes.iter().any(|v| v == volume_id),
            Err(DriverError::NotFound(_)) => false,
            Err(e) => return self.detach_failed(&client, uuid, volume_id, e).await,
        };
        if plugged {
            if let Err(e) = self.driver.detach_volume(uuid, volume_id, mountpoint).await {
                return self.detach_failed(&client, uuid, volume_id, e).await;
            }
        } else {
            tracing::info!(volume = %volume_id, "the guest does not have the volume; detaching it in block storage only");
        }
        let outcome = async {
            client
                .terminate_connection(volume_id, &connector)
                .await
                .map_err(|e| volume_failed("os-terminate_connection", volume_id, e))?;
            client
                .detach(volume_id)
                .await
                .map_err(|e| volume_failed("os-detach", volume_id, e))
        }
        .await;
        match &outcome {
            Ok(()) => tracing::info!(volume = %volume_id, "volume detached"),
            // The guest no longer has it: the controller's mapping goes
            // anyway, and the volume's status says what block storage thinks.
            Err(e) => {
                tracing::error!(volume = %volume_id, error = %e, "volume unplugged but its detach in block storage failed")
            }
        }
        self.volume_event(uuid, volume_id, "detach", &Ok(())).await;
        outcome
    }

    async fn detach_failed(
        &self,
        client: &VolumeClient,
        uuid: &str,
        volume_id: &str,
        e: DriverError,
    ) -> Result<(), DriverError> {
        tracing::warn!(volume = %volume_id, error = %e, "volume detach failed; rolling back to in-use");
        if let Err(r) = client.roll_detaching(volume_id).await {
            tracing::error!(volume = %volume_id, error = %r, "cannot roll back the detaching of the volume");
        }
        let outcome = Err(e);
        self.volume_event(uuid, volume_id, "detach", &outcome).await;
        outcome
    }

    /// Nova's `extend_volume` on a `volume-extended` event: the volume's
    /// size now (from block storage, as Nova reads it, or as the
    /// controller gave it) goes to the driver, which grows the guest's
    /// disk. A volume the guest does not have is only logged, as Nova
    /// does.
    pub(crate) async fn extend_volume(
        &self,
        ctx: &RequestContext,
        uuid: &str,
        volume_id: &str,
        volume_api: Option<&str>,
        new_size: Option<u64>,
    ) -> Result<(), DriverError> {
        let attached = self.driver.get_info(uuid).await?.volumes.iter().any(|v| v == volume_id);
        if !attached {
            tracing::warn!(volume = %volume_id, "extend volume failed: the volume is not attached to the instance");
            return Ok(());
        }
        let bytes = match (volume_api, new_size) {
            (Some(api), _) => {
                let client = VolumeClient::new(api, ctx.token.clone());
                let v = client
                    .get(volume_id)
                    .await
                    .map_err(|e| volume_failed("reading the size", volume_id, e))?;
                v.size * GIB
            }
            (None, Some(bytes)) => bytes,
            (None, None) => {
                return Err(DriverError::Failed(format!(
                    "extend of volume {volume_id}: neither a block-storage endpoint nor a size was given"
                )));
            }
        };
        tracing::info!(volume = %volume_id, bytes, "block storage extended the volume; resizing the guest's disk");
        self.driver.extend_volume(uuid, volume_id, bytes).await
    }

    async fn volume_event(&self, uuid: &str, volume_id: &str, operation: &str, outcome: &Result<(), DriverError>) {
        let event = VolumeEvent {
            instance_uuid: uuid.to_owned(),
            host: self.config.host.clone(),
            volume_id: volume_id.to_owned(),
            operation: operation.to_owned(),
            ok: outcome.is_ok(),
            reason: outcome.as_ref().err().map(|e| format!("{}: {e}", e.kind())),
        };
        self.cast("volume_event", &event).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::rpc::Action;

    #[test]
    fn attach_messages_of_before_volume_api_still_read() {
        let old: Action = serde_json::from_value(json!({
            "action": "attach_volume", "volume_id": "v", "mountpoint": "/dev/vdb",
            "connection_info": {"driver_volume_type": "file", "data": {"path": "/x"}}
        }))
        .unwrap();
        assert!(matches!(old, Action::AttachVolume { volume_api: None, .. }));
        let old: Action =
            serde_json::from_value(json!({"action": "detach_volume", "volume_id": "v", "mountpoint": "/dev/vdb"}))
                .unwrap();
        assert!(matches!(old, Action::DetachVolume { volume_api: None, .. }));
        let new = Action::AttachVolume {
            volume_id: "v".into(),
            connection_info: serde_json::Value::Null,
            mountpoint: "/dev/vdb".into(),
            volume_api: Some("http://h:8776/v3/p".into()),
        };
        let back: Action = serde_json::from_value(serde_json::to_value(&new).unwrap()).unwrap();
        assert_eq!(back, new);
    }
}
