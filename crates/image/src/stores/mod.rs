//! Where image data lives: the [`Store`] trait and its implementations.
//!
//! A store keeps opaque blobs under keys (the image id) and answers with a
//! *location* (`file:///…`), which is what the database records. The
//! filesystem store ([`filesystem::FileStore`]) is the one implementation
//! today; the object-storage backend plugs in here later, and the image API
//! lists the configured stores under `/v2/info/stores`.
//!
//! Contract, for every implementation:
//! - a [`StoreWriter`] is invisible until [`StoreWriter::commit`]; dropping
//!   or [`StoreWriter::abort`]ing it leaves nothing behind;
//! - [`Store::delete`] succeeds when the data is already gone;
//! - data is streamed in both directions, never held whole in memory: a
//!   writer takes the [`Bytes`] it is given (so it may hand them to another
//!   thread without a copy) and a reader is a stream of [`Bytes`] chunks.

pub mod filesystem;

use std::future::Future;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'a>>;
/// Image data being read, chunk by chunk.
pub type Reader = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A backend that keeps image data.
pub trait Store: Send + Sync + 'static {
    /// The store id shown in `/v2/info/stores` and an image's `stores`.
    fn id(&self) -> &str;
    fn description(&self) -> &str;
    /// Starts writing the data of `key`.
    fn writer<'a>(&'a self, key: &'a str) -> BoxFut<'a, Box<dyn StoreWriter>>;
    /// Reads `len` bytes (all when `None`) from `offset` of the data at
    /// `location`.
    fn reader<'a>(&'a self, location: &'a str, offset: u64, len: Option<u64>) -> BoxFut<'a, Reader>;
    /// Removes the data at `location`; already gone is success.
    fn delete<'a>(&'a self, location: &'a str) -> BoxFut<'a, ()>;
    /// Whether `location` belongs to this store.
    fn owns(&self, location: &str) -> bool;
}

/// Data being written; see the contract on [`Store`].
pub trait StoreWriter: Send {
    /// Appends `data`; an error may also be one of an earlier write,
    /// noticed late because writes complete in the background.
    fn write(&mut self, data: Bytes) -> BoxFut<'_, ()>;
    /// Makes the data visible; returns its location.
    fn commit(self: Box<Self>) -> BoxFut<'static, String>;
    /// Removes what was written.
    fn abort(self: Box<Self>) -> BoxFut<'static, ()>;
}
