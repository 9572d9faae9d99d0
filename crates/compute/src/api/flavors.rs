//! Flavors (`/flavors`, `/flavors/detail`, `/flavors/{id}`), their extra
//! specs (`/flavors/{id}/os-extra_specs`) and access lists
//! (`/flavors/{id}/os-flavor-access`, `addTenantAccess` and
//! `removeTenantAccess` actions). Also the request-checking helpers the
//! other resource files of this group share (Nova's JSON-schema 400s).

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use ::api::{ApiError, Auth, AuthContext, ValidJson};

use crate::Compute;
use crate::flavors::{Flavor, FlavorQuery, NewFlavor, SORT_KEYS};
use crate::microversion::Version;

type ApiResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/flavors", get(list).post(create))
        .route("/flavors/detail", get(list_detail))
        .route("/flavors/{flavor_id}", get(show).put(update).delete(delete))
        .route("/flavors/{flavor_id}/action", post(action))
        .route("/flavors/{flavor_id}/os-flavor-access", get(access_list))
        .route(
            "/flavors/{flavor_id}/os-extra_specs",
            get(specs_index).post(specs_create),
        )
        .route(
            "/flavors/{flavor_id}/os-extra_specs/{key}",
            get(spec_show).put(spec_update).delete(spec_delete),
        )
}

// ----- helpers shared by this group's resource files ------------------

/// Path parameters: the optional project id of `/v2.1/{project_id}/…`
/// and the resource's own.
#[derive(Deserialize)]
pub(crate) struct Params {
    pub project_id: Option<String>,
    pub flavor_id: Option<String>,
    pub key: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
}

impl Params {
    /// `/v2.1[/{project_id}]`, the prefix of `self` links.
    pub fn self_base(&self, c: &Compute) -> String {
        match &self.project_id {
            Some(p) => format!("{}/v2.1/{p}", c.base_url()),
            None => format!("{}/v2.1", c.base_url()),
        }
    }
    /// `[/{project_id}]`, the prefix of `bookmark` links.
    pub fn bookmark_base(&self, c: &Compute) -> String {
        match &self.project_id {
            Some(p) => format!("{}/{p}", c.base_url()),
            None => c.base_url().to_owned(),
        }
    }
    fn flavor(&self) -> &str {
        self.flavor_id.as_deref().unwrap_or_default()
    }
}

/// Nova's default policy target: the caller's own project and user.
pub(crate) fn default_target(ctx: &AuthContext) -> Value {
    json!({"project_id": ctx.project_id, "user_id": ctx.user_id})
}

pub(crate) fn authorize(c: &Compute, ctx: &AuthContext, action: &str) -> ApiResult<()> {
    ::api::enforce(&c.policy, action, ctx, &default_target(ctx))
}

pub(crate) fn is_admin(c: &Compute, ctx: &AuthContext) -> bool {
    c.policy
        .enforce("context_is_admin", &default_target(ctx), &ctx.policy_creds)
}

/// Nova's JSON-schema fault: "Invalid input for field/attribute …".
pub(crate) fn invalid(field: &str, value: &Value, message: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid input for field/attribute {field}. Value: {value}. {message}"
    ))
}

/// Route exists in other microversions only.
pub(crate) fn version_not_found() -> ApiError {
    ApiError::not_found("The resource could not be found.")
}

/// The object under `key` of a request body.
pub(crate) fn member<'a>(body: &'a Value, key: &str) -> ApiResult<&'a Map<String, Value>> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(invalid(key, other, &format!("{other} is not of type 'object'"))),
        None => Err(ApiError::bad_request(format!("'{key}' is a required property"))),
    }
}

/// Refuses keys outside `allowed` (`additionalProperties: false`).
pub(crate) fn only(obj: &Map<String, Value>, field: &str, allowed: &[&str]) -> ApiResult<()> {
    let extra: Vec<String> = obj
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("'{k}'"))
        .collect();
    if extra.is_empty() {
        return Ok(());
    }
    let verb = if extra.len() == 1 { "was" } else { "were" };
    Err(invalid(
        field,
        &Value::Object(obj.clone()),
        &format!(
            "Additional properties are not allowed ({} {verb} unexpected)",
            extra.join(", ")
        ),
    ))
}

/// Refuses query parameters outside `allowed`.
pub(crate) fn only_query(pairs: &[(String, String)], allowed: &[&str]) -> ApiResult<()> {
    let extra: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| !allowed.contains(&k.as_str()))
        .map(|(k, _)| format!("'{k}'"))
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        let verb = if extra.len() == 1 { "was" } else { "were" };
        Err(ApiError::bad_request(format!(
            "Additional properties are not allowed ({} {verb} unexpected)",
            extra.join(", ")
        )))
    }
}

/// A required string of 1–255 characters without leading or trailing
/// whitespace (Nova's `name` parameter type).
pub(crate) fn name_field(obj: &Map<String, Value>, parent: &str, key: &str) -> ApiResult<String> {
    match obj.get(key) {
        None => Err(invalid(
            parent,
            &Value::Object(obj.clone()),
            &format!("'{key}' is a required property"),
        )),
        Some(v) => name_value(key, v),
    }
}

pub(crate) fn name_value(key: &str, v: &Value) -> ApiResult<String> {
    let Some(s) = v.as_str() else {
        return Err(invalid(key, v, &format!("{v} is not of type 'string'")));
    };
    if s.is_empty() {
        return Err(invalid(key, v, &format!("{v} is too short")));
    }
    if s.chars().count() > 255 {
        return Err(invalid(key, v, &format!("{v} is too long")));
    }
    if s.trim() != s || s.chars().any(char::is_control) {
        return Err(invalid(
            key,
            v,
            &format!(
                "{v} does not match the name pattern: printable characters without leading or trailing whitespace"
            ),
        ));
    }
    Ok(s.to_owned())
}

/// An integer given as a number or a string of digits, within bounds.
fn int_field(obj: &Map<String, Value>, key: &str, min: i64, required: bool) -> ApiResult<Option<i64>> {
    const MAX_INT: i64 = 2_147_483_647;
    let Some(v) = obj.get(key) else {
        return if required {
            Err(invalid(
                "flavor",
                &Value::Object(obj.clone()),
                &format!("'{key}' is a required property"),
            ))
        } else {
            Ok(None)
        };
    };
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| invalid(key, v, &format!("{v} is not of type 'integer', 'string'")))?,
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<i64>()
            .map_err(|_| invalid(key, v, &format!("{v} is greater than the maximum of {MAX_INT}")))?,
        Value::String(_) => return Err(invalid(key, v, &format!("{v} does not match '^[0-9]*$'"))),
        _ => return Err(invalid(key, v, &format!("{v} is not of type 'integer', 'string'"))),
    };
    if n < min {
        return Err(invalid(key, v, &format!("{n} is less than the minimum of {min}")));
    }
    if n > MAX_INT {
        return Err(invalid(
            key,
            v,
            &format!("{n} is greater than the maximum of {MAX_INT}"),
        ));
    }
    Ok(Some(n))
}

/// Nova's date format: `2024-01-02T03:04:05.123456`.
pub(crate) fn nova_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

// ----- views ------------------------------------------------------------

fn links(p: &Params, c: &Compute, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{}/flavors/{id}", p.self_base(c))},
        {"rel": "bookmark", "href": format!("{}/flavors/{id}", p.bookmark_base(c))},
    ])
}

fn brief(f: &Flavor, v: Version, p: &Params, c: &Compute) -> Value {
    let mut o = json!({"id": f.id, "name": f.name, "links": links(p, c, &f.id)});
    if v.at_least(55) {
        o["description"] = json!(f.description);
    }
    o
}

fn detail(f: &Flavor, v: Version, p: &Params, c: &Compute, show_specs: bool) -> Value {
    let swap = if f.swap_mb == 0 && !v.at_least(75) {
        json!("")
    } else {
        json!(f.swap_mb)
    };
    let mut o = json!({
        "id": f.id,
        "name": f.name,
        "ram": f.memory_mb,
        "disk": f.root_gb,
        "swap": swap,
        "vcpus": f.vcpus,
        "OS-FLV-EXT-DATA:ephemeral": f.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": f.disabled,
        "os-flavor-access:is_public": f.is_public,
        "rxtx_factor": f.rxtx_factor,
        "links": links(p, c, &f.id),
    });
    if v.at_least(55) {
        o["description"] = json!(f.description);
    }
    if v.at_least(61) && show_specs {
        o["extra_specs"] = json!(f.extra_specs);
    }
    o
}

fn can_see_specs(c: &Compute, ctx: &AuthContext) -> bool {
    c.policy.enforce(
        "os_compute_api:os-flavor-extra-specs:index",
        &default_target(ctx),
        &ctx.policy_creds,
    )
}

// ----- flavors ----------------------------------------------------------

fn parse_query(c: &Compute, ctx: &AuthContext, v: Version, pairs: &[(String, String)]) -> ApiResult<FlavorQuery> {
    if v.at_least(75) {
        only_query(
            pairs,
            &[
                "is_public",
                "minRam",
                "minDisk",
                "limit",
                "marker",
                "sort_key",
                "sort_dir",
            ],
        )?;
    }
    let page = ::api::page::Page::from_query(pairs, c.config.max_limit)?;
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let admin = is_admin(c, ctx);
    let is_public = if admin {
        match get("is_public") {
            None => Some(true),
            Some(s) if s.eq_ignore_ascii_case("none") => None,
            Some(s) => match s.to_ascii_lowercase().as_str() {
                "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
                "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
                _ => return Err(ApiError::bad_request(format!("Invalid is_public filter [{s}]"))),
            },
        }
    } else {
        Some(true)
    };
    let num = |k: &str, label: &str| -> ApiResult<Option<u64>> {
        match get(k) {
            None => Ok(None),
            Some(s) => s
                .parse::<i64>()
                .map(|n| Some(n.max(0) as u64))
                .map_err(|_| ApiError::bad_request(format!("Invalid {label} filter [{s}]"))),
        }
    };
    let sort_key = get("sort_key")
        .filter(|s| !s.is_empty())
        .unwrap_or("flavorid")
        .to_owned();
    if !SORT_KEYS.contains(&sort_key.as_str()) {
        return Err(ApiError::bad_request(format!("Invalid sort key: {sort_key}")));
    }
    let ascending = match get("sort_dir").filter(|s| !s.is_empty()).unwrap_or("asc") {
        "asc" => true,
        "desc" => false,
        other => return Err(ApiError::bad_request(format!("Invalid sort direction: {other}"))),
    };
    Ok(FlavorQuery {
        is_public,
        only_enabled: !admin,
        project_id: ctx.project_id.clone(),
        min_ram: num("minRam", "minRam")?,
        min_disk: num("minDisk", "minDisk")?,
        sort_key,
        ascending,
        marker: page.marker.clone(),
        limit: Some(page.limit.unwrap_or(c.config.max_limit)),
    })
}

async fn list_any(
    c: Compute,
    ctx: &AuthContext,
    v: Version,
    p: Params,
    pairs: Vec<(String, String)>,
    full: bool,
) -> ApiResult<Json<Value>> {
    let q = parse_query(&c, ctx, v, &pairs)?;
    let flavors = c.list_flavors(&q).await?;
    let specs = full && can_see_specs(&c, ctx);
    let items: Vec<Value> = flavors
        .iter()
        .map(|f| {
            if full {
                detail(f, v, &p, &c, specs)
            } else {
                brief(f, v, &p, &c)
            }
        })
        .collect();
    let mut body = json!({"flavors": items});
    let page = ::api::page::Page::from_query(&pairs, c.config.max_limit)?;
    let path = if full { "flavors/detail" } else { "flavors" };
    let next = page.links(
        &format!("{}/{path}", p.self_base(&c)),
        &pairs,
        flavors.len(),
        flavors.last().map(|f| f.id.as_str()),
    );
    if !next.is_empty() {
        body["flavors_links"] = json!(next);
    }
    Ok(Json(body))
}

async fn list(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    list_any(c, &ctx, v, p, pairs, false).await
}

async fn list_detail(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    list_any(c, &ctx, v, p, pairs, true).await
}

async fn show(State(c): State<Compute>, Auth(ctx): Auth, v: Version, Path(p): Path<Params>) -> ApiResult<Json<Value>> {
    let f = c
        .show_flavor(p.flavor(), is_admin(&c, &ctx), ctx.project_id.as_deref())
        .await?;
    let specs = can_see_specs(&c, &ctx);
    Ok(Json(json!({"flavor": detail(&f, v, &p, &c, specs)})))
}

fn parse_create(v: Version, body: &Value) -> ApiResult<NewFlavor> {
    let f = member(body, "flavor")?;
    let mut allowed = vec![
        "name",
        "id",
        "ram",
        "vcpus",
        "disk",
        "OS-FLV-EXT-DATA:ephemeral",
        "swap",
        "rxtx_factor",
        "os-flavor-access:is_public",
    ];
    if v.at_least(55) {
        allowed.push("description");
    }
    only(f, "flavor", &allowed)?;
    let name = name_field(f, "flavor", "name")?;
    let id = match f.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let ok = !s.is_empty()
                && s.len() <= 255
                && !s.starts_with(' ')
                && !s.ends_with(' ')
                && s.chars().all(|ch| ch.is_ascii_alphanumeric() || ". _-".contains(ch));
            if !ok {
                return Err(invalid(
                    "id",
                    &json!(s),
                    &format!("'{s}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'"),
                ));
            }
            Some(s.clone())
        }
        // Nova's schema takes numbers too, and keeps them as text
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(invalid(
                "id",
                other,
                &format!("{other} is not of type 'string', 'number', 'null'"),
            ));
        }
    };
    let ram = int_field(f, "ram", 1, true)?.unwrap_or_default();
    let vcpus = int_field(f, "vcpus", 1, true)?.unwrap_or_default();
    let disk = int_field(f, "disk", 0, true)?.unwrap_or_default();
    let ephemeral = int_field(f, "OS-FLV-EXT-DATA:ephemeral", 0, false)?.unwrap_or(0);
    let swap = int_field(f, "swap", 0, false)?.unwrap_or(0);
    let rxtx_factor = match f.get("rxtx_factor") {
        None => 1.0,
        Some(val) => {
            let n = match val {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse::<f64>().ok(),
                _ => None,
            }
            .ok_or_else(|| invalid("rxtx_factor", val, &format!("{val} is not of type 'number', 'string'")))?;
            if n <= 0.0 || n > 3.402_823_466e38 {
                return Err(invalid(
                    "rxtx_factor",
                    val,
                    &format!("{val} is less than or equal to the minimum of 0"),
                ));
            }
            n
        }
    };
    let is_public = match f.get("os-flavor-access:is_public") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "on" | "y" | "yes" => true,
            "0" | "f" | "false" | "off" | "n" | "no" => false,
            _ => {
                return Err(invalid(
                    "os-flavor-access:is_public",
                    &json!(s),
                    &format!("'{s}' is not of type 'boolean'"),
                ));
            }
        },
        Some(other) => {
            return Err(invalid(
                "os-flavor-access:is_public",
                other,
                &format!("{other} is not of type 'boolean'"),
            ));
        }
    };
    let description = description_field(f)?;
    Ok(NewFlavor {
        id,
        name,
        vcpus: vcpus as u32,
        memory_mb: ram as u64,
        root_gb: disk as u64,
        ephemeral_gb: ephemeral as u64,
        swap_mb: swap as u64,
        rxtx_factor,
        is_public,
        description,
    })
}

fn description_field(f: &Map<String, Value>) -> ApiResult<Option<String>> {
    match f.get("description") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > 65535 {
                return Err(invalid("description", &json!(s), "is too long"));
            }
            if s.chars().any(|ch| ch.is_control() && !matches!(ch, '\n' | '\r' | '\t')) {
                return Err(invalid(
                    "description",
                    &json!(s),
                    "does not match the description pattern: printable characters",
                ));
            }
            Ok(Some(s.clone()))
        }
        Some(other) => Err(invalid(
            "description",
            other,
            &format!("{other} is not of type 'string', 'null'"),
        )),
    }
}

async fn create(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-flavor-manage:create")?;
    let new = parse_create(v, &body)?;
    let f = c.create_flavor(new).await?;
    let specs = can_see_specs(&c, &ctx);
    Ok(Json(json!({"flavor": detail(&f, v, &p, &c, specs)})))
}

async fn update(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    if !v.at_least(55) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method is not allowed for the requested URL.",
        ));
    }
    authorize(&c, &ctx, "os_compute_api:os-flavor-manage:update")?;
    let f = member(&body, "flavor")?;
    only(f, "flavor", &["description"])?;
    if !f.contains_key("description") {
        return Err(invalid(
            "flavor",
            &Value::Object(f.clone()),
            "'description' is a required property",
        ));
    }
    let description = description_field(f)?;
    let flavor = c.update_flavor_description(p.flavor(), description.as_deref()).await?;
    let specs = can_see_specs(&c, &ctx);
    Ok(Json(json!({"flavor": detail(&flavor, v, &p, &c, specs)})))
}

async fn delete(State(c): State<Compute>, Auth(ctx): Auth, Path(p): Path<Params>) -> ApiResult<StatusCode> {
    authorize(&c, &ctx, "os_compute_api:os-flavor-manage:delete")?;
    c.delete_flavor(p.flavor()).await?;
    Ok(StatusCode::ACCEPTED)
}

// ----- access -------------------------------------------------------------

fn access_body(id: &str, projects: &[String]) -> Value {
    json!({"flavor_access": projects
        .iter()
        .map(|t| json!({"flavor_id": id, "tenant_id": t}))
        .collect::<Vec<_>>()})
}

async fn access_list(State(c): State<Compute>, Auth(ctx): Auth, Path(p): Path<Params>) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-flavor-access")?;
    let projects = c.flavor_access(p.flavor()).await?;
    Ok(Json(access_body(p.flavor(), &projects)))
}

fn tenant_of(body: &Map<String, Value>, action: &str) -> ApiResult<String> {
    only(body, action, &["tenant"])?;
    match body.get("tenant") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => Ok(s.clone()),
        Some(other) => Err(invalid("tenant", other, &format!("{other} is not a valid project id"))),
        None => Err(invalid(
            action,
            &Value::Object(body.clone()),
            "'tenant' is a required property",
        )),
    }
}

async fn action(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let id = p.flavor();
    if body.get("addTenantAccess").is_some() {
        authorize(&c, &ctx, "os_compute_api:os-flavor-access:add_tenant_access")?;
        let tenant = tenant_of(member(&body, "addTenantAccess")?, "addTenantAccess")?;
        let projects = c.add_flavor_access(id, &tenant).await?;
        Ok(Json(access_body(id, &projects)))
    } else if body.get("removeTenantAccess").is_some() {
        authorize(&c, &ctx, "os_compute_api:os-flavor-access:remove_tenant_access")?;
        let tenant = tenant_of(member(&body, "removeTenantAccess")?, "removeTenantAccess")?;
        let projects = c.remove_flavor_access(id, &tenant).await?;
        Ok(Json(access_body(id, &projects)))
    } else {
        Err(ApiError::bad_request(
            "There is no such action: {}".replace(
                "{}",
                body.as_object()
                    .and_then(|o| o.keys().next())
                    .map(String::as_str)
                    .unwrap_or(""),
            ),
        ))
    }
}

// ----- extra specs ----------------------------------------------------------

/// Extra specs from a body object: keys `[a-zA-Z0-9-_:. /]{1,255}`, values
/// strings (≤ 255), numbers or booleans (stored as Nova's `str()`).
fn parse_specs(obj: &Map<String, Value>, parent: &str) -> ApiResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, val) in obj {
        let key_ok = !k.is_empty()
            && k.chars().count() <= 255
            && k.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_:. /".contains(ch));
        if !key_ok {
            return Err(invalid(
                parent,
                &Value::Object(obj.clone()),
                &format!("'{k}' does not match any of the regexes: '^[a-zA-Z0-9-_:. /]{{1,255}}$'"),
            ));
        }
        let s = match val {
            Value::String(s) if s.chars().count() <= 255 => s.clone(),
            Value::String(_) => return Err(invalid(k, val, &format!("{val} is too long"))),
            Value::Number(n) => n.to_string(),
            Value::Bool(true) => "True".to_owned(),
            Value::Bool(false) => "False".to_owned(),
            other => {
                return Err(invalid(
                    k,
                    other,
                    &format!("{other} is not of type 'string', 'number', 'boolean'"),
                ));
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

async fn specs_index(State(c): State<Compute>, Auth(ctx): Auth, Path(p): Path<Params>) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-flavor-extra-specs:index")?;
    let f = c
        .show_flavor(p.flavor(), is_admin(&c, &ctx), ctx.project_id.as_deref())
        .await?;
    Ok(Json(json!({"extra_specs": f.extra_specs})))
}

async fn specs_create(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-flavor-extra-specs:create")?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("{body} is not of type 'object'")))?;
    only(obj, "extra_specs", &["extra_specs"])?;
    let specs_obj = member(&body, "extra_specs")?;
    let specs = parse_specs(specs_obj, "extra_specs")?;
    c.set_extra_specs(p.flavor(), &specs, v.at_least(86)).await?;
    Ok(Json(json!({"extra_specs": specs})))
}

async fn spec_show(State(c): State<Compute>, Auth(ctx): Auth, Path(p): Path<Params>) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-flavor-extra-specs:show")?;
    let key = p.key.clone().unwrap_or_default();
    let f = c
        .show_flavor(p.flavor(), is_admin(&c, &ctx), ctx.project_id.as_deref())
        .await?;
    match f.extra_specs.get(&key) {
        Some(val) => Ok(Json(json!({ key: val }))),
        None => Err(ApiError::not_found(format!(
            "Flavor {} has no extra specs with key {key}.",
            f.id
        ))),
    }
}

async fn spec_update(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(&c, &ctx, "os_compute_api:os-flavor-extra-specs:update")?;
    let key = p.key.clone().unwrap_or_default();
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request(format!("{body} is not of type 'object'")))?;
    let specs = parse_specs(obj, "extra_specs")?;
    if specs.len() > 1 {
        return Err(ApiError::bad_request("Request body contains too many items"));
    }
    if !specs.contains_key(&key) {
        return Err(ApiError::bad_request("Request body and URI mismatch"));
    }
    c.set_extra_specs(p.flavor(), &specs, v.at_least(86)).await?;
    Ok(Json(json!(specs)))
}

async fn spec_delete(State(c): State<Compute>, Auth(ctx): Auth, Path(p): Path<Params>) -> ApiResult<Response> {
    authorize(&c, &ctx, "os_compute_api:os-flavor-extra-specs:delete")?;
    let key = p.key.clone().unwrap_or_default();
    c.delete_extra_spec(p.flavor(), &key).await?;
    // Nova answers this delete with 200, unlike its others
    Ok(StatusCode::OK.into_response())
}
