//! Image data: upload, download, staging and the `glance-direct` import —
//! the state machine of an image's `status`.
//!
//! ```text
//! queued --PUT file--> saving --complete--> active <--> deactivated
//!    |                   |--client/body error--> queued  (partial data removed)
//!    |                   '--store error--------> killed  (partial data removed)
//!    '--PUT stage--> uploading --POST import--> importing --> active
//!                                                   '--failure--> queued
//! ```
//!
//! Every arrow is a compare-and-swap on `status`, so a second upload to the
//! same image gets 409, and an image deleted during an upload is noticed at
//! the last step (410, data removed). Bytes are hashed chunk by chunk as
//! they are written; nothing holds a whole image in memory.

use std::io;
use std::sync::Arc;

use api::AuthContext;
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use openssl::hash::{Hasher, MessageDigest};
use serde_json::json;

use crate::Image;
use crate::db::images::ImageRow;
use crate::db::tasks::TaskRow;
use crate::error::{ImageError, Result};
use crate::quota;
use crate::stores::{Reader, Store, StoreWriter};

/// The import methods offered (`/v2/info/import`).
pub const IMPORT_METHODS: &[&str] = &["glance-direct"];

/// A byte range of a download, as the `Range` header asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b` (inclusive) or `bytes=a-`.
    From(u64, Option<u64>),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The inclusive `(first, last)` bytes of an image of `size` bytes.
    pub fn resolve(self, size: u64) -> Result<(u64, u64)> {
        let bad = ImageError::RangeNotSatisfiable { size };
        match self {
            ByteRange::From(a, _) if a >= size => Err(bad),
            ByteRange::From(a, Some(b)) if b < a => Err(bad),
            ByteRange::From(a, b) => Ok((a, b.unwrap_or(size - 1).min(size - 1))),
            ByteRange::Suffix(0) => Err(bad),
            ByteRange::Suffix(n) => Ok((size.saturating_sub(n), size - 1)),
        }
    }
}

/// What a download returns.
pub struct ImageData {
    /// `None`: the image has no data (204).
    pub reader: Option<Reader>,
    pub size: u64,
    /// The inclusive byte range served, for a 206.
    pub range: Option<(u64, u64)>,
    pub checksum: Option<String>,
}

/// What was written: size and digests.
struct Written {
    location: String,
    size: u64,
    md5: String,
    sha512: String,
    head: Vec<u8>,
}

/// Why writing stopped.
enum WriteError {
    /// The client's body failed (truncated, disconnected): back to queued.
    Body(String),
    /// Over the size cap or quota: back to queued, 413.
    TooLarge(String),
    /// The store failed: killed.
    Store(io::Error),
    /// A digest thread failed (a bug, not the client's data): back to
    /// queued, 500.
    Internal(String),
}

impl From<WriteError> for ImageError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Body(m) => ImageError::bad(format!("The image data could not be read: {m}")),
            WriteError::TooLarge(m) => ImageError::OverLimit(m),
            WriteError::Store(io) => ImageError::Io(io),
            WriteError::Internal(m) => ImageError::Internal(m),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Chunks handed to the digests together: one hand-off (and at most one
/// thread wake-up) per this many bytes rather than per network read.
const DIGEST_BATCH: usize = 1 << 20;
/// Batches queued for each digest: slack for a digest thread that is not
/// scheduled for a moment, on a busy machine.
const DIGEST_QUEUE: usize = 8;
/// Chunks smaller than this are gathered (copied) into chunks of
/// [`GATHER`] bytes. The chunks are otherwise passed on without a copy, and
/// the queues are bounded in chunks: a body of tiny chunks (chunked
/// encoding allows one byte each) must not become millions of buffers.
const SMALL_CHUNK: usize = 16 << 10;
/// The size small chunks are gathered to.
const GATHER: usize = 64 << 10;

type DigestTx = tokio::sync::mpsc::Sender<Arc<[Bytes]>>;

/// Feeds a digest on a blocking thread of its own, batch by batch: the two
/// digests of an upload (md5 and sha512) then run on two cores beside the
/// disk writes instead of in line on the async worker. The chunks are
/// shared, not copied, and the channel is bounded, so memory stays flat.
///
/// The digests are OpenSSL's (libcrypto, as Glance's Python `hashlib`):
/// its assembly runs sha512 ~1.5x and md5 ~1.2x as fast as the pure-Rust
/// `sha2` and `md-5` crates on x86_64, and on a 2-CPU machine the hashing,
/// not the disk, bounds an upload (`bench/README.md`, image).
fn spawn_digest(kind: MessageDigest) -> (DigestTx, tokio::task::JoinHandle<Result<String, String>>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Arc<[Bytes]>>(DIGEST_QUEUE);
    let done = tokio::task::spawn_blocking(move || {
        let mut d = Hasher::new(kind).map_err(|e| e.to_string())?;
        while let Some(batch) = rx.blocking_recv() {
            for chunk in batch.iter() {
                d.update(chunk).map_err(|e| e.to_string())?;
            }
        }
        Ok(hex(&d.finish().map_err(|e| e.to_string())?))
    });
    (tx, done)
}

/// Where the bytes of an upload go: the store's writer, and (in batches)
/// the two digests.
struct Sink {
    w: Box<dyn StoreWriter>,
    md5: DigestTx,
    sha512: DigestTx,
    batch: Vec<Bytes>,
    batch_len: usize,
    small: BytesMut,
    head: Vec<u8>,
}

impl Sink {
    /// Takes the next chunk of the body.
    async fn push(&mut self, chunk: Bytes) -> Result<(), WriteError> {
        if chunk.len() < SMALL_CHUNK {
            self.small.extend_from_slice(&chunk);
            if self.small.len() >= GATHER {
                self.flush_small().await?;
            }
            return Ok(());
        }
        self.flush_small().await?;
        self.emit(chunk).await
    }

    async fn flush_small(&mut self) -> Result<(), WriteError> {
        if self.small.is_empty() {
            return Ok(());
        }
        let gathered = std::mem::replace(&mut self.small, BytesMut::new()).freeze();
        self.emit(gathered).await
    }

    async fn emit(&mut self, chunk: Bytes) -> Result<(), WriteError> {
        if self.head.len() < 64 {
            let n = (64 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        self.batch_len += chunk.len();
        self.batch.push(chunk.clone());
        self.w.write(chunk).await.map_err(WriteError::Store)?;
        if self.batch_len >= DIGEST_BATCH {
            self.send_batch().await?;
        }
        Ok(())
    }

    /// Hands the chunks gathered in the batch (if any) to both digests.
    async fn send_batch(&mut self) -> Result<(), WriteError> {
        self.batch_len = 0;
        if self.batch.is_empty() {
            return Ok(());
        }
        let b: Arc<[Bytes]> = std::mem::take(&mut self.batch).into();
        let lost = |_| WriteError::Internal("an image digest thread stopped".into());
        self.md5.send(b.clone()).await.map_err(lost)?;
        self.sha512.send(b).await.map_err(lost)
    }

    /// Everything received has gone to the writer and the digests.
    async fn finish(&mut self) -> Result<(), WriteError> {
        self.flush_small().await?;
        self.send_batch().await
    }
}

/// Streams `body` into `store` under `key`, hashing as it goes; at most
/// `cap` bytes. On any error the partial data is removed.
///
/// The chunks go on without a copy to the store's writer (which writes in
/// the background) and, gathered in batches, to the two digest threads, so
/// receiving, hashing and writing overlap.
async fn write_stream<S, E>(store: &dyn Store, key: &str, mut body: S, cap: u64) -> Result<Written, WriteError>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let w = store.writer(key).await.map_err(WriteError::Store)?;
    let (md5_tx, md5_done) = spawn_digest(MessageDigest::md5());
    let (sha_tx, sha_done) = spawn_digest(MessageDigest::sha512());
    let mut sink = Sink {
        w,
        md5: md5_tx,
        sha512: sha_tx,
        batch: Vec::new(),
        batch_len: 0,
        small: BytesMut::new(),
        head: Vec::with_capacity(64),
    };
    let mut size: u64 = 0;
    let res: Result<(), WriteError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
            size += chunk.len() as u64;
            if size > cap {
                return Err(WriteError::TooLarge(format!(
                    "The image is larger than the {cap} bytes allowed (image size cap or quota)."
                )));
            }
            sink.push(chunk).await?;
        }
        sink.finish().await
    }
    .await;
    let Sink {
        w, md5, sha512, head, ..
    } = sink;
    // the digests end when their senders are gone
    drop((md5, sha512));
    if let Err(e) = res {
        if let Err(ae) = w.abort().await {
            tracing::warn!(key, error = %ae, "partial image data could not be removed");
        }
        return Err(e);
    }
    let digest = |r: std::result::Result<Result<String, String>, tokio::task::JoinError>| match r {
        Ok(Ok(hex)) => Ok(hex),
        Ok(Err(e)) => Err(WriteError::Internal(format!("an image digest failed: {e}"))),
        Err(e) => Err(WriteError::Internal(format!("an image digest failed: {e}"))),
    };
    let (md5, sha512) = match (digest(md5_done.await), digest(sha_done.await)) {
        (Ok(m), Ok(s)) => (m, s),
        (Err(e), _) | (_, Err(e)) => {
            if let Err(ae) = w.abort().await {
                tracing::warn!(key, error = %ae, "partial image data could not be removed");
            }
            return Err(e);
        }
    };
    let location = w.commit().await.map_err(WriteError::Store)?;
    Ok(Written {
        location,
        size,
        md5,
        sha512,
        head,
    })
}

/// The virtual size of the data: a qcow2 header's, or the size of raw and
/// iso data.
fn virtual_size(disk_format: Option<&str>, head: &[u8], size: u64) -> Option<i64> {
    match disk_format {
        Some("raw") | Some("iso") => Some(size as i64),
        Some("qcow2") if head.len() >= 32 && &head[..4] == b"QFI\xfb" => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[24..32]);
            Some(u64::from_be_bytes(b) as i64)
        }
        _ => None,
    }
}

impl Image {
    /// The store a location belongs to.
    pub(crate) fn store_for(&self, location: &str) -> &dyn Store {
        if self.staging.owns(location) {
            &*self.staging
        } else {
            &*self.store
        }
    }

    /// Bytes `owner` may still store: the size cap, or less under the
    /// `resource` quota (MiB); also checks `image_count_uploading`.
    async fn upload_allowance(&self, owner: Option<&str>, resource: &str, adding: Option<u64>) -> Result<u64> {
        let mut cap = self.config.image_size_cap;
        let (Some(limits), Some(owner)) = (&self.limits, owner) else {
            return Ok(cap);
        };
        let (_, bytes, uploading) = crate::db::images::usage(&self.db, owner).await?;
        let up_limit = limits.limit(owner, quota::IMAGE_COUNT_UPLOADING).await?;
        quota::check(quota::IMAGE_COUNT_UPLOADING, up_limit, uploading, 1)?;
        if let Some(l) = limits.limit(owner, resource).await? {
            let used = quota::mib(bytes);
            quota::check(resource, Some(l), used, quota::mib(adding.unwrap_or(0) as i64))?;
            cap = cap.min(((l - used).max(0) as u64) << 20);
        }
        Ok(cap)
    }

    /// `PUT /v2/images/{id}/file`: stores the data of a queued image.
    pub async fn upload<S, E>(&self, ctx: &AuthContext, id: &str, body: S, length: Option<u64>) -> Result<ImageRow>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (img, m) = self.visible(ctx, id).await?;
        self.authorize(ctx, "upload_image", &self.target(&img, m.as_ref()))?;
        if img.status != "queued" {
            return Err(ImageError::conflict(format!(
                "Image status transition from {} to saving is not allowed",
                img.status
            )));
        }
        if img.disk_format.is_none() || img.container_format.is_none() {
            return Err(ImageError::bad(
                "Properties disk_format, container_format must be set prior to saving data.",
            ));
        }
        let cap = self
            .upload_allowance(img.owner.as_deref(), quota::IMAGE_SIZE_TOTAL, length)
            .await?;
        if length.is_some_and(|n| n > cap) {
            return Err(ImageError::OverLimit(format!(
                "The image is larger than the {cap} bytes allowed (image size cap or quota)."
            )));
        }
        if !crate::db::images::set_status(&self.db, id, &["queued"], "saving").await? {
            return Err(ImageError::conflict(
                "Image status transition from queued to saving is not allowed: \
                 another upload is in progress.",
            ));
        }
        let written = match write_stream(&*self.store, id, body, cap).await {
            Ok(w) => w,
            Err(e) => {
                let back = if matches!(e, WriteError::Store(_)) {
                    "killed"
                } else {
                    "queued"
                };
                crate::db::images::set_status(&self.db, id, &["saving"], back).await?;
                return Err(e.into());
            }
        };
        self.activate(id, written, "saving", |_| {}).await
    }

    /// The last step of an upload or import: the data becomes the image's
    /// (as it is now, with `tweak` applied), if the image is still in
    /// `from`; otherwise the data is removed (410).
    async fn activate(&self, id: &str, w: Written, from: &str, tweak: impl FnOnce(&mut ImageRow)) -> Result<ImageRow> {
        let gone = || {
            ImageError::Gone(format!(
                "Image {id} could not be found after upload. The image may have been deleted during the upload."
            ))
        };
        let Some(mut img) = crate::db::images::get(&self.db, id).await?.filter(|i| i.status == from) else {
            self.remove_data(&w.location).await;
            return Err(gone());
        };
        tweak(&mut img);
        img.status = "active".into();
        img.size = Some(w.size as i64);
        img.virtual_size = virtual_size(img.disk_format.as_deref(), &w.head, w.size);
        img.checksum = Some(w.md5);
        img.os_hash_algo = Some("sha512".into());
        img.os_hash_value = Some(w.sha512);
        img.location = Some(w.location.clone());
        img.updated_at = crate::db::now();
        if !crate::db::images::update(&self.db, &img, from).await? {
            self.remove_data(&w.location).await;
            return Err(gone());
        }
        Ok(img)
    }

    async fn remove_data(&self, location: &str) {
        if let Err(e) = self.store_for(location).delete(location).await {
            tracing::warn!(location, error = %e, "image data could not be removed");
        }
    }

    /// `GET /v2/images/{id}/file`.
    pub async fn download(&self, ctx: &AuthContext, id: &str, range: Option<ByteRange>) -> Result<ImageData> {
        let (img, m) = self.visible(ctx, id).await?;
        self.authorize(ctx, "download_image", &self.target(&img, m.as_ref()))?;
        if img.status == "deactivated" && !self.is_admin(ctx) {
            return Err(ImageError::forbidden(
                "The requested image has been deactivated. Image data download is forbidden.",
            ));
        }
        let (Some(loc), Some(size), "active" | "deactivated") = (&img.location, img.size, img.status.as_str()) else {
            return Ok(ImageData {
                reader: None,
                size: 0,
                range: None,
                checksum: None,
            });
        };
        let size = size as u64;
        let range = match range {
            Some(r) if size > 0 => Some(r.resolve(size)?),
            Some(_) => return Err(ImageError::RangeNotSatisfiable { size }),
            None => None,
        };
        let (offset, len) = match range {
            Some((a, b)) => (a, Some(b - a + 1)),
            None => (0, None),
        };
        let reader = self.store_for(loc).reader(loc, offset, len).await.map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ImageError::NotFound(format!("Image data of {id} not found in the store"))
            } else {
                ImageError::Io(e)
            }
        })?;
        Ok(ImageData {
            reader: Some(reader),
            size,
            range,
            checksum: img.checksum.clone(),
        })
    }

    /// `PUT /v2/images/{id}/stage`: keeps the data in the staging area for a
    /// later `glance-direct` import.
    pub async fn stage<S, E>(&self, ctx: &AuthContext, id: &str, body: S, length: Option<u64>) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (img, m) = self.visible(ctx, id).await?;
        self.authorize(ctx, "upload_image", &self.target(&img, m.as_ref()))?;
        if img.status != "queued" {
            return Err(ImageError::conflict(format!(
                "Image {id} is not in queued status (it is {}).",
                img.status
            )));
        }
        let cap = self
            .upload_allowance(img.owner.as_deref(), quota::IMAGE_STAGE_TOTAL, length)
            .await?;
        if length.is_some_and(|n| n > cap) {
            return Err(ImageError::OverLimit(format!(
                "The image is larger than the {cap} bytes allowed (image size cap or quota)."
            )));
        }
        if !crate::db::images::set_status(&self.db, id, &["queued"], "uploading").await? {
            return Err(ImageError::conflict(
                "Image status transition from queued to uploading is not allowed.",
            ));
        }
        let written = match write_stream(&*self.staging, id, body, cap).await {
            Ok(w) => w,
            Err(e) => {
                crate::db::images::set_status(&self.db, id, &["uploading"], "queued").await?;
                return Err(e.into());
            }
        };
        let mut cur = crate::db::images::get(&self.db, id).await?;
        match cur.as_mut().filter(|c| c.status == "uploading") {
            Some(c) => {
                c.location = Some(written.location.clone());
                c.updated_at = crate::db::now();
                if crate::db::images::update(&self.db, c, "uploading").await? {
                    return Ok(());
                }
                self.remove_data(&written.location).await;
                Err(ImageError::Gone(format!("Image {id} changed during staging.")))
            }
            None => {
                self.remove_data(&written.location).await;
                Err(ImageError::Gone(format!(
                    "Image {id} could not be found after staging. It may have been deleted."
                )))
            }
        }
    }

    /// `POST /v2/images/{id}/import`: starts the import of staged data;
    /// returns at once (202), the image turns `active` when it is done.
    pub async fn import(
        &self,
        ctx: &AuthContext,
        id: &str,
        method: &str,
        stores: Option<Vec<String>>,
        request_id: Option<String>,
    ) -> Result<()> {
        let (img, m) = self.visible(ctx, id).await?;
        self.authorize(ctx, "modify_image", &self.target(&img, m.as_ref()))?;
        if !IMPORT_METHODS.contains(&method) {
            return Err(ImageError::bad(format!("Unknown import method name '{method}'.")));
        }
        for s in stores.iter().flatten() {
            if s != self.store.id() {
                return Err(ImageError::bad(format!("Unknown store {s}.")));
            }
        }
        match img.status.as_str() {
            "uploading" => {}
            "queued" => {
                return Err(ImageError::conflict(
                    "Image needs to be staged before 'glance-direct' method can be used",
                ));
            }
            s => {
                return Err(ImageError::conflict(format!(
                    "Image with status {s} cannot be target for import"
                )));
            }
        }
        if img.container_format.is_none() {
            return Err(ImageError::conflict("'container_format' needs to be set before import"));
        }
        if img.disk_format.is_none() {
            return Err(ImageError::conflict("'disk_format' needs to be set before import"));
        }
        let Some(staged) = img.location.clone() else {
            return Err(ImageError::conflict(
                "Image needs to be staged before 'glance-direct' method can be used",
            ));
        };
        let now = crate::db::now();
        let task = TaskRow {
            id: uuid::Uuid::new_v4().to_string(),
            image_id: id.to_owned(),
            task_type: "api_image_import".into(),
            status: "processing".into(),
            owner: ctx.project_id.clone(),
            user_id: Some(ctx.user_id.clone()),
            request_id,
            input: json!({
                "image_id": id,
                "import_req": {"method": {"name": method}, "stores": [self.store.id()]},
                "backend": [self.store.id()],
            })
            .to_string(),
            result: None,
            message: String::new(),
            created_at: now,
            updated_at: now,
        };
        let mut importing = img.clone();
        importing.status = "importing".into();
        importing.updated_at = now;
        importing
            .properties
            .insert("os_glance_import_task".into(), task.id.clone());
        importing
            .properties
            .insert("os_glance_importing_to_stores".into(), self.store.id().to_owned());
        importing
            .properties
            .insert("os_glance_failed_import".into(), String::new());
        if !crate::db::images::update(&self.db, &importing, "uploading").await? {
            return Err(ImageError::conflict(
                "The image changed while the import was starting; try again.",
            ));
        }
        crate::db::tasks::insert(&self.db, &task).await?;
        let this = self.clone();
        tokio::spawn(async move {
            let id = importing.id.clone();
            let (status, message, result) = match this.run_import(importing, &staged).await {
                Ok(()) => ("success", String::new(), Some(json!({"image_id": id}).to_string())),
                Err(e) => {
                    tracing::warn!(image = %id, error = %e, "import failed");
                    ("failure", e.to_string(), None)
                }
            };
            if let Err(e) = crate::db::tasks::finish(&this.db, &task.id, status, result.as_deref(), &message).await {
                tracing::error!(image = %id, error = %e, "import task could not be recorded");
            }
        });
        Ok(())
    }

    /// Copies the staged data into the store (converting it if configured),
    /// then activates the image; on failure the image goes back to queued.
    async fn run_import(&self, img: ImageRow, staged: &str) -> Result<()> {
        let res = self.copy_staged(&img, staged).await;
        self.remove_data(staged).await;
        match res {
            Ok((w, converted)) => self
                .activate(&img.id, w, "importing", |cur| {
                    if converted {
                        cur.disk_format = Some("raw".into());
                    }
                    cur.properties
                        .insert("os_glance_importing_to_stores".into(), String::new());
                    cur.properties.insert("os_glance_failed_import".into(), String::new());
                    cur.properties.remove("os_glance_import_task");
                })
                .await
                .map(|_| ()),
            Err(e) => {
                self.fail_import(&img.id).await?;
                Err(e)
            }
        }
    }

    /// Streams the staged data (or its conversion) into the store.
    async fn copy_staged(&self, img: &ImageRow, staged: &str) -> Result<(Written, bool)> {
        let (source, converted) = self.prepare_import_source(img, staged).await?;
        let copied = async {
            let reader = self.staging.reader(&source, 0, None).await?;
            write_stream(&*self.store, &img.id, reader, self.config.image_size_cap)
                .await
                .map_err(ImageError::from)
        }
        .await;
        if source != staged {
            self.remove_data(&source).await;
        }
        Ok((copied?, converted))
    }

    /// An import that failed: back to queued, the failure recorded in
    /// `os_glance_failed_import`.
    async fn fail_import(&self, id: &str) -> Result<()> {
        if let Some(mut cur) = crate::db::images::get(&self.db, id)
            .await?
            .filter(|c| c.status == "importing")
        {
            cur.status = "queued".into();
            cur.location = None;
            cur.properties
                .insert("os_glance_importing_to_stores".into(), String::new());
            cur.properties
                .insert("os_glance_failed_import".into(), self.store.id().to_owned());
            cur.properties.remove("os_glance_import_task");
            cur.updated_at = crate::db::now();
            crate::db::images::update(&self.db, &cur, "importing").await?;
        }
        Ok(())
    }

    /// The file to import from: the staged data, or its conversion to raw.
    async fn prepare_import_source(&self, img: &ImageRow, staged: &str) -> Result<(String, bool)> {
        let convert = self.config.convert_to.as_deref() == Some("raw") && img.disk_format.as_deref() == Some("qcow2");
        if !convert {
            return Ok((staged.to_owned(), false));
        }
        let src = staged.strip_prefix("file://").unwrap_or(staged).to_owned();
        let dst = format!("{src}-converted");
        crate::convert::qcow2_to_raw(std::path::Path::new(&src), std::path::Path::new(&dst)).await?;
        Ok((format!("file://{dst}"), true))
    }

    /// Puts back what a stopped process left half done: `saving` images
    /// return to `queued` (their partial files were removed when the store
    /// opened), `importing` ones to `queued` with the staged data removed,
    /// unfinished tasks become failures.
    pub(crate) async fn recover(&self) -> Result<()> {
        for img in crate::db::images::in_states(&self.db, &["saving", "importing"]).await? {
            tracing::warn!(image = %img.id, status = %img.status, "putting back an interrupted upload");
            if img.status == "importing" {
                if let Some(loc) = &img.location {
                    self.remove_data(loc).await;
                }
                self.fail_import(&img.id).await?;
            } else {
                crate::db::images::set_status(&self.db, &img.id, &["saving"], "queued").await?;
            }
        }
        crate::db::tasks::fail_unfinished(&self.db).await?;
        Ok(())
    }

    /// The import tasks of an image (`GET /v2/images/{id}/tasks`).
    pub async fn image_tasks(&self, ctx: &AuthContext, id: &str) -> Result<Vec<TaskRow>> {
        let (img, m) = self.visible(ctx, id).await?;
        self.authorize(ctx, "get_image", &self.target(&img, m.as_ref()))
            .map_err(|_| ImageError::not_found(id))?;
        crate::db::tasks::list_for_image(&self.db, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        assert_eq!(ByteRange::From(0, Some(9)).resolve(100).unwrap(), (0, 9));
        assert_eq!(ByteRange::From(90, None).resolve(100).unwrap(), (90, 99));
        assert_eq!(ByteRange::From(90, Some(500)).resolve(100).unwrap(), (90, 99));
        assert_eq!(ByteRange::Suffix(10).resolve(100).unwrap(), (90, 99));
        assert_eq!(ByteRange::Suffix(500).resolve(100).unwrap(), (0, 99));
        assert!(ByteRange::From(100, None).resolve(100).is_err());
        assert!(ByteRange::From(5, Some(4)).resolve(100).is_err());
    }

    fn chunks_of(data: &[u8]) -> Vec<std::result::Result<Bytes, io::Error>> {
        let sizes = [1usize, 5000, 70_000, 3, SMALL_CHUNK, SMALL_CHUNK - 1, 1 << 20];
        let mut chunks = Vec::new();
        let mut pos = 0;
        for n in sizes.iter().cycle() {
            if pos >= data.len() {
                break;
            }
            let end = (pos + n).min(data.len());
            chunks.push(Ok(Bytes::copy_from_slice(&data[pos..end])));
            pos = end;
        }
        chunks
    }

    /// Chunks of every size, the small ones gathered and the others passed
    /// on as they are, arrive in order: the stored bytes, the size and both
    /// digests (checked against the RustCrypto ones) match the data. Over
    /// the cap, nothing is left behind.
    #[tokio::test]
    async fn write_stream_keeps_order_digests_and_cap() {
        use md5::Digest as _;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::stores::filesystem::FileStore::open("file", dir.path()).unwrap();
        let data: Vec<u8> = (0..(3usize << 20) + 777).map(|i| (i * 7 % 253) as u8).collect();
        let stream = futures::stream::iter(chunks_of(&data));
        let Ok(w) = write_stream(&store, "img", stream, u64::MAX).await else {
            panic!("write_stream failed");
        };
        assert_eq!(w.size, data.len() as u64);
        assert_eq!(w.md5, hex(&md5::Md5::digest(&data)));
        assert_eq!(w.sha512, hex(&sha2_11::Sha512::digest(&data)));
        assert_eq!(w.head, &data[..64]);
        assert_eq!(std::fs::read(dir.path().join("img")).unwrap(), data);

        let stream = futures::stream::iter(chunks_of(&data));
        let res = write_stream(&store, "over", stream, 2 << 20).await;
        assert!(matches!(res, Err(WriteError::TooLarge(_))));
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["img"]);
    }

    #[test]
    fn qcow2_virtual_size_from_header() {
        let mut head = b"QFI\xfb".to_vec();
        head.extend_from_slice(&[0; 20]);
        head.extend_from_slice(&(1u64 << 30).to_be_bytes());
        assert_eq!(virtual_size(Some("qcow2"), &head, 1000), Some(1 << 30));
        assert_eq!(virtual_size(Some("raw"), &[], 1000), Some(1000));
        assert_eq!(virtual_size(Some("vmdk"), &[], 1000), None);
    }
}
