//! Unified limits (Keystone's `unified_limit` API): registered limits are the
//! cloud's default quota of a resource of a service, optionally per region;
//! limits override them for one project or one domain. The other services
//! read them through [`Identity::effective_limit`] and enforce them, as
//! oslo.limit does for the OpenStack services.
//!
//! The enforcement model is `flat` (Keystone's default): the project
//! hierarchy plays no part, a project's limit is its own override or else the
//! registered default, and a domain's limits bound nothing but the domain.
//!
//! Where Keystone's rules are kept: a limit needs a registered limit of the
//! same (service, region, resource) (403 otherwise, as Keystone's
//! `NoLimitReference`); the triple is unique among registered limits and,
//! per project or domain, among limits (409); a project that is a domain
//! makes a domain limit. One deliberate difference: Keystone refuses every
//! update of a registered limit that limits refer to, while here only a
//! change of its triple (which would orphan them) is refused; its default
//! and description may change, so an operator can raise a default without
//! first deleting every project's override.

use crate::Identity;
use crate::db::limits::{self, LimitRow, RegisteredLimitRow, Update};
use crate::error::{IdentityError, Result};

/// The enforcement model `GET /v3/limits/model` reports.
pub const MODEL_NAME: &str = "flat";
pub const MODEL_DESCRIPTION: &str =
    "Limit enforcement and validation does not take project hierarchy into consideration.";

/// Largest limit Keystone accepts (a signed 32-bit INT); -1 means unlimited.
pub const MAX_LIMIT: i64 = 0x7FFF_FFFF;

/// Whose limits a caller may list (Keystone's `LimitsResource.get`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitViewer {
    /// System scope, or an `admin` or `service` role.
    Everything,
    /// A domain-scoped token: the domain's limits and its projects'.
    Domain(String),
    /// A project-scoped token: the project's limits.
    Project(String),
    /// An unscoped token sees none.
    Nothing,
}

/// Keystone's `ValidationError` message for a missing or unknown reference.
fn expecting(attribute: &str, target: &str) -> IdentityError {
    IdentityError::bad(format!(
        "Expecting to find {attribute} in {target}. The server could not comply with the request since it is \
         either malformed or otherwise incorrect. The client is assumed to be in error."
    ))
}

fn check_value(field: &str, value: i64) -> Result<()> {
    if !(-1..=MAX_LIMIT).contains(&value) {
        return Err(IdentityError::bad(format!(
            "Invalid input for field '{field}': {value} is not between -1 and {MAX_LIMIT}."
        )));
    }
    Ok(())
}

fn check_resource_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 255 {
        return Err(IdentityError::bad(
            "Invalid input for field 'resource_name': must be 1-255 characters, not all blank.",
        ));
    }
    Ok(())
}

fn check_description(description: Option<&str>) -> Result<()> {
    if description.is_some_and(|d| d.chars().count() > 255) {
        return Err(IdentityError::bad(
            "Invalid input for field 'description': longer than 255 characters.",
        ));
    }
    Ok(())
}

fn duplicate(kind: &str) -> IdentityError {
    IdentityError::Conflict(format!(
        "Conflict occurred attempting to store {kind} - Duplicate entry."
    ))
}

fn referenced(id: &str) -> IdentityError {
    IdentityError::Forbidden(format!(
        "Unable to update or delete registered limit {id} because there are project limits associated with it."
    ))
}

impl Identity {
    /// The limit that applies to `resource_name` of a service in a project:
    /// the project's own limit, else the registered default; `None` when
    /// neither exists (the resource is not limited). `-1` means unlimited.
    ///
    /// `service` is a service id or, failing that, a service type
    /// (`compute`, `volumev3`…). With a `region`, a limit of that region
    /// wins over one without a region; without, only region-less limits
    /// apply. The project must exist.
    pub async fn effective_limit(
        &self,
        project_id: &str,
        service: &str,
        region: Option<&str>,
        resource_name: &str,
    ) -> Result<Option<i64>> {
        self.get_project(project_id).await?;
        let services = self.list_services().await?;
        let service_ids: Vec<&str> = match services.iter().find(|s| s.id == service) {
            Some(s) => vec![s.id.as_str()],
            None => services
                .iter()
                .filter(|s| s.service_type == service)
                .map(|s| s.id.as_str())
                .collect(),
        };
        let regions: Vec<Option<&str>> = match region {
            Some(r) => vec![Some(r), None],
            None => vec![None],
        };
        for service_id in &service_ids {
            let own = limits::limits_of_project(&self.db, project_id, service_id, resource_name).await?;
            for r in &regions {
                if let Some(l) = own.iter().find(|l| l.region_id.as_deref() == *r) {
                    return Ok(Some(l.resource_limit));
                }
            }
        }
        for service_id in &service_ids {
            for r in &regions {
                if let Some(rl) = limits::find_registered(&self.db, service_id, *r, resource_name).await? {
                    return Ok(Some(rl.default_limit));
                }
            }
        }
        Ok(None)
    }

    pub async fn list_registered_limits(&self) -> Result<Vec<RegisteredLimitRow>> {
        Ok(limits::list_registered(&self.db).await?)
    }

    pub async fn get_registered_limit(&self, id: &str) -> Result<RegisteredLimitRow> {
        limits::get_registered(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("registered limit", id))
    }

    /// The service and region a limit names must exist (400 otherwise).
    async fn check_references(&self, service_id: &str, region_id: Option<&str>, target: &str) -> Result<()> {
        if let Err(IdentityError::NotFound { .. }) = self.get_service(service_id).await {
            return Err(expecting("service_id", target));
        }
        if let Some(r) = region_id
            && let Err(IdentityError::NotFound { .. }) = self.get_region(r).await
        {
            return Err(expecting("region_id", target));
        }
        Ok(())
    }

    async fn check_registered(&self, r: &RegisteredLimitRow) -> Result<()> {
        check_resource_name(&r.resource_name)?;
        check_value("default_limit", r.default_limit)?;
        check_description(r.description.as_deref())?;
        self.check_references(&r.service_id, r.region_id.as_deref(), "registered_limit")
            .await
    }

    /// Creates registered limits, all or none.
    pub async fn create_registered_limits(&self, rows: Vec<RegisteredLimitRow>) -> Result<Vec<RegisteredLimitRow>> {
        for (i, r) in rows.iter().enumerate() {
            self.check_registered(r).await?;
            let same = |o: &RegisteredLimitRow| {
                (&o.service_id, &o.region_id, &o.resource_name) == (&r.service_id, &r.region_id, &r.resource_name)
            };
            if rows[..i].iter().any(same) {
                return Err(duplicate("registered_limit"));
            }
        }
        if !limits::insert_registered(&self.db, &rows).await? {
            return Err(duplicate("registered_limit"));
        }
        Ok(rows)
    }

    /// Replaces a registered limit by `new` (same id).
    pub async fn update_registered_limit(&self, new: RegisteredLimitRow) -> Result<RegisteredLimitRow> {
        let old = self.get_registered_limit(&new.id).await?;
        self.check_registered(&new).await?;
        match limits::update_registered(&self.db, &old, &new).await? {
            Update::Done => Ok(new),
            Update::Duplicate => Err(duplicate("registered_limit")),
            Update::Referenced => Err(referenced(&new.id)),
        }
    }

    pub async fn delete_registered_limit(&self, id: &str) -> Result<()> {
        let old = self.get_registered_limit(id).await?;
        match limits::delete_registered(&self.db, &old).await? {
            Update::Referenced => Err(referenced(id)),
            Update::Done | Update::Duplicate => Ok(()),
        }
    }

    pub async fn list_limits(&self) -> Result<Vec<LimitRow>> {
        Ok(limits::list_limits(&self.db).await?)
    }

    /// The limits `viewer` may see.
    pub async fn list_limits_for(&self, viewer: &LimitViewer) -> Result<Vec<LimitRow>> {
        let all = self.list_limits().await?;
        Ok(match viewer {
            LimitViewer::Everything => all,
            LimitViewer::Nothing => Vec::new(),
            LimitViewer::Project(p) => all
                .into_iter()
                .filter(|l| l.project_id.as_deref() == Some(p.as_str()))
                .collect(),
            LimitViewer::Domain(d) => {
                let projects: Vec<String> = self
                    .list_projects()
                    .await?
                    .into_iter()
                    .filter(|p| &p.domain_id == d)
                    .map(|p| p.id)
                    .collect();
                all.into_iter()
                    .filter(|l| match (&l.project_id, &l.domain_id) {
                        (Some(p), _) => projects.contains(p),
                        (None, Some(ld)) => ld == d,
                        (None, None) => false,
                    })
                    .collect()
            }
        })
    }

    pub async fn get_limit(&self, id: &str) -> Result<LimitRow> {
        limits::get_limit(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("limit", id))
    }

    /// Checks a new limit and resolves its owner: a `project_id` naming a
    /// domain makes it a domain limit, as in Keystone.
    async fn check_new_limit(&self, l: &mut LimitRow) -> Result<()> {
        check_resource_name(&l.resource_name)?;
        check_value("resource_limit", l.resource_limit)?;
        check_description(l.description.as_deref())?;
        self.check_references(&l.service_id, l.region_id.as_deref(), "limit")
            .await?;
        match (&l.project_id, &l.domain_id) {
            (Some(p), None) => match self.get_project_or_domain(p).await {
                Ok(project) if project.is_domain => l.domain_id = l.project_id.take(),
                Ok(_) => {}
                Err(IdentityError::NotFound { .. }) => return Err(expecting("project_id", "limit")),
                Err(e) => return Err(e),
            },
            (None, Some(d)) => {
                if let Err(IdentityError::NotFound { .. }) = self.get_domain(d).await {
                    return Err(expecting("domain_id", "limit"));
                }
            }
            _ => {
                return Err(IdentityError::bad(
                    "Invalid input for field 'limit': exactly one of 'project_id' and 'domain_id' is required.",
                ));
            }
        }
        let registered =
            limits::find_registered(&self.db, &l.service_id, l.region_id.as_deref(), &l.resource_name).await?;
        if registered.is_none() {
            return Err(IdentityError::Forbidden(
                "Unable to create a limit that has no corresponding registered limit.".into(),
            ));
        }
        Ok(())
    }

    /// Creates limits, all or none.
    pub async fn create_limits(&self, mut rows: Vec<LimitRow>) -> Result<Vec<LimitRow>> {
        for i in 0..rows.len() {
            self.check_new_limit(&mut rows[i]).await?;
            let r = &rows[i];
            let key = |o: &LimitRow| {
                (
                    o.project_id.clone(),
                    o.domain_id.clone(),
                    o.service_id.clone(),
                    o.region_id.clone(),
                    o.resource_name.clone(),
                )
            };
            if rows[..i].iter().any(|o| key(o) == key(r)) {
                return Err(duplicate("limit"));
            }
        }
        if !limits::insert_limits(&self.db, &rows).await? {
            return Err(duplicate("limit"));
        }
        Ok(rows)
    }

    /// Stores a limit's new `resource_limit` and `description` (the only
    /// mutable fields).
    pub async fn update_limit(&self, l: LimitRow) -> Result<LimitRow> {
        check_value("resource_limit", l.resource_limit)?;
        check_description(l.description.as_deref())?;
        self.get_limit(&l.id).await?;
        limits::update_limit(&self.db, &l).await?;
        Ok(l)
    }

    pub async fn delete_limit(&self, id: &str) -> Result<()> {
        if !limits::delete_limit(&self.db, id).await? {
            return Err(IdentityError::not_found("limit", id));
        }
        Ok(())
    }

    /// Drops the limits of a project or domain being deleted (Keystone's
    /// `delete_limits_for_project`).
    pub async fn delete_limits_of(&self, project_or_domain_id: &str) -> Result<()> {
        Ok(limits::delete_limits_of(&self.db, project_or_domain_id).await?)
    }
}
