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
    objects: PathBuf,
    tmp: PathBuf,
}

/// An object opened for reading: the file (body = its first `meta.size`
/// bytes) and its metadata. The handle stays valid if a newer write
/// replaces the object meanwhile.
pub struct Opened {
    pub file: std::fs::File,
    pub meta: ObjectMeta,
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
    /// Opens (creating it) the device directory `root`.
    pub fn open_device(root: &Path) -> std::io::Result<Disk> {
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&objects)?;
        std::fs::create_dir_all(&tmp)?;
        // Uploads a crash interrupted are garbage.
        for e in std::fs::read_dir(&tmp)?.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        Ok(Disk { objects, tmp })
    }

    fn hash_dir(&self, name: &str) -> PathBuf {
        let h = hex::encode(Md5::digest(name.as_bytes()));
        self.objects.join(&h[..3]).join(h)
    }

    /// Starts streaming a body into a temporary file.
    pub async fn begin(&self) -> std::io::Result<Upload> {
        let path = self.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let file = tokio::fs::File::create(&path).await?;
        Ok(Upload {
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            path,
            md5: Md5::new(),
            size: 0,
        })
    }

    /// The current version of `name`, if it exists.
    pub async fn open(&self, name: &str) -> std::io::Result<Option<Opened>> {
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
            if open_blocking(&dir, &name)?.is_none() {
                return Ok(false);
            }
            let json = serde_json::to_vec(&post).map_err(std::io::Error::other)?;
            write_file_durably(&tmp, &json)?;
            let ts = Timestamp(post.timestamp);
            std::fs::rename(&tmp, dir.join(file_name(ts, Kind::Meta)))?;
            sync_dir(&dir)?;
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
            std::fs::create_dir_all(&dir)?;
            write_file_durably(&tmp, b"")?;
            std::fs::rename(&tmp, dir.join(file_name(ts, Kind::Tomb)))?;
            sync_dir(&dir)?;
            cleanup(&dir);
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }
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

fn open_blocking(dir: &Path, name: &str) -> std::io::Result<Option<Opened>> {
    // A concurrent writer may remove the file we picked between the listing
    // and the open: look again.
    for _ in 0..3 {
        let files = listing(dir)?;
        let Some((data_ts, kind, path)) = files.iter().find(|f| f.1 != Kind::Meta).cloned() else {
            return Ok(None);
        };
        if kind == Kind::Tomb {
            return Ok(None);
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
            return Ok(None);
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
        return Ok(Some(Opened { file, meta }));
    }
    Ok(None)
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

/// A body on its way to the disk.
pub struct Upload {
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    path: PathBuf,
    md5: Md5,
    size: u64,
}

impl Upload {
    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.md5.update(chunk);
        self.size += chunk.len() as u64;
        match &mut self.file {
            Some(f) => f.write_all(chunk).await,
            None => Err(std::io::Error::other("upload already finished")),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hex MD5 of what was written so far.
    pub fn etag(&self) -> String {
        hex::encode(self.md5.clone().finalize())
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
        let target = dir.join(file_name(meta.timestamp(), Kind::Data));
        let tmp = std::mem::take(&mut self.path);
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            std::fs::rename(&tmp, &target)?;
            sync_dir(&dir)?;
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
        assert_eq!(up.etag(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        let mut m = meta("/a/c/o", 10, up.size());
        m.etag = up.etag();
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
