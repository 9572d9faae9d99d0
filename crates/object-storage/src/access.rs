//! Who may do what: Swift's `keystoneauth` rules, as pure functions of the
//! caller's token and the container's ACLs.
//!
//! - The account `AUTH_<project_id>` belongs to the project: a token scoped
//!   to it with an operator role (`admin`, `member`, `swiftoperator`) is its
//!   owner — every request, setting ACLs included.
//! - A reseller admin (`ResellerAdmin` role, or a system-scoped `admin`)
//!   owns every account.
//! - Anyone else gets what the container's ACLs grant: `X-Container-Read`
//!   (object GET/HEAD; listing too for tokens it names, or with `.rlistings`
//!   for `.r:*`) and `X-Container-Write` (object PUT/POST/DELETE/COPY). ACL
//!   items are `.r:*`, `.rlistings`, `<project>:<user>` (ids or names, `*`
//!   for any) and role names.
//! - Refused: 401 without a token, 403 with one.

use api::AuthContext;

use crate::names::account_project;

/// Roles that make a project's member the owner of its account
/// (`operator_roles`).
pub const OPERATOR_ROLES: &[&str] = &["admin", "member", "swiftoperator"];
/// `reseller_admin_role`
pub const RESELLER_ADMIN_ROLE: &str = "ResellerAdmin";

pub fn is_reseller_admin(ctx: &AuthContext) -> bool {
    ctx.has_role(RESELLER_ADMIN_ROLE) || (ctx.is_system() && ctx.has_role("admin"))
}

/// Whether `ctx` owns `account`.
pub fn owns(ctx: Option<&AuthContext>, account: &str) -> bool {
    let Some(ctx) = ctx else { return false };
    if is_reseller_admin(ctx) {
        return true;
    }
    match (ctx.project_id.as_deref(), account_project(account)) {
        (Some(p), Some(a)) if p == a => OPERATOR_ROLES.iter().any(|r| ctx.has_role(r)),
        _ => false,
    }
}

/// What a non-owner asks of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Object GET/HEAD.
    ReadObject,
    /// Container GET/HEAD.
    List,
    /// Object PUT/POST/DELETE/COPY.
    Write,
}

/// Whether the container ACLs (`read`, `write`: the header values) let
/// `ctx` do `want`.
pub fn acl_allows(ctx: Option<&AuthContext>, read: Option<&str>, write: Option<&str>, want: Want) -> bool {
    match want {
        Want::ReadObject | Want::List => {
            let Some(acl) = read else { return false };
            let items: Vec<&str> = acl.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
            let public = items.iter().any(|i| *i == ".r:*" || *i == ".r:*.*");
            let listings = items.contains(&".rlistings");
            if public && (want == Want::ReadObject || listings) {
                return true;
            }
            ctx.is_some_and(|c| items.iter().any(|i| grants(c, i)))
        }
        Want::Write => {
            let Some(acl) = write else { return false };
            ctx.is_some_and(|c| acl.split(',').map(str::trim).any(|i| grants(c, i)))
        }
    }
}

/// Whether one user/role item of an ACL names `ctx`.
fn grants(ctx: &AuthContext, item: &str) -> bool {
    if item.is_empty() || item.starts_with('.') {
        return false;
    }
    match item.split_once(':') {
        Some((project, user)) => {
            let project_ok = project == "*"
                || ctx.project_id.as_deref() == Some(project)
                || ctx.project_name.as_deref() == Some(project);
            let user_ok = user == "*" || ctx.user_id == user || ctx.user_name == user;
            project_ok && user_ok && (ctx.project_id.is_some() || project == "*")
        }
        None => ctx.project_id.is_some() && ctx.roles.iter().any(|r| r == item),
    }
}

/// Checks the ACL syntax of an `X-Container-Read`/`Write` value.
pub fn valid_acl(value: &str, write: bool) -> bool {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).all(|item| {
        if let Some(r) = item.strip_prefix(".r:") {
            !write && !r.is_empty()
        } else if item.starts_with('.') {
            !write && item == ".rlistings"
        } else {
            true
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(project: &str, roles: &[&str]) -> AuthContext {
        AuthContext {
            user_id: "u1".into(),
            user_name: "alice".into(),
            project_id: Some(project.into()),
            project_name: Some("proj".into()),
            roles: roles.iter().map(|r| r.to_lowercase()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn owners_are_operators_of_the_project_or_resellers() {
        assert!(owns(Some(&ctx("p1", &["member"])), "AUTH_p1"));
        assert!(owns(Some(&ctx("p1", &["admin"])), "AUTH_p1"));
        assert!(!owns(Some(&ctx("p1", &["reader"])), "AUTH_p1"));
        assert!(!owns(Some(&ctx("p2", &["admin"])), "AUTH_p1"));
        assert!(owns(Some(&ctx("p2", &["ResellerAdmin"])), "AUTH_p1"));
        assert!(!owns(None, "AUTH_p1"));
        assert!(!owns(Some(&ctx("p1", &["member"])), "OTHER_p1"));
    }

    #[test]
    fn read_acls() {
        let c = ctx("p2", &["member"]);
        assert!(acl_allows(None, Some(".r:*"), None, Want::ReadObject));
        assert!(!acl_allows(None, Some(".r:*"), None, Want::List));
        assert!(acl_allows(None, Some(".r:*,.rlistings"), None, Want::List));
        assert!(acl_allows(Some(&c), Some("p2:*"), None, Want::List));
        assert!(acl_allows(Some(&c), Some("proj:alice"), None, Want::ReadObject));
        assert!(acl_allows(Some(&c), Some("*:u1"), None, Want::ReadObject));
        assert!(!acl_allows(Some(&c), Some("p3:*"), None, Want::ReadObject));
        assert!(acl_allows(Some(&c), Some("member"), None, Want::ReadObject));
        assert!(!acl_allows(Some(&c), None, Some("p2:*"), Want::ReadObject));
    }

    #[test]
    fn write_acls() {
        let c = ctx("p2", &["member"]);
        assert!(acl_allows(Some(&c), None, Some("p2:*"), Want::Write));
        assert!(!acl_allows(None, None, Some(".r:*"), Want::Write));
        assert!(!acl_allows(Some(&c), Some("p2:*"), None, Want::Write));
        assert!(valid_acl(".r:*,.rlistings,p:u", false));
        assert!(!valid_acl(".r:*", true));
        assert!(!valid_acl(".bogus", false));
    }
}
