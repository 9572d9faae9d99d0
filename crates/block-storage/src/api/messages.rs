//! `/v3/{project_id}/messages` (microversion 3.3; paged and filtered from
//! 3.5): list, show, delete.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth};

use super::filters::Filters;
use super::versions::Version;
use super::{ApiResult, QueryPairs, isotime, links, query, sort_and_page, truthy};
use crate::BlockStorage;
use crate::db::messages::MessageRow;
use crate::messages::user_message;

const SORT_KEYS: &[&str] = &[
    "id",
    "event_id",
    "resource_type",
    "resource_uuid",
    "message_level",
    "created_at",
    "request_id",
];

/// Cinder's `resource_filters.json` for messages.
pub(crate) const FILTERS: &[&str] = &[
    "resource_uuid",
    "resource_type",
    "event_id",
    "request_id",
    "message_level",
];

fn require(version: Version) -> ApiResult<()> {
    if version < Version::MESSAGES {
        return Err(ApiError::not_found(format!(
            "The resource could not be found. (it needs microversion {}; the request asked for {version})",
            Version::MESSAGES
        )));
    }
    Ok(())
}

fn render(bs: &BlockStorage, m: &MessageRow) -> Value {
    json!({
        "id": m.id,
        "event_id": m.event_id,
        "user_message": user_message(m),
        "message_level": m.message_level,
        "resource_type": m.resource_type,
        "resource_uuid": m.resource_uuid,
        "request_id": m.request_id,
        "created_at": isotime(m.created_at),
        "guaranteed_until": isotime(m.expires_at),
        "links": links(bs, &m.project_id, "messages", &m.id),
    })
}

pub async fn list(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    require(version)?;
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "message:get_all", &project)?;
    // Before 3.5 the query is not read at all (Cinder ignores it).
    let q: Vec<(String, String)> = if version >= Version::MESSAGES_PAGINATION {
        q
    } else {
        Vec::new()
    };
    let f = Filters::parse(&q, version, caller.is_admin, FILTERS)?;
    let all = query(&q, "all_tenants").map(truthy).transpose()?.unwrap_or(false);
    let mut items = Vec::new();
    for m in bs.list_messages(&caller, all).await? {
        if f.matches_opt("resource_uuid", m.resource_uuid.as_deref())
            && f.matches_str("resource_type", &m.resource_type)
            && f.matches_str("event_id", &m.event_id)
            && f.matches_str("request_id", &m.request_id)
            && f.matches_str("message_level", &m.message_level)
        {
            items.push(render(&bs, &m));
        }
    }
    let base = format!("{}/v3/{project}/messages", bs.base_url());
    let (items, links) = sort_and_page(items, &q, SORT_KEYS, bs.config.max_limit, &base)?;
    let mut body = json!({"messages": items});
    if !links.is_empty() {
        body["messages_links"] = json!(links);
    }
    Ok(Json(body).into_response())
}

pub async fn show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    require(version)?;
    let caller = bs.caller(&ctx, &project)?;
    let m = bs.get_message(&caller, &id).await?;
    bs.authorize(&ctx, "message:get", &m.project_id)?;
    Ok(Json(json!({"message": render(&bs, &m)})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    version: Version,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    require(version)?;
    let caller = bs.caller(&ctx, &project)?;
    let m = bs.get_message(&caller, &id).await?;
    bs.authorize(&ctx, "message:delete", &m.project_id)?;
    bs.delete_message(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
