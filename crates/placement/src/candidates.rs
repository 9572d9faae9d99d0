//! Allocation candidates: the ways a request for resources (with traits and
//! aggregates) can be met by the providers of one tree, and a summary of
//! those providers.
//!
//! The request is split into groups: the unsuffixed one, whose resource
//! classes may each come from a different provider of the tree (its
//! required traits are met by the providers it uses together, its
//! forbidden traits by none of them), and suffixed ones (`resources1`,
//! `resources_NET`…), each met by one provider alone. `group_policy=isolate`
//! puts every suffixed group on a different provider. Before 1.29 only
//! trees of a single provider are considered (Placement hides nested ones).
//! The search is a bounded walk of the choices per tree, in provider name
//! order; identical allocation requests are reported once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::db::inventories::InventoryRow;
use crate::error::{PlacementError, Result};
use crate::providers::{AggregateFilter, Provider, TraitFilter, World};
use crate::{Placement, inventories, names};

/// One request group.
#[derive(Clone, Debug, Default)]
pub struct RequestGroup {
    /// `""` for the unsuffixed group.
    pub suffix: String,
    pub resources: BTreeMap<String, i64>,
    pub traits: TraitFilter,
    pub aggregates: AggregateFilter,
    pub in_tree: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupPolicy {
    None,
    Isolate,
}

#[derive(Clone, Debug)]
pub struct CandidateRequest {
    pub groups: Vec<RequestGroup>,
    pub group_policy: Option<GroupPolicy>,
    pub limit: Option<usize>,
    /// Microversion 1.29+: nested trees take part.
    pub nested: bool,
}

/// One way to satisfy the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationRequest {
    /// Provider → class → amount.
    pub allocations: BTreeMap<String, BTreeMap<String, i64>>,
    /// Group suffix → providers that met it.
    pub mappings: BTreeMap<String, Vec<String>>,
}

/// What a provider of a candidate tree has.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Class → (capacity, used).
    pub resources: BTreeMap<String, (i64, i64)>,
    pub traits: Vec<String>,
    pub parent_provider_uuid: Option<String>,
    pub root_provider_uuid: String,
}

pub struct Candidates {
    pub requests: Vec<AllocationRequest>,
    pub summaries: BTreeMap<String, Summary>,
}

/// The most combinations looked at per tree, so that a pathological
/// request cannot keep the service busy.
const MAX_COMBINATIONS_PER_TREE: usize = 100_000;

pub async fn find(p: &Placement, req: &CandidateRequest) -> Result<Candidates> {
    let mut c = p.reader().await?;
    for g in &req.groups {
        for rc in g.resources.keys() {
            if !names::class_exists(p, &mut c, rc).await? {
                return Err(PlacementError::bad(format!(
                    "Invalid resource class in resources parameter: No such resource class {rc}."
                )));
            }
        }
        let missing = names::missing_traits(p, &mut c, g.traits.names()).await?;
        if !missing.is_empty() {
            return Err(PlacementError::bad(format!(
                "No such trait(s): {}.",
                missing.join(", ")
            )));
        }
    }
    let world = World::load(p, &mut c, None).await?;
    Ok(search(&world, req))
}

/// The search itself, over data already read.
pub fn search(world: &World, req: &CandidateRequest) -> Candidates {
    let by_uuid: HashMap<&str, &Provider> = world.providers.iter().map(|rp| (rp.uuid.as_str(), rp)).collect();
    // Trees, in the order of their roots' names.
    let mut trees: BTreeMap<(String, String), Vec<&Provider>> = BTreeMap::new();
    for rp in &world.providers {
        let root_name = by_uuid
            .get(rp.root_uuid.as_str())
            .map(|r| r.name.clone())
            .unwrap_or_default();
        trees.entry((root_name, rp.root_uuid.clone())).or_default().push(rp);
    }
    // in_tree restricts the trees (no sharing providers: every group lives
    // in the one tree).
    let mut allowed_roots: Option<BTreeSet<String>> = None;
    for g in &req.groups {
        if let Some(t) = &g.in_tree {
            let root = by_uuid
                .get(t.as_str())
                .map(|rp| rp.root_uuid.clone())
                .unwrap_or_default();
            let set: BTreeSet<String> = [root].into_iter().collect();
            allowed_roots = Some(match allowed_roots {
                Some(a) => a.intersection(&set).cloned().collect(),
                None => set,
            });
        }
    }
    let mut requests: Vec<AllocationRequest> = Vec::new();
    let mut used_trees: Vec<Vec<&Provider>> = Vec::new();
    for ((_, root), members) in &trees {
        if allowed_roots.as_ref().is_some_and(|a| !a.contains(root)) {
            continue;
        }
        if !req.nested && members.len() > 1 {
            continue;
        }
        if req.limit.is_some_and(|l| requests.len() >= l) {
            break;
        }
        let found = search_tree(world, req, members, &by_uuid);
        if found.is_empty() {
            continue;
        }
        for r in found {
            if req.limit.is_some_and(|l| requests.len() >= l) {
                break;
            }
            if !requests.iter().any(|x| x.allocations == r.allocations) {
                requests.push(r);
            }
        }
        used_trees.push(members.clone());
    }
    // Summaries: the providers of the requests, or with nesting every
    // provider of their trees.
    let mut summaries = BTreeMap::new();
    let in_requests: BTreeSet<&String> = requests.iter().flat_map(|r| r.allocations.keys()).collect();
    for members in used_trees {
        for rp in members {
            if !req.nested && !in_requests.contains(&rp.uuid) {
                continue;
            }
            if req.nested && !members_in(&in_requests, &rp.root_uuid, world) {
                continue;
            }
            summaries.insert(rp.uuid.clone(), summary(world, rp));
        }
    }
    Candidates { requests, summaries }
}

/// Whether any provider of the tree rooted at `root` is in a request.
fn members_in(in_requests: &BTreeSet<&String>, root: &str, world: &World) -> bool {
    world
        .providers
        .iter()
        .any(|rp| rp.root_uuid == root && in_requests.contains(&rp.uuid))
}

fn summary(world: &World, rp: &Provider) -> Summary {
    let inv: &[InventoryRow] = world.inventories.get(&rp.uuid).map(Vec::as_slice).unwrap_or(&[]);
    Summary {
        resources: inv
            .iter()
            .map(|i| {
                (
                    i.resource_class.clone(),
                    (inventories::capacity(i), world.used(&rp.uuid, &i.resource_class)),
                )
            })
            .collect(),
        traits: world.traits_of(&rp.uuid).into_iter().collect(),
        parent_provider_uuid: rp.parent_uuid.clone(),
        root_provider_uuid: rp.root_uuid.clone(),
    }
}

/// A choice to make: which provider serves (group, class) — or, for a
/// suffixed group, (group, all its classes).
struct Slot<'a> {
    group: usize,
    /// The classes served by this slot's provider.
    classes: Vec<(&'a String, i64)>,
    options: Vec<&'a str>,
}

fn search_tree(
    world: &World,
    req: &CandidateRequest,
    members: &[&Provider],
    by_uuid: &HashMap<&str, &Provider>,
) -> Vec<AllocationRequest> {
    let aggs_of = |rp: &Provider| {
        let mut a = world.aggregates_of(&rp.uuid);
        if let Some(root) = by_uuid.get(rp.root_uuid.as_str()) {
            a.extend(world.aggregates_of(&root.uuid));
        }
        a
    };
    let in_tree_ok = |g: &RequestGroup, rp: &Provider| {
        g.in_tree
            .as_ref()
            .is_none_or(|t| by_uuid.get(t.as_str()).is_some_and(|tp| tp.root_uuid == rp.root_uuid))
    };
    let mut slots: Vec<Slot> = Vec::new();
    for (gi, g) in req.groups.iter().enumerate() {
        if g.suffix.is_empty() {
            for (rc, amount) in &g.resources {
                let options: Vec<&str> = members
                    .iter()
                    .filter(|rp| {
                        world.fits(&rp.uuid, rc, *amount, 0)
                            && g.aggregates.matches(&aggs_of(rp))
                            && in_tree_ok(g, rp)
                            && g.traits
                                .forbidden
                                .iter()
                                .all(|t| !world.traits_of(&rp.uuid).contains(t))
                    })
                    .map(|rp| rp.uuid.as_str())
                    .collect();
                if options.is_empty() {
                    return Vec::new();
                }
                slots.push(Slot {
                    group: gi,
                    classes: vec![(rc, *amount)],
                    options,
                });
            }
        } else {
            let options: Vec<&str> = members
                .iter()
                .filter(|rp| {
                    g.resources.iter().all(|(rc, n)| world.fits(&rp.uuid, rc, *n, 0))
                        && g.traits.matches(&world.traits_of(&rp.uuid))
                        && g.aggregates.matches(&aggs_of(rp))
                        && in_tree_ok(g, rp)
                })
                .map(|rp| rp.uuid.as_str())
                .collect();
            if options.is_empty() {
                return Vec::new();
            }
            slots.push(Slot {
                group: gi,
                classes: g.resources.iter().map(|(rc, n)| (rc, *n)).collect(),
                options,
            });
        }
    }
    let mut out = Vec::new();
    let mut choice = vec![0usize; slots.len()];
    let mut looked = 0usize;
    loop {
        looked += 1;
        if let Some(r) = evaluate(world, req, &slots, &choice) {
            out.push(r);
            if req.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        if looked >= MAX_COMBINATIONS_PER_TREE || !advance(&mut choice, &slots) {
            break;
        }
    }
    out
}

/// The next combination (odometer order); false after the last.
fn advance(choice: &mut [usize], slots: &[Slot]) -> bool {
    for i in (0..choice.len()).rev() {
        choice[i] += 1;
        if choice[i] < slots[i].options.len() {
            return true;
        }
        choice[i] = 0;
    }
    false
}

fn evaluate(world: &World, req: &CandidateRequest, slots: &[Slot], choice: &[usize]) -> Option<AllocationRequest> {
    let mut allocations: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut mappings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut group_providers: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    for (slot, &i) in slots.iter().zip(choice) {
        let rp = slot.options[i];
        for (rc, n) in &slot.classes {
            *allocations
                .entry(rp.to_owned())
                .or_default()
                .entry((*rc).clone())
                .or_default() += n;
        }
        group_providers.entry(slot.group).or_default().insert(rp);
    }
    // Summed amounts must still fit.
    for (rp, res) in &allocations {
        for (rc, n) in res {
            let inv = world.inventory(rp, rc)?;
            if *n > inv.max_unit || inventories::capacity_f(inv) < (world.used(rp, rc) + n) as f64 {
                return None;
            }
        }
    }
    for (gi, rps) in &group_providers {
        let g = &req.groups[*gi];
        if g.suffix.is_empty() {
            // Required traits of the unsuffixed group: met together.
            let traits: BTreeSet<String> = rps.iter().flat_map(|rp| world.traits_of(rp)).collect();
            if !g
                .traits
                .required
                .iter()
                .all(|any| any.iter().any(|t| traits.contains(t)))
            {
                return None;
            }
        }
        mappings.insert(g.suffix.clone(), rps.iter().map(|s| s.to_string()).collect());
    }
    if req.group_policy == Some(GroupPolicy::Isolate) {
        let suffixed: Vec<&str> = group_providers
            .iter()
            .filter(|(gi, _)| !req.groups[**gi].suffix.is_empty())
            .flat_map(|(_, rps)| rps.iter().copied())
            .collect();
        let distinct: BTreeSet<&str> = suffixed.iter().copied().collect();
        if distinct.len() != suffixed.len() {
            return None;
        }
    }
    Some(AllocationRequest { allocations, mappings })
}
