//! The filesystem store (glance_store's `file` driver): one file per image
//! under a directory, written to `<id>.partial` and renamed into place on
//! commit, so a half-written image never has a location.
//!
//! The data moves through `std::fs` on blocking threads, with the disk and
//! the network overlapping and no copy between the socket buffers and the
//! page cache:
//! - a write hands its [`Bytes`] (batched, not copied) through a short
//!   bounded queue to a writer thread, which `writev`s them while the next
//!   ones arrive; a sync thread beside it flushes the file every
//!   [`SYNC_EVERY`] bytes, so the disk writes during the upload instead of
//!   all at the commit's `fsync`;
//! - a read keeps [`READ_AHEAD`] positioned reads of [`READ_CHUNK`] bytes in
//!   flight on the blocking pool while the chunk before them is sent; the
//!   chunks are recycled buffers handed out as [`Bytes`] without a copy.
//!
//! Memory per transfer is bounded by those constants, whatever the image
//! size.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{BoxFut, Reader, Store, StoreWriter};

/// The size of a read (the chunk a download sends).
const READ_CHUNK: usize = 4 << 20;
/// Reads in flight while a download sends.
const READ_AHEAD: usize = 2;
/// Bytes gathered before they go to the writer thread as one `writev`.
const WRITE_BATCH: usize = 1 << 20;
/// Batches queued for the writer thread.
const WRITE_QUEUE: usize = 4;
/// Bytes written between two flushes of an upload to the disk.
const SYNC_EVERY: u64 = 32 << 20;

pub struct FileStore {
    id: String,
    dir: PathBuf,
}

impl FileStore {
    /// Creates `dir` if needed and removes partial files a crash left.
    pub fn open(id: impl Into<String>, dir: impl Into<PathBuf>) -> io::Result<FileStore> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let dir = std::fs::canonicalize(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "partial") {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(FileStore { id: id.into(), dir })
    }

    fn path_of(&self, location: &str) -> io::Result<PathBuf> {
        let path = location
            .strip_prefix("file://")
            .map(PathBuf::from)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file:// location"))?;
        if path.parent() != Some(self.dir.as_path()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "location outside the store",
            ));
        }
        Ok(path)
    }
}

fn safe_key(key: &str) -> io::Result<&str> {
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad store key"));
    }
    Ok(key)
}

/// Runs `f` on the blocking pool.
async fn blocking<T, F>(f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

impl Store for FileStore {
    fn id(&self) -> &str {
        &self.id
    }

    fn description(&self) -> &str {
        "Filesystem store"
    }

    fn writer<'a>(&'a self, key: &'a str) -> BoxFut<'a, Box<dyn StoreWriter>> {
        Box::pin(async move {
            let key = safe_key(key)?;
            let final_path = self.dir.join(key);
            let partial = self.dir.join(format!("{key}.partial"));
            let p = partial.clone();
            let file = blocking(move || File::create(p)).await?;
            let (tx, rx) = mpsc::channel(WRITE_QUEUE);
            let thread = tokio::task::spawn_blocking(move || write_loop(file, rx));
            let w: Box<dyn StoreWriter> = Box::new(FileWriter {
                tx: Some(tx),
                thread: Some(thread),
                batch: Vec::new(),
                batch_len: 0,
                partial,
                final_path,
                done: false,
            });
            Ok(w)
        })
    }

    fn reader<'a>(&'a self, location: &'a str, offset: u64, len: Option<u64>) -> BoxFut<'a, Reader> {
        Box::pin(async move {
            let path = self.path_of(location)?;
            let (file, size) = blocking(move || {
                let file = File::open(path)?;
                let size = file.metadata()?.len();
                // A download reads the file once, front to back: the kernel
                // doubles its readahead window for a sequential file.
                rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::Sequential)?;
                Ok((file, size))
            })
            .await?;
            let end = match len {
                Some(n) => offset.saturating_add(n).min(size),
                None => size,
            };
            Ok(read_chunks(file, offset, end))
        })
    }

    fn delete<'a>(&'a self, location: &'a str) -> BoxFut<'a, ()> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path_of(location)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn owns(&self, location: &str) -> bool {
        self.path_of(location).is_ok()
    }
}

// ------------------------------------------------------------------ reading

/// Buffers of one download, reused once the bytes handed out of them are
/// dropped (sent), so the reads neither allocate nor zero memory.
struct BufPool {
    size: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufPool {
    fn take(&self) -> Vec<u8> {
        let buf = self.free.lock().ok().and_then(|mut f| f.pop());
        buf.unwrap_or_else(|| vec![0; self.size])
    }

    fn put(&self, buf: Vec<u8>) {
        if let Ok(mut f) = self.free.lock()
            && f.len() <= READ_AHEAD
        {
            f.push(buf);
        }
    }
}

/// The first `len` bytes of a pooled buffer, as the owner of a [`Bytes`].
struct Chunk {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<BufPool>,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.pool.put(std::mem::take(&mut self.buf));
    }
}

/// Bytes `start..end` of `file` as a stream of chunks, read ahead.
fn read_chunks(file: File, start: u64, end: u64) -> Reader {
    let file = Arc::new(file);
    let chunk = (end.saturating_sub(start)).min(READ_CHUNK as u64).max(1) as usize;
    let pool = Arc::new(BufPool {
        size: chunk,
        free: Mutex::new(Vec::new()),
    });
    let chunks = futures::stream::iter((start..end).step_by(chunk))
        .map(move |pos| {
            let (file, pool) = (file.clone(), pool.clone());
            let len = chunk.min((end - pos) as usize);
            blocking(move || {
                let mut buf = pool.take();
                file.read_exact_at(&mut buf[..len], pos)?;
                Ok(Bytes::from_owner(Chunk { buf, len, pool }))
            })
        })
        .buffered(READ_AHEAD);
    Box::pin(chunks)
}

// ------------------------------------------------------------------ writing

/// What the writer thread is told.
enum Op {
    Write(Vec<Bytes>),
    /// Everything is sent: flush the file to the disk and stop.
    Commit,
}

/// The writer thread: writes batches as they come; stops at `Commit` (after
/// an `fsync`) or when the writer is dropped (abort).
fn write_loop(mut file: File, mut rx: mpsc::Receiver<Op>) -> io::Result<()> {
    let syncer = Syncer::start(&file)?;
    let mut unsynced: u64 = 0;
    while let Some(op) = rx.blocking_recv() {
        match op {
            Op::Write(batch) => {
                unsynced += write_all_vectored(&mut file, &batch)?;
                if unsynced >= SYNC_EVERY && syncer.kick() {
                    unsynced = 0;
                }
            }
            Op::Commit => {
                syncer.finish()?;
                return file.sync_all();
            }
        }
    }
    let _ = syncer.finish();
    Ok(())
}

fn write_all_vectored(file: &mut File, batch: &[Bytes]) -> io::Result<u64> {
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    let mut total = 0u64;
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                total += n as u64;
                IoSlice::advance_slices(&mut rest, n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Flushes a file being written to the disk in the background
/// (`fdatasync` on a thread of its own, when kicked), so the disk works
/// while the upload goes on and the final `fsync` has little left to do.
struct Syncer {
    kick: Option<std_mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Syncer {
    fn start(file: &File) -> io::Result<Syncer> {
        let file = file.try_clone()?;
        let (kick, kicked) = std_mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new().name("image-sync".into()).spawn(move || {
            for () in kicked {
                file.sync_data()?;
            }
            Ok(())
        })?;
        Ok(Syncer {
            kick: Some(kick),
            thread: Some(thread),
        })
    }

    /// Asks for a flush; true if one is (or already was) asked for.
    fn kick(&self) -> bool {
        matches!(
            self.kick.as_ref().map(|k| k.try_send(())),
            Some(Ok(()) | Err(std_mpsc::TrySendError::Full(())))
        )
    }

    /// Waits for the thread; the error of a failed flush, if any.
    fn finish(mut self) -> io::Result<()> {
        self.kick.take();
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the image sync thread panicked")),
            None => Ok(()),
        }
    }
}

struct FileWriter {
    tx: Option<mpsc::Sender<Op>>,
    thread: Option<JoinHandle<io::Result<()>>>,
    batch: Vec<Bytes>,
    batch_len: usize,
    partial: PathBuf,
    final_path: PathBuf,
    done: bool,
}

impl FileWriter {
    /// Hands `op` to the writer thread; if it stopped, its error.
    async fn send(&mut self, op: Op) -> io::Result<()> {
        let Some(tx) = self.tx.as_ref() else {
            return Err(io::Error::other("writer already finished"));
        };
        if tx.send(op).await.is_ok() {
            return Ok(());
        }
        self.tx = None;
        Err(match self.join().await {
            Err(e) => e,
            Ok(()) => io::Error::other("the image writer stopped"),
        })
    }

    async fn send_batch(&mut self) -> io::Result<()> {
        self.batch_len = 0;
        let batch = std::mem::take(&mut self.batch);
        self.send(Op::Write(batch)).await
    }

    /// Waits for the writer thread to end.
    async fn join(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(t) => t.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl StoreWriter for FileWriter {
    fn write(&mut self, data: Bytes) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if self.tx.is_none() {
                return Err(io::Error::other("writer already finished"));
            }
            if data.is_empty() {
                return Ok(());
            }
            self.batch_len += data.len();
            self.batch.push(data);
            if self.batch_len >= WRITE_BATCH {
                self.send_batch().await?;
            }
            Ok(())
        })
    }

    fn commit(mut self: Box<Self>) -> BoxFut<'static, String> {
        Box::pin(async move {
            if !self.batch.is_empty() {
                self.send_batch().await?;
            }
            self.send(Op::Commit).await?;
            self.tx = None;
            self.join().await?;
            tokio::fs::rename(&self.partial, &self.final_path).await?;
            self.done = true;
            Ok(format!("file://{}", self.final_path.display()))
        })
    }

    fn abort(mut self: Box<Self>) -> BoxFut<'static, ()> {
        Box::pin(async move {
            self.tx = None;
            self.batch.clear();
            let _ = self.join().await;
            self.done = true;
            match tokio::fs::remove_file(&self.partial).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(r: Reader) -> Vec<u8> {
        let chunks: Vec<io::Result<Bytes>> = r.collect().await;
        chunks.into_iter().flat_map(|c| c.unwrap().to_vec()).collect()
    }

    #[tokio::test]
    async fn write_commit_read_delete_and_abort() {
        let dir = std::env::temp_dir().join(format!("image-fs-{}", std::process::id()));
        let store = FileStore::open("file", &dir).unwrap();
        let mut w = store.writer("abc").await.unwrap();
        w.write(Bytes::from_static(b"hello ")).await.unwrap();
        w.write(Bytes::from_static(b"world")).await.unwrap();
        let loc = w.commit().await.unwrap();
        assert!(store.owns(&loc));
        assert_eq!(read_all(store.reader(&loc, 6, Some(3)).await.unwrap()).await, b"wor");
        assert_eq!(
            read_all(store.reader(&loc, 0, None).await.unwrap()).await,
            b"hello world"
        );
        assert_eq!(read_all(store.reader(&loc, 11, None).await.unwrap()).await, b"");
        assert_eq!(read_all(store.reader(&loc, 9, Some(100)).await.unwrap()).await, b"ld");
        store.delete(&loc).await.unwrap();
        store.delete(&loc).await.unwrap();
        let mut w = store.writer("def").await.unwrap();
        w.write(Bytes::from_static(b"partial")).await.unwrap();
        w.abort().await.unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        assert!(store.writer("../x").await.is_err());
        assert!(!store.owns("file:///etc/passwd"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Many chunks of odd sizes, across batches, read buffers and flushes,
    /// come back byte for byte, whole and in ranges.
    #[tokio::test]
    async fn large_data_round_trips() {
        let dir = std::env::temp_dir().join(format!("image-fs-large-{}", std::process::id()));
        let store = FileStore::open("file", &dir).unwrap();
        let data: Vec<u8> = (0..(SYNC_EVERY as usize + 3 * READ_CHUNK + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut w = store.writer("big").await.unwrap();
        let mut pos = 0;
        for n in [1usize, 70_000, 333_333, 1 << 20, 5 << 20].iter().cycle() {
            if pos >= data.len() {
                break;
            }
            let end = (pos + n).min(data.len());
            w.write(Bytes::copy_from_slice(&data[pos..end])).await.unwrap();
            pos = end;
        }
        let loc = w.commit().await.unwrap();
        assert_eq!(read_all(store.reader(&loc, 0, None).await.unwrap()).await, data);
        let (a, n) = (READ_CHUNK as u64 - 7, 2 * READ_CHUNK as u64 + 100);
        assert_eq!(
            read_all(store.reader(&loc, a, Some(n)).await.unwrap()).await,
            &data[a as usize..(a + n) as usize]
        );
        store.delete(&loc).await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
