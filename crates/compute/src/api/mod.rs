//! The compute route table. Every resource group has its own file with a
//! `routes()` that this table merges; the paths are Nova's, under `/v2.1`
//! (and `/v2.1/{project_id}` for clients whose catalog URL carries the
//! project).

pub mod versions;

use axum::Router;
use axum::middleware;

use crate::Compute;

impl Compute {
    /// The whole API, wrapped in the common middleware stack (Nova faults).
    pub fn router(&self) -> Router {
        let v21: Router<Compute> = Router::new().merge(versions::v21_routes());
        let v21 = v21.layer(middleware::from_fn(crate::microversion::layer));
        let routes = Router::new()
            .merge(versions::root_routes())
            .nest("/v2.1", v21.clone())
            .nest("/v2.1/{project_id}", v21)
            .with_state(self.clone());
        ::api::service_layers(
            routes,
            ::api::FaultStyle::Nova,
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
