//! Domains and projects (Keystone's "resource" backend): the hierarchy,
//! name rules, and what deleting or disabling one does to the rest.

use crate::db::projects::{self, ProjectRow, ROOT_DOMAIN};
use crate::error::{IdentityError, Result, on_conflict};
use crate::revoke::RevokeEvent;
use crate::{Identity, db};

/// The id of the domain `keystone-manage bootstrap` creates.
pub const DEFAULT_DOMAIN: &str = "default";

/// Keystone's name rules for domains and projects.
pub fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(IdentityError::bad(
            "Invalid input for field 'name': the name must not be empty.",
        ));
    }
    if name.chars().count() > 64 {
        return Err(IdentityError::bad(format!(
            "Invalid input for field 'name': '{name}' is too long (at most 64 characters)."
        )));
    }
    Ok(())
}

impl Identity {
    pub async fn get_domain(&self, id: &str) -> Result<ProjectRow> {
        match projects::get(&self.db, id).await? {
            Some(p) if p.is_domain => Ok(p),
            _ => Err(IdentityError::not_found("domain", id)),
        }
    }

    pub async fn find_domain_by_name(&self, name: &str) -> Result<ProjectRow> {
        projects::get_by_name(&self.db, ROOT_DOMAIN, name)
            .await?
            .ok_or_else(|| IdentityError::not_found("domain", name))
    }

    pub async fn list_domains(&self) -> Result<Vec<ProjectRow>> {
        Ok(projects::list(&self.db, true).await?)
    }

    pub async fn create_domain(&self, mut d: ProjectRow) -> Result<ProjectRow> {
        check_name(&d.name)?;
        d.is_domain = true;
        d.domain_id = ROOT_DOMAIN.to_owned();
        d.parent_id = None;
        projects::insert(&self.db, &d)
            .await
            .map_err(on_conflict("domain", format_args!("name {}", d.name)))?;
        Ok(d)
    }

    pub async fn update_domain(&self, d: ProjectRow) -> Result<ProjectRow> {
        check_name(&d.name)?;
        let before = self.get_domain(&d.id).await?;
        projects::update(&self.db, &d)
            .await
            .map_err(on_conflict("domain", format_args!("name {}", d.name)))?;
        if before.enabled && !d.enabled {
            self.revoke(RevokeEvent {
                domain_id: Some(d.id.clone()),
                ..RevokeEvent::new(db::now())
            })
            .await?;
        }
        Ok(d)
    }

    /// Deletes a disabled domain with everything in it.
    pub async fn delete_domain(&self, id: &str) -> Result<()> {
        let d = self.get_domain(id).await?;
        if d.enabled {
            return Err(IdentityError::Forbidden(
                "Cannot delete a domain that is enabled, please disable it first.".into(),
            ));
        }
        if id == DEFAULT_DOMAIN {
            return Err(IdentityError::Forbidden("The default domain cannot be deleted.".into()));
        }
        for u in db::users::list_users(&self.db)
            .await?
            .into_iter()
            .filter(|u| u.domain_id == id)
        {
            db::users::delete_user(&self.db, &u.id).await?;
        }
        for g in db::users::list_groups(&self.db)
            .await?
            .into_iter()
            .filter(|g| g.domain_id == id)
        {
            db::users::delete_group(&self.db, &g.id).await?;
        }
        for r in db::roles::list(&self.db)
            .await?
            .into_iter()
            .filter(|r| r.domain_id.as_deref() == Some(id))
        {
            db::roles::delete(&self.db, &r.id).await?;
        }
        // Leaves first, so no project is left pointing at a deleted parent.
        let mut ids = projects::in_domain(&self.db, id).await?;
        while !ids.is_empty() {
            let mut rest = Vec::new();
            for pid in ids {
                if projects::children(&self.db, &pid).await?.is_empty() {
                    projects::delete(&self.db, &pid).await?;
                } else {
                    rest.push(pid);
                }
            }
            ids = rest;
        }
        projects::delete(&self.db, id).await?;
        Ok(())
    }

    pub async fn get_project(&self, id: &str) -> Result<ProjectRow> {
        match projects::get(&self.db, id).await? {
            Some(p) if !p.is_domain => Ok(p),
            _ => Err(IdentityError::not_found("project", id)),
        }
    }

    /// A project by id, or a domain (which is also a project) — for APIs that
    /// accept either, such as `is_domain` listings.
    pub async fn get_project_or_domain(&self, id: &str) -> Result<ProjectRow> {
        projects::get(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("project", id))
    }

    pub async fn find_project_by_name(&self, domain_id: &str, name: &str) -> Result<ProjectRow> {
        match projects::get_by_name(&self.db, domain_id, name).await? {
            Some(p) if !p.is_domain => Ok(p),
            _ => Err(IdentityError::not_found("project", name)),
        }
    }

    pub async fn list_projects(&self) -> Result<Vec<ProjectRow>> {
        Ok(projects::list(&self.db, false).await?)
    }

    /// Creates a project; with `is_domain` it creates a domain instead.
    pub async fn create_project(&self, mut p: ProjectRow) -> Result<ProjectRow> {
        check_name(&p.name)?;
        check_tags(&p.tags)?;
        if p.is_domain {
            return self.create_domain(p).await;
        }
        if let Some(parent_id) = &p.parent_id {
            let parent = projects::get(&self.db, parent_id)
                .await?
                .ok_or_else(|| IdentityError::not_found("project", parent_id.as_str()))?;
            let parent_domain = if parent.is_domain {
                parent.id.clone()
            } else {
                parent.domain_id.clone()
            };
            if p.domain_id.is_empty() {
                p.domain_id = parent_domain;
            } else if p.domain_id != parent_domain {
                return Err(IdentityError::bad(
                    "Cannot create project, the parent and the project must be in the same domain.",
                ));
            }
            if parent.is_domain {
                p.parent_id = Some(parent.id.clone());
            }
        }
        if p.domain_id.is_empty() {
            p.domain_id = DEFAULT_DOMAIN.to_owned();
        }
        let domain = self.get_domain(&p.domain_id).await?;
        if p.parent_id.is_none() {
            p.parent_id = Some(domain.id.clone());
        }
        projects::insert(&self.db, &p)
            .await
            .map_err(on_conflict("project", format_args!("name {}", p.name)))?;
        Ok(p)
    }

    pub async fn update_project(&self, p: ProjectRow) -> Result<ProjectRow> {
        check_name(&p.name)?;
        check_tags(&p.tags)?;
        let before = self.get_project(&p.id).await?;
        projects::update(&self.db, &p)
            .await
            .map_err(on_conflict("project", format_args!("name {}", p.name)))?;
        if before.enabled && !p.enabled {
            self.revoke(RevokeEvent {
                project_id: Some(p.id.clone()),
                ..RevokeEvent::new(db::now())
            })
            .await?;
        }
        Ok(p)
    }

    pub async fn delete_project(&self, id: &str) -> Result<()> {
        self.get_project(id).await?;
        if !projects::children(&self.db, id).await?.is_empty() {
            return Err(IdentityError::Forbidden(format!(
                "Cannot delete the project {id} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree."
            )));
        }
        projects::delete(&self.db, id).await?;
        self.revoke(RevokeEvent {
            project_id: Some(id.to_owned()),
            ..RevokeEvent::new(db::now())
        })
        .await?;
        Ok(())
    }

    /// The project's ancestors up to (not including) its domain, nearest first.
    pub async fn project_ancestors(&self, p: &ProjectRow) -> Result<Vec<ProjectRow>> {
        let mut out = Vec::new();
        let mut next = p.parent_id.clone();
        while let Some(id) = next {
            if id == p.domain_id || out.len() > 64 {
                break;
            }
            match projects::get(&self.db, &id).await? {
                Some(parent) if !parent.is_domain => {
                    next = parent.parent_id.clone();
                    out.push(parent);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every project below `id`, depth first.
    pub async fn project_descendants(&self, id: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut stack = vec![id.to_owned()];
        while let Some(cur) = stack.pop() {
            for child in projects::children(&self.db, &cur).await? {
                out.push(child.clone());
                stack.push(child);
            }
        }
        Ok(out)
    }
}

/// Keystone's tag rules: at most 80 per project, each 1–255 characters
/// without `/` or `,`.
pub fn check_tags(tags: &[String]) -> Result<()> {
    if tags.len() > 80 {
        return Err(IdentityError::bad(
            "Invalid input for field 'tags': at most 80 tags are allowed.",
        ));
    }
    for t in tags {
        if t.is_empty() || t.chars().count() > 255 || t.contains('/') || t.contains(',') {
            return Err(IdentityError::bad(format!(
                "Invalid input for field 'tags': '{t}' must be 1-255 characters and contain no '/' or ','."
            )));
        }
    }
    Ok(())
}
