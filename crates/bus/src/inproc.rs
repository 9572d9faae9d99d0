//! The in-process backend: one queue per topic (listeners of a topic take
//! turns, messages wait for a listener) and one broadcast per topic for
//! fanout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{BusError, Envelope, Handler, Listener, Reply, Transport, dispatch};

type Delivery = (Envelope, Option<oneshot::Sender<Reply>>);

struct Topic {
    queue: mpsc::UnboundedSender<Delivery>,
    /// Shared by every listener of the topic; whoever holds the lock takes
    /// the next message, which spreads messages over the listeners.
    taken: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>>,
    fanout: broadcast::Sender<Envelope>,
}

#[derive(Default)]
pub(crate) struct InProcess {
    topics: Mutex<HashMap<String, Arc<Topic>>>,
}

impl InProcess {
    fn topic(&self, name: &str) -> Arc<Topic> {
        let mut topics = self.topics.lock().expect("bus topics");
        topics
            .entry(name.to_owned())
            .or_insert_with(|| {
                let (queue, rx) = mpsc::unbounded_channel();
                let (fanout, _) = broadcast::channel(1024);
                Arc::new(Topic {
                    queue,
                    taken: Arc::new(tokio::sync::Mutex::new(rx)),
                    fanout,
                })
            })
            .clone()
    }
}

#[async_trait::async_trait]
impl Transport for InProcess {
    async fn call(&self, topic: &str, message: Envelope, timeout: Duration) -> Result<Reply, BusError> {
        let method = message.method.clone();
        let (tx, rx) = oneshot::channel();
        self.topic(topic)
            .queue
            .send((message, Some(tx)))
            .map_err(|_| BusError::Transport("topic queue closed".into()))?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            // The listener took the message and went away without replying.
            Ok(Err(_)) | Err(_) => Err(BusError::Timeout {
                topic: topic.to_owned(),
                method,
                timeout,
            }),
        }
    }

    async fn cast(&self, topic: &str, message: Envelope) -> Result<(), BusError> {
        self.topic(topic)
            .queue
            .send((message, None))
            .map_err(|_| BusError::Transport("topic queue closed".into()))
    }

    async fn fanout(&self, topic: &str, message: Envelope) -> Result<(), BusError> {
        // No receiver is not an error: nobody listens right now.
        let _ = self.topic(topic).fanout.send(message);
        Ok(())
    }

    async fn listen(&self, topic: &str, handler: Arc<dyn Handler>) -> Result<Listener, BusError> {
        let t = self.topic(topic);
        let (listener, mut stop) = Listener::new(topic);
        let mut fanout = t.fanout.subscribe();
        let taken = t.taken.clone();
        let name = topic.to_owned();
        tokio::spawn(async move {
            loop {
                let next = async {
                    let mut rx = taken.lock().await;
                    rx.recv().await
                };
                tokio::select! {
                    _ = &mut stop => break,
                    delivery = next => {
                        let Some((message, reply)) = delivery else { break };
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            let outcome = dispatch(handler, message).await;
                            if let Some(reply) = reply {
                                let _ = reply.send(outcome);
                            }
                        });
                    }
                    message = fanout.recv() => match message {
                        Ok(message) => {
                            let handler = handler.clone();
                            tokio::spawn(async move { dispatch(handler, message).await });
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(topic = %name, missed = n, "fanout listener fell behind");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        });
        Ok(listener)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bus, RemoteError};
    use serde_json::{Value, json};
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Echo(Arc<AtomicUsize>);

    #[async_trait::async_trait]
    impl Handler for Echo {
        async fn handle(&self, method: &str, args: Value) -> Result<Value, RemoteError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            match method {
                "echo" => Ok(args),
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Ok(Value::Null)
                }
                _ => Err(RemoteError::new("UnknownMethod", method)),
            }
        }
    }

    #[tokio::test]
    async fn call_returns_the_handlers_answer_and_its_errors() {
        let bus = Bus::in_process();
        let seen = Arc::new(AtomicUsize::new(0));
        let _l = bus.listen("compute.a", Arc::new(Echo(seen.clone()))).await.unwrap();
        let v: Value = bus
            .call("compute.a", "echo", &json!({"x": 1}), Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(v, json!({"x": 1}));
        let e = bus
            .call::<_, Value>("compute.a", "nope", &json!({}), Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(e, BusError::Remote(r) if r.kind == "UnknownMethod"));
    }

    #[tokio::test]
    async fn call_without_listener_times_out_naming_the_topic() {
        let bus = Bus::in_process();
        let e = bus
            .call::<_, Value>("compute.gone", "echo", &json!({}), Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("compute.gone"), "{e}");
        assert!(matches!(e, BusError::Timeout { .. }));
    }

    #[tokio::test]
    async fn a_cast_waits_for_a_listener_and_listeners_share_a_topic() {
        let bus = Bus::in_process();
        for _ in 0..4 {
            bus.cast("conductor", "echo", &json!({})).await.unwrap();
        }
        let a = Arc::new(AtomicUsize::new(0));
        let b = Arc::new(AtomicUsize::new(0));
        let _la = bus.listen("conductor", Arc::new(Echo(a.clone()))).await.unwrap();
        let _lb = bus.listen("conductor", Arc::new(Echo(b.clone()))).await.unwrap();
        for _ in 0..4 {
            bus.cast("conductor", "echo", &json!({})).await.unwrap();
        }
        for _ in 0..100 {
            if a.load(Ordering::SeqCst) + b.load(Ordering::SeqCst) == 8 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(a.load(Ordering::SeqCst) + b.load(Ordering::SeqCst), 8);
    }

    #[tokio::test]
    async fn fanout_reaches_every_listener() {
        let bus = Bus::in_process();
        let a = Arc::new(AtomicUsize::new(0));
        let b = Arc::new(AtomicUsize::new(0));
        let _la = bus.listen("compute", Arc::new(Echo(a.clone()))).await.unwrap();
        let _lb = bus.listen("compute", Arc::new(Echo(b.clone()))).await.unwrap();
        bus.fanout("compute", "echo", &json!({})).await.unwrap();
        for _ in 0..100 {
            if a.load(Ordering::SeqCst) == 1 && b.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!((a.load(Ordering::SeqCst), b.load(Ordering::SeqCst)), (1, 1));
    }

    #[tokio::test]
    async fn a_slow_message_does_not_hold_up_the_next() {
        let bus = Bus::in_process();
        let seen = Arc::new(AtomicUsize::new(0));
        let _l = bus.listen("t", Arc::new(Echo(seen))).await.unwrap();
        bus.cast("t", "slow", &json!({})).await.unwrap();
        let v: Value = bus.call("t", "echo", &json!(7), Duration::from_secs(2)).await.unwrap();
        assert_eq!(v, json!(7));
    }

    #[tokio::test]
    async fn a_stopped_listener_gets_nothing_more() {
        let bus = Bus::in_process();
        let seen = Arc::new(AtomicUsize::new(0));
        let l = bus.listen("t", Arc::new(Echo(seen.clone()))).await.unwrap();
        l.stop();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let e = bus
            .call::<_, Value>("t", "echo", &json!({}), Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(matches!(e, BusError::Timeout { .. }));
        assert_eq!(seen.load(Ordering::SeqCst), 0);
    }
}
