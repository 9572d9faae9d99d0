//! `/v3/{project_id}/os-volume-transfer`: create, list, detail, show,
//! delete, accept (Cinder's pre-3.55 transfers; the 3.55
//! `/volume-transfers` resource is not served, as the maximum
//! microversion is 3.44).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use ::api::{ApiError, Auth, ValidJson};

use super::{ApiResult, QueryPairs, isotime, links, query, sort_and_page, truthy};
use crate::BlockStorage;
use crate::db::transfers::TransferRow;

const COLLECTION: &str = "os-volume-transfer";
const SORT_KEYS: &[&str] = &["id", "name", "volume_id", "created_at"];

/// Cinder's `views/transfers.py`: the summary, and with `detail` the
/// creation time.
fn render(bs: &BlockStorage, t: &TransferRow, detail: bool) -> Value {
    let mut out = json!({
        "id": t.id,
        "name": t.name,
        "volume_id": t.volume_id,
        "links": links(bs, &t.source_project_id, COLLECTION, &t.id),
    });
    if detail {
        out["created_at"] = json!(isotime(t.created_at));
    }
    out
}

/// Cinder's JSON-schema refusal of a malformed body.
fn invalid(field: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid input for field/attribute {field}. {why}"))
}

pub async fn create(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    bs.authorize(&ctx, "volume:create_transfer", &project)?;
    let t = &body["transfer"];
    if !t.is_object() {
        return Err(invalid(
            "transfer",
            "'transfer' is a required property and must be an object.",
        ));
    }
    let volume_id = match &t["volume_id"] {
        Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => s.clone(),
        Value::Null => return Err(invalid("volume_id", "'volume_id' is a required property.")),
        other => return Err(invalid("volume_id", &format!("Value: {other}. It is not a 'uuid'."))),
    };
    let name = match &t["name"] {
        Value::Null => None,
        Value::String(s) if s.chars().count() <= 255 => Some(s.clone()),
        Value::String(_) => return Err(invalid("name", "It is too long (more than 255 characters).")),
        other => {
            return Err(invalid(
                "name",
                &format!("Value: {other}. It is not of type 'string', 'null'."),
            ));
        }
    };
    let new = bs.create_transfer(&caller, &volume_id, name).await?;
    let mut out = render(&bs, &new.transfer, true);
    out["auth_key"] = json!(new.auth_key);
    Ok((StatusCode::ACCEPTED, Json(json!({"transfer": out}))).into_response())
}

async fn listed(
    bs: &BlockStorage,
    ctx: &::api::AuthContext,
    project: &str,
    q: &[(String, String)],
    detail: bool,
) -> ApiResult<Response> {
    let caller = bs.caller(ctx, project)?;
    bs.authorize(ctx, "volume:get_all_transfers", project)?;
    let all = query(q, "all_tenants").map(truthy).transpose()?.unwrap_or(false);
    let name = query(q, "name");
    let items: Vec<Value> = bs
        .list_transfers(&caller, all)
        .await?
        .iter()
        .filter(|t| name.is_none() || t.name.as_deref() == name)
        // Rendered with created_at so that the default sort has it.
        .map(|t| render(bs, t, true))
        .collect();
    let suffix = if detail { "/detail" } else { "" };
    let base = format!("{}/v3/{project}/{COLLECTION}{suffix}", bs.base_url());
    let (mut items, links) = sort_and_page(items, q, SORT_KEYS, bs.config.max_limit, &base)?;
    if !detail {
        for i in &mut items {
            if let Some(o) = i.as_object_mut() {
                o.remove("created_at");
            }
        }
    }
    let mut body = json!({"transfers": items});
    if !links.is_empty() {
        body["transfers_links"] = json!(links);
    }
    Ok(Json(body).into_response())
}

pub async fn list(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    listed(&bs, &ctx, &project, &q, false).await
}

pub async fn detail(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path(project): Path<String>,
    axum::extract::Query(q): QueryPairs,
) -> ApiResult<Response> {
    listed(&bs, &ctx, &project, &q, true).await
}

pub async fn show(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    let t = bs.get_transfer(&caller, &id).await?;
    bs.authorize(&ctx, "volume:get_transfer", &t.source_project_id)?;
    Ok(Json(json!({"transfer": render(&bs, &t, true)})).into_response())
}

pub async fn delete(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    let t = bs.get_transfer(&caller, &id).await?;
    bs.authorize(&ctx, "volume:delete_transfer", &t.source_project_id)?;
    bs.delete_transfer(&caller, &id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn accept(
    State(bs): State<BlockStorage>,
    Auth(ctx): Auth,
    Path((project, id)): Path<(String, String)>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Response> {
    let caller = bs.caller(&ctx, &project)?;
    // The target is the accepting project: any other project may accept.
    bs.authorize(&ctx, "volume:accept_transfer", &project)?;
    let a = &body["accept"];
    if !a.is_object() {
        return Err(invalid(
            "accept",
            "'accept' is a required property and must be an object.",
        ));
    }
    let Some(auth_key) = a["auth_key"].as_str() else {
        return Err(invalid(
            "auth_key",
            "'auth_key' is a required property and must be a string.",
        ));
    };
    let t = bs.accept_transfer(&caller, &id, auth_key).await?;
    // Links under the accepting project, which now owns the volume.
    let mut out = render(&bs, &t, false);
    out["links"] = links(&bs, &project, COLLECTION, &t.id);
    Ok((StatusCode::ACCEPTED, Json(json!({"transfer": out}))).into_response())
}
