//! JSON request bodies: content-type check (415), size limit (413, by the
//! body-limit layer), and parse errors that name the bad field (400).

use axum::extract::{FromRequest, Request};
use axum::http::header;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::fault::ApiError;

/// Like `axum::Json`, with OpenStack's error messages.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                ct == "application/json" || ct.ends_with("+json") || ct.ends_with("-json")
            });
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        if json_type == Some(false) && !bytes.is_empty() {
            return Err(ApiError::unsupported_media_type(
                "The request body must be JSON (Content-Type: application/json).",
            ));
        }
        parse(&bytes).map(ValidJson)
    }
}

/// Parses a JSON body, naming the offending field on error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "The request body is empty; a JSON object is expected.",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad_request(format!("Malformed request body: {inner}"))
        } else if path == "." || path.is_empty() {
            ApiError::bad_request(format!("Invalid input: {inner}"))
        } else {
            ApiError::bad_request(format!("Invalid input for field '{path}': {inner}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        user: User,
    }
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct User {
        name: String,
        enabled: Option<bool>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<Body>(br#"{"user": {"name": "a", "enabled": "yes"}}"#).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("'user.enabled'"), "{}", e.message);
        let e = parse::<Body>(br#"{"user": {"name": "a""#).unwrap_err();
        assert!(e.message.starts_with("Malformed"), "{}", e.message);
        let e = parse::<Body>(b"").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(parse::<Body>(br#"{"user": {"name": "a"}}"#).is_ok());
    }
}
