//! Reconciliation at start: the scheduler's view against what the driver
//! really holds, for what a stopped agent left half-done.
//!
//! | scheduler says | driver has it | outcome |
//! |---|---|---|
//! | `creating` | yes | `available` (creates are all or nothing: it finished) |
//! | `creating` | no | `error` (cut short by the restart) |
//! | `deleting` | either | deleted again (deletes are idempotent), reported |
//! | `extending` | yes | `available` at the recorded size (extend again) |
//! | `available` | no | `error` (the data is gone), logged |
//! | `reverting` (volume), `restoring` (snapshot) | yes | `available` (a revert renames its copy into place: old or new data, never half) |
//! | `in-use`, `attaching`, `detaching`, `reserved` | no | `error` (the data is gone) |
//! | `in-use`, `attaching`, `detaching`, `reserved` | yes | kept: the attachment is the hypervisor's and Nova's business |
//!
//! A volume reported `available` that still has attachments is shown
//! `in-use` by the controller.
//!
//! Snapshots alike. Volumes or snapshots the driver has and the scheduler
//! does not know are logged as orphans, never deleted: an operator
//! decides.

use std::collections::BTreeSet;

use super::Worker;
use crate::rpc::{DeleteVolume, HostRecords};

/// What to do with one record, decided purely.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Keep,
    Report(&'static str, Option<&'static str>),
    Delete,
}

pub fn decide(status: &str, exists: bool) -> Action {
    match (status, exists) {
        ("creating", true) | ("extending", true) | ("reverting", true) | ("restoring", true) => {
            Action::Report("available", None)
        }
        ("creating", false) => Action::Report("error", Some("the volume agent restarted before the create finished")),
        ("deleting", _) => Action::Delete,
        ("extending", false)
        | ("available", false)
        | ("reverting", false)
        | ("in-use", false)
        | ("attaching", false)
        | ("detaching", false)
        | ("reserved", false) => Action::Report("error", Some("the backend does not have the data any more")),
        _ => Action::Keep,
    }
}

impl Worker {
    pub(crate) async fn reconcile(&self, records: HostRecords) {
        let inventory = match self.driver.inventory().await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(host = %self.config.host, error = %e, "cannot list the backend; not reconciling");
                self.reconciled.send_replace(true);
                return;
            }
        };
        let volumes: BTreeSet<&str> = inventory.volumes.iter().map(String::as_str).collect();
        let snapshots: BTreeSet<&str> = inventory.snapshots.iter().map(String::as_str).collect();
        for s in &records.snapshots {
            match decide(&s.status, snapshots.contains(s.id.as_str())) {
                Action::Keep => {}
                Action::Report(status, reason) => {
                    tracing::warn!(snapshot = %s.id, from = %s.status, to = status, "reconciled");
                    self.snapshot_done(&s.id, status, reason.map(str::to_owned)).await;
                }
                Action::Delete => match self.driver.delete_snapshot(&s.id).await {
                    Ok(()) => self.snapshot_done(&s.id, "deleted", None).await,
                    Err(e) => self.snapshot_done(&s.id, "error_deleting", Some(e.to_string())).await,
                },
            }
        }
        for v in &records.volumes {
            match decide(&v.status, volumes.contains(v.id.as_str())) {
                Action::Keep => {}
                Action::Report(status, reason) => {
                    tracing::warn!(volume = %v.id, from = %v.status, to = status, "reconciled");
                    self.volume_done(&v.id, status, None, None, reason.map(str::to_owned))
                        .await;
                }
                Action::Delete => {
                    // Snapshots of a volume being deleted were reported
                    // `deleting` above and are deleted there.
                    self.delete(DeleteVolume {
                        volume_id: v.id.clone(),
                        snapshots: Vec::new(),
                    })
                    .await
                }
            }
        }
        let known_v: BTreeSet<&str> = records.volumes.iter().map(|r| r.id.as_str()).collect();
        let known_s: BTreeSet<&str> = records.snapshots.iter().map(|r| r.id.as_str()).collect();
        for orphan in volumes.difference(&known_v) {
            tracing::warn!(host = %self.config.host, volume = %orphan, "the backend has a volume the scheduler does not know; left in place");
        }
        for orphan in snapshots.difference(&known_s) {
            tracing::warn!(host = %self.config.host, snapshot = %orphan, "the backend has a snapshot the scheduler does not know; left in place");
        }
        self.reconciled.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        assert_eq!(decide("creating", true), Action::Report("available", None));
        assert!(matches!(decide("creating", false), Action::Report("error", Some(_))));
        assert_eq!(decide("deleting", true), Action::Delete);
        assert_eq!(decide("deleting", false), Action::Delete);
        assert!(matches!(decide("available", false), Action::Report("error", _)));
        assert_eq!(decide("available", true), Action::Keep);
        assert_eq!(decide("error", false), Action::Keep);
        assert_eq!(decide("in-use", true), Action::Keep);
        assert!(matches!(decide("in-use", false), Action::Report("error", _)));
        assert_eq!(decide("reverting", true), Action::Report("available", None));
    }
}
