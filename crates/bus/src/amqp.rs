//! The AMQP 0-9-1 backend (RabbitMQ), chosen by a `rabbit://` transport URL.
//!
//! It mirrors the layout of oslo.messaging's rabbit driver, simplified, so an
//! operator who knows OpenStack's queues recognises ours:
//!
//! - one durable **topic exchange** (`oxistack` by default) carries `call` and
//!   `cast`; each topic has a durable queue of the same name bound with the
//!   topic as routing key. Every listener of a topic consumes that one queue,
//!   so the broker hands its messages round-robin to them, with a prefetch
//!   limit so one busy listener does not hoard the rest.
//! - one **fanout exchange** `<topic>_fanout` per topic; each listener binds its
//!   own exclusive, auto-delete queue to it, so a fanout reaches every listener
//!   that exists at that moment and nobody else.
//! - `call` waits on a **reply queue** per bus (`reply_<uuid>`), matched by
//!   `correlation_id`. Like oslo.messaging's transient queues it is neither
//!   exclusive nor auto-delete but expires ([`REPLY_QUEUE_EXPIRES_MS`])
//!   once unused: a reply published while the caller's connection is being
//!   re-established waits in it instead of being dropped with the queue, and
//!   replies are acknowledged once routed, so one in flight on a socket that
//!   dies is delivered again. A reply is published `mandatory`, so a reply
//!   queue that is gone is an error (retried), not a silent drop. The request carries
//!   `reply_to` and an `expiration` equal to the caller's timeout, so a request
//!   nobody picked up in time is not executed later. A reply that comes after
//!   the caller gave up finds no waiter and is dropped.
//!
//! Nothing is lost silently, which is what shapes the rest:
//!
//! - a publish declares its topic queue first (as a listener does), so a cast
//!   to a topic nobody listens to yet waits in a durable queue; messages are
//!   persistent (delivery mode 2) and each publish waits for the broker's
//!   **publisher confirm**; `mandatory` turns an unroutable message into an
//!   error instead of a drop.
//! - a listener acknowledges a message only after its handler has finished
//!   (and the reply has been published), so a message whose listener dies
//!   mid-way is redelivered. Delivery is therefore at-least-once: a handler can
//!   see a message twice after a connection loss.
//! - **reconnection** is two-layered. lapin's automatic recovery
//!   (`enable_auto_recover`) reconnects the same socket and replays the
//!   declared topology, the consumers, QoS and confirm mode; listeners wait
//!   for it and go on consuming. If lapin gives up (the broker was away for
//!   longer than its backoff, or a channel was closed by an error), the next
//!   user of the bus opens a fresh connection — rotating over the hosts of the
//!   URL — and each listener subscribes again on it. A publish made while the
//!   broker is away is retried with backoff until it is confirmed or until a
//!   bound ([`AmqpOptions::publish_retry`], or the call's timeout) is reached,
//!   and then fails with [`BusError::Transport`]; a retry after an unconfirmed
//!   attempt can duplicate a message, never lose one.
//!
//! Logs name the broker's host, port and virtual host, never the password.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer, ExchangeKind};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::{BusError, Envelope, Handler, Listener, RemoteError, Reply, Transport, dispatch};

/// How long a reply queue nobody uses any more is kept by the broker (its
/// bus is gone): long enough to outlive any reconnection.
pub const REPLY_QUEUE_EXPIRES_MS: i32 = 10 * 60 * 1000;

/// The topic exchange of `call` and `cast` unless [`AmqpOptions::exchange`]
/// names another (oslo.messaging's `control_exchange`).
pub const DEFAULT_EXCHANGE: &str = "oxistack";

/// The name of a topic's fanout exchange (oslo.messaging's naming).
pub fn fanout_exchange(topic: &str) -> String {
    format!("{topic}_fanout")
}

/// How the AMQP backend behaves; `Default` is what `Bus::connect` uses.
#[derive(Debug, Clone)]
pub struct AmqpOptions {
    /// The topic exchange for `call` and `cast`.
    pub exchange: String,
    /// How long a `cast` or `fanout` keeps retrying while the broker cannot
    /// be reached (and how long the first connection may take) before it
    /// fails with [`BusError::Transport`]. A `call` retries within its own
    /// timeout instead.
    pub publish_retry: Duration,
    /// Unacknowledged messages one listener may hold per queue: how many it
    /// handles at once, and how many it keeps from the other listeners.
    pub prefetch: u16,
    /// Shown by the broker (`rabbitmqctl list_connections client_properties`).
    pub connection_name: String,
    /// How often lapin tries to reconnect a lost connection in place (with
    /// backoff from 0.2 s up to 2 s between tries, about a minute in all by
    /// default) before the bus gives that connection up and opens a new
    /// one, possibly to the next host of the URL.
    pub reconnect_attempts: usize,
}

impl Default for AmqpOptions {
    fn default() -> Self {
        AmqpOptions {
            exchange: DEFAULT_EXCHANGE.to_owned(),
            publish_retry: Duration::from_secs(30),
            prefetch: 32,
            connection_name: format!("oxistack pid {}", std::process::id()),
            reconnect_attempts: 30,
        }
    }
}

/// How long a listener keeps trying to deliver a reply.
const REPLY_RETRY: Duration = Duration::from_secs(10);
/// How long a stopped listener lets its running handlers finish (and ack).
const STOP_GRACE: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long a lost connection may stay in lapin's recovery before the bus
/// gives it up and opens a new one.
const RECOVERY_LIMIT: Duration = Duration::from_secs(15);
/// How long one publish waits for the broker's confirmation before trying
/// again. A healthy broker confirms in milliseconds; a publish sent into a
/// connection that stalled (a broker restart lapin has not recovered from)
/// is never confirmed, and waiting for it until the caller's deadline would
/// leave no time to publish again once the connection is replaced (after
/// [`RECOVERY_LIMIT`]).
const CONFIRM_WAIT: Duration = Duration::from_secs(10);

/// One broker of a transport URL.
#[derive(Clone, PartialEq, Eq)]
pub struct RabbitHost {
    pub username: String,
    pub password: String,
    pub host: String,
    pub port: u16,
}

impl std::fmt::Debug for RabbitHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitHost")
            .field("username", &self.username)
            .field("password", &"***")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish()
    }
}

/// A parsed `rabbit://user:pass@host:port[,user:pass@host2:port]/[vhost]`
/// transport URL, as oslo.messaging writes it. Credentials and the virtual
/// host are percent-decoded; no or an empty virtual host means `/`; a host
/// without credentials uses `guest:guest` and without a port 5672. TLS
/// (`?ssl=1`) is not supported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RabbitUrl {
    pub hosts: Vec<RabbitHost>,
    pub vhost: String,
}

impl RabbitUrl {
    pub fn parse(url: &str) -> Result<RabbitUrl, BusError> {
        let bad = || BusError::BadUrl(redact(url));
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("rabbit") => rest,
            _ => return Err(bad()),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        // The authority ends at the first '/' after the last '@' (a password
        // may hold a '/' only percent-encoded, but be lenient about '@').
        let at = rest.rfind('@').map_or(0, |i| i + 1);
        let (authorities, vhost) = match rest[at..].find('/') {
            Some(i) => (&rest[..at + i], Some(&rest[at + i + 1..])),
            None => (rest, None),
        };
        let vhost = match vhost {
            None | Some("") => "/".to_owned(),
            Some(v) => percent_decode(v).ok_or_else(bad)?,
        };
        if let Some(query) = query {
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if k == "ssl" && !matches!(v, "0" | "false" | "False" | "") {
                    return Err(BusError::BadUrl(format!("{} (TLS is not supported)", redact(url))));
                }
            }
        }
        let mut hosts = Vec::new();
        for authority in authorities.split(',') {
            let (userinfo, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, authority),
            };
            let (username, password) = match userinfo {
                None => ("guest".to_owned(), "guest".to_owned()),
                Some(u) => {
                    let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                    (
                        percent_decode(user).ok_or_else(bad)?,
                        percent_decode(pass).ok_or_else(bad)?,
                    )
                }
            };
            let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
                let (h, after) = v6.split_once(']').ok_or_else(bad)?;
                match after {
                    "" => (h, None),
                    p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
                }
            } else {
                match hostport.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (hostport, None),
                }
            };
            if host.is_empty() || host.contains(['/', '@', ' ']) {
                return Err(bad());
            }
            let port = match port {
                None => 5672,
                Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
            };
            hosts.push(RabbitHost {
                username,
                password,
                host: host.to_owned(),
                port,
            });
        }
        Ok(RabbitUrl { hosts, vhost })
    }

    /// `host:port,host2:port/vhost`: for logs and errors (no credentials).
    pub fn display(&self) -> String {
        let hosts: Vec<String> = self.hosts.iter().map(host_display).collect();
        format!("{}{}", hosts.join(","), vhost_display(&self.vhost))
    }

    fn amqp_uri(&self, i: usize) -> AMQPUri {
        let h = &self.hosts[i];
        AMQPUri {
            scheme: AMQPScheme::AMQP,
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo {
                    username: h.username.clone(),
                    password: h.password.clone(),
                },
                host: h.host.clone(),
                port: h.port,
            },
            vhost: self.vhost.clone(),
            query: AMQPQueryString {
                // A dead peer is noticed within two heartbeats.
                heartbeat: Some(20),
                connection_timeout: Some(5_000),
                ..Default::default()
            },
        }
    }
}

fn host_display(h: &RabbitHost) -> String {
    if h.host.contains(':') {
        format!("[{}]:{}", h.host, h.port)
    } else {
        format!("{}:{}", h.host, h.port)
    }
}

fn vhost_display(vhost: &str) -> String {
    if vhost == "/" {
        "/".to_owned()
    } else {
        format!("/{vhost}")
    }
}

/// The URL with every password replaced by `***`, for error messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authorities, tail) = match rest.rfind('@') {
        Some(at) => match rest[at..].find('/') {
            Some(i) => (&rest[..at + i], &rest[at + i..]),
            None => (rest, ""),
        },
        None => return url.to_owned(),
    };
    let hosts: Vec<String> = authorities
        .split(',')
        .map(|a| match a.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                format!("{user}:***@{host}")
            }
            None => a.to_owned(),
        })
        .collect();
    format!("{scheme}://{}{tail}", hosts.join(","))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Reply>>>>;

/// The AMQP transport. Build it with [`Amqp::connect`] (or `Bus::connect`
/// with a `rabbit://` URL) and wrap it with `Bus::with_transport`.
pub struct Amqp {
    inner: Arc<Inner>,
}

struct Inner {
    url: RabbitUrl,
    /// `url.display()`, computed once.
    broker: String,
    options: AmqpOptions,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    next_host: AtomicUsize,
    pending: Pending,
    reply_queue: String,
}

/// One AMQP connection with its publishing channel and reply consumer.
/// Replaced as a whole when lapin cannot recover it.
struct Session {
    connection: Connection,
    host: String,
    publisher: tokio::sync::Mutex<Option<Channel>>,
    /// Exchanges and queues declared through this connection, so a publish
    /// declares its topic once rather than every time.
    declared: Mutex<HashSet<String>>,
    /// Set when lapin gave the connection up or the reply consumer ended:
    /// the session must be replaced, and its listeners subscribe again.
    dead: Arc<watch::Sender<bool>>,
    /// Dropped with the session: ends its background tasks.
    _shutdown: watch::Sender<()>,
}

impl Session {
    fn usable(&self) -> bool {
        let status = self.connection.status();
        !*self.dead.borrow() && (status.connected() || status.reconnecting() || status.connecting())
    }

    /// The channel in confirm mode all publishes of this connection share;
    /// opened again if an error closed it.
    async fn publisher(&self) -> Result<Channel, lapin::Error> {
        let mut slot = self.publisher.lock().await;
        if let Some(ch) = slot.as_ref() {
            let status = ch.status();
            if status.connected() || status.reconnecting() {
                return Ok(ch.clone());
            }
        }
        *slot = None;
        let ch = self.connection.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        *slot = Some(ch.clone());
        Ok(ch)
    }

    fn is_declared(&self, name: &str) -> bool {
        self.declared.lock().expect("declared").contains(name)
    }

    fn set_declared(&self, name: String) {
        self.declared.lock().expect("declared").insert(name);
    }

    fn forget_declared(&self) {
        self.declared.lock().expect("declared").clear();
    }
}

/// Where a message goes.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// The topic exchange, to the topic's shared queue.
    Topic(&'a str),
    /// The topic's fanout exchange.
    Fanout(&'a str),
    /// A caller's reply queue, through the default exchange.
    Reply(&'a str),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Topic(t) => write!(f, "topic {t}"),
            Target::Fanout(t) => write!(f, "fanout of topic {t}"),
            Target::Reply(q) => write!(f, "reply queue {q}"),
        }
    }
}

async fn declare_topic(channel: &Channel, exchange: &str, topic: &str) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(topic.into(), QueueDeclareOptions::durable(), FieldTable::default())
        .await?;
    channel
        .queue_bind(
            topic.into(),
            exchange.into(),
            topic.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

async fn declare_fanout(channel: &Channel, topic: &str) -> Result<(), lapin::Error> {
    // Not auto-delete: a publisher declares it and publishes right after, and
    // the last listener leaving must not delete it in between.
    channel
        .exchange_declare(
            fanout_exchange(topic).into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
}

impl Inner {
    /// The current session, or a new one if the current one is gone for good.
    async fn session(&self) -> Result<Arc<Session>, lapin::Error> {
        let mut slot = self.session.lock().await;
        if let Some(session) = slot.as_ref() {
            if session.usable() {
                return Ok(session.clone());
            }
            tracing::warn!(broker = %session.host, "message bus connection could not be recovered; opening a new one");
            if let Some(old) = slot.take() {
                // Close it for good so it cannot come back holding our
                // exclusive queues.
                tokio::spawn(async move {
                    let _ = old.connection.close(320, "replaced".into()).await;
                });
            }
        }
        let session = self.open().await?;
        *slot = Some(session.clone());
        Ok(session)
    }

    async fn open(&self) -> Result<Arc<Session>, lapin::Error> {
        let i = self.next_host.fetch_add(1, Ordering::SeqCst) % self.url.hosts.len();
        let host = format!("{}{}", host_display(&self.url.hosts[i]), vhost_display(&self.url.vhost));
        let attempts = self.options.reconnect_attempts;
        let properties = ConnectionProperties::default()
            .with_connection_name(self.options.connection_name.clone().into())
            .enable_auto_recover()
            .configure_backoff(|b| {
                b.with_min_delay(Duration::from_millis(200))
                    .with_max_delay(MAX_BACKOFF)
                    .with_max_times(attempts)
            });
        // lapin retries the TCP connection `attempts` times and then gives
        // up without changing the connection's state (it stays
        // "reconnecting"): count the failures to know when that happened.
        let dead = Arc::new(watch::Sender::new(false));
        let failures = Arc::new(AtomicUsize::new(0));
        let connect = {
            let dead = dead.clone();
            async move |uri: AMQPUri, runtime| {
                let tls = lapin::tcp::OwnedTLSConfig::default();
                match lapin::tcp::AMQPUriTcpExt::connect_with_config_async(&uri, tls.as_ref(), &runtime).await {
                    Ok(stream) => {
                        failures.store(0, Ordering::SeqCst);
                        Ok(stream)
                    }
                    Err(e) => {
                        // The first try and then `attempts` retries.
                        if failures.fetch_add(1, Ordering::SeqCst) >= attempts {
                            dead.send_replace(true);
                        }
                        Err(lapin::Error::from(e))
                    }
                }
            }
        };
        let runtime = lapin::runtime::default_runtime()?;
        let connection = match Connection::connector(self.url.amqp_uri(i), runtime, connect, properties).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(broker = %host, error = %e, "cannot connect to the message bus");
                return Err(e);
            }
        };
        let (shutdown, shutdown_rx) = watch::channel(());
        tokio::spawn(log_events(
            connection.events_listener(),
            connection.status().clone(),
            dead.clone(),
            host.clone(),
            shutdown_rx.clone(),
        ));
        let replies = connection.create_channel().await?;
        let mut expiring = FieldTable::default();
        expiring.insert("x-expires".into(), AMQPValue::LongInt(REPLY_QUEUE_EXPIRES_MS));
        replies
            .queue_declare(
                self.reply_queue.as_str().into(),
                QueueDeclareOptions::default(),
                expiring,
            )
            .await?;
        let consumer = replies
            .basic_consume(
                self.reply_queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tokio::spawn(route_replies(
            replies,
            consumer,
            self.pending.clone(),
            dead.clone(),
            host.clone(),
            shutdown_rx,
        ));
        let session = Session {
            connection,
            host: host.clone(),
            publisher: tokio::sync::Mutex::new(None),
            declared: Mutex::new(HashSet::new()),
            dead,
            _shutdown: shutdown,
        };
        session.publisher().await?;
        tracing::info!(broker = %host, "connected to the message bus");
        Ok(Arc::new(session))
    }

    /// One attempt: declare what the target needs, publish, wait for the
    /// broker's confirm.
    async fn try_publish(&self, target: Target<'_>, payload: &[u8], properties: BasicProperties) -> Result<(), String> {
        let session = self.session().await.map_err(|e| format!("cannot connect: {e}"))?;
        let outcome = self.publish_on(&session, target, payload, properties).await;
        if outcome.is_err() {
            // Whatever failed may have closed the channel or lost a
            // declaration: declare again next time.
            session.forget_declared();
        }
        outcome
    }

    async fn publish_on(
        &self,
        session: &Session,
        target: Target<'_>,
        payload: &[u8],
        properties: BasicProperties,
    ) -> Result<(), String> {
        let channel = session.publisher().await.map_err(|e| e.to_string())?;
        let (exchange, routing_key, mandatory) = match target {
            Target::Topic(topic) => {
                let key = format!("queue {topic}");
                if !session.is_declared(&key) {
                    declare_topic(&channel, &self.options.exchange, topic)
                        .await
                        .map_err(|e| e.to_string())?;
                    session.set_declared(key);
                }
                (self.options.exchange.clone(), topic, true)
            }
            Target::Fanout(topic) => {
                let exchange = fanout_exchange(topic);
                let key = format!("exchange {exchange}");
                if !session.is_declared(&key) {
                    declare_fanout(&channel, topic).await.map_err(|e| e.to_string())?;
                    session.set_declared(key);
                }
                (exchange, "", false)
            }
            Target::Reply(queue) => (String::new(), queue, true),
        };
        let confirm = channel
            .basic_publish(
                exchange.as_str().into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory,
                    immediate: false,
                },
                payload,
                properties,
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(format!(
                "the broker could not route it ({} {})",
                returned.reply_code, returned.reply_text
            )),
            Confirmation::Nack(_) => Err("the broker refused it (nack)".to_owned()),
            Confirmation::NotRequested => Err("the channel is not in confirm mode".to_owned()),
        }
    }

    /// Publishes until the broker confirms or `deadline` passes.
    async fn publish(
        &self,
        target: Target<'_>,
        payload: &[u8],
        properties: BasicProperties,
        deadline: Instant,
    ) -> Result<(), BusError> {
        let mut delay = Duration::from_millis(100);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let attempt_deadline = deadline.min(Instant::now() + CONFIRM_WAIT);
            let error = match tokio::time::timeout_at(
                attempt_deadline,
                self.try_publish(target, payload, properties.clone()),
            )
            .await
            {
                Ok(Ok(())) => {
                    if attempts > 1 {
                        tracing::info!(broker = %self.broker, %target, attempts, "message published after retrying");
                    }
                    return Ok(());
                }
                Ok(Err(e)) => e,
                Err(_) => "no confirmation from the broker in time".to_owned(),
            };
            if Instant::now() + delay >= deadline {
                tracing::error!(broker = %self.broker, %target, attempts, error = %error, "message not published");
                return Err(BusError::Transport(format!(
                    "could not publish to {target} on {}: {error} (after {attempts} attempts)",
                    self.broker
                )));
            }
            if attempts == 1 {
                tracing::warn!(broker = %self.broker, %target, error = %error, "publish failed; retrying");
            } else {
                tracing::debug!(broker = %self.broker, %target, error = %error, attempts, "publish failed again; retrying");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_BACKOFF);
        }
    }

    /// Opens a channel consuming `topic`'s shared queue and a fanout queue
    /// of this listener's own.
    async fn subscribe(&self, topic: &str, fanout_queue: &str) -> Result<Subscription, lapin::Error> {
        let session = self.session().await?;
        let channel = session.connection.create_channel().await?;
        let result = async {
            channel
                .basic_qos(self.options.prefetch, BasicQosOptions::default())
                .await?;
            declare_topic(&channel, &self.options.exchange, topic).await?;
            declare_fanout(&channel, topic).await?;
            channel
                .queue_declare(
                    fanout_queue.into(),
                    QueueDeclareOptions {
                        exclusive: true,
                        auto_delete: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_bind(
                    fanout_queue.into(),
                    fanout_exchange(topic).into(),
                    topic.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let shared = channel
                .basic_consume(
                    topic.into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let fanout = channel
                .basic_consume(
                    fanout_queue.into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok((shared, fanout))
        }
        .await;
        match result {
            Ok((shared, fanout)) => Ok(Subscription {
                channel,
                shared,
                fanout,
                host: session.host.clone(),
                dead: session.dead.subscribe(),
            }),
            Err(e) => {
                let _ = channel.close(200, "subscription failed".into()).await;
                Err(e)
            }
        }
    }
}

struct Subscription {
    channel: Channel,
    shared: Consumer,
    fanout: Consumer,
    host: String,
    /// Turns true when the connection is given up.
    dead: watch::Receiver<bool>,
}

/// Logs the connection's life: lost, restored, given up, blocked. lapin
/// reports a recovery's end as an event but not its start, so the state is
/// also watched.
async fn log_events(
    events: impl Stream<Item = lapin::Event>,
    status: lapin::ConnectionStatus,
    dead: Arc<watch::Sender<bool>>,
    broker: String,
    mut shutdown: watch::Receiver<()>,
) {
    let mut dead_rx = dead.subscribe();
    let mut events = std::pin::pin!(events);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut was_up = true;
    let mut down_since: Option<Instant> = None;
    loop {
        let event = tokio::select! {
            _ = shutdown.changed() => break,
            _ = dead_rx.wait_for(|d| *d) => {
                tracing::warn!(broker = %broker, "message bus connection given up; the next use opens a new one");
                break;
            }
            _ = tick.tick() => {
                let up = status.connected();
                if was_up && status.reconnecting() {
                    tracing::warn!(broker = %broker, "message bus connection lost; reconnecting");
                } else if was_up && !up {
                    tracing::warn!(broker = %broker, "message bus connection lost");
                } else if !was_up && up {
                    tracing::info!(broker = %broker, "message bus connection restored");
                }
                if status.errored() || status.closed() {
                    dead.send_replace(true);
                }
                // lapin's recovery can stall with the broker back (seen
                // after `rabbitmqctl stop_app`/`start_app`: the connection
                // stays "reconnecting" for good, its consumers idle). Give
                // such a connection up: its users open a new one.
                let since = *down_since.get_or_insert_with(Instant::now);
                if up {
                    down_since = None;
                } else if since.elapsed() > RECOVERY_LIMIT {
                    tracing::warn!(broker = %broker, limit = ?RECOVERY_LIMIT,
                        "message bus connection not recovered in time");
                    dead.send_replace(true);
                }
                was_up = up;
                continue;
            }
            event = events.next() => event,
        };
        match event {
            None => break,
            Some(lapin::Event::Error(e)) => {
                tracing::warn!(broker = %broker, error = %e, "message bus connection error")
            }
            Some(lapin::Event::ConnectionBlocked(reason)) => {
                tracing::warn!(broker = %broker, reason = %reason, "the broker blocks publishing")
            }
            Some(lapin::Event::ConnectionUnblocked) => {
                tracing::info!(broker = %broker, "the broker unblocked publishing")
            }
            Some(_) => {}
        }
    }
}

/// Hands each reply to the `call` waiting for it.
async fn route_replies(
    channel: Channel,
    mut consumer: Consumer,
    pending: Pending,
    dead: Arc<watch::Sender<bool>>,
    broker: String,
    mut shutdown: watch::Receiver<()>,
) {
    loop {
        let next = tokio::select! {
            _ = shutdown.changed() => return,
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                // Routed (or dropped) here and now: a redelivery after a
                // lost connection could only find its waiter gone.
                if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                    tracing::debug!(broker = %broker, error = %e, "reply not acknowledged");
                }
                let Some(id) = delivery.properties.correlation_id().as_ref() else {
                    tracing::warn!(broker = %broker, "reply without correlation id dropped");
                    continue;
                };
                let waiter = pending.lock().expect("pending calls").remove(id.as_str());
                let Some(waiter) = waiter else {
                    tracing::debug!(broker = %broker, correlation_id = %id, "late reply dropped");
                    continue;
                };
                let reply = serde_json::from_slice::<Reply>(&delivery.data)
                    .unwrap_or_else(|e| Reply::Error(RemoteError::new("BadReply", format!("undecodable reply: {e}"))));
                let _ = waiter.send(reply);
            }
            Some(Err(e)) => {
                let recovered = tokio::select! {
                    _ = shutdown.changed() => return,
                    r = channel.wait_for_recovery(e) => r,
                };
                if let Err(e) = recovered {
                    tracing::warn!(broker = %broker, error = %e, "reply consumer lost");
                    break;
                }
            }
            None => break,
        }
    }
    dead.send_replace(true);
}

/// Removes a call's waiter however the call ends (reply, timeout, dropped).
struct PendingGuard {
    pending: Pending,
    id: String,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.pending.lock().expect("pending calls").remove(&self.id);
    }
}

impl Amqp {
    /// Parses `url` and opens the first connection (within
    /// `options.publish_retry`); later losses are recovered from.
    pub async fn connect(url: &str, options: AmqpOptions) -> Result<Amqp, BusError> {
        let url = RabbitUrl::parse(url)?;
        let broker = url.display();
        let bound = options.publish_retry;
        let inner = Arc::new(Inner {
            broker: broker.clone(),
            url,
            options,
            session: tokio::sync::Mutex::new(None),
            next_host: AtomicUsize::new(0),
            pending: Arc::default(),
            reply_queue: format!("reply_{}", uuid::Uuid::new_v4().simple()),
        });
        let deadline = Instant::now() + bound;
        let mut delay = Duration::from_millis(100);
        loop {
            match tokio::time::timeout_at(deadline, inner.session()).await {
                Ok(Ok(_)) => return Ok(Amqp { inner }),
                Ok(Err(e)) if Instant::now() + delay < deadline => {
                    tracing::debug!(broker = %broker, error = %e, "retrying the first connection");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
                Ok(Err(e)) => {
                    return Err(BusError::Transport(format!(
                        "cannot connect to the message bus at {broker}: {e}"
                    )));
                }
                Err(_) => {
                    return Err(BusError::Transport(format!(
                        "cannot connect to the message bus at {broker} within {} s",
                        bound.as_secs_f32()
                    )));
                }
            }
        }
    }

    /// The name of this connection's reply queue.
    pub fn reply_queue(&self) -> &str {
        &self.inner.reply_queue
    }
}

fn json_properties() -> BasicProperties {
    BasicProperties::default().with_content_type("application/json".into())
}

#[async_trait::async_trait]
impl Transport for Amqp {
    async fn call(&self, topic: &str, message: Envelope, timeout: Duration) -> Result<Reply, BusError> {
        let method = message.method.clone();
        let payload = serde_json::to_vec(&message)?;
        let deadline = Instant::now() + timeout;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (tx, rx) = oneshot::channel();
        self.inner.pending.lock().expect("pending calls").insert(id.clone(), tx);
        let _guard = PendingGuard {
            pending: self.inner.pending.clone(),
            id: id.clone(),
        };
        let properties = json_properties()
            .with_delivery_mode(2)
            .with_correlation_id(id.into())
            .with_reply_to(self.inner.reply_queue.as_str().into())
            .with_expiration(timeout.as_millis().max(1).to_string().into());
        // A publish gives up only when the call's time is spent (a slow
        // confirm, or the broker away): to the caller that is a timeout, as
        // oslo.messaging's MessagingTimeout; the publish error is logged.
        match self
            .inner
            .publish(Target::Topic(topic), &payload, properties, deadline)
            .await
        {
            Ok(()) => {}
            Err(BusError::Transport(_)) => {
                return Err(BusError::Timeout {
                    topic: topic.to_owned(),
                    method,
                    timeout,
                });
            }
            Err(e) => return Err(e),
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) | Err(_) => Err(BusError::Timeout {
                topic: topic.to_owned(),
                method,
                timeout,
            }),
        }
    }

    async fn cast(&self, topic: &str, message: Envelope) -> Result<(), BusError> {
        let payload = serde_json::to_vec(&message)?;
        let deadline = Instant::now() + self.inner.options.publish_retry;
        let properties = json_properties().with_delivery_mode(2);
        self.inner
            .publish(Target::Topic(topic), &payload, properties, deadline)
            .await
    }

    async fn fanout(&self, topic: &str, message: Envelope) -> Result<(), BusError> {
        let payload = serde_json::to_vec(&message)?;
        let deadline = Instant::now() + self.inner.options.publish_retry;
        self.inner
            .publish(Target::Fanout(topic), &payload, json_properties(), deadline)
            .await
    }

    async fn listen(&self, topic: &str, handler: Arc<dyn Handler>) -> Result<Listener, BusError> {
        let fanout_queue = format!("{}_{}", fanout_exchange(topic), uuid::Uuid::new_v4().simple());
        // The first subscription before returning: a fanout sent right
        // after `listen` must reach this listener.
        let deadline = Instant::now() + self.inner.options.publish_retry;
        let mut delay = Duration::from_millis(100);
        let subscription = loop {
            match tokio::time::timeout_at(deadline, self.inner.subscribe(topic, &fanout_queue)).await {
                Ok(Ok(s)) => break s,
                Ok(Err(e)) if Instant::now() + delay < deadline => {
                    tracing::warn!(broker = %self.inner.broker, topic, error = %e, "cannot listen yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
                Ok(Err(e)) => {
                    return Err(BusError::Transport(format!(
                        "cannot listen to topic {topic} on {}: {e}",
                        self.inner.broker
                    )));
                }
                Err(_) => {
                    return Err(BusError::Transport(format!(
                        "cannot listen to topic {topic} on {}: no answer from the broker",
                        self.inner.broker
                    )));
                }
            }
        };
        let (listener, stop) = Listener::new(topic);
        tokio::spawn(run_listener(
            self.inner.clone(),
            topic.to_owned(),
            fanout_queue,
            handler,
            subscription,
            stop,
        ));
        Ok(listener)
    }
}

async fn run_listener(
    inner: Arc<Inner>,
    topic: String,
    fanout_queue: String,
    handler: Arc<dyn Handler>,
    subscription: Subscription,
    mut stop: oneshot::Receiver<()>,
) {
    // Every running handler holds a clone; all dropped = none running.
    let (running, mut all_done) = mpsc::channel::<()>(1);
    let mut current = Some(subscription);
    'listen: loop {
        let mut sub = match current.take() {
            Some(sub) => sub,
            None => {
                let mut delay = Duration::from_millis(200);
                loop {
                    let attempt = tokio::select! {
                        _ = &mut stop => break 'listen,
                        r = inner.subscribe(&topic, &fanout_queue) => r,
                    };
                    match attempt {
                        Ok(sub) => {
                            tracing::info!(broker = %sub.host, topic = %topic, "listener consuming again");
                            break sub;
                        }
                        Err(e) => {
                            tracing::warn!(broker = %inner.broker, topic = %topic, error = %e, "listener cannot subscribe yet");
                            tokio::select! {
                                _ = &mut stop => break 'listen,
                                _ = tokio::time::sleep(delay) => {}
                            }
                            delay = (delay * 2).min(MAX_BACKOFF);
                        }
                    }
                }
            }
        };
        let ended = loop {
            let next = tokio::select! {
                _ = &mut stop => {
                    stop_consuming(&sub).await;
                    current = Some(sub);
                    break 'listen;
                }
                next = sub.shared.next() => next,
                next = sub.fanout.next() => next,
                _ = async { sub.dead.wait_for(|d| *d).await.map(|_| ()) } => {
                    break "the connection was given up".to_owned()
                }
            };
            match next {
                Some(Ok(delivery)) => {
                    tokio::spawn(handle(
                        inner.clone(),
                        handler.clone(),
                        delivery,
                        topic.clone(),
                        running.clone(),
                    ));
                }
                Some(Err(e)) => {
                    tracing::warn!(broker = %sub.host, topic = %topic, error = %e, "listener lost its connection; waiting for recovery");
                    let recovered = tokio::select! {
                        _ = &mut stop => {
                            current = Some(sub);
                            break 'listen;
                        }
                        r = sub.channel.wait_for_recovery(e) => r,
                    };
                    match recovered {
                        Ok(()) => tracing::info!(broker = %sub.host, topic = %topic, "listener recovered"),
                        Err(e) => break e.to_string(),
                    }
                }
                None => break "the broker cancelled the consumer".to_owned(),
            }
        };
        tracing::warn!(broker = %sub.host, topic = %topic, reason = %ended, "listener subscribing again");
        let _ = sub.channel.close(200, "subscribing again".into()).await;
        drop(sub);
        tokio::select! {
            _ = &mut stop => break 'listen,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    // Stopped: let running handlers finish and acknowledge, then close the
    // channel (which returns any message delivered but not yet handled).
    drop(running);
    let _ = tokio::time::timeout(STOP_GRACE, all_done.recv()).await;
    if let Some(sub) = current {
        let _ = sub.channel.close(200, "listener stopped".into()).await;
    }
}

async fn stop_consuming(sub: &Subscription) {
    for consumer in [&sub.shared, &sub.fanout] {
        let _ = sub
            .channel
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await;
    }
}

/// Handles one delivery: run the handler, publish the reply of a `call`,
/// then acknowledge.
async fn handle(
    inner: Arc<Inner>,
    handler: Arc<dyn Handler>,
    delivery: lapin::message::Delivery,
    topic: String,
    _running: mpsc::Sender<()>,
) {
    let reply_to = delivery.properties.reply_to().as_ref().map(|s| s.to_string());
    let correlation_id = delivery.properties.correlation_id().clone();
    let outcome = match serde_json::from_slice::<Envelope>(&delivery.data) {
        Ok(message) => dispatch(handler, message).await,
        Err(e) => {
            tracing::error!(topic = %topic, error = %e, "undecodable message dropped");
            Reply::Error(RemoteError::new("BadMessage", format!("undecodable message: {e}")))
        }
    };
    if let (Some(reply_to), Some(correlation_id)) = (reply_to, correlation_id) {
        match serde_json::to_vec(&outcome) {
            Ok(payload) => {
                let properties = json_properties().with_correlation_id(correlation_id);
                let deadline = Instant::now() + REPLY_RETRY;
                if let Err(e) = inner
                    .publish(Target::Reply(&reply_to), &payload, properties, deadline)
                    .await
                {
                    tracing::warn!(topic = %topic, error = %e, "reply lost");
                }
            }
            Err(e) => tracing::error!(topic = %topic, error = %e, "reply could not be encoded"),
        }
    }
    let acked = if matches!(&outcome, Reply::Error(e) if e.kind == "BadMessage") {
        delivery.acker.reject(BasicRejectOptions { requeue: false }).await
    } else {
        delivery.acker.ack(BasicAckOptions::default()).await
    };
    if let Err(e) = acked {
        tracing::debug!(topic = %topic, error = %e, "acknowledgement failed; the broker will deliver the message again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(user: &str, pass: &str, host: &str, port: u16) -> RabbitHost {
        RabbitHost {
            username: user.into(),
            password: pass.into(),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_oslo_transport_urls() {
        let u = RabbitUrl::parse("rabbit://guest:guest@127.0.0.1:5672/").unwrap();
        assert_eq!(u.hosts, vec![host("guest", "guest", "127.0.0.1", 5672)]);
        assert_eq!(u.vhost, "/");

        let u = RabbitUrl::parse("rabbit://nova:s%40cr%2Ft@rabbit.example:5673/openstack").unwrap();
        assert_eq!(u.hosts, vec![host("nova", "s@cr/t", "rabbit.example", 5673)]);
        assert_eq!(u.vhost, "openstack");

        let u = RabbitUrl::parse("rabbit://a:1@h1:5672,b:2@h2,h3:5674/%2F").unwrap();
        assert_eq!(
            u.hosts,
            vec![
                host("a", "1", "h1", 5672),
                host("b", "2", "h2", 5672),
                host("guest", "guest", "h3", 5674)
            ]
        );
        assert_eq!(u.vhost, "/");

        let u = RabbitUrl::parse("rabbit://u:p@[::1]:5672?heartbeat=10").unwrap();
        assert_eq!(u.hosts, vec![host("u", "p", "::1", 5672)]);
        assert_eq!(u.vhost, "/");
        assert_eq!(u.display(), "[::1]:5672/");
    }

    #[test]
    fn rejects_bad_urls_without_showing_the_password() {
        for url in [
            "amqp://u:p@h:5672/",
            "rabbit://",
            "rabbit://u:secret@:5672/",
            "rabbit://u:secret@h:port/",
            "rabbit://u:secret@h:0/",
            "rabbit://u:secret@h:5672/%zz",
            "rabbit://u:secret@h:5672/?ssl=1",
        ] {
            let e = RabbitUrl::parse(url).unwrap_err();
            assert!(matches!(e, BusError::BadUrl(_)), "{url}: {e}");
            assert!(!e.to_string().contains("secret"), "{url}: {e}");
        }
    }

    #[test]
    fn display_hides_credentials() {
        let u = RabbitUrl::parse("rabbit://u:secret@h1:5672,v:hidden@h2:5673/nova").unwrap();
        assert_eq!(u.display(), "h1:5672,h2:5673/nova");
        assert!(!format!("{u:?}").contains("secret"));
        assert_eq!(
            redact("rabbit://u:secret@h1:5672,v:hidden@h2/x"),
            "rabbit://u:***@h1:5672,v:***@h2/x"
        );
    }
}
