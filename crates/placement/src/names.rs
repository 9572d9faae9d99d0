//! Resource classes and traits: the standard ones (see [`crate::standard`])
//! and the `CUSTOM_` ones an admin or a service adds.

use std::collections::BTreeSet;

use crate::db::Conn;
use crate::db::names::{self as q, Table};
use crate::error::{PlacementError, Result, codes};
use crate::{Placement, standard};

pub async fn class_exists(p: &Placement, c: &mut Conn, name: &str) -> Result<bool> {
    Ok(standard::is_standard_class(name) || q::exists(&p.db, c, Table::ResourceClasses, name).await?)
}

/// The traits among `names` that exist nowhere, sorted.
pub async fn missing_traits<'a>(
    p: &Placement,
    c: &mut Conn,
    names: impl Iterator<Item = &'a String>,
) -> Result<Vec<String>> {
    let mut missing = BTreeSet::new();
    for n in names {
        if !standard::is_standard_trait(n) && !q::exists(&p.db, c, Table::Traits, n).await? {
            missing.insert(n.clone());
        }
    }
    Ok(missing.into_iter().collect())
}

// --- resource classes -------------------------------------------------------------

/// The standard classes in os-resource-classes' order, then the custom ones.
pub async fn list_classes(p: &Placement) -> Result<Vec<String>> {
    let mut c = p.reader().await?;
    let mut out: Vec<String> = standard::RESOURCE_CLASSES.iter().map(|s| s.to_string()).collect();
    out.extend(q::list(&p.db, &mut c, Table::ResourceClasses).await?);
    Ok(out)
}

pub async fn show_class(p: &Placement, name: &str) -> Result<()> {
    let mut c = p.reader().await?;
    if class_exists(p, &mut c, name).await? {
        Ok(())
    } else {
        Err(PlacementError::not_found(format!("No such resource class {name}.")))
    }
}

/// Creates a custom class; `Ok(false)` when it was there already.
pub async fn ensure_class(p: &Placement, name: &str) -> Result<bool> {
    let mut tx = p.begin().await?;
    if class_exists(p, &mut tx, name).await? {
        return Ok(false);
    }
    match q::insert(&p.db, &mut tx, Table::ResourceClasses, name).await {
        Err(PlacementError::Store(store::StoreError::Conflict(_))) => return Ok(false),
        other => other?,
    }
    tx.commit().await?;
    Ok(true)
}

pub async fn create_class(p: &Placement, name: &str) -> Result<()> {
    if ensure_class(p, name).await? {
        Ok(())
    } else {
        Err(PlacementError::conflict_code(
            format!("Conflicting resource class already exists: {name}"),
            codes::DUPLICATE_NAME,
        ))
    }
}

/// `PUT /resource_classes/{name}` before 1.7: renames a custom class.
pub async fn rename_class(p: &Placement, from: &str, to: &str) -> Result<()> {
    if standard::is_standard_class(from) {
        return Err(PlacementError::bad(format!(
            "Cannot update standard resource class {from}"
        )));
    }
    let mut tx = p.begin().await?;
    if class_exists(p, &mut tx, to).await? {
        return Err(PlacementError::conflict_code(
            format!("Resource class already exists: {to}"),
            codes::DUPLICATE_NAME,
        ));
    }
    if crate::db::inventories::class_in_use(&p.db, &mut tx, from).await? {
        return Err(PlacementError::conflict(format!(
            "Cannot update resource class {from}. Class is in use in inventory."
        )));
    }
    if !q::rename(&p.db, &mut tx, Table::ResourceClasses, from, to).await? {
        return Err(PlacementError::not_found(format!("No such resource class {from}.")));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete_class(p: &Placement, name: &str) -> Result<()> {
    if standard::is_standard_class(name) {
        return Err(PlacementError::bad(format!(
            "Error in delete resource class '{name}': Cannot delete standard resource class {name}."
        )));
    }
    let mut tx = p.begin().await?;
    if !q::exists(&p.db, &mut tx, Table::ResourceClasses, name).await? {
        return Err(PlacementError::not_found(format!("No such resource class {name}.")));
    }
    if crate::db::inventories::class_in_use(&p.db, &mut tx, name).await? {
        return Err(PlacementError::conflict(format!(
            "Error in delete resource class '{name}': Cannot delete resource class {name}. Class is in use in inventory."
        )));
    }
    q::delete(&p.db, &mut tx, Table::ResourceClasses, name).await?;
    tx.commit().await?;
    Ok(())
}

// --- traits -------------------------------------------------------------------

/// The `name` filter of `GET /traits`.
#[derive(Clone, Debug)]
pub enum TraitName {
    StartsWith(String),
    In(BTreeSet<String>),
}

pub async fn list_traits(p: &Placement, name: Option<&TraitName>, associated: Option<bool>) -> Result<Vec<String>> {
    let mut c = p.reader().await?;
    let mut all: BTreeSet<String> = standard::traits().map(str::to_owned).collect();
    all.extend(q::list(&p.db, &mut c, Table::Traits).await?);
    if let Some(f) = name {
        all.retain(|t| match f {
            TraitName::StartsWith(prefix) => t.starts_with(prefix.as_str()),
            TraitName::In(set) => set.contains(t),
        });
    }
    if let Some(assoc) = associated {
        let used = crate::db::providers::associated_traits(&p.db, &mut c).await?;
        all.retain(|t| used.contains(t) == assoc);
    }
    Ok(all.into_iter().collect())
}

pub async fn show_trait(p: &Placement, name: &str) -> Result<()> {
    let mut c = p.reader().await?;
    if missing_traits(p, &mut c, [name.to_owned()].iter()).await?.is_empty() {
        Ok(())
    } else {
        Err(PlacementError::not_found(format!("No such trait(s): {name}.")))
    }
}

/// Creates a custom trait; `Ok(false)` when it was there already.
pub async fn ensure_trait(p: &Placement, name: &str) -> Result<bool> {
    if standard::is_standard_trait(name) {
        return Ok(false);
    }
    let mut tx = p.begin().await?;
    if q::exists(&p.db, &mut tx, Table::Traits, name).await? {
        return Ok(false);
    }
    match q::insert(&p.db, &mut tx, Table::Traits, name).await {
        Err(PlacementError::Store(store::StoreError::Conflict(_))) => return Ok(false),
        other => other?,
    }
    tx.commit().await?;
    Ok(true)
}

pub async fn delete_trait(p: &Placement, name: &str) -> Result<()> {
    if standard::is_standard_trait(name) {
        return Err(PlacementError::bad(format!("Cannot delete standard trait {name}.")));
    }
    let mut tx = p.begin().await?;
    if !q::exists(&p.db, &mut tx, Table::Traits, name).await? {
        return Err(PlacementError::not_found(format!("No such trait(s): {name}.")));
    }
    if crate::db::providers::trait_in_use(&p.db, &mut tx, name).await? {
        return Err(PlacementError::conflict(format!(
            "The trait {name} is in use by a resource provider."
        )));
    }
    q::delete(&p.db, &mut tx, Table::Traits, name).await?;
    tx.commit().await?;
    Ok(())
}
