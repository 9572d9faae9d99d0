//! The legacy tasks API: `POST /v2/tasks` (type `import`), `GET /v2/tasks`,
//! `GET /v2/tasks/{id}`; admin-only (`tasks_api_access`).
//!
//! An `import` task creates a queued image from `input.image_properties`
//! and fills it, in the background, from `input.import_from` (plain
//! `http://`, fetched with HTTP/1.0). Success leaves the image active and
//! `result.image_id` set; failure (an unreachable or refused source, a
//! bad answer) deletes the image and ends the task `failure` with the
//! reason. Tasks are kept with the import tasks, in `image_tasks`.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ApiResult, QueryPairs, isotime};
use crate::Image;
use crate::db::tasks::TaskRow;
use crate::error::{ImageError, Result};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

fn render(t: &TaskRow, full: bool) -> Value {
    let mut v = json!({
        "id": t.id,
        "type": t.task_type,
        "status": t.status,
        "owner": t.owner,
        "message": t.message,
        "expires_at": null,
        "created_at": isotime(t.created_at),
        "updated_at": isotime(t.updated_at),
        "self": format!("/v2/tasks/{}", t.id),
        "schema": "/v2/schemas/task",
    });
    if full {
        v["input"] = serde_json::from_str::<Value>(&t.input).unwrap_or(Value::Null);
        v["result"] = t
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str::<Value>(r).ok())
            .unwrap_or(Value::Null);
        v["image_id"] = json!(t.image_id);
        v["request_id"] = json!(t.request_id);
        v["user_id"] = json!(t.user_id);
    }
    v
}

pub async fn create(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let task = image.create_task(&ctx, &body).await?;
    Ok((StatusCode::CREATED, Json(render(&task, true))).into_response())
}

pub async fn list(State(image): State<Image>, api::Auth(ctx): api::Auth, q: QueryPairs) -> ApiResult<Json<Value>> {
    image.authorize(&ctx, "tasks_api_access", &json!({"project_id": ctx.project_id}))?;
    let owner = (!image.is_admin(&ctx)).then(|| ctx.project_id.clone().unwrap_or_default());
    let mut tasks = crate::db::tasks::list(&image.db, owner.as_deref()).await?;
    for (k, v) in q.iter() {
        match k.as_str() {
            "type" => tasks.retain(|t| &t.task_type == v),
            "status" => tasks.retain(|t| &t.status == v),
            _ => {}
        }
    }
    let tasks: Vec<Value> = tasks.iter().map(|t| render(t, false)).collect();
    Ok(Json(
        json!({"tasks": tasks, "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}),
    ))
}

pub async fn show(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    image.authorize(&ctx, "tasks_api_access", &json!({"project_id": ctx.project_id}))?;
    let not_found = || ImageError::NotFound(format!("Task with the given id {id} not found"));
    let task = crate::db::tasks::get(&image.db, &id).await?.ok_or_else(not_found)?;
    if !image.is_admin(&ctx) && task.owner != ctx.project_id {
        return Err(not_found().into());
    }
    Ok(Json(render(&task, true)))
}

fn required<'a>(input: &'a Map<String, Value>, key: &str) -> Result<&'a Value> {
    input
        .get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| ImageError::bad(format!("Input does not contain '{key}' field")))
}

impl Image {
    /// Records an `import` task and starts it.
    pub async fn create_task(&self, ctx: &api::AuthContext, body: &Value) -> Result<TaskRow> {
        self.authorize(ctx, "tasks_api_access", &json!({"project_id": ctx.project_id}))?;
        let Some(body) = body.as_object() else {
            return Err(ImageError::bad("Body expected in request: a JSON object."));
        };
        match body.get("type").and_then(Value::as_str) {
            Some("import") => {}
            Some(other) => return Err(ImageError::bad(format!("Invalid type value: {other}"))),
            None => return Err(ImageError::bad("'type' is a required property")),
        }
        let Some(input) = body.get("input").and_then(Value::as_object) else {
            return Err(ImageError::bad("'input' is a required property: an object."));
        };
        let from = required(input, "import_from")?
            .as_str()
            .ok_or_else(|| ImageError::bad("'import_from' must be a URL."))?
            .to_owned();
        required(input, "import_from_format")?;
        let props = required(input, "image_properties")?
            .as_object()
            .cloned()
            .ok_or_else(|| ImageError::bad("'image_properties' must be an object."))?;
        let img = self.create_image(ctx, props).await?;
        let now = crate::db::now();
        let task = TaskRow {
            id: uuid::Uuid::new_v4().to_string(),
            image_id: img.id.clone(),
            task_type: "import".into(),
            status: "processing".into(),
            owner: ctx.project_id.clone(),
            user_id: Some(ctx.user_id.clone()),
            request_id: None,
            input: Value::Object(input.clone()).to_string(),
            result: None,
            message: String::new(),
            created_at: now,
            updated_at: now,
        };
        crate::db::tasks::insert(&self.db, &task).await?;
        let (this, ctx, row, image_id) = (self.clone(), ctx.clone(), task.clone(), img.id);
        tokio::spawn(async move {
            let outcome = match fetch(&from).await {
                Ok(stream) => this.upload(&ctx, &image_id, stream, None).await.map(|_| ()),
                Err(e) => Err(e),
            };
            let recorded = match outcome {
                Ok(()) => {
                    let result = json!({"image_id": image_id}).to_string();
                    crate::db::tasks::finish(&this.db, &row.id, "success", Some(&result), "").await
                }
                Err(e) => {
                    // Deleting the image deletes its tasks: this one is
                    // recorded again, failed.
                    if let Err(d) = this.delete_image(&ctx, &image_id).await {
                        tracing::warn!(image = %image_id, error = %d, "image of a failed task not deleted");
                    }
                    let failed = TaskRow {
                        status: "failure".into(),
                        message: e.to_string(),
                        updated_at: crate::db::now(),
                        ..row.clone()
                    };
                    match crate::db::tasks::get(&this.db, &row.id).await {
                        Ok(Some(_)) => {
                            crate::db::tasks::finish(&this.db, &row.id, "failure", None, &failed.message).await
                        }
                        Ok(None) => crate::db::tasks::insert(&this.db, &failed).await,
                        Err(e) => Err(e),
                    }
                }
            };
            if let Err(e) = recorded {
                tracing::error!(task = %row.id, error = %e, "task outcome could not be recorded");
            }
        });
        Ok(task)
    }
}

/// `GET url` over HTTP/1.0: the body as a stream, once the status is 200.
async fn fetch(url: &str) -> Result<std::pin::Pin<Box<dyn futures::Stream<Item = std::io::Result<Bytes>> + Send>>> {
    let fail = |m: String| ImageError::bad(format!("Could not import from {url}: {m}"));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| fail("only http:// sources are supported".into()))?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let hostport = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&hostport))
        .await
        .map_err(|_| fail("connection timed out".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: oxistack-image\r\n\r\n");
    conn.write_all(req.as_bytes()).await.map_err(|e| fail(e.to_string()))?;
    let mut head = BytesMut::new();
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > 64 * 1024 || conn.read_buf(&mut head).await.map_err(|e| fail(e.to_string()))? == 0 {
            return Err(fail("no HTTP response".into()));
        }
    };
    let status_line = String::from_utf8_lossy(&head[..end])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(fail(format!("the source answered {status_line}")));
    }
    let first = head.split_off(end).freeze();
    let rest = futures::stream::unfold(Some(conn), |state| async move {
        let mut conn = state?;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        match conn.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), Some(conn))),
            Err(e) => Some((Err(e), None)),
        }
    });
    let first = futures::stream::iter((!first.is_empty()).then_some(Ok(first)));
    Ok(Box::pin(futures::StreamExt::chain(first, rest)))
}
