//! Compute API microversions: what the client asked for
//! (`OpenStack-API-Version: compute 2.x`, or the older
//! `X-OpenStack-Nova-API-Version: 2.x`), checked against the range this
//! service implements, echoed in the response with `Vary`.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use ::api::{ApiError, microversion};

pub const MIN: Version = Version(1);
/// The newest microversion served (Nova 2024.2's maximum).
pub const MAX: Version = Version(96);

/// A compute microversion `2.<minor>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32);

impl Version {
    pub fn at_least(self, minor: u32) -> bool {
        self.0 >= minor
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "2.{}", self.0)
    }
}

/// The requested version string, if any, from either header.
fn requested(headers: &HeaderMap) -> Option<String> {
    microversion::requested(headers, "compute").or_else(|| {
        headers
            .get("x-openstack-nova-api-version")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    })
}

/// Parses a requested version; `Err` is the fault to answer with.
pub fn negotiate(headers: &HeaderMap) -> Result<Version, ApiError> {
    let Some(text) = requested(headers) else {
        return Ok(MIN);
    };
    let range = microversion::Range {
        major: 2,
        min: MIN.0,
        max: MAX.0,
    };
    microversion::parse(&text, range).map(Version)
}

/// Middleware for the versioned routes (`/v2.1/...`): stores the
/// negotiated [`Version`] in the request and stamps the response.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let version = match negotiate(req.headers()) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(version);
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&version.to_string()) {
        h.insert("x-openstack-nova-api-version", v);
    }
    microversion::stamp(
        h,
        "compute",
        &version.to_string(),
        "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    );
    resp
}

/// Middleware for the v2.0 compatibility routes (`/v2/...`): the base
/// version, whatever the request asks for, and no version headers back,
/// as Nova's legacy endpoint behaves.
pub async fn legacy_layer(mut req: Request, next: Next) -> Response {
    req.extensions_mut().insert(MIN);
    next.run(req).await
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), Version(1));
        assert_eq!(
            negotiate(&headers("openstack-api-version", "compute 2.42")).unwrap(),
            Version(42)
        );
        assert_eq!(
            negotiate(&headers("openstack-api-version", "compute latest")).unwrap(),
            MAX
        );
        assert_eq!(
            negotiate(&headers("x-openstack-nova-api-version", "2.11")).unwrap(),
            Version(11)
        );
        assert_eq!(
            negotiate(&headers("openstack-api-version", "compute 2.9999"))
                .unwrap_err()
                .status,
            406
        );
        assert_eq!(
            negotiate(&headers("openstack-api-version", "compute 3.0"))
                .unwrap_err()
                .status,
            406
        );
        assert_eq!(
            negotiate(&headers("openstack-api-version", "compute 2.x"))
                .unwrap_err()
                .status,
            400
        );
        // another service's version is not ours
        assert_eq!(
            negotiate(&headers("openstack-api-version", "volume 3.5")).unwrap(),
            Version(1)
        );
    }
}
