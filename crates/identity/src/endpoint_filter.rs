//! Endpoint filtering (`OS-EP-FILTER`): endpoint groups (a filter on
//! `service_id`, `region_id` and `interface` selecting endpoints) and the
//! associations of projects with single endpoints or with endpoint groups.
//!
//! The associations are stored and listed, but the catalog is not filtered
//! by them: Keystone's default catalog driver is `sql`, not
//! `endpoint_filter.sql`, so a stock Keystone also gives every project the
//! whole catalog, and so does [`Identity::render_catalog`].
//!
//! Stale associations (with an endpoint or project since deleted) are
//! skipped when listed.

use serde_json::{Map, Value};

use crate::Identity;
use crate::catalog::INTERFACES;
use crate::db::catalog::EndpointRow;
use crate::db::endpoint_filter::{self as db, EndpointGroupRow};
use crate::db::projects::ProjectRow;
use crate::error::{IdentityError, Result};

/// The endpoint attributes a group may filter on.
pub const FILTER_KEYS: [&str; 3] = ["service_id", "region_id", "interface"];

/// Keystone's `_require_valid_filter` and the schema of `filters`.
pub fn check_filters(filters: &Map<String, Value>) -> Result<()> {
    for (key, value) in filters {
        match (key.as_str(), value) {
            ("service_id", Value::String(_)) | ("region_id", Value::String(_) | Value::Null) => {}
            ("interface", Value::String(i)) if INTERFACES.contains(&i.as_str()) => {}
            ("interface", other) => {
                return Err(IdentityError::bad(format!(
                    "Invalid input for field 'filters.interface': {other} is not one of ['admin', 'internal', \
                     'public']."
                )));
            }
            ("service_id" | "region_id", other) => {
                return Err(IdentityError::bad(format!(
                    "Invalid input for field 'filters.{key}': {other} is not of type 'string'."
                )));
            }
            _ => {
                return Err(IdentityError::bad(
                    "Expecting to find service_id or region_id or interface in endpoint_group. The server could \
                     not comply with the request since it is either malformed or otherwise incorrect. The client \
                     is assumed to be in error.",
                ));
            }
        }
    }
    Ok(())
}

fn check_group(g: &EndpointGroupRow) -> Result<()> {
    if g.name.trim().is_empty() || g.name.chars().count() > 255 {
        return Err(IdentityError::bad(
            "Invalid input for field 'name': must be 1-255 characters, not all blank.",
        ));
    }
    if g.filters.is_empty() {
        return Err(IdentityError::bad("filters field is required and cannot be empty"));
    }
    check_filters(&g.filters)
}

/// Whether an endpoint has every attribute value the filters ask for.
pub fn selects(filters: &Map<String, Value>, e: &EndpointRow) -> bool {
    filters.iter().all(|(key, want)| {
        let have = match key.as_str() {
            "service_id" => Some(e.service_id.as_str()),
            "region_id" => e.region_id.as_deref(),
            "interface" => Some(e.interface.as_str()),
            _ => return false,
        };
        match want {
            Value::Null => have.is_none(),
            Value::String(w) => have == Some(w.as_str()),
            _ => false,
        }
    })
}

fn association_missing(what: &'static str, id: &str, project_id: &str) -> IdentityError {
    IdentityError::not_found(what, format!("{id} in project {project_id}"))
}

impl Identity {
    pub async fn list_endpoint_groups(&self) -> Result<Vec<EndpointGroupRow>> {
        Ok(db::list_groups(&self.db).await?)
    }

    pub async fn get_endpoint_group(&self, id: &str) -> Result<EndpointGroupRow> {
        db::get_group(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("endpoint group", id))
    }

    pub async fn create_endpoint_group(&self, g: EndpointGroupRow) -> Result<EndpointGroupRow> {
        check_group(&g)?;
        db::insert_group(&self.db, &g).await?;
        Ok(g)
    }

    pub async fn update_endpoint_group(&self, g: EndpointGroupRow) -> Result<EndpointGroupRow> {
        check_group(&g)?;
        if !db::update_group(&self.db, &g).await? {
            return Err(IdentityError::not_found("endpoint group", g.id));
        }
        Ok(g)
    }

    pub async fn delete_endpoint_group(&self, id: &str) -> Result<()> {
        if !db::delete_group(&self.db, id).await? {
            return Err(IdentityError::not_found("endpoint group", id));
        }
        Ok(())
    }

    /// The endpoints an endpoint group selects.
    pub async fn endpoints_in_group(&self, group_id: &str) -> Result<Vec<EndpointRow>> {
        let g = self.get_endpoint_group(group_id).await?;
        Ok(self
            .list_endpoints()
            .await?
            .into_iter()
            .filter(|e| selects(&g.filters, e))
            .collect())
    }

    /// Projects by id, those since deleted left out.
    async fn existing_projects(&self, ids: Vec<String>) -> Result<Vec<ProjectRow>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.get_project(&id).await {
                Ok(p) => out.push(p),
                Err(IdentityError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    pub async fn add_endpoint_to_project(&self, project_id: &str, endpoint_id: &str) -> Result<()> {
        self.get_endpoint(endpoint_id).await?;
        self.get_project(project_id).await?;
        Ok(db::add_project_endpoint(&self.db, project_id, endpoint_id).await?)
    }

    pub async fn check_endpoint_in_project(&self, project_id: &str, endpoint_id: &str) -> Result<()> {
        self.get_endpoint(endpoint_id).await?;
        self.get_project(project_id).await?;
        if !db::project_endpoint_exists(&self.db, project_id, endpoint_id).await? {
            return Err(association_missing("endpoint", endpoint_id, project_id));
        }
        Ok(())
    }

    /// Removes an association, even one whose endpoint or project is gone.
    pub async fn remove_endpoint_from_project(&self, project_id: &str, endpoint_id: &str) -> Result<()> {
        if !db::remove_project_endpoint(&self.db, project_id, endpoint_id).await? {
            return Err(association_missing("endpoint", endpoint_id, project_id));
        }
        Ok(())
    }

    /// The endpoints of a project: those associated directly and those its
    /// endpoint groups select, once each.
    pub async fn endpoints_for_project(&self, project_id: &str) -> Result<Vec<EndpointRow>> {
        self.get_project(project_id).await?;
        let direct = db::endpoints_of_project(&self.db, project_id).await?;
        let mut filters = Vec::new();
        for gid in db::groups_of_project(&self.db, project_id).await? {
            if let Some(g) = db::get_group(&self.db, &gid).await? {
                filters.push(g.filters);
            }
        }
        Ok(self
            .list_endpoints()
            .await?
            .into_iter()
            .filter(|e| direct.contains(&e.id) || filters.iter().any(|f| selects(f, e)))
            .collect())
    }

    /// The projects an endpoint is associated with directly.
    pub async fn projects_for_endpoint(&self, endpoint_id: &str) -> Result<Vec<ProjectRow>> {
        self.get_endpoint(endpoint_id).await?;
        let ids = db::projects_of_endpoint(&self.db, endpoint_id).await?;
        self.existing_projects(ids).await
    }

    pub async fn endpoint_groups_for_project(&self, project_id: &str) -> Result<Vec<EndpointGroupRow>> {
        self.get_project(project_id).await?;
        let mut out = Vec::new();
        for gid in db::groups_of_project(&self.db, project_id).await? {
            if let Some(g) = db::get_group(&self.db, &gid).await? {
                out.push(g);
            }
        }
        Ok(out)
    }

    pub async fn projects_for_endpoint_group(&self, group_id: &str) -> Result<Vec<ProjectRow>> {
        self.get_endpoint_group(group_id).await?;
        let ids = db::projects_of_group(&self.db, group_id).await?;
        self.existing_projects(ids).await
    }

    pub async fn add_endpoint_group_to_project(&self, group_id: &str, project_id: &str) -> Result<()> {
        self.get_project(project_id).await?;
        self.get_endpoint_group(group_id).await?;
        db::add_project_group(&self.db, group_id, project_id)
            .await
            .map_err(|e| match e {
                store::StoreError::Conflict(_) => IdentityError::Conflict(
                    "Conflict occurred attempting to store project_endpoint_group - Duplicate entry.".into(),
                ),
                other => other.into(),
            })
    }

    pub async fn check_endpoint_group_in_project(&self, group_id: &str, project_id: &str) -> Result<()> {
        self.get_project(project_id).await?;
        self.get_endpoint_group(group_id).await?;
        if !db::project_group_exists(&self.db, group_id, project_id).await? {
            return Err(association_missing("endpoint group", group_id, project_id));
        }
        Ok(())
    }

    pub async fn remove_endpoint_group_from_project(&self, group_id: &str, project_id: &str) -> Result<()> {
        self.get_project(project_id).await?;
        self.get_endpoint_group(group_id).await?;
        if !db::remove_project_group(&self.db, group_id, project_id).await? {
            return Err(association_missing("endpoint group", group_id, project_id));
        }
        Ok(())
    }

    /// Drops the associations of a project being deleted.
    pub async fn delete_endpoint_associations_of(&self, project_id: &str) -> Result<()> {
        Ok(db::delete_project_associations(&self.db, project_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn endpoint(interface: &str, region: Option<&str>) -> EndpointRow {
        EndpointRow {
            id: "e".into(),
            interface: interface.into(),
            service_id: "s1".into(),
            url: "http://h".into(),
            region_id: region.map(Into::into),
            enabled: true,
            extra: Map::new(),
        }
    }

    #[test]
    fn filters_select_on_every_attribute() {
        let f = |v: Value| v.as_object().unwrap().clone();
        let e = endpoint("public", Some("RegionOne"));
        assert!(selects(&f(json!({"service_id": "s1"})), &e));
        assert!(selects(&f(json!({"service_id": "s1", "interface": "public"})), &e));
        assert!(!selects(&f(json!({"service_id": "s1", "interface": "admin"})), &e));
        assert!(selects(&f(json!({"region_id": "RegionOne"})), &e));
        assert!(!selects(&f(json!({"region_id": null})), &e));
        assert!(selects(&f(json!({"region_id": null})), &endpoint("admin", None)));
    }

    #[test]
    fn only_three_filter_keys_are_valid() {
        let f = |v: Value| v.as_object().unwrap().clone();
        assert!(
            check_filters(&f(
                json!({"service_id": "s", "region_id": null, "interface": "internal"})
            ))
            .is_ok()
        );
        for bad in [
            json!({"enabled": true}),
            json!({"interface": "private"}),
            json!({"service_id": 3}),
        ] {
            assert!(matches!(check_filters(&f(bad)), Err(IdentityError::BadRequest(_))));
        }
    }
}
