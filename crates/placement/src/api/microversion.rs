//! Microversions: `OpenStack-API-Version: placement 1.x` (or `latest`) on
//! the way in, the version served and `Vary` on the way out. A request
//! without the header gets 1.0, as in Placement; a malformed version is a
//! 400, one outside 1.0–[`MAX`] a 406 whose body names the range.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A placement microversion, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16, pub u16);

pub const MIN: Version = Version(1, 0);
pub const MAX: Version = Version(1, 39);

impl Version {
    /// Whether this is 1.`minor` or newer.
    pub fn at_least(self, minor: u16) -> bool {
        self >= Version(1, minor)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Parses `1.20` or `latest`.
pub fn parse(v: &str) -> Option<Version> {
    if v.eq_ignore_ascii_case("latest") {
        return Some(MAX);
    }
    let (a, b) = v.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    Some(Version(a.parse().ok()?, b.parse().ok()?))
}

/// The placement entry of the request's `OpenStack-API-Version` headers.
fn requested(req: &Request) -> Option<String> {
    req.headers()
        .get_all("openstack-api-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| {
            let mut it = part.split_whitespace();
            let service = it.next()?;
            let version = it.next().unwrap_or("");
            service.eq_ignore_ascii_case("placement").then(|| version.to_owned())
        })
        .next_back()
}

/// The middleware: puts the [`Version`] into the request's extensions.
pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let version = match requested(&req) {
        None => MIN,
        Some(v) => match parse(&v) {
            None => {
                return api::ApiError::bad_request(format!("Invalid microversion: invalid version string: {v}"))
                    .into_response();
            }
            Some(ver) if ver < MIN || ver > MAX => {
                let request_id = req.extensions().get::<api::RequestId>().map(|r| r.0.clone());
                let body = json!({"errors": [{
                    "status": 406,
                    "title": "Not Acceptable",
                    "detail": format!("Invalid microversion: Unacceptable version header: {v}"),
                    "code": "placement.undefined_code",
                    "request_id": request_id,
                    "max_version": MAX.to_string(),
                    "min_version": MIN.to_string(),
                }]});
                let mut resp = (StatusCode::NOT_ACCEPTABLE, axum::Json(body)).into_response();
                vary(&mut resp);
                return resp;
            }
            Some(ver) => ver,
        },
    };
    req.extensions_mut().insert(version);
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&format!("placement {version}")) {
        resp.headers_mut().insert("openstack-api-version", v);
    }
    vary(&mut resp);
    resp
}

fn vary(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("openstack-api-version"));
}

/// Extractor: the negotiated microversion.
pub struct Mv(pub Version);

impl<S: Send + Sync> FromRequestParts<S> for Mv {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Mv(parts.extensions.get::<Version>().copied().unwrap_or(MIN)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse("1.20"), Some(Version(1, 20)));
        assert_eq!(parse("latest"), Some(MAX));
        assert_eq!(parse("1"), None);
        assert_eq!(parse("1.x"), None);
        assert_eq!(parse("a.1"), None);
        assert!(Version(1, 9) < Version(1, 10));
        assert!(Version(1, 28).at_least(28));
        assert!(!Version(1, 27).at_least(28));
    }
}
