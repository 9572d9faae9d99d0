//! The service catalog: regions, services, endpoints, and the catalog a
//! token carries (every enabled service with its enabled endpoints).

use serde_json::{Value, json};

use crate::Identity;
use crate::db::catalog::{self, EndpointRow, RegionRow, ServiceRow};
use crate::error::{IdentityError, Result, on_conflict};

pub const INTERFACES: [&str; 3] = ["public", "internal", "admin"];

impl Identity {
    pub async fn list_regions(&self) -> Result<Vec<RegionRow>> {
        Ok(catalog::list_regions(&self.db).await?)
    }

    pub async fn get_region(&self, id: &str) -> Result<RegionRow> {
        catalog::get_region(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("region", id))
    }

    pub async fn create_region(&self, r: RegionRow) -> Result<RegionRow> {
        if let Some(parent) = &r.parent_region_id
            && catalog::get_region(&self.db, parent).await?.is_none()
        {
            return Err(IdentityError::bad(format!("Could not find region: {parent}.")));
        }
        catalog::insert_region(&self.db, &r)
            .await
            .map_err(on_conflict("region", format_args!("id {}", r.id)))?;
        Ok(r)
    }

    pub async fn update_region(&self, r: RegionRow) -> Result<RegionRow> {
        if let Some(parent) = &r.parent_region_id {
            if parent == &r.id {
                return Err(IdentityError::bad("A region cannot be its own parent."));
            }
            if catalog::get_region(&self.db, parent).await?.is_none() {
                return Err(IdentityError::bad(format!("Could not find region: {parent}.")));
            }
        }
        catalog::update_region(&self.db, &r).await?;
        Ok(r)
    }

    pub async fn delete_region(&self, id: &str) -> Result<()> {
        let regions = self.list_regions().await?;
        if regions.iter().any(|r| r.parent_region_id.as_deref() == Some(id)) {
            return Err(IdentityError::Forbidden(format!(
                "Unable to delete region {id} because it or its child regions have associated endpoints."
            )));
        }
        if !catalog::delete_region(&self.db, id).await? {
            return Err(IdentityError::not_found("region", id));
        }
        Ok(())
    }

    pub async fn list_services(&self) -> Result<Vec<ServiceRow>> {
        Ok(catalog::list_services(&self.db).await?)
    }

    pub async fn get_service(&self, id: &str) -> Result<ServiceRow> {
        self.list_services()
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| IdentityError::not_found("service", id))
    }

    pub async fn create_service(&self, s: ServiceRow) -> Result<ServiceRow> {
        if s.service_type.is_empty() || s.service_type.len() > 255 {
            return Err(IdentityError::bad(
                "Invalid input for field 'type': must be 1-255 characters.",
            ));
        }
        catalog::insert_service(&self.db, &s).await?;
        Ok(s)
    }

    pub async fn update_service(&self, s: ServiceRow) -> Result<ServiceRow> {
        catalog::update_service(&self.db, &s).await?;
        Ok(s)
    }

    pub async fn delete_service(&self, id: &str) -> Result<()> {
        if !catalog::delete_service(&self.db, id).await? {
            return Err(IdentityError::not_found("service", id));
        }
        Ok(())
    }

    pub async fn list_endpoints(&self) -> Result<Vec<EndpointRow>> {
        Ok(catalog::list_endpoints(&self.db).await?)
    }

    pub async fn get_endpoint(&self, id: &str) -> Result<EndpointRow> {
        self.list_endpoints()
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| IdentityError::not_found("endpoint", id))
    }

    async fn check_endpoint(&self, e: &EndpointRow) -> Result<()> {
        if !INTERFACES.contains(&e.interface.as_str()) {
            return Err(IdentityError::bad(format!(
                "Invalid input for field 'interface': '{}' is not one of public, internal, admin.",
                e.interface
            )));
        }
        if e.url.trim().is_empty() {
            return Err(IdentityError::bad("Invalid input for field 'url': must not be empty."));
        }
        if let Err(IdentityError::NotFound { .. }) = self.get_service(&e.service_id).await {
            return Err(IdentityError::bad(format!("Could not find service: {}.", e.service_id)));
        }
        // Keystone creates a region an endpoint names but that does not exist.
        if let Some(r) = &e.region_id
            && catalog::get_region(&self.db, r).await?.is_none()
        {
            let region = RegionRow {
                id: r.clone(),
                description: None,
                parent_region_id: None,
                extra: serde_json::Map::new(),
            };
            match catalog::insert_region(&self.db, &region).await {
                Ok(()) | Err(store::StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub async fn create_endpoint(&self, e: EndpointRow) -> Result<EndpointRow> {
        self.check_endpoint(&e).await?;
        catalog::insert_endpoint(&self.db, &e).await?;
        Ok(e)
    }

    pub async fn update_endpoint(&self, e: EndpointRow) -> Result<EndpointRow> {
        self.check_endpoint(&e).await?;
        catalog::update_endpoint(&self.db, &e).await?;
        Ok(e)
    }

    pub async fn delete_endpoint(&self, id: &str) -> Result<()> {
        if !catalog::delete_endpoint(&self.db, id).await? {
            return Err(IdentityError::not_found("endpoint", id));
        }
        Ok(())
    }

    /// The catalog as tokens and `/v3/auth/catalog` render it. Endpoint URLs
    /// may carry `%(project_id)s`/`$(project_id)s`, substituted for
    /// project-scoped tokens; endpoints that need a project are left out of
    /// other tokens' catalogs, as Keystone does.
    pub async fn render_catalog(&self, project_id: Option<&str>) -> Result<Value> {
        let services = self.list_services().await?;
        let endpoints = self.list_endpoints().await?;
        let mut out = Vec::new();
        for s in services.iter().filter(|s| s.enabled) {
            let eps: Vec<Value> = endpoints
                .iter()
                .filter(|e| e.enabled && e.service_id == s.id)
                .filter_map(|e| {
                    let url = substitute(&e.url, project_id)?;
                    Some(json!({
                        "id": e.id,
                        "interface": e.interface,
                        "region": e.region_id,
                        "region_id": e.region_id,
                        "url": url,
                    }))
                })
                .collect();
            out.push(json!({
                "endpoints": eps,
                "id": s.id,
                "type": s.service_type,
                "name": s.name.clone().unwrap_or_default(),
            }));
        }
        Ok(Value::Array(out))
    }
}

fn substitute(url: &str, project_id: Option<&str>) -> Option<String> {
    let needs = ["%(project_id)s", "$(project_id)s", "%(tenant_id)s", "$(tenant_id)s"];
    if needs.iter().any(|n| url.contains(n)) {
        let p = project_id?;
        let mut u = url.to_owned();
        for n in needs {
            u = u.replace(n, p);
        }
        Some(u)
    } else {
        Some(url.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn project_templates_are_substituted_or_dropped() {
        assert_eq!(
            super::substitute("http://h/v1/AUTH_%(project_id)s", Some("p1")).as_deref(),
            Some("http://h/v1/AUTH_p1")
        );
        assert_eq!(super::substitute("http://h/v1/AUTH_$(tenant_id)s", None), None);
        assert_eq!(super::substitute("http://h/v3", None).as_deref(), Some("http://h/v3"));
    }
}
