//! Glance v2's HTTP surface: the route table and the helpers the resource
//! files share. Routes are listed in the API reference's order.

mod data;
mod images;
mod info;
mod members;
mod schemas;
mod versions;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::Image;

/// The error type of every handler.
pub(crate) type ApiResult<T> = Result<T, ::api::ApiError>;

impl Image {
    /// Every route of the service, wrapped in the common middleware stack.
    /// Image data routes stream their bodies and are not subject to the
    /// JSON body limit.
    pub fn router(&self) -> Router {
        let unlimited = DefaultBodyLimit::disable();
        let routes = Router::new()
            .route("/", get(versions::multiple_choices))
            .route("/versions", get(versions::list))
            .route("/v2", get(versions::list))
            .route("/v2/", get(versions::list))
            .route("/v2/images", get(images::list).post(images::create))
            .route(
                "/v2/images/{id}",
                get(images::show).patch(images::update).delete(images::delete),
            )
            .route(
                "/v2/images/{id}/file",
                put(data::upload).get(data::download).layer(unlimited),
            )
            .route("/v2/images/{id}/stage", put(data::stage).layer(unlimited))
            .route("/v2/images/{id}/import", post(data::import))
            .route("/v2/images/{id}/tasks", get(data::tasks))
            .route(
                "/v2/images/{id}/tags/{tag}",
                put(images::add_tag).delete(images::remove_tag),
            )
            .route("/v2/images/{id}/actions/deactivate", post(images::deactivate))
            .route("/v2/images/{id}/actions/reactivate", post(images::reactivate))
            .route("/v2/images/{id}/members", get(members::list).post(members::create))
            .route(
                "/v2/images/{id}/members/{member}",
                get(members::show).put(members::update).delete(members::delete),
            )
            .route("/v2/schemas/{name}", get(schemas::show))
            .route("/v2/schemas/metadefs/{name}", get(schemas::show_metadefs))
            .route("/v2/info/import", get(info::import))
            .route("/v2/info/stores", get(info::stores))
            .route("/v2/info/stores/detail", get(info::stores_detail))
            .route("/v2/info/usage", get(info::usage))
            .with_state(self.clone());
        ::api::service_layers(
            routes,
            ::api::FaultStyle::Glance,
            self.auth.clone(),
            self.config.max_request_body_size,
        )
    }
}

/// `2024-01-02T03:04:05Z` from microseconds since the epoch.
pub(crate) fn isotime(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Query pairs, as axum hands them over.
pub(crate) type QueryPairs = axum::extract::Query<Vec<(String, String)>>;
