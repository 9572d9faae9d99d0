//! Metadata definitions: `/v2/metadefs/namespaces` and their objects,
//! properties, tags and resource type associations;
//! `/v2/metadefs/resource_types`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::{ApiResult, QueryPairs, isotime};
use crate::Image;
use crate::db::metadefs::{AssociationRow, ItemRow, NamespaceRow};
use crate::metadefs::{OBJECT, PROPERTY, TAG};

fn object_body(body: Value) -> ApiResult<Map<String, Value>> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(api::ApiError::bad_request("Body expected in request: a JSON object.")),
    }
}

fn render_association(a: &AssociationRow) -> Value {
    let mut v = Map::new();
    v.insert("name".into(), json!(a.resource_type));
    if let Some(p) = &a.prefix {
        v.insert("prefix".into(), json!(p));
    }
    if let Some(t) = &a.properties_target {
        v.insert("properties_target".into(), json!(t));
    }
    v.insert("created_at".into(), json!(isotime(a.created_at)));
    v.insert("updated_at".into(), json!(isotime(a.updated_at)));
    Value::Object(v)
}

fn render_namespace(ns: &NamespaceRow, assocs: &[AssociationRow]) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("namespace".into(), json!(ns.namespace));
    if let Some(d) = &ns.display_name {
        v.insert("display_name".into(), json!(d));
    }
    if let Some(d) = &ns.description {
        v.insert("description".into(), json!(d));
    }
    v.insert("visibility".into(), json!(ns.visibility));
    v.insert("protected".into(), json!(ns.protected));
    if let Some(o) = &ns.owner {
        v.insert("owner".into(), json!(o));
    }
    v.insert("created_at".into(), json!(isotime(ns.created_at)));
    v.insert("updated_at".into(), json!(isotime(ns.updated_at)));
    v.insert(
        "self".into(),
        json!(format!("/v2/metadefs/namespaces/{}", ns.namespace)),
    );
    v.insert("schema".into(), json!("/v2/schemas/metadefs/namespace"));
    if !assocs.is_empty() {
        v.insert(
            "resource_type_associations".into(),
            assocs.iter().map(render_association).collect(),
        );
    }
    v
}

/// An object or property: its definition, with its name.
fn definition(it: &ItemRow) -> Map<String, Value> {
    let mut v = match serde_json::from_str(&it.body) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    v.insert("name".into(), json!(it.name));
    v
}

fn render_object(it: &ItemRow) -> Value {
    let mut v = definition(it);
    v.insert("created_at".into(), json!(isotime(it.created_at)));
    v.insert("updated_at".into(), json!(isotime(it.updated_at)));
    v.insert(
        "self".into(),
        json!(format!("/v2/metadefs/namespaces/{}/objects/{}", it.namespace, it.name)),
    );
    v.insert("schema".into(), json!("/v2/schemas/metadefs/object"));
    Value::Object(v)
}

fn render_tag(it: &ItemRow) -> Value {
    json!({
        "name": it.name,
        "created_at": isotime(it.created_at),
        "updated_at": isotime(it.updated_at),
    })
}

fn render(kind: &str, it: &ItemRow) -> Value {
    match kind {
        OBJECT => render_object(it),
        PROPERTY => Value::Object(definition(it)),
        _ => render_tag(it),
    }
}

// Namespaces.

pub async fn list_namespaces(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let all = image
        .list_namespaces(&ctx, get("visibility"), get("resource_types"))
        .await?;
    let limit = match get("limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| api::ApiError::bad_request("limit param must be a positive integer"))?,
        None => usize::MAX,
    };
    let start = match get("marker") {
        Some(m) => {
            all.iter()
                .position(|ns| ns.namespace == m)
                .ok_or_else(|| api::ApiError::not_found(format!("Namespace {m} not found.")))?
                + 1
        }
        None => 0,
    };
    let page: Vec<&NamespaceRow> = all.iter().skip(start).take(limit).collect();
    let mut out = Vec::with_capacity(page.len());
    for ns in &page {
        let assocs = crate::db::metadefs::list_associations(&image.db, &ns.namespace)
            .await
            .map_err(api::ApiError::from)?;
        out.push(Value::Object(render_namespace(ns, &assocs)));
    }
    let mut body = json!({
        "namespaces": out,
        "first": "/v2/metadefs/namespaces",
        "schema": "/v2/schemas/metadefs/namespaces",
    });
    if limit != usize::MAX
        && start + page.len() < all.len()
        && let Some(last) = page.last()
    {
        body["next"] = json!(format!(
            "/v2/metadefs/namespaces?marker={}&limit={limit}",
            last.namespace
        ));
    }
    Ok(Json(body))
}

pub async fn create_namespace(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let ns = image.create_namespace(&ctx, &object_body(body)?).await?;
    let v = show_body(&image, &ns).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// A namespace with its associations, objects, properties and tags.
async fn show_body(image: &Image, ns: &NamespaceRow) -> ApiResult<Value> {
    use crate::db::metadefs as db;
    let name = &ns.namespace;
    let assocs = db::list_associations(&image.db, name).await?;
    let mut v = render_namespace(ns, &assocs);
    let objects = db::list_items(&image.db, name, OBJECT).await?;
    if !objects.is_empty() {
        v.insert("objects".into(), objects.iter().map(render_object).collect());
    }
    let properties = db::list_items(&image.db, name, PROPERTY).await?;
    if !properties.is_empty() {
        v.insert("properties".into(), property_map(&properties));
    }
    let tags = db::list_items(&image.db, name, TAG).await?;
    if !tags.is_empty() {
        v.insert("tags".into(), tags.iter().map(|t| json!({"name": t.name})).collect());
    }
    Ok(Value::Object(v))
}

fn property_map(props: &[ItemRow]) -> Value {
    Value::Object(
        props
            .iter()
            .map(|p| (p.name.clone(), Value::Object(definition(p))))
            .collect(),
    )
}

pub async fn show_namespace(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
) -> ApiResult<Json<Value>> {
    let ns = image.show_namespace(&ctx, &ns).await?;
    Ok(Json(show_body(&image, &ns).await?))
}

pub async fn update_namespace(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let ns = image.update_namespace(&ctx, &ns, &object_body(body)?).await?;
    let assocs = crate::db::metadefs::list_associations(&image.db, &ns.namespace).await?;
    Ok(Json(Value::Object(render_namespace(&ns, &assocs))))
}

pub async fn delete_namespace(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
) -> ApiResult<StatusCode> {
    image.delete_namespace(&ctx, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Objects, properties, tags.

async fn list_kind(image: &Image, ctx: &api::AuthContext, ns: &str, kind: &str) -> ApiResult<Json<Value>> {
    let items = image.list_items(ctx, ns, kind).await?;
    Ok(Json(match kind {
        OBJECT => json!({
            "objects": items.iter().map(render_object).collect::<Vec<_>>(),
            "schema": "/v2/schemas/metadefs/objects",
        }),
        PROPERTY => json!({"properties": property_map(&items), "schema": "/v2/schemas/metadefs/properties"}),
        _ => json!({"tags": items.iter().map(render_tag).collect::<Vec<_>>()}),
    }))
}

pub async fn list_objects(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
) -> ApiResult<Json<Value>> {
    list_kind(&image, &ctx, &ns, OBJECT).await
}

pub async fn list_properties(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
) -> ApiResult<Json<Value>> {
    list_kind(&image, &ctx, &ns, PROPERTY).await
}

pub async fn list_tags(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
) -> ApiResult<Json<Value>> {
    list_kind(&image, &ctx, &ns, TAG).await
}

pub async fn create_object(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let it = image.create_item(&ctx, &ns, OBJECT, &body).await?;
    Ok((StatusCode::CREATED, Json(render_object(&it))).into_response())
}

pub async fn create_property(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let it = image.create_item(&ctx, &ns, PROPERTY, &body).await?;
    Ok((StatusCode::CREATED, Json(render(PROPERTY, &it))).into_response())
}

/// `POST …/tags/{tag}`: no body.
pub async fn create_tag(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    let it = image.create_item(&ctx, &ns, TAG, &json!({"name": tag})).await?;
    Ok((StatusCode::CREATED, Json(render_tag(&it))).into_response())
}

/// `POST …/tags`: replaces the tags, or adds to them with
/// `X-Openstack-Append: true`.
pub async fn create_tags(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
    headers: HeaderMap,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let append = headers
        .get("x-openstack-append")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let tags = image.create_tags(&ctx, &ns, &body, append).await?;
    let tags: Vec<Value> = tags.iter().map(|t| json!({"name": t.name})).collect();
    Ok((StatusCode::CREATED, Json(json!({ "tags": tags }))).into_response())
}

async fn show_kind(image: &Image, ctx: &api::AuthContext, ns: &str, kind: &str, name: &str) -> ApiResult<Json<Value>> {
    let it = image.show_item(ctx, ns, kind, name).await?;
    Ok(Json(render(kind, &it)))
}

pub async fn show_object(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    show_kind(&image, &ctx, &ns, OBJECT, &name).await
}

pub async fn show_property(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    show_kind(&image, &ctx, &ns, PROPERTY, &name).await
}

pub async fn show_tag(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    show_kind(&image, &ctx, &ns, TAG, &name).await
}

async fn update_kind(
    image: &Image,
    ctx: &api::AuthContext,
    ns: &str,
    kind: &str,
    name: &str,
    body: &Value,
) -> ApiResult<Json<Value>> {
    let it = image.update_item(ctx, ns, kind, name, body).await?;
    Ok(Json(render(kind, &it)))
}

pub async fn update_object(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    update_kind(&image, &ctx, &ns, OBJECT, &name, &body).await
}

pub async fn update_property(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    update_kind(&image, &ctx, &ns, PROPERTY, &name, &body).await
}

pub async fn update_tag(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    update_kind(&image, &ctx, &ns, TAG, &name, &body).await
}

pub async fn delete_object(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.delete_item(&ctx, &ns, OBJECT, Some(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_property(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.delete_item(&ctx, &ns, PROPERTY, Some(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_tag(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.delete_item(&ctx, &ns, TAG, Some(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_tags(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
) -> ApiResult<StatusCode> {
    image.delete_item(&ctx, &ns, TAG, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Resource types.

pub async fn list_resource_types(State(image): State<Image>, api::Auth(ctx): api::Auth) -> ApiResult<Json<Value>> {
    let types = image.list_resource_types(&ctx).await?;
    let types: Vec<Value> = types
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "created_at": isotime(t.created_at),
                "updated_at": isotime(t.updated_at),
            })
        })
        .collect();
    Ok(Json(json!({ "resource_types": types })))
}

pub async fn list_associations(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
) -> ApiResult<Json<Value>> {
    let assocs = image.list_associations(&ctx, &ns).await?;
    let assocs: Vec<Value> = assocs.iter().map(render_association).collect();
    Ok(Json(json!({ "resource_type_associations": assocs })))
}

pub async fn create_association(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path(ns): Path<String>,
    api::ValidJson(body): api::ValidJson<Value>,
) -> ApiResult<Response> {
    let a = image.create_association(&ctx, &ns, &object_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(render_association(&a))).into_response())
}

pub async fn delete_association(
    State(image): State<Image>,
    api::Auth(ctx): api::Auth,
    Path((ns, rt)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    image.delete_association(&ctx, &ns, &rt).await?;
    Ok(StatusCode::NO_CONTENT)
}
