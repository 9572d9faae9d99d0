//! Version discovery (`GET /` answers 300, `GET /v3/` 200, as Cinder) and
//! microversion negotiation: `OpenStack-API-Version: volume 3.x`, checked
//! against the range served, echoed back with `Vary`.
//!
//! History (one line per version, newest last; the last is [`MAX`]):
//! - 3.0: the v3 base (volumes, snapshots, types, quotas, limits, zones,
//!   services).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::ApiError;

use crate::BlockStorage;

pub const HISTORY: &[&str] = &["3.0"];
pub const MIN: Version = Version(0);
pub const MAX: Version = Version(0);

/// A volume microversion `3.<minor>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "3.{}", self.0)
    }
}

fn requested(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("openstack-api-version").and_then(|v| v.to_str().ok())?;
    for part in v.split(',') {
        let mut words = part.split_whitespace();
        if words.next().is_some_and(|s| s.eq_ignore_ascii_case("volume")) {
            return Some(words.collect::<Vec<_>>().join(" "));
        }
    }
    None
}

/// The version asked for; `Err` is the fault to answer with.
pub fn negotiate(headers: &HeaderMap) -> Result<Version, ApiError> {
    let Some(text) = requested(headers) else {
        return Ok(MIN);
    };
    if text.eq_ignore_ascii_case("latest") {
        return Ok(MAX);
    }
    let parsed = text
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)));
    let Some((major, minor)) = parsed else {
        return Err(ApiError::bad_request(format!(
            "API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
        )));
    };
    let version = Version(minor);
    if major != 3 || version < MIN || version > MAX {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!("Version {text} is not supported by the API. Minimum is {MIN} and Maximum is {MAX}."),
        ));
    }
    Ok(version)
}

/// Middleware of the `/v3/{project_id}/…` routes.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let version = match negotiate(req.headers()) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(version);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("volume {version}")) {
        h.insert("openstack-api-version", v);
    }
    h.append(
        axum::http::header::VARY,
        HeaderValue::from_static("OpenStack-API-Version"),
    );
    resp
}

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Version>() {
            Some(v) => Ok(*v),
            None => negotiate(&parts.headers),
        }
    }
}

fn v3(bs: &BlockStorage) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": format!("{}/v3/", bs.base_url())},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    })
}

pub async fn root(State(bs): State<BlockStorage>) -> impl IntoResponse {
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": [v3(&bs)]})))
}

pub async fn v3_doc(State(bs): State<BlockStorage>) -> impl IntoResponse {
    Json(json!({"versions": [v3(&bs)]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("openstack-api-version", HeaderValue::from_static(v));
        m
    }

    #[test]
    fn negotiation() {
        assert_eq!(HISTORY.last().copied(), Some(MAX.to_string().as_str()));
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), MIN);
        assert_eq!(negotiate(&h("volume 3.0")).unwrap(), Version(0));
        assert_eq!(negotiate(&h("volume latest")).unwrap(), MAX);
        assert_eq!(negotiate(&h("volume 3.999")).unwrap_err().status, 406);
        assert_eq!(negotiate(&h("volume 2.0")).unwrap_err().status, 406);
        assert_eq!(negotiate(&h("volume x")).unwrap_err().status, 400);
        assert_eq!(negotiate(&h("compute 2.90")).unwrap(), MIN);
    }
}
