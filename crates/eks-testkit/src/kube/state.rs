//! The fake's in-memory cluster: namespaces and pods as the JSON objects the API server
//! stores, the `resourceVersion` counter, the rejections the test queued, and the record of
//! calls.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::KubeCall;
use super::wire::{IdSource, rfc3339};

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
    pub(super) calls: Vec<KubeCall>,
}

impl State {
    pub(super) fn new(server_address: String) -> Self {
        let mut state = Self {
            server_address,
            namespaces: BTreeMap::new(),
            pods: BTreeMap::new(),
            resource_version: 0,
            ids: IdSource::new(),
            pending_rejections: 0,
            calls: Vec::new(),
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
