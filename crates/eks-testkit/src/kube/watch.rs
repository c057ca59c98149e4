//! Pod watches: `GET .../pods?watch=true` with `resourceVersion`, `labelSelector`,
//! `fieldSelector=metadata.name=NAME`, `allowWatchBookmarks` and `timeoutSeconds`, streamed
//! as newline-delimited `{"type": ..., "object": ...}` events from the state's bounded
//! history of pod changes. As the API server's watch cache does, a `resourceVersion` older
//! than the history gets a 200 whose only event is an `ERROR` carrying a `410 Expired`
//! `Status`; no `resourceVersion` (or `0`) starts with an `ADDED` event per existing pod.

use std::time::Duration;

use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::api::{Answer, cut_stream};
use super::lock;
use super::query::{LabelSelector, field_equals};
use super::state::State;
use super::wire::ApiError;

/// Idle time (simulated seconds) after which a watch that allows bookmarks gets one.
const BOOKMARK_SECONDS: f64 = 60.0;

/// Whether a list request is a watch.
pub(super) fn requested(query: &[(String, String)]) -> bool {
    query
        .iter()
        .any(|(name, value)| name == "watch" && value != "false" && value != "0")
}

/// Starts a watch of the pods of `namespace` (or all).
pub(super) fn answer(
    state: &mut State,
    namespace: Option<&str>,
    query: &[(String, String)],
) -> Result<Answer, ApiError> {
    let mut filter = Filter {
        namespace: namespace.map(str::to_owned),
        ..Filter::default()
    };
    let mut from = None;
    let mut bookmarks = false;
    let mut timeout = None;
    for (name, value) in query {
        match name.as_str() {
            "labelSelector" => filter.labels = LabelSelector::parse(value)?,
            "fieldSelector" if !value.is_empty() => {
                filter.name = Some(field_equals(value, "metadata.name")?);
            }
            "resourceVersion" if !value.is_empty() && value != "0" => {
                from = Some(value.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!("resourceVersion: invalid value {value:?}"))
                })?);
            }
            "allowWatchBookmarks" => bookmarks = value == "true" || value == "1",
            "timeoutSeconds" => {
                timeout = Some(Duration::from_secs(value.parse().map_err(|_| {
                    ApiError::bad_request(format!("timeoutSeconds: invalid value {value:?}"))
                })?));
            }
            _ => {}
        }
    }
    let (sender, receiver) = mpsc::channel(256);
    let current = state.current_resource_version();
    let mut initial = Vec::new();
    let cursor = match from {
        Some(from) if from < state.history_floor => {
            let expired = ApiError::expired(format!(
                "too old resource version: {from} ({})",
                state.history_floor + 1
            ));
            let _ = sender.try_send(Ok(line("ERROR", expired.body())));
            return Ok(Answer::Text(receiver));
        }
        Some(from) => from,
        None => {
            initial = state
                .pods
                .values()
                .filter(|pod| filter.matches(pod))
                .map(|pod| line("ADDED", pod.clone()))
                .collect();
            current
        }
    };
    let cut = state.watch_drops > 0;
    if cut {
        state.watch_drops -= 1;
    }
    let watcher = Watcher {
        shared: state.myself.clone(),
        filter,
        cursor,
        bookmarks: bookmarks.then(|| state.scaled_seconds(BOOKMARK_SECONDS)),
        timeout,
        cut,
        changes: state.changes.subscribe(),
    };
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(watcher.stream(initial, sender));
    }
    Ok(Answer::Text(receiver))
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut text = json!({ "type": kind, "object": object }).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Which pods a watch is about.
#[derive(Clone, Debug, Default)]
struct Filter {
    namespace: Option<String>,
    name: Option<String>,
    labels: LabelSelector,
}

impl Filter {
    fn matches(&self, pod: &Value) -> bool {
        let text = |pointer: &str| pod.pointer(pointer).and_then(Value::as_str);
        self.namespace
            .as_deref()
            .is_none_or(|namespace| text("/metadata/namespace") == Some(namespace))
            && self
                .name
                .as_deref()
                .is_none_or(|name| text("/metadata/name") == Some(name))
            && self.labels.matches(pod.pointer("/metadata/labels"))
    }
}

struct Watcher {
    shared: std::sync::Weak<std::sync::Mutex<State>>,
    filter: Filter,
    /// The last `resourceVersion` sent (or started from).
    cursor: u64,
    bookmarks: Option<Duration>,
    timeout: Option<Duration>,
    /// Cut the stream once caught up (a dropped watch).
    cut: bool,
    changes: tokio::sync::watch::Receiver<u64>,
}

enum Next {
    Events(Vec<Bytes>),
    Expired(Bytes),
}

impl Watcher {
    async fn stream(
        mut self,
        initial: Vec<Bytes>,
        sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) {
        let ends = self
            .timeout
            .map(|timeout| tokio::time::Instant::now() + timeout);
        for event in initial {
            if sender.send(Ok(event)).await.is_err() {
                return;
            }
        }
        loop {
            self.changes.borrow_and_update();
            let events = match self.read() {
                None => return,
                Some(Next::Expired(error)) => {
                    let _ = sender.send(Ok(error)).await;
                    return;
                }
                Some(Next::Events(events)) => events,
            };
            for event in events {
                if sender.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            if self.cut {
                cut_stream(&sender, "watch cut by FakeKube").await;
                return;
            }
            let bookmark = async {
                match self.bookmarks {
                    Some(every) => tokio::time::sleep(every).await,
                    None => std::future::pending().await,
                }
            };
            let timeout = async {
                match ends {
                    Some(ends) => tokio::time::sleep_until(ends).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = self.changes.changed() => if changed.is_err() { return },
                () = bookmark => {
                    let object = json!({
                        "kind": "Pod", "apiVersion": "v1",
                        "metadata": {"resourceVersion": self.cursor.to_string()},
                    });
                    if sender.send(Ok(line("BOOKMARK", object))).await.is_err() {
                        return;
                    }
                }
                () = timeout => return,
            }
        }
    }

    fn read(&mut self) -> Option<Next> {
        let shared = self.shared.upgrade()?;
        let state = lock(&shared);
        if self.cursor < state.history_floor {
            let expired = ApiError::expired(format!(
                "too old resource version: {} ({})",
                self.cursor,
                state.history_floor + 1
            ));
            return Some(Next::Expired(line("ERROR", expired.body())));
        }
        let mut events = Vec::new();
        let after = self.cursor;
        for change in state
            .history
            .iter()
            .filter(|change| change.resource_version > after)
        {
            self.cursor = change.resource_version;
            if self.filter.matches(&change.pod) {
                events.push(line(change.kind, change.pod.clone()));
            }
        }
        self.cursor = self.cursor.max(state.current_resource_version());
        Some(Next::Events(events))
    }
}
