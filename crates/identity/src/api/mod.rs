//! Keystone v3's HTTP surface: the route table and the helpers every
//! resource file shares (policy targets, links, list envelopes, filters).

mod app_creds;
mod assignments;
mod auth;
mod catalog;
mod credentials;
mod domain_config;
mod endpoint_filter;
mod limits;
mod oauth;
mod policies;
mod projects;
mod revoke_events;
mod roles;
mod trusts;
mod users;
mod versions;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::Identity;

/// Every route of the service, wrapped in the common middleware stack.
impl Identity {
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .merge(versions::routes())
            .merge(auth::routes())
            .merge(projects::routes())
            .merge(users::routes())
            .merge(app_creds::routes())
            .merge(trusts::routes())
            .merge(credentials::routes())
            .merge(revoke_events::routes())
            .merge(roles::routes())
            .merge(assignments::routes())
            .merge(catalog::routes())
            .merge(limits::routes())
            .merge(policies::routes())
            .merge(domain_config::routes())
            .merge(oauth::routes())
            .merge(endpoint_filter::routes())
            .layer(axum::middleware::from_fn_with_state(self.clone(), bump_generation))
            .with_state(self.clone());
        let validator: std::sync::Arc<dyn ::api::TokenValidator> = std::sync::Arc::new(self.clone());
        let auth = ::api::TokenAuth::new(validator, self.base_url());
        ::api::service_layers(
            routes,
            ::api::FaultStyle::Keystone,
            auth,
            self.config.max_request_body_size,
        )
    }
}

/// A successful write makes cached validations stale: any of them may now
/// carry other roles, names or catalog. Issuing a token changes nothing.
async fn bump_generation(
    axum::extract::State(id): axum::extract::State<Identity>,
    req: Request,
    next: Next,
) -> Response {
    let read_only = matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS");
    let token_issue = req.method() == http::Method::POST && req.uri().path().trim_end_matches('/') == "/v3/auth/tokens";
    let writes = !read_only && !token_issue;
    let resp = next.run(req).await;
    if writes && resp.status().is_success() {
        id.changed();
    }
    resp
}

/// Query pairs, as axum hands them over.
pub(crate) type QueryPairs = axum::extract::Query<Vec<(String, String)>>;

pub(crate) fn query_get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Keystone's boolean query values: presence with no value, "true", "1", …
pub(crate) fn query_flag(q: &[(String, String)], key: &str) -> Option<bool> {
    query_get(q, key).map(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"))
}

pub(crate) fn self_link(id: &Identity, path: &str) -> Value {
    json!({"self": format!("{}/v3/{path}", id.base_url())})
}

pub(crate) fn collection(id: &Identity, key: &str, path: &str, items: Vec<Value>) -> Value {
    json!({
        key: items,
        "links": {"self": format!("{}/v3/{path}", id.base_url()), "previous": null, "next": null},
    })
}

/// Merges the client's extra attributes under the known ones.
pub(crate) fn with_extra(mut known: Value, extra: &Map<String, Value>) -> Value {
    if let Value::Object(obj) = &mut known {
        for (k, v) in extra {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    known
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Reads an optional field of a JSON object, erroring on a wrong type with
/// the field named, as Keystone's schema validation does.
pub(crate) fn opt_str(obj: &Map<String, Value>, entity: &str, key: &str) -> crate::Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(crate::IdentityError::bad(format!(
            "Invalid input for field '{entity}.{key}': {other} is not of type 'string'."
        ))),
    }
}

pub(crate) fn opt_bool(obj: &Map<String, Value>, entity: &str, key: &str) -> crate::Result<Option<bool>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(crate::IdentityError::bad(format!(
            "Invalid input for field '{entity}.{key}': {other} is not of type 'boolean'."
        ))),
    }
}

/// The object under `key` of a request body (`{"user": {...}}`).
pub(crate) fn entity(body: Value, key: &str) -> crate::Result<Map<String, Value>> {
    match body {
        Value::Object(mut outer) => match outer.remove(key) {
            Some(Value::Object(inner)) => Ok(inner),
            Some(_) => Err(crate::IdentityError::bad(format!(
                "Invalid input for field '{key}': must be an object."
            ))),
            None => Err(crate::IdentityError::bad(format!(
                "Invalid input: '{key}' is a required property."
            ))),
        },
        _ => Err(crate::IdentityError::bad(
            "Invalid input: the request body must be a JSON object.",
        )),
    }
}

/// Removes the attributes that may not be stored as extras.
pub(crate) fn extras(mut obj: Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    for k in known {
        obj.remove(*k);
    }
    obj.remove("links");
    obj
}

/// The authorization call of every handler: 403 unless policy allows.
/// Unknown (null) values are dropped from the target first: in Keystone a
/// filter that was not given is absent, and a check against an absent key
/// fails, where `None` would compare equal to a credential's `None`.
pub(crate) fn authorize(
    id: &Identity,
    ctx: &api::AuthContext,
    action: &str,
    mut target: Value,
) -> Result<(), api::ApiError> {
    strip_nulls(&mut target);
    api::enforce(&id.policy, action, ctx, &target)
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, x| !x.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}
