//! `/v3/OS-REVOKE/events`: the live token revocation events.

use api::{ApiError, Auth};
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{QueryPairs, authorize, query_get};
use crate::Identity;
use crate::app_creds::parse_time;
use crate::revoke::RevokeEvent;
use crate::token::token_payload::format_time;

pub(super) fn routes() -> Router<Identity> {
    Router::new().route("/v3/OS-REVOKE/events", get(list_events))
}

/// Keystone's `RevokeEvent.to_dict()`: the attributes set, the trust under
/// its extension name, times to the second in the subsecond format.
fn render(e: &RevokeEvent) -> Value {
    let mut v = serde_json::Map::new();
    for (key, value) in [
        ("user_id", &e.user_id),
        ("role_id", &e.role_id),
        ("domain_id", &e.domain_id),
        ("project_id", &e.project_id),
        ("audit_id", &e.audit_id),
        ("OS-TRUST:trust_id", &e.trust_id),
        ("application_credential_id", &e.application_credential_id),
    ] {
        if let Some(x) = value {
            v.insert(key.to_owned(), json!(x));
        }
    }
    let time = |secs: i64| chrono::DateTime::from_timestamp(secs, 0).map(|t| format_time(&t));
    v.insert("issued_before".into(), json!(time(e.issued_before)));
    v.insert("revoked_at".into(), json!(time(e.revoked_at)));
    Value::Object(v)
}

async fn list_events(State(id): State<Identity>, Auth(ctx): Auth, q: QueryPairs) -> Result<Response, ApiError> {
    authorize(&id, &ctx, "identity:list_revoke_events", json!({}))?;
    let since = match query_get(&q, "since") {
        Some(s) => Some(
            parse_time(s)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("Invalid input for field 'since': invalid date format {s}."))
                })?
                .timestamp(),
        ),
        None => None,
    };
    let events: Vec<Value> = id
        .revocations
        .snapshot()
        .iter()
        .filter(|e| since.is_none_or(|s| e.revoked_at > s))
        .map(render)
        .collect();
    Ok(axum::Json(json!({
        "events": events,
        "links": {"self": format!("{}/v3/OS-REVOKE/events", id.base_url()), "previous": null, "next": null},
    }))
    .into_response())
}
