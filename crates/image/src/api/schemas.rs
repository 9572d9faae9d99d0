//! `/v2/schemas/{image,images,member,members}`: the JSON schemas Glance 33
//! serves (dumped from its `get_schema()`), which clients such as
//! python-glanceclient read to validate what they send.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::Image;

const IMAGE: &str = include_str!("schemas/image.json");
const IMAGES: &str = include_str!("schemas/images.json");
const MEMBER: &str = include_str!("schemas/member.json");
const MEMBERS: &str = include_str!("schemas/members.json");

/// The metadata-definition schemas (`/v2/schemas/metadefs/…`), dumped from
/// Glance 33; the metadefs API itself is in `api/metadefs.rs`.
const METADEFS: &[(&str, &str)] = &[
    ("namespace", include_str!("schemas/metadefs/namespace.json")),
    ("namespaces", include_str!("schemas/metadefs/namespaces.json")),
    ("object", include_str!("schemas/metadefs/object.json")),
    ("objects", include_str!("schemas/metadefs/objects.json")),
    ("property", include_str!("schemas/metadefs/property.json")),
    ("properties", include_str!("schemas/metadefs/properties.json")),
    ("resource_type", include_str!("schemas/metadefs/resource_type.json")),
    ("resource_types", include_str!("schemas/metadefs/resource_types.json")),
    ("tag", include_str!("schemas/metadefs/tag.json")),
    ("tags", include_str!("schemas/metadefs/tags.json")),
];

pub async fn show(State(_): State<Image>, _auth: api::Auth, Path(name): Path<String>) -> super::ApiResult<Response> {
    let body = match name.as_str() {
        "image" => IMAGE,
        "images" => IMAGES,
        "member" => MEMBER,
        "members" => MEMBERS,
        _ => return Err(api::ApiError::not_found(format!("Schema {name} not found."))),
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub async fn show_metadefs(
    State(_): State<Image>,
    _auth: api::Auth,
    Path(name): Path<String>,
) -> super::ApiResult<Response> {
    let (_, body) = METADEFS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| api::ApiError::not_found(format!("Schema metadefs/{name} not found.")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], *body).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn schemas_parse_and_name_themselves() {
        for (name, text) in [
            ("image", super::IMAGE),
            ("images", super::IMAGES),
            ("member", super::MEMBER),
            ("members", super::MEMBERS),
        ] {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["name"], name);
        }
        for (_, text) in super::METADEFS {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert!(v["name"].is_string());
        }
    }
}
