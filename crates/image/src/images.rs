//! Images: create, show, list, update (JSON patch), delete, tags,
//! deactivate/reactivate — and who may see what.
//!
//! Visibility, as Glance decides it: an admin sees every image; anyone else
//! sees the images their project owns, `public` and `community` images, and
//! `shared` images of which their project is a member (in any member
//! status). A `private` image is its owner's alone. An image the caller may
//! not see is answered 404, never 403. Lists are narrower: by default they
//! show owned, public, and shared images whose membership the caller
//! accepted; `community` images only on request (`visibility=community` or
//! `all`); `os_hidden` images only with `os_hidden=true`.

use std::cmp::Ordering;

use api::AuthContext;
use serde_json::{Map, Value, json};

use crate::Image;
use crate::db::images::{ImageRow, ListFilter};
use crate::db::members::MemberRow;
use crate::error::{ImageError, Result};

pub use crate::db::images::ImageRow as ImageRecord;

pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
pub const CONTAINER_FORMATS: &[&str] = &["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"];
pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];
/// Attributes a client may never write.
pub const READONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "direct_url",
    "self",
    "file",
    "schema",
    "id",
    "os_hash_algo",
    "os_hash_value",
];
/// Refused even on create (where `id` may be given).
const DISALLOWED_ON_CREATE: &[&str] = &["direct_url", "self", "file", "schema", "stores"];
const RESERVED: &[&str] = &["location", "locations", "deleted", "deleted_at"];
const RESERVED_NAMESPACE: &str = "os_glance";
/// Glance's `image_property_quota`, `image_tag_quota`.
pub const PROPERTY_QUOTA: usize = 128;
pub const TAG_QUOTA: usize = 128;
/// Sort keys Glance accepts.
pub const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
];
/// List filters that are columns (anything else filters on a property).
const COLUMN_FILTERS: &[&str] = &[
    "name",
    "status",
    "owner",
    "disk_format",
    "container_format",
    "id",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
];

/// One operation of a JSON patch, parsed by the API layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub op: Op,
    /// The pointer's tokens, unescaped (`/name` is `["name"]`).
    pub path: Vec<String>,
    pub value: Option<Value>,
    /// The `application/openstack-images-v2.0-json-patch` form, where
    /// `add` of an existing attribute is a conflict.
    pub draft4: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// A list request, parsed by the API layer.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub sort: Vec<(String, bool)>,
    /// `visibility`, `member_status` and every other filter, as given.
    pub filters: Vec<(String, String)>,
    pub tags: Vec<String>,
}

pub(crate) fn reserved(key: &str) -> bool {
    RESERVED.contains(&key) || key.starts_with(RESERVED_NAMESPACE)
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| p.len() == *n)
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn schema_error(detail: impl std::fmt::Display) -> ImageError {
    ImageError::bad(format!("Provided object does not match schema 'image': {detail}"))
}

fn opt_string(key: &str, v: &Value, max: usize) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
        Value::String(s) => Err(schema_error(format!("'{s}' is too long (field '{key}')"))),
        other => Err(schema_error(format!(
            "{other} is not of type 'null', 'string' (field '{key}')"
        ))),
    }
}

fn enum_value(key: &str, v: &Value, allowed: &[&str], nullable: bool) -> Result<Option<String>> {
    match v {
        Value::Null if nullable => Ok(None),
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        other => Err(schema_error(format!(
            "{other} is not one of {allowed:?} (field '{key}')"
        ))),
    }
}

fn bool_value(key: &str, v: &Value) -> Result<bool> {
    v.as_bool()
        .ok_or_else(|| schema_error(format!("{v} is not of type 'boolean' (field '{key}')")))
}

fn int_value(key: &str, v: &Value) -> Result<i64> {
    let n = v
        .as_i64()
        .ok_or_else(|| schema_error(format!("{v} is not of type 'integer' (field '{key}')")))?;
    if n < 0 {
        return Err(ImageError::bad(format!("Cannot set {key} to a negative value")));
    }
    Ok(n)
}

fn tag_list(v: &Value) -> Result<Vec<String>> {
    let arr = v
        .as_array()
        .ok_or_else(|| schema_error(format!("{v} is not of type 'array' (field 'tags')")))?;
    let mut tags: Vec<String> = Vec::new();
    for t in arr {
        let s = t
            .as_str()
            .ok_or_else(|| schema_error(format!("{t} is not of type 'string' (field 'tags')")))?;
        if s.chars().count() > 255 {
            return Err(schema_error(format!("'{s}' is too long (field 'tags')")));
        }
        if !tags.iter().any(|x| x == s) {
            tags.push(s.to_owned());
        }
    }
    if tags.len() > TAG_QUOTA {
        return Err(ImageError::OverLimit(format!(
            "Maximum number of tags exceeded: {TAG_QUOTA}"
        )));
    }
    Ok(tags)
}

fn property_value(key: &str, v: &Value) -> Result<String> {
    if key.chars().count() > 255 {
        return Err(ImageError::bad(
            "Custom property should not be greater than 255 characters.",
        ));
    }
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(schema_error(format!("{other} is not of type 'string' (field '{key}')"))),
    }
}

/// Sets a base attribute of `img` from a client value; `Ok(false)` when
/// `key` is not a base attribute.
fn set_base(img: &mut ImageRow, key: &str, v: &Value) -> Result<bool> {
    match key {
        "name" => img.name = opt_string(key, v, 255)?,
        "visibility" => img.visibility = enum_value(key, v, VISIBILITIES, false)?.unwrap_or_default(),
        "protected" => img.protected = bool_value(key, v)?,
        "os_hidden" => img.os_hidden = bool_value(key, v)?,
        "min_disk" => img.min_disk = int_value(key, v)?,
        "min_ram" => img.min_ram = int_value(key, v)?,
        "disk_format" => img.disk_format = enum_value(key, v, DISK_FORMATS, true)?,
        "container_format" => img.container_format = enum_value(key, v, CONTAINER_FORMATS, true)?,
        "owner" => img.owner = opt_string(key, v, 255)?,
        "tags" => img.tags = tag_list(v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

const BASE: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_disk",
    "min_ram",
    "disk_format",
    "container_format",
    "owner",
    "tags",
];

impl Image {
    pub(crate) fn is_admin(&self, ctx: &AuthContext) -> bool {
        self.policy.enforce("context_is_admin", &json!({}), &ctx.policy_creds)
    }

    /// 403 unless policy allows `action` on `target`.
    pub(crate) fn authorize(&self, ctx: &AuthContext, action: &str, target: &Value) -> Result<()> {
        if self.policy.enforce(action, target, &ctx.policy_creds) {
            Ok(())
        } else {
            tracing::info!(action, user_id = %ctx.user_id, "policy denied");
            Err(ImageError::forbidden(format!(
                "You are not authorized to complete {action} action."
            )))
        }
    }

    /// The policy target of an image, as Glance's `ImageTarget` builds it.
    pub(crate) fn target(&self, img: &ImageRow, member: Option<&MemberRow>) -> Value {
        let mut t = Map::new();
        for (k, v) in &img.properties {
            t.insert(k.clone(), json!(v));
        }
        t.insert("id".into(), json!(img.id));
        t.insert("status".into(), json!(img.status));
        t.insert("visibility".into(), json!(img.visibility));
        t.insert("protected".into(), json!(img.protected));
        if let Some(o) = &img.owner {
            t.insert("owner".into(), json!(o));
            t.insert("project_id".into(), json!(o));
        }
        if let Some(m) = member {
            t.insert("member_id".into(), json!(m.member));
            t.insert("member_status".into(), json!(m.status));
        }
        Value::Object(t)
    }

    /// The image `id` if the caller may see it (with the caller's
    /// membership, if any); 404 otherwise.
    pub(crate) async fn visible(&self, ctx: &AuthContext, id: &str) -> Result<(ImageRow, Option<MemberRow>)> {
        let img = crate::db::images::get(&self.db, id)
            .await?
            .ok_or_else(|| ImageError::not_found(id))?;
        let member = match &ctx.project_id {
            Some(p) => crate::db::members::get(&self.db, id, p).await?,
            None => None,
        };
        let owner = img.owner.is_some() && img.owner == ctx.project_id;
        let seen = self.is_admin(ctx)
            || owner
            || img.visibility == "public"
            || img.visibility == "community"
            || (img.visibility == "shared" && member.is_some());
        if !seen {
            return Err(ImageError::not_found(id));
        }
        Ok((img, member))
    }

    pub async fn show_image(&self, ctx: &AuthContext, id: &str) -> Result<ImageRow> {
        let (img, member) = self.visible(ctx, id).await?;
        self.authorize(ctx, "get_image", &self.target(&img, member.as_ref()))
            .map_err(|_| ImageError::not_found(id))?;
        Ok(img)
    }

    /// Creates a queued image from the request body's attributes.
    pub async fn create_image(&self, ctx: &AuthContext, mut body: Map<String, Value>) -> Result<ImageRow> {
        for key in DISALLOWED_ON_CREATE {
            if body.contains_key(*key) {
                return Err(ImageError::forbidden(format!("Attribute '{key}' is read-only.")));
            }
        }
        let now = crate::db::now();
        let mut img = ImageRow {
            id: uuid::Uuid::new_v4().to_string(),
            owner: ctx.project_id.clone(),
            status: "queued".into(),
            visibility: "shared".into(),
            created_at: now,
            updated_at: now,
            ..Default::default()
        };
        if let Some(id) = body.remove("id") {
            match id.as_str() {
                Some(s) if is_uuid(s) => img.id = s.to_ascii_lowercase(),
                _ => {
                    return Err(schema_error(format!(
                        "{id} does not match the UUID pattern (field 'id')"
                    )));
                }
            }
        }
        for (key, v) in &body {
            if READONLY.contains(&key.as_str()) {
                return Err(ImageError::forbidden(format!("Attribute '{key}' is read-only.")));
            }
            if reserved(key) {
                return Err(ImageError::forbidden(format!("Attribute '{key}' is reserved.")));
            }
            if !set_base(&mut img, key, v)? {
                img.properties.insert(key.clone(), property_value(key, v)?);
            }
        }
        if img.properties.len() > PROPERTY_QUOTA {
            return Err(ImageError::OverLimit(format!(
                "Maximum number of properties exceeded: {PROPERTY_QUOTA}"
            )));
        }
        let mut target = self.target(&img, None);
        target["project_id"] = json!(ctx.project_id);
        target["owner"] = json!(img.owner);
        self.authorize(ctx, "add_image", &target)
            .map_err(|_| match &img.owner {
                Some(o) if Some(o) != ctx.project_id.as_ref() => {
                    ImageError::forbidden(format!("You are not permitted to create images owned by '{o}'."))
                }
                _ => ImageError::forbidden("You are not authorized to complete add_image action."),
            })?;
        self.check_visibility_policy(ctx, &img, &target)?;
        if let Some(owner) = &img.owner {
            self.check_count_quota(owner).await?;
        }
        crate::db::images::insert(&self.db, &img).await.map_err(|e| match e {
            ImageError::Store(store::StoreError::Conflict(_)) => {
                ImageError::conflict(format!("Image with identifier {} already exists!", img.id))
            }
            other => other,
        })?;
        Ok(img)
    }

    fn check_visibility_policy(&self, ctx: &AuthContext, img: &ImageRow, target: &Value) -> Result<()> {
        match img.visibility.as_str() {
            "public" => self.authorize(ctx, "publicize_image", target),
            "community" => self.authorize(ctx, "communitize_image", target),
            _ => Ok(()),
        }
    }

    async fn check_count_quota(&self, owner: &str) -> Result<()> {
        if let Some(limits) = &self.limits {
            let limit = limits.limit(owner, crate::quota::IMAGE_COUNT_TOTAL).await?;
            if limit.is_some() {
                let (count, _, _) = crate::db::images::usage(&self.db, owner).await?;
                crate::quota::check(crate::quota::IMAGE_COUNT_TOTAL, limit, count, 1)?;
            }
        }
        Ok(())
    }

    /// Applies a JSON patch; all or nothing.
    pub async fn update_image(&self, ctx: &AuthContext, id: &str, changes: Vec<Change>) -> Result<ImageRow> {
        let (old, member) = self.visible(ctx, id).await?;
        let target = self.target(&old, member.as_ref());
        self.authorize(ctx, "modify_image", &target)?;
        let admin = self.is_admin(ctx);
        let mut img = old.clone();
        for c in &changes {
            let root = c.path.first().map(String::as_str).unwrap_or_default();
            if READONLY.contains(&root) {
                return Err(ImageError::forbidden(format!("Attribute '{root}' is read-only.")));
            }
            if reserved(root) {
                return Err(ImageError::forbidden(format!("Attribute '{root}' is reserved.")));
            }
            if c.path.len() != 1 {
                return Err(ImageError::bad(format!(
                    "Invalid JSON pointer for this resource: '/{}'",
                    c.path.join("/")
                )));
            }
            let is_base = BASE.contains(&root);
            match c.op {
                Op::Remove => {
                    if is_base {
                        return Err(ImageError::forbidden(format!("Property {root} may not be removed.")));
                    }
                    if img.properties.remove(root).is_none() {
                        return Err(ImageError::conflict(format!("Property {root} does not exist.")));
                    }
                }
                Op::Add | Op::Replace => {
                    let value = c.value.as_ref().unwrap_or(&Value::Null);
                    let exists = is_base || img.properties.contains_key(root);
                    if c.op == Op::Replace && !exists {
                        return Err(ImageError::conflict(format!("Property {root} does not exist.")));
                    }
                    if c.op == Op::Add && c.draft4 && exists {
                        return Err(ImageError::conflict(format!("Property {root} already present.")));
                    }
                    if root == "owner" && !admin {
                        return Err(ImageError::forbidden("Owner can't be updated by non admin."));
                    }
                    if (root == "disk_format" || root == "container_format") && old.status != "queued" {
                        let v = match root {
                            "disk_format" => enum_value(root, value, DISK_FORMATS, true)?,
                            _ => enum_value(root, value, CONTAINER_FORMATS, true)?,
                        };
                        let cur = if root == "disk_format" {
                            &old.disk_format
                        } else {
                            &old.container_format
                        };
                        if &v != cur {
                            return Err(ImageError::forbidden(format!(
                                "Attribute {root} can be only replaced for a queued image."
                            )));
                        }
                    }
                    if !set_base(&mut img, root, value)? {
                        img.properties.insert(root.to_owned(), property_value(root, value)?);
                    }
                }
            }
        }
        if img.properties.len() > PROPERTY_QUOTA {
            return Err(ImageError::OverLimit(format!(
                "Maximum number of properties exceeded: {PROPERTY_QUOTA}"
            )));
        }
        if img.visibility != old.visibility {
            self.check_visibility_policy(ctx, &img, &target)?;
        }
        if img == old {
            return Ok(img);
        }
        img.updated_at = crate::db::now();
        if !crate::db::images::update(&self.db, &img, &old.status).await? {
            return Err(ImageError::conflict(
                "The image changed while it was being updated; try again.",
            ));
        }
        Ok(img)
    }

    pub async fn delete_image(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        let (img, member) = self.visible(ctx, id).await?;
        self.authorize(ctx, "delete_image", &self.target(&img, member.as_ref()))?;
        if img.protected {
            return Err(ImageError::forbidden(format!(
                "Image {id} is protected and cannot be deleted."
            )));
        }
        crate::db::images::delete(&self.db, id).await?;
        // The row is gone first: an upload still running finds no image at
        // its compare-and-swap and removes its own data.
        if let Some(loc) = &img.location
            && let Err(e) = self.store_for(loc).delete(loc).await
        {
            tracing::warn!(image = id, error = %e, "image data could not be removed");
        }
        Ok(())
    }

    pub async fn add_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<()> {
        let mut c = vec![];
        let (img, _) = self.visible(ctx, id).await?;
        if tag.chars().count() > 255 {
            return Err(ImageError::bad("Tag is too long (255 characters at most)."));
        }
        if !img.tags.iter().any(|t| t == tag) {
            let mut tags = img.tags.clone();
            tags.push(tag.to_owned());
            c.push(Change {
                op: Op::Replace,
                path: vec!["tags".into()],
                value: Some(json!(tags)),
                draft4: false,
            });
        }
        self.update_image(ctx, id, c).await.map(|_| ())
    }

    pub async fn remove_tag(&self, ctx: &AuthContext, id: &str, tag: &str) -> Result<()> {
        let (img, _) = self.visible(ctx, id).await?;
        if !img.tags.iter().any(|t| t == tag) {
            return Err(ImageError::NotFound(format!("Tag {tag} not found")));
        }
        let tags: Vec<&String> = img.tags.iter().filter(|t| *t != tag).collect();
        let c = vec![Change {
            op: Op::Replace,
            path: vec!["tags".into()],
            value: Some(json!(tags)),
            draft4: false,
        }];
        self.update_image(ctx, id, c).await.map(|_| ())
    }

    /// `deactivate` (true) or `reactivate` (false).
    pub async fn set_active(&self, ctx: &AuthContext, id: &str, active: bool) -> Result<()> {
        let (img, member) = self.visible(ctx, id).await?;
        let action = if active { "reactivate" } else { "deactivate" };
        self.authorize(ctx, action, &self.target(&img, member.as_ref()))?;
        let (from, to) = if active {
            (["deactivated", "active"], "active")
        } else {
            (["active", "deactivated"], "deactivated")
        };
        if !from.contains(&img.status.as_str()) {
            return Err(ImageError::forbidden(format!(
                "Not allowed to {action} image in status '{}'",
                img.status
            )));
        }
        if img.status != to && !crate::db::images::set_status(&self.db, id, &from, to).await? {
            return Err(ImageError::conflict(
                "The image changed while it was being updated; try again.",
            ));
        }
        Ok(())
    }

    /// A page of the images the caller may list; also the marker of the
    /// next page when there is one.
    pub async fn list_images(&self, ctx: &AuthContext, q: ListQuery) -> Result<(Vec<ImageRow>, Option<String>)> {
        self.authorize(ctx, "get_images", &json!({"project_id": ctx.project_id}))?;
        let mut f = ListFilter {
            project: ctx.project_id.clone(),
            admin: self.is_admin(ctx),
            member_status: "accepted".into(),
            ..Default::default()
        };
        let mut hidden_given = false;
        for (k, v) in &q.filters {
            match k.as_str() {
                "visibility" => {
                    if !VISIBILITIES.contains(&v.as_str()) && v != "all" {
                        return Err(ImageError::bad(format!("Invalid visibility value: {v}")));
                    }
                    f.visibility = Some(v.clone());
                }
                "member_status" => {
                    if !["pending", "accepted", "rejected", "all"].contains(&v.as_str()) {
                        return Err(ImageError::bad(format!("Invalid status: {v}")));
                    }
                    f.member_status = v.clone();
                }
                "changes-since" => {
                    return Err(ImageError::bad(
                        "The \"changes-since\" filter is no longer available on v2.",
                    ));
                }
                "size_min" | "size_max" | "size" => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| ImageError::bad(format!("Invalid value for {k}: {v:?} is not an integer")))?;
                    match k.as_str() {
                        "size_min" => f.size_min = Some(n),
                        "size_max" => f.size_max = Some(n),
                        _ => {
                            f.size_min = Some(n);
                            f.size_max = Some(n);
                        }
                    }
                }
                "protected" | "os_hidden" => {
                    let b = match v.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(ImageError::bad(format!("Invalid value for {k}: {v}"))),
                    };
                    if k == "protected" {
                        f.protected = Some(b);
                    } else {
                        f.os_hidden = Some(b);
                        hidden_given = true;
                    }
                }
                key => match COLUMN_FILTERS.iter().find(|c| **c == key) {
                    Some(col) => f.columns.push((col, v.clone())),
                    None => f.properties.push((key.to_owned(), v.clone())),
                },
            }
        }
        if !hidden_given {
            f.os_hidden = Some(false);
        }
        f.tags = q.tags.clone();
        let mut rows = crate::db::images::list(&self.db, &f).await?;
        let mut sort = q.sort.clone();
        if sort.is_empty() {
            sort.push(("created_at".into(), false));
        }
        let tie_asc = sort[0].1;
        for k in ["created_at", "id"] {
            if !sort.iter().any(|(s, _)| s == k) {
                sort.push((k.into(), tie_asc));
            }
        }
        rows.sort_by(|a, b| {
            for (key, asc) in &sort {
                let o = compare(a, b, key);
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        let start = match &q.marker {
            None => 0,
            Some(m) => match rows.iter().position(|r| &r.id == m) {
                Some(i) => i + 1,
                None => {
                    // A marker the list does not contain: Glance answers 400.
                    return Err(ImageError::bad(format!(
                        "Invalid marker. Image {m} could not be found."
                    )));
                }
            },
        };
        let limit = q
            .limit
            .unwrap_or(self.config.limit_param_default)
            .min(self.config.api_limit_max);
        let end = (start + limit).min(rows.len());
        let more = end < rows.len();
        let mut page: Vec<ImageRow> = rows.drain(start..end).collect();
        crate::db::images::load_children(&self.db, &mut page).await?;
        let next = if more && limit > 0 {
            page.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok((page, next))
    }
}

fn compare(a: &ImageRow, b: &ImageRow, key: &str) -> Ordering {
    match key {
        "name" => a.name.cmp(&b.name),
        "status" => a.status.cmp(&b.status),
        "container_format" => a.container_format.cmp(&b.container_format),
        "disk_format" => a.disk_format.cmp(&b.disk_format),
        "size" => a.size.cmp(&b.size),
        "id" => a.id.cmp(&b.id),
        "created_at" => a.created_at.cmp(&b.created_at),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_reserved_names() {
        assert!(is_uuid("00000000-1111-2222-3333-444455556666"));
        assert!(!is_uuid("00000000-1111-2222-3333-44445555666"));
        assert!(!is_uuid("zzzzzzzz-1111-2222-3333-444455556666"));
        assert!(reserved("os_glance_foo"));
        assert!(reserved("location"));
        assert!(!reserved("os_distro"));
    }

    #[test]
    fn base_attributes_are_typed() {
        let mut img = ImageRow::default();
        assert!(set_base(&mut img, "min_ram", &json!(512)).unwrap());
        assert_eq!(img.min_ram, 512);
        assert!(set_base(&mut img, "min_ram", &json!(-1)).is_err());
        assert!(set_base(&mut img, "disk_format", &json!("wrong")).is_err());
        assert!(set_base(&mut img, "tags", &json!(["a", "a", "b"])).unwrap());
        assert_eq!(img.tags, ["a", "b"]);
        assert!(!set_base(&mut img, "os_distro", &json!("x")).unwrap());
        assert!(property_value("k", &json!(1)).is_err());
    }
}
