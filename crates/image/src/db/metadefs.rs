//! The metadata definitions (metadefs): `metadef_namespaces`, their
//! objects, properties and tags (`metadef_items`, told apart by `kind`, the
//! definition kept as JSON text), `metadef_resource_types` and the
//! namespace ↔ resource type associations.

use store::{AnyRow, Db, Row, flag, sqlx};

use crate::error::Result;

/// Migration 2: the metadefs tables, with the resource types Glance seeds.
pub const SCHEMA: &str = "CREATE TABLE metadef_namespaces (
    namespace VARCHAR(80) NOT NULL PRIMARY KEY,
    display_name VARCHAR(80),
    description TEXT,
    visibility VARCHAR(32) NOT NULL,
    protected BIGINT NOT NULL,
    owner VARCHAR(255),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE metadef_items (
    namespace VARCHAR(80) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    name VARCHAR(80) NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, kind, name)
);
CREATE TABLE metadef_resource_types (
    name VARCHAR(80) NOT NULL PRIMARY KEY,
    protected BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE metadef_namespace_resource_types (
    namespace VARCHAR(80) NOT NULL,
    resource_type VARCHAR(80) NOT NULL,
    properties_target VARCHAR(80),
    prefix VARCHAR(80),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, resource_type)
);
INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES ('OS::Glance::Image', 1, 0, 0);
INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES ('OS::Cinder::Volume', 1, 0, 0);
INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES ('OS::Nova::Flavor', 1, 0, 0);
INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES ('OS::Nova::Aggregate', 1, 0, 0);
INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES ('OS::Nova::Server', 1, 0, 0);
";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NamespaceRow {
    pub namespace: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub visibility: String,
    pub protected: bool,
    pub owner: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An object, property or tag of a namespace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemRow {
    pub namespace: String,
    /// `object`, `property` or `tag`.
    pub kind: String,
    pub name: String,
    /// JSON text: the definition as given, without `name`.
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceTypeRow {
    pub name: String,
    pub protected: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssociationRow {
    pub namespace: String,
    pub resource_type: String,
    pub properties_target: Option<String>,
    pub prefix: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn ns_from_row(r: &AnyRow) -> std::result::Result<NamespaceRow, sqlx::Error> {
    Ok(NamespaceRow {
        namespace: r.try_get("namespace")?,
        display_name: r.try_get("display_name")?,
        description: r.try_get("description")?,
        visibility: r.try_get("visibility")?,
        protected: r.try_get::<i64, _>("protected")? != 0,
        owner: r.try_get("owner")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn item_from_row(r: &AnyRow) -> std::result::Result<ItemRow, sqlx::Error> {
    Ok(ItemRow {
        namespace: r.try_get("namespace")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn assoc_from_row(r: &AnyRow) -> std::result::Result<AssociationRow, sqlx::Error> {
    Ok(AssociationRow {
        namespace: r.try_get("namespace")?,
        resource_type: r.try_get("resource_type")?,
        properties_target: r.try_get("properties_target")?,
        prefix: r.try_get("prefix")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const NS_COLUMNS: &str = "namespace, display_name, description, visibility, protected, owner, created_at, updated_at";

pub async fn insert_namespace(db: &Db, ns: &NamespaceRow) -> Result<()> {
    sqlx::query(db.sql(&format!(
        "INSERT INTO metadef_namespaces ({NS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )))
    .bind(&ns.namespace)
    .bind(&ns.display_name)
    .bind(&ns.description)
    .bind(&ns.visibility)
    .bind(flag(ns.protected))
    .bind(&ns.owner)
    .bind(ns.created_at)
    .bind(ns.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn get_namespace(db: &Db, name: &str) -> Result<Option<NamespaceRow>> {
    let row = sqlx::query(db.sql("SELECT * FROM metadef_namespaces WHERE namespace = ?"))
        .bind(name)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(ns_from_row).transpose()?)
}

/// Every namespace, by name.
pub async fn list_namespaces(db: &Db) -> Result<Vec<NamespaceRow>> {
    let rows = sqlx::query(db.sql("SELECT * FROM metadef_namespaces ORDER BY namespace"))
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(ns_from_row).collect::<std::result::Result<_, _>>()?)
}

/// Rewrites namespace `old` as `ns` (its name may change: the children
/// follow).
pub async fn update_namespace(db: &Db, old: &str, ns: &NamespaceRow) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql(
        "UPDATE metadef_namespaces SET namespace = ?, display_name = ?, description = ?, visibility = ?, \
         protected = ?, owner = ?, updated_at = ? WHERE namespace = ?",
    ))
    .bind(&ns.namespace)
    .bind(&ns.display_name)
    .bind(&ns.description)
    .bind(&ns.visibility)
    .bind(flag(ns.protected))
    .bind(&ns.owner)
    .bind(ns.updated_at)
    .bind(old)
    .execute(&mut *tx)
    .await?;
    if old != ns.namespace {
        for table in ["metadef_items", "metadef_namespace_resource_types"] {
            sqlx::query(db.sql(&format!("UPDATE {table} SET namespace = ? WHERE namespace = ?")))
                .bind(&ns.namespace)
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Removes a namespace and everything in it.
pub async fn delete_namespace(db: &Db, name: &str) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    for table in [
        "metadef_items",
        "metadef_namespace_resource_types",
        "metadef_namespaces",
    ] {
        sqlx::query(db.sql(&format!("DELETE FROM {table} WHERE namespace = ?")))
            .bind(name)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn insert_item(db: &Db, item: &ItemRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO metadef_items (namespace, kind, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
    ))
    .bind(&item.namespace)
    .bind(&item.kind)
    .bind(&item.name)
    .bind(&item.body)
    .bind(item.created_at)
    .bind(item.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Replaces the items of one kind of a namespace with `items`, at once.
pub async fn replace_items(db: &Db, namespace: &str, kind: &str, items: &[ItemRow]) -> Result<()> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(db.sql("DELETE FROM metadef_items WHERE namespace = ? AND kind = ?"))
        .bind(namespace)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
    for item in items {
        sqlx::query(db.sql(
            "INSERT INTO metadef_items (namespace, kind, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind(&item.namespace)
        .bind(&item.kind)
        .bind(&item.name)
        .bind(&item.body)
        .bind(item.created_at)
        .bind(item.updated_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get_item(db: &Db, namespace: &str, kind: &str, name: &str) -> Result<Option<ItemRow>> {
    let row = sqlx::query(db.sql("SELECT * FROM metadef_items WHERE namespace = ? AND kind = ? AND name = ?"))
        .bind(namespace)
        .bind(kind)
        .bind(name)
        .fetch_optional(db.reader())
        .await?;
    Ok(row.as_ref().map(item_from_row).transpose()?)
}

/// The items of one kind of a namespace, by name.
pub async fn list_items(db: &Db, namespace: &str, kind: &str) -> Result<Vec<ItemRow>> {
    let rows = sqlx::query(db.sql("SELECT * FROM metadef_items WHERE namespace = ? AND kind = ? ORDER BY name"))
        .bind(namespace)
        .bind(kind)
        .fetch_all(db.reader())
        .await?;
    Ok(rows.iter().map(item_from_row).collect::<std::result::Result<_, _>>()?)
}

/// Rewrites item `old` as `item` (its name may change); false if `old` is gone.
pub async fn update_item(db: &Db, old: &str, item: &ItemRow) -> Result<bool> {
    let n = sqlx::query(db.sql(
        "UPDATE metadef_items SET name = ?, body = ?, updated_at = ? WHERE namespace = ? AND kind = ? AND name = ?",
    ))
    .bind(&item.name)
    .bind(&item.body)
    .bind(item.updated_at)
    .bind(&item.namespace)
    .bind(&item.kind)
    .bind(old)
    .execute(db.writer())
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Deletes one item (`Some(name)`) or all items of the kind; returns how many.
pub async fn delete_items(db: &Db, namespace: &str, kind: &str, name: Option<&str>) -> Result<u64> {
    let q = match name {
        Some(n) => sqlx::query(db.sql("DELETE FROM metadef_items WHERE namespace = ? AND kind = ? AND name = ?"))
            .bind(namespace)
            .bind(kind)
            .bind(n),
        None => sqlx::query(db.sql("DELETE FROM metadef_items WHERE namespace = ? AND kind = ?"))
            .bind(namespace)
            .bind(kind),
    };
    Ok(q.execute(db.writer()).await?.rows_affected())
}

pub async fn list_resource_types(db: &Db) -> Result<Vec<ResourceTypeRow>> {
    let rows = sqlx::query(db.sql("SELECT * FROM metadef_resource_types ORDER BY name"))
        .fetch_all(db.reader())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(ResourceTypeRow {
            name: r.try_get("name")?,
            protected: r.try_get::<i64, _>("protected")? != 0,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        });
    }
    Ok(out)
}

/// Records resource type `name` unless it exists (Glance creates unknown
/// resource types on first association).
pub async fn ensure_resource_type(db: &Db, name: &str, now: i64) -> Result<()> {
    let exists = sqlx::query(db.sql("SELECT name FROM metadef_resource_types WHERE name = ?"))
        .bind(name)
        .fetch_optional(db.reader())
        .await?
        .is_some();
    if !exists {
        let r = sqlx::query(
            db.sql("INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES (?, 0, ?, ?)"),
        )
        .bind(name)
        .bind(now)
        .bind(now)
        .execute(db.writer())
        .await;
        match r.map_err(store::classify) {
            Ok(_) | Err(store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub async fn insert_association(db: &Db, a: &AssociationRow) -> Result<()> {
    sqlx::query(db.sql(
        "INSERT INTO metadef_namespace_resource_types (namespace, resource_type, properties_target, prefix, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
    ))
    .bind(&a.namespace)
    .bind(&a.resource_type)
    .bind(&a.properties_target)
    .bind(&a.prefix)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

pub async fn list_associations(db: &Db, namespace: &str) -> Result<Vec<AssociationRow>> {
    let rows = sqlx::query(
        db.sql("SELECT * FROM metadef_namespace_resource_types WHERE namespace = ? ORDER BY resource_type"),
    )
    .bind(namespace)
    .fetch_all(db.reader())
    .await?;
    Ok(rows.iter().map(assoc_from_row).collect::<std::result::Result<_, _>>()?)
}

/// The namespaces associated with any of `types`.
pub async fn namespaces_of_types(db: &Db, types: &[String]) -> Result<Vec<String>> {
    if types.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = sqlx::query(db.sql(&format!(
        "SELECT DISTINCT namespace FROM metadef_namespace_resource_types WHERE resource_type IN ({})",
        store::placeholders(types.len())
    )));
    for t in types {
        q = q.bind(t);
    }
    let rows = q.fetch_all(db.reader()).await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("namespace"))
        .collect::<std::result::Result<_, _>>()?)
}

pub async fn delete_association(db: &Db, namespace: &str, resource_type: &str) -> Result<bool> {
    let n =
        sqlx::query(db.sql("DELETE FROM metadef_namespace_resource_types WHERE namespace = ? AND resource_type = ?"))
            .bind(namespace)
            .bind(resource_type)
            .execute(db.writer())
            .await?
            .rows_affected();
    Ok(n > 0)
}
