//! A small QMP client: the QEMU Machine Protocol over the instance's unix
//! socket (greeting, `qmp_capabilities`, commands answered by id).
//!
//! QEMU's QMP server takes one client at a time, so the driver opens a
//! connection per operation (under the instance's lock) and drops it
//! after; asynchronous events that arrive meanwhile are kept in
//! [`Qmp::events`] rather than answered to a command.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// How long QEMU may take to greet or to answer one command.
const QMP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("QMP socket {path}: {source}")]
    Connect { path: String, source: std::io::Error },
    #[error("QMP: {0}")]
    Io(#[from] std::io::Error),
    #[error("QMP: QEMU did not answer within {0:?}")]
    Timeout(Duration),
    #[error("QMP: QEMU closed the connection")]
    Closed,
    #[error("QMP: unreadable message from QEMU: {0}")]
    Protocol(String),
    /// QEMU answered the command with an error (`class`, `desc`).
    #[error("QEMU refused {command}: {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
}

pub struct Qmp {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: u64,
    /// Events QEMU sent while a command was waiting for its answer.
    pub events: Vec<Value>,
}

impl Qmp {
    /// Connects, reads the greeting and leaves capabilities negotiation
    /// mode, so that commands can be sent.
    pub async fn connect(path: &Path) -> Result<Qmp, QmpError> {
        let stream = UnixStream::connect(path).await.map_err(|source| QmpError::Connect {
            path: path.display().to_string(),
            source,
        })?;
        let (read, write) = stream.into_split();
        let mut qmp = Qmp {
            reader: BufReader::new(read),
            writer: write,
            next_id: 0,
            events: Vec::new(),
        };
        let greeting = qmp.read_message().await?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Protocol(format!("expected the QMP greeting, got {greeting}")));
        }
        qmp.execute("qmp_capabilities", None).await?;
        Ok(qmp)
    }

    /// Runs `command` and returns its `return` value.
    pub async fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"execute": command, "id": id});
        if let Some(arguments) = arguments {
            message["arguments"] = arguments;
        }
        let mut line = message.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).await?;
        loop {
            let reply = self.read_message().await?;
            if reply.get("event").is_some() {
                self.events.push(reply);
                continue;
            }
            if reply.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(error) = reply.get("error") {
                return Err(QmpError::Command {
                    command: command.to_owned(),
                    class: error["class"].as_str().unwrap_or("GenericError").to_owned(),
                    desc: error["desc"].as_str().unwrap_or_default().to_owned(),
                });
            }
            return Ok(reply.get("return").cloned().unwrap_or(Value::Null));
        }
    }

    /// `query-status`'s `status` (`running`, `paused`, `shutdown`,
    /// `inmigrate`, `postmigrate`, `internal-error`, `guest-panicked`, …).
    pub async fn status(&mut self) -> Result<String, QmpError> {
        let reply = self.execute("query-status", None).await?;
        Ok(reply["status"].as_str().unwrap_or_default().to_owned())
    }

    /// Waits up to `timeout` for an event named `name` that `matches`
    /// (events already kept in [`Qmp::events`] count); false on timeout.
    pub async fn wait_event(
        &mut self,
        name: &str,
        matches: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Result<bool, QmpError> {
        let is_it = |e: &Value| e.get("event").and_then(Value::as_str) == Some(name) && matches(e);
        if let Some(i) = self.events.iter().position(is_it) {
            self.events.remove(i);
            return Ok(true);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let mut line = String::new();
            let n = match tokio::time::timeout(left, self.reader.read_line(&mut line)).await {
                Ok(r) => r?,
                Err(_) => return Ok(false),
            };
            if n == 0 {
                return Err(QmpError::Closed);
            }
            let message: Value =
                serde_json::from_str(&line).map_err(|e| QmpError::Protocol(format!("{e}: {}", line.trim_end())))?;
            if is_it(&message) {
                return Ok(true);
            }
            if message.get("event").is_some() {
                self.events.push(message);
            }
        }
    }

    async fn read_message(&mut self) -> Result<Value, QmpError> {
        let mut line = String::new();
        let n = tokio::time::timeout(QMP_TIMEOUT, self.reader.read_line(&mut line))
            .await
            .map_err(|_| QmpError::Timeout(QMP_TIMEOUT))??;
        if n == 0 {
            return Err(QmpError::Closed);
        }
        serde_json::from_str(&line).map_err(|e| QmpError::Protocol(format!("{e}: {}", line.trim_end())))
    }
}
