//! The simulated kubelet: one tokio task per created pod that schedules it, pulls its images,
//! starts its containers, runs each container's script (see [`script`](super::script)),
//! writes container and pod status and events as a real kubelet would, enforces
//! `activeDeadlineSeconds`, and on deletion kills what still runs once the grace period is
//! over. Every simulated duration is scaled by the fake's time scale. The tasks hold the
//! state weakly, so dropping the fake ends them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::lock;
use super::logs::ContainerLog;
use super::script::{self, Program, Sandbox, Signal};
use super::state::{EventKind, State, scaled};
use super::wire::rfc3339;

/// The node every schedulable pod lands on.
pub(super) const NODE_NAME: &str = "ip-10-0-1-23.ec2.internal";
const HOST_IP: &str = "10.0.1.23";
/// A `nodeSelector` key no node satisfies.
pub(super) const UNSCHEDULABLE_KEY: &str = "eks-fake/unschedulable";
/// An image whose name contains this does not exist in any registry.
pub(super) const MISSING_IMAGE_MARK: &str = "does-not-exist";
/// Simulated seconds the scheduler and each image pull take.
const SCHEDULE_SECONDS: f64 = 0.05;
const PULL_SECONDS: f64 = 0.05;
const TERMINATION_LOG: &str = "/dev/termination-log";

/// What the kubelet keeps for one pod beyond its API object.
#[derive(Debug)]
pub(super) struct PodRuntime {
    pub(super) uid: String,
    pub(super) containers: BTreeMap<String, ContainerRuntime>,
    /// Files scripts wrote: one filesystem shared by the pod's containers.
    files: HashMap<String, String>,
    /// Set when the pod is killed (deletion, deadline): its task stops.
    stopped: watch::Sender<bool>,
}

#[derive(Debug, Default)]
pub(super) struct ContainerRuntime {
    pub(super) log: ContainerLog,
    termination_log: Option<String>,
    /// Signals for the container's first process (its script), once it has started.
    signals: Option<mpsc::UnboundedSender<Signal>>,
}

impl PodRuntime {
    /// Stops the pod's task (and so its containers).
    pub(super) fn stop(&self) {
        self.stopped.send_replace(true);
    }

    /// Becomes `true` when the pod is stopped; closes when the fake is dropped.
    pub(super) fn stopped(&self) -> watch::Receiver<bool> {
        self.stopped.subscribe()
    }
}

/// Starts the kubelet task of the newly created pod at `key`, if the fake runs in a runtime.
pub(super) fn start(state: &mut State, key: &str) {
    let Some(pod) = state.pods.get(key) else {
        return;
    };
    let uid = text(pod, "/metadata/uid").to_owned();
    let containers = container_names(pod)
        .into_iter()
        .map(|name| (name, ContainerRuntime::default()))
        .collect();
    let (stopped, mut stop) = watch::channel(false);
    state.runtimes.insert(
        key.to_owned(),
        PodRuntime {
            uid: uid.clone(),
            containers,
            files: HashMap::new(),
            stopped,
        },
    );
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let kubelet = Kubelet {
        shared: state.myself.clone(),
        key: key.to_owned(),
        uid,
        time_scale: state.config.time_scale,
    };
    runtime.spawn(async move {
        tokio::select! {
            () = kubelet.run() => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    });
}

/// Starts graceful deletion of the running pod at `key`: `Killing` events now, and a task
/// that kills what still runs after `grace` seconds and then removes the pod.
pub(super) fn begin_deletion(state: &mut State, key: &str, uid: &str, grace: i64) {
    for name in running_containers(state, key) {
        state.record_event(
            key,
            EventKind::Normal,
            "Killing",
            &format!("Stopping container {name}"),
            Some(&format!("spec.containers{{{name}}}")),
        );
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let shared = state.myself.clone();
    let (key, uid) = (key.to_owned(), uid.to_owned());
    let grace = scaled(state.config.time_scale, grace as f64);
    let mut changes = state.changes.subscribe();
    runtime.spawn(async move {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            {
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let state = lock(&shared);
                let Some(pod) = state.pods.get(&key) else {
                    return;
                };
                if text(pod, "/metadata/uid") != uid {
                    return;
                }
                // Nothing (left) running, e.g. stuck pulling an image: nothing to wait for.
                let running =
                    statuses(pod).any(|status| status.pointer("/state/running").is_some());
                if !running || matches!(text(pod, "/status/phase"), "Succeeded" | "Failed") {
                    break;
                }
                changes.borrow_and_update();
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                changed = changes.changed() => if changed.is_err() { return },
            }
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut state = lock(&shared);
        kill(&mut state, &key, &uid, None);
        state.remove_pod(&key, Some(&uid));
    });
}

fn running_containers(state: &State, key: &str) -> Vec<String> {
    let Some(pod) = state.pods.get(key) else {
        return Vec::new();
    };
    statuses(pod)
        .filter(|status| status.pointer("/state/running").is_some())
        .filter_map(|status| status["name"].as_str().map(str::to_owned))
        .collect()
}

/// Kills the pod's running containers (exit 137) and fails it, with `reason` when given.
fn kill(state: &mut State, key: &str, uid: &str, reason: Option<(&str, &str)>) {
    let now = rfc3339(SystemTime::now());
    if let Some(runtime) = state.runtimes.get_mut(key) {
        for container in runtime.containers.values_mut() {
            container.log.flush(SystemTime::now());
        }
        runtime.stop();
    }
    state.update_pod(key, uid, |pod| {
        if let Some(statuses) = pod
            .pointer_mut("/status/containerStatuses")
            .and_then(Value::as_array_mut)
        {
            for status in statuses.iter_mut() {
                if let Some(started) = status.pointer("/state/running/startedAt").cloned() {
                    status["state"] = json!({"terminated": {
                        "exitCode": 137, "reason": "Error", "startedAt": started,
                        "finishedAt": now, "containerID": status["containerID"],
                    }});
                    status["ready"] = json!(false);
                    status["started"] = json!(false);
                }
            }
        }
        if !matches!(text(pod, "/status/phase"), "Succeeded" | "Failed") {
            pod["status"]["phase"] = json!("Failed");
            if let Some((reason, message)) = reason {
                pod["status"]["reason"] = json!(reason);
                pod["status"]["message"] = json!(message);
            }
            set_ready(pod, false, "PodFailed");
        }
    });
    state.notify();
}

/// The task of one pod.
struct Kubelet {
    shared: Weak<Mutex<State>>,
    key: String,
    uid: String,
    time_scale: f64,
}

impl Kubelet {
    /// Runs `change` on the state if the fake still runs; `None` if it stopped.
    fn with_state<R>(&self, change: impl FnOnce(&mut State) -> R) -> Option<R> {
        let shared = self.shared.upgrade()?;
        let mut state = lock(&shared);
        Some(change(&mut state))
    }

    fn update(&self, change: impl FnOnce(&mut Value)) -> bool {
        self.with_state(|state| state.update_pod(&self.key, &self.uid, change))
            .unwrap_or(false)
    }

    fn event(&self, kind: EventKind, reason: &str, message: &str, container: Option<&str>) {
        let field_path = container.map(|name| format!("spec.containers{{{name}}}"));
        self.with_state(|state| {
            state.record_event(&self.key, kind, reason, message, field_path.as_deref());
        });
    }

    async fn sleep(&self, seconds: f64) {
        tokio::time::sleep(scaled(self.time_scale, seconds)).await;
    }

    async fn run(self) {
        let started = tokio::time::Instant::now();
        self.sleep(SCHEDULE_SECONDS).await;
        let Some(pod) = self
            .with_state(|state| state.pods.get(&self.key).cloned())
            .flatten()
        else {
            return;
        };
        let (namespace, name) = (
            text(&pod, "/metadata/namespace"),
            text(&pod, "/metadata/name"),
        );
        if pod
            .pointer("/spec/nodeSelector")
            .and_then(Value::as_object)
            .is_some_and(|selector| selector.contains_key(UNSCHEDULABLE_KEY))
        {
            let message = "0/1 nodes are available: 1 node(s) didn't match Pod's node \
                           affinity/selector. preemption: 0/1 nodes are available: 1 \
                           Preemption is not helpful for scheduling.";
            self.update(|pod| {
                pod["status"]["conditions"] = json!([{
                    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": message, "lastProbeTime": null,
                    "lastTransitionTime": rfc3339(SystemTime::now()),
                }]);
            });
            self.event(EventKind::Warning, "FailedScheduling", message, None);
            return;
        }
        let containers: Vec<Value> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let now = rfc3339(SystemTime::now());
        self.update(|pod| {
            pod["spec"]["nodeName"] = json!(NODE_NAME);
            pod["status"]["conditions"] = json!([
                condition("Initialized", true, None),
                condition("Ready", false, Some("ContainersNotReady")),
                condition("ContainersReady", false, Some("ContainersNotReady")),
                condition("PodScheduled", true, None),
            ]);
            pod["status"]["hostIP"] = json!(HOST_IP);
            pod["status"]["hostIPs"] = json!([{"ip": HOST_IP}]);
            pod["status"]["startTime"] = json!(now);
            pod["status"]["containerStatuses"] = containers
                .iter()
                .map(|container| {
                    json!({
                        "name": container["name"], "image": container["image"], "imageID": "",
                        "ready": false, "restartCount": 0, "started": false,
                        "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {},
                    })
                })
                .collect();
        });
        self.event(
            EventKind::Normal,
            "Scheduled",
            &format!("Successfully assigned {namespace}/{name} to {NODE_NAME}"),
            None,
        );

        for container in &containers {
            let (container_name, image) = (text(container, "/name"), text(container, "/image"));
            self.event(
                EventKind::Normal,
                "Pulling",
                &format!("Pulling image {image:?}"),
                Some(container_name),
            );
            self.sleep(PULL_SECONDS).await;
            if image.contains(MISSING_IMAGE_MARK) {
                self.fail_pull(container_name, image).await;
                return;
            }
            let millis = (PULL_SECONDS * 1000.0) as u64;
            self.event(
                EventKind::Normal,
                "Pulled",
                &format!("Successfully pulled image {image:?} in {millis}ms"),
                Some(container_name),
            );
        }

        // Signals can reach a container from the moment its status says it runs.
        let mut prepared = Vec::new();
        for container in &containers {
            let sandbox = ContainerSandbox::new(
                self.shared.clone(),
                &self.key,
                &self.uid,
                text(container, "/name"),
                self.time_scale,
            );
            let (sender, signals) = mpsc::unbounded_channel();
            sandbox.with_runtime(|runtime| {
                if let Some(runtime) = runtime.containers.get_mut(&sandbox.container) {
                    runtime.signals = Some(sender);
                }
            });
            prepared.push((sandbox, Program::of_container(container), signals));
        }
        let now = rfc3339(SystemTime::now());
        for (index, container) in containers.iter().enumerate() {
            let container_name = text(container, "/name");
            self.event(
                EventKind::Normal,
                "Created",
                &format!("Created container {container_name}"),
                Some(container_name),
            );
            self.event(
                EventKind::Normal,
                "Started",
                &format!("Started container {container_name}"),
                Some(container_name),
            );
            let uid = &self.uid;
            self.update(|pod| {
                let status = &mut pod["status"]["containerStatuses"][index];
                status["state"] = json!({"running": {"startedAt": now}});
                status["ready"] = json!(true);
                status["started"] = json!(true);
                status["imageID"] = json!(image_id(text(container, "/image")));
                status["containerID"] =
                    json!(format!("containerd://{}{index:02}", uid.replace('-', "")));
            });
        }
        self.update(|pod| {
            pod["status"]["phase"] = json!("Running");
            pod["status"]["podIP"] = json!("10.0.1.100");
            pod["status"]["podIPs"] = json!([{"ip": "10.0.1.100"}]);
            set_ready(pod, true, "");
        });

        let mut running = JoinSet::new();
        for (mut sandbox, program, mut signals) in prepared {
            running.spawn(async move {
                let code = script::run(&program, &mut sandbox, &mut signals).await;
                (sandbox.container, code)
            });
        }
        let deadline = pod
            .pointer("/spec/activeDeadlineSeconds")
            .and_then(Value::as_f64)
            .map(|seconds| started + scaled(self.time_scale, seconds));
        loop {
            let finished = match deadline {
                Some(deadline) => tokio::select! {
                    finished = running.join_next() => finished,
                    () = tokio::time::sleep_until(deadline) => {
                        self.deadline_exceeded();
                        return;
                    }
                },
                None => running.join_next().await,
            };
            match finished {
                Some(Ok((container, code))) => self.container_exited(&container, code),
                // A container task cannot panic short of a bug in the fake; nothing to record.
                Some(Err(_)) => {}
                None => return,
            }
        }
    }

    async fn fail_pull(&self, container: &str, image: &str) {
        let pull_error = format!(
            "Failed to pull image {image:?}: rpc error: code = NotFound desc = failed to pull \
             and unpack image {image:?}: not found"
        );
        let waiting = |reason: &str, message: &str| {
            let (reason, message) = (reason.to_owned(), message.to_owned());
            move |pod: &mut Value| {
                if let Some(statuses) = pod
                    .pointer_mut("/status/containerStatuses")
                    .and_then(Value::as_array_mut)
                {
                    for status in statuses
                        .iter_mut()
                        .filter(|status| status["name"] == container)
                    {
                        status["state"] =
                            json!({"waiting": {"reason": reason, "message": message}});
                    }
                }
            }
        };
        self.event(EventKind::Warning, "Failed", &pull_error, Some(container));
        self.event(
            EventKind::Warning,
            "Failed",
            "Error: ErrImagePull",
            Some(container),
        );
        self.update(waiting("ErrImagePull", &pull_error));
        self.sleep(PULL_SECONDS).await;
        let back_off = format!("Back-off pulling image {image:?}");
        self.event(EventKind::Normal, "BackOff", &back_off, Some(container));
        self.event(
            EventKind::Warning,
            "Failed",
            "Error: ImagePullBackOff",
            Some(container),
        );
        self.update(waiting("ImagePullBackOff", &back_off));
    }

    fn container_exited(&self, container: &str, code: i32) {
        let now = SystemTime::now();
        self.with_state(|state| {
            let Some(runtime) = state.runtimes.get_mut(&self.key) else {
                return;
            };
            if *runtime.stopped.borrow() {
                return;
            }
            let message = runtime.containers.get_mut(container).and_then(|runtime| {
                runtime.log.flush(now);
                runtime.termination_log.clone()
            });
            state.update_pod(&self.key, &self.uid, |pod| {
                let Some(statuses) = pod
                    .pointer_mut("/status/containerStatuses")
                    .and_then(Value::as_array_mut)
                else {
                    return;
                };
                for status in statuses
                    .iter_mut()
                    .filter(|status| status["name"] == container)
                {
                    let Some(started) = status.pointer("/state/running/startedAt").cloned() else {
                        continue;
                    };
                    let mut terminated = json!({
                        "exitCode": code,
                        "reason": if code == 0 { "Completed" } else { "Error" },
                        "startedAt": started,
                        "finishedAt": rfc3339(now),
                        "containerID": status["containerID"],
                    });
                    if let Some(message) = &message {
                        terminated["message"] = json!(message);
                    }
                    status["state"] = json!({ "terminated": terminated });
                    status["ready"] = json!(false);
                    status["started"] = json!(false);
                }
                let codes: Option<Vec<i64>> = statuses
                    .iter()
                    .map(|status| status.pointer("/state/terminated/exitCode")?.as_i64())
                    .collect();
                if let Some(codes) = codes {
                    let phase = if codes.iter().all(|code| *code == 0) {
                        "Succeeded"
                    } else {
                        "Failed"
                    };
                    pod["status"]["phase"] = json!(phase);
                    set_ready(pod, false, "PodCompleted");
                } else {
                    set_ready(pod, false, "ContainersNotReady");
                }
            });
        });
    }

    fn deadline_exceeded(&self) {
        let message = "Pod was active on the node longer than the specified deadline";
        self.event(EventKind::Normal, "DeadlineExceeded", message, None);
        self.with_state(|state| {
            kill(
                state,
                &self.key,
                &self.uid,
                Some(("DeadlineExceeded", message)),
            );
        });
    }
}

/// Stdout and filesystem of one running container.
pub(super) struct ContainerSandbox {
    shared: Weak<Mutex<State>>,
    key: String,
    uid: String,
    container: String,
    time_scale: f64,
}

impl ContainerSandbox {
    /// The sandbox of `container` in the pod at `key` with `uid`.
    pub(super) fn new(
        shared: Weak<Mutex<State>>,
        key: &str,
        uid: &str,
        container: &str,
        time_scale: f64,
    ) -> Self {
        Self {
            shared,
            key: key.to_owned(),
            uid: uid.to_owned(),
            container: container.to_owned(),
            time_scale,
        }
    }

    fn with_runtime<R>(&self, use_runtime: impl FnOnce(&mut PodRuntime) -> R) -> Option<R> {
        let shared: Arc<Mutex<State>> = self.shared.upgrade()?;
        let mut state = lock(&shared);
        let runtime = state
            .runtimes
            .get_mut(&self.key)
            .filter(|runtime| runtime.uid == self.uid)?;
        let result = use_runtime(runtime);
        state.notify();
        Some(result)
    }
}

impl Sandbox for ContainerSandbox {
    fn output(&mut self, text: &str) {
        let container = self.container.clone();
        self.with_runtime(|runtime| {
            if let Some(container) = runtime.containers.get_mut(&container) {
                container.log.write(text, SystemTime::now());
            }
        });
    }

    fn output_lines(&mut self, line: &str, count: u64) {
        let container = self.container.clone();
        self.with_runtime(|runtime| {
            if let Some(container) = runtime.containers.get_mut(&container) {
                container.log.write_repeated(line, count, SystemTime::now());
            }
        });
    }

    fn read_file(&mut self, path: &str) -> Option<String> {
        let container = self.container.clone();
        self.with_runtime(|runtime| {
            if path == TERMINATION_LOG {
                runtime.containers.get(&container)?.termination_log.clone()
            } else {
                runtime.files.get(path).cloned()
            }
        })
        .flatten()
    }

    fn write_file(&mut self, path: &str, text: &str, append: bool) {
        let container = self.container.clone();
        self.with_runtime(|runtime| {
            let file = if path == TERMINATION_LOG {
                let Some(container) = runtime.containers.get_mut(&container) else {
                    return;
                };
                container.termination_log.get_or_insert_with(String::new)
            } else {
                runtime.files.entry(path.to_owned()).or_default()
            };
            if !append {
                file.clear();
            }
            file.push_str(text);
        });
    }

    fn signal_first_process(&mut self, signal: Signal) -> bool {
        let container = self.container.clone();
        self.with_runtime(|runtime| {
            let sender = runtime.containers.get(&container)?.signals.as_ref()?;
            Some(sender.send(signal).is_ok())
        })
        .flatten()
        .unwrap_or(false)
    }

    fn real_duration(&self, seconds: f64) -> Duration {
        scaled(self.time_scale, seconds)
    }
}

/// A digest reference for `image`, as the runtime reports it: the repository, without tag,
/// and a digest made up from the name (the same for the same image, as in a cluster).
fn image_id(image: &str) -> String {
    let repository = match image.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => image,
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, image.as_bytes());
    let digest: String = digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{repository}@sha256:{digest}")
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(super) fn container_names(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|containers| {
            containers
                .iter()
                .filter_map(|container| container["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn condition(kind: &str, status: bool, reason: Option<&str>) -> Value {
    let mut condition = json!({
        "type": kind, "status": if status { "True" } else { "False" },
        "lastProbeTime": null, "lastTransitionTime": rfc3339(SystemTime::now()),
    });
    if let Some(reason) = reason {
        condition["reason"] = json!(reason);
    }
    condition
}

/// Sets the `Ready` and `ContainersReady` conditions.
fn set_ready(pod: &mut Value, ready: bool, reason: &str) {
    let Some(conditions) = pod
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for condition in conditions.iter_mut().filter(|condition| {
        matches!(
            condition["type"].as_str(),
            Some("Ready" | "ContainersReady")
        )
    }) {
        let status = if ready { "True" } else { "False" };
        if condition["status"] != status {
            condition["status"] = json!(status);
            condition["lastTransitionTime"] = json!(rfc3339(SystemTime::now()));
        }
        if ready {
            if let Some(condition) = condition.as_object_mut() {
                condition.remove("reason");
            }
        } else {
            condition["reason"] = json!(reason);
        }
    }
}
