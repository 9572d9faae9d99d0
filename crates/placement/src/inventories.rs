//! Inventories: how much of each resource class a provider offers, with
//! Placement's defaults and constraints. Capacity is
//! `(total - reserved) * allocation_ratio`.

use std::collections::BTreeMap;

use crate::db::inventories::{self as q};
use crate::error::{PlacementError, Result, codes};
use crate::providers::{Provider, bump, check_generation, load};
use crate::{Placement, db, names};

pub use crate::db::inventories::InventoryRow as Inventory;

/// `MAX_INT` of Placement's schema.
pub const MAX_INT: i64 = 2_147_483_647;

/// The capacity, as Placement computes it.
pub fn capacity_f(i: &Inventory) -> f64 {
    (i.total - i.reserved) as f64 * i.allocation_ratio
}

/// The capacity shown in provider summaries (truncated, as Python's `int`).
pub fn capacity(i: &Inventory) -> i64 {
    capacity_f(i) as i64
}

/// An inventory with Placement's defaults for what the client left out
/// (`reserved` 0, `min_unit` 1, `max_unit` MAX_INT, `step_size` 1,
/// `allocation_ratio` 1.0).
pub fn with_defaults(
    resource_class: String,
    total: i64,
    reserved: Option<i64>,
    min_unit: Option<i64>,
    max_unit: Option<i64>,
    step_size: Option<i64>,
    allocation_ratio: Option<f64>,
) -> Inventory {
    Inventory {
        resource_class,
        total,
        reserved: reserved.unwrap_or(0),
        min_unit: min_unit.unwrap_or(1),
        max_unit: max_unit.unwrap_or(MAX_INT),
        step_size: step_size.unwrap_or(1),
        allocation_ratio: allocation_ratio.unwrap_or(1.0),
    }
}

/// Reserved may equal total from 1.26 on, never exceed it.
fn check_capacity(rp: &str, inv: &Inventory, reserved_can_be_total: bool) -> Result<()> {
    let bad = if reserved_can_be_total {
        inv.reserved > inv.total
    } else {
        inv.reserved >= inv.total
    };
    if bad {
        let rel = if reserved_can_be_total {
            "greater than"
        } else {
            "greater than or equal to"
        };
        return Err(PlacementError::bad(format!(
            "Unable to update inventory for resource provider {rp}: Invalid inventory for '{}' on resource \
             provider '{rp}'. The reserved value is {rel} total.",
            inv.resource_class
        )));
    }
    Ok(())
}

pub async fn list(p: &Placement, uuid: &str) -> Result<(Provider, Vec<Inventory>)> {
    let mut c = p.reader().await?;
    let rp = q_provider(p, &mut c, uuid).await?;
    let inv = q::of_provider(&p.db, &mut c, uuid).await?;
    Ok((rp, inv))
}

async fn q_provider(p: &Placement, c: &mut db::Conn, uuid: &str) -> Result<Provider> {
    crate::db::providers::get(&p.db, c, uuid).await?.ok_or_else(|| {
        PlacementError::not_found(format!(
            "No resource provider with uuid {uuid} found : No resource provider with uuid {uuid} found"
        ))
    })
}

pub async fn show(p: &Placement, uuid: &str, rc: &str) -> Result<(Provider, Inventory)> {
    let (rp, inv) = list(p, uuid).await?;
    let one = inv
        .into_iter()
        .find(|i| i.resource_class == rc)
        .ok_or_else(|| PlacementError::not_found(format!("No inventory of class {rc} for {uuid}")))?;
    Ok((rp, one))
}

async fn check_classes<'a>(
    p: &Placement,
    c: &mut db::Conn,
    uuid: &str,
    classes: impl Iterator<Item = &'a String>,
) -> Result<()> {
    for rc in classes {
        if !names::class_exists(p, c, rc).await? {
            return Err(PlacementError::bad(format!(
                "Unknown resource class in inventory for resource provider {uuid}: No such resource class {rc}."
            )));
        }
    }
    Ok(())
}

/// `PUT /resource_providers/{uuid}/inventories`: the provider's whole
/// inventory becomes `wanted`.
pub async fn set_all(
    p: &Placement,
    uuid: &str,
    generation: i64,
    wanted: Vec<Inventory>,
    reserved_can_be_total: bool,
) -> Result<(i64, Vec<Inventory>)> {
    let mut tx = p.begin().await?;
    let rp = load(p, &mut tx, uuid).await?;
    check_generation(&rp, generation)?;
    check_classes(p, &mut tx, uuid, wanted.iter().map(|i| &i.resource_class)).await?;
    for inv in &wanted {
        check_capacity(uuid, inv, reserved_can_be_total)?;
    }
    let current: BTreeMap<String, Inventory> = q::of_provider(&p.db, &mut tx, uuid)
        .await?
        .into_iter()
        .map(|i| (i.resource_class.clone(), i))
        .collect();
    let wanted_classes: Vec<&String> = wanted.iter().map(|i| &i.resource_class).collect();
    let in_use = crate::db::allocations::classes_in_use(&p.db, &mut tx, uuid).await?;
    let removed_in_use: Vec<&String> = current
        .keys()
        .filter(|rc| !wanted_classes.contains(rc) && in_use.contains(rc))
        .collect();
    if !removed_in_use.is_empty() {
        return Err(PlacementError::conflict_code(
            format!(
                "update conflict: Inventory for '{}' on resource provider '{uuid}' in use.",
                removed_in_use.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
            codes::INVENTORY_INUSE,
        ));
    }
    for rc in current.keys() {
        if !wanted_classes.contains(&rc) {
            q::delete(&p.db, &mut tx, uuid, rc).await?;
        }
    }
    for inv in &wanted {
        if current.contains_key(&inv.resource_class) {
            q::update(&p.db, &mut tx, uuid, inv).await?;
        } else {
            q::insert(&p.db, &mut tx, uuid, inv).await?;
        }
    }
    let g = bump(p, &mut tx, &rp).await?;
    tx.commit().await?;
    let mut wanted = wanted;
    wanted.sort_by(|a, b| a.resource_class.cmp(&b.resource_class));
    Ok((g, wanted))
}

/// `POST /resource_providers/{uuid}/inventories`: one new class.
pub async fn create(p: &Placement, uuid: &str, inv: Inventory, reserved_can_be_total: bool) -> Result<i64> {
    let mut tx = p.begin().await?;
    let rp = load(p, &mut tx, uuid).await?;
    if !names::class_exists(p, &mut tx, &inv.resource_class).await? {
        return Err(PlacementError::bad(format!(
            "Unable to create inventory for resource provider {uuid}: No such resource class {}.",
            inv.resource_class
        )));
    }
    check_capacity(uuid, &inv, reserved_can_be_total)?;
    if q::of_provider(&p.db, &mut tx, uuid)
        .await?
        .iter()
        .any(|i| i.resource_class == inv.resource_class)
    {
        return Err(PlacementError::conflict_code(
            format!(
                "Update conflict: Inventory for '{}' on resource provider '{uuid}' already exists.",
                inv.resource_class
            ),
            codes::CONCURRENT_UPDATE,
        ));
    }
    q::insert(&p.db, &mut tx, uuid, &inv).await?;
    let g = bump(p, &mut tx, &rp).await?;
    tx.commit().await?;
    Ok(g)
}

/// `PUT /resource_providers/{uuid}/inventories/{rc}`: an existing class.
pub async fn update(
    p: &Placement,
    uuid: &str,
    generation: i64,
    inv: Inventory,
    reserved_can_be_total: bool,
) -> Result<i64> {
    let mut tx = p.begin().await?;
    let rp = load(p, &mut tx, uuid).await?;
    check_generation(&rp, generation)?;
    check_capacity(uuid, &inv, reserved_can_be_total)?;
    if !q::update(&p.db, &mut tx, uuid, &inv).await? {
        return Err(PlacementError::bad(format!(
            "No inventory record with resource class for resource provider {uuid}: No inventory of class {} found.",
            inv.resource_class
        )));
    }
    let g = bump(p, &mut tx, &rp).await?;
    tx.commit().await?;
    Ok(g)
}

/// `DELETE /resource_providers/{uuid}/inventories/{rc}`.
pub async fn delete(p: &Placement, uuid: &str, rc: &str) -> Result<()> {
    let mut tx = p.begin().await?;
    let rp = load(p, &mut tx, uuid).await?;
    if crate::db::allocations::classes_in_use(&p.db, &mut tx, uuid)
        .await?
        .iter()
        .any(|c| c == rc)
    {
        return Err(PlacementError::conflict_code(
            format!(
                "Unable to delete inventory of class {rc}: Inventory for '{rc}' on resource provider '{uuid}' in use."
            ),
            codes::CONCURRENT_UPDATE,
        ));
    }
    if !q::delete(&p.db, &mut tx, uuid, rc).await? {
        return Err(PlacementError::not_found(format!(
            "No inventory of class {rc} found for delete: No inventory of class {rc} found."
        )));
    }
    bump(p, &mut tx, &rp).await?;
    tx.commit().await?;
    Ok(())
}

/// `DELETE /resource_providers/{uuid}/inventories` (1.5).
pub async fn delete_all(p: &Placement, uuid: &str) -> Result<()> {
    let mut tx = p.begin().await?;
    let rp = load(p, &mut tx, uuid).await?;
    let in_use = crate::db::allocations::classes_in_use(&p.db, &mut tx, uuid).await?;
    if !in_use.is_empty() {
        return Err(PlacementError::conflict_code(
            format!(
                "Inventory for '{}' on resource provider '{uuid}' in use.",
                in_use.join(", ")
            ),
            codes::INVENTORY_INUSE,
        ));
    }
    for inv in q::of_provider(&p.db, &mut tx, uuid).await? {
        q::delete(&p.db, &mut tx, uuid, &inv.resource_class).await?;
    }
    bump(p, &mut tx, &rp).await?;
    tx.commit().await?;
    Ok(())
}

/// A provider's usage of every class it has inventory of (0 when unused).
pub async fn usages(p: &Placement, uuid: &str) -> Result<(Provider, BTreeMap<String, i64>)> {
    let mut c = p.reader().await?;
    let rp = crate::db::providers::get(&p.db, &mut c, uuid).await?.ok_or_else(|| {
        PlacementError::not_found(format!(
            "No resource provider with uuid {uuid} found: No resource provider with uuid {uuid} found"
        ))
    })?;
    let used = q::usage_of_provider(&p.db, &mut c, uuid).await?;
    let mut out: BTreeMap<String, i64> = q::of_provider(&p.db, &mut c, uuid)
        .await?
        .into_iter()
        .map(|i| (i.resource_class, 0))
        .collect();
    for (rc, n) in used {
        out.insert(rc, n);
    }
    Ok((rp, out))
}
