//! Glance v2's HTTP surface: the route table and the helpers the resource
//! files share. Routes are listed in the API reference's order.

mod data;
mod images;
mod info;
mod members;
mod metadefs;
mod schemas;
mod tasks;
mod versions;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};

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
            .route("/v2/tasks", get(tasks::list).post(tasks::create))
            .route("/v2/tasks/{id}", get(tasks::show))
            .route(
                "/v2/metadefs/namespaces",
                get(metadefs::list_namespaces).post(metadefs::create_namespace),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}",
                get(metadefs::show_namespace)
                    .put(metadefs::update_namespace)
                    .delete(metadefs::delete_namespace),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}/objects",
                get(metadefs::list_objects).post(metadefs::create_object),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}/objects/{name}",
                get(metadefs::show_object)
                    .put(metadefs::update_object)
                    .delete(metadefs::delete_object),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}/properties",
                get(metadefs::list_properties).post(metadefs::create_property),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}/properties/{name}",
                get(metadefs::show_property)
                    .put(metadefs::update_property)
                    .delete(metadefs::delete_property),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}/tags",
                get(metadefs::list_tags)
                    .post(metadefs::create_tags)
                    .delete(metadefs::delete_tags),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}/tags/{name}",
                get(metadefs::show_tag)
                    .post(metadefs::create_tag)
                    .put(metadefs::update_tag)
                    .delete(metadefs::delete_tag),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}/resource_types",
                get(metadefs::list_associations).post(metadefs::create_association),
            )
            .route(
                "/v2/metadefs/namespaces/{ns}/resource_types/{rt}",
                delete(metadefs::delete_association),
            )
            .route("/v2/metadefs/resource_types", get(metadefs::list_resource_types))
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
