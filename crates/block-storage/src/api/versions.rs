//! Version discovery (`GET /` answers 300, `GET /v3/` 200, as Cinder) and
//! microversion negotiation: `OpenStack-API-Version: volume 3.x`, checked
//! against the range served, echoed back with `Vary`.
//!
//! History: [`HISTORY`], one line per version with what it changes
//! here, newest last (the last is [`MAX`]). Cinder's versions that add a
//! resource this cloud does not build (groups, clusters, backups, manage,
//! workers, replication) are served with that resource absent — 404 at
//! every version, as a Cinder without that part would answer — and
//! change nothing else, so a client that negotiates past them loses
//! nothing it had.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, microversion};

use crate::BlockStorage;

/// `(version, what it changes in this cloud)`, Cinder's
/// `rest_api_version_history.rst` in short.
pub const HISTORY: &[(&str, &str)] = &[
    (
        "3.0",
        "the v3 base: volumes, snapshots, types, quotas, limits, zones, services, legacy attach actions",
    ),
    (
        "3.1",
        "upload-to-image takes protected/visibility: upload-to-image is not built (400 at every version)",
    ),
    (
        "3.2",
        "the bootable filter is strict: a value other than true/false is 400",
    ),
    ("3.3", "GET/DELETE /messages: user messages of failed operations"),
    ("3.4", "volume lists filter on glance_metadata"),
    ("3.5", "/messages lists are paged, sorted and filtered"),
    (
        "3.6",
        "consistency group update with blank names: consistency groups are not built",
    ),
    (
        "3.7",
        "/clusters (not built) and cluster_name in os-services (null: no clusters)",
    ),
    ("3.8", "manageable_volumes/snapshots: manage is not built"),
    ("3.9", "backup update: backups are not built"),
    ("3.10", "volume lists filter on group_id (no volume is in a group)"),
    ("3.11", "group types: generic volume groups are not built"),
    ("3.12", "GET /volumes/summary"),
    ("3.13", "volumes show group_id (null); groups are not built"),
    ("3.14", "group snapshots: not built"),
    (
        "3.15",
        "volume metadata answers carry an Etag; a PUT with a stale If-Match is 412",
    ),
    ("3.16", "migrate to a cluster: migration is not built"),
    ("3.17", "manage lists by cluster: manage is not built"),
    ("3.18", "backup project attribute: backups are not built"),
    ("3.19", "group snapshot reset-status: not built"),
    ("3.20", "group reset-status: not built"),
    ("3.21", "volumes show provider_id to admins (null)"),
    ("3.22", "snapshot lists filter on metadata"),
    (
        "3.23",
        "volume delete takes force (admin); before it the parameter is ignored",
    ),
    (
        "3.24",
        "/workers/cleanup: not built (the volume agent reconciles when it starts)",
    ),
    ("3.25", "groups list their volumes: groups are not built"),
    ("3.26", "failover/freeze/thaw of clusters: replication is not built"),
    (
        "3.27",
        "/attachments: create, list, detail, show, update (connect), delete",
    ),
    ("3.28", "get_pools filters (name)"),
    ("3.29", "group snapshot paging: not built"),
    ("3.30", "snapshot lists sort by name"),
    (
        "3.31",
        "list filters outside the resource's filter list are 400 for users",
    ),
    ("3.32", "services set-log/get-log: not built (404)"),
    ("3.33", "GET /resource_filters"),
    ("3.34", "like filters: key~=value"),
    ("3.35", "get_pools filters on volume_type"),
    ("3.36", "/volumes/summary includes the volumes' metadata"),
    ("3.37", "backups sort by name: backups are not built"),
    ("3.38", "replication groups: not built"),
    ("3.39", "limits take project_id (admin)"),
    ("3.40", "volume revert to its latest snapshot"),
    ("3.41", "snapshots show user_id"),
    ("3.42", "extend of an in-use volume"),
    ("3.43", "backup metadata: backups are not built"),
    ("3.44", "POST /attachments/{id}/action os-complete"),
];
pub const MIN: Version = Version(0);
pub const MAX: Version = Version(44);

/// A volume microversion `3.<minor>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32);

/// The versions that change something here, by Cinder's names
/// (`cinder/api/microversions.py`).
impl Version {
    pub const VOLUME_LIST_BOOTABLE: Version = Version(2);
    pub const MESSAGES: Version = Version(3);
    pub const VOLUME_LIST_GLANCE_METADATA: Version = Version(4);
    pub const MESSAGES_PAGINATION: Version = Version(5);
    pub const CLUSTER_SUPPORT: Version = Version(7);
    pub const VOLUME_LIST_GROUP: Version = Version(10);
    pub const VOLUME_SUMMARY: Version = Version(12);
    pub const GROUP_VOLUME: Version = Version(13);
    pub const ETAGS: Version = Version(15);
    pub const VOLUME_DETAIL_PROVIDER_ID: Version = Version(21);
    pub const SNAPSHOT_LIST_METADATA_FILTER: Version = Version(22);
    pub const VOLUME_DELETE_FORCE: Version = Version(23);
    pub const NEW_ATTACH: Version = Version(27);
    pub const POOL_FILTER: Version = Version(28);
    pub const SNAPSHOT_SORT: Version = Version(30);
    pub const RESOURCE_FILTER: Version = Version(31);
    pub const RESOURCE_FILTER_CONFIG: Version = Version(33);
    pub const LIKE_FILTER: Version = Version(34);
    pub const POOL_TYPE_FILTER: Version = Version(35);
    pub const VOLUME_SUMMARY_METADATA: Version = Version(36);
    pub const LIMITS_ADMIN_FILTER: Version = Version(39);
    pub const VOLUME_REVERT: Version = Version(40);
    pub const SNAPSHOT_LIST_USER_ID: Version = Version(41);
    pub const VOLUME_EXTEND_INUSE: Version = Version(42);
    pub const NEW_ATTACH_COMPLETION: Version = Version(44);
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "3.{}", self.0)
    }
}

/// The version asked for; `Err` is the fault to answer with. No header
/// means 3.0, as in Cinder; a header naming only other services means 3.0
/// too (Cinder answers 404 there; a client sending one header for several
/// services is better served by the base version).
pub fn negotiate(headers: &HeaderMap) -> Result<Version, ApiError> {
    let Some(text) = microversion::requested(headers, "volume") else {
        return Ok(MIN);
    };
    let range = microversion::Range {
        major: 3,
        min: MIN.0,
        max: MAX.0,
    };
    microversion::parse(&text, range).map(Version)
}

/// Middleware of the `/v3/{project_id}/…` routes.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let version = match negotiate(req.headers()) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(version);
    let mut resp = next.run(req).await;
    microversion::stamp(
        resp.headers_mut(),
        "volume",
        &version.to_string(),
        "OpenStack-API-Version",
    );
    resp
}

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Version>() {
            Some(v) => Ok(*v),
            None => negotiate(&parts.headers),
        }
    }
}

fn v3(bs: &BlockStorage) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX.to_string(),
        "min_version": MIN.to_string(),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": format!("{}/v3/", bs.base_url())},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}
        ],
    })
}

pub async fn root(State(bs): State<BlockStorage>) -> impl IntoResponse {
    (StatusCode::MULTIPLE_CHOICES, Json(json!({"versions": [v3(&bs)]})))
}

pub async fn v3_doc(State(bs): State<BlockStorage>) -> impl IntoResponse {
    Json(json!({"versions": [v3(&bs)]}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(v: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("openstack-api-version", HeaderValue::from_static(v));
        m
    }

    #[test]
    fn negotiation() {
        assert_eq!(HISTORY.last().map(|(v, _)| *v), Some(MAX.to_string().as_str()));
        for (i, (v, _)) in HISTORY.iter().enumerate() {
            assert_eq!(*v, Version(i as u32).to_string(), "one line per version, in order");
        }
        assert_eq!(negotiate(&HeaderMap::new()).unwrap(), MIN);
        assert_eq!(negotiate(&h("volume 3.0")).unwrap(), Version(0));
        assert_eq!(negotiate(&h("volume latest")).unwrap(), MAX);
        assert_eq!(negotiate(&h("volume 3.999")).unwrap_err().status, 406);
        assert_eq!(negotiate(&h("volume 3.45")).unwrap_err().status, 406);
        assert_eq!(negotiate(&h("volume 3.27")).unwrap(), Version::NEW_ATTACH);
        assert_eq!(negotiate(&h("volume 2.0")).unwrap_err().status, 406);
        assert_eq!(negotiate(&h("volume x")).unwrap_err().status, 400);
        assert_eq!(negotiate(&h("compute 2.90")).unwrap(), MIN);
    }
}
