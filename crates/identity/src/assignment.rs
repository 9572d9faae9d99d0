//! Roles, role implications, grants, and the effective roles they add up to.
//!
//! A user's effective roles on a target are: their own grants and their
//! groups' grants on it, grants inherited from the target's domain or from
//! any ancestor project (`OS-INHERIT`), each expanded through the implication
//! graph. Domain-specific roles are never effective themselves: they only
//! carry the global roles they imply (Keystone's rule).

use std::collections::{BTreeSet, HashMap};

use crate::db::assignments::{self, Assignment, Kind, SYSTEM};
use crate::db::roles::{self, RoleRow};
use crate::error::{IdentityError, Result, on_conflict};
use crate::revoke::RevokeEvent;
use crate::{Identity, db};

/// What a token or a grant is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Project(String),
    Domain(String),
    System,
}

/// One row of `GET /v3/role_assignments`, after expansion if `effective`.
#[derive(Clone, Debug)]
pub struct RoleAssignment {
    pub role_id: String,
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub target: Target,
    pub inherited: bool,
    /// Set when the row comes from a group membership (effective mode).
    pub via_group: Option<String>,
    /// Set when the row comes from an implied role (effective mode).
    pub prior_role: Option<String>,
    /// The grant behind an expanded row: (target, inherited).
    pub source_target: Option<(Target, bool)>,
}

/// Filters of `GET /v3/role_assignments`.
#[derive(Clone, Debug, Default)]
pub struct AssignmentFilter {
    pub user_id: Option<String>,
    pub group_id: Option<String>,
    pub role_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub system: bool,
    pub inherited: Option<bool>,
    pub effective: bool,
    pub include_subtree: bool,
}

/// The transitive closure of `implications` from `start`, `start` included.
pub fn expand_implied(start: &[String], implications: &[(String, String)]) -> Vec<String> {
    let mut seen: BTreeSet<String> = start.iter().cloned().collect();
    let mut stack: Vec<String> = start.to_vec();
    while let Some(r) = stack.pop() {
        for (prior, implied) in implications {
            if *prior == r && seen.insert(implied.clone()) {
                stack.push(implied.clone());
            }
        }
    }
    seen.into_iter().collect()
}

fn kind_for(target: &Target, group: bool) -> Kind {
    match (target, group) {
        (Target::Project(_), false) => Kind::UserProject,
        (Target::Project(_), true) => Kind::GroupProject,
        (Target::Domain(_), false) => Kind::UserDomain,
        (Target::Domain(_), true) => Kind::GroupDomain,
        (Target::System, false) => Kind::UserSystem,
        (Target::System, true) => Kind::GroupSystem,
    }
}

fn target_id(target: &Target) -> &str {
    match target {
        Target::Project(id) | Target::Domain(id) => id,
        Target::System => SYSTEM,
    }
}

fn target_of(a: &Assignment) -> Target {
    match a.kind {
        Kind::UserProject | Kind::GroupProject => Target::Project(a.target_id.clone()),
        Kind::UserDomain | Kind::GroupDomain => Target::Domain(a.target_id.clone()),
        Kind::UserSystem | Kind::GroupSystem => Target::System,
    }
}

impl Identity {
    pub async fn get_role(&self, id: &str) -> Result<RoleRow> {
        roles::get(&self.db, id)
            .await?
            .ok_or_else(|| IdentityError::not_found("role", id))
    }

    pub async fn list_roles(&self) -> Result<Vec<RoleRow>> {
        Ok(roles::list(&self.db).await?)
    }

    pub async fn find_role_by_name(&self, name: &str) -> Result<RoleRow> {
        self.list_roles()
            .await?
            .into_iter()
            .find(|r| r.name == name && r.domain_id.is_none())
            .ok_or_else(|| IdentityError::not_found("role", name))
    }

    pub async fn create_role(&self, r: RoleRow) -> Result<RoleRow> {
        if r.name.trim().is_empty() || r.name.chars().count() > 255 {
            return Err(IdentityError::bad(
                "Invalid input for field 'name': the name must be 1-255 characters.",
            ));
        }
        if let Some(d) = &r.domain_id {
            self.get_domain(d).await?;
        }
        roles::insert(&self.db, &r)
            .await
            .map_err(on_conflict("role", format_args!("name {}", r.name)))?;
        Ok(r)
    }

    pub async fn update_role(&self, r: RoleRow) -> Result<RoleRow> {
        roles::update(&self.db, &r)
            .await
            .map_err(on_conflict("role", format_args!("name {}", r.name)))?;
        Ok(r)
    }

    pub async fn delete_role(&self, id: &str) -> Result<()> {
        self.get_role(id).await?;
        roles::delete(&self.db, id).await?;
        self.revoke(RevokeEvent {
            role_id: Some(id.to_owned()),
            ..RevokeEvent::new(db::now())
        })
        .await
    }

    pub async fn implications(&self) -> Result<Vec<(String, String)>> {
        Ok(roles::implications(&self.db).await?)
    }

    pub async fn create_implication(&self, prior: &str, implied: &str) -> Result<()> {
        let p = self.get_role(prior).await?;
        let i = self.get_role(implied).await?;
        if i.domain_id.is_some() && p.domain_id.is_none() {
            return Err(IdentityError::Forbidden(format!(
                "{implied} is a domain-specific role and cannot be implied by the global role {prior}."
            )));
        }
        if expand_implied(std::slice::from_ref(&i.id), &self.implications().await?).contains(&p.id) {
            return Err(IdentityError::Forbidden(format!(
                "Role {prior} implying {implied} would create a cycle."
            )));
        }
        match roles::add_implication(&self.db, prior, implied).await {
            Ok(()) | Err(store::StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_implication(&self, prior: &str, implied: &str) -> Result<()> {
        self.get_role(prior).await?;
        self.get_role(implied).await?;
        if !roles::remove_implication(&self.db, prior, implied).await? {
            return Err(IdentityError::not_found(
                "implied role",
                format!("{prior} -> {implied}"),
            ));
        }
        Ok(())
    }

    pub async fn implication_exists(&self, prior: &str, implied: &str) -> Result<bool> {
        self.get_role(prior).await?;
        self.get_role(implied).await?;
        Ok(self
            .implications()
            .await?
            .iter()
            .any(|(p, i)| p == prior && i == implied))
    }

    async fn check_grant_parts(&self, actor: &str, group: bool, target: &Target, role_id: &str) -> Result<()> {
        if group {
            self.get_group(actor).await?;
        } else {
            self.get_user(actor).await?;
        }
        match target {
            Target::Project(p) => {
                self.get_project(p).await?;
            }
            Target::Domain(d) => {
                self.get_domain(d).await?;
            }
            Target::System => {}
        }
        self.get_role(role_id).await?;
        Ok(())
    }

    pub async fn grant(&self, actor: &str, group: bool, target: &Target, role_id: &str, inherited: bool) -> Result<()> {
        self.check_grant_parts(actor, group, target, role_id).await?;
        assignments::grant(
            &self.db,
            &Assignment {
                kind: kind_for(target, group),
                actor_id: actor.to_owned(),
                target_id: target_id(target).to_owned(),
                role_id: role_id.to_owned(),
                inherited,
            },
        )
        .await?;
        Ok(())
    }

    pub async fn grant_exists(
        &self,
        actor: &str,
        group: bool,
        target: &Target,
        role_id: &str,
        inherited: bool,
    ) -> Result<bool> {
        self.check_grant_parts(actor, group, target, role_id).await?;
        Ok(assignments::exists(
            &self.db,
            &Assignment {
                kind: kind_for(target, group),
                actor_id: actor.to_owned(),
                target_id: target_id(target).to_owned(),
                role_id: role_id.to_owned(),
                inherited,
            },
        )
        .await?)
    }

    /// Revokes a grant and the tokens that carried it.
    pub async fn revoke_grant(
        &self,
        actor: &str,
        group: bool,
        target: &Target,
        role_id: &str,
        inherited: bool,
    ) -> Result<()> {
        self.check_grant_parts(actor, group, target, role_id).await?;
        let existed = assignments::revoke(
            &self.db,
            &Assignment {
                kind: kind_for(target, group),
                actor_id: actor.to_owned(),
                target_id: target_id(target).to_owned(),
                role_id: role_id.to_owned(),
                inherited,
            },
        )
        .await?;
        if !existed {
            return Err(IdentityError::not_found(
                "role assignment",
                format!("{role_id} for {actor}"),
            ));
        }
        let users = if group {
            db::users::members_of_group(&self.db, actor).await?
        } else {
            vec![actor.to_owned()]
        };
        // Like Keystone's revoke_by_grant: the user's tokens carrying the
        // role on that target. An inherited project grant reaches projects
        // below, so it is not narrowed to the project.
        let (project_id, domain_id) = match target {
            Target::Project(p) if !inherited => (Some(p.clone()), None),
            Target::Domain(d) => (None, Some(d.clone())),
            _ => (None, None),
        };
        for u in users {
            self.revoke(RevokeEvent {
                user_id: Some(u),
                role_id: Some(role_id.to_owned()),
                project_id: project_id.clone(),
                domain_id: domain_id.clone(),
                ..RevokeEvent::new(db::now())
            })
            .await?;
        }
        Ok(())
    }

    /// Role ids granted directly (not through implication) to a user or
    /// group on a target, as `GET /v3/projects/{p}/users/{u}/roles` lists.
    pub async fn direct_role_ids(
        &self,
        actor: &str,
        group: bool,
        target: &Target,
        inherited: bool,
    ) -> Result<Vec<String>> {
        let kind = kind_for(target, group);
        let tid = target_id(target);
        Ok(assignments::for_actors(&self.db, &[actor.to_owned()])
            .await?
            .into_iter()
            .filter(|a| a.kind == kind && a.target_id == tid && a.inherited == inherited)
            .map(|a| a.role_id)
            .collect())
    }

    /// The roles a user holds on a target, effective and expanded; the
    /// roles a token on that target carries.
    pub async fn effective_roles(&self, user_id: &str, target: &Target) -> Result<Vec<RoleRow>> {
        let mut actors = db::users::groups_of_user(&self.db, user_id).await?;
        actors.push(user_id.to_owned());
        let grants = assignments::for_actors(&self.db, &actors).await?;
        let (ancestors, domain) = match target {
            Target::Project(p) => {
                let proj = self.get_project(p).await?;
                let anc: Vec<String> = self.project_ancestors(&proj).await?.into_iter().map(|a| a.id).collect();
                (anc, Some(proj.domain_id))
            }
            _ => (Vec::new(), None),
        };
        let direct: Vec<String> = grants
            .into_iter()
            .filter(|a| match (target, a.kind) {
                (Target::Project(p), Kind::UserProject | Kind::GroupProject) => {
                    (a.target_id == *p && !a.inherited) || (a.inherited && ancestors.contains(&a.target_id))
                }
                (Target::Project(_), Kind::UserDomain | Kind::GroupDomain) => {
                    a.inherited && domain.as_deref() == Some(a.target_id.as_str())
                }
                (Target::Domain(d), Kind::UserDomain | Kind::GroupDomain) => a.target_id == *d && !a.inherited,
                (Target::System, Kind::UserSystem | Kind::GroupSystem) => true,
                _ => false,
            })
            .map(|a| a.role_id)
            .collect();
        let ids = expand_implied(&direct, &self.implications().await?);
        let all: HashMap<String, RoleRow> = self
            .list_roles()
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut out: Vec<RoleRow> = ids
            .into_iter()
            .filter_map(|id| all.get(&id).cloned())
            .filter(|r| r.domain_id.is_none())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `GET /v3/role_assignments`.
    pub async fn list_role_assignments(&self, f: &AssignmentFilter) -> Result<Vec<RoleAssignment>> {
        let grants = assignments::all(&self.db).await?;
        let mut rows: Vec<RoleAssignment> = grants
            .iter()
            .map(|a| RoleAssignment {
                role_id: a.role_id.clone(),
                user_id: (!a.kind.is_group()).then(|| a.actor_id.clone()),
                group_id: a.kind.is_group().then(|| a.actor_id.clone()),
                target: target_of(a),
                inherited: a.inherited,
                via_group: None,
                prior_role: None,
                source_target: None,
            })
            .collect();
        if f.effective {
            // Keystone's effective listing covers projects and domains; system
            // grants appear only when asked for.
            if !f.system {
                rows.retain(|r| r.target != Target::System);
            }
            rows = self.expand_effective(rows).await?;
        }
        let subtree = match (&f.project_id, f.include_subtree) {
            (Some(p), true) => self.project_descendants(p).await?,
            _ => Vec::new(),
        };
        rows.retain(|r| {
            f.user_id.as_ref().is_none_or(|u| r.user_id.as_ref() == Some(u))
                && f.group_id.as_ref().is_none_or(|g| r.group_id.as_ref() == Some(g))
                && f.role_id.as_ref().is_none_or(|id| &r.role_id == id)
                && f.inherited.is_none_or(|i| r.inherited == i)
                && f.project_id.as_ref().is_none_or(|p| match &r.target {
                    Target::Project(t) => t == p || subtree.contains(t),
                    _ => false,
                })
                && f.domain_id
                    .as_ref()
                    .is_none_or(|d| r.target == Target::Domain(d.clone()))
                && (!f.system || r.target == Target::System)
        });
        Ok(rows)
    }

    /// Effective mode: groups become their members, inherited grants become
    /// grants on each project below, implied roles are added.
    async fn expand_effective(&self, rows: Vec<RoleAssignment>) -> Result<Vec<RoleAssignment>> {
        let mut users_expanded = Vec::new();
        for r in rows {
            match &r.group_id {
                Some(g) => {
                    for u in db::users::members_of_group(&self.db, g).await? {
                        users_expanded.push(RoleAssignment {
                            user_id: Some(u),
                            group_id: None,
                            via_group: Some(g.clone()),
                            ..r.clone()
                        });
                    }
                }
                None => users_expanded.push(r),
            }
        }
        let mut targets_expanded = Vec::new();
        for r in users_expanded {
            if !r.inherited {
                targets_expanded.push(r);
                continue;
            }
            let projects = match &r.target {
                Target::Domain(d) => db::projects::in_domain(&self.db, d).await?,
                Target::Project(p) => self.project_descendants(p).await?,
                Target::System => Vec::new(),
            };
            for p in projects {
                targets_expanded.push(RoleAssignment {
                    target: Target::Project(p),
                    inherited: false,
                    source_target: Some((r.target.clone(), true)),
                    ..r.clone()
                });
            }
        }
        let implications = self.implications().await?;
        let domain_specific: Vec<String> = self
            .list_roles()
            .await?
            .into_iter()
            .filter(|r| r.domain_id.is_some())
            .map(|r| r.id)
            .collect();
        let mut out = Vec::new();
        for r in targets_expanded {
            for implied in expand_implied(std::slice::from_ref(&r.role_id), &implications) {
                // Domain-specific roles never take effect themselves.
                if domain_specific.contains(&implied) {
                    continue;
                }
                if implied == r.role_id {
                    out.push(r.clone());
                } else {
                    out.push(RoleAssignment {
                        role_id: implied,
                        prior_role: Some(r.role_id.clone()),
                        ..r.clone()
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_roles_close_transitively_without_looping() {
        let imp = vec![
            ("admin".to_string(), "member".to_string()),
            ("member".to_string(), "reader".to_string()),
            ("reader".to_string(), "admin".to_string()),
        ];
        assert_eq!(expand_implied(&["member".into()], &imp), ["admin", "member", "reader"]);
        assert_eq!(expand_implied(&["x".into()], &imp), ["x"]);
    }
}
