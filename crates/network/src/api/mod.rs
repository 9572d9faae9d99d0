//! Neutron's HTTP surface: the route table, the caller and policy helpers
//! the resource files share. Request bodies are checked as Neutron's
//! attribute maps check them (`attrs`); lists are filtered, sorted and
//! paged by `listing`.

mod agents;
mod attrs;
mod bulk;
mod floating_ips;
mod ip_availability;
mod listing;
mod networks;
mod ports;
mod quotas;
mod root;
mod routers;
mod security_groups;
mod subnets;
mod tags;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::Value;

use crate::error::NetworkError;
use crate::tags::Taggable;
use crate::{Caller, Network};
use api::{ApiError, AuthContext};

/// The error type of every handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Query pairs, as axum hands them over.
pub(crate) type QueryPairs = axum::extract::Query<Vec<(String, String)>>;

impl Network {
    /// Every route of the service, wrapped in the common middleware stack.
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/", get(root::versions))
            .route("/v2.0", get(root::resources))
            .route("/v2.0/", get(root::resources))
            .route("/v2.0/extensions", get(root::extensions))
            .route("/v2.0/extensions/{alias}", get(root::extension))
            .route("/v2.0/networks", get(networks::list).post(networks::create))
            .route(
                "/v2.0/networks/{id}",
                get(networks::show).put(networks::update).delete(networks::delete),
            )
            .route("/v2.0/subnets", get(subnets::list).post(subnets::create))
            .route(
                "/v2.0/subnets/{id}",
                get(subnets::show).put(subnets::update).delete(subnets::delete),
            )
            .route("/v2.0/ports", get(ports::list).post(ports::create))
            .route(
                "/v2.0/ports/{id}",
                get(ports::show).put(ports::update).delete(ports::delete),
            )
            .route(
                "/v2.0/security-groups",
                get(security_groups::list).post(security_groups::create),
            )
            .route(
                "/v2.0/security-groups/{id}",
                get(security_groups::show)
                    .put(security_groups::update)
                    .delete(security_groups::delete),
            )
            .route(
                "/v2.0/security-group-rules",
                get(security_groups::list_rules).post(security_groups::create_rule),
            )
            .route(
                "/v2.0/security-group-rules/{id}",
                get(security_groups::show_rule).delete(security_groups::delete_rule),
            )
            .route("/v2.0/routers", get(routers::list).post(routers::create))
            .route(
                "/v2.0/routers/{id}",
                get(routers::show).put(routers::update).delete(routers::delete),
            )
            .route("/v2.0/routers/{id}/add_router_interface", put(routers::add_interface))
            .route(
                "/v2.0/routers/{id}/remove_router_interface",
                put(routers::remove_interface),
            )
            .route("/v2.0/floatingips", get(floating_ips::list).post(floating_ips::create))
            .route(
                "/v2.0/floatingips/{id}",
                get(floating_ips::show)
                    .put(floating_ips::update)
                    .delete(floating_ips::delete),
            )
            .route("/v2.0/network-ip-availabilities", get(ip_availability::list))
            .route("/v2.0/network-ip-availabilities/{id}", get(ip_availability::show))
            .route("/v2.0/quotas", get(quotas::list))
            .route(
                "/v2.0/quotas/{project_id}",
                get(quotas::show).put(quotas::update).delete(quotas::reset),
            )
            .route("/v2.0/quotas/{project_id}/default", get(quotas::defaults))
            .route("/v2.0/quotas/{project_id}/details", get(quotas::details))
            .merge(tags::routes("networks", Taggable::Network))
            .merge(tags::routes("subnets", Taggable::Subnet))
            .merge(tags::routes("ports", Taggable::Port))
            .merge(tags::routes("security-groups", Taggable::SecurityGroup))
            .merge(tags::routes("routers", Taggable::Router))
            .merge(tags::routes("floatingips", Taggable::FloatingIp))
            .route("/v2.0/agents", get(agents::list))
            .route(
                "/v2.0/agents/{id}",
                get(agents::show).put(agents::update).delete(agents::delete),
            )
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                agents::notify_on_write,
            ))
            .with_state(self.clone());
        ::api::service_layers(
            routes,
            ::api::FaultStyle::Neutron,
            self.auth.clone(),
            self.config.max_request_body_size,
        )
    }

    /// Whether the policy allows `rule` on `target` for the caller.
    pub(crate) fn allows(&self, ctx: &AuthContext, rule: &str, target: &Value) -> bool {
        self.policy.enforce(rule, target, &ctx.policy_creds)
    }

    /// `PolicyNotAuthorized` (403) unless the policy allows `rule`.
    pub(crate) fn authorize(&self, ctx: &AuthContext, rule: &str, target: &Value) -> ApiResult<()> {
        if self.allows(ctx, rule, target) {
            Ok(())
        } else {
            tracing::info!(rule, user_id = %ctx.user_id, "policy denied");
            Err(NetworkError::policy(&format!("rule:{rule}")).into())
        }
    }

    /// Authorizes `action` and, for each attribute the request sets,
    /// `action:attribute` where the policy has such a rule.
    pub(crate) fn authorize_attrs(
        &self,
        ctx: &AuthContext,
        action: &str,
        attrs: &[&str],
        target: &Value,
    ) -> ApiResult<()> {
        self.authorize(ctx, action, target)?;
        for attr in attrs {
            let rule = format!("{action}:{attr}");
            if self.policy.rule(&rule).is_some() && !self.allows(ctx, &rule, target) {
                tracing::info!(rule, user_id = %ctx.user_id, "policy denied");
                return Err(NetworkError::policy(&format!("rule:{action} and rule:{rule}")).into());
            }
        }
        Ok(())
    }

    /// The domain's view of the caller: its project, and whether it sees
    /// every project's resources (admins and services).
    pub(crate) fn caller(&self, ctx: &AuthContext) -> Caller {
        let empty = Value::Object(Default::default());
        Caller {
            project_id: ctx.project_id.clone().unwrap_or_default(),
            all_projects: self.allows(ctx, "context_is_admin", &empty) || self.allows(ctx, "service_api", &empty),
        }
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

/// Neutron's timestamp format (`2016-03-08T20:19:41Z`).
pub(crate) fn timestamp(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
