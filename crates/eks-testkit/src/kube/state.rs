//! The fake's in-memory cluster: namespaces, pods and events as the JSON objects the API
//! server stores, the `resourceVersion` counter and the bounded history of pod changes that
//! watches replay, the simulated kubelet's per-pod runtime, the faults the test queued, and
//! the record of calls.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, Weak};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::kubelet::{self, PodRuntime};
use super::pods;
use super::wire::{ApiError, IdSource, rfc3339};
use super::{FakeKubeConfig, KubeCall};

/// How many pod changes a watch can resume from, like the API server's watch cache.
const HISTORY_LIMIT: usize = 1000;

/// One pod change, as a watch sends it.
#[derive(Clone, Debug)]
pub(super) struct Change {
    pub(super) resource_version: u64,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub(super) kind: &'static str,
    pub(super) pod: Value,
}

/// The namespaces every EKS cluster starts with.
const INITIAL_NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

#[derive(Debug)]
pub(super) struct State {
    /// `host:port` the server listens on, as discovery reports it.
    pub(super) server_address: String,
    /// Namespaces by name.
    pub(super) namespaces: BTreeMap<String, Value>,
    /// Pods by `namespace/name`: namespaces and names cannot contain `/`, so this orders a
    /// namespace's pods together and the key doubles as a `continue` token.
    pub(super) pods: BTreeMap<String, Value>,
    /// The last `resourceVersion` given out; every write takes the next.
    resource_version: u64,
    ids: IdSource,
    /// Requests with a good token still to answer 401.
    pub(super) pending_rejections: usize,
    /// Requests with a good token still to answer 500/503.
    pending_server_errors: usize,
    server_errors_sent: usize,
    /// How long every request waits before it is answered.
    pub(super) latency: Duration,
    /// Followed log streams still to cut: after how many lines, how many streams.
    pub(super) log_stream_cuts: (usize, usize),
    /// Watches still to cut right after they start.
    pub(super) watch_drops: usize,
    pub(super) calls: Vec<KubeCall>,
    pub(super) config: FakeKubeConfig,
    /// Events of every namespace, in the order they happened.
    pub(super) events: Vec<Value>,
    /// What the simulated kubelet keeps per created pod (logs, files), by pod key.
    pub(super) runtimes: HashMap<String, PodRuntime>,
    /// Recent pod changes, oldest first, for watches.
    pub(super) history: VecDeque<Change>,
    /// Watches from a `resourceVersion` below this are `410 Expired`.
    pub(super) history_floor: u64,
    /// Bumped on every change a log follower or watcher may be waiting for.
    pub(super) changes: watch::Sender<u64>,
    /// The shared handle this state lives in, for the tasks it starts (the kubelet); they hold
    /// it weakly so that dropping the fake ends them.
    pub(super) myself: Weak<Mutex<State>>,
}

impl State {
    #[cfg(test)]
    pub(super) fn new(server_address: String) -> Self {
        Self::with_config(server_address, FakeKubeConfig::default(), Weak::new())
    }

    pub(super) fn with_config(
        server_address: String,
        config: FakeKubeConfig,
        myself: Weak<Mutex<State>>,
    ) -> Self {
        let mut state = Self {
            server_address,
            namespaces: BTreeMap::new(),
            pods: BTreeMap::new(),
            resource_version: 0,
            ids: IdSource::new(),
            pending_rejections: 0,
            pending_server_errors: 0,
            server_errors_sent: 0,
            latency: Duration::ZERO,
            log_stream_cuts: (0, 0),
            watch_drops: 0,
            calls: Vec::new(),
            config,
            events: Vec::new(),
            runtimes: HashMap::new(),
            history: VecDeque::new(),
            history_floor: 0,
            changes: watch::channel(0).0,
            myself,
        };
        for name in INITIAL_NAMESPACES {
            state.seed_namespace(name);
        }
        state
    }

    /// The `resourceVersion` a list reports: the latest write.
    pub(super) fn resource_version(&self) -> String {
        self.resource_version.to_string()
    }

    /// The latest write, as a number.
    pub(super) fn current_resource_version(&self) -> u64 {
        self.resource_version
    }

    /// `seconds` of simulated time, scaled to real time by the fake's time scale.
    pub(super) fn scaled_seconds(&self, seconds: f64) -> Duration {
        scaled(self.config.time_scale, seconds)
    }

    pub(super) fn queue_server_errors(&mut self, n: usize) {
        self.pending_server_errors += n;
    }

    /// Uses up one queued server error, if any: 500 and 503 alternate, starting with 500.
    pub(super) fn take_server_error(&mut self) -> Option<u16> {
        if self.pending_server_errors == 0 {
            return None;
        }
        self.pending_server_errors -= 1;
        self.server_errors_sent += 1;
        Some(if self.server_errors_sent % 2 == 1 {
            500
        } else {
            503
        })
    }

    /// Wakes log followers and watchers.
    pub(super) fn notify(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// Records a pod change for watches, keeping the history bounded.
    fn record(&mut self, kind: &'static str, pod: &Value) {
        self.history.push_back(Change {
            resource_version: self.resource_version,
            kind,
            pod: pod.clone(),
        });
        while self.history.len() > HISTORY_LIMIT {
            if let Some(dropped) = self.history.pop_front() {
                self.history_floor = dropped.resource_version;
            }
        }
        self.notify();
    }

    /// Forgets all pod history so far, as etcd compaction does: a watch from an older
    /// `resourceVersion` is then `410 Expired`.
    pub(super) fn compact(&mut self) {
        self.history.clear();
        self.history_floor = self.resource_version;
    }

    /// Changes `pod` at `key` if it is still the pod with `uid`, as one write (a new
    /// `resourceVersion`, a `MODIFIED` change); whether it was there.
    pub(super) fn update_pod(
        &mut self,
        key: &str,
        uid: &str,
        change: impl FnOnce(&mut Value),
    ) -> bool {
        let resource_version = self.next_resource_version();
        let Some(pod) = self.pods.get_mut(key) else {
            return false;
        };
        if pod.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid) {
            return false;
        }
        change(pod);
        pod["metadata"]["resourceVersion"] = json!(resource_version);
        let pod = pod.clone();
        self.record("MODIFIED", &pod);
        true
    }

    /// Removes the pod at `key` (if it is still the pod with `uid`, when given), as the last
    /// write on it; the pod as deleted.
    pub(super) fn remove_pod(&mut self, key: &str, uid: Option<&str>) -> Option<Value> {
        let current = self.pods.get(key)?;
        if uid.is_some_and(|uid| {
            current.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid)
        }) {
            return None;
        }
        let mut pod = self.pods.remove(key)?;
        pod["metadata"]["resourceVersion"] = json!(self.next_resource_version());
        // The runtime stays (until a pod of the same name replaces it) so that a log follower
        // still gets the last lines of a killed container.
        if let Some(runtime) = self.runtimes.get(key) {
            runtime.stop();
        }
        self.record("DELETED", &pod);
        Some(pod)
    }

    /// `POST .../pods`: validates, defaults and stores a new pod, and starts its kubelet.
    pub(super) fn create_pod(&mut self, namespace: &str, body: &[u8]) -> Result<Value, ApiError> {
        let mut pod: Value = serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("the request body is not a Pod: {error}"))
        })?;
        if !pod.is_object() || !pod.get("metadata").is_none_or(Value::is_object) {
            return Err(ApiError::bad_request(
                "the request body is not a Pod object",
            ));
        }
        if !self.namespaces.contains_key(namespace) {
            return Err(ApiError::not_found("namespaces", namespace));
        }
        let metadata = &pod["metadata"];
        let name = match (metadata.get("name"), metadata.get("generateName")) {
            (Some(Value::String(name)), _) if !name.is_empty() => name.clone(),
            (_, Some(Value::String(prefix))) if !prefix.is_empty() => {
                format!("{prefix}{}", self.ids.name_suffix())
            }
            _ => {
                return Err(ApiError::invalid(
                    "Pod",
                    "",
                    &[(
                        "metadata.name".to_owned(),
                        "FieldValueRequired",
                        "Required value: name or generateName is required".to_owned(),
                    )],
                ));
            }
        };
        match metadata.get("namespace") {
            Some(Value::String(given)) if !given.is_empty() && given != namespace => {
                return Err(ApiError::bad_request(format!(
                    "the namespace of the provided object ({given}) does not match the \
                     namespace sent on the request ({namespace})"
                )));
            }
            _ => {}
        }
        pods::validate(&name, &pod)?;
        let key = format!("{namespace}/{name}");
        if self.pods.contains_key(&key) {
            return Err(ApiError::already_exists("pods", &name));
        }
        pods::apply_defaults(&mut pod);
        let metadata = &mut pod["metadata"];
        metadata["name"] = json!(name);
        metadata["namespace"] = json!(namespace);
        metadata["uid"] = json!(self.ids.uuid());
        metadata["resourceVersion"] = json!(self.next_resource_version());
        metadata["creationTimestamp"] = json!(rfc3339(SystemTime::now()));
        if let Some(object) = metadata.as_object_mut() {
            object.remove("deletionTimestamp");
            object.remove("deletionGracePeriodSeconds");
        }
        pod["kind"] = json!("Pod");
        pod["apiVersion"] = json!("v1");
        pod["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        self.pods.insert(key.clone(), pod.clone());
        self.record("ADDED", &pod);
        kubelet::start(self, &key);
        Ok(pod)
    }

    /// `PATCH .../pods/{name}` with a JSON merge patch (RFC 7386) of `metadata.labels` and
    /// `metadata.annotations`: what an operator changes on a running pod (KPO marks a pod
    /// `already_checked`). Any other field is refused rather than silently ignored.
    pub(super) fn patch_pod_metadata(
        &mut self,
        namespace: &str,
        name: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let key = format!("{namespace}/{name}");
        let uid = self
            .pods
            .get(&key)
            .and_then(|pod| {
                pod.pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .ok_or_else(|| ApiError::not_found("pods", name))?;
        let patch: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the patch is not JSON: {e}")))?;
        let only_metadata = patch
            .as_object()
            .is_some_and(|o| o.keys().all(|k| k == "metadata"))
            && patch
                .get("metadata")
                .and_then(Value::as_object)
                .is_some_and(|m| m.keys().all(|k| k == "labels" || k == "annotations"));
        if !only_metadata {
            return Err(ApiError::bad_request(
                "the fake patches only metadata.labels and metadata.annotations of a pod",
            ));
        }
        self.update_pod(&key, &uid, |pod| {
            for field in ["labels", "annotations"] {
                let Some(Value::Object(changes)) = patch.pointer(&format!("/metadata/{field}"))
                else {
                    continue;
                };
                let target = pod["metadata"]
                    .as_object_mut()
                    .map(|m| m.entry(field).or_insert_with(|| json!({})));
                if let Some(Value::Object(current)) = target {
                    for (k, v) in changes {
                        // Merge patch: null removes the key.
                        if v.is_null() {
                            current.remove(k);
                        } else {
                            current.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        });
        self.pods
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found("pods", name))
    }

    /// `DELETE .../pods/{name}`: starts graceful deletion (or deletes at once); the pod as it
    /// is after the request.
    pub(super) fn delete_pod(
        &mut self,
        namespace: &str,
        name: &str,
        grace_period: Option<i64>,
    ) -> Result<Value, ApiError> {
        let key = format!("{namespace}/{name}");
        let pod = self
            .pods
            .get(&key)
            .ok_or_else(|| ApiError::not_found("pods", name))?;
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            // Already terminating: the first grace period stands.
            return Ok(pod.clone());
        }
        let grace = grace_period
            .or_else(|| pod.pointer("/spec/terminationGracePeriodSeconds")?.as_i64())
            .unwrap_or(30)
            .max(0);
        let phase = pod.pointer("/status/phase").and_then(Value::as_str);
        let bound = pod.pointer("/spec/nodeName").is_some();
        // With nothing running (never scheduled, finished, or seeded without a kubelet) the
        // kubelet has nothing to stop, so the pod goes at once.
        let immediate = grace == 0
            || !bound
            || matches!(phase, Some("Succeeded" | "Failed"))
            || !self.runtimes.contains_key(&key);
        // (A pod that exists and has a runtime always has its own: `create_pod` replaces it.)
        if immediate {
            let mut pod = self
                .remove_pod(&key, None)
                .ok_or_else(|| ApiError::not_found("pods", name))?;
            pod["metadata"]["deletionTimestamp"] = json!(rfc3339(SystemTime::now()));
            pod["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            return Ok(pod);
        }
        let uid = pod
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let deletion = rfc3339(SystemTime::now() + Duration::from_secs(grace.unsigned_abs()));
        self.update_pod(&key, &uid, |pod| {
            pod["metadata"]["deletionTimestamp"] = json!(deletion);
            pod["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        });
        kubelet::begin_deletion(self, &key, &uid, grace);
        self.pods
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found("pods", name))
    }

    /// Records an event about the pod at `key`.
    pub(super) fn record_event(
        &mut self,
        key: &str,
        kind: EventKind,
        reason: &str,
        message: &str,
        field_path: Option<&str>,
    ) {
        let Some(pod) = self.pods.get(key) else {
            return;
        };
        let text = |pointer: &str| pod.pointer(pointer).cloned().unwrap_or(Value::Null);
        let (namespace, name, uid) = (
            text("/metadata/namespace"),
            text("/metadata/name"),
            text("/metadata/uid"),
        );
        let pod_version = text("/metadata/resourceVersion");
        let node = text("/spec/nodeName");
        let now = rfc3339(SystemTime::now());
        let (component, host) = match reason {
            "Scheduled" | "FailedScheduling" => ("default-scheduler", Value::Null),
            _ => ("kubelet", node),
        };
        let mut involved = json!({
            "kind": "Pod", "namespace": namespace, "name": name, "uid": uid,
            "apiVersion": "v1", "resourceVersion": pod_version,
        });
        if let Some(field_path) = field_path {
            involved["fieldPath"] = json!(field_path);
        }
        let event_name = format!(
            "{}.{:016x}",
            name.as_str().unwrap_or_default(),
            self.resource_version + 1
        );
        let mut source = json!({ "component": component });
        if !host.is_null() {
            source["host"] = host;
        }
        let event = json!({
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": event_name,
                "namespace": namespace,
                "uid": self.ids.uuid(),
                "resourceVersion": self.next_resource_version(),
                "creationTimestamp": now,
            },
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": match kind { EventKind::Normal => "Normal", EventKind::Warning => "Warning" },
            "eventTime": null,
            "reportingComponent": component,
            "reportingInstance": "",
        });
        self.events.push(event);
        self.notify();
    }

    fn next_resource_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Uses up one queued rejection, if any: the reason to answer 401 with.
    pub(super) fn take_rejection(&mut self) -> Option<String> {
        if self.pending_rejections == 0 {
            return None;
        }
        self.pending_rejections -= 1;
        Some("token rejected by FakeKube::reject_next (as if expired)".to_owned())
    }

    pub(super) fn seed_namespace(&mut self, name: &str) {
        if self.namespaces.contains_key(name) {
            return;
        }
        let namespace = json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": self.ids.uuid(),
                "resourceVersion": self.next_resource_version(),
                "creationTimestamp": rfc3339(SystemTime::now()),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        self.namespaces.insert(name.to_owned(), namespace);
    }

    /// Stores a pod as the API server would after a create; `Err` says what is wrong with it.
    pub(super) fn seed_pod(&mut self, namespace: &str, mut pod: Value) -> Result<(), String> {
        let Some(object) = pod.as_object_mut() else {
            return Err(format!("a pod must be a JSON object, not {pod}"));
        };
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or("metadata must be an object")?;
        let name = match (metadata.get("name"), metadata.get("generateName")) {
            (Some(Value::String(name)), _) if !name.is_empty() => name.clone(),
            (_, Some(Value::String(prefix))) if !prefix.is_empty() => {
                format!("{prefix}{}", self.ids.name_suffix())
            }
            _ => return Err("the pod needs metadata.name or metadata.generateName".to_owned()),
        };
        match metadata.get("namespace") {
            Some(Value::String(given)) if given != namespace => {
                return Err(format!(
                    "the pod's metadata.namespace {given:?} does not match {namespace:?}"
                ));
            }
            _ => {}
        }
        metadata.insert("name".to_owned(), json!(name));
        metadata.insert("namespace".to_owned(), json!(namespace));
        metadata
            .entry("uid")
            .or_insert_with(|| json!(self.ids.uuid()));
        metadata.insert(
            "resourceVersion".to_owned(),
            json!(self.next_resource_version()),
        );
        metadata
            .entry("creationTimestamp")
            .or_insert_with(|| json!(rfc3339(SystemTime::now())));
        object.insert("kind".to_owned(), json!("Pod"));
        object.insert("apiVersion".to_owned(), json!("v1"));
        let status = object
            .entry("status")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or("status must be an object")?;
        status.entry("phase").or_insert_with(|| json!("Pending"));

        self.seed_namespace(namespace);
        let kind = if self.pods.contains_key(&format!("{namespace}/{name}")) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.record(kind, &pod);
        self.pods.insert(format!("{namespace}/{name}"), pod);
        Ok(())
    }

    /// Pods of `namespace`, or of every namespace, in key order.
    pub(super) fn pods_in<'a>(
        &'a self,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.pods.iter().filter(move |(key, _)| match namespace {
            Some(namespace) => key
                .strip_prefix(namespace)
                .is_some_and(|rest| rest.starts_with('/')),
            None => true,
        })
    }

    pub(super) fn pod(&self, namespace: &str, name: &str) -> Option<&Value> {
        self.pods.get(&format!("{namespace}/{name}"))
    }
}

/// An event's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EventKind {
    Normal,
    Warning,
}

/// `seconds` of simulated time at `time_scale`, as real time (never negative or NaN).
pub(super) fn scaled(time_scale: f64, seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds * time_scale).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn starts_with_the_namespaces_of_an_eks_cluster() {
        let state = State::new("127.0.0.1:1".to_owned());
        let names: Vec<&str> = state.namespaces.keys().map(String::as_str).collect();
        assert_eq!(names, INITIAL_NAMESPACES);
        assert_eq!(state.namespaces["default"]["status"]["phase"], "Active");
    }

    #[test]
    fn seeded_pod_gets_what_the_server_sets() {
        let mut state = State::new("127.0.0.1:1".to_owned());
        state
            .seed_pod("jobs", json!({"metadata": {"generateName": "run-"}}))
            .unwrap();
        let (key, pod) = state.pods_in(Some("jobs")).next().unwrap();
        let name = pod["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("run-") && name.len() == 9, "{name}");
        assert_eq!(key, &format!("jobs/{name}"));
        assert_eq!(pod["kind"], "Pod");
        assert_eq!(pod["metadata"]["namespace"], "jobs");
        assert_eq!(pod["status"]["phase"], "Pending");
        assert!(pod["metadata"]["uid"].is_string());
        assert!(state.namespaces.contains_key("jobs"));
    }

    #[test]
    fn pods_of_one_namespace_exclude_namespaces_sharing_its_prefix() {
        let mut state = State::new("127.0.0.1:1".to_owned());
        state
            .seed_pod("a", json!({"metadata": {"name": "x"}}))
            .unwrap();
        state
            .seed_pod("a-b", json!({"metadata": {"name": "y"}}))
            .unwrap();
        let keys: Vec<&String> = state.pods_in(Some("a")).map(|(key, _)| key).collect();
        assert_eq!(keys, ["a/x"]);
        assert_eq!(state.pods_in(None).count(), 2);
    }

    fn pod_body(name: &str) -> Vec<u8> {
        json!({"metadata": {"name": name}, "spec": {"containers": [
            {"name": "main", "image": "busybox", "command": ["sh", "-c", "exit 0"]}
        ]}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn created_pods_take_a_version_each_write_and_are_recorded_for_watches() {
        let mut state = State::new("127.0.0.1:1".to_owned());
        let before = state.current_resource_version();
        let pod = state.create_pod("default", &pod_body("run-1")).unwrap();
        assert_eq!(pod["metadata"]["resourceVersion"], (before + 1).to_string());
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["status"]["phase"], "Pending");
        let error = state.create_pod("default", &pod_body("run-1")).unwrap_err();
        assert_eq!((error.code, error.reason), (409, "AlreadyExists"));
        // Outside a runtime no kubelet runs, so a delete removes the pod at once.
        let deleted = state.delete_pod("default", "run-1", None).unwrap();
        assert_eq!(deleted["metadata"]["name"], "run-1");
        assert!(state.pod("default", "run-1").is_none());
        let kinds: Vec<&str> = state
            .history
            .iter()
            .filter(|change| change.pod["metadata"]["name"] == "run-1")
            .map(|change| change.kind)
            .collect();
        assert_eq!(kinds, ["ADDED", "DELETED"]);
        state.compact();
        assert!(state.history.is_empty());
        assert_eq!(state.history_floor, state.current_resource_version());
        let error = state.delete_pod("default", "run-1", None).unwrap_err();
        assert_eq!(error.code, 404);
    }

    #[test]
    fn injected_server_errors_alternate_500_and_503() {
        let mut state = State::new("127.0.0.1:1".to_owned());
        state.queue_server_errors(3);
        let codes: Vec<Option<u16>> = (0..4).map(|_| state.take_server_error()).collect();
        assert_eq!(codes, [Some(500), Some(503), Some(500), None]);
    }

    #[test]
    fn malformed_seeds_are_refused() {
        let mut state = State::new("127.0.0.1:1".to_owned());
        assert!(state.seed_pod("default", json!([])).is_err());
        assert!(state.seed_pod("default", json!({"spec": {}})).is_err());
        assert!(
            state
                .seed_pod(
                    "default",
                    json!({"metadata": {"name": "x", "namespace": "other"}})
                )
                .is_err()
        );
    }
}
