//! The image service over REST with the user's token, for volumes made
//! from images: the API reads the image record to validate the request;
//! the agent streams the data from the `file_url` it is given.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Result, VolumeError};

/// Glance's base attributes that are not copied into
/// `volume_image_metadata` (Cinder copies the properties and a few base
/// fields).
const NOT_COPIED: &[&str] = &[
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

#[derive(Clone, Debug, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub size: Option<u64>,
    pub virtual_size: Option<u64>,
    pub min_disk: u64,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub checksum: Option<String>,
    pub properties: BTreeMap<String, String>,
}

impl ImageInfo {
    fn from_json(v: &Value) -> ImageInfo {
        let properties = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect();
        ImageInfo {
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            name: v["name"].as_str().map(str::to_owned),
            status: v["status"].as_str().unwrap_or_default().to_owned(),
            size: v["size"].as_u64(),
            virtual_size: v["virtual_size"].as_u64(),
            min_disk: v["min_disk"].as_u64().unwrap_or(0),
            disk_format: v["disk_format"].as_str().map(str::to_owned),
            container_format: v["container_format"].as_str().map(str::to_owned),
            checksum: v["checksum"].as_str().map(str::to_owned),
            properties,
        }
    }

    /// `volume_image_metadata` as Cinder fills it.
    pub fn volume_metadata(&self) -> BTreeMap<String, String> {
        let mut m = self.properties.clone();
        m.insert("image_id".into(), self.id.clone());
        for (k, v) in [
            ("image_name", self.name.clone()),
            ("checksum", self.checksum.clone()),
            ("container_format", self.container_format.clone()),
            ("disk_format", self.disk_format.clone()),
            ("min_disk", Some(self.min_disk.to_string())),
            ("size", self.size.map(|s| s.to_string())),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        }
        m
    }
}

pub struct ImageClient {
    url: String,
    http: reqwest::Client,
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

    pub fn file_url(&self, id: &str) -> String {
        format!("{}/v2/images/{id}/file", self.url)
    }

    /// The image, or `None` when it does not exist or is not visible.
    pub async fn get(&self, token: &str, id: &str) -> Result<Option<ImageInfo>> {
        if id.is_empty() || id.contains('/') || id.contains('?') || id.contains('#') {
            return Ok(None);
        }
        let resp = self
            .http
            .get(format!("{}/v2/images/{id}", self.url))
            .header("x-auth-token", token)
            .send()
            .await
            .map_err(|e| VolumeError::Internal(format!("image service: {e}")))?;
        match resp.status().as_u16() {
            200 => Ok(Some(ImageInfo::from_json(
                &resp
                    .json::<Value>()
                    .await
                    .map_err(|e| VolumeError::Internal(format!("image service: {e}")))?,
            ))),
            400 | 403 | 404 => Ok(None),
            s => Err(VolumeError::Internal(format!("image service: GET image {id}: {s}"))),
        }
    }
}
