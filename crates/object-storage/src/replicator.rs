//! The object replicator and the object auditor: the background passes
//! that keep every replica of every object on its devices, and correct.
//!
//! Replicator (Swift's object-replicator, push model): each local device
//! is walked hash directory by hash directory; the partition is read off
//! the hash, the ring names its primaries, and the device pushes to each
//! other primary what it holds newer than that primary (newest file wins,
//! files being named by timestamp: a newer tombstone replaces older data,
//! newer data an older tombstone, a newer `.meta` is carried along). A
//! device that is not a primary of the partition (a handoff written to
//! while a primary was down, or a partition the ring moved away) pushes to
//! all primaries and, once every one of them has it, removes its copy.
//! Tombstones older than `reclaim_age` are removed, as Swift reclaims
//! them: a device that comes back after longer than that may bring back
//! what was deleted, so `reclaim_age` must exceed any outage.
//!
//! Every pair of devices is compared from both sides within one pass, so
//! a device that came back empty (a replaced disk) is refilled by its
//! peers. Swift compares per-suffix hashes (`hashes.pkl`) to skip unchanged
//! directories across the network; with the devices in one process a
//! directory listing per object and peer is what that comparison costs,
//! and is what this does.
//!
//! Auditor (Swift's object-auditor): re-reads every current `.data` at a
//! limited rate, checks its trailer, that its body hashes to its ETag and
//! that its name hashes to its directory, and moves a bad one to
//! `<device>/quarantined/objects/`; the object is then missing on that
//! device, reads fall over to another replica, and the next replication
//! pass restores it from a good one (a `.data` is checked again as it is
//! copied, so rot does not spread).

use std::time::{Duration, Instant};

use crate::names::{self, Timestamp};
use crate::replicas::Replicas;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicationStats {
    /// Hash directories looked at.
    pub objects: usize,
    /// Files copied to another device.
    pub pushed: usize,
    /// Hash directories a handoff removed after pushing them.
    pub handoffs_removed: usize,
    /// Old tombstones removed.
    pub reclaimed: usize,
    pub failures: usize,
    /// Local devices that were unavailable.
    pub devices_unavailable: usize,
}

/// One replication pass over every local device (blocking).
pub fn replicate(replicas: &Replicas, reclaim_age: Duration) -> ReplicationStats {
    let mut stats = ReplicationStats::default();
    let ring = replicas.ring();
    let reclaim_before = Timestamp::from_secs(names::now_secs() - reclaim_age.as_secs() as i64);
    for (id, disk) in replicas.local_disks() {
        if !disk.is_available() {
            tracing::warn!(device = id, path = %disk.root().display(), "device unavailable; not replicating it");
            stats.devices_unavailable += 1;
            continue;
        }
        let hashes = match disk.hashes() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(device = id, error = %e, "cannot list the device");
                stats.failures += 1;
                continue;
            }
        };
        for hash in hashes {
            stats.objects += 1;
            match disk.reap_hash(&hash, reclaim_before) {
                Ok(true) => {
                    stats.reclaimed += 1;
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(device = id, hash, error = %e, "cannot read a hash directory");
                    stats.failures += 1;
                    continue;
                }
            }
            let Some(part) = ring.part_of_hex(&hash) else { continue };
            let primaries = ring.part_devices(part);
            let newest = match disk.newest_of(&hash) {
                Ok(Some(t)) => t,
                Ok(None) => continue,
                Err(_) => {
                    stats.failures += 1;
                    continue;
                }
            };
            let mut everywhere = true;
            for &peer in primaries.iter().filter(|p| **p != id) {
                let Some(target) = replicas.disk(peer).filter(|d| d.is_available()) else {
                    everywhere = false;
                    continue;
                };
                match disk.push_hash(target, &hash) {
                    Ok(n) => stats.pushed += n,
                    Err(e) => {
                        tracing::warn!(from = id, to = peer, hash, error = %e, "replication failed");
                        stats.failures += 1;
                        everywhere = false;
                    }
                }
            }
            if !primaries.contains(&id) && everywhere {
                match disk.remove_hash(&hash, newest) {
                    Ok(()) => stats.handoffs_removed += 1,
                    Err(_) => stats.failures += 1,
                }
            }
        }
    }
    if stats.pushed > 0 || stats.handoffs_removed > 0 || stats.failures > 0 {
        tracing::info!(?stats, "object replication pass");
    }
    stats
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditStats {
    pub objects: usize,
    pub bytes: u64,
    pub quarantined: usize,
    pub errors: usize,
}

/// One audit pass over every local device (blocking), reading at most
/// `bytes_per_second`.
pub fn audit(replicas: &Replicas, bytes_per_second: u64) -> AuditStats {
    let mut stats = AuditStats::default();
    let started = Instant::now();
    let mut read = 0u64;
    let mut pace = |n: usize| {
        read += n as u64;
        if bytes_per_second == 0 {
            return;
        }
        let due = Duration::from_secs_f64(read as f64 / bytes_per_second as f64);
        let elapsed = started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    };
    for (id, disk) in replicas.local_disks() {
        if !disk.is_available() {
            continue;
        }
        let Ok(hashes) = disk.hashes() else {
            stats.errors += 1;
            continue;
        };
        for hash in hashes {
            stats.objects += 1;
            match disk.audit_hash(&hash, &mut pace) {
                Ok(Some(n)) => stats.bytes += n,
                Ok(None) => stats.quarantined += 1,
                Err(e) => {
                    tracing::warn!(device = id, hash, error = %e, "cannot audit an object");
                    stats.errors += 1;
                }
            }
        }
    }
    if stats.quarantined > 0 || stats.errors > 0 {
        tracing::warn!(?stats, "object audit pass");
    }
    stats
}
