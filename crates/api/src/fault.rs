//! Faults: the one place where an error kind becomes an HTTP status and a
//! body in the fault format of the service that answers.
//!
//! Handlers return [`ApiError`]; it travels out of the handler as a response
//! extension, and the [`render_faults`] middleware, installed once per service
//! with its [`FaultStyle`], writes the body. The same middleware also rewrites
//! the plain-text errors that axum produces by itself (unknown route, wrong
//! method, body too large, unparsable JSON) so a client never sees a fault in
//! another service's shape, or none at all.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How a service spells its faults on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultStyle {
    /// `{"error": {"code", "title", "message"}}`
    Keystone,
    /// Nova and Cinder: `{"itemNotFound": {"code", "message"}}`
    Nova,
    /// `{"NeutronError": {"type", "message", "detail"}}`
    Neutron,
    /// Glance: `{"code": "404 Not Found", "title", "message"}`... as webob renders JSON faults
    Glance,
    /// Swift: a short plain-text or HTML body
    Swift,
    /// Placement (API-WG errors guideline): `{"errors": [{"status", "title",
    /// "detail", "code", "request_id"}]}`; `code` is [`ApiError::kind`] or
    /// `placement.undefined_code`.
    Placement,
}

/// An error on its way to the client: a status, a message a user can act on,
/// and for Neutron a type name. Internal details are logged, never put here.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Neutron's `type` (e.g. `NetworkNotFound`), Placement's `code`
    /// (e.g. `placement.concurrent_update`); other styles ignore it.
    pub kind: Option<&'static str>,
    /// Extra response headers (e.g. `WWW-Authenticate` on 401).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind: None,
            headers: Vec::new(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }
    /// A 500 whose cause is logged (with the request id, by the caller's span)
    /// and not shown to the client.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut src = cause.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error prevented the server from fulfilling your request.",
        )
    }
    pub fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = Some(kind);
        self
    }
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = self.status;
        for (k, v) in &self.headers {
            resp.headers_mut().insert(k.clone(), v.clone());
        }
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Middleware that renders every error response in `style`.
pub async fn render_faults(style: FaultStyle, req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<crate::RequestId>().map(|r| r.0.clone());
    let resp = next.run(req).await;
    let status = resp.status();
    if !status.is_client_error() && !status.is_server_error() {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let err = match parts.extensions.remove::<ApiError>() {
        Some(e) => e,
        None => {
            // axum's own rejections carry a short plain-text reason.
            let is_json = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("json"));
            if is_json {
                return Response::from_parts(parts, body);
            }
            let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_owned();
            ApiError::new(status, default_message(status, text))
        }
    };
    if parts.method_is_head() {
        return Response::from_parts(parts, Body::empty());
    }
    let (content_type, bytes) = match style {
        FaultStyle::Placement => render_placement(&err, request_id.as_deref()),
        _ => render(style, &err),
    };
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

trait MethodIsHead {
    fn method_is_head(&self) -> bool;
}
impl MethodIsHead for http::response::Parts {
    fn method_is_head(&self) -> bool {
        self.extensions
            .get::<RequestMethod>()
            .is_some_and(|m| m.0 == http::Method::HEAD)
    }
}

/// The request method, recorded by the request-id middleware so that the
/// fault renderer can leave HEAD responses without a body.
#[derive(Clone, Debug)]
pub struct RequestMethod(pub http::Method);

fn default_message(status: StatusCode, text: String) -> String {
    match status {
        StatusCode::NOT_FOUND if text.is_empty() => "The resource could not be found.".into(),
        StatusCode::METHOD_NOT_ALLOWED => "The method is not allowed for the requested URL.".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large".into(),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("Error").into(),
        _ => text,
    }
}

/// Renders `err` as `style` spells faults: (content type, body).
pub fn render(style: FaultStyle, err: &ApiError) -> (&'static str, Vec<u8>) {
    let code = err.status.as_u16();
    let title = err.status.canonical_reason().unwrap_or("Error");
    let body = match style {
        FaultStyle::Keystone => json!({"error": {"code": code, "title": title, "message": err.message}}),
        FaultStyle::Nova => {
            let key = match code {
                400 => "badRequest",
                401 => "unauthorized",
                403 => "forbidden",
                404 => "itemNotFound",
                405 => "badMethod",
                409 => "conflictingRequest",
                413 => "overLimit",
                415 => "badMediaType",
                501 => "notImplemented",
                503 => "serviceUnavailable",
                _ if code >= 500 => "computeFault",
                _ => "badRequest",
            };
            json!({key: {"code": code, "message": err.message}})
        }
        FaultStyle::Neutron => json!({"NeutronError": {
            "type": err.kind.unwrap_or(match code { 404 => "NotFound", 409 => "Conflict", 403 => "Forbidden", _ => "BadRequest" }),
            "message": err.message,
            "detail": ""
        }}),
        FaultStyle::Glance => json!({"code": format!("{code} {title}"), "title": title, "message": err.message}),
        FaultStyle::Placement => return render_placement(err, None),
        FaultStyle::Swift => {
            return (
                "text/html; charset=UTF-8",
                format!("<html><h1>{title}</h1><p>{}</p></html>", err.message).into_bytes(),
            );
        }
    };
    ("application/json", serde_json::to_vec(&body).unwrap_or_default())
}

/// Renders `err` as Placement spells faults, with the request id when known.
pub fn render_placement(err: &ApiError, request_id: Option<&str>) -> (&'static str, Vec<u8>) {
    let mut e = json!({
        "status": err.status.as_u16(),
        "title": err.status.canonical_reason().unwrap_or("Error"),
        "detail": err.message,
        "code": err.kind.unwrap_or("placement.undefined_code"),
    });
    if let Some(id) = request_id {
        e["request_id"] = json!(id);
    }
    (
        "application/json",
        serde_json::to_vec(&json!({"errors": [e]})).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystone_fault_shape() {
        let (ct, body) = render(FaultStyle::Keystone, &ApiError::not_found("Could not find user: x."));
        assert_eq!(ct, "application/json");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], 404);
        assert_eq!(v["error"]["title"], "Not Found");
        assert_eq!(v["error"]["message"], "Could not find user: x.");
    }

    #[test]
    fn nova_fault_keys_by_status() {
        let (_, body) = render(FaultStyle::Nova, &ApiError::conflict("busy"));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["conflictingRequest"]["code"], 409);
        let (_, body) = render(
            FaultStyle::Neutron,
            &ApiError::not_found("x").with_kind("NetworkNotFound"),
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["NeutronError"]["type"], "NetworkNotFound");
    }

    #[test]
    fn placement_fault_shape() {
        let err = ApiError::conflict("generation").with_kind("placement.concurrent_update");
        let (_, body) = render_placement(&err, Some("req-1"));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"][0]["status"], 409);
        assert_eq!(v["errors"][0]["title"], "Conflict");
        assert_eq!(v["errors"][0]["code"], "placement.concurrent_update");
        assert_eq!(v["errors"][0]["request_id"], "req-1");
        let (_, body) = render(FaultStyle::Placement, &ApiError::not_found("x"));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"][0]["code"], "placement.undefined_code");
    }
}
