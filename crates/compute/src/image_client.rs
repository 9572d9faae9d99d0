//! The image service over REST with the user's token, as Nova's glance
//! client: read the boot image, create snapshot images, delete a shelved
//! snapshot.

use std::collections::BTreeMap;
use std::time::Duration;

use compute_agent::rpc::ImageSpec;
use serde_json::{Map, Value};

use crate::error::{ComputeError, Result};

/// Glance's base attributes; everything else is a property.
const BASE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "size",
    "virtual_size",
    "checksum",
    "protected",
    "min_ram",
    "min_disk",
    "owner",
    "os_hidden",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
    "disk_format",
    "container_format",
    "stores",
    "locations",
    "direct_url",
];

/// The properties of an image as the image service renders it: every
/// attribute that is not one of Glance's own.
pub fn properties(image: &Value) -> BTreeMap<String, Value> {
    image
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !BASE.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// An image as the API needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub size: Option<u64>,
    pub min_ram: u64,
    pub min_disk: u64,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub properties: BTreeMap<String, Value>,
}

impl ImageInfo {
    fn from_json(v: &Value) -> ImageInfo {
        let properties = properties(v);
        ImageInfo {
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            name: v["name"].as_str().map(str::to_owned),
            status: v["status"].as_str().unwrap_or_default().to_owned(),
            size: v["size"].as_u64(),
            min_ram: v["min_ram"].as_u64().unwrap_or(0),
            min_disk: v["min_disk"].as_u64().unwrap_or(0),
            disk_format: v["disk_format"].as_str().map(str::to_owned),
            container_format: v["container_format"].as_str().map(str::to_owned),
            properties,
        }
    }

    /// The image as the agent gets it, with the URL of its data.
    pub fn to_spec(&self, image_url: &str) -> ImageSpec {
        ImageSpec {
            id: self.id.clone(),
            name: self.name.clone(),
            disk_format: self.disk_format.clone(),
            container_format: self.container_format.clone(),
            size: self.size,
            min_disk: self.min_disk,
            min_ram: self.min_ram,
            properties: self.properties.clone(),
            file_url: Some(format!(
                "{}/v2/images/{}/file",
                image_url.trim_end_matches('/'),
                self.id
            )),
        }
    }

    /// An image property as a string (`hw_architecture`, …).
    pub fn property(&self, key: &str) -> Option<String> {
        self.properties.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

pub struct ImageClient {
    url: String,
    http: reqwest::Client,
}

fn upstream(e: impl std::fmt::Display) -> ComputeError {
    ComputeError::Upstream(format!("image service: {e}"))
}

impl ImageClient {
    pub fn new(url: &str) -> ImageClient {
        ImageClient {
            url: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.url
    }

    /// The image, or `None` when it does not exist (or is not visible to
    /// the token's project).
    pub async fn get(&self, token: &str, id: &str) -> Result<Option<ImageInfo>> {
        Ok(self.get_json(token, id).await?.as_ref().map(ImageInfo::from_json))
    }

    /// Creates an image record (no data yet); returns it.
    pub async fn create(&self, token: &str, body: Map<String, Value>) -> Result<ImageInfo> {
        let resp = self
            .http
            .post(format!("{}/v2/images", self.url))
            .header("x-auth-token", token)
            .json(&Value::Object(body))
            .send()
            .await
            .map_err(upstream)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        match status {
            201 => Ok(ImageInfo::from_json(
                &serde_json::from_str(&text).unwrap_or(Value::Null),
            )),
            400 => Err(ComputeError::bad(format!("Invalid image metadata. Error: {text}"))),
            403 | 413 => Err(ComputeError::OverQuota(format!("Quota exceeded for image: {text}"))),
            _ => Err(upstream(format!("create image: {status}: {text}"))),
        }
    }

    /// The image as the image service renders it, or `None` when it does
    /// not exist (or is not visible to the token's project).
    pub async fn get_json(&self, token: &str, id: &str) -> Result<Option<Value>> {
        if id.is_empty() || id.contains('/') || id.contains('?') {
            return Ok(None);
        }
        let resp = self
            .http
            .get(format!("{}/v2/images/{id}", self.url))
            .header("x-auth-token", token)
            .send()
            .await
            .map_err(upstream)?;
        match resp.status().as_u16() {
            200 => Ok(Some(resp.json().await.map_err(upstream)?)),
            404 | 403 | 400 => Ok(None),
            s => Err(upstream(format!("GET image {id}: {s}"))),
        }
    }

    /// Every image visible to the token matching the image service's own
    /// `filters` (name, status, property equality), following `next`
    /// links to the end.
    pub async fn list_json(&self, token: &str, filters: &[(String, String)]) -> Result<Vec<Value>> {
        let mut images = Vec::new();
        let mut query: Vec<(String, String)> = filters.to_vec();
        query.push(("limit".into(), "1000".into()));
        let mut url = format!("{}/v2/images", self.url);
        loop {
            let resp = self
                .http
                .get(&url)
                .query(&query)
                .header("x-auth-token", token)
                .send()
                .await
                .map_err(upstream)?;
            let status = resp.status().as_u16();
            if status == 400 {
                let text = resp.text().await.unwrap_or_default();
                return Err(ComputeError::bad(format!("Invalid image filter: {text}")));
            }
            if status != 200 {
                return Err(upstream(format!("list images: {status}")));
            }
            let page: Value = resp.json().await.map_err(upstream)?;
            if let Some(list) = page["images"].as_array() {
                images.extend(list.iter().cloned());
            }
            match page["next"].as_str() {
                // `next` is a path with the whole query: follow it as is.
                Some(next) if !next.is_empty() => {
                    url = match next.strip_prefix("/v2/") {
                        Some(rest) => format!("{}/v2/{rest}", self.url),
                        None => next.to_owned(),
                    };
                    query.clear();
                }
                _ => return Ok(images),
            }
        }
    }

    /// Applies a JSON patch (Glance's `openstack-images-v2.1-json-patch`)
    /// to an image's attributes; returns the image as it now is.
    pub async fn patch(&self, token: &str, id: &str, ops: &[Value]) -> Result<Value> {
        let resp = self
            .http
            .patch(format!("{}/v2/images/{id}", self.url))
            .header("x-auth-token", token)
            .header("content-type", "application/openstack-images-v2.1-json-patch")
            .body(Value::Array(ops.to_vec()).to_string())
            .send()
            .await
            .map_err(upstream)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        match status {
            200 => serde_json::from_str(&text).map_err(upstream),
            404 => Err(ComputeError::not_found("Image not found.")),
            400 | 409 => Err(ComputeError::bad(format!("Invalid image metadata. Error: {text}"))),
            403 => Err(ComputeError::forbidden(format!(
                "Not allowed to update the image: {text}"
            ))),
            413 => Err(ComputeError::OverQuota(format!("Quota exceeded for image: {text}"))),
            _ => Err(upstream(format!("update image {id}: {status}: {text}"))),
        }
    }

    /// Deletes an image the caller asked to delete: not found and not
    /// allowed (a protected image, someone else's) are the caller's faults.
    pub async fn delete_checked(&self, token: &str, id: &str) -> Result<()> {
        match self.send_delete(token, id).await? {
            200..=299 => Ok(()),
            404 => Err(ComputeError::not_found("Image not found.")),
            403 => Err(ComputeError::forbidden("You are not allowed to delete the image.")),
            s => Err(upstream(format!("delete image {id}: {s}"))),
        }
    }

    /// Deletes an image; gone already is fine.
    pub async fn delete(&self, token: &str, id: &str) -> Result<()> {
        match self.send_delete(token, id).await? {
            200..=299 | 404 => Ok(()),
            s => Err(upstream(format!("delete image {id}: {s}"))),
        }
    }

    /// `DELETE /v2/images/{id}`; the status it answered.
    async fn send_delete(&self, token: &str, id: &str) -> Result<u16> {
        let resp = self
            .http
            .delete(format!("{}/v2/images/{id}", self.url))
            .header("x-auth-token", token)
            .send()
            .await
            .map_err(upstream)?;
        Ok(resp.status().as_u16())
    }
}
