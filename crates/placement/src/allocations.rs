//! Allocations: what each consumer (an instance, a migration…) holds on
//! which providers; consumers and their generations; the capacity checks;
//! usages per project.
//!
//! A write replaces the whole allocation set of each consumer named, in one
//! transaction: the consumer generations are checked, every provider that
//! receives allocations has its generation swapped (which serializes
//! writers of that provider), the consumers' old allocations are removed,
//! the capacity of each (provider, class) is checked against what remains
//! plus what is asked, and the new rows are written. A lost swap rolls the
//! lot back and the write is tried again.

use std::collections::{BTreeMap, HashMap};

use crate::db::allocations::{self as q, AllocationRow, ConsumerRow};
use crate::db::inventories as inv_q;
use crate::error::{PlacementError, Result};
use crate::inventories::capacity_f;
use crate::providers::bump;
use crate::{Placement, names};

/// The consumer-generation check of a write (1.28+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerationCheck {
    /// Before 1.28: not checked.
    Unchecked,
    /// `null`: the consumer must not exist yet.
    New,
    /// The consumer must be at this generation.
    At(i64),
}

/// One consumer's new allocation set.
#[derive(Clone, Debug)]
pub struct ConsumerWrite {
    pub consumer_uuid: String,
    pub project_id: String,
    pub user_id: String,
    pub generation: GenerationCheck,
    /// Some from 1.38 on.
    pub consumer_type: Option<String>,
    /// Provider → class → amount; empty removes the consumer's allocations.
    pub allocations: BTreeMap<String, BTreeMap<String, i64>>,
}

/// How the caller spells a failure to allocate: `PUT` names the consumer.
#[derive(Clone, Copy, Debug)]
pub enum Verb {
    Put,
    Post,
}

/// Replaces the allocations of every consumer in `writes`, atomically.
pub async fn replace(p: &Placement, writes: &[ConsumerWrite], verb: Verb) -> Result<()> {
    // What does not depend on the transaction: classes and providers exist.
    {
        let mut c = p.reader().await?;
        for w in writes {
            for resources in w.allocations.values() {
                for rc in resources.keys() {
                    if !names::class_exists(p, &mut c, rc).await? {
                        return Err(PlacementError::bad(match verb {
                            Verb::Put => format!(
                                "Unable to allocate inventory for consumer {}: No such resource class {rc}.",
                                w.consumer_uuid
                            ),
                            Verb::Post => format!("Unable to allocate inventory No such resource class {rc}."),
                        }));
                    }
                }
            }
            for rp in w.allocations.keys() {
                if crate::db::providers::get(&p.db, &mut c, rp).await?.is_none() {
                    return Err(PlacementError::bad(format!(
                        "Allocation for resource provider '{rp}' that does not exist."
                    )));
                }
            }
        }
    }
    crate::with_retries(|| attempt(p, writes)).await
}

async fn attempt(p: &Placement, writes: &[ConsumerWrite]) -> Result<()> {
    let db = &p.db;
    let mut tx = p.begin().await?;
    // 1. The consumers, and their generations.
    let mut existing: HashMap<&str, Option<ConsumerRow>> = HashMap::new();
    for w in writes {
        let row = q::consumer_get(db, &mut tx, &w.consumer_uuid).await?;
        match (w.generation, &row) {
            (GenerationCheck::At(g), Some(r)) if r.generation != g => {
                return Err(generation_conflict(&r.generation.to_string(), g));
            }
            (GenerationCheck::At(g), None) => return Err(generation_conflict("null", g)),
            (GenerationCheck::New, Some(r)) => {
                return Err(PlacementError::conflict_code(
                    format!("consumer generation conflict - expected {} but got None", r.generation),
                    crate::error::codes::CONCURRENT_UPDATE,
                ));
            }
            _ => {}
        }
        existing.insert(&w.consumer_uuid, row);
    }
    // 2. Lock the providers that receive allocations: the generation swap.
    let mut wanted: BTreeMap<(String, String), i64> = BTreeMap::new();
    for w in writes {
        for (rp, resources) in &w.allocations {
            for (rc, n) in resources {
                *wanted.entry((rp.clone(), rc.clone())).or_default() += n;
            }
        }
    }
    let mut providers: Vec<&String> = writes.iter().flat_map(|w| w.allocations.keys()).collect();
    providers.sort();
    providers.dedup();
    let mut usage_before: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for rp in &providers {
        let row = crate::db::providers::get(db, &mut tx, rp).await?.ok_or_else(|| {
            PlacementError::bad(format!("Allocation for resource provider '{rp}' that does not exist."))
        })?;
        bump(p, &mut tx, &row).await?;
        usage_before.insert((*rp).clone(), inv_q::usage_of_provider(db, &mut tx, rp).await?);
    }
    // 3. Out with the old.
    for w in writes {
        if existing.get(w.consumer_uuid.as_str()).is_some_and(Option::is_some) {
            q::delete_of_consumer(db, &mut tx, &w.consumer_uuid).await?;
        }
    }
    // 4. The capacity checks, against what remains.
    for rp in &providers {
        let inventories = inv_q::of_provider(db, &mut tx, rp).await?;
        let used = inv_q::usage_of_provider(db, &mut tx, rp).await?;
        for w in writes {
            let Some(resources) = w.allocations.get(*rp) else {
                continue;
            };
            for (rc, amount) in resources {
                let Some(inv) = inventories.iter().find(|i| &i.resource_class == rc) else {
                    return Err(PlacementError::conflict(format!(
                        "Unable to allocate inventory: Inventory for '{rc}' on resource provider '{rp}' invalid."
                    )));
                };
                if *amount < inv.min_unit || *amount > inv.max_unit || amount % inv.step_size.max(1) != 0 {
                    return Err(PlacementError::conflict(format!(
                        "Unable to allocate inventory: Unable to create allocation for '{rc}' on resource provider \
                         '{rp}'. The requested amount would violate inventory constraints."
                    )));
                }
                let now_used = used.get(rc).copied().unwrap_or(0);
                let total_needed = wanted.get(&((*rp).clone(), rc.clone())).copied().unwrap_or(0);
                let after = now_used + total_needed;
                let before = usage_before.get(*rp).and_then(|u| u.get(rc)).copied().unwrap_or(0);
                // Over capacity is refused, unless the write shrinks an
                // existing overage (Placement lets that through).
                if capacity_f(inv) < after as f64 && after > before {
                    return Err(PlacementError::conflict(format!(
                        "Unable to allocate inventory: Unable to create allocation for '{rc}' on resource provider \
                         '{rp}'. The requested amount would exceed the capacity."
                    )));
                }
            }
        }
    }
    // 5. In with the new, and the consumers' records.
    for w in writes {
        for (rp, resources) in &w.allocations {
            for (rc, used) in resources {
                q::insert(
                    db,
                    &mut tx,
                    &AllocationRow {
                        consumer_uuid: w.consumer_uuid.clone(),
                        provider_uuid: rp.clone(),
                        resource_class: rc.clone(),
                        used: *used,
                    },
                )
                .await?;
            }
        }
        let old = existing.get(w.consumer_uuid.as_str()).cloned().flatten();
        if w.allocations.is_empty() {
            if old.is_some() {
                q::consumer_delete(db, &mut tx, &w.consumer_uuid).await?;
            }
            continue;
        }
        let mut row = ConsumerRow {
            uuid: w.consumer_uuid.clone(),
            project_id: w.project_id.clone(),
            user_id: w.user_id.clone(),
            generation: 1,
            consumer_type: w.consumer_type.clone(),
        };
        match old {
            Some(old) => {
                row.generation = old.generation + 1;
                if row.consumer_type.is_none() {
                    row.consumer_type = old.consumer_type.clone();
                }
                if !q::consumer_update(db, &mut tx, &row, old.generation).await? {
                    return Err(consumer_race(&w.consumer_uuid));
                }
            }
            None => match q::consumer_insert(db, &mut tx, &row).await {
                Err(PlacementError::Store(store::StoreError::Conflict(_))) => {
                    return Err(consumer_race(&w.consumer_uuid));
                }
                other => other?,
            },
        }
    }
    tx.commit().await?;
    Ok(())
}

fn generation_conflict(expected: &str, got: i64) -> PlacementError {
    PlacementError::conflict_code(
        format!("consumer generation conflict - expected {expected} but got {got}"),
        crate::error::codes::CONCURRENT_UPDATE,
    )
}

fn consumer_race(uuid: &str) -> PlacementError {
    PlacementError::ConcurrentUpdate(format!(
        "Inventory and/or allocations changed while attempting to allocate: Another thread concurrently \
         updated the data for consumer {uuid}. Please retry your update"
    ))
}

/// `DELETE /allocations/{consumer_uuid}`.
pub async fn delete(p: &Placement, consumer: &str) -> Result<()> {
    let mut tx = p.begin().await?;
    if q::delete_of_consumer(&p.db, &mut tx, consumer).await? == 0 {
        return Err(PlacementError::not_found(format!(
            "No allocations for consumer '{consumer}'"
        )));
    }
    q::consumer_delete(&p.db, &mut tx, consumer).await?;
    tx.commit().await?;
    Ok(())
}

/// A consumer's allocations, with the generation of each provider.
pub struct ConsumerAllocations {
    pub consumer: Option<ConsumerRow>,
    /// Provider → (provider generation, class → used).
    pub by_provider: BTreeMap<String, (i64, BTreeMap<String, i64>)>,
}

pub async fn of_consumer(p: &Placement, consumer: &str) -> Result<ConsumerAllocations> {
    let mut c = p.reader().await?;
    let rows = q::of_consumer(&p.db, &mut c, consumer).await?;
    let mut by_provider: BTreeMap<String, (i64, BTreeMap<String, i64>)> = BTreeMap::new();
    for r in rows {
        if !by_provider.contains_key(&r.provider_uuid) {
            let g = crate::db::providers::get(&p.db, &mut c, &r.provider_uuid)
                .await?
                .map(|rp| rp.generation)
                .unwrap_or(0);
            by_provider.insert(r.provider_uuid.clone(), (g, BTreeMap::new()));
        }
        if let Some((_, res)) = by_provider.get_mut(&r.provider_uuid) {
            res.insert(r.resource_class, r.used);
        }
    }
    let consumer = if by_provider.is_empty() {
        None
    } else {
        q::consumer_get(&p.db, &mut c, consumer).await?
    };
    Ok(ConsumerAllocations { consumer, by_provider })
}

/// A provider's allocations: (provider generation, consumer → (consumer
/// generation, class → used)).
pub async fn of_provider(
    p: &Placement,
    uuid: &str,
) -> Result<(i64, BTreeMap<String, (Option<i64>, BTreeMap<String, i64>)>)> {
    let mut c = p.reader().await?;
    let rp = crate::db::providers::get(&p.db, &mut c, uuid).await?.ok_or_else(|| {
        PlacementError::not_found(format!(
            "Resource provider '{uuid}' not found: No resource provider with uuid {uuid} found"
        ))
    })?;
    let rows = q::of_provider(&p.db, &mut c, uuid).await?;
    let consumers: Vec<String> = rows.iter().map(|r| r.consumer_uuid.clone()).collect();
    let gens = q::consumer_generations(&p.db, &mut c, &consumers).await?;
    let mut out: BTreeMap<String, (Option<i64>, BTreeMap<String, i64>)> = BTreeMap::new();
    for r in rows {
        let e = out
            .entry(r.consumer_uuid.clone())
            .or_insert_with(|| (gens.get(&r.consumer_uuid).copied(), BTreeMap::new()));
        e.1.insert(r.resource_class, r.used);
    }
    Ok((rp.generation, out))
}

/// Usages of a project (and user): class → used, or, grouped by consumer
/// type (1.38), type → (consumer count, class → used).
pub struct ProjectUsages {
    pub total: BTreeMap<String, i64>,
    pub by_type: BTreeMap<String, (usize, BTreeMap<String, i64>)>,
}

/// `consumer_type` filter of `GET /usages` (1.38): a type, `all` or
/// `unknown`.
pub async fn usages(
    p: &Placement,
    project_id: &str,
    user_id: Option<&str>,
    consumer_type: Option<&str>,
) -> Result<ProjectUsages> {
    let mut c = p.reader().await?;
    let rows = q::of_project(&p.db, &mut c, project_id, user_id).await?;
    let mut total: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_type: BTreeMap<String, (std::collections::BTreeSet<String>, BTreeMap<String, i64>)> = BTreeMap::new();
    for (consumer, ctype, rc, used) in rows {
        let ctype = ctype.unwrap_or_else(|| "unknown".to_owned());
        let key = match consumer_type {
            Some("all") => "all".to_owned(),
            Some(want) if want != ctype => continue,
            _ => ctype,
        };
        *total.entry(rc.clone()).or_default() += used;
        let e = by_type.entry(key).or_default();
        e.0.insert(consumer);
        *e.1.entry(rc).or_default() += used;
    }
    Ok(ProjectUsages {
        total,
        by_type: by_type.into_iter().map(|(k, (cs, u))| (k, (cs.len(), u))).collect(),
    })
}
