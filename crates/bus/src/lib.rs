//! The message bus: RPC between a service and its agents.
//!
//! Where it sits: under compute (and later network and block storage). The
//! controller's conductor and each compute agent talk over topics —
//! `conductor`, `compute.<host>` — exactly as OpenStack services do over
//! oslo.messaging. Three verbs:
//!
//! - [`Bus::call`]: request/response with a timeout; one listener of the
//!   topic answers. No answer in time is [`BusError::Timeout`], naming the
//!   topic and method (Nova's `MessagingTimeout`).
//! - [`Bus::cast`]: one-way; one listener of the topic gets it. A cast to a
//!   topic with no listener waits in the topic's queue until one comes.
//! - [`Bus::fanout`]: one-way to every listener of the topic now.
//!
//! Backends behind one interface, chosen by the transport URL as OpenStack
//! chooses them: `inproc://` (the default of `oxistack up`: channels inside
//! the process) and `rabbit://user:pass@host:5672/` (AMQP 0-9-1, RabbitMQ).
//!
//! On the wire a message is JSON `{"method", "args"}`; a reply is
//! `{"result"}` or `{"error": {"kind", "message"}}`, so a handler's error
//! reaches the caller as [`BusError::Remote`] with its kind intact.

pub mod amqp;
mod inproc;

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An error a handler returns to its caller: a machine-readable kind (e.g.
/// `InstanceNotFound`) and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct RemoteError {
    pub kind: String,
    pub message: String,
}

impl RemoteError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        RemoteError {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("no reply to {method} on topic {topic} within {} s", timeout.as_secs_f32())]
    Timeout {
        topic: String,
        method: String,
        timeout: Duration,
    },
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("bad transport URL {0:?}: expected inproc:// or rabbit://user:pass@host:port/")]
    BadUrl(String),
    #[error("message bus: {0}")]
    Transport(String),
    #[error("message could not be encoded or decoded: {0}")]
    Codec(#[from] serde_json::Error),
}

/// What a listener runs for each message of its topic. `method` and `args`
/// are the caller's; the returned value (or error) goes back to a `call`'s
/// caller and is dropped for a `cast` or `fanout`. Each message is handled
/// on its own task, so a slow one does not hold up the next.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, method: &str, args: Value) -> Result<Value, RemoteError>;
}

/// A request on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub method: String,
    pub args: Value,
}

/// A reply on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Result(Value),
    Error(RemoteError),
}

/// The backend's side of the interface; [`Bus`] adds encoding and types.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    async fn call(&self, topic: &str, message: Envelope, timeout: Duration) -> Result<Reply, BusError>;
    async fn cast(&self, topic: &str, message: Envelope) -> Result<(), BusError>;
    async fn fanout(&self, topic: &str, message: Envelope) -> Result<(), BusError>;
    /// Starts consuming `topic` (its shared queue and its fanout) until the
    /// returned listener is stopped or dropped.
    async fn listen(&self, topic: &str, handler: Arc<dyn Handler>) -> Result<Listener, BusError>;
}

/// A running consumer of one topic; dropping it stops consuming.
pub struct Listener {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub topic: String,
}

impl Listener {
    /// For backends: `stop` fires when the listener is stopped or dropped.
    pub fn new(topic: &str) -> (Listener, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (
            Listener {
                stop: Some(tx),
                topic: topic.to_owned(),
            },
            rx,
        )
    }

    pub fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// A handle on the bus; cheap to clone, shared by everything in a process.
#[derive(Clone)]
pub struct Bus {
    transport: Arc<dyn Transport>,
}

impl Bus {
    /// A bus inside this process: listeners and callers must share it (or
    /// a clone of it).
    pub fn in_process() -> Bus {
        Bus {
            transport: Arc::new(inproc::InProcess::default()),
        }
    }

    /// Opens the bus named by `transport_url` (`inproc://`, `rabbit://…`).
    pub async fn connect(transport_url: &str) -> Result<Bus, BusError> {
        if transport_url == "inproc://" || transport_url.is_empty() {
            return Ok(Bus::in_process());
        }
        if transport_url.starts_with("rabbit://") {
            let transport = amqp::Amqp::connect(transport_url, amqp::AmqpOptions::default()).await?;
            return Ok(Bus::with_transport(Arc::new(transport)));
        }
        Err(BusError::BadUrl(amqp::redact(transport_url)))
    }

    /// Wraps a backend (used by the AMQP backend's constructor and tests).
    pub fn with_transport(transport: Arc<dyn Transport>) -> Bus {
        Bus { transport }
    }

    pub async fn call<A: Serialize, R: DeserializeOwned>(
        &self,
        topic: &str,
        method: &str,
        args: &A,
        timeout: Duration,
    ) -> Result<R, BusError> {
        let message = envelope(method, args)?;
        match self.transport.call(topic, message, timeout).await? {
            Reply::Result(v) => Ok(serde_json::from_value(v)?),
            Reply::Error(e) => Err(BusError::Remote(e)),
        }
    }

    pub async fn cast<A: Serialize>(&self, topic: &str, method: &str, args: &A) -> Result<(), BusError> {
        self.transport.cast(topic, envelope(method, args)?).await
    }

    pub async fn fanout<A: Serialize>(&self, topic: &str, method: &str, args: &A) -> Result<(), BusError> {
        self.transport.fanout(topic, envelope(method, args)?).await
    }

    pub async fn listen(&self, topic: &str, handler: Arc<dyn Handler>) -> Result<Listener, BusError> {
        self.transport.listen(topic, handler).await
    }
}

fn envelope<A: Serialize>(method: &str, args: &A) -> Result<Envelope, BusError> {
    Ok(Envelope {
        method: method.to_owned(),
        args: serde_json::to_value(args)?,
    })
}

/// Runs `handler` on `message` and turns the outcome into a [`Reply`];
/// backends call this on their own task per message. A panicking handler
/// becomes an error reply rather than a silent caller timeout.
pub async fn dispatch(handler: Arc<dyn Handler>, message: Envelope) -> Reply {
    let method = message.method.clone();
    let task = tokio::spawn(async move { handler.handle(&message.method, message.args).await });
    match task.await {
        Ok(Ok(v)) => Reply::Result(v),
        Ok(Err(e)) => Reply::Error(e),
        Err(join) => {
            tracing::error!(method = %method, error = %join, "bus handler panicked");
            Reply::Error(RemoteError::new(
                "InternalError",
                format!("handler for {method} failed"),
            ))
        }
    }
}
