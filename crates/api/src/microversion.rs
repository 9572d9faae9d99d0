//! Microversion negotiation shared by the services that have them
//! (compute `2.x`, block storage `3.x`): the `OpenStack-API-Version`
//! header's entry for one service type, parsed and checked against the
//! range served, with the faults Nova and Cinder answer (400 for a
//! malformed version, 406 outside the range), and the headers stamped
//! on the response. Each service keeps its own version type (an axum
//! extractor) and its history; this is only the wire part.

use axum::http::{HeaderMap, HeaderValue, StatusCode};

use crate::ApiError;

/// The range a service serves: `major.min` to `major.max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub major: u32,
    pub min: u32,
    pub max: u32,
}

/// The version text `OpenStack-API-Version` asks of `service` (`compute
/// 2.42`, possibly among other services, comma-separated), if any.
pub fn requested(headers: &HeaderMap, service: &str) -> Option<String> {
    let v = headers.get("openstack-api-version").and_then(|v| v.to_str().ok())?;
    for part in v.split(',') {
        let mut words = part.split_whitespace();
        if words.next().is_some_and(|s| s.eq_ignore_ascii_case(service)) {
            return Some(words.collect::<Vec<_>>().join(" "));
        }
    }
    None
}

/// The minor version `text` asks for (`latest` is the maximum); `Err` is
/// the fault to answer with.
pub fn parse(text: &str, range: Range) -> Result<u32, ApiError> {
    if text.eq_ignore_ascii_case("latest") {
        return Ok(range.max);
    }
    let parsed = text
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)));
    let Some((major, minor)) = parsed else {
        return Err(ApiError::bad_request(format!(
            "API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
        )));
    };
    if major != range.major || minor < range.min || minor > range.max {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!(
                "Version {text} is not supported by the API. Minimum is {major_}.{min} and maximum is {major_}.{max}.",
                major_ = range.major,
                min = range.min,
                max = range.max
            ),
        ));
    }
    Ok(minor)
}

/// Stamps a response with the negotiated version (`<service> <version>`)
/// and `Vary: <vary>`.
pub fn stamp(headers: &mut HeaderMap, service: &str, version: &str, vary: &'static str) {
    if let Ok(v) = HeaderValue::from_str(&format!("{service} {version}")) {
        headers.insert("openstack-api-version", v);
    }
    headers.append(axum::http::header::VARY, HeaderValue::from_static(vary));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_and_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            "openstack-api-version",
            HeaderValue::from_static("compute 2.5, volume 3.27"),
        );
        assert_eq!(requested(&h, "volume").as_deref(), Some("3.27"));
        assert_eq!(requested(&h, "compute").as_deref(), Some("2.5"));
        assert_eq!(requested(&h, "image"), None);
        let r = Range {
            major: 3,
            min: 0,
            max: 44,
        };
        assert_eq!(parse("3.27", r).unwrap(), 27);
        assert_eq!(parse("latest", r).unwrap(), 44);
        let e = parse("3.45", r).unwrap_err();
        assert_eq!(e.status, 406);
        assert_eq!(
            e.message,
            "Version 3.45 is not supported by the API. Minimum is 3.0 and maximum is 3.44."
        );
        assert_eq!(parse("2.1", r).unwrap_err().status, 406);
        assert_eq!(parse("three", r).unwrap_err().status, 400);
    }
}
