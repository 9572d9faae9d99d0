//! Nova's image proxy (`/images`, `/images/{id}/metadata`): the image
//! service seen through the compute API, as `nova image-*` and tempest's
//! compute image client use it. Every call goes to the image service with
//! the caller's token, so Glance decides what the caller may see and
//! change. The proxy exists up to microversion 2.35; later ones answer 404.

use api::ApiError;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Map, Value, json};

use ::api::page::Page;
use ::api::{Auth, AuthContext};

use super::QueryPairs;
use super::flavors::{Params, version_not_found};
use crate::Compute;
use crate::image_client::properties;
use crate::microversion::Version;

type ApiResult<T> = Result<T, ApiError>;

/// The last microversion with the proxy APIs (Nova's
/// `MAX_PROXY_API_SUPPORT_VERSION`).
const LAST_PROXY_VERSION: u32 = 35;

pub fn routes() -> Router<Compute> {
    Router::new()
        .route("/images", get(list))
        .route("/images/detail", get(list_detail))
        .route("/images/{id}", get(show).delete(delete))
        .route(
            "/images/{id}/metadata",
            get(list_metadata).post(merge_metadata).put(replace_metadata),
        )
        .route(
            "/images/{id}/metadata/{key}",
            get(show_metadata).put(put_metadata).delete(delete_metadata),
        )
}

fn proxy_available(v: Version) -> ApiResult<()> {
    if v.at_least(LAST_PROXY_VERSION + 1) {
        return Err(version_not_found());
    }
    Ok(())
}

fn image_not_found() -> ApiError {
    ApiError::not_found("Image not found.")
}

/// Nova's image status: Glance's lifecycle folded into five words.
fn status(glance: &str) -> &'static str {
    match glance {
        "active" => "ACTIVE",
        "queued" | "saving" | "importing" | "uploading" => "SAVING",
        "deleted" | "pending_delete" => "DELETED",
        "killed" => "ERROR",
        _ => "UNKNOWN",
    }
}

fn progress(glance: &str) -> u32 {
    match glance {
        "queued" => 25,
        "saving" | "importing" | "uploading" => 50,
        "active" => 100,
        _ => 0,
    }
}

fn links(p: &Params, c: &Compute, kind: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{}/{kind}/{id}", p.self_base(c))},
        {"rel": "bookmark", "href": format!("{}/{kind}/{id}", p.bookmark_base(c))},
        {"rel": "alternate", "type": "application/vnd.openstack.image",
         "href": format!("{}/images/{id}", c.image.base_url())},
    ])
}

fn brief(p: &Params, c: &Compute, image: &Value) -> Value {
    let id = image["id"].as_str().unwrap_or_default();
    json!({"id": id, "name": image["name"], "links": links(p, c, "images", id)})
}

fn detail(p: &Params, c: &Compute, image: &Value) -> Value {
    let id = image["id"].as_str().unwrap_or_default();
    let glance_status = image["status"].as_str().unwrap_or_default();
    let metadata = properties(image);
    let mut o = json!({
        "id": id,
        "name": image["name"],
        "minRam": image["min_ram"].as_u64().unwrap_or(0),
        "minDisk": image["min_disk"].as_u64().unwrap_or(0),
        "metadata": metadata,
        "created": image["created_at"],
        "updated": image["updated_at"],
        "status": status(glance_status),
        "progress": progress(glance_status),
        "OS-EXT-IMG-SIZE:size": image["size"],
        "links": links(p, c, "images", id),
    });
    if let Some(server) = metadata.get("instance_uuid").and_then(Value::as_str) {
        let mut server_links = links(p, c, "servers", server);
        if let Some(l) = server_links.as_array_mut() {
            l.truncate(2);
        }
        o["server"] = json!({"id": server, "links": server_links});
    }
    if let Some(auto) = metadata.get("auto_disk_config") {
        let on = match auto {
            Value::Bool(b) => *b,
            Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on" | "y" | "t"),
            _ => false,
        };
        o["OS-DCF:diskConfig"] = json!(if on { "AUTO" } else { "MANUAL" });
    }
    o
}

/// A time as clients send `changes-since`: RFC 3339, or without a zone
/// (taken as UTC).
fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d",
    ]
    .iter()
    .find_map(|f| {
        chrono::NaiveDateTime::parse_from_str(s, f).ok().or_else(|| {
            chrono::NaiveDate::parse_from_str(s, f)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
    })
    .map(|t| t.and_utc())
}

/// The images a listing asks for, newest first, after the marker and up
/// to the limit. Nova's filters become Glance's where Glance has them
/// (`name`, `status`, `server` and `type` as properties, `property-*`);
/// `minRam`, `minDisk` and `changes-since` are applied here.
async fn select(c: &Compute, ctx: &AuthContext, pairs: &[(String, String)], page: &Page) -> ApiResult<Vec<Value>> {
    let mut glance_filters = Vec::new();
    let (mut min_ram, mut min_disk, mut since) = (0u64, 0u64, None);
    let number = |k: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("Invalid {k} filter: {v}")))
    };
    for (k, v) in pairs {
        match k.as_str() {
            "name" => glance_filters.push(("name".to_owned(), v.clone())),
            "status" => glance_filters.push(("status".to_owned(), v.to_ascii_lowercase())),
            // a server's id, or any of its links: the id is the last part
            "server" => {
                let id = v.rsplit('/').next().unwrap_or(v);
                glance_filters.push(("instance_uuid".to_owned(), id.to_owned()));
            }
            "type" => glance_filters.push(("image_type".to_owned(), v.clone())),
            "minRam" => min_ram = number(k, v)?,
            "minDisk" => min_disk = number(k, v)?,
            "changes-since" => {
                since = Some(
                    parse_time(v).ok_or_else(|| ApiError::bad_request(format!("Invalid changes-since value: {v}")))?,
                )
            }
            other => {
                if let Some(prop) = other.strip_prefix("property-") {
                    glance_filters.push((prop.to_owned(), v.clone()));
                }
            }
        }
    }
    let all = c.image.list_json(&ctx.token, &glance_filters).await?;
    let mut images: Vec<Value> = all
        .into_iter()
        .filter(|i| i["min_ram"].as_u64().unwrap_or(0) >= min_ram)
        .filter(|i| i["min_disk"].as_u64().unwrap_or(0) >= min_disk)
        .filter(|i| match since {
            None => true,
            Some(t) => i["updated_at"].as_str().and_then(parse_time).is_some_and(|u| u >= t),
        })
        .collect();
    if let Some(m) = &page.marker {
        let at = images
            .iter()
            .position(|i| i["id"] == m.as_str())
            .ok_or_else(|| ApiError::bad_request(format!("marker [{m}] not found")))?;
        images.drain(..=at);
    }
    if let Some(n) = page.limit {
        images.truncate(n);
    }
    Ok(images)
}

async fn list_view(
    c: &Compute,
    ctx: &AuthContext,
    v: Version,
    p: &Params,
    pairs: &[(String, String)],
    detailed: bool,
) -> ApiResult<Json<Value>> {
    proxy_available(v)?;
    let page = Page::from_query(pairs, c.config.max_limit)?;
    let images = select(c, ctx, pairs, &page).await?;
    let path = if detailed { "images/detail" } else { "images" };
    let items: Vec<Value> = images
        .iter()
        .map(|i| if detailed { detail(p, c, i) } else { brief(p, c, i) })
        .collect();
    let mut body = json!({ "images": items });
    let last = images.last().and_then(|i| i["id"].as_str());
    let next = page.links(&format!("{}/{path}", p.self_base(c)), pairs, images.len(), last);
    if !next.is_empty() {
        body["images_links"] = json!(next);
    }
    Ok(Json(body))
}

async fn list(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    axum::extract::Query(pairs): QueryPairs,
) -> ApiResult<Json<Value>> {
    list_view(&c, &ctx, v, &p, &pairs, false).await
}

async fn list_detail(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    axum::extract::Query(pairs): QueryPairs,
) -> ApiResult<Json<Value>> {
    list_view(&c, &ctx, v, &p, &pairs, true).await
}

/// The image, or Nova's 404.
async fn fetch(c: &Compute, ctx: &AuthContext, id: &str) -> ApiResult<Value> {
    c.image.get_json(&ctx.token, id).await?.ok_or_else(image_not_found)
}

fn image_id(p: &Params) -> &str {
    p.id.as_deref().unwrap_or_default()
}

async fn show(State(c): State<Compute>, Auth(ctx): Auth, v: Version, Path(p): Path<Params>) -> ApiResult<Json<Value>> {
    proxy_available(v)?;
    let image = fetch(&c, &ctx, image_id(&p)).await?;
    Ok(Json(json!({ "image": detail(&p, &c, &image) })))
}

async fn delete(State(c): State<Compute>, Auth(ctx): Auth, v: Version, Path(p): Path<Params>) -> ApiResult<StatusCode> {
    proxy_available(v)?;
    c.image.delete_checked(&ctx.token, image_id(&p)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----- metadata -----------------------------------------------------------

/// A JSON pointer to one image attribute.
fn pointer(key: &str) -> String {
    format!("/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// The `metadata` (or `meta`) object of a body, every value a string as
/// Glance keeps properties; 400 otherwise.
fn metadata_of(body: &Value, field: &str) -> ApiResult<Map<String, Value>> {
    let malformed = || ApiError::bad_request("Malformed request body");
    let items = body.get(field).and_then(Value::as_object).ok_or_else(malformed)?;
    let mut out = Map::new();
    for (k, v) in items {
        if k.is_empty() || k.len() > 255 {
            return Err(ApiError::bad_request(format!(
                "Invalid metadata key {k:?}: it must be 1 to 255 characters long"
            )));
        }
        let value = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(ApiError::bad_request(format!("Invalid metadata value for key {k:?}"))),
        };
        out.insert(k.clone(), Value::String(value));
    }
    Ok(out)
}

/// Writes `wanted` over the image's properties (all of them when
/// `replace`, else only the keys given), after Nova's metadata quota.
async fn write_metadata(
    c: &Compute,
    ctx: &AuthContext,
    image: &Value,
    wanted: &Map<String, Value>,
    replace: bool,
) -> ApiResult<Map<String, Value>> {
    let current = properties(image);
    let mut ops = Vec::new();
    if replace {
        for k in current.keys().filter(|k| !wanted.contains_key(*k)) {
            ops.push(json!({"op": "remove", "path": pointer(k)}));
        }
    }
    for (k, v) in wanted {
        let op = if current.contains_key(k) { "replace" } else { "add" };
        ops.push(json!({"op": op, "path": pointer(k), "value": v}));
    }
    let count = if replace {
        wanted.len()
    } else {
        current.len() + wanted.keys().filter(|k| !current.contains_key(*k)).count()
    };
    let project = ctx.project_id.clone().unwrap_or_default();
    c.check_metadata_quota(&project, count).await?;
    let id = image["id"].as_str().unwrap_or_default();
    let updated = c.image.patch(&ctx.token, id, &ops).await?;
    Ok(properties(&updated).into_iter().collect())
}

async fn list_metadata(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
) -> ApiResult<Json<Value>> {
    proxy_available(v)?;
    let image = fetch(&c, &ctx, image_id(&p)).await?;
    Ok(Json(json!({ "metadata": properties(&image) })))
}

async fn merge_metadata(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Json(body): Json<Value>,
) -> ApiResult<Json<Value>> {
    set_metadata(&c, &ctx, v, &p, &body, false).await
}

async fn replace_metadata(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Json(body): Json<Value>,
) -> ApiResult<Json<Value>> {
    set_metadata(&c, &ctx, v, &p, &body, true).await
}

/// `POST` (merge) and `PUT` (replace) of `/images/{id}/metadata`.
async fn set_metadata(
    c: &Compute,
    ctx: &AuthContext,
    v: Version,
    p: &Params,
    body: &Value,
    replace: bool,
) -> ApiResult<Json<Value>> {
    proxy_available(v)?;
    let image = fetch(c, ctx, image_id(p)).await?;
    let wanted = metadata_of(body, "metadata")?;
    let all = write_metadata(c, ctx, &image, &wanted, replace).await?;
    Ok(Json(json!({ "metadata": all })))
}

async fn show_metadata(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
) -> ApiResult<Json<Value>> {
    proxy_available(v)?;
    let image = fetch(&c, &ctx, image_id(&p)).await?;
    let key = p.key.as_deref().unwrap_or_default();
    let value = properties(&image)
        .remove(key)
        .ok_or_else(|| ApiError::not_found("Invalid metadata key"))?;
    Ok(Json(json!({ "meta": { key: value } })))
}

async fn put_metadata(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
    Json(body): Json<Value>,
) -> ApiResult<Json<Value>> {
    proxy_available(v)?;
    let key = p.key.as_deref().unwrap_or_default();
    let meta = metadata_of(&body, "meta")?;
    if meta.len() > 1 {
        return Err(ApiError::bad_request("Request body contains too many items"));
    }
    let value = meta
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Request body and URI mismatch"))?;
    let image = fetch(&c, &ctx, image_id(&p)).await?;
    write_metadata(&c, &ctx, &image, &meta, false).await?;
    Ok(Json(json!({ "meta": { key: value } })))
}

async fn delete_metadata(
    State(c): State<Compute>,
    Auth(ctx): Auth,
    v: Version,
    Path(p): Path<Params>,
) -> ApiResult<StatusCode> {
    proxy_available(v)?;
    let image = fetch(&c, &ctx, image_id(&p)).await?;
    let key = p.key.as_deref().unwrap_or_default();
    if !properties(&image).contains_key(key) {
        return Err(ApiError::not_found("Invalid metadata key"));
    }
    let id = image["id"].as_str().unwrap_or_default();
    c.image
        .patch(&ctx.token, id, &[json!({"op": "remove", "path": pointer(key)})])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glance_statuses_fold_into_novas() {
        assert_eq!(status("active"), "ACTIVE");
        assert_eq!(status("queued"), "SAVING");
        assert_eq!(status("killed"), "ERROR");
        assert_eq!(status("deactivated"), "UNKNOWN");
        assert_eq!(progress("saving"), 50);
    }

    #[test]
    fn pointers_escape_slash_and_tilde() {
        assert_eq!(pointer("a/b~c"), "/a~1b~0c");
    }

    #[test]
    fn changes_since_accepts_zoned_and_naive_times() {
        assert!(parse_time("2024-01-02T03:04:05Z").is_some());
        assert!(parse_time("2024-01-02T03:04:05.123456").is_some());
        assert!(parse_time("2024-01-02").is_some());
        assert!(parse_time("yesterday").is_none());
    }
}
