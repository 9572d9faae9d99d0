//! `GET /info`: the cluster's capabilities, as Swift's proxy publishes them.
//! Only what is implemented is listed: clients and tempest decide from it
//! which features to use.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::State;
use crate::middleware::{bulk, signature, slo, tempurl};
use crate::{meta, names};

pub async fn info(axum::extract::State(s): axum::extract::State<State>) -> Response {
    let body = json!({
        "swift": {
            "version": "2.38.0",
            "max_file_size": s.config.max_file_size,
            "max_meta_name_length": meta::MAX_META_NAME_LENGTH,
            "max_meta_value_length": meta::MAX_META_VALUE_LENGTH,
            "max_meta_count": meta::MAX_META_COUNT,
            "max_meta_overall_size": meta::MAX_META_OVERALL_SIZE,
            "max_header_size": 8192,
            "extra_header_count": 0,
            "max_object_name_length": names::MAX_OBJECT_NAME,
            "max_container_name_length": names::MAX_CONTAINER_NAME,
            "max_account_name_length": names::MAX_ACCOUNT_NAME,
            "container_listing_limit": super::LISTING_LIMIT,
            "account_listing_limit": super::LISTING_LIMIT,
            "valid_api_versions": ["v1", "v1.0"],
            "allow_account_management": false,
            "account_autocreate": true,
            "strict_cors_mode": true,
            "policies": [{"name": "Policy-0", "aliases": "Policy-0", "default": true}],
        },
        "keystoneauth": {},
        "tempurl": {
            "methods": tempurl::METHODS,
            "incoming_remove_headers": ["x-timestamp"],
            "incoming_allow_headers": [],
            "outgoing_remove_headers": ["x-object-meta-*"],
            "outgoing_allow_headers": ["x-object-meta-public-*"],
            "allowed_digests": signature::ALLOWED_DIGESTS,
        },
        "formpost": {"allowed_digests": signature::ALLOWED_DIGESTS},
        "slo": {
            "max_manifest_segments": slo::MAX_MANIFEST_SEGMENTS,
            "max_manifest_size": slo::MAX_MANIFEST_SIZE,
            "min_segment_size": slo::MIN_SEGMENT_SIZE,
            "yield_frequency": 10,
            "allow_async_delete": false,
        },
        "container_quotas": {},
        "account_quotas": {},
        "bulk_delete": {
            "max_deletes_per_request": bulk::MAX_DELETES_PER_REQUEST,
            "max_failed_deletes": bulk::MAX_FAILED_DELETES,
        },
        "bulk_upload": {
            "max_containers_per_extraction": bulk::MAX_CONTAINERS_PER_EXTRACTION,
            "max_failed_extractions": bulk::MAX_FAILED_EXTRACTIONS,
        },
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}
