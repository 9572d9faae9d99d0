//! Grants — `/v3/{projects,domains}/{id}/{users,groups}/{id}/roles[/{role}]`,
//! `/v3/system/{users,groups}/{id}/roles[/{role}]`, their `OS-INHERIT`
//! forms — and `GET /v3/role_assignments`.

use api::{ApiError, Auth, AuthContext};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{QueryPairs, authorize, query_flag, query_get, self_link};
use crate::assignment::{AssignmentFilter, RoleAssignment, Target};
use crate::{Identity, IdentityError};

/// Which kind of target a grant route addresses.
#[derive(Clone, Copy)]
enum On {
    Project,
    Domain,
    System,
}

pub(super) fn routes() -> Router<Identity> {
    let mut r = Router::new().route("/v3/role_assignments", get(list_assignments));
    for (on, tpath) in [(On::Project, "/projects/{tid}"), (On::Domain, "/domains/{tid}")] {
        for (group, apath) in [(false, "users"), (true, "groups")] {
            r = r
                .route(
                    &format!("/v3{tpath}/{apath}/{{aid}}/roles"),
                    get(move |State(id): State<Identity>, Auth(ctx): Auth, Path((tid, aid)): Path<(String, String)>| async move {
                        list_grants(id, ctx, on, Some(tid), group, aid, false).await
                    }),
                )
                .route(
                    &format!("/v3{tpath}/{apath}/{{aid}}/roles/{{rid}}"),
                    get(move |State(id): State<Identity>, Auth(ctx): Auth, Path((tid, aid, rid)): Path<(String, String, String)>| async move {
                        grant_op(id, ctx, Op::Check, on, Some(tid), group, aid, rid, false).await
                    })
                    .put(move |State(id): State<Identity>, Auth(ctx): Auth, Path((tid, aid, rid)): Path<(String, String, String)>| async move {
                        grant_op(id, ctx, Op::Create, on, Some(tid), group, aid, rid, false).await
                    })
                    .delete(move |State(id): State<Identity>, Auth(ctx): Auth, Path((tid, aid, rid)): Path<(String, String, String)>| async move {
                        grant_op(id, ctx, Op::Revoke, on, Some(tid), group, aid, rid, false).await
                    }),
                )
                .route(
                    &format!("/v3/OS-INHERIT{tpath}/{apath}/{{aid}}/roles/{{rid}}/inherited_to_projects"),
                    get(move |State(id): State<Identity>, Auth(ctx): Auth, Path((tid, aid, rid)): Path<(String, String, String)>| async move {
                        grant_op(id, ctx, Op::Check, on, Some(tid), group, aid, rid, true).await
                    })
                    .put(move |State(id): State<Identity>, Auth(ctx): Auth, Path((tid, aid, rid)): Path<(String, String, String)>| async move {
                        grant_op(id, ctx, Op::Create, on, Some(tid), group, aid, rid, true).await
                    })
                    .delete(move |State(id): State<Identity>, Auth(ctx): Auth, Path((tid, aid, rid)): Path<(String, String, String)>| async move {
                        grant_op(id, ctx, Op::Revoke, on, Some(tid), group, aid, rid, true).await
                    }),
                )
                .route(
                    &format!("/v3/OS-INHERIT{tpath}/{apath}/{{aid}}/roles/inherited_to_projects"),
                    get(move |State(id): State<Identity>, Auth(ctx): Auth, Path((tid, aid)): Path<(String, String)>| async move {
                        list_grants(id, ctx, on, Some(tid), group, aid, true).await
                    }),
                );
        }
    }
    for (group, apath) in [(false, "users"), (true, "groups")] {
        r = r
            .route(
                &format!("/v3/system/{apath}/{{aid}}/roles"),
                get(move |State(id): State<Identity>, Auth(ctx): Auth, Path(aid): Path<String>| async move {
                    list_grants(id, ctx, On::System, None, group, aid, false).await
                }),
            )
            .route(
                &format!("/v3/system/{apath}/{{aid}}/roles/{{rid}}"),
                get(move |State(id): State<Identity>, Auth(ctx): Auth, Path((aid, rid)): Path<(String, String)>| async move {
                    grant_op(id, ctx, Op::Check, On::System, None, group, aid, rid, false).await
                })
                .put(move |State(id): State<Identity>, Auth(ctx): Auth, Path((aid, rid)): Path<(String, String)>| async move {
                    grant_op(id, ctx, Op::Create, On::System, None, group, aid, rid, false).await
                })
                .delete(move |State(id): State<Identity>, Auth(ctx): Auth, Path((aid, rid)): Path<(String, String)>| async move {
                    grant_op(id, ctx, Op::Revoke, On::System, None, group, aid, rid, false).await
                }),
            );
    }
    r
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Create,
    Check,
    Revoke,
}

fn target_of(on: On, tid: Option<String>) -> Target {
    match on {
        On::Project => Target::Project(tid.unwrap_or_default()),
        On::Domain => Target::Domain(tid.unwrap_or_default()),
        On::System => Target::System,
    }
}

/// The policy target of a grant, with the domains the rules compare.
async fn grant_target(id: &Identity, target: &Target, group: bool, aid: &str, rid: Option<&str>) -> Value {
    let mut t = json!({});
    match target {
        Target::Project(p) => {
            let domain = id.get_project(p).await.ok().map(|p| p.domain_id);
            t["project"] = json!({"id": p, "domain_id": domain});
        }
        Target::Domain(d) => t["domain"] = json!({"id": d}),
        Target::System => {}
    }
    if group {
        t["group"] = json!({"id": aid, "domain_id": id.get_group(aid).await.ok().map(|g| g.domain_id)});
    } else {
        t["user"] = json!({"id": aid, "domain_id": id.get_user(aid).await.ok().map(|u| u.domain_id)});
    }
    if let Some(rid) = rid {
        let role = id.get_role(rid).await.ok();
        t["role"] = json!({"id": rid, "domain_id": role.as_ref().and_then(|r| r.domain_id.clone()), "name": role.map(|r| r.name)});
    }
    json!({"target": t})
}

fn action(op: &str, on: On, group: bool) -> String {
    let plural = if op == "list" { "s" } else { "" };
    let actor = if group { "group" } else { "user" };
    match on {
        On::System => format!("identity:{op}_system_grant{plural}_for_{actor}"),
        _ => format!("identity:{op}_grant{plural}"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn grant_op(
    id: Identity,
    ctx: std::sync::Arc<AuthContext>,
    op: Op,
    on: On,
    tid: Option<String>,
    group: bool,
    aid: String,
    rid: String,
    inherited: bool,
) -> Result<StatusCode, ApiError> {
    let target = target_of(on, tid);
    let name = match op {
        Op::Create => "create",
        Op::Check => "check",
        Op::Revoke => "revoke",
    };
    let policy_target = grant_target(&id, &target, group, &aid, Some(&rid)).await;
    authorize(&id, &ctx, &action(name, on, group), policy_target)?;
    match op {
        Op::Create => {
            let role = id.get_role(&rid).await?;
            if let (Some(role_domain), Target::Project(p)) = (&role.domain_id, &target)
                && &id.get_project(p).await?.domain_id != role_domain
            {
                return Err(ApiError::forbidden(
                    "A domain-specific role can only be granted within its domain.",
                ));
            }
            id.grant(&aid, group, &target, &rid, inherited).await?
        }
        Op::Check => {
            if !id.grant_exists(&aid, group, &target, &rid, inherited).await? {
                return Err(IdentityError::not_found("role assignment", format!("{rid} for {aid}")).into());
            }
        }
        Op::Revoke => id.revoke_grant(&aid, group, &target, &rid, inherited).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_grants(
    id: Identity,
    ctx: std::sync::Arc<AuthContext>,
    on: On,
    tid: Option<String>,
    group: bool,
    aid: String,
    inherited: bool,
) -> Result<Response, ApiError> {
    let target = target_of(on, tid);
    let policy_target = grant_target(&id, &target, group, &aid, None).await;
    authorize(&id, &ctx, &action("list", on, group), policy_target)?;
    if group {
        id.get_group(&aid).await?;
    } else {
        id.get_user(&aid).await?;
    }
    match &target {
        Target::Project(p) => {
            id.get_project(p).await?;
        }
        Target::Domain(d) => {
            id.get_domain(d).await?;
        }
        Target::System => {}
    }
    let mut roles = Vec::new();
    for rid in id.direct_role_ids(&aid, group, &target, inherited).await? {
        if let Ok(r) = id.get_role(&rid).await {
            roles.push(super::roles::render_role(&id, &r));
        }
    }
    Ok(axum::Json(json!({"roles": roles, "links": {"self": null, "previous": null, "next": null}})).into_response())
}

/// The URL of the grant behind an assignment row.
fn assignment_link(id: &Identity, r: &RoleAssignment) -> String {
    let (actor_kind, actor) = match (&r.via_group, &r.group_id, &r.user_id) {
        (Some(g), _, _) | (None, Some(g), _) => ("groups", g.as_str()),
        (None, None, Some(u)) => ("users", u.as_str()),
        _ => ("users", ""),
    };
    let (target, inherited) = r.source_target.clone().unwrap_or((r.target.clone(), r.inherited));
    let base = id.base_url();
    match target {
        Target::System => format!(
            "{base}/v3/system/{actor_kind}/{actor}/roles/{}",
            r.prior_role.as_deref().unwrap_or(&r.role_id)
        ),
        Target::Project(p) | Target::Domain(p) => {
            let tk = if matches!(
                r.source_target.as_ref().map(|s| &s.0).unwrap_or(&r.target),
                Target::Domain(_)
            ) {
                "domains"
            } else {
                "projects"
            };
            let role = r.prior_role.as_deref().unwrap_or(&r.role_id);
            if inherited {
                format!("{base}/v3/OS-INHERIT/{tk}/{p}/{actor_kind}/{actor}/roles/{role}/inherited_to_projects")
            } else {
                format!("{base}/v3/{tk}/{p}/{actor_kind}/{actor}/roles/{role}")
            }
        }
    }
}

async fn render_assignment(id: &Identity, r: &RoleAssignment, names: bool) -> Value {
    let domain_brief = |d: &str| {
        let d = d.to_owned();
        async move {
            match id.get_domain(&d).await {
                Ok(dom) => json!({"id": dom.id, "name": dom.name}),
                Err(_) => json!({"id": d}),
            }
        }
    };
    let mut role = json!({"id": r.role_id});
    if names && let Ok(rr) = id.get_role(&r.role_id).await {
        role["name"] = json!(rr.name);
        if let Some(d) = &rr.domain_id {
            role["domain"] = domain_brief(d).await;
        }
    }
    let mut out = json!({"role": role});
    if let Some(u) = &r.user_id {
        let mut v = json!({"id": u});
        if names && let Ok(user) = id.get_user(u).await {
            v["name"] = json!(user.name);
            v["domain"] = domain_brief(&user.domain_id).await;
        }
        out["user"] = v;
    }
    if let Some(g) = &r.group_id {
        let mut v = json!({"id": g});
        if names && let Ok(group) = id.get_group(g).await {
            v["name"] = json!(group.name);
            v["domain"] = domain_brief(&group.domain_id).await;
        }
        out["group"] = v;
    }
    let mut scope = match &r.target {
        Target::Project(p) => {
            let mut v = json!({"id": p});
            if names && let Ok(proj) = id.get_project(p).await {
                v["name"] = json!(proj.name);
                v["domain"] = domain_brief(&proj.domain_id).await;
            }
            json!({"project": v})
        }
        Target::Domain(d) => {
            let v = if names { domain_brief(d).await } else { json!({"id": d}) };
            json!({"domain": v})
        }
        Target::System => json!({"system": {"all": true}}),
    };
    if r.inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    out["scope"] = scope;
    let mut links = json!({"assignment": assignment_link(id, r)});
    if let (Some(g), Some(u)) = (&r.via_group, &r.user_id) {
        links["membership"] = json!(format!("{}/v3/groups/{g}/users/{u}", id.base_url()));
    }
    if let Some(p) = &r.prior_role {
        links["prior_role"] = json!(format!("{}/v3/roles/{p}/implies/{}", id.base_url(), r.role_id));
    }
    out["links"] = links;
    out
}

async fn list_assignments(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    let f = AssignmentFilter {
        user_id: query_get(&q, "user.id").map(str::to_owned),
        group_id: query_get(&q, "group.id").map(str::to_owned),
        role_id: query_get(&q, "role.id").map(str::to_owned),
        project_id: query_get(&q, "scope.project.id").map(str::to_owned),
        domain_id: query_get(&q, "scope.domain.id").map(str::to_owned),
        system: query_get(&q, "scope.system").is_some(),
        inherited: query_get(&q, "scope.OS-INHERIT:inherited_to").map(|_| true),
        effective: query_flag(&q, "effective").unwrap_or(false),
        include_subtree: query_flag(&q, "include_subtree").unwrap_or(false),
    };
    if f.effective && f.group_id.is_some() {
        return Err(ApiError::bad_request(
            "Specifying a group with effective is not supported: groups are expanded to users.",
        ));
    }
    if f.project_id.is_some() && f.domain_id.is_some() {
        return Err(ApiError::bad_request(
            "Specify either a project or a domain scope, not both.",
        ));
    }
    if f.include_subtree {
        let p = f
            .project_id
            .clone()
            .ok_or_else(|| ApiError::bad_request("include_subtree needs scope.project.id."))?;
        let domain = id.get_project(&p).await.ok().map(|p| p.domain_id);
        authorize(
            &id,
            &ctx,
            "identity:list_role_assignments_for_tree",
            json!({"target": {"project": {"id": p, "domain_id": domain}}}),
        )?;
    } else {
        authorize(
            &id,
            &ctx,
            "identity:list_role_assignments",
            json!({"target": {"domain_id": f.domain_id}}),
        )?;
    }
    let names = query_flag(&q, "include_names").unwrap_or(false);
    let mut items = Vec::new();
    for r in id.list_role_assignments(&f).await? {
        items.push(render_assignment(&id, &r, names).await);
    }
    Ok(axum::Json(json!({"role_assignments": items, "links": self_link(&id, "role_assignments")})).into_response())
}
