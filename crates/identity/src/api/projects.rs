//! `/v3/domains` and `/v3/projects` (with project tags).

use api::{ApiError, Auth, AuthContext, ValidJson};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::{
    QueryPairs, authorize, collection, entity, extras, new_id, opt_bool, opt_str, query_flag, query_get, self_link,
    with_extra,
};
use crate::db::projects::ProjectRow;
use crate::resource::DEFAULT_DOMAIN;
use crate::{Identity, IdentityError};

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/domains", get(list_domains).post(create_domain))
        .route(
            "/v3/domains/{id}",
            get(get_domain).patch(update_domain).delete(delete_domain),
        )
        .route("/v3/projects", get(list_projects).post(create_project))
        .route(
            "/v3/projects/{id}",
            get(get_project).patch(update_project).delete(delete_project),
        )
        .route(
            "/v3/projects/{id}/tags",
            get(list_tags).put(replace_tags).delete(clear_tags),
        )
        .route(
            "/v3/projects/{id}/tags/{tag}",
            get(check_tag).put(add_tag).delete(remove_tag),
        )
}

const PROJECT_FIELDS: &[&str] = &[
    "id",
    "name",
    "domain_id",
    "parent_id",
    "is_domain",
    "enabled",
    "description",
    "tags",
    "options",
];

pub(crate) fn render_domain(id: &Identity, d: &ProjectRow) -> Value {
    with_extra(
        json!({
            "id": d.id,
            "name": d.name,
            "description": d.description.clone().unwrap_or_default(),
            "enabled": d.enabled,
            "tags": d.tags,
            "options": {},
            "links": self_link(id, &format!("domains/{}", d.id)),
        }),
        &d.extra,
    )
}

/// A project; a domain rendered as a project (`is_domain`) has no domain
/// and no parent.
pub(crate) fn render_project(id: &Identity, p: &ProjectRow) -> Value {
    let (domain_id, parent_id) = if p.is_domain {
        (None, None)
    } else {
        (Some(&p.domain_id), p.parent_id.as_ref())
    };
    with_extra(
        json!({
            "id": p.id,
            "name": p.name,
            "domain_id": domain_id,
            "description": p.description.clone().unwrap_or_default(),
            "enabled": p.enabled,
            "parent_id": parent_id,
            "is_domain": p.is_domain,
            "tags": p.tags,
            "options": {},
            "links": self_link(id, &format!("projects/{}", p.id)),
        }),
        &p.extra,
    )
}

fn tags_field(obj: &Map<String, Value>, entity: &str) -> Result<Option<Vec<String>>, IdentityError> {
    match obj.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                t.as_str().map(str::to_owned).ok_or_else(|| {
                    IdentityError::bad(format!(
                        "Invalid input for field '{entity}.tags': tags must be strings."
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(IdentityError::bad(format!(
            "Invalid input for field '{entity}.tags': must be an array."
        ))),
    }
}

/// Applies a create or update body to a row.
fn apply(row: &mut ProjectRow, obj: &Map<String, Value>, entity: &str) -> Result<(), IdentityError> {
    if let Some(n) = opt_str(obj, entity, "name")? {
        row.name = n;
    } else if obj.contains_key("name") {
        return Err(IdentityError::bad(format!(
            "Invalid input for field '{entity}.name': None is not of type 'string'."
        )));
    }
    if obj.contains_key("description") {
        row.description = opt_str(obj, entity, "description")?;
    }
    if let Some(e) = opt_bool(obj, entity, "enabled")? {
        row.enabled = e;
    }
    if let Some(t) = tags_field(obj, entity)? {
        row.tags = t;
    }
    for (k, v) in extras(obj.clone(), PROJECT_FIELDS)
        .into_iter()
        .chain(extras(obj.clone(), &["explicit_domain_id"]))
    {
        if !PROJECT_FIELDS.contains(&k.as_str()) && k != "explicit_domain_id" {
            row.extra.insert(k, v);
        }
    }
    Ok(())
}

fn blank(name: String) -> ProjectRow {
    ProjectRow {
        id: new_id(),
        name,
        domain_id: String::new(),
        parent_id: None,
        is_domain: false,
        enabled: true,
        description: None,
        extra: Map::new(),
        tags: Vec::new(),
    }
}

fn domain_target(d: &ProjectRow) -> Value {
    json!({"target": {"domain": {"id": d.id}}, "domain_id": d.id})
}

async fn list_domains(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_domains", json!({}))?;
    let name = query_get(&q, "name");
    let enabled = query_flag(&q, "enabled");
    let items = id
        .list_domains()
        .await?
        .into_iter()
        .filter(|d| name.is_none_or(|n| d.name == n) && enabled.is_none_or(|e| d.enabled == e))
        .map(|d| render_domain(&id, &d))
        .collect();
    Ok(axum::Json(collection(&id, "domains", "domains", items)).into_response())
}

async fn create_domain(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:create_domain", json!({}))?;
    let obj = entity(body, "domain")?;
    let name = opt_str(&obj, "domain", "name")?
        .ok_or_else(|| IdentityError::bad("Invalid input for field 'domain': 'name' is a required property."))?;
    let mut d = blank(name);
    if let Some(explicit) = opt_str(&obj, "domain", "explicit_domain_id")? {
        d.id = explicit;
    }
    apply(&mut d, &obj, "domain")?;
    let d = id.create_domain(d).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"domain": render_domain(&id, &d)})),
    )
        .into_response())
}

async fn get_domain(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(did): Path<String>,
) -> Result<Response, ApiError> {
    let d = id.get_domain(&did).await;
    let target = d
        .as_ref()
        .map(domain_target)
        .unwrap_or_else(|_| json!({"target": {"domain": {"id": did}}}));
    authorize(&id, &ctx, "identity:get_domain", target)?;
    Ok(axum::Json(json!({"domain": render_domain(&id, &d?)})).into_response())
}

async fn update_domain(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(did): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    authorize(
        &id,
        &ctx,
        "identity:update_domain",
        json!({"target": {"domain": {"id": did}}}),
    )?;
    let mut d = id.get_domain(&did).await?;
    let obj = entity(body, "domain")?;
    if obj.get("id").and_then(Value::as_str).is_some_and(|i| i != did) {
        return Err(ApiError::bad_request("Cannot change the id of a domain."));
    }
    apply(&mut d, &obj, "domain")?;
    let d = id.update_domain(d).await?;
    Ok(axum::Json(json!({"domain": render_domain(&id, &d)})).into_response())
}

async fn delete_domain(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(did): Path<String>,
) -> Result<StatusCode, ApiError> {
    authorize(
        &id,
        &ctx,
        "identity:delete_domain",
        json!({"target": {"domain": {"id": did}}}),
    )?;
    id.delete_domain(&did).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn project_target(p: &ProjectRow) -> Value {
    json!({"target": {"project": {"id": p.id, "domain_id": p.domain_id}}})
}

/// Keystone's tag filters: `tags` (all of), `tags-any`, `not-tags`, `not-tags-any`.
fn tags_match(p: &ProjectRow, q: &[(String, String)]) -> bool {
    let list = |k: &str| query_get(q, k).map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>());
    let has = |t: &String| p.tags.contains(t);
    list("tags").is_none_or(|ts| ts.iter().all(has))
        && list("tags-any").is_none_or(|ts| ts.iter().any(has))
        && list("not-tags").is_none_or(|ts| !ts.iter().all(has))
        && list("not-tags-any").is_none_or(|ts| !ts.iter().any(has))
}

async fn list_projects(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    let domain_filter = query_get(&q, "domain_id");
    authorize(
        &id,
        &ctx,
        "identity:list_projects",
        json!({"target": {"domain_id": domain_filter}}),
    )?;
    if query_flag(&q, "is_domain") == Some(true) {
        let items = id
            .list_domains()
            .await?
            .iter()
            .map(|d| render_project(&id, d))
            .collect();
        return Ok(axum::Json(collection(&id, "projects", "projects", items)).into_response());
    }
    let name = query_get(&q, "name");
    let parent = query_get(&q, "parent_id");
    let enabled = query_flag(&q, "enabled");
    let items = id
        .list_projects()
        .await?
        .into_iter()
        .filter(|p| {
            domain_filter.is_none_or(|d| p.domain_id == d)
                && name.is_none_or(|n| p.name == n)
                && parent.is_none_or(|x| p.parent_id.as_deref() == Some(x))
                && enabled.is_none_or(|e| p.enabled == e)
                && tags_match(p, &q)
        })
        .map(|p| render_project(&id, &p))
        .collect();
    Ok(axum::Json(collection(&id, "projects", "projects", items)).into_response())
}

/// The domain a new project lands in when the body names none: the token's.
fn default_domain_of(ctx: &AuthContext) -> String {
    ctx.domain_id
        .clone()
        .or_else(|| ctx.project_domain_id.clone())
        .unwrap_or_else(|| DEFAULT_DOMAIN.to_owned())
}

async fn create_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let obj = entity(body, "project")?;
    let name = opt_str(&obj, "project", "name")?
        .ok_or_else(|| IdentityError::bad("Invalid input for field 'project': 'name' is a required property."))?;
    let mut p = blank(name);
    p.parent_id = opt_str(&obj, "project", "parent_id")?;
    p.is_domain = opt_bool(&obj, "project", "is_domain")?.unwrap_or(false);
    p.domain_id = match opt_str(&obj, "project", "domain_id")? {
        Some(d) => d,
        None if p.parent_id.is_some() => String::new(),
        None => default_domain_of(&ctx),
    };
    apply(&mut p, &obj, "project")?;
    authorize(
        &id,
        &ctx,
        "identity:create_project",
        json!({"target": {"project": {"domain_id": p.domain_id, "parent_id": p.parent_id}}}),
    )?;
    let p = id.create_project(p).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"project": render_project(&id, &p)})),
    )
        .into_response())
}

async fn load_project(id: &Identity, ctx: &AuthContext, pid: &str, action: &str) -> Result<ProjectRow, ApiError> {
    match id.get_project_or_domain(pid).await {
        Ok(p) => {
            authorize(id, ctx, action, project_target(&p))?;
            Ok(p)
        }
        Err(e) => {
            authorize(id, ctx, action, json!({"target": {"project": {"id": pid}}}))?;
            Err(e.into())
        }
    }
}

async fn get_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let p = load_project(&id, &ctx, &pid, "identity:get_project").await?;
    let mut v = render_project(&id, &p);
    if query_flag(&q, "parents_as_ids") == Some(true) || query_flag(&q, "parents_as_list") == Some(true) {
        let ancestors = id.project_ancestors(&p).await?;
        v["parents"] = ancestors
            .iter()
            .map(|a| json!({"project": render_project(&id, a)}))
            .collect();
    }
    if query_flag(&q, "subtree_as_ids") == Some(true) || query_flag(&q, "subtree_as_list") == Some(true) {
        let mut sub = Vec::new();
        for child in id.project_descendants(&p.id).await? {
            sub.push(json!({"project": render_project(&id, &id.get_project(&child).await?)}));
        }
        v["subtree"] = Value::Array(sub);
    }
    Ok(axum::Json(json!({"project": v})).into_response())
}

async fn update_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> Result<Response, ApiError> {
    let mut p = load_project(&id, &ctx, &pid, "identity:update_project").await?;
    let obj = entity(body, "project")?;
    if obj
        .get("domain_id")
        .is_some_and(|d| d.as_str() != Some(p.domain_id.as_str()))
    {
        return Err(ApiError::bad_request("Cannot change Domain ID."));
    }
    if obj
        .get("parent_id")
        .is_some_and(|x| x.as_str() != p.parent_id.as_deref())
    {
        return Err(ApiError::forbidden("Update of `parent_id` is not allowed."));
    }
    if obj.get("is_domain").is_some_and(|x| x.as_bool() != Some(p.is_domain)) {
        return Err(ApiError::bad_request("Update of `is_domain` is not allowed."));
    }
    apply(&mut p, &obj, "project")?;
    let p = if p.is_domain {
        id.update_domain(p).await?
    } else {
        id.update_project(p).await?
    };
    Ok(axum::Json(json!({"project": render_project(&id, &p)})).into_response())
}

async fn delete_project(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
) -> Result<StatusCode, ApiError> {
    if load_project(&id, &ctx, &pid, "identity:delete_project")
        .await?
        .is_domain
    {
        id.delete_domain(&pid).await?;
    } else {
        id.delete_project(&pid).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_tags(State(id): State<Identity>, Auth(ctx): Auth, Path(pid): Path<String>) -> Result<Response, ApiError> {
    let p = load_project(&id, &ctx, &pid, "identity:list_project_tags").await?;
    Ok(axum::Json(json!({"tags": p.tags})).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TagsBody {
    tags: Vec<String>,
}

async fn replace_tags(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
    ValidJson(body): ValidJson<TagsBody>,
) -> Result<Response, ApiError> {
    let mut p = load_project(&id, &ctx, &pid, "identity:update_project_tags").await?;
    p.tags = body.tags;
    p.tags.dedup();
    let p = id.update_project(p).await?;
    Ok(axum::Json(json!({"tags": p.tags, "links": self_link(&id, &format!("projects/{pid}/tags"))})).into_response())
}

async fn clear_tags(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path(pid): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut p = load_project(&id, &ctx, &pid, "identity:delete_project_tags").await?;
    p.tags.clear();
    id.update_project(p).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check_tag(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let p = load_project(&id, &ctx, &pid, "identity:get_project_tag").await?;
    if p.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(IdentityError::not_found("tag", tag).into())
    }
}

async fn add_tag(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let mut p = load_project(&id, &ctx, &pid, "identity:create_project_tag").await?;
    let tag_name = tag.clone();
    if !p.tags.contains(&tag) {
        p.tags.push(tag);
    }
    id.update_project(p).await?;
    let location = format!("{}/v3/projects/{pid}/tags/{}", id.base_url(), urlencode(&tag_name));
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, location)]).into_response())
}

async fn remove_tag(
    State(id): State<Identity>,
    Auth(ctx): Auth,
    Path((pid, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let mut p = load_project(&id, &ctx, &pid, "identity:delete_project_tag").await?;
    let before = p.tags.len();
    p.tags.retain(|t| t != &tag);
    if p.tags.len() == before {
        return Err(IdentityError::not_found("tag", tag).into());
    }
    id.update_project(p).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
