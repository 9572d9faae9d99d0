//! The proxy's object controller: every object on all its replica devices,
//! as the ring places it.
//!
//! - A PUT streams the body to every primary device at once (a failed
//!   primary replaced by the next handoff, as Swift's proxy does), hashing
//!   it once; each replica is fsynced and renamed in on its own, and the
//!   client's 201 waits for a quorum of them — Swift's `replicas / 2 + 1`
//!   — then at most `post_quorum_timeout` for the rest. Without a quorum
//!   the replicas that did land are removed again (their timestamp is this
//!   request's own) and the answer is 503: nothing partly visible.
//! - GET and HEAD read the first primary that has the object and fall over
//!   to the next (then to handoffs) when one is missing it, is gone or
//!   fails; a tombstone newer than what another device still has wins.
//! - POST and DELETE write their `.meta` / tombstone to every device a PUT
//!   would write to; a quorum of devices must answer (else 503), and the
//!   object exists if one of them has it (Swift's `best_response` would
//!   answer 404 to a POST while two of three replicas are still to be
//!   restored; the GET before it found the object, so this does not).
//!
//! Devices are directories in this process for now; a device of the ring
//! with an `address` (a storage server elsewhere) is not reached yet and
//! counts as failed.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use md5::{Digest, Md5};

use crate::disk::{self, Disk, ObjectMeta, Opened, PostMeta, State};
use crate::error::{Result, SwiftError};
use crate::names::Timestamp;
use crate::ring::Ring;

/// Swift's quorum for replicated policies.
pub fn quorum(replicas: usize) -> usize {
    replicas / 2 + 1
}

/// The ring and this process's devices.
pub struct Replicas {
    ring: Ring,
    /// By device id; `None` for ids with no device here.
    disks: Vec<Option<Disk>>,
    post_quorum_timeout: Duration,
}

impl Replicas {
    /// Opens every device of `ring` that lives in this process;
    /// `resolve` turns a device name into its directory.
    pub fn open_devices(
        ring: Ring,
        resolve: impl Fn(&str) -> std::path::PathBuf,
        post_quorum_timeout: Duration,
    ) -> std::io::Result<Replicas> {
        let mut disks = Vec::new();
        for dev in ring.devices() {
            let i = dev.id as usize;
            if disks.len() <= i {
                disks.resize(i + 1, None);
            }
            if dev.address.is_some() {
                tracing::warn!(device = %dev.device, "device of a remote storage server: not reachable from here yet");
                continue;
            }
            let root = resolve(&dev.device);
            let (prefix, suffix) = (&ring.hash_path_prefix, &ring.hash_path_suffix);
            disks[i] = Some(match Disk::open_with_hash(&root, prefix, suffix) {
                Ok(d) => d,
                // With replicas elsewhere, a failed device must not stop
                // the service: it is written around until it is back.
                Err(e) if ring.devices().count() > 1 => {
                    tracing::error!(path = %root.display(), error = %e, "device unavailable at start");
                    Disk::absent(&root, prefix, suffix)
                }
                Err(e) => return Err(e),
            });
        }
        Ok(Replicas {
            ring,
            disks,
            post_quorum_timeout,
        })
    }

    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// This process's devices, by ring device id.
    pub fn local_disks(&self) -> impl Iterator<Item = (u16, &Disk)> {
        self.disks
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|d| (i as u16, d)))
    }

    pub fn disk(&self, id: u16) -> Option<&Disk> {
        self.disks.get(id as usize).and_then(Option::as_ref)
    }

    fn replica_count(&self) -> usize {
        self.ring.replicas as usize
    }

    /// The partition of `name` and its primaries (handoffs are worked
    /// out only when a primary fails: [`Ring::handoffs`]).
    fn nodes(&self, name: &str) -> (usize, Vec<u16>) {
        let part = self.ring.part_of_hash(&self.ring.hash_path(name));
        (part, self.ring.part_devices(part))
    }

    /// The devices a write goes to: the primaries, each unavailable one
    /// replaced by the next available handoff.
    fn write_set(&self, name: &str) -> Vec<(u16, Disk)> {
        let (part, primaries) = self.nodes(name);
        let mut spare = std::iter::once(part)
            .flat_map(|part| self.ring.handoffs(part))
            .filter_map(|h| self.disk(h).filter(|d| d.is_available()).map(|d| (h, d.clone())));
        let mut out = Vec::new();
        for p in primaries {
            match self.disk(p).filter(|d| d.is_available()) {
                Some(d) => out.push((p, d.clone())),
                None => {
                    tracing::warn!(device = p, "device unavailable; writing to a handoff");
                    if let Some(h) = spare.next() {
                        out.push(h);
                    }
                }
            }
        }
        out
    }

    /// Starts a PUT of `name`: a temporary file on each device it goes to.
    pub async fn begin(&self, name: &str) -> Result<ReplicatedUpload> {
        let need = quorum(self.replica_count());
        let (part, primaries) = self.nodes(name);
        let mut handoffs = std::iter::once(part).flat_map(|part| self.ring.handoffs(part));
        let mut parts = Vec::new();
        for p in primaries {
            let mut candidate = Some(p);
            while let Some(dev) = candidate {
                let started = match self.disk(dev) {
                    Some(d) => d.begin().await.map(|u| (d.clone(), u)),
                    None => Err(std::io::Error::other("not a local device")),
                };
                match started {
                    Ok((disk, upload)) => {
                        parts.push(Part { dev, disk, upload });
                        candidate = None;
                    }
                    Err(e) => {
                        tracing::warn!(device = dev, error = %e, "device failed; writing to a handoff");
                        candidate = handoffs.next();
                    }
                }
            }
        }
        if parts.len() < need {
            tracing::error!(name, have = parts.len(), need, "not enough devices for a quorum");
            return Err(SwiftError::Unavailable);
        }
        Ok(ReplicatedUpload {
            parts,
            md5: Md5::new(),
            size: 0,
            quorum: need,
            post_quorum_timeout: self.post_quorum_timeout,
        })
    }

    /// The current version of `name`: from the first device that has it,
    /// unless a device already asked holds a newer tombstone.
    pub async fn open(&self, name: &str) -> Result<Option<Opened>> {
        let (part, primaries) = self.nodes(name);
        let limit = primaries.len() + self.replica_count();
        let handoffs = std::iter::once(part).flat_map(|part| self.ring.handoffs(part));
        let mut tombstone: Option<Timestamp> = None;
        let mut errors = 0;
        let mut asked = 0;
        for dev in primaries.into_iter().chain(handoffs).take(limit) {
            let Some(disk) = self.disk(dev) else {
                errors += 1;
                continue;
            };
            asked += 1;
            match disk.open_state(name).await {
                Ok(State::Found(o)) => {
                    if tombstone.is_some_and(|t| t.0 > o.meta.data_timestamp) {
                        return Ok(None);
                    }
                    return Ok(Some(o));
                }
                Ok(State::Deleted(ts)) => tombstone = tombstone.max(Some(ts)),
                Ok(State::Missing) => {}
                Err(e) => {
                    errors += 1;
                    tracing::warn!(device = dev, name, error = %e, "reading an object failed; trying another replica");
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        let hash = disk.hash_of(name);
                        if let Err(e) = disk.quarantine(&hash) {
                            tracing::warn!(device = dev, error = %e, "could not quarantine");
                        }
                    }
                }
            }
        }
        if tombstone.is_none() && errors > 0 && errors >= asked {
            return Err(SwiftError::Unavailable);
        }
        Ok(None)
    }

    /// Writes new metadata to the replicas; `false` for 404.
    pub async fn post(&self, name: &str, post: PostMeta) -> Result<bool> {
        let set = self.write_set(name);
        let results = futures::future::join_all(set.iter().map(|(_, d)| d.post(name, post.clone()))).await;
        let (mut ok, mut missing) = (0, 0);
        for r in results {
            match r {
                Ok(true) => ok += 1,
                Ok(false) => missing += 1,
                Err(e) => tracing::warn!(name, error = %e, "POST to a replica failed"),
            }
        }
        self.best_response(ok, missing)
    }

    /// Writes the tombstone of `name` at `ts` to the replicas.
    pub async fn delete(&self, name: &str, ts: Timestamp) -> Result<()> {
        let set = self.write_set(name);
        let results = futures::future::join_all(set.iter().map(|(_, d)| d.delete(name, ts))).await;
        let mut ok = 0;
        for r in results {
            match r {
                Ok(()) => ok += 1,
                Err(e) => tracing::warn!(name, error = %e, "DELETE on a replica failed"),
            }
        }
        self.best_response(ok, 0).map(|_| ())
    }

    /// Swift's `best_response`, leaning to availability: a quorum must
    /// answer; the object exists if one of them has it.
    fn best_response(&self, ok: usize, missing: usize) -> Result<bool> {
        if ok + missing < quorum(self.replica_count()) {
            return Err(SwiftError::Unavailable);
        }
        Ok(ok > 0)
    }
}

struct Part {
    dev: u16,
    disk: Disk,
    upload: disk::Upload,
}

/// A body on its way to every replica.
pub struct ReplicatedUpload {
    parts: Vec<Part>,
    md5: Md5,
    size: u64,
    quorum: usize,
    post_quorum_timeout: Duration,
}

impl ReplicatedUpload {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        if self.parts.len() == 1 {
            self.parts[0].upload.write(chunk).await?;
            return Ok(());
        }
        let results = futures::future::join_all(self.parts.iter_mut().map(|p| p.upload.write(chunk))).await;
        let mut i = 0;
        self.parts.retain(|p| {
            let r = &results[i];
            i += 1;
            if let Err(e) = r {
                tracing::warn!(device = p.dev, error = %e, "writing a replica failed");
            }
            r.is_ok()
        });
        if self.parts.len() < self.quorum {
            return Err(SwiftError::Unavailable);
        }
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hex MD5 of what was written so far.
    pub fn etag(&self) -> String {
        hex::encode(self.md5.clone().finalize())
    }

    /// Commits every replica as the version at `meta.timestamp`; returns
    /// once a quorum is durable (see the module's doc).
    pub async fn commit(self, meta: &ObjectMeta) -> Result<()> {
        let meta = Arc::new(meta.clone());
        let quorum = self.quorum;
        let mut pending: FuturesUnordered<_> = self
            .parts
            .into_iter()
            .map(|p| {
                let meta = meta.clone();
                let disk = p.disk.clone();
                let dev = p.dev;
                let task = tokio::spawn(async move { p.upload.commit(&p.disk, &meta).await });
                async move { (dev, disk, task.await.map_err(std::io::Error::other).and_then(|r| r)) }
            })
            .collect();
        let total = pending.len();
        let mut done: Vec<Disk> = Vec::new();
        let mut failed = 0;
        while done.len() < quorum && total - failed >= quorum {
            let Some((dev, disk, r)) = pending.next().await else {
                break;
            };
            match r {
                Ok(()) => done.push(disk),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(device = dev, error = %e, "committing a replica failed");
                }
            }
        }
        if done.len() >= quorum {
            // The rest go on in their tasks; wait a little for them, as
            // Swift's `post_quorum_timeout`, so a healthy cluster answers
            // with all replicas written.
            let _ = tokio::time::timeout(self.post_quorum_timeout, async {
                while pending.next().await.is_some() {}
            })
            .await;
            return Ok(());
        }
        while let Some((_, disk, r)) = pending.next().await {
            if r.is_ok() {
                done.push(disk);
            }
        }
        for disk in done {
            let hash = disk.hash_of(&meta.name);
            if let Err(e) = disk.remove_version(&hash, meta.timestamp) {
                tracing::warn!(error = %e, "could not remove a replica of a failed PUT");
            }
        }
        tracing::error!(name = %meta.name, "PUT reached no quorum of replicas");
        Err(SwiftError::Unavailable)
    }
}
