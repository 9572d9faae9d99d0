//! Images: create, list, show, update (JSON patch), delete; tags;
//! deactivate/reactivate.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::{ApiResult, QueryPairs, isotime};
use crate::Image;
use crate::db::images::ImageRow;
use crate::images::{Change, ListQuery, Op, SORT_KEYS};

/// An image as Glance shows it: extra properties at the top level, then
/// the base attributes (nulls included), links relative to the endpoint.
pub(crate) fn render(image: &Image, img: &ImageRow) -> Value {
    let mut v = Map::new();
    for (k, p) in &img.properties {
        v.insert(k.clone(), json!(p));
    }
    v.insert("name".into(), json!(img.name));
    v.insert("disk_format".into(), json!(img.disk_format));
    v.insert("container_format".into(), json!(img.container_format));
    v.insert("visibility".into(), json!(img.visibility));
    v.insert("size".into(), json!(img.size));
    v.insert("virtual_size".into(), json!(img.virtual_size));
    v.insert("status".into(), json!(img.status));
    v.insert("checksum".into(), json!(img.checksum));
    v.insert("protected".into(), json!(img.protected));
    v.insert("min_ram".into(), json!(img.min_ram));
    v.insert("min_disk".into(), json!(img.min_disk));
    v.insert("owner".into(), json!(img.owner));
    v.insert("os_hidden".into(), json!(img.os_hidden));
    v.insert("os_hash_algo".into(), json!(img.os_hash_algo));
    v.insert("os_hash_value".into(), json!(img.os_hash_value));
    v.insert("id".into(), json!(img.id));
    v.insert("created_at".into(), json!(isotime(img.created_at)));
    v.insert("updated_at".into(), json!(isotime(img.updated_at)));
    v.insert("tags".into(), json!(img.tags));
    v.insert("self".into(), json!(format!("/v2/images/{}", img.id)));
    v.insert("file".into(), json!(format!("/v2/images/{}/file", img.id)));
    v.insert("schema".into(), json!("/v2/schemas/image"));
    if matches!(img.status.as_str(), "active" | "deactivated")
        && img.location.as_deref().is_some_and(|l| !image.staging.owns(l))
    {
        v.insert("stores".into(), json!(image.store.id()));
    }
    Value::Object(v)
}

pub async fn create(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let Value::Object(body) = body else {
        return Err(api::ApiError::bad_request("Body expected in request: a JSON object."));
    };
    let img = image.create_image(&ctx, body).await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/images/{}", img.id)) {
        headers.insert(header::LOCATION, v);
    }
    headers.insert(
        "openstack-image-import-methods",
        HeaderValue::from_static("glance-direct"),
    );
    if let Ok(v) = HeaderValue::from_str(image.store.id()) {
        headers.insert("openstack-image-store-ids", v);
    }
    Ok((StatusCode::CREATED, headers, Json(render(&image, &img))).into_response())
}

pub async fn show(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let img = image.show_image(&ctx, &id).await?;
    Ok(Json(render(&image, &img)))
}

fn parse_list_query(pairs: &[(String, String)]) -> ApiResult<ListQuery> {
    let mut q = ListQuery::default();
    let (mut keys, mut dirs, mut sort_new) = (Vec::new(), Vec::new(), None);
    let bad_key = |k: &str| {
        api::ApiError::bad_request(format!(
            "Invalid sort key: {k}. It must be one of the following: {}.",
            SORT_KEYS.join(", ")
        ))
    };
    let dir = |d: &str| match d {
        "asc" => Ok(true),
        "desc" => Ok(false),
        other => Err(api::ApiError::bad_request(format!("Invalid sort direction: {other}"))),
    };
    for (k, v) in pairs {
        match k.as_str() {
            "limit" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| api::ApiError::bad_request("limit param must be an integer"))?;
                if n < 0 {
                    return Err(api::ApiError::bad_request("limit param must be positive"));
                }
                q.limit = Some(n as usize);
            }
            "marker" => q.marker = Some(v.clone()),
            "tag" => q.tags.push(v.trim().to_owned()),
            "sort_key" => keys.push(v.trim().to_owned()),
            "sort_dir" => dirs.push(dir(v.trim())?),
            "sort" => sort_new = Some(v.clone()),
            _ => q.filters.push((k.clone(), v.clone())),
        }
    }
    if let Some(s) = sort_new {
        if !keys.is_empty() || !dirs.is_empty() {
            return Err(api::ApiError::bad_request(
                "Old and new sorting syntax cannot be combined",
            ));
        }
        for part in s.trim().split(',') {
            let (k, d) = part.split_once(':').unwrap_or((part, "desc"));
            let k = k.trim();
            if !SORT_KEYS.contains(&k) {
                return Err(bad_key(k));
            }
            q.sort.push((k.to_owned(), dir(d.trim())?));
        }
    } else {
        if dirs.len() > 1 && dirs.len() != keys.len() {
            return Err(api::ApiError::bad_request(
                "Number of sort dirs does not match the number of sort keys",
            ));
        }
        for (i, k) in keys.iter().enumerate() {
            if !SORT_KEYS.contains(&k.as_str()) {
                return Err(bad_key(k));
            }
            let d = dirs.get(i).or(dirs.first()).copied().unwrap_or(false);
            q.sort.push((k.clone(), d));
        }
        if keys.is_empty()
            && let Some(d) = dirs.first()
        {
            q.sort.push(("created_at".into(), *d));
        }
    }
    Ok(q)
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub async fn list(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    axum::extract::Query(pairs): QueryPairs,
) -> ApiResult<Json<Value>> {
    let q = parse_list_query(&pairs)?;
    let (page, next) = image.list_images(&ctx, q).await?;
    let rest: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k != "marker")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let first = if rest.is_empty() {
        "/v2/images".to_owned()
    } else {
        format!("/v2/images?{}", rest.join("&"))
    };
    let mut body = json!({
        "images": page.iter().map(|i| render(&image, i)).collect::<Vec<_>>(),
        "first": first,
        "schema": "/v2/schemas/images",
    });
    if let Some(m) = next {
        let mut q = rest.clone();
        q.push(format!("marker={}", encode(&m)));
        body["next"] = json!(format!("/v2/images?{}", q.join("&")));
    }
    Ok(Json(body))
}

/// Reads a JSON-patch body: the v2.1 form (`{"op": "replace", "path":
/// "/name", "value": …}`) or the v2.0 one (`{"replace": "/name", "value":
/// …}`), chosen by the content type.
fn parse_patch(headers: &HeaderMap, body: &[u8]) -> ApiResult<Vec<Change>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let draft4 = match ct.as_str() {
        "application/openstack-images-v2.1-json-patch" => false,
        "application/openstack-images-v2.0-json-patch" => true,
        _ => {
            return Err(api::ApiError::unsupported_media_type(format!(
                "Unsupported Content-Type {ct:?}: use application/openstack-images-v2.1-json-patch."
            )));
        }
    };
    let v: Value = api::json::parse(body)?;
    let Value::Array(ops) = v else {
        return Err(api::ApiError::bad_request(
            "Request body must be a JSON array of operation objects.",
        ));
    };
    let mut changes = Vec::new();
    for raw in ops {
        let Value::Object(mut o) = raw else {
            return Err(api::ApiError::bad_request("Operations must be JSON objects."));
        };
        let (op, path) = if let Some(op) = o.remove("op") {
            let path = o
                .remove("path")
                .ok_or_else(|| api::ApiError::bad_request("Unable to find 'path' in JSON Schema change"))?;
            (op, path)
        } else {
            let found: Vec<&str> = ["add", "remove", "replace"]
                .into_iter()
                .filter(|k| o.contains_key(*k))
                .collect();
            if found.len() != 1 {
                return Err(api::ApiError::bad_request(
                    "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".",
                ));
            }
            let k = found[0];
            let path = o.remove(k).unwrap_or(Value::Null);
            (json!(k), path)
        };
        let op = match op.as_str() {
            Some("add") => Op::Add,
            Some("remove") => Op::Remove,
            Some("replace") => Op::Replace,
            _ => {
                return Err(api::ApiError::bad_request(format!(
                    "Invalid operation: `{op}`. It must be one of the following: add, remove, replace."
                )));
            }
        };
        let path = path
            .as_str()
            .ok_or_else(|| api::ApiError::bad_request("The path of an operation must be a string."))?;
        let path = parse_pointer(path)?;
        let value = o.remove("value");
        if op != Op::Remove && value.is_none() {
            let name = match op {
                Op::Add => "add",
                _ => "replace",
            };
            return Err(api::ApiError::bad_request(format!(
                "Operation \"{name}\" requires a member named \"value\"."
            )));
        }
        changes.push(Change {
            op,
            path,
            value,
            draft4,
        });
    }
    Ok(changes)
}

fn parse_pointer(p: &str) -> ApiResult<Vec<String>> {
    let bad = |why: &str| api::ApiError::bad_request(format!("Pointer `{p}` {why}."));
    let Some(rest) = p.strip_prefix('/') else {
        return Err(bad("does not start with \"/\""));
    };
    if rest.is_empty() {
        return Err(bad("does not contains valid token"));
    }
    if rest.ends_with('/') {
        return Err(bad("end with \"/\""));
    }
    let mut out = Vec::new();
    for tok in rest.split('/') {
        if tok.is_empty() {
            return Err(bad("contains adjacent \"/\""));
        }
        let mut s = String::new();
        let mut chars = tok.chars();
        while let Some(c) = chars.next() {
            if c == '~' {
                match chars.next() {
                    Some('0') => s.push('~'),
                    Some('1') => s.push('/'),
                    _ => return Err(bad("contains \"~\" not part of a recognized escape sequence")),
                }
            } else {
                s.push(c);
            }
        }
        out.push(s);
    }
    Ok(out)
}

pub async fn update(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let changes = parse_patch(&headers, &body)?;
    let img = image.update_image(&ctx, &id, changes).await?;
    Ok(Json(render(&image, &img)))
}

pub async fn delete(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    image.delete_image(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_tag(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.add_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_tag(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.remove_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deactivate(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    image.set_active(&ctx, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn reactivate(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    image.set_active(&ctx, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn sorting_both_syntaxes() {
        let l = parse_list_query(&q(&[("sort", "size:asc,name")])).unwrap();
        assert_eq!(l.sort, vec![("size".to_string(), true), ("name".to_string(), false)]);
        let l = parse_list_query(&q(&[("sort_key", "size"), ("sort_dir", "asc")])).unwrap();
        assert_eq!(l.sort, vec![("size".to_string(), true)]);
        assert!(parse_list_query(&q(&[("sort", "size"), ("sort_key", "name")])).is_err());
        assert!(parse_list_query(&q(&[("sort_key", "bogus")])).is_err());
        assert!(parse_list_query(&q(&[("limit", "-1")])).is_err());
    }

    #[test]
    fn patches_in_both_forms() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openstack-images-v2.1-json-patch"),
        );
        let c = parse_patch(&h, br#"[{"op": "replace", "path": "/a~1b", "value": "x"}]"#).unwrap();
        assert_eq!(c[0].path, vec!["a/b".to_string()]);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openstack-images-v2.0-json-patch"),
        );
        let c = parse_patch(&h, br#"[{"remove": "/k"}]"#).unwrap();
        assert_eq!(c[0].op, Op::Remove);
        assert!(c[0].draft4);
        assert!(parse_patch(&h, br#"[{"add": "/k"}]"#).is_err());
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(parse_patch(&h, b"[]").unwrap_err().status, 415);
    }
}
