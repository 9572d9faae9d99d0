//! Metadata definitions (Glance's metadefs): namespaces and, inside each,
//! objects, properties and tags, and the resource types a namespace
//! applies to. Reads follow the namespace's visibility (public, or private
//! to its owner; admins see all); writes are admin-only by Glance's default
//! policy (`metadef_admin`).
//!
//! Objects and properties are kept as the JSON definition they were given
//! (less `name` and the read-only attributes); Glance validates them
//! against its schemas, here only the required attributes are checked.

use api::AuthContext;
use serde_json::{Map, Value, json};
use store::StoreError;

use crate::Image;
use crate::db::metadefs::{self as db, AssociationRow, ItemRow, NamespaceRow, ResourceTypeRow};
use crate::error::{ImageError, Result};

pub const OBJECT: &str = "object";
pub const PROPERTY: &str = "property";
pub const TAG: &str = "tag";

/// Attributes a client may send back but that the service sets.
const READ_ONLY: &[&str] = &["created_at", "updated_at", "self", "schema"];

const NAMESPACE_KEYS: &[&str] = &[
    "namespace",
    "display_name",
    "description",
    "visibility",
    "protected",
    "owner",
    "resource_type_associations",
    "properties",
    "objects",
    "tags",
];

fn ns_not_found(name: &str) -> ImageError {
    ImageError::NotFound(format!("Metadata definition namespace={name} was not found."))
}

fn item_not_found(kind: &str, ns: &str, name: &str) -> ImageError {
    ImageError::NotFound(format!(
        "Metadata definition {kind} not found for namespace={ns} and {kind}={name}."
    ))
}

/// A duplicate key turned into a 409 with `msg`.
fn conflict_as(e: ImageError, msg: impl FnOnce() -> String) -> ImageError {
    match e {
        ImageError::Store(StoreError::Conflict(_)) => ImageError::Conflict(msg()),
        e => e,
    }
}

/// The optional string attribute `key` of `body`; 400 if it is another type.
fn text(body: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ImageError::bad(format!(
            "Invalid value for '{key}': a string is expected."
        ))),
    }
}

/// A name: a non-empty string of at most 80 characters.
fn name_of(body: &Map<String, Value>, key: &str) -> Result<String> {
    let n = text(body, key)?.ok_or_else(|| ImageError::bad(format!("'{key}' is a required property")))?;
    if n.is_empty() || n.chars().count() > 80 {
        return Err(ImageError::bad(format!(
            "Invalid value for '{key}': 1 to 80 characters are expected."
        )));
    }
    Ok(n)
}

fn visibility_of(body: &Map<String, Value>, default: &str) -> Result<String> {
    let v = text(body, "visibility")?.unwrap_or_else(|| default.to_owned());
    if v != "public" && v != "private" {
        return Err(ImageError::bad(format!(
            "Invalid value '{v}' for 'visibility': 'public' or 'private' is expected."
        )));
    }
    Ok(v)
}

fn protected_of(body: &Map<String, Value>, default: bool) -> Result<bool> {
    match body.get("protected") {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ImageError::bad("Invalid value for 'protected': a boolean is expected.")),
    }
}

/// The stored definition of an object or property: the body less `name`
/// and the read-only attributes.
fn definition(body: &Map<String, Value>) -> String {
    let mut d = body.clone();
    d.remove("name");
    for k in READ_ONLY {
        d.remove(*k);
    }
    Value::Object(d).to_string()
}

/// Checks an object or property definition; returns its name.
fn check_item(kind: &str, body: &Map<String, Value>) -> Result<String> {
    let name = name_of(body, "name")?;
    if kind == PROPERTY {
        for key in ["title", "type"] {
            text(body, key)?.ok_or_else(|| ImageError::bad(format!("'{key}' is a required property")))?;
        }
    }
    if kind == OBJECT
        && let Some(p) = body.get("properties")
        && !p.is_object()
    {
        return Err(ImageError::bad(
            "Invalid value for 'properties': an object is expected.",
        ));
    }
    Ok(name)
}

impl Image {
    fn metadef_authorize(&self, ctx: &AuthContext, action: &str) -> Result<()> {
        self.authorize(ctx, action, &json!({"project_id": ctx.project_id}))
    }

    /// The namespace if the caller may see it; 404 otherwise.
    pub async fn namespace_visible(&self, ctx: &AuthContext, name: &str) -> Result<NamespaceRow> {
        let ns = db::get_namespace(&self.db, name)
            .await?
            .ok_or_else(|| ns_not_found(name))?;
        if ns.visibility == "public" || self.is_admin(ctx) || (ns.owner.is_some() && ns.owner == ctx.project_id) {
            Ok(ns)
        } else {
            Err(ns_not_found(name))
        }
    }

    /// `GET /v2/metadefs/namespaces`, with the `visibility` and
    /// `resource_types` (comma-separated) filters.
    pub async fn list_namespaces(
        &self,
        ctx: &AuthContext,
        visibility: Option<&str>,
        resource_types: Option<&str>,
    ) -> Result<Vec<NamespaceRow>> {
        self.metadef_authorize(ctx, "get_metadef_namespaces")?;
        let admin = self.is_admin(ctx);
        let mut all = db::list_namespaces(&self.db).await?;
        all.retain(|ns| {
            (ns.visibility == "public" || admin || (ns.owner.is_some() && ns.owner == ctx.project_id))
                && visibility.is_none_or(|v| ns.visibility == v)
        });
        if let Some(types) = resource_types {
            let types: Vec<String> = types.split(',').map(|t| t.trim().to_owned()).collect();
            let names = db::namespaces_of_types(&self.db, &types).await?;
            all.retain(|ns| names.contains(&ns.namespace));
        }
        Ok(all)
    }

    pub async fn show_namespace(&self, ctx: &AuthContext, name: &str) -> Result<NamespaceRow> {
        self.metadef_authorize(ctx, "get_metadef_namespace")?;
        self.namespace_visible(ctx, name).await
    }

    /// `POST /v2/metadefs/namespaces`: the namespace and whatever
    /// associations, objects, properties and tags come with it.
    pub async fn create_namespace(&self, ctx: &AuthContext, body: &Map<String, Value>) -> Result<NamespaceRow> {
        self.metadef_authorize(ctx, "add_metadef_namespace")?;
        if let Some(k) = body
            .keys()
            .find(|k| !NAMESPACE_KEYS.contains(&k.as_str()) && !READ_ONLY.contains(&k.as_str()))
        {
            return Err(ImageError::bad(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let now = crate::db::now();
        let ns = NamespaceRow {
            namespace: name_of(body, "namespace")?,
            display_name: text(body, "display_name")?,
            description: text(body, "description")?,
            visibility: visibility_of(body, "private")?,
            protected: protected_of(body, false)?,
            owner: text(body, "owner")?.or_else(|| ctx.project_id.clone()),
            created_at: now,
            updated_at: now,
        };
        let assocs = array_of(body, "resource_type_associations")?;
        let objects = array_of(body, "objects")?;
        let tags = array_of(body, "tags")?;
        let properties = match body.get("properties") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(ImageError::bad(
                    "Invalid value for 'properties': an object is expected.",
                ));
            }
        };
        let mut items = Vec::new();
        for o in &objects {
            items.push(item(&ns.namespace, OBJECT, o, now)?);
        }
        for (name, def) in &properties {
            let mut d = def.as_object().cloned().unwrap_or_default();
            d.insert("name".into(), json!(name));
            items.push(item(&ns.namespace, PROPERTY, &Value::Object(d), now)?);
        }
        for t in &tags {
            items.push(item(&ns.namespace, TAG, t, now)?);
        }
        db::insert_namespace(&self.db, &ns)
            .await
            .map_err(|e| conflict_as(e, || format!("Namespace {} already exists", ns.namespace)))?;
        for it in &items {
            db::insert_item(&self.db, it).await.map_err(|e| {
                conflict_as(e, || {
                    format!("Duplicate {} {} in namespace {}", it.kind, it.name, it.namespace)
                })
            })?;
        }
        for a in &assocs {
            let a = a.as_object().cloned().unwrap_or_default();
            self.insert_association(&ns.namespace, &a, now).await?;
        }
        Ok(ns)
    }

    /// `PUT /v2/metadefs/namespaces/{ns}`: the attributes given replace the
    /// stored ones (`namespace` renames).
    pub async fn update_namespace(
        &self,
        ctx: &AuthContext,
        name: &str,
        body: &Map<String, Value>,
    ) -> Result<NamespaceRow> {
        self.metadef_authorize(ctx, "modify_metadef_namespace")?;
        let cur = self.namespace_visible(ctx, name).await?;
        let new = NamespaceRow {
            namespace: if body.contains_key("namespace") {
                name_of(body, "namespace")?
            } else {
                cur.namespace.clone()
            },
            display_name: text(body, "display_name")?,
            description: text(body, "description")?,
            visibility: visibility_of(body, &cur.visibility)?,
            protected: protected_of(body, cur.protected)?,
            owner: text(body, "owner")?.or(cur.owner.clone()),
            created_at: cur.created_at,
            updated_at: crate::db::now(),
        };
        db::update_namespace(&self.db, name, &new)
            .await
            .map_err(|e| conflict_as(e, || format!("Namespace {} already exists", new.namespace)))?;
        Ok(new)
    }

    /// `DELETE /v2/metadefs/namespaces/{ns}`: 403 while it is protected.
    pub async fn delete_namespace(&self, ctx: &AuthContext, name: &str) -> Result<()> {
        self.metadef_authorize(ctx, "delete_metadef_namespace")?;
        let ns = self.namespace_visible(ctx, name).await?;
        if ns.protected {
            return Err(ImageError::forbidden(format!(
                "Namespace {name} is protected and cannot be deleted."
            )));
        }
        db::delete_namespace(&self.db, name).await
    }

    /// The objects, properties or tags of a namespace.
    pub async fn list_items(&self, ctx: &AuthContext, ns: &str, kind: &str) -> Result<Vec<ItemRow>> {
        self.metadef_authorize(ctx, &format!("get_metadef_{}", plural(kind)))?;
        self.namespace_visible(ctx, ns).await?;
        db::list_items(&self.db, ns, kind).await
    }

    pub async fn show_item(&self, ctx: &AuthContext, ns: &str, kind: &str, name: &str) -> Result<ItemRow> {
        self.metadef_authorize(ctx, &format!("get_metadef_{kind}"))?;
        self.namespace_visible(ctx, ns).await?;
        db::get_item(&self.db, ns, kind, name)
            .await?
            .ok_or_else(|| item_not_found(kind, ns, name))
    }

    /// Creates an object or property from its definition, or a tag from
    /// `{"name": …}`.
    pub async fn create_item(&self, ctx: &AuthContext, ns: &str, kind: &str, body: &Value) -> Result<ItemRow> {
        self.metadef_authorize(ctx, &format!("add_metadef_{kind}"))?;
        self.namespace_visible(ctx, ns).await?;
        let it = item(ns, kind, body, crate::db::now())?;
        db::insert_item(&self.db, &it).await.map_err(|e| {
            conflict_as(e, || {
                format!(
                    "A metadata definition {kind} with name={} already exists in namespace={ns}.",
                    it.name
                )
            })
        })?;
        Ok(it)
    }

    /// Replaces an object, property or tag (`name` in the body renames).
    pub async fn update_item(
        &self,
        ctx: &AuthContext,
        ns: &str,
        kind: &str,
        name: &str,
        body: &Value,
    ) -> Result<ItemRow> {
        self.metadef_authorize(ctx, &format!("modify_metadef_{kind}"))?;
        self.namespace_visible(ctx, ns).await?;
        let cur = db::get_item(&self.db, ns, kind, name)
            .await?
            .ok_or_else(|| item_not_found(kind, ns, name))?;
        let mut it = item(ns, kind, body, crate::db::now())?;
        it.created_at = cur.created_at;
        let updated = db::update_item(&self.db, name, &it).await.map_err(|e| {
            conflict_as(e, || {
                format!(
                    "A metadata definition {kind} with name={} already exists in namespace={ns}.",
                    it.name
                )
            })
        })?;
        if !updated {
            return Err(item_not_found(kind, ns, name));
        }
        Ok(it)
    }

    /// Deletes one object, property or tag, or (`None`) all of the kind.
    pub async fn delete_item(&self, ctx: &AuthContext, ns: &str, kind: &str, name: Option<&str>) -> Result<()> {
        let action = match (kind, name) {
            (PROPERTY, _) => "remove_metadef_property".to_owned(),
            (_, Some(_)) => format!("delete_metadef_{kind}"),
            (_, None) => format!("delete_metadef_{}", plural(kind)),
        };
        self.metadef_authorize(ctx, &action)?;
        self.namespace_visible(ctx, ns).await?;
        let n = db::delete_items(&self.db, ns, kind, name).await?;
        match name {
            Some(name) if n == 0 => Err(item_not_found(kind, ns, name)),
            _ => Ok(()),
        }
    }

    /// `POST …/tags`: the tags given, replacing the existing ones unless
    /// `append`.
    pub async fn create_tags(&self, ctx: &AuthContext, ns: &str, body: &Value, append: bool) -> Result<Vec<ItemRow>> {
        self.metadef_authorize(ctx, "add_metadef_tags")?;
        self.namespace_visible(ctx, ns).await?;
        let Some(list) = body.get("tags").and_then(Value::as_array) else {
            return Err(ImageError::bad(
                "'tags' is a required property: a list of {\"name\": …}.",
            ));
        };
        let now = crate::db::now();
        let mut tags: Vec<ItemRow> = Vec::new();
        for t in list {
            let it = item(ns, TAG, t, now)?;
            if tags.iter().any(|x| x.name == it.name) {
                return Err(ImageError::conflict(format!(
                    "Duplicate tag {} in the request.",
                    it.name
                )));
            }
            tags.push(it);
        }
        if append {
            for it in &tags {
                db::insert_item(&self.db, it).await.map_err(|e| {
                    conflict_as(e, || {
                        format!("A metadata tag with name={} already exists in namespace={ns}.", it.name)
                    })
                })?;
            }
        } else {
            db::replace_items(&self.db, ns, TAG, &tags).await?;
        }
        Ok(tags)
    }

    pub async fn list_resource_types(&self, ctx: &AuthContext) -> Result<Vec<ResourceTypeRow>> {
        self.metadef_authorize(ctx, "list_metadef_resource_types")?;
        db::list_resource_types(&self.db).await
    }

    pub async fn list_associations(&self, ctx: &AuthContext, ns: &str) -> Result<Vec<AssociationRow>> {
        self.metadef_authorize(ctx, "get_metadef_resource_type")?;
        self.namespace_visible(ctx, ns).await?;
        db::list_associations(&self.db, ns).await
    }

    pub async fn create_association(
        &self,
        ctx: &AuthContext,
        ns: &str,
        body: &Map<String, Value>,
    ) -> Result<AssociationRow> {
        self.metadef_authorize(ctx, "add_metadef_resource_type_association")?;
        self.namespace_visible(ctx, ns).await?;
        self.insert_association(ns, body, crate::db::now()).await
    }

    async fn insert_association(&self, ns: &str, body: &Map<String, Value>, now: i64) -> Result<AssociationRow> {
        let a = AssociationRow {
            namespace: ns.to_owned(),
            resource_type: name_of(body, "name")?,
            properties_target: text(body, "properties_target")?,
            prefix: text(body, "prefix")?,
            created_at: now,
            updated_at: now,
        };
        db::ensure_resource_type(&self.db, &a.resource_type, now).await?;
        db::insert_association(&self.db, &a).await.map_err(|e| {
            conflict_as(e, || {
                format!(
                    "Resource type {} is already associated with namespace {ns}.",
                    a.resource_type
                )
            })
        })?;
        Ok(a)
    }

    pub async fn delete_association(&self, ctx: &AuthContext, ns: &str, resource_type: &str) -> Result<()> {
        self.metadef_authorize(ctx, "remove_metadef_resource_type_association")?;
        self.namespace_visible(ctx, ns).await?;
        if db::delete_association(&self.db, ns, resource_type).await? {
            Ok(())
        } else {
            Err(ImageError::NotFound(format!(
                "Resource type {resource_type} is not associated with namespace {ns}."
            )))
        }
    }
}

fn plural(kind: &str) -> &'static str {
    match kind {
        OBJECT => "objects",
        PROPERTY => "properties",
        _ => "tags",
    }
}

fn array_of(body: &Map<String, Value>, key: &str) -> Result<Vec<Value>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) if a.iter().all(Value::is_object) => Ok(a.clone()),
        Some(_) => Err(ImageError::bad(format!(
            "Invalid value for '{key}': a list of objects is expected."
        ))),
    }
}

/// An item of `kind` from its request body.
fn item(ns: &str, kind: &str, body: &Value, now: i64) -> Result<ItemRow> {
    let Value::Object(body) = body else {
        return Err(ImageError::bad("Body expected in request: a JSON object."));
    };
    let name = if kind == TAG {
        name_of(body, "name")?
    } else {
        check_item(kind, body)?
    };
    Ok(ItemRow {
        namespace: ns.to_owned(),
        kind: kind.to_owned(),
        name,
        body: if kind == TAG { "{}".into() } else { definition(body) },
        created_at: now,
        updated_at: now,
    })
}
