//! The filesystem store (glance_store's `file` driver): one file per image
//! under a directory, written to `<id>.partial` and renamed into place on
//! commit, so a half-written image never has a location.

use std::io;
use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{BoxFut, Reader, Store, StoreWriter};

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
            let file = tokio::fs::File::create(&partial).await?;
            let w: Box<dyn StoreWriter> = Box::new(FileWriter {
                file: Some(tokio::io::BufWriter::with_capacity(1 << 20, file)),
                partial,
                final_path,
                done: false,
            });
            Ok(w)
        })
    }

    fn reader<'a>(&'a self, location: &'a str, offset: u64, len: Option<u64>) -> BoxFut<'a, Reader> {
        Box::pin(async move {
            let mut file = tokio::fs::File::open(self.path_of(location)?).await?;
            if offset > 0 {
                file.seek(io::SeekFrom::Start(offset)).await?;
            }
            let r: Reader = match len {
                Some(n) => Box::pin(file.take(n)),
                None => Box::pin(file),
            };
            Ok(r)
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

struct FileWriter {
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    partial: PathBuf,
    final_path: PathBuf,
    done: bool,
}

impl StoreWriter for FileWriter {
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> BoxFut<'a, ()> {
        Box::pin(async move {
            match self.file.as_mut() {
                Some(f) => f.write_all(buf).await,
                None => Err(io::Error::other("writer already finished")),
            }
        })
    }

    fn commit(mut self: Box<Self>) -> BoxFut<'static, String> {
        Box::pin(async move {
            let mut f = self
                .file
                .take()
                .ok_or_else(|| io::Error::other("writer already finished"))?;
            f.flush().await?;
            f.get_mut().sync_all().await?;
            drop(f);
            tokio::fs::rename(&self.partial, &self.final_path).await?;
            self.done = true;
            Ok(format!("file://{}", self.final_path.display()))
        })
    }

    fn abort(mut self: Box<Self>) -> BoxFut<'static, ()> {
        Box::pin(async move {
            self.file.take();
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

    #[tokio::test]
    async fn write_commit_read_delete_and_abort() {
        let dir = std::env::temp_dir().join(format!("image-fs-{}", std::process::id()));
        let store = FileStore::open("file", &dir).unwrap();
        let mut w = store.writer("abc").await.unwrap();
        w.write(b"hello ").await.unwrap();
        w.write(b"world").await.unwrap();
        let loc = w.commit().await.unwrap();
        assert!(store.owns(&loc));
        let mut s = String::new();
        store
            .reader(&loc, 6, Some(3))
            .await
            .unwrap()
            .read_to_string(&mut s)
            .await
            .unwrap();
        assert_eq!(s, "wor");
        store.delete(&loc).await.unwrap();
        store.delete(&loc).await.unwrap();
        let mut w = store.writer("def").await.unwrap();
        w.write(b"partial").await.unwrap();
        w.abort().await.unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        assert!(store.writer("../x").await.is_err());
        assert!(!store.owns("file:///etc/passwd"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
