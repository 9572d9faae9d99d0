//! What `keystone-manage bootstrap` creates, made idempotent so that every
//! start of `oxistack up` may run it: the `Default` domain, the `admin`
//! project and user, the roles `admin` ⇒ `member` ⇒ `reader`, `manager`
//! (admin ⇒ manager ⇒ member, Keystone's domain-manager persona) and
//! `service` for service users, the admin's grants on its project and on the system,
//! the region, and the identity service's own catalog entry. Later services
//! register themselves through [`Identity::register_service`].

use serde_json::Map;

use crate::assignment::Target;
use crate::db::catalog::{EndpointRow, RegionRow, ServiceRow};
use crate::db::projects::ProjectRow;
use crate::db::roles::RoleRow;
use crate::db::users::UserRow;
use crate::error::{IdentityError, Result};
use crate::resource::DEFAULT_DOMAIN;
use crate::{Identity, db};

#[derive(Clone, Debug)]
pub struct BootstrapSpec {
    pub admin_user: String,
    pub admin_password: String,
    pub admin_project: String,
    pub region: String,
}

impl BootstrapSpec {
    pub fn new(admin_password: impl Into<String>) -> Self {
        BootstrapSpec {
            admin_user: "admin".into(),
            admin_password: admin_password.into(),
            admin_project: "admin".into(),
            region: "RegionOne".into(),
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Identity {
    pub async fn bootstrap(&self, spec: &BootstrapSpec) -> Result<()> {
        let domain = match self.get_domain(DEFAULT_DOMAIN).await {
            Ok(d) => d,
            Err(IdentityError::NotFound { .. }) => {
                self.create_domain(ProjectRow {
                    id: DEFAULT_DOMAIN.into(),
                    name: "Default".into(),
                    domain_id: String::new(),
                    parent_id: None,
                    is_domain: true,
                    enabled: true,
                    description: Some("The default domain".into()),
                    extra: Map::new(),
                    tags: Vec::new(),
                })
                .await?
            }
            Err(e) => return Err(e),
        };
        let project = match self.find_project_by_name(&domain.id, &spec.admin_project).await {
            Ok(p) => p,
            Err(IdentityError::NotFound { .. }) => {
                self.create_project(ProjectRow {
                    id: new_id(),
                    name: spec.admin_project.clone(),
                    domain_id: domain.id.clone(),
                    parent_id: None,
                    is_domain: false,
                    enabled: true,
                    description: Some("Bootstrap project for initializing the cloud.".into()),
                    extra: Map::new(),
                    tags: Vec::new(),
                })
                .await?
            }
            Err(e) => return Err(e),
        };
        let user = match self.find_user_by_name(&domain.id, &spec.admin_user).await {
            Ok(u) => {
                if !self.check_password(&u, spec.admin_password.clone()).await {
                    self.update_user(u.clone(), Some(spec.admin_password.clone())).await?;
                }
                u
            }
            Err(IdentityError::NotFound { .. }) => {
                self.create_user(
                    UserRow {
                        id: new_id(),
                        domain_id: domain.id.clone(),
                        name: spec.admin_user.clone(),
                        enabled: true,
                        password_hash: None,
                        password_created_at: None,
                        password_expires_at: None,
                        default_project_id: None,
                        description: None,
                        extra: Map::new(),
                        created_at: db::now(),
                    },
                    Some(spec.admin_password.clone()),
                )
                .await?
            }
            Err(e) => return Err(e),
        };
        let mut role_ids = Vec::new();
        for name in ["admin", "member", "reader", "service", "manager"] {
            let role = match self.find_role_by_name(name).await {
                Ok(r) => r,
                Err(IdentityError::NotFound { .. }) => {
                    self.create_role(RoleRow {
                        id: new_id(),
                        name: name.into(),
                        domain_id: None,
                        description: None,
                        extra: Map::new(),
                    })
                    .await?
                }
                Err(e) => return Err(e),
            };
            role_ids.push(role.id);
        }
        self.create_implication(&role_ids[0], &role_ids[1]).await?;
        self.create_implication(&role_ids[1], &role_ids[2]).await?;
        self.create_implication(&role_ids[0], &role_ids[4]).await?;
        self.create_implication(&role_ids[4], &role_ids[1]).await?;
        self.grant(
            &user.id,
            false,
            &Target::Project(project.id.clone()),
            &role_ids[0],
            false,
        )
        .await?;
        self.grant(&user.id, false, &Target::System, &role_ids[0], false)
            .await?;
        if self.get_region(&spec.region).await.is_err() {
            self.create_region(RegionRow {
                id: spec.region.clone(),
                description: None,
                parent_region_id: None,
                extra: Map::new(),
            })
            .await?;
        }
        let url = format!("{}/v3", self.base_url());
        self.register_service("identity", "keystone", &spec.region, &url)
            .await?;
        self.changed();
        Ok(())
    }

    /// Makes a service user (`nova`, …) exist in the Default domain with
    /// `password`, holding `admin` and `service` on the `service` project
    /// (created when missing) — what a deployment tool does for each
    /// OpenStack service, so that the service can call the others with its
    /// own token. Idempotent; a changed password is updated.
    pub async fn ensure_service_user(&self, name: &str, password: &str) -> Result<()> {
        let project = match self.find_project_by_name(DEFAULT_DOMAIN, "service").await {
            Ok(p) => p,
            Err(IdentityError::NotFound { .. }) => {
                self.create_project(ProjectRow {
                    id: new_id(),
                    name: "service".into(),
                    domain_id: DEFAULT_DOMAIN.into(),
                    parent_id: None,
                    is_domain: false,
                    enabled: true,
                    description: Some("The project of service users.".into()),
                    extra: Map::new(),
                    tags: Vec::new(),
                })
                .await?
            }
            Err(e) => return Err(e),
        };
        let user = match self.find_user_by_name(DEFAULT_DOMAIN, name).await {
            Ok(u) => {
                if !self.check_password(&u, password.to_owned()).await {
                    self.update_user(u.clone(), Some(password.to_owned())).await?;
                }
                u
            }
            Err(IdentityError::NotFound { .. }) => {
                self.create_user(
                    UserRow {
                        id: new_id(),
                        domain_id: DEFAULT_DOMAIN.into(),
                        name: name.into(),
                        enabled: true,
                        password_hash: None,
                        password_created_at: None,
                        password_expires_at: None,
                        default_project_id: Some(project.id.clone()),
                        description: None,
                        extra: Map::new(),
                        created_at: db::now(),
                    },
                    Some(password.to_owned()),
                )
                .await?
            }
            Err(e) => return Err(e),
        };
        for role in ["admin", "service"] {
            let role = self.find_role_by_name(role).await?;
            self.grant(&user.id, false, &Target::Project(project.id.clone()), &role.id, false)
                .await?;
        }
        self.changed();
        Ok(())
    }

    /// Makes the catalog hold one service of `service_type` with a public,
    /// internal and admin endpoint at `url` in `region`; updates what
    /// differs, so that a restart on another address fixes the catalog.
    pub async fn register_service(&self, service_type: &str, name: &str, region: &str, url: &str) -> Result<()> {
        let service = match self
            .list_services()
            .await?
            .into_iter()
            .find(|s| s.service_type == service_type)
        {
            Some(s) => s,
            None => {
                self.create_service(ServiceRow {
                    id: new_id(),
                    service_type: service_type.into(),
                    name: Some(name.into()),
                    description: None,
                    enabled: true,
                    extra: Map::new(),
                })
                .await?
            }
        };
        let endpoints = self.list_endpoints().await?;
        for interface in crate::catalog::INTERFACES {
            let existing = endpoints.iter().find(|e| {
                e.service_id == service.id && e.interface == interface && e.region_id.as_deref() == Some(region)
            });
            match existing {
                Some(e) if e.url == url => {}
                Some(e) => {
                    self.update_endpoint(EndpointRow {
                        url: url.into(),
                        ..e.clone()
                    })
                    .await?;
                }
                None => {
                    self.create_endpoint(EndpointRow {
                        id: new_id(),
                        interface: interface.into(),
                        service_id: service.id.clone(),
                        url: url.into(),
                        region_id: Some(region.into()),
                        enabled: true,
                        extra: Map::new(),
                    })
                    .await?;
                }
            }
        }
        self.changed();
        Ok(())
    }
}
