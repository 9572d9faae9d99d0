//! Objects on a device directory: the object server's job.
//!
//! Layout, as Swift's object server keeps it (with one change, below):
//! `<device>/objects/<3 hex>/<md5 of /account/container/object>/` holds
//! files named by the timestamp of the request that wrote them —
//! `<ts>.data` (a PUT), `<ts>.meta` (a POST: new metadata) and `<ts>.ts`
//! (a DELETE: the tombstone). The newest `.data` or `.ts` decides whether
//! the object exists; a `.meta` newer than the `.data` replaces its
//! metadata. Older files are removed once a newer one is in place. Bodies are
//! streamed through `<device>/tmp/` and renamed in after an `fsync` of the file
//! (and of the directory after the rename), so a reader sees all of an object
//! or nothing.
//!
//! Metadata (name, size, ETag, content type, user headers) lives in a JSON
//! *trailer* at the end of the `.data` file, followed by its length and a
//! magic: neither xattrs (Swift's choice) nor a sidecar. Data and metadata
//! then commit together in one rename — a sidecar needs two, with a window
//! where they disagree — and nothing depends on the file system supporting
//! user xattrs of this size (tmpfs, overlayfs and some container setups
//! refuse or cap them). The body is still the first `size` bytes of the
//! file, so ranges are plain offsets.
//!
//! The hash of a name is the ring's (Swift's `hash_path`: MD5 between the
//! cluster's hash prefix and suffix; both empty for the single device of
//! `oxistack up`, which keeps the paths objects had before rings). Which
//! partition a hash directory belongs to is read off its name, so the
//! replicator finds a partition's objects without a `<partition>/` level
//! in the path — the layout stays that of one device.
//!
//! A device whose directory is gone (a failed or unmounted disk) fails
//! every write: directories are created one level at a time below the
//! device, never the device itself (Swift's `mount_check` in spirit), so a
//! write cannot silently fill the parent file system.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::names::Timestamp;

const MAGIC: &[u8; 8] = b"OXSWIFT1";
const TRAILER: u64 = 16;

/// The metadata stored with an object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ObjectMeta {
    /// `/account/container/object`
    pub name: String,
    /// The PUT's timestamp, or the newer POST's once one applies.
    pub timestamp: i64,
    /// The PUT's timestamp (a POST does not change it).
    #[serde(default)]
    pub data_timestamp: i64,
    pub size: u64,
    pub etag: String,
    pub content_type: String,
    /// Lower-case header names: `x-object-meta-*`, `content-disposition`,
    /// `content-encoding`, `x-delete-at`, `x-object-manifest`, …
    pub headers: BTreeMap<String, String>,
}

impl ObjectMeta {
    pub fn timestamp(&self) -> Timestamp {
        Timestamp(self.timestamp)
    }

    pub fn delete_at(&self) -> Option<i64> {
        self.headers.get("x-delete-at").and_then(|v| v.parse().ok())
    }
}

/// What a POST writes: new headers (all of them replace the old) and maybe
/// a new content type.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PostMeta {
    pub timestamp: i64,
    pub content_type: Option<String>,
    pub headers: BTreeMap<String, String>,
}

/// One device directory.
#[derive(Clone, Debug)]
pub struct Disk {
    root: PathBuf,
    objects: PathBuf,
    tmp: PathBuf,
    hash_prefix: String,
    hash_suffix: String,
}

/// What a device holds for a name.
pub enum State {
    Found(Opened),
    /// A tombstone at this timestamp.
    Deleted(Timestamp),
    Missing,
}

/// An object opened for reading: the file (body = its first `meta.size`
/// bytes) and its metadata. The handle stays valid if a newer write
/// replaces the object meanwhile.
pub struct Opened {
    pub file: std::fs::File,
    pub meta: ObjectMeta,
    /// The `.data` file it is, for [`quarantine_file`].
    pub data_path: PathBuf,
}

/// Moves one `.data` file found rotten while it was served to
/// `<device>/quarantined/objects/<hash>/`. Only that file: a newer version
/// written meanwhile stays.
pub fn quarantine_file(data_path: &Path) -> std::io::Result<PathBuf> {
    let bad = || std::io::Error::other("not an object file");
    let hash_dir = data_path.parent().ok_or_else(bad)?;
    let hash = hash_dir.file_name().ok_or_else(bad)?;
    let root = hash_dir
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .ok_or_else(bad)?;
    let qdir = root.join("quarantined").join("objects").join(hash);
    std::fs::create_dir_all(&qdir)?;
    let target = qdir.join(data_path.file_name().ok_or_else(bad)?);
    std::fs::rename(data_path, &target)?;
    let _ = std::fs::remove_dir(hash_dir);
    Ok(target)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Data,
    Meta,
    Tomb,
}

fn parse_file(name: &str) -> Option<(i64, Kind)> {
    let (ts, ext) = name.split_once('.')?;
    let kind = match ext {
        "data" => Kind::Data,
        "meta" => Kind::Meta,
        "ts" => Kind::Tomb,
        _ => return None,
    };
    Some((ts.parse().ok()?, kind))
}

fn file_name(ts: Timestamp, kind: Kind) -> String {
    let ext = match kind {
        Kind::Data => "data",
        Kind::Meta => "meta",
        Kind::Tomb => "ts",
    };
    format!("{:016}.{ext}", ts.0)
}

impl Disk {
    /// Opens (creating it) the device directory `root`, with hashes
    /// unsalted.
    pub fn open_device(root: &Path) -> std::io::Result<Disk> {
        Disk::open_with_hash(root, "", "")
    }

    /// The device directory `root` as it is, not touched: one that is
    /// missing stays unavailable until it is back.
    pub fn absent(root: &Path, prefix: &str, suffix: &str) -> Disk {
        Disk {
            root: root.to_owned(),
            objects: root.join("objects"),
            tmp: root.join("tmp"),
            hash_prefix: prefix.to_owned(),
            hash_suffix: suffix.to_owned(),
        }
    }

    /// Opens (creating it) the device directory `root`; names hash
    /// between `prefix` and `suffix`, as the ring's do.
    pub fn open_with_hash(root: &Path, prefix: &str, suffix: &str) -> std::io::Result<Disk> {
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&objects)?;
        std::fs::create_dir_all(&tmp)?;
        // Uploads a crash interrupted are garbage.
        for e in std::fs::read_dir(&tmp)?.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        Ok(Disk {
            root: root.to_owned(),
            objects,
            tmp,
            hash_prefix: prefix.to_owned(),
            hash_suffix: suffix.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The hex hash of a name on this device.
    pub fn hash_of(&self, name: &str) -> String {
        let mut h = Md5::new();
        h.update(self.hash_prefix.as_bytes());
        h.update(name.as_bytes());
        h.update(self.hash_suffix.as_bytes());
        hex::encode(h.finalize())
    }

    fn hash_dir(&self, name: &str) -> PathBuf {
        self.hash_path(&self.hash_of(name))
    }

    /// The directory of a hex hash.
    pub fn hash_path(&self, hash: &str) -> PathBuf {
        self.objects.join(&hash[..3.min(hash.len())]).join(hash)
    }

    /// Whether the device is there to be written: its directory exists.
    /// A device that came back empty (a replaced disk) gets its layout.
    pub fn is_available(&self) -> bool {
        if self.objects.is_dir() && self.tmp.is_dir() {
            return true;
        }
        self.root.is_dir() && make_dir(&self.objects).is_ok() && make_dir(&self.tmp).is_ok()
    }

    /// Starts streaming a body into a temporary file.
    pub async fn begin(&self) -> std::io::Result<Upload> {
        let path = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let file = match tokio::fs::File::create(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.is_available() => {
                tokio::fs::File::create(&path).await?
            }
            Err(e) => return Err(e),
        };
        Ok(Upload {
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            path,
            size: 0,
        })
    }

    /// The current version of `name`, if it exists.
    pub async fn open(&self, name: &str) -> std::io::Result<Option<Opened>> {
        Ok(match self.open_state(name).await? {
            State::Found(o) => Some(o),
            State::Deleted(_) | State::Missing => None,
        })
    }

    /// What this device holds for `name`.
    pub async fn open_state(&self, name: &str) -> std::io::Result<State> {
        let dir = self.hash_dir(name);
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || open_blocking(&dir, &name))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Writes a `.meta` for the current object; `false` if there is none.
    pub async fn post(&self, name: &str, post: PostMeta) -> std::io::Result<bool> {
        let dir = self.hash_dir(name);
        let tmp = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || {
            if !matches!(open_blocking(&dir, &name)?, State::Found(_)) {
                return Ok(false);
            }
            let json = serde_json::to_vec(&post).map_err(std::io::Error::other)?;
            write_file_durably(&tmp, &json)?;
            let ts = Timestamp(post.timestamp);
            rename_into(&tmp, &dir, &file_name(ts, Kind::Meta))?;
            cleanup(&dir);
            Ok(true)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Writes the tombstone of `name` at `ts`.
    pub async fn delete(&self, name: &str, ts: Timestamp) -> std::io::Result<()> {
        let dir = self.hash_dir(name);
        let tmp = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        tokio::task::spawn_blocking(move || {
            write_file_durably(&tmp, b"")?;
            rename_into(&tmp, &dir, &file_name(ts, Kind::Tomb))?;
            cleanup(&dir);
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// Creates `dir` if missing — one level, never its parents.
fn make_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Renames `tmp` to `dir/name` and syncs `dir`, creating `dir` and its
/// parent (the 3-hex level) under `objects/` if missing — but not
/// `objects/` itself: a device that is gone fails the write.
fn rename_into(tmp: &Path, dir: &Path, name: &str) -> std::io::Result<()> {
    let target = dir.join(name);
    // The replicator may remove an emptied hash directory at the same
    // moment: one more try then.
    for attempt in 0..2 {
        if let Some(parent) = dir.parent() {
            make_dir(parent)?;
        }
        make_dir(dir)?;
        match std::fs::rename(tmp, &target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt == 0 && tmp.exists() => continue,
            Err(e) => return Err(e),
            Ok(()) => break,
        }
    }
    sync_dir(dir)
}

fn write_file_durably(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(content)?;
    f.sync_all()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The files of a hash directory, newest first.
fn listing(dir: &Path) -> std::io::Result<Vec<(i64, Kind, PathBuf)>> {
    let mut files = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        if let Some((ts, kind)) = e.file_name().to_str().and_then(parse_file) {
            files.push((ts, kind, e.path()));
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(files)
}

fn open_blocking(dir: &Path, name: &str) -> std::io::Result<State> {
    // A concurrent writer may remove the file we picked between the listing
    // and the open: look again.
    for _ in 0..3 {
        let files = listing(dir)?;
        let Some((data_ts, kind, path)) = files.iter().find(|f| f.1 != Kind::Meta).cloned() else {
            return Ok(State::Missing);
        };
        if kind == Kind::Tomb {
            return Ok(State::Deleted(Timestamp(data_ts)));
        }
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut meta = read_trailer(&mut file)?;
        if meta.name != name {
            // An md5 collision between two names: treat as absent rather
            // than serve another object.
            return Ok(State::Missing);
        }
        meta.data_timestamp = data_ts;
        if let Some((ts, _, mpath)) = files.iter().find(|f| f.1 == Kind::Meta && f.0 > data_ts)
            && let Ok(bytes) = std::fs::read(mpath)
            && let Ok(post) = serde_json::from_slice::<PostMeta>(&bytes)
        {
            meta.timestamp = *ts;
            meta.headers = post.headers;
            if let Some(ct) = post.content_type {
                meta.content_type = ct;
            }
        }
        return Ok(State::Found(Opened {
            file,
            meta,
            data_path: path,
        }));
    }
    Ok(State::Missing)
}

fn read_trailer(file: &mut std::fs::File) -> std::io::Result<ObjectMeta> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad object trailer");
    let len = file.metadata()?.len();
    if len < TRAILER {
        return Err(bad());
    }
    let mut tail = [0u8; TRAILER as usize];
    file.seek(SeekFrom::Start(len - TRAILER))?;
    file.read_exact(&mut tail)?;
    if &tail[8..] != MAGIC {
        return Err(bad());
    }
    let json_len = u64::from_be_bytes(tail[..8].try_into().map_err(|_| bad())?);
    if json_len > len - TRAILER {
        return Err(bad());
    }
    let mut json = vec![0u8; json_len as usize];
    file.seek(SeekFrom::Start(len - TRAILER - json_len))?;
    file.read_exact(&mut json)?;
    let meta: ObjectMeta = serde_json::from_slice(&json).map_err(|_| bad())?;
    if meta.size != len - TRAILER - json_len {
        return Err(bad());
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(meta)
}

/// Removes what the newest `.data`/`.ts` (and `.meta`) make obsolete.
fn cleanup(dir: &Path) {
    let Ok(files) = listing(dir) else { return };
    let Some(newest) = files.iter().find(|f| f.1 != Kind::Meta).map(|f| f.0) else {
        return;
    };
    let newest_meta = files.iter().find(|f| f.1 == Kind::Meta).map(|f| f.0);
    for (ts, kind, path) in &files {
        let obsolete = match kind {
            Kind::Data | Kind::Tomb => *ts < newest,
            Kind::Meta => *ts <= newest || Some(*ts) != newest_meta,
        };
        if obsolete {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Blocking helpers of the replicator and the auditor: they walk a device
/// hash directory by hash directory.
impl Disk {
    /// The hex hashes stored on this device, one 3-hex directory at a time.
    pub fn hashes(&self) -> std::io::Result<impl Iterator<Item = String>> {
        let mut prefixes: Vec<PathBuf> = std::fs::read_dir(&self.objects)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.len() == 3))
            .collect();
        prefixes.sort();
        Ok(prefixes.into_iter().flat_map(|prefix| {
            let mut names: Vec<String> = std::fs::read_dir(&prefix)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect();
            names.sort();
            names
        }))
    }

    /// Copies to `to` what this device holds for `hash` that is newer than
    /// what `to` holds (the newest `.data` or `.ts`, and a newer `.meta`),
    /// so that, files being named by timestamp, the newest wins. A `.data`
    /// is checked against its ETag as it is copied: a rotten one is
    /// quarantined here instead of spread. Returns how many files it copied.
    pub fn push_hash(&self, to: &Disk, hash: &str) -> std::io::Result<usize> {
        let src_dir = self.hash_path(hash);
        let src = listing(&src_dir)?;
        let Some(newest) = src.iter().find(|f| f.1 != Kind::Meta).cloned() else {
            return Ok(0);
        };
        let meta = src.iter().find(|f| f.1 == Kind::Meta && f.0 > newest.0).cloned();
        let dst_dir = to.hash_path(hash);
        let dst = listing(&dst_dir)?;
        let dst_newest = dst.iter().find(|f| f.1 != Kind::Meta).map(|f| f.0);
        let dst_meta = dst.iter().find(|f| f.1 == Kind::Meta).map(|f| f.0);
        let mut copied = 0;
        if dst_newest.is_none_or(|t| t < newest.0) {
            let tmp = to.tmp.join(uuid::Uuid::new_v4().simple().to_string());
            let result = copy_checked(&newest.2, &tmp, newest.1 == Kind::Data);
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                if e.kind() == std::io::ErrorKind::InvalidData {
                    tracing::warn!(hash, device = %self.root.display(), "object does not match its ETag; quarantined");
                    self.quarantine(hash)?;
                    return Ok(0);
                }
                return Err(e);
            }
            rename_into(&tmp, &dst_dir, &file_name(Timestamp(newest.0), newest.1))?;
            copied += 1;
        }
        if let Some(m) = meta {
            let resulting = dst_newest.map_or(newest.0, |t| t.max(newest.0));
            if m.0 > resulting && dst_meta.is_none_or(|t| t < m.0) {
                let tmp = to.tmp.join(uuid::Uuid::new_v4().simple().to_string());
                if let Err(e) = copy_checked(&m.2, &tmp, false) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
                rename_into(&tmp, &dst_dir, &file_name(Timestamp(m.0), Kind::Meta))?;
                copied += 1;
            }
        }
        if copied > 0 {
            cleanup(&dst_dir);
        }
        Ok(copied)
    }

    /// Drops what `hash` has become obsolete and, if its newest state is a
    /// tombstone older than `reclaim_before`, the tombstone and the
    /// directory too (Swift's `reclaim_age`). True when nothing is left.
    pub fn reap_hash(&self, hash: &str, reclaim_before: Timestamp) -> std::io::Result<bool> {
        let dir = self.hash_path(hash);
        cleanup(&dir);
        let files = listing(&dir)?;
        let old_tomb = files
            .iter()
            .find(|f| f.1 != Kind::Meta)
            .is_some_and(|f| f.1 == Kind::Tomb && f.0 < reclaim_before.0);
        if old_tomb {
            for f in &files {
                let _ = std::fs::remove_file(&f.2);
            }
        }
        if old_tomb || files.is_empty() {
            // Fails, harmlessly, if a write just put a file in.
            return Ok(std::fs::remove_dir(&dir).is_ok());
        }
        Ok(false)
    }

    /// Removes from a handoff what it has pushed: the files of `hash` no
    /// newer than `upto`, and the directory if that empties it.
    pub fn remove_hash(&self, hash: &str, upto: i64) -> std::io::Result<()> {
        let dir = self.hash_path(hash);
        for f in listing(&dir)?.iter().filter(|f| f.0 <= upto) {
            let _ = std::fs::remove_file(&f.2);
        }
        let _ = std::fs::remove_dir(&dir);
        Ok(())
    }

    /// Removes the `.data` at `ts` of `hash` (a PUT that reached no
    /// quorum takes back its own replicas).
    pub fn remove_version(&self, hash: &str, ts: i64) -> std::io::Result<()> {
        let dir = self.hash_path(hash);
        match std::fs::remove_file(dir.join(file_name(Timestamp(ts), Kind::Data))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => {
                let _ = std::fs::remove_dir(&dir);
                Ok(())
            }
        }
    }

    /// The newest timestamp `hash` holds (data, tombstone or metadata).
    pub fn newest_of(&self, hash: &str) -> std::io::Result<Option<i64>> {
        Ok(listing(&self.hash_path(hash))?.first().map(|f| f.0))
    }

    /// Moves the directory of `hash` to `quarantined/objects/`, out of the
    /// object server's sight, for an operator to look at (Swift's layout).
    pub fn quarantine(&self, hash: &str) -> std::io::Result<PathBuf> {
        let qdir = self.root.join("quarantined").join("objects");
        std::fs::create_dir_all(&qdir)?;
        let mut target = qdir.join(hash);
        if target.exists() {
            target = qdir.join(format!("{hash}-{}", uuid::Uuid::new_v4().simple()));
        }
        std::fs::rename(self.hash_path(hash), &target)?;
        Ok(target)
    }

    /// Checks the current `.data` of `hash` against its ETag and its
    /// trailer, quarantining it if either fails; `pace` is called with each
    /// chunk's size (the auditor's rate limit). Returns the bytes read, or
    /// `None` when it quarantined.
    pub fn audit_hash(&self, hash: &str, pace: &mut dyn FnMut(usize)) -> std::io::Result<Option<u64>> {
        let files = listing(&self.hash_path(hash))?;
        let Some(newest) = files.iter().find(|f| f.1 != Kind::Meta) else {
            return Ok(Some(0));
        };
        if newest.1 != Kind::Data {
            return Ok(Some(0));
        }
        let mut file = match std::fs::File::open(&newest.2) {
            Ok(f) => f,
            // Replaced meanwhile by a newer write.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(0)),
            Err(e) => return Err(e),
        };
        let good = match read_trailer(&mut file) {
            Ok(meta) => {
                let mut md5 = Md5::new();
                let mut left = meta.size;
                let mut buf = vec![0u8; 64 * 1024];
                while left > 0 {
                    let n = (left as usize).min(buf.len());
                    file.read_exact(&mut buf[..n])?;
                    md5.update(&buf[..n]);
                    pace(n);
                    left -= n as u64;
                }
                hex::encode(md5.finalize()) == meta.etag && self.hash_of(&meta.name) == hash
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => false,
            Err(e) => return Err(e),
        };
        if good {
            return Ok(Some(file.metadata()?.len()));
        }
        let to = self.quarantine(hash)?;
        tracing::warn!(hash, to = %to.display(), "object failed its audit; quarantined");
        Ok(None)
    }
}

/// Copies `from` to `to` durably; a `.data` is checked as it goes: its
/// trailer must read and its body hash to the ETag there (`InvalidData`
/// when not).
fn copy_checked(from: &Path, to: &Path, check: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut src = std::fs::File::open(from)?;
    let expect = if check {
        let meta = read_trailer(&mut src)?;
        Some((meta.size, meta.etag))
    } else {
        None
    };
    let mut dst = std::fs::File::create(to)?;
    let mut md5 = Md5::new();
    let mut done = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some((size, _)) = &expect
            && done < *size
        {
            let body = ((*size - done) as usize).min(n);
            md5.update(&buf[..body]);
        }
        done += n as u64;
        dst.write_all(&buf[..n])?;
    }
    if let Some((_, etag)) = expect
        && hex::encode(md5.finalize()) != etag
    {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "ETag mismatch"));
    }
    dst.sync_all()
}

/// A body on its way to the disk (the caller hashes it: once for all
/// replicas).
pub struct Upload {
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    path: PathBuf,
    size: u64,
}

impl Upload {
    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.size += chunk.len() as u64;
        match &mut self.file {
            Some(f) => f.write_all(chunk).await,
            None => Err(std::io::Error::other("upload already finished")),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the metadata, makes the file durable and renames it into
    /// place as the version at `meta.timestamp`.
    pub async fn commit(mut self, disk: &Disk, meta: &ObjectMeta) -> std::io::Result<()> {
        let mut file = self.file.take().ok_or_else(|| std::io::Error::other("no file"))?;
        let json = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
        file.write_all(&json).await?;
        file.write_all(&(json.len() as u64).to_be_bytes()).await?;
        file.write_all(MAGIC).await?;
        file.flush().await?;
        let file = file.into_inner();
        file.sync_all().await?;
        drop(file);
        let dir = disk.hash_dir(&meta.name);
        let target = file_name(meta.timestamp(), Kind::Data);
        let tmp = std::mem::take(&mut self.path);
        tokio::task::spawn_blocking(move || {
            rename_into(&tmp, &dir, &target)?;
            cleanup(&dir);
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, ts: i64, size: u64) -> ObjectMeta {
        ObjectMeta {
            name: name.into(),
            timestamp: ts,
            data_timestamp: ts,
            size,
            etag: String::new(),
            content_type: "text/plain".into(),
            headers: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn put_post_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open_device(dir.path()).unwrap();
        assert!(disk.open("/a/c/o").await.unwrap().is_none());

        let mut up = disk.begin().await.unwrap();
        up.write(b"hello ").await.unwrap();
        up.write(b"world").await.unwrap();
        let mut m = meta("/a/c/o", 10, up.size());
        m.etag = "5eb63bbbe01eeed093cb22bb8f5acdc3".into();
        up.commit(&disk, &m).await.unwrap();

        let mut got = disk.open("/a/c/o").await.unwrap().unwrap();
        assert_eq!(got.meta, m);
        let mut body = String::new();
        (&mut got.file).take(got.meta.size).read_to_string(&mut body).unwrap();
        assert_eq!(body, "hello world");

        let mut headers = BTreeMap::new();
        headers.insert("x-object-meta-color".to_owned(), "blue".to_owned());
        let post = PostMeta {
            timestamp: 20,
            content_type: None,
            headers,
        };
        assert!(disk.post("/a/c/o", post).await.unwrap());
        let got = disk.open("/a/c/o").await.unwrap().unwrap();
        assert_eq!(got.meta.timestamp, 20);
        assert_eq!(got.meta.data_timestamp, 10);
        assert_eq!(got.meta.headers["x-object-meta-color"], "blue");

        // A newer PUT replaces data and metadata; old files are cleaned up.
        let mut up = disk.begin().await.unwrap();
        up.write(b"x").await.unwrap();
        up.commit(&disk, &meta("/a/c/o", 30, 1)).await.unwrap();
        let got = disk.open("/a/c/o").await.unwrap().unwrap();
        assert!(got.meta.headers.is_empty());
        let hash_dir = disk.hash_dir("/a/c/o");
        assert_eq!(std::fs::read_dir(&hash_dir).unwrap().count(), 1);

        disk.delete("/a/c/o", Timestamp(40)).await.unwrap();
        assert!(disk.open("/a/c/o").await.unwrap().is_none());
        assert!(
            !disk
                .post(
                    "/a/c/o",
                    PostMeta {
                        timestamp: 50,
                        content_type: None,
                        headers: BTreeMap::new()
                    }
                )
                .await
                .unwrap()
        );
        let left: Vec<_> = std::fs::read_dir(&hash_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "only the tombstone stays: {left:?}");
    }

    #[tokio::test]
    async fn an_abandoned_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::open_device(dir.path()).unwrap();
        let mut up = disk.begin().await.unwrap();
        up.write(b"partial").await.unwrap();
        drop(up);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
