//! The object ring: which devices hold an object, as Swift's ring and
//! `swift-ring-builder` decide it.
//!
//! An object's path `/account/container/object` is hashed with MD5 between a
//! per-cluster prefix and suffix (Swift's `hash_path`, so that nobody outside
//! the cluster can aim names at one device); the top `part_power` bits of
//! the hash are its *partition*, and a table maps each (replica, partition)
//! to a device. [`Ring::rebalance`] fills that table:
//!
//! - each device gets a share of the `replicas × 2^part_power` slots in
//!   proportion to its weight (exact to one slot: Swift's "balance" stays
//!   under 1 %); weight wins over dispersion, as Swift's default `overload`
//!   of 0 makes it;
//! - among the devices with room, a partition's replicas go to regions,
//!   then zones, it does not use yet, then to the device furthest below its
//!   share — never two replicas on one device;
//! - what moves is what must: replicas on removed devices, and from each
//!   device above its share only its excess, at most one replica of a
//!   partition per rebalance and none of a partition moved less than
//!   `min_part_hours` ago (so a partition always keeps a quorum of replicas
//!   that have its data while the replicator moves the rest);
//! - it is deterministic: the same ring and the same changes give the same
//!   table, on any machine (no random numbers; a fixed mixing function
//!   spreads the order in which partitions are considered).
//!
//! One file holds both what `swift-ring-builder` keeps in its `.builder`
//! and the `.ring.gz` the servers load: the devices, the table and when each
//! partition last moved. It is JSON — readable and diffable by an operator,
//! versioned by a `format` field, written atomically (temporary file, fsync,
//! rename) — except the table itself, which is base64 of little-endian
//! 16-bit device ids per replica (Swift's `array('H')`), so that a ring of
//! 2^20 partitions stays a few megabytes and loads in milliseconds.

use std::path::Path;

use base64::Engine;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// No device: an unassigned slot of the table.
pub const NONE: u16 = u16::MAX;
/// Swift allows 32; the table lives in memory (2 bytes per replica and
/// partition), so this keeps it under 25 MiB at 3 replicas.
pub const MAX_PART_POWER: u8 = 22;
const FORMAT: &str = "oxistack-object-ring";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error("{0}")]
    Invalid(String),
    #[error("{replicas} replicas need at least {replicas} devices with a weight; the ring has {devices}")]
    NotEnoughDevices { replicas: usize, devices: usize },
    #[error("no device {0} in the ring")]
    UnknownDevice(u16),
    #[error("ring file")]
    Io(#[from] std::io::Error),
    #[error("ring file is not a ring: {0}")]
    Format(String),
}

/// A device of the ring: a directory that holds objects, on a storage node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Device {
    pub id: u16,
    pub region: u32,
    pub zone: u32,
    pub weight: f64,
    /// The device directory: a name under the node's devices directory, as
    /// Swift's `device` is a name under `/srv/node`, or an absolute path.
    pub device: String,
    /// `host:port` of the storage server that holds it; none: the proxy's
    /// own process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub meta: String,
    /// Marked by [`Ring::remove_device`]: the next rebalance moves all its
    /// partitions away and drops it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removing: bool,
}

/// What an operator gives to add a device.
#[derive(Clone, Debug)]
pub struct NewDevice {
    pub region: u32,
    pub zone: u32,
    pub weight: f64,
    pub device: String,
    pub address: Option<String>,
    pub meta: String,
}

/// What a rebalance did.
#[derive(Clone, Debug, PartialEq)]
pub struct Rebalanced {
    /// Slots that held a device before and another one now.
    pub moved: usize,
    /// Slots that were empty (a new ring, more replicas) and now hold one.
    pub assigned: usize,
    /// Swift's balance after it, in percent.
    pub balance: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ring {
    pub part_power: u8,
    pub replicas: u8,
    pub min_part_hours: u32,
    pub hash_path_prefix: String,
    pub hash_path_suffix: String,
    /// Incremented by every rebalance.
    pub generation: u64,
    /// Indexed by id; `None` where a removed device was.
    devices: Vec<Option<Device>>,
    /// replica → partition → device id
    table: Vec<Vec<u16>>,
    /// Hours since the epoch each partition last moved (0: never).
    last_moved: Vec<u32>,
}

/// Spreads partitions in a fixed pseudo-random order (splitmix64's
/// finalizer): released and assigned partitions are then spread over the
/// whole hash space, not taken from its start.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The current time in hours since the epoch, as `min_part_hours` counts.
pub fn now_hours() -> u32 {
    (crate::names::now_secs().max(0) / 3600) as u32
}

impl Ring {
    /// An empty ring: add devices, then rebalance.
    pub fn new(part_power: u8, replicas: u8, min_part_hours: u32) -> Result<Ring, RingError> {
        if part_power > MAX_PART_POWER {
            return Err(RingError::Invalid(format!(
                "part_power must be at most {MAX_PART_POWER}"
            )));
        }
        if replicas == 0 {
            return Err(RingError::Invalid("replicas must be at least 1".into()));
        }
        Ok(Ring {
            part_power,
            replicas,
            min_part_hours,
            hash_path_prefix: String::new(),
            hash_path_suffix: String::new(),
            generation: 0,
            devices: Vec::new(),
            table: Vec::new(),
            last_moved: vec![0; 1usize << part_power],
        })
    }

    /// The ring of one device, one replica and an empty hash suffix: where
    /// an object lived before there were rings, it still is.
    pub fn single(device: &str) -> Ring {
        let mut ring = Ring::new(0, 1, 0).expect("valid parameters");
        ring.add_device(NewDevice {
            region: 1,
            zone: 1,
            weight: 1.0,
            device: device.to_owned(),
            address: None,
            meta: String::new(),
        })
        .expect("valid device");
        ring.rebalance(0).expect("one device for one replica");
        ring
    }

    pub fn parts(&self) -> usize {
        1usize << self.part_power
    }

    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.iter().flatten()
    }

    pub fn device(&self, id: u16) -> Option<&Device> {
        self.devices.get(id as usize).and_then(Option::as_ref)
    }

    /// Adds a device with the lowest free id; returns the id.
    pub fn add_device(&mut self, new: NewDevice) -> Result<u16, RingError> {
        if !new.weight.is_finite() || new.weight < 0.0 {
            return Err(RingError::Invalid("weight must be a number ≥ 0".into()));
        }
        if new.device.is_empty() || new.device.contains('\0') {
            return Err(RingError::Invalid("the device name is empty".into()));
        }
        if self
            .devices()
            .any(|d| d.device == new.device && d.address == new.address)
        {
            return Err(RingError::Invalid(format!(
                "device {} is already in the ring",
                new.device
            )));
        }
        let slot = self.devices.iter().position(Option::is_none);
        let id = slot.unwrap_or(self.devices.len());
        if id >= NONE as usize {
            return Err(RingError::Invalid("too many devices".into()));
        }
        let dev = Device {
            id: id as u16,
            region: new.region,
            zone: new.zone,
            weight: new.weight,
            device: new.device,
            address: new.address,
            meta: new.meta,
            removing: false,
        };
        match slot {
            Some(i) => self.devices[i] = Some(dev),
            None => self.devices.push(Some(dev)),
        }
        Ok(id as u16)
    }

    pub fn set_weight(&mut self, id: u16, weight: f64) -> Result<(), RingError> {
        if !weight.is_finite() || weight < 0.0 {
            return Err(RingError::Invalid("weight must be a number ≥ 0".into()));
        }
        let dev = self
            .devices
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or(RingError::UnknownDevice(id))?;
        dev.weight = weight;
        Ok(())
    }

    /// Marks a device for removal; the next rebalance moves its partitions.
    pub fn remove_device(&mut self, id: u16) -> Result<(), RingError> {
        let dev = self
            .devices
            .get_mut(id as usize)
            .and_then(Option::as_mut)
            .ok_or(RingError::UnknownDevice(id))?;
        dev.removing = true;
        Ok(())
    }

    /// Swift's `hash_path`: MD5 of prefix + `/account/container/object` +
    /// suffix.
    pub fn hash_path(&self, path: &str) -> [u8; 16] {
        let mut h = Md5::new();
        h.update(self.hash_path_prefix.as_bytes());
        h.update(path.as_bytes());
        h.update(self.hash_path_suffix.as_bytes());
        h.finalize().into()
    }

    /// The partition of a hash: its top `part_power` bits.
    pub fn part_of_hash(&self, hash: &[u8; 16]) -> usize {
        let top = u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]) as u64;
        (top >> (32 - self.part_power as u32)) as usize
    }

    /// The partition of a hash directory's name (32 hex digits).
    pub fn part_of_hex(&self, hex_hash: &str) -> Option<usize> {
        let mut hash = [0u8; 16];
        hex::decode_to_slice(hex_hash, &mut hash).ok()?;
        Some(self.part_of_hash(&hash))
    }

    /// The devices holding `part`, in replica order.
    pub fn part_devices(&self, part: usize) -> Vec<u16> {
        self.table
            .iter()
            .filter_map(|row| row.get(part).copied())
            .filter(|d| *d != NONE)
            .collect()
    }

    /// Swift's `get_nodes`: the partition of `/account/container/object`
    /// and its primary devices.
    pub fn get_nodes(&self, account: &str, container: &str, object: &str) -> (usize, Vec<&Device>) {
        let part = self.part_of_hash(&self.hash_path(&format!("/{account}/{container}/{object}")));
        let devs = self
            .part_devices(part)
            .into_iter()
            .filter_map(|d| self.device(d))
            .collect();
        (part, devs)
    }

    /// Swift's `get_more_nodes`: the other devices, to write to when a
    /// primary fails — first those in regions and zones the partition does
    /// not use, each group in an order that depends on the partition so
    /// that a failed device's load spreads.
    pub fn handoffs(&self, part: usize) -> Vec<u16> {
        let primaries = self.part_devices(part);
        let used: Vec<(u32, u32)> = primaries
            .iter()
            .filter_map(|d| self.device(*d))
            .map(|d| (d.region, d.zone))
            .collect();
        let mut others: Vec<&Device> = self
            .devices()
            .filter(|d| d.weight > 0.0 && !d.removing && !primaries.contains(&d.id))
            .collect();
        others.sort_by_key(|d| {
            let new_region = !used.iter().any(|u| u.0 == d.region);
            let new_zone = !used.contains(&(d.region, d.zone));
            (!new_region, !new_zone, mix(((part as u64) << 16) | d.id as u64))
        });
        others.into_iter().map(|d| d.id).collect()
    }

    /// The slots each device should hold: its weight's share of all of
    /// them, at most one per partition, rounded so that they add up.
    fn targets(&self, active: &[u16]) -> (Vec<usize>, Vec<f64>) {
        let parts = self.parts();
        let n = self.devices.len();
        let mut wanted = vec![0f64; n];
        let mut open: Vec<u16> = active.to_vec();
        let mut slots = (self.replicas as usize * parts) as f64;
        // Water-filling: a device's share above one replica of every
        // partition goes to the others.
        loop {
            let w: f64 = open
                .iter()
                .map(|d| self.devices[*d as usize].as_ref().map_or(0.0, |d| d.weight))
                .sum();
            let mut capped = false;
            for d in &open {
                let dw = self.devices[*d as usize].as_ref().map_or(0.0, |d| d.weight);
                wanted[*d as usize] = dw / w * slots;
            }
            open.retain(|d| {
                if wanted[*d as usize] > parts as f64 {
                    wanted[*d as usize] = parts as f64;
                    slots -= parts as f64;
                    capped = true;
                    false
                } else {
                    true
                }
            });
            if !capped || open.is_empty() {
                break;
            }
        }
        let mut targets: Vec<usize> = wanted.iter().map(|w| w.floor() as usize).collect();
        let total: usize = targets.iter().sum();
        let mut left = self.replicas as usize * parts - total.min(self.replicas as usize * parts);
        let mut by_fraction: Vec<u16> = active.to_vec();
        by_fraction.sort_by(|a, b| {
            let fa = wanted[*a as usize].fract();
            let fb = wanted[*b as usize].fract();
            fb.partial_cmp(&fa).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(b))
        });
        for d in by_fraction.iter().cycle().take(by_fraction.len() * 2) {
            if left == 0 {
                break;
            }
            if targets[*d as usize] < parts {
                targets[*d as usize] += 1;
                left -= 1;
            }
        }
        (targets, wanted)
    }

    /// Swift's balance: the largest difference, in percent, between the
    /// slots a device holds and its weight's share.
    pub fn balance(&self) -> f64 {
        let active: Vec<u16> = self.active();
        if active.is_empty() {
            return 0.0;
        }
        let (_, wanted) = self.targets(&active);
        let mut counts = vec![0usize; self.devices.len()];
        for row in &self.table {
            for d in row {
                if *d != NONE && (*d as usize) < counts.len() {
                    counts[*d as usize] += 1;
                }
            }
        }
        let mut worst = 0f64;
        for dev in self.devices() {
            let w = wanted[dev.id as usize];
            let c = counts[dev.id as usize] as f64;
            let b = if w > 0.0 {
                (c / w - 1.0).abs() * 100.0
            } else if c > 0.0 {
                999.99
            } else {
                0.0
            };
            worst = worst.max(b);
        }
        worst
    }

    fn active(&self) -> Vec<u16> {
        self.devices()
            .filter(|d| d.weight > 0.0 && !d.removing)
            .map(|d| d.id)
            .collect()
    }

    /// Reassigns partitions (see the module's doc); `now_hours` is the time
    /// `min_part_hours` is measured against.
    pub fn rebalance(&mut self, now_hours: u32) -> Result<Rebalanced, RingError> {
        let parts = self.parts();
        let r = self.replicas as usize;
        let active = self.active();
        if active.len() < r {
            return Err(RingError::NotEnoughDevices {
                replicas: r,
                devices: active.len(),
            });
        }
        self.table.resize(r, vec![NONE; parts]);
        self.last_moved.resize(parts, 0);
        let before = self.table.clone();
        let (targets, _) = self.targets(&active);
        let n = self.devices.len();
        let live = |d: u16| -> Option<&Device> { self.devices.get(d as usize).and_then(Option::as_ref) };
        let zone_of: Vec<(u32, u32)> = (0..n as u16)
            .map(|d| live(d).map_or((0, 0), |d| (d.region, d.zone)))
            .collect();
        let mut counts = vec![0usize; n];
        for row in &self.table {
            for d in row {
                if (*d as usize) < n {
                    counts[*d as usize] += 1;
                }
            }
        }
        let min_hours = self.min_part_hours;
        let last_moved = self.last_moved.clone();
        let movable = |p: usize| min_hours == 0 || now_hours.saturating_sub(last_moved[p]) >= min_hours;
        let mut moved = vec![false; parts];
        // (partition, replica, the device it leaves)
        let mut gathered: Vec<(usize, usize, u16)> = Vec::new();
        let order: Vec<usize> = {
            let mut o: Vec<usize> = (0..parts).collect();
            o.sort_by_key(|p| mix(*p as u64 ^ self.generation.rotate_left(32)));
            o
        };

        // 1. Replicas that must move: unassigned, on devices that are gone
        // or leaving, twice on one device; those on devices of weight 0
        // move as `min_part_hours` allows.
        for (p, moved_p) in moved.iter_mut().enumerate() {
            for rep in 0..r {
                let d = self.table[rep][p];
                let dup = d != NONE && (0..rep).any(|o| self.table[o][p] == d);
                let gone = match live(d) {
                    None => true,
                    Some(dev) => dev.removing,
                };
                let drain = !gone && live(d).is_some_and(|dev| dev.weight == 0.0) && movable(p) && !*moved_p;
                if gone || dup || drain {
                    if (d as usize) < n {
                        counts[d as usize] -= 1;
                    }
                    self.table[rep][p] = NONE;
                    gathered.push((p, rep, d));
                    if d != NONE {
                        *moved_p = true;
                    }
                }
            }
        }

        // 2. Dispersion: a partition with two replicas in one region (zone)
        // while another region (zone) has room and none of its replicas
        // gives one up.
        let spare_by = |counts: &[usize], key: &dyn Fn(u16) -> u64| {
            let mut spare: std::collections::BTreeMap<u64, usize> = Default::default();
            for d in &active {
                *spare.entry(key(*d)).or_default() += targets[*d as usize].saturating_sub(counts[*d as usize]);
            }
            spare
        };
        let region_key = |d: u16| zone_of[d as usize].0 as u64;
        let zone_key = |d: u16| ((zone_of[d as usize].0 as u64) << 32) | zone_of[d as usize].1 as u64;
        for key in [&region_key as &dyn Fn(u16) -> u64, &zone_key] {
            let mut spare = spare_by(&counts, key);
            for &p in &order {
                if moved[p] || !movable(p) {
                    continue;
                }
                let devs: Vec<(usize, u16)> = (0..r)
                    .map(|rep| (rep, self.table[rep][p]))
                    .filter(|(_, d)| *d != NONE)
                    .collect();
                let mut seen: std::collections::BTreeMap<u64, usize> = Default::default();
                for (_, d) in &devs {
                    *seen.entry(key(*d)).or_default() += 1;
                }
                let Some((&crowded, _)) = seen.iter().find(|(_, c)| **c > 1) else {
                    continue;
                };
                let Some((&free, _)) = spare.iter().find(|(k, s)| **s > 0 && !seen.contains_key(k)) else {
                    continue;
                };
                // Give up the crowded replica on the device most over its share.
                let Some(&(rep, d)) = devs
                    .iter()
                    .filter(|(_, d)| key(*d) == crowded)
                    .max_by_key(|(rep, d)| (counts[*d as usize] as i64 - targets[*d as usize] as i64, *rep))
                else {
                    continue;
                };
                *spare.entry(free).or_default() -= 1;
                counts[d as usize] -= 1;
                self.table[rep][p] = NONE;
                gathered.push((p, rep, d));
                moved[p] = true;
            }
        }

        // 3. Balance: each device above its share gives up its excess,
        // first replicas crowded in its zone.
        let mut held: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
        for &p in &order {
            for rep in 0..r {
                let d = self.table[rep][p];
                if (d as usize) < n {
                    held[d as usize].push((p, rep));
                }
            }
        }
        for d in 0..n {
            for crowded_only in [true, false] {
                for &(p, rep) in &held[d] {
                    if counts[d] <= targets[d] {
                        break;
                    }
                    if moved[p] || !movable(p) || self.table[rep][p] != d as u16 {
                        continue;
                    }
                    let crowded = (0..r).any(|o| {
                        o != rep && {
                            let e = self.table[o][p];
                            (e as usize) < n && zone_key(e) == zone_key(d as u16)
                        }
                    });
                    if crowded_only && !crowded {
                        continue;
                    }
                    counts[d] -= 1;
                    self.table[rep][p] = NONE;
                    gathered.push((p, rep, d as u16));
                    moved[p] = true;
                }
            }
        }

        // 4. Place what was gathered.
        let rank: Vec<usize> = {
            let mut rank = vec![0; parts];
            for (i, p) in order.iter().enumerate() {
                rank[*p] = i;
            }
            rank
        };
        gathered.sort_by_key(|(p, rep, _)| (rank[*p], *rep));
        for (p, rep, orig) in gathered {
            let others: Vec<u16> = (0..r)
                .filter(|o| *o != rep)
                .map(|o| self.table[o][p])
                .filter(|d| *d != NONE)
                .collect();
            let best = active.iter().copied().filter(|d| !others.contains(d)).min_by_key(|d| {
                let di = *d as usize;
                let full = counts[di] >= targets[di];
                let in_region = others.iter().filter(|o| region_key(**o) == region_key(*d)).count();
                let in_zone = others.iter().filter(|o| zone_key(**o) == zone_key(*d)).count();
                // Coarse on purpose: within a band of neediness the
                // pick depends on the partition, so that the devices
                // sharing partitions with any one device are many —
                // its load spreads over them when it fails or leaves.
                let need = (targets[di] as i64 - counts[di] as i64) * 16 / targets[di].max(1) as i64;
                let spread = mix(((p as u64) << 16) | *d as u64);
                (full, in_region, in_zone, *d != orig, std::cmp::Reverse(need), spread)
            });
            if let Some(d) = best {
                self.table[rep][p] = d;
                counts[d as usize] += 1;
            }
        }

        // 5. What greedy placement could not balance (a device that must
        // hold most partitions, filled last): move replicas from devices
        // above their share to those below, only slots that moved in this
        // rebalance or partitions that may move, new zones first.
        for b in active.iter().copied() {
            let bi = b as usize;
            for new_zone_only in [true, false] {
                for &p in &order {
                    if counts[bi] >= targets[bi] {
                        break;
                    }
                    let devs: Vec<u16> = (0..r).map(|rep| self.table[rep][p]).collect();
                    if devs.contains(&b) {
                        continue;
                    }
                    let free_part = !moved[p] && movable(p);
                    let pick = (0..r).find(|&rep| {
                        let a = devs[rep];
                        if (a as usize) >= n || counts[a as usize] <= targets[a as usize] {
                            return false;
                        }
                        let slot_moved = before[rep][p] != a;
                        if !(slot_moved || free_part) {
                            return false;
                        }
                        !new_zone_only
                            || !devs
                                .iter()
                                .enumerate()
                                .any(|(o, e)| o != rep && (*e as usize) < n && zone_key(*e) == zone_key(b))
                    });
                    if let Some(rep) = pick {
                        let a = devs[rep];
                        counts[a as usize] -= 1;
                        counts[bi] += 1;
                        self.table[rep][p] = b;
                        moved[p] = true;
                    }
                }
            }
        }

        let mut report = Rebalanced {
            moved: 0,
            assigned: 0,
            balance: 0.0,
        };
        for (row, was_row) in self.table.iter().zip(&before) {
            for (p, (&is, &was)) in row.iter().zip(was_row).enumerate() {
                if was != is {
                    if was == NONE {
                        report.assigned += 1;
                    } else {
                        report.moved += 1;
                    }
                    self.last_moved[p] = now_hours;
                }
            }
        }
        for slot in &mut self.devices {
            if slot.as_ref().is_some_and(|d| d.removing) {
                *slot = None;
            }
        }
        while self.devices.last().is_some_and(Option::is_none) {
            self.devices.pop();
        }
        self.generation += 1;
        report.balance = self.balance();
        Ok(report)
    }

    /// How many of each partition's replicas are in distinct zones, at
    /// least (1 for a ring whose partitions each have two replicas in one
    /// zone somewhere).
    pub fn min_distinct_zones(&self) -> usize {
        (0..self.parts())
            .map(|p| {
                let mut zones: Vec<(u32, u32)> = self
                    .part_devices(p)
                    .iter()
                    .filter_map(|d| self.device(*d))
                    .map(|d| (d.region, d.zone))
                    .collect();
                zones.sort();
                zones.dedup();
                zones.len()
            })
            .min()
            .unwrap_or(0)
    }

    /// How many slots each device holds.
    pub fn slots(&self) -> Vec<(u16, usize)> {
        let mut counts = vec![0usize; self.devices.len()];
        for row in &self.table {
            for d in row {
                if (*d as usize) < counts.len() {
                    counts[*d as usize] += 1;
                }
            }
        }
        self.devices().map(|d| (d.id, counts[d.id as usize])).collect()
    }

    pub fn to_json(&self) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let file = RingFile {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            part_power: self.part_power,
            replicas: self.replicas,
            min_part_hours: self.min_part_hours,
            hash_path_prefix: self.hash_path_prefix.clone(),
            hash_path_suffix: self.hash_path_suffix.clone(),
            generation: self.generation,
            devices: self.devices().cloned().collect(),
            replica2part2dev: self
                .table
                .iter()
                .map(|row| b64.encode(row.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<u8>>()))
                .collect(),
            last_moved: b64.encode(
                self.last_moved
                    .iter()
                    .flat_map(|h| h.to_le_bytes())
                    .collect::<Vec<u8>>(),
            ),
        };
        let mut out = serde_json::to_vec_pretty(&file).unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn from_json(bytes: &[u8]) -> Result<Ring, RingError> {
        let bad = |m: &str| RingError::Format(m.to_owned());
        let file: RingFile = serde_json::from_slice(bytes).map_err(|e| RingError::Format(e.to_string()))?;
        if file.format != FORMAT {
            return Err(bad("unknown format"));
        }
        if file.version != FORMAT_VERSION {
            return Err(RingError::Format(format!("version {} is not known", file.version)));
        }
        let mut ring = Ring::new(file.part_power, file.replicas, file.min_part_hours)
            .map_err(|e| RingError::Format(e.to_string()))?;
        ring.hash_path_prefix = file.hash_path_prefix;
        ring.hash_path_suffix = file.hash_path_suffix;
        ring.generation = file.generation;
        for d in file.devices {
            let i = d.id as usize;
            if d.id == NONE {
                return Err(bad("device id out of range"));
            }
            if ring.devices.len() <= i {
                ring.devices.resize(i + 1, None);
            }
            if ring.devices[i].is_some() {
                return Err(bad("two devices with one id"));
            }
            ring.devices[i] = Some(d);
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let parts = ring.parts();
        for row in &file.replica2part2dev {
            let raw = b64.decode(row).map_err(|_| bad("table is not base64"))?;
            if raw.len() != parts * 2 {
                return Err(bad("table does not match part_power"));
            }
            let row: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            if row.iter().any(|d| *d != NONE && ring.device(*d).is_none()) {
                return Err(bad("table names a device that is not in the ring"));
            }
            ring.table.push(row);
        }
        if ring.table.len() > ring.replicas as usize {
            return Err(bad("more table rows than replicas"));
        }
        let raw = b64
            .decode(&file.last_moved)
            .map_err(|_| bad("last_moved is not base64"))?;
        if raw.len() != parts * 4 {
            return Err(bad("last_moved does not match part_power"));
        }
        ring.last_moved = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(ring)
    }

    pub fn load(path: &Path) -> Result<Ring, RingError> {
        Ring::from_json(&std::fs::read(path)?)
    }

    /// Writes the ring atomically: a reader sees the old one or the new.
    pub fn save(&self, path: &Path) -> Result<(), RingError> {
        use std::io::Write;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&self.to_json())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }

    /// Whether every partition has all its replicas.
    pub fn is_complete(&self) -> bool {
        self.table.len() == self.replicas as usize && self.table.iter().all(|row| row.iter().all(|d| *d != NONE))
    }
}

#[derive(Serialize, Deserialize)]
struct RingFile {
    format: String,
    version: u32,
    part_power: u8,
    replicas: u8,
    min_part_hours: u32,
    hash_path_prefix: String,
    hash_path_suffix: String,
    generation: u64,
    devices: Vec<Device>,
    replica2part2dev: Vec<String>,
    last_moved: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(zone: u32, weight: f64, name: &str) -> NewDevice {
        NewDevice {
            region: 1,
            zone,
            weight,
            device: name.into(),
            address: None,
            meta: String::new(),
        }
    }

    fn ring(part_power: u8, replicas: u8, devs: &[(u32, f64)]) -> Ring {
        let mut r = Ring::new(part_power, replicas, 0).unwrap();
        for (i, (zone, w)) in devs.iter().enumerate() {
            r.add_device(dev(*zone, *w, &format!("d{i}"))).unwrap();
        }
        r
    }

    #[test]
    fn hash_path_is_swifts() {
        // swift/test/unit/common/test_utils.py, with suffix "endcap".
        let mut r = Ring::new(4, 1, 0).unwrap();
        r.hash_path_suffix = "endcap".into();
        assert_eq!(hex::encode(r.hash_path("/a")), "1c84525acb02107ea475dcd3d09c2c58");
        assert_eq!(hex::encode(r.hash_path("/a/c")), "33379ecb053aa5c9e356c68997cbb59e");
        assert_eq!(hex::encode(r.hash_path("/a/c/o")), "06fbf0b514e5199dfc4e00f42eb5ea83");
        // 0x06fbf0b5 >> 28
        assert_eq!(r.part_of_hash(&r.hash_path("/a/c/o")), 0);
        r.part_power = 16;
        assert_eq!(r.part_of_hash(&r.hash_path("/a/c/o")), 0x06fb);
        assert_eq!(r.part_of_hex("06fbf0b514e5199dfc4e00f42eb5ea83"), Some(0x06fb));
        assert_eq!(r.part_of_hex("nothex"), None);
    }

    #[test]
    fn a_new_ring_is_balanced_and_dispersed() {
        // Three zones of two devices, unequal weights inside zones.
        let mut r = ring(
            10,
            3,
            &[(1, 100.0), (1, 200.0), (2, 150.0), (2, 150.0), (3, 100.0), (3, 200.0)],
        );
        let done = r.rebalance(1).unwrap();
        assert_eq!(done.assigned, 3 * 1024);
        assert_eq!(done.moved, 0);
        assert!(r.is_complete());
        assert!(done.balance < 1.0, "balance {}", done.balance);
        assert_eq!(r.min_distinct_zones(), 3);
        let slots = r.slots();
        assert_eq!(slots.iter().map(|s| s.1).sum::<usize>(), 3 * 1024);
        // weight 200 of 900 total → 2/9 of 3072 = 682.7
        assert!((682..=683).contains(&slots[1].1), "{slots:?}");
    }

    #[test]
    fn unequal_zones_keep_weight_and_disperse_where_they_can() {
        let mut r = ring(8, 3, &[(1, 100.0), (2, 100.0), (3, 50.0), (4, 50.0)]);
        let done = r.rebalance(1).unwrap();
        assert!(done.balance < 1.0, "balance {}", done.balance);
        // Four zones for three replicas: never two in one zone.
        assert_eq!(r.min_distinct_zones(), 3);
    }

    #[test]
    fn adding_a_device_moves_only_its_share() {
        let mut r = ring(10, 3, &[(1, 100.0), (2, 100.0), (3, 100.0)]);
        r.rebalance(1).unwrap();
        r.add_device(dev(4, 100.0, "d3")).unwrap();
        let done = r.rebalance(2).unwrap();
        // The new device's share is 3072 / 4 = 768: exactly what moves.
        assert_eq!(done.moved, 768, "{done:?}");
        assert!(done.balance < 1.0);
        assert_eq!(r.min_distinct_zones(), 3);

        // Six devices, add a seventh of double weight: its share is 2/8 of
        // 3 × 1024; the minimum movement is that share.
        let mut r = ring(10, 3, &[(1, 1.0), (1, 1.0), (2, 1.0), (2, 1.0), (3, 1.0), (3, 1.0)]);
        r.rebalance(1).unwrap();
        r.add_device(dev(3, 2.0, "d6")).unwrap();
        let done = r.rebalance(2).unwrap();
        let share = 3 * 1024 * 2 / 8;
        assert!(done.moved >= share && done.moved <= share + share / 50, "{done:?}");
        assert!(done.balance < 1.0, "balance {}", done.balance);
    }

    #[test]
    fn removing_and_reweighting_move_the_minimum() {
        let mut r = ring(10, 3, &[(1, 1.0), (2, 1.0), (3, 1.0), (1, 1.0), (2, 1.0), (3, 1.0)]);
        r.rebalance(1).unwrap();
        let held = r.slots().iter().find(|s| s.0 == 5).unwrap().1;
        r.remove_device(5).unwrap();
        let done = r.rebalance(2).unwrap();
        assert_eq!(done.moved, held, "only the removed device's slots move");
        assert!(r.device(5).is_none());
        assert!(r.is_complete());
        // Zone 3 is left with a fifth of the weight, 0.6 replicas of each
        // partition: weight wins, but never two replicas on one device.
        for p in 0..r.parts() {
            let mut devs = r.part_devices(p);
            devs.sort();
            devs.dedup();
            assert_eq!(devs.len(), 3);
        }
        assert!(done.balance < 1.0, "{done:?} {:?}", r.slots());

        // Halving one device's weight: its excess moves, and partitions
        // that had two replicas in one zone use the room this opens in
        // zone 3 — nothing else.
        let dispersed = |r: &Ring| {
            (0..r.parts())
                .filter(|p| {
                    let mut z: Vec<u32> = r.part_devices(*p).iter().map(|d| r.device(*d).unwrap().zone).collect();
                    z.sort();
                    z.dedup();
                    z.len() == 3
                })
                .count()
        };
        let dispersed_before = dispersed(&r);
        let before = r.slots().iter().find(|s| s.0 == 0).unwrap().1;
        r.set_weight(0, 0.5).unwrap();
        let done = r.rebalance(3).unwrap();
        let after = r.slots().iter().find(|s| s.0 == 0).unwrap().1;
        let fixed = dispersed(&r).saturating_sub(dispersed_before);
        assert!(done.moved >= before - after, "{done:?}");
        assert!(
            done.moved <= before - after + fixed,
            "{done:?} {before} {after} {fixed}"
        );
        assert!(done.balance < 1.0);
    }

    #[test]
    fn min_part_hours_holds_back_balance_moves_not_removals() {
        let mut r = Ring::new(8, 3, 24).unwrap();
        for i in 0..4 {
            r.add_device(dev(i + 1, 1.0, &format!("d{i}"))).unwrap();
        }
        r.rebalance(100).unwrap();
        r.add_device(dev(5, 1.0, "d4")).unwrap();
        // Everything moved at hour 100: nothing may move for balance yet.
        let done = r.rebalance(110).unwrap();
        assert_eq!(done.moved, 0);
        let done = r.rebalance(124).unwrap();
        assert!(done.moved > 0);
        // A removed device's partitions move at once.
        r.remove_device(0).unwrap();
        let done = r.rebalance(124).unwrap();
        assert!(done.moved > 0);
        assert!(r.is_complete());
    }

    #[test]
    fn rebalance_is_deterministic_and_the_file_round_trips() {
        let build = || {
            let mut r = ring(9, 3, &[(1, 3.0), (2, 2.0), (3, 1.0), (1, 1.0), (2, 5.0)]);
            r.hash_path_suffix = "s".into();
            r.rebalance(7).unwrap();
            r.add_device(dev(3, 4.0, "x")).unwrap();
            r.rebalance(8).unwrap();
            r
        };
        let (a, b) = (build(), build());
        assert_eq!(a.to_json(), b.to_json());
        let back = Ring::from_json(&a.to_json()).unwrap();
        assert_eq!(back, a);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object.ring.json");
        a.save(&path).unwrap();
        assert_eq!(Ring::load(&path).unwrap(), a);
        // get_nodes answers the same from the loaded ring.
        assert_eq!(a.get_nodes("AUTH_x", "c", "o").0, back.get_nodes("AUTH_x", "c", "o").0);
        let (_, nodes) = back.get_nodes("AUTH_x", "c", "o");
        assert_eq!(nodes.len(), 3);

        assert!(Ring::from_json(b"{}").is_err());
        let mut v: serde_json::Value = serde_json::from_slice(&a.to_json()).unwrap();
        v["replica2part2dev"][0] = "AAAA".into();
        assert!(Ring::from_json(v.to_string().as_bytes()).is_err());
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Ring::new(23, 3, 1).is_err());
        assert!(Ring::new(8, 0, 1).is_err());
        let mut r = ring(4, 3, &[(1, 1.0), (2, 1.0)]);
        assert!(matches!(r.rebalance(1), Err(RingError::NotEnoughDevices { .. })));
        assert!(r.add_device(dev(1, -1.0, "y")).is_err());
        assert!(r.add_device(dev(1, 1.0, "d0")).is_err(), "duplicate device");
        assert!(matches!(r.set_weight(9, 1.0), Err(RingError::UnknownDevice(9))));
    }

    #[test]
    fn handoffs_prefer_unused_zones_and_exclude_primaries() {
        let mut r = ring(6, 2, &[(1, 1.0), (2, 1.0), (1, 1.0), (3, 1.0)]);
        r.rebalance(1).unwrap();
        for p in 0..r.parts() {
            let primaries = r.part_devices(p);
            let handoffs = r.handoffs(p);
            assert_eq!(primaries.len() + handoffs.len(), 4);
            assert!(handoffs.iter().all(|h| !primaries.contains(h)));
            let zones: Vec<u32> = primaries.iter().map(|d| r.device(*d).unwrap().zone).collect();
            let first = r.device(handoffs[0]).unwrap();
            let unused_exists = handoffs.iter().any(|h| !zones.contains(&r.device(*h).unwrap().zone));
            assert!(!unused_exists || !zones.contains(&first.zone));
        }
    }

    #[test]
    fn the_single_ring_keeps_pre_ring_paths() {
        let r = Ring::single("d0");
        let h = r.hash_path("/a/c/o");
        assert_eq!(hex::encode(h), hex::encode(Md5::digest(b"/a/c/o")));
        assert_eq!(r.get_nodes("a", "c", "o").1[0].device, "d0");
    }
}
