//! Host aggregates: named groups of compute hosts with metadata; the
//! `availability_zone` key makes an aggregate an availability zone. As in
//! Nova, a host cannot be in two zones, and only hosts that run
//! `nova-compute` can be added. Aggregates are not mirrored into
//! placement.

use std::collections::BTreeMap;

use crate::Compute;
use crate::db;
use crate::db::aggregates::AggregateRow;
use crate::error::{ComputeError, Result};

const AZ_KEY: &str = "availability_zone";

/// Which action an AZ conflict belongs to (Nova words and codes differ).
#[derive(Clone, Copy)]
enum AzAction {
    AddHost,
    Update,
    UpdateMeta,
}

fn not_found(id: i64) -> ComputeError {
    ComputeError::not_found(format!("Aggregate {id} could not be found."))
}

fn name_exists(name: &str) -> ComputeError {
    ComputeError::conflict(format!("Aggregate {name} already exists."))
}

impl Compute {
    pub async fn list_aggregates(&self) -> Result<Vec<AggregateRow>> {
        db::aggregates::all(&self.db).await
    }

    pub async fn get_aggregate(&self, id: i64) -> Result<AggregateRow> {
        db::aggregates::get(&self.db, id).await?.ok_or_else(|| not_found(id))
    }

    pub async fn create_aggregate(&self, name: &str, availability_zone: Option<&str>) -> Result<AggregateRow> {
        if db::aggregates::name_taken(&self.db, name, None).await? {
            return Err(name_exists(name));
        }
        let mut meta = BTreeMap::new();
        if let Some(az) = availability_zone {
            meta.insert(AZ_KEY.to_owned(), az.to_owned());
        }
        let id = match db::aggregates::insert(&self.db, name, &meta, db::now()).await {
            Err(ComputeError::Store(store::StoreError::Conflict(_))) => return Err(name_exists(name)),
            other => other?,
        };
        self.get_aggregate(id).await
    }

    /// Nova's `is_safe_to_update_az`: the new zone must not be empty, and
    /// none of `hosts` may be in another zone through another aggregate.
    async fn check_az(&self, agg: &AggregateRow, az: Option<&str>, hosts: &[String], action: AzAction) -> Result<()> {
        let Some(az) = az else { return Ok(()) };
        let fail = |reason: String| match action {
            AzAction::AddHost => {
                ComputeError::conflict(format!("Cannot add host to aggregate {}. Reason: {reason}.", agg.id))
            }
            AzAction::Update => ComputeError::bad(format!("Cannot update aggregate {}. Reason: {reason}.", agg.id)),
            AzAction::UpdateMeta => ComputeError::bad(format!(
                "Cannot update metadata of aggregate {}. Reason: {reason}.",
                agg.id
            )),
        };
        if az.is_empty() {
            return Err(fail(format!(
                "Aggregate {} does not support empty named availability zone",
                agg.name
            )));
        }
        let mut conflicting: Vec<String> = Vec::new();
        for other in db::aggregates::all(&self.db).await? {
            if other.id == agg.id || !other.hosts.iter().any(|h| hosts.contains(h)) {
                continue;
            }
            if let Some(o) = other.metadata.get(AZ_KEY)
                && o != az
                && !conflicting.contains(o)
            {
                conflicting.push(o.clone());
            }
        }
        if !conflicting.is_empty() {
            let list: Vec<String> = conflicting.iter().map(|z| format!("'{z}'")).collect();
            return Err(fail(format!(
                "One or more hosts already in availability zone(s) [{}]",
                list.join(", ")
            )));
        }
        Ok(())
    }

    pub async fn update_aggregate(
        &self,
        id: i64,
        name: Option<&str>,
        availability_zone: Option<&str>,
    ) -> Result<AggregateRow> {
        let agg = self.get_aggregate(id).await?;
        if let Some(name) = name
            && db::aggregates::name_taken(&self.db, name, Some(id)).await?
        {
            return Err(name_exists(name));
        }
        self.check_az(&agg, availability_zone, &agg.hosts, AzAction::Update)
            .await?;
        let now = db::now();
        if let Some(name) = name {
            match db::aggregates::rename(&self.db, id, name, now).await {
                Err(ComputeError::Store(store::StoreError::Conflict(_))) => return Err(name_exists(name)),
                other => other?,
            }
        }
        if let Some(az) = availability_zone {
            let changes = BTreeMap::from([(AZ_KEY.to_owned(), Some(az.to_owned()))]);
            db::aggregates::set_metadata(&self.db, id, &changes, now).await?;
        }
        self.get_aggregate(id).await
    }

    pub async fn delete_aggregate(&self, id: i64) -> Result<()> {
        let agg = self.get_aggregate(id).await?;
        if !agg.hosts.is_empty() {
            return Err(ComputeError::bad(format!(
                "Cannot delete aggregate {id}. Reason: Host aggregate is not empty."
            )));
        }
        db::aggregates::delete(&self.db, id).await
    }

    async fn compute_host_exists(&self, host: &str) -> Result<bool> {
        Ok(db::services::service_by_host(&self.db, host, "nova-compute")
            .await?
            .is_some())
    }

    pub async fn aggregate_add_host(&self, id: i64, host: &str) -> Result<AggregateRow> {
        let agg = self.get_aggregate(id).await?;
        if !self.compute_host_exists(host).await? {
            return Err(ComputeError::not_found(format!(
                "Compute host {host} could not be found."
            )));
        }
        if agg.hosts.iter().any(|h| h == host) {
            return Err(ComputeError::conflict(format!(
                "Aggregate {id} already has host {host}."
            )));
        }
        let az = agg.metadata.get(AZ_KEY).cloned();
        self.check_az(&agg, az.as_deref(), &[host.to_owned()], AzAction::AddHost)
            .await?;
        match db::aggregates::add_host(&self.db, id, host).await {
            Err(ComputeError::Store(store::StoreError::Conflict(_))) => {
                return Err(ComputeError::conflict(format!(
                    "Aggregate {id} already has host {host}."
                )));
            }
            other => other?,
        }
        self.get_aggregate(id).await
    }

    pub async fn aggregate_remove_host(&self, id: i64, host: &str) -> Result<AggregateRow> {
        let gone = || ComputeError::not_found(format!("Cannot remove host {host} in aggregate {id}"));
        let agg = db::aggregates::get(&self.db, id).await?.ok_or_else(gone)?;
        if !agg.hosts.iter().any(|h| h == host) || !db::aggregates::remove_host(&self.db, id, host).await? {
            return Err(gone());
        }
        self.get_aggregate(id).await
    }

    /// Sets (`Some`) or removes (`None`) metadata keys.
    pub async fn aggregate_set_metadata(
        &self,
        id: i64,
        changes: &BTreeMap<String, Option<String>>,
    ) -> Result<AggregateRow> {
        let agg = self.get_aggregate(id).await?;
        if let Some(Some(az)) = changes.get(AZ_KEY) {
            self.check_az(&agg, Some(az), &agg.hosts, AzAction::UpdateMeta).await?;
        }
        db::aggregates::set_metadata(&self.db, id, changes, db::now()).await?;
        self.get_aggregate(id).await
    }
}
