//! Resource providers: the trees (`parent_provider_uuid`,
//! `root_provider_uuid`), their traits and aggregates, and the list
//! filters of `GET /resource_providers`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::db::inventories::InventoryRow;
use crate::db::providers::{self as q, ProviderRow};
use crate::db::{self, Conn};
use crate::error::{PlacementError, Result, codes};
use crate::{Placement, names};

pub use crate::db::providers::ProviderRow as Provider;

pub fn not_found(uuid: &str) -> PlacementError {
    PlacementError::not_found(format!("No resource provider with uuid {uuid} found"))
}

/// Reads a provider or answers 404.
pub(crate) async fn load(p: &Placement, c: &mut Conn, uuid: &str) -> Result<ProviderRow> {
    q::get(&p.db, c, uuid).await?.ok_or_else(|| not_found(uuid))
}

/// The generation swap of a write, or the retryable conflict.
pub(crate) async fn bump(p: &Placement, c: &mut Conn, rp: &ProviderRow) -> Result<i64> {
    if q::bump_generation(&p.db, c, &rp.uuid, rp.generation).await? {
        Ok(rp.generation + 1)
    } else {
        Err(PlacementError::ConcurrentUpdate(format!(
            "Another thread concurrently updated the resource provider {} data. Please retry your update",
            rp.uuid
        )))
    }
}

/// The generation the client sent must be the provider's.
pub(crate) fn check_generation(rp: &ProviderRow, given: i64) -> Result<()> {
    if rp.generation == given {
        Ok(())
    } else {
        Err(PlacementError::conflict_code(
            "resource provider generation conflict",
            codes::CONCURRENT_UPDATE,
        ))
    }
}

pub async fn get(p: &Placement, uuid: &str) -> Result<ProviderRow> {
    let mut c = p.reader().await?;
    load(p, &mut c, uuid).await
}

pub async fn create(p: &Placement, uuid: String, name: String, parent: Option<String>) -> Result<ProviderRow> {
    let fail = |reason: &str| {
        PlacementError::bad(format!(
            "Unable to create resource provider \"{name}\", {uuid}: Object action create failed because: {reason}"
        ))
    };
    if parent.as_deref() == Some(uuid.as_str()) {
        return Err(fail(
            "parent provider UUID cannot be same as UUID. Please choose different parent provider UUID.",
        ));
    }
    let mut tx = p.begin().await?;
    let root = match &parent {
        Some(pu) => match q::get(&p.db, &mut tx, pu).await? {
            Some(parent) => parent.root_uuid,
            None => return Err(fail("parent provider UUID does not exist.")),
        },
        None => uuid.clone(),
    };
    let mut dups = Vec::new();
    if q::get(&p.db, &mut tx, &uuid).await?.is_some() {
        dups.push(format!("uuid: {uuid}"));
    }
    if !q::list(&p.db, &mut tx, Some(&name), None, None).await?.is_empty() {
        dups.push(format!("name: {name}"));
    }
    let duplicate = |dups: &[String]| {
        PlacementError::conflict_code(
            format!("Conflicting resource provider {} already exists.", dups.join(", ")),
            codes::DUPLICATE_NAME,
        )
    };
    if !dups.is_empty() {
        return Err(duplicate(&dups));
    }
    let row = ProviderRow {
        uuid: uuid.clone(),
        name: name.clone(),
        generation: 0,
        parent_uuid: parent,
        root_uuid: root,
        updated_at: db::now(),
    };
    match q::insert(&p.db, &mut tx, &row).await {
        Err(PlacementError::Store(store::StoreError::Conflict(_))) => {
            return Err(duplicate(&[format!("name: {name}")]));
        }
        other => other?,
    }
    tx.commit().await?;
    Ok(row)
}

/// `PUT /resource_providers/{uuid}`: a new name and, when `parent` is
/// given, a new parent (re-parenting and un-parenting only when
/// `allow_reparenting`, microversion 1.37).
pub async fn update(
    p: &Placement,
    uuid: &str,
    name: String,
    parent: Option<Option<String>>,
    allow_reparenting: bool,
) -> Result<ProviderRow> {
    let fail = |reason: &str| {
        PlacementError::bad(format!(
            "Unable to save resource provider {uuid}: Object action update failed because: {reason}"
        ))
    };
    let mut tx = p.begin().await?;
    let rp = load(p, &mut tx, uuid).await?;
    let mut new_parent = rp.parent_uuid.clone();
    let mut new_root = rp.root_uuid.clone();
    if let Some(wanted) = parent
        && wanted != rp.parent_uuid
    {
        match wanted {
            Some(pu) => {
                let Some(parent_row) = q::get(&p.db, &mut tx, &pu).await? else {
                    return Err(PlacementError::bad(format!(
                        "Unable to save resource provider {uuid}: Object action create failed because: \
                         parent provider UUID does not exist."
                    )));
                };
                if rp.parent_uuid.is_some() && !allow_reparenting {
                    return Err(fail("re-parenting a provider is not currently allowed."));
                }
                // No loops: the new parent may not be this provider or below it.
                let tree = q::tree(&p.db, &mut tx, &rp.root_uuid).await?;
                if pu == rp.uuid || descendants(&tree, &rp.uuid).contains(&pu) {
                    return Err(fail("creating loop in the provider tree is not allowed."));
                }
                new_root = parent_row.root_uuid;
                new_parent = Some(pu);
            }
            None => {
                if !allow_reparenting {
                    return Err(fail("un-parenting a provider is not currently allowed."));
                }
                new_parent = None;
                new_root = rp.uuid.clone();
            }
        }
    }
    if name != rp.name && !q::list(&p.db, &mut tx, Some(&name), None, None).await?.is_empty() {
        return Err(PlacementError::conflict_code(
            format!("Conflicting resource provider {name} already exists."),
            codes::DUPLICATE_NAME,
        ));
    }
    if new_root != rp.root_uuid {
        let tree = q::tree(&p.db, &mut tx, &rp.root_uuid).await?;
        let moved: Vec<String> = descendants(&tree, &rp.uuid).into_iter().collect();
        q::set_root(&p.db, &mut tx, &moved, &new_root).await?;
    }
    match q::update(&p.db, &mut tx, uuid, &name, new_parent.as_deref(), &new_root).await {
        Err(PlacementError::Store(store::StoreError::Conflict(_))) => {
            return Err(PlacementError::conflict_code(
                format!("Conflicting resource provider {name} already exists."),
                codes::DUPLICATE_NAME,
            ));
        }
        other => other?,
    }
    let row = load(p, &mut tx, uuid).await?;
    tx.commit().await?;
    Ok(row)
}

/// The providers below `uuid` in a tree given as (uuid, parent) pairs.
fn descendants(tree: &[(String, Option<String>)], uuid: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut frontier = vec![uuid.to_owned()];
    while let Some(u) = frontier.pop() {
        for (child, parent) in tree {
            if parent.as_deref() == Some(u.as_str()) && out.insert(child.clone()) {
                frontier.push(child.clone());
            }
        }
    }
    out
}

pub async fn delete(p: &Placement, uuid: &str) -> Result<()> {
    crate::with_retries(|| async {
        let mut tx = p.begin().await?;
        let rp = q::get(&p.db, &mut tx, uuid).await?.ok_or_else(|| {
            PlacementError::not_found(format!("No resource provider with uuid {uuid} found for delete"))
        })?;
        // Serializes with allocation writes on this provider.
        bump(p, &mut tx, &rp).await?;
        if crate::db::allocations::provider_has_allocations(&p.db, &mut tx, uuid).await? {
            return Err(PlacementError::conflict_code(
                format!("Unable to delete resource provider {uuid}: Resource provider has allocations."),
                codes::PROVIDER_IN_USE,
            ));
        }
        if q::children_count(&p.db, &mut tx, uuid).await? > 0 {
            return Err(PlacementError::conflict_code(
                format!("Unable to delete parent resource provider {uuid}: It has child resource providers."),
                codes::PROVIDER_CANNOT_DELETE_PARENT,
            ));
        }
        q::delete(&p.db, &mut tx, uuid).await?;
        tx.commit().await?;
        Ok(())
    })
    .await
}

/// Required traits: each set is "any of"; all sets must be met.
#[derive(Clone, Debug, Default)]
pub struct TraitFilter {
    pub required: Vec<BTreeSet<String>>,
    pub forbidden: BTreeSet<String>,
}

impl TraitFilter {
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.forbidden.is_empty()
    }
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.required.iter().flatten().chain(self.forbidden.iter())
    }
    pub fn matches(&self, traits: &BTreeSet<String>) -> bool {
        self.required.iter().all(|any| any.iter().any(|t| traits.contains(t)))
            && self.forbidden.iter().all(|t| !traits.contains(t))
    }
}

/// Aggregate membership: each set is "any of"; all sets must be met.
#[derive(Clone, Debug, Default)]
pub struct AggregateFilter {
    pub member_of: Vec<BTreeSet<String>>,
    pub forbidden: BTreeSet<String>,
}

impl AggregateFilter {
    pub fn is_empty(&self) -> bool {
        self.member_of.is_empty() && self.forbidden.is_empty()
    }
    pub fn matches(&self, aggs: &BTreeSet<String>) -> bool {
        self.member_of.iter().all(|any| any.iter().any(|a| aggs.contains(a)))
            && self.forbidden.iter().all(|a| !aggs.contains(a))
    }
}

/// The filters of `GET /resource_providers`.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub in_tree: Option<String>,
    pub aggregates: AggregateFilter,
    pub traits: TraitFilter,
    pub resources: BTreeMap<String, i64>,
}

/// What the list filters and the candidate search look at, read at once.
pub struct World {
    pub providers: Vec<ProviderRow>,
    pub inventories: HashMap<String, Vec<InventoryRow>>,
    pub usage: HashMap<(String, String), i64>,
    pub traits: HashMap<String, BTreeSet<String>>,
    pub aggregates: HashMap<String, BTreeSet<String>>,
}

impl World {
    pub async fn load(p: &Placement, c: &mut Conn, root: Option<&str>) -> Result<World> {
        Ok(World {
            providers: q::list(&p.db, c, None, None, root).await?,
            inventories: crate::db::inventories::all(&p.db, c).await?,
            usage: crate::db::inventories::all_usage(&p.db, c).await?,
            traits: q::all_traits(&p.db, c).await?,
            aggregates: q::all_aggregates(&p.db, c).await?,
        })
    }

    pub fn used(&self, rp: &str, rc: &str) -> i64 {
        self.usage.get(&(rp.to_owned(), rc.to_owned())).copied().unwrap_or(0)
    }

    pub fn inventory(&self, rp: &str, rc: &str) -> Option<&InventoryRow> {
        self.inventories.get(rp)?.iter().find(|i| i.resource_class == rc)
    }

    pub fn traits_of(&self, rp: &str) -> BTreeSet<String> {
        self.traits.get(rp).cloned().unwrap_or_default()
    }

    pub fn aggregates_of(&self, rp: &str) -> BTreeSet<String> {
        self.aggregates.get(rp).cloned().unwrap_or_default()
    }

    /// Whether `amount` of `rc` more fits on `rp` on top of `extra` already
    /// planned there: capacity and the min/max/step constraints.
    pub fn fits(&self, rp: &str, rc: &str, amount: i64, extra: i64) -> bool {
        let Some(inv) = self.inventory(rp, rc) else {
            return false;
        };
        amount >= inv.min_unit
            && amount <= inv.max_unit
            && amount % inv.step_size.max(1) == 0
            && crate::inventories::capacity_f(inv) >= (self.used(rp, rc) + extra + amount) as f64
    }
}

pub async fn list(p: &Placement, f: &ListFilter) -> Result<Vec<ProviderRow>> {
    let mut c = p.reader().await?;
    for rc in f.resources.keys() {
        if !names::class_exists(p, &mut c, rc).await? {
            return Err(PlacementError::bad(format!(
                "Invalid resource class in resources parameter: No such resource class {rc}."
            )));
        }
    }
    let missing = names::missing_traits(p, &mut c, f.traits.names()).await?;
    if !missing.is_empty() {
        return Err(PlacementError::bad(format!(
            "Invalid trait(s) in \"required\" parameter: No such trait(s): {}.",
            missing.join(", ")
        )));
    }
    let root = match &f.in_tree {
        Some(u) => match q::get(&p.db, &mut c, u).await? {
            Some(rp) => Some(rp.root_uuid),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let mut rows = q::list(&p.db, &mut c, f.name.as_deref(), f.uuid.as_deref(), root.as_deref()).await?;
    if f.aggregates.is_empty() && f.traits.is_empty() && f.resources.is_empty() {
        return Ok(rows);
    }
    let world = World::load(p, &mut c, root.as_deref()).await?;
    rows.retain(|rp| {
        f.aggregates.matches(&world.aggregates_of(&rp.uuid))
            && f.traits.matches(&world.traits_of(&rp.uuid))
            && f.resources
                .iter()
                .all(|(rc, amount)| world.fits(&rp.uuid, rc, *amount, 0))
    });
    Ok(rows)
}

// --- traits ------------------------------------------------------------------

pub async fn traits(p: &Placement, uuid: &str) -> Result<(ProviderRow, Vec<String>)> {
    let mut c = p.reader().await?;
    let rp = load(p, &mut c, uuid).await?;
    let t = q::traits(&p.db, &mut c, uuid).await?;
    Ok((rp, t))
}

/// Replaces a provider's traits (empty: removes them all); `generation`
/// None skips the check (`DELETE`).
pub async fn set_traits(
    p: &Placement,
    uuid: &str,
    generation: Option<i64>,
    traits: BTreeSet<String>,
) -> Result<(i64, Vec<String>)> {
    let mut tx = p.begin().await?;
    let rp = load(p, &mut tx, uuid).await?;
    if let Some(g) = generation {
        check_generation(&rp, g)?;
    }
    let missing = names::missing_traits(p, &mut tx, traits.iter()).await?;
    if !missing.is_empty() {
        return Err(PlacementError::bad(format!(
            "No such trait(s): {}.",
            missing.join(", ")
        )));
    }
    q::set_traits(&p.db, &mut tx, uuid, &traits).await?;
    let g = bump(p, &mut tx, &rp).await?;
    tx.commit().await?;
    Ok((g, traits.into_iter().collect()))
}

// --- aggregates ------------------------------------------------------------------

pub async fn aggregates(p: &Placement, uuid: &str) -> Result<(ProviderRow, Vec<String>)> {
    let mut c = p.reader().await?;
    let rp = load(p, &mut c, uuid).await?;
    let a = q::aggregates(&p.db, &mut c, uuid).await?;
    Ok((rp, a))
}

/// Replaces a provider's aggregates; `generation` None (before 1.19) skips
/// the check. The generation moves either way.
pub async fn set_aggregates(
    p: &Placement,
    uuid: &str,
    generation: Option<i64>,
    aggs: BTreeSet<String>,
) -> Result<(i64, Vec<String>)> {
    let mut tx = p.begin().await?;
    let rp = load(p, &mut tx, uuid).await?;
    if let Some(g) = generation {
        check_generation(&rp, g)?;
    }
    q::set_aggregates(&p.db, &mut tx, uuid, &aggs).await?;
    let g = bump(p, &mut tx, &rp).await?;
    tx.commit().await?;
    Ok((g, aggs.into_iter().collect()))
}
