//! Placement's HTTP surface: the route table, microversions, and the
//! request-parsing helpers the resource files share. Bodies are validated
//! by hand against Placement's JSON schemas (per microversion), with its
//! 400 texts ("JSON does not validate: …").

mod aggregates;
mod allocations;
mod candidates;
mod classes;
mod inventories;
pub mod microversion;
mod providers;
mod query;
mod root;
mod traits;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};

use crate::Placement;
use api::{ApiError, AuthContext};

/// The error type of every handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Query pairs, as axum hands them over.
pub(crate) type QueryPairs = axum::extract::Query<Vec<(String, String)>>;

impl Placement {
    /// Every route of the service, wrapped in microversion negotiation and
    /// the common middleware stack.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/", get(root::home))
            .route("/resource_providers", get(providers::list).post(providers::create))
            .route(
                "/resource_providers/{uuid}",
                get(providers::show).put(providers::update).delete(providers::delete),
            )
            .route(
                "/resource_providers/{uuid}/inventories",
                get(inventories::list)
                    .post(inventories::create)
                    .put(inventories::set_all)
                    .delete(inventories::delete_all),
            )
            .route(
                "/resource_providers/{uuid}/inventories/{rc}",
                get(inventories::show)
                    .put(inventories::update)
                    .delete(inventories::delete),
            )
            .route("/resource_providers/{uuid}/usages", get(inventories::usages))
            .route(
                "/resource_providers/{uuid}/aggregates",
                get(aggregates::list).put(aggregates::update),
            )
            .route(
                "/resource_providers/{uuid}/traits",
                get(traits::provider_list)
                    .put(traits::provider_update)
                    .delete(traits::provider_delete),
            )
            .route("/resource_providers/{uuid}/allocations", get(allocations::of_provider))
            .route("/resource_classes", get(classes::list).post(classes::create))
            .route(
                "/resource_classes/{name}",
                get(classes::show).put(classes::update).delete(classes::delete),
            )
            .route("/traits", get(traits::list))
            .route(
                "/traits/{name}",
                get(traits::show).put(traits::update).delete(traits::delete),
            )
            .route("/allocations", post(allocations::manage))
            .route(
                "/allocations/{consumer}",
                get(allocations::show)
                    .put(allocations::update)
                    .delete(allocations::delete),
            )
            .route("/usages", get(allocations::usages))
            .route("/allocation_candidates", get(candidates::list))
            .layer(axum::middleware::from_fn(microversion::negotiate))
            .with_state(self.clone());
        ::api::service_layers(
            routes,
            ::api::FaultStyle::Placement,
            self.auth.clone(),
            self.config.max_request_body_size,
        )
    }

    /// 403 unless the caller may `action` on `target`.
    pub(crate) fn can(&self, ctx: &AuthContext, action: &str, target: &Value) -> ApiResult<()> {
        ::api::enforce(&self.policy, action, ctx, target)
    }
}

/// A JSON response with `status`.
pub(crate) fn json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// 204, no body.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A 404 for a route that a microversion does not have.
pub(crate) fn not_found_at_version() -> ApiError {
    ApiError::not_found("The resource could not be found.")
}

/// `PUT`/`POST` bodies must be `application/json` (415 otherwise).
pub(crate) fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if ct.as_deref() == Some("application/json") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "The media type {} is not supported, use application/json",
            ct.as_deref().unwrap_or("None")
        )))
    }
}

/// A well-formed JSON body (400 otherwise), of any type.
pub(crate) fn body_value(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Value> {
    require_json(headers)?;
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("Malformed JSON: {e}")))
}

/// A JSON object body.
pub(crate) fn body(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Map<String, Value>> {
    match body_value(headers, bytes)? {
        Value::Object(m) => Ok(m),
        other => Err(invalid(format!("{other} is not of type 'object'"))),
    }
}

/// Placement's schema-failure 400.
pub(crate) fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("JSON does not validate: {msg}"))
}

/// Refuses keys outside `allowed` (`additionalProperties: false`).
pub(crate) fn only(m: &Map<String, Value>, allowed: &[&str]) -> ApiResult<()> {
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(invalid(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    Ok(())
}

pub(crate) fn required<'a>(m: &'a Map<String, Value>, key: &str) -> ApiResult<&'a Value> {
    m.get(key)
        .ok_or_else(|| invalid(format!("'{key}' is a required property")))
}

/// An integer within `[min, max]`.
pub(crate) fn int(v: &Value, key: &str, min: i64, max: i64) -> ApiResult<i64> {
    let n = match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(i64::MAX),
        _ => return Err(invalid(format!("{v} is not of type 'integer' ('{key}')"))),
    };
    if n < min {
        return Err(invalid(format!("{n} is less than the minimum of {min} ('{key}')")));
    }
    if n > max {
        return Err(invalid(format!("{n} is greater than the maximum of {max} ('{key}')")));
    }
    Ok(n)
}

/// A string of 1..=`max` characters.
pub(crate) fn string(v: &Value, key: &str, max: usize) -> ApiResult<String> {
    match v {
        Value::String(s) if s.is_empty() => Err(invalid(format!("'' is too short ('{key}')"))),
        Value::String(s) if s.chars().count() > max => Err(invalid(format!("'{s}' is too long ('{key}')"))),
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(format!("{other} is not of type 'string' ('{key}')"))),
    }
}

/// A UUID in any of the spellings Python's `uuid.UUID` takes, normalized to
/// the hyphenated lower-case form.
pub(crate) fn uuid_like(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s).ok().map(|u| u.hyphenated().to_string())
}

pub(crate) fn uuid_field(v: &Value, key: &str) -> ApiResult<String> {
    match v {
        Value::String(s) => uuid_like(s).ok_or_else(|| invalid(format!("'{s}' is not a 'uuid' ('{key}')"))),
        other => Err(invalid(format!("{other} is not of type 'string' ('{key}')"))),
    }
}

/// A resource class or trait name (`^[A-Z0-9_]+$`).
pub(crate) fn rc_name(s: &str, key: &str) -> ApiResult<String> {
    if crate::standard::valid_name(s) {
        Ok(s.to_owned())
    } else {
        Err(invalid(format!("'{s}' does not match '^[A-Z0-9_]+$' ('{key}')")))
    }
}

/// A link object.
pub(crate) fn link(rel: &str, href: String) -> Value {
    serde_json::json!({"rel": rel, "href": href})
}
