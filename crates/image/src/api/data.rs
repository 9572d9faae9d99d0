//! Image data: upload (`PUT …/file`), download (`GET …/file`, with
//! `Range`), stage (`PUT …/stage`), import (`POST …/import`) and the import
//! tasks (`GET …/tasks`). Bodies are streamed in and out.

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::{ApiResult, isotime};
use crate::Image;
use crate::data::ByteRange;

fn octet_stream_only(headers: &HeaderMap) -> ApiResult<()> {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => Ok(()),
        Some(ct) if ct.split(';').next().unwrap_or("").trim() == "application/octet-stream" => Ok(()),
        Some(ct) => Err(api::ApiError::unsupported_media_type(format!(
            "Content-Type {ct} is not supported for image data; use application/octet-stream."
        ))),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

pub async fn upload(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    octet_stream_only(&headers)?;
    image
        .upload(&ctx, &id, body.into_data_stream(), content_length(&headers))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn stage(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    octet_stream_only(&headers)?;
    image
        .stage(&ctx, &id, body.into_data_stream(), content_length(&headers))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One `bytes=` range; anything else (several ranges, other units) is
/// ignored and the whole image served, as RFC 9110 allows.
fn parse_range(headers: &HeaderMap) -> Option<ByteRange> {
    let v = headers.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = v.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return b.parse().ok().map(ByteRange::Suffix);
    }
    let a: u64 = a.parse().ok()?;
    if b.is_empty() {
        return Some(ByteRange::From(a, None));
    }
    b.parse().ok().map(|b| ByteRange::From(a, Some(b)))
}

pub async fn download(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let data = image.download(&ctx, &id, parse_range(&headers)).await?;
    let Some(reader) = data.reader else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut resp = Response::new(Body::from_stream(reader));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    match data.range {
        Some((a, b)) => {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = resp.headers_mut();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(b - a + 1));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{}", data.size)) {
                h.insert(header::CONTENT_RANGE, v);
            }
        }
        None => {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(data.size));
            if let Some(v) = data.checksum.and_then(|c| HeaderValue::from_str(&c).ok()) {
                h.insert("content-md5", v);
            }
        }
    }
    Ok(resp)
}

pub async fn import(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
    request_id: Option<Extension<api::RequestId>>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<StatusCode> {
    let method = body
        .get("method")
        .ok_or_else(|| api::ApiError::bad_request("Import request requires a 'method' field."))?;
    let name = method
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| api::ApiError::bad_request("Import request requires a 'name' field."))?;
    for key in ["all_stores_must_succeed", "all_stores"] {
        if body.get(key).is_some_and(|v| !v.is_boolean()) {
            return Err(api::ApiError::bad_request(format!(
                "'{key}' must be boolean value only"
            )));
        }
    }
    let stores = match body.get("stores") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| api::ApiError::bad_request("'stores' must be a list of store ids."))?,
        ),
        Some(_) => return Err(api::ApiError::bad_request("'stores' must be a list of store ids.")),
    };
    let rid = request_id.map(|Extension(r)| r.0);
    image.import(&ctx, &id, name, stores, rid).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn tasks(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let tasks = image.image_tasks(&ctx, &id).await?;
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "type": t.task_type,
                "status": t.status,
                "owner": t.owner,
                "image_id": t.image_id,
                "request_id": t.request_id,
                "user_id": t.user_id,
                "input": serde_json::from_str::<Value>(&t.input).unwrap_or(Value::Null),
                "result": t.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
                "message": t.message,
                "created_at": isotime(t.created_at),
                "updated_at": isotime(t.updated_at),
                "expires_at": null,
            })
        })
        .collect();
    Ok(Json(json!({ "tasks": tasks })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::RANGE, HeaderValue::from_static(v));
            m
        };
        assert_eq!(parse_range(&h("bytes=0-9")), Some(ByteRange::From(0, Some(9))));
        assert_eq!(parse_range(&h("bytes=5-")), Some(ByteRange::From(5, None)));
        assert_eq!(parse_range(&h("bytes=-7")), Some(ByteRange::Suffix(7)));
        assert_eq!(parse_range(&h("bytes=0-1,4-5")), None);
        assert_eq!(parse_range(&h("items=0-1")), None);
    }
}
