//! Neutron's emulated bulk creation: `POST /v2.0/networks` with
//! `{"networks": [{...}, ...]}` creates each item in turn, exactly as a
//! request of its own would (same checks, same policy); when one fails,
//! those already made are deleted again and its failure is the answer, so
//! the caller gets all of them or none.

use std::future::Future;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::ApiResult;
use crate::error::NetworkError;

/// The items of a bulk request, each as the body of a single creation
/// (`{"<singular>": item}`); `None` when the body is not a bulk request
/// (the single path then reports what is wrong with it).
pub(crate) fn items(bytes: &[u8], singular: &str, plural: &str) -> ApiResult<Option<Vec<Bytes>>> {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(bytes) else {
        return Ok(None);
    };
    if body.contains_key(singular) {
        return Ok(None);
    }
    let Some(list) = body.remove(plural) else {
        return Ok(None);
    };
    let Value::Array(list) = list else {
        return Err(
            NetworkError::http_bad_request(format!("Invalid input for {plural}. Reason: It must be a list.")).into(),
        );
    };
    if list.is_empty() {
        return Err(NetworkError::http_bad_request("Resources required").into());
    }
    Ok(Some(
        list.into_iter()
            .map(|item| Bytes::from(json!({ singular: item }).to_string()))
            .collect(),
    ))
}

/// Creates every item with `create_one` (which answers the rendered
/// resource); on a failure, removes the ones made with `undo` (by id).
pub(crate) async fn create<C, CF, D, DF>(
    headers: &HeaderMap,
    items: Vec<Bytes>,
    plural: &str,
    mut create_one: C,
    mut undo: D,
) -> ApiResult<Response>
where
    C: FnMut(HeaderMap, Bytes) -> CF,
    CF: Future<Output = ApiResult<Value>>,
    D: FnMut(String) -> DF,
    DF: Future<Output = crate::Result<()>>,
{
    let mut made: Vec<Value> = Vec::with_capacity(items.len());
    for body in items {
        match create_one(headers.clone(), body).await {
            Ok(v) => made.push(v),
            Err(e) => {
                for v in made.iter().rev() {
                    let Some(id) = v.get("id").and_then(Value::as_str) else {
                        continue;
                    };
                    if let Err(undo_error) = undo(id.to_owned()).await {
                        tracing::warn!(%id, error = %undo_error, "a bulk creation could not be rolled back");
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(super::json(StatusCode::CREATED, json!({ plural: made })))
}
