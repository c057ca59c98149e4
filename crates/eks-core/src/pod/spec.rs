//! The pod `eks-pod` runs, built as Airflow's KubernetesPodOperator builds it: a pod template
//! file or full pod spec as the base, the operator's own parameters on top (they win), a
//! DNS-1123 name with a random suffix, the labels KPO uses to find a task's pod again after a
//! restart, and the XCom sidecar when a result is wanted.
//!
//! The XCom sidecar is KPO's, unchanged, so policies and dashboards that know it keep
//! working: the user's container writes `/airflow/xcom/return.json` on a shared emptyDir, and
//! the sidecar idles until the runner reads the file through it and stops it. Reading goes
//! through the pod's `exec` subresource as on any real cluster (the pod runner's work).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::InputError;

/// The container the operator's parameters apply to, as in KPO.
pub const BASE_CONTAINER: &str = "base";
/// KPO's sidecar name, so existing dashboards and policies recognise it.
pub const XCOM_SIDECAR: &str = "airflow-xcom-sidecar";
pub const XCOM_DIR: &str = "/airflow/xcom";
pub const XCOM_FILE: &str = "/airflow/xcom/return.json";
const XCOM_VOLUME: &str = "xcom";
/// Marks the pod as one this tool made, as KPO's `kubernetes_pod_operator=True`.
pub const OPERATOR_LABEL: &str = "kubernetes_pod_operator";
/// Set on a finished pod so a retry never re-attaches to it (KPO's `already_checked`).
pub const ALREADY_CHECKED_LABEL: &str = "already_checked";

/// The Airflow task a pod belongs to: KPO's labels, from flags or `AIRFLOW_CTX_*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskIdentity {
    pub dag_id: Option<String>,
    pub task_id: Option<String>,
    pub run_id: Option<String>,
    pub map_index: Option<i64>,
    pub try_number: Option<u32>,
}

impl TaskIdentity {
    /// Fill what the flags left empty from Airflow's context variables
    /// (`AIRFLOW_CTX_DAG_ID`, `AIRFLOW_CTX_TASK_ID`, `AIRFLOW_CTX_DAG_RUN_ID`,
    /// `AIRFLOW_CTX_TRY_NUMBER`, `AIRFLOW_CTX_MAP_INDEX`).
    pub fn or_from_env(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        self.dag_id = self.dag_id.or_else(|| non_empty("AIRFLOW_CTX_DAG_ID"));
        self.task_id = self.task_id.or_else(|| non_empty("AIRFLOW_CTX_TASK_ID"));
        self.run_id = self.run_id.or_else(|| non_empty("AIRFLOW_CTX_DAG_RUN_ID"));
        self.try_number = self
            .try_number
            .or_else(|| non_empty("AIRFLOW_CTX_TRY_NUMBER").and_then(|v| v.parse().ok()));
        self.map_index = self
            .map_index
            .or_else(|| non_empty("AIRFLOW_CTX_MAP_INDEX").and_then(|v| v.parse().ok()));
        self
    }

    /// The labels that identify this task's pod; empty when no task is known.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        let (Some(dag), Some(task)) = (&self.dag_id, &self.task_id) else {
            return labels;
        };
        labels.insert("dag_id".to_owned(), safe_label_value(dag));
        labels.insert("task_id".to_owned(), safe_label_value(task));
        if let Some(run) = &self.run_id {
            labels.insert("run_id".to_owned(), safe_label_value(run));
        }
        if let Some(index) = self.map_index.filter(|i| *i >= 0) {
            labels.insert("map_index".to_owned(), index.to_string());
        }
        labels
    }

    /// The selector that finds a running pod of this task to re-attach to: same task and
    /// run, made by us, not yet checked. The try number is left out on purpose: a retry
    /// must find the previous try's pod.
    pub fn reattach_selector(&self) -> Option<String> {
        let labels = self.labels();
        if labels.is_empty() {
            return None;
        }
        let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("{OPERATOR_LABEL}=True"));
        parts.push(format!("!{ALREADY_CHECKED_LABEL}"));
        Some(parts.join(","))
    }
}

/// A label value Kubernetes accepts (at most 63 characters of `[A-Za-z0-9_.-]`, alphanumeric
/// at both ends). Like KPO's `make_safe_label_value`, a value that had to change gets a hash of
/// the original appended, so two different run ids never share a label.
pub fn safe_label_value(value: &str) -> String {
    const MAX: usize = 63;
    let kept: String = value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
        .collect();
    let safe = kept
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    if safe == value && safe.len() <= MAX {
        return safe;
    }
    let hash = format!("{:09x}", fnv1a(value) & 0xf_ffff_ffff);
    let head: String = safe.chars().take(MAX - hash.len() - 1).collect();
    let head = head.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if head.is_empty() {
        hash
    } else {
        format!("{head}-{hash}")
    }
}

fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A pod name from `--name` or the task id: lower case, `[a-z0-9-]`, alphanumeric at both
/// ends, with room for the suffix. Errors name the flag when nothing usable is left.
pub fn pod_name(flag: &str, base: &str, suffix: Option<&str>) -> Result<String, InputError> {
    let mut name = String::new();
    for c in base.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            name.push(c);
        } else if !name.ends_with('-') {
            // `_`, `.`, spaces and the like become one dash, as KPO's slugify does.
            name.push('-');
        }
    }
    let max = 63 - suffix.map(|s| s.len() + 1).unwrap_or(0);
    let name: String = name.trim_matches('-').chars().take(max).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        return Err(InputError::invalid(
            flag,
            format!("{base:?} leaves no usable pod name: use letters or digits (a DNS-1123 name)"),
        ));
    }
    Ok(match suffix {
        Some(s) => format!("{name}-{s}"),
        None => name.to_owned(),
    })
}

/// Eight random characters of `[a-z0-9]` for a pod name suffix, from the OS's hash seed.
pub fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bits = {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.finish()
    };
    (0..8)
        .map(|_| {
            let c = b"abcdefghijklmnopqrstuvwxyz0123456789"[(bits % 36) as usize] as char;
            bits /= 36;
            c
        })
        .collect()
}

/// What the operator's own parameters say about the pod (KPO's names). JSON values are in
/// the Kubernetes API's own shape and were checked by the caller.
#[derive(Debug, Clone, Default)]
pub struct PodParams {
    pub namespace: String,
    pub name: String,
    pub image: Option<String>,
    pub cmds: Vec<String>,
    pub arguments: Vec<String>,
    /// `[{"name":..,"value":..}]` or valueFrom entries.
    pub env: Vec<Value>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub container_resources: Option<Value>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Value>,
    pub affinity: Option<Value>,
    pub service_account_name: Option<String>,
    pub image_pull_secrets: Vec<String>,
    pub image_pull_policy: Option<String>,
    pub termination_grace_period: Option<i64>,
    pub active_deadline_seconds: Option<i64>,
    pub do_xcom_push: bool,
    pub task: TaskIdentity,
}

/// Deep-merge `over` into `base`: objects key by key, `containers` by name (KPO reconciles the
/// base container), any other value replaced. `null` in `over` leaves `base` as it was.
pub fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (_, Value::Null) => {}
        (Value::Object(b), Value::Object(o)) => {
            for (key, value) in o {
                if key == "containers"
                    && let (Some(Value::Array(existing)), Value::Array(incoming)) =
                        (b.get_mut(&key), &value)
                {
                    merge_containers(existing, incoming.clone());
                    continue;
                }
                match b.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        b.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

fn merge_containers(existing: &mut Vec<Value>, incoming: Vec<Value>) {
    for container in incoming {
        let name = container
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match existing
            .iter_mut()
            .find(|c| name.is_some() && c.get("name").and_then(Value::as_str) == name.as_deref())
        {
            Some(slot) => merge(slot, container),
            None => existing.push(container),
        }
    }
}

/// The pod to create: template (or full spec) first, the parameters on top, then what the
/// operator itself needs (restartPolicy Never, labels, the XCom sidecar).
pub fn build_pod(base: Option<Value>, params: &PodParams) -> Result<Value, InputError> {
    let mut pod = base.unwrap_or_else(|| json!({}));
    if !pod.is_object() {
        return Err(InputError::invalid(
            "--pod-template-file",
            "the template is not a Pod object",
        ));
    }
    // A template's first container is the base container, whatever it is called.
    if let Some(first) = pod.pointer_mut("/spec/containers/0")
        && let Some(obj) = first.as_object_mut()
    {
        obj.insert("name".into(), json!(BASE_CONTAINER));
    }

    let mut container = Map::new();
    container.insert("name".into(), json!(BASE_CONTAINER));
    if let Some(image) = &params.image {
        container.insert("image".into(), json!(image));
    }
    if !params.cmds.is_empty() {
        container.insert("command".into(), json!(params.cmds));
    }
    if !params.arguments.is_empty() {
        container.insert("args".into(), json!(params.arguments));
    }
    if !params.env.is_empty() {
        container.insert("env".into(), Value::Array(params.env.clone()));
    }
    if let Some(resources) = &params.container_resources {
        container.insert("resources".into(), resources.clone());
    }
    if let Some(policy) = &params.image_pull_policy {
        container.insert("imagePullPolicy".into(), json!(policy));
    }

    let mut spec = Map::new();
    spec.insert("containers".into(), json!([Value::Object(container)]));
    spec.insert("restartPolicy".into(), json!("Never"));
    if !params.node_selector.is_empty() {
        spec.insert("nodeSelector".into(), json!(params.node_selector));
    }
    if !params.tolerations.is_empty() {
        spec.insert(
            "tolerations".into(),
            Value::Array(params.tolerations.clone()),
        );
    }
    if let Some(affinity) = &params.affinity {
        spec.insert("affinity".into(), affinity.clone());
    }
    if let Some(sa) = &params.service_account_name {
        spec.insert("serviceAccountName".into(), json!(sa));
    }
    if !params.image_pull_secrets.is_empty() {
        let secrets: Vec<Value> = params
            .image_pull_secrets
            .iter()
            .map(|s| json!({"name": s}))
            .collect();
        spec.insert("imagePullSecrets".into(), Value::Array(secrets));
    }
    if let Some(grace) = params.termination_grace_period {
        spec.insert("terminationGracePeriodSeconds".into(), json!(grace));
    }
    if let Some(deadline) = params.active_deadline_seconds {
        spec.insert("activeDeadlineSeconds".into(), json!(deadline));
    }
    let mut labels: BTreeMap<String, String> = params.labels.clone();
    labels.extend(params.task.labels());
    labels.insert(OPERATOR_LABEL.to_owned(), "True".to_owned());
    if let Some(try_number) = params.task.try_number {
        labels.insert("try_number".to_owned(), try_number.to_string());
    }
    let mut metadata =
        json!({"name": params.name, "namespace": params.namespace, "labels": labels});
    if !params.annotations.is_empty() {
        metadata["annotations"] = json!(params.annotations);
    }
    merge(
        &mut pod,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": Value::Object(spec)}),
    );
    // The operator's name wins over a template's generateName.
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("generateName");
    }
    if params.do_xcom_push {
        add_xcom_sidecar(&mut pod);
    }
    check_pod(&pod)?;
    Ok(pod)
}

/// KPO's XCom convention: an emptyDir at /airflow/xcom shared by the base container and an
/// idle sidecar that exits 0 on SIGINT once the result has been read.
fn add_xcom_sidecar(pod: &mut Value) {
    let mount = json!({"name": XCOM_VOLUME, "mountPath": XCOM_DIR});
    if let Some(containers) = pod
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in containers.iter_mut() {
            if c.get("name").and_then(Value::as_str) == Some(BASE_CONTAINER) {
                let mounts = c
                    .as_object_mut()
                    .map(|o| o.entry("volumeMounts").or_insert_with(|| json!([])));
                if let Some(Value::Array(mounts)) = mounts {
                    mounts.push(mount.clone());
                }
            }
        }
        containers.push(json!({
            "name": XCOM_SIDECAR,
            "image": "alpine:3.20",
            "command": ["sh", "-c", "trap \"exit 0\" INT; while true; do sleep 1; done;"],
            "resources": {"requests": {"cpu": "1m", "memory": "10Mi"}},
            "volumeMounts": [mount],
        }));
    }
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Value::Array(volumes) = volumes {
            volumes.push(json!({"name": XCOM_VOLUME, "emptyDir": {}}));
        }
    }
}

/// What the API server would reject, found before the call.
fn check_pod(pod: &Value) -> Result<(), InputError> {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if containers.is_empty() {
        return Err(InputError::invalid(
            "--image",
            "the pod has no container: give --image or a template with one",
        ));
    }
    for c in containers {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
        if c.get("image")
            .and_then(Value::as_str)
            .is_none_or(|i| i.trim().is_empty())
        {
            return Err(InputError::invalid(
                "--image",
                format!("container {name:?} has no image"),
            ));
        }
    }
    if pod.pointer("/spec/restartPolicy").and_then(Value::as_str) != Some("Never") {
        return Err(InputError::invalid(
            "--full-pod-spec",
            "restartPolicy must be Never for a task's pod",
        ));
    }
    serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(pod.clone())
        .map(|_| ())
        .map_err(|e| InputError::invalid("--full-pod-spec", format!("not a valid Pod: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> PodParams {
        PodParams {
            namespace: "jobs".into(),
            name: "etl-abc12345".into(),
            image: Some("python:3.12-slim".into()),
            cmds: vec!["python".into(), "-c".into()],
            arguments: vec!["print(1)".into()],
            task: TaskIdentity {
                dag_id: Some("etl".into()),
                task_id: Some("load".into()),
                run_id: Some("scheduled__2026-12-04T00:00:00+00:00".into()),
                map_index: Some(-1),
                try_number: Some(2),
            },
            ..PodParams::default()
        }
    }

    #[test]
    fn names_are_dns_1123_with_room_for_the_suffix() {
        assert_eq!(
            pod_name("--name", "My_Task.v2", Some("abcd1234")).expect("name"),
            "my-task-v2-abcd1234"
        );
        let long = pod_name("--name", &"x".repeat(100), Some("abcd1234")).expect("name");
        assert_eq!(long.len(), 63);
        assert!(pod_name("--name", "___", None).is_err());
        let s = random_suffix();
        assert_eq!(s.len(), 8);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }

    #[test]
    fn label_values_are_safe_and_distinct() {
        assert_eq!(safe_label_value("load"), "load");
        let a = safe_label_value("scheduled__2026-12-04T00:00:00+00:00");
        let b = safe_label_value("scheduled__2026-12-04T00:00:00+01:00");
        assert_ne!(a, b, "changed values keep a hash of the original");
        for v in [&a, &b] {
            assert!(
                v.len() <= 63
                    && v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
                "{v}"
            );
        }
        assert!(safe_label_value(&"y".repeat(80)).len() <= 63);
    }

    #[test]
    fn the_operator_parameters_win_over_the_template() {
        let template = json!({
            "metadata": {"generateName": "tmpl-", "labels": {"team": "data"}},
            "spec": {
                "containers": [{"name": "main", "image": "busybox", "env": [{"name": "A", "value": "1"}]}],
                "restartPolicy": "Always",
                "nodeSelector": {"disk": "ssd"}
            }
        });
        let pod = build_pod(Some(template), &params()).expect("pod");
        assert_eq!(pod["spec"]["containers"][0]["name"], BASE_CONTAINER);
        assert_eq!(pod["spec"]["containers"][0]["image"], "python:3.12-slim");
        assert_eq!(
            pod["spec"]["containers"][0]["env"][0]["name"], "A",
            "template env kept when no flag sets env"
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["nodeSelector"]["disk"], "ssd");
        assert_eq!(pod["metadata"]["name"], "etl-abc12345");
        assert!(pod["metadata"].get("generateName").is_none());
        assert_eq!(pod["metadata"]["labels"]["team"], "data");
        assert_eq!(pod["metadata"]["labels"]["dag_id"], "etl");
        assert_eq!(pod["metadata"]["labels"][OPERATOR_LABEL], "True");
        assert_eq!(pod["metadata"]["labels"]["try_number"], "2");
        assert!(
            pod["metadata"]["labels"].get("map_index").is_none(),
            "-1 is not mapped"
        );
    }

    #[test]
    fn xcom_adds_a_sidecar_and_a_shared_volume() {
        let mut p = params();
        p.do_xcom_push = true;
        let pod = build_pod(None, &p).expect("pod");
        let containers = pod["spec"]["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[1]["name"], XCOM_SIDECAR);
        assert_eq!(containers[0]["volumeMounts"][0]["mountPath"], XCOM_DIR);
        assert_eq!(pod["spec"]["volumes"][0]["emptyDir"], json!({}));
    }

    #[test]
    fn reattach_selector_ignores_the_try_number() {
        let selector = params().task.reattach_selector().expect("selector");
        assert!(selector.contains("dag_id=etl") && selector.contains("task_id=load"));
        assert!(
            selector.contains("kubernetes_pod_operator=True")
                && selector.contains("!already_checked")
        );
        assert!(!selector.contains("try_number"));
        assert!(TaskIdentity::default().reattach_selector().is_none());
    }

    #[test]
    fn context_comes_from_airflow_env_when_flags_are_silent() {
        let env = |k: &str| match k {
            "AIRFLOW_CTX_DAG_ID" => Some("etl".to_owned()),
            "AIRFLOW_CTX_TASK_ID" => Some("load".to_owned()),
            "AIRFLOW_CTX_TRY_NUMBER" => Some("3".to_owned()),
            _ => None,
        };
        let task = TaskIdentity {
            task_id: Some("override".into()),
            ..Default::default()
        }
        .or_from_env(env);
        assert_eq!(task.dag_id.as_deref(), Some("etl"));
        assert_eq!(task.task_id.as_deref(), Some("override"));
        assert_eq!(task.try_number, Some(3));
    }

    #[test]
    fn a_pod_without_an_image_is_bad_input() {
        let mut p = params();
        p.image = None;
        let err = build_pod(None, &p).expect_err("no image").to_string();
        assert!(err.starts_with("--image: "), "{err}");
    }
}
