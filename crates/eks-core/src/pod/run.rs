//! Running a task's pod to the end, as KubernetesPodOperator does: find a pod of the same
//! task to re-attach to or create one, wait for it to start (failing fast on an image that
//! cannot be pulled, a pod that cannot be scheduled, or the startup timeout), follow its
//! logs, wait for it to finish, and clean up as asked. A signal deletes the pod (unless it
//! is to be kept) before returning, so no path leaves an orphan without saying so.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use kube::Api;
use kube::api::{AttachParams, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::logs;
use super::spec::{ALREADY_CHECKED_LABEL, BASE_CONTAINER, TaskIdentity, XCOM_FILE, XCOM_SIDECAR};
use crate::error::{Error, Failure, Leftover};
use crate::interrupt::Interrupt;

/// What to do with the pod once it has finished (KPO's `on_finish_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFinish {
    #[default]
    DeletePod,
    DeleteSucceededPod,
    KeepPod,
}

/// Which containers' logs to follow (KPO's `container_logs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ContainerLogs {
    #[default]
    Base,
    All,
    Named(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub startup_timeout: Duration,
    /// How long the pod may stay unschedulable; `None` means the startup timeout.
    pub schedule_timeout: Option<Duration>,
    pub get_logs: bool,
    pub container_logs: ContainerLogs,
    pub on_finish: OnFinish,
    pub log_events_on_failure: bool,
    pub reattach_on_restart: bool,
    /// Between two looks at the pod's status.
    pub poll_interval: Duration,
    /// Read `/airflow/xcom/return.json` through the XCom sidecar (the pod must have it).
    pub do_xcom_push: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            startup_timeout: Duration::from_secs(120),
            schedule_timeout: None,
            get_logs: true,
            container_logs: ContainerLogs::Base,
            on_finish: OnFinish::DeletePod,
            log_events_on_failure: false,
            reattach_on_restart: true,
            poll_interval: Duration::from_secs(1),
            do_xcom_push: false,
        }
    }
}

/// How one container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerOutcome {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// The termination message (`/dev/termination-log`), when the container wrote one.
    pub message: Option<String>,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodOutcome {
    pub pod_name: String,
    pub pod_namespace: String,
    /// `Succeeded` or `Failed`.
    pub phase: String,
    pub containers: Vec<ContainerOutcome>,
    /// True when an existing pod of the same task was followed instead of a new one created.
    pub reattached: bool,
    /// True when the pod was deleted at the end.
    pub deleted: bool,
    pub log_lines: u64,
    pub log_resumes: u32,
    /// The JSON the container wrote to /airflow/xcom/return.json (null for an empty file),
    /// with --do-xcom-push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_value: Option<Value>,
}

impl PodOutcome {
    pub fn base_exit_code(&self) -> Option<i32> {
        self.containers
            .iter()
            .find(|c| c.name == BASE_CONTAINER)
            .and_then(|c| c.exit_code)
    }
}

/// Where the pod's log lines go, with the container they came from. `flush` follows each
/// chunk read from the network.
pub trait LogSink: Send {
    fn line(&mut self, container: &str, text: &str);
    fn flush(&mut self);
}

/// One container's lines into a [`LogSink`] shared by every followed container.
struct SharedSink<'a, 's> {
    container: &'a str,
    sink: &'a std::sync::Mutex<&'s mut dyn LogSink>,
}

impl logs::LineSink for SharedSink<'_, '_> {
    fn line(&mut self, text: &str) {
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sink.line(self.container, text);
    }
    fn flush(&mut self) {
        self.sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .flush();
    }
}

fn api_error(operation: &'static str, e: kube::Error) -> Error {
    let (code, transient) = match &e {
        kube::Error::Api(status) => (
            Some(status.reason.clone()),
            status.code >= 500 || status.code == 429,
        ),
        _ => (None, true),
    };
    // The API server's own message; kube's Display appends the whole Status struct.
    let message = match &e {
        kube::Error::Api(status) => format!("{} (HTTP {})", status.message, status.code),
        _ => crate::error::chain(&e),
    };
    Error::Api {
        operation,
        code,
        message,
        transient,
        source: Box::new(e),
    }
}

/// Find this task's running pod to follow again, if re-attaching is on.
async fn find_existing(pods: &Api<Pod>, task: &TaskIdentity) -> Result<Option<Pod>, Error> {
    let Some(selector) = task.reattach_selector() else {
        return Ok(None);
    };
    let found = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error("ListPods", e))?;
    let live: Vec<Pod> = found
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    match live.len() {
        0 => Ok(None),
        1 => Ok(live.into_iter().next()),
        n => Err(Error::Conflict(format!(
            "{n} pods match this task ({selector}); delete the extra ones or pass --reattach-on-restart=false"
        ))),
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn statuses(pod: &Pod) -> Vec<ContainerStatus> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default()
}

/// Waiting reasons that will not go away by waiting.
const FATAL_WAITING: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Why a pending pod will not start, when that is already certain.
fn start_failure(pod: &Pod, pending_for: Duration, options: &RunOptions) -> Option<String> {
    for status in statuses(pod) {
        if let Some(waiting) = status.state.as_ref().and_then(|s| s.waiting.as_ref())
            && let Some(reason) = waiting.reason.as_deref()
            && FATAL_WAITING.contains(&reason)
        {
            return Some(format!(
                "container {} cannot start: {reason}{}",
                status.name,
                waiting
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
    }
    let unschedulable = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|conditions| {
            conditions.iter().find(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
        });
    if let Some(condition) = unschedulable
        && pending_for >= options.schedule_timeout.unwrap_or(options.startup_timeout)
    {
        return Some(format!(
            "the pod cannot be scheduled: {}",
            condition.message.as_deref().unwrap_or("Unschedulable")
        ));
    }
    None
}

/// The container outcomes of a finished pod.
fn outcomes(pod: &Pod) -> Vec<ContainerOutcome> {
    statuses(pod)
        .into_iter()
        .filter(|s| s.name != XCOM_SIDECAR)
        .map(|s| {
            let terminated = s.state.as_ref().and_then(|st| st.terminated.as_ref());
            ContainerOutcome {
                name: s.name.clone(),
                exit_code: terminated.map(|t| t.exit_code),
                reason: terminated.and_then(|t| t.reason.clone()),
                message: terminated
                    .and_then(|t| t.message.clone())
                    .filter(|m| !m.trim().is_empty()),
            }
        })
        .collect()
}

fn container_terminated(pod: &Pod, container: &str) -> bool {
    statuses(pod)
        .iter()
        .find(|s| s.name == container)
        .is_some_and(|s| s.state.as_ref().is_some_and(|st| st.terminated.is_some()))
}

/// The pod's events, oldest first, as `reason: message` lines.
pub async fn pod_events(events: &Api<Event>, pod: &str) -> Result<Vec<String>, Error> {
    let list = events
        .list(&ListParams::default().fields(&format!("involvedObject.name={pod}")))
        .await
        .map_err(|e| api_error("ListEvents", e))?;
    Ok(list
        .items
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.as_deref().unwrap_or("Unknown"),
                e.message.as_deref().unwrap_or_default()
            )
        })
        .collect())
}

/// Run `pod` (already built, named and labelled) to the end.
pub async fn run_pod(
    pods: &Api<Pod>,
    events: &Api<Event>,
    pod: Value,
    task: &TaskIdentity,
    options: &RunOptions,
    interrupt: &Interrupt,
    sink: &mut dyn LogSink,
) -> Result<PodOutcome, Failure> {
    let existing = if options.reattach_on_restart {
        find_existing(pods, task).await?
    } else {
        None
    };
    let reattached = existing.is_some();
    let created = match existing {
        Some(pod) => {
            tracing::info!(
                "re-attaching to the running pod {} of this task",
                pod.metadata.name.as_deref().unwrap_or("?")
            );
            pod
        }
        None => {
            interrupt.check("creating the pod")?;
            let spec: Pod = serde_json::from_value(pod)
                .map_err(|e| Error::Internal(format!("the pod spec is not a Pod: {e}")))?;
            pods.create(&PostParams::default(), &spec)
                .await
                .map_err(|e| api_error("CreatePod", e))?
        }
    };
    let name = created.metadata.name.clone().unwrap_or_default();
    let namespace = created.metadata.namespace.clone().unwrap_or_default();
    tracing::info!("pod {namespace}/{name} created");
    let leftover = |status: &str, note: &str| Leftover {
        resource: format!("pod/{namespace}/{name}"),
        status: status.to_owned(),
        note: note.to_owned(),
    };

    let result = follow_to_the_end(pods, &name, options, interrupt, sink).await;
    let (outcome_pod, followed) = match result {
        Ok(done) => done,
        Err(error) => {
            // Startup failed, or a signal, or the API went away: clean up per the action.
            if options.log_events_on_failure
                && let Ok(lines) = pod_events(events, &name).await
            {
                for line in lines {
                    tracing::warn!("event: {line}");
                }
            }
            let keep = options.on_finish == OnFinish::KeepPod;
            return Err(match (keep, delete(pods, &name).await) {
                (true, _) => Failure::from(error)
                    .leaving(leftover("Running", "kept (--on-finish-action keep_pod)")),
                (false, Ok(())) => Failure::from(error),
                (false, Err(e)) => Failure::from(error)
                    .leaving(leftover("Unknown", &format!("deleting it failed: {e}"))),
            });
        }
    };

    // The base container has finished; the sidecar still holds the result.
    let mut return_value = None;
    let mut outcome_pod = outcome_pod;
    if options.do_xcom_push {
        let base_ok = outcomes(&outcome_pod)
            .iter()
            .any(|c| c.name == BASE_CONTAINER && c.exit_code == Some(0));
        let read = if base_ok {
            Some(read_xcom(pods, &name).await)
        } else {
            None
        };
        // The sidecar is stopped either way, so the pod can finish.
        let stopped = stop_sidecar(pods, &name, options, interrupt).await;
        match (read, stopped) {
            (Some(Err(e)), _) | (_, Err(e)) => {
                let keep = options.on_finish == OnFinish::KeepPod;
                let cleanup = if keep {
                    Ok(())
                } else {
                    delete(pods, &name).await
                };
                let failure = Failure::from(e);
                return Err(match cleanup {
                    Ok(()) if keep => {
                        failure.leaving(leftover("Running", "kept (--on-finish-action keep_pod)"))
                    }
                    Ok(()) => failure,
                    Err(d) => {
                        failure.leaving(leftover("Unknown", &format!("deleting it failed: {d}")))
                    }
                });
            }
            (Some(Ok(value)), Ok(pod)) => {
                return_value = Some(value);
                outcome_pod = pod;
            }
            (None, Ok(pod)) => outcome_pod = pod,
        }
    }

    let phase = final_phase(&outcome_pod);
    let succeeded = phase == "Succeeded";
    if !succeeded && options.log_events_on_failure {
        for line in pod_events(events, &name).await.unwrap_or_default() {
            tracing::warn!("event: {line}");
        }
    }
    let delete_it = match options.on_finish {
        OnFinish::DeletePod => true,
        OnFinish::DeleteSucceededPod => succeeded,
        OnFinish::KeepPod => false,
    };
    let deleted = if delete_it {
        delete(pods, &name).await.map(|_| true).map_err(|e| {
            Failure::from(e).leaving(leftover(&phase, "finished, but deleting it failed"))
        })?
    } else {
        // A kept pod must never be re-attached to by a retry.
        mark_checked(pods, &name).await?;
        false
    };
    Ok(PodOutcome {
        pod_name: name,
        pod_namespace: namespace,
        phase,
        containers: outcomes(&outcome_pod),
        reattached,
        deleted,
        log_lines: followed.lines,
        log_resumes: followed.resumed,
        return_value,
    })
}

/// `Succeeded`/`Failed` from the pod, or, while a container still runs, from the base
/// container's exit code.
fn final_phase(pod: &Pod) -> String {
    match phase(pod) {
        p @ ("Succeeded" | "Failed") => p.to_owned(),
        _ => match outcomes(pod)
            .iter()
            .find(|c| c.name == BASE_CONTAINER)
            .and_then(|c| c.exit_code)
        {
            Some(0) => "Succeeded".to_owned(),
            Some(_) => "Failed".to_owned(),
            None => phase(pod).to_owned(),
        },
    }
}

/// Run `command` in `container` and collect its stdout; a non-zero exit is an error.
async fn exec_output(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    command: &[&str],
) -> Result<Vec<u8>, Error> {
    let params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut process = pods
        .exec(pod, command.to_vec(), &params)
        .await
        .map_err(|e| api_error("ExecPod", e))?;
    let mut stdout = Vec::new();
    if let Some(mut out) = process.stdout() {
        out.read_to_end(&mut stdout).await.map_err(|e| {
            Error::Internal(format!(
                "reading the output of {command:?} in {pod}/{container}: {e}"
            ))
        })?;
    }
    let mut stderr = String::new();
    if let Some(mut err) = process.stderr() {
        let _ = err.read_to_string(&mut stderr).await;
    }
    let status = match process.take_status() {
        Some(status) => status.await,
        None => None,
    };
    let _ = process.join().await;
    match status {
        Some(s) if s.status.as_deref() == Some("Success") => Ok(stdout),
        // No status at all: the stream ended; trust what was read.
        None => Ok(stdout),
        Some(s) => Err(Error::Internal(format!(
            "{command:?} in {pod}/{container} failed: {}{}",
            s.message.unwrap_or_default(),
            if stderr.trim().is_empty() {
                String::new()
            } else {
                format!(" ({})", stderr.trim())
            }
        ))),
    }
}

/// KPO's convention: the result file read through the sidecar. Empty is `null`; anything
/// that is not JSON is an error that names the file.
async fn read_xcom(pods: &Api<Pod>, pod: &str) -> Result<Value, Error> {
    let bytes = exec_output(pods, pod, XCOM_SIDECAR, &["cat", XCOM_FILE])
        .await
        .map_err(|e| match e {
            Error::Internal(m) if m.contains("No such file") => Error::ResourceFailed {
                resource: format!("pod/{pod}"),
                state: "Succeeded".into(),
                reason: Some(format!(
                    "--do-xcom-push was given but the container wrote no {XCOM_FILE}"
                )),
            },
            other => other,
        })?;
    let text = String::from_utf8_lossy(&bytes);
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text.trim()).map_err(|e| Error::ResourceFailed {
        resource: format!("pod/{pod}"),
        state: "Succeeded".into(),
        reason: Some(format!(
            "{XCOM_FILE} is not JSON ({e}); write the task's result as JSON there"
        )),
    })
}

/// Stop the sidecar as KPO does (SIGINT to its shell, which traps it and exits 0), then wait
/// for the pod to finish.
async fn stop_sidecar(
    pods: &Api<Pod>,
    pod: &str,
    options: &RunOptions,
    interrupt: &Interrupt,
) -> Result<Pod, Error> {
    exec_output(pods, pod, XCOM_SIDECAR, &["kill", "-s", "SIGINT", "1"]).await?;
    let started = Instant::now();
    loop {
        let current = get_pod(pods, pod).await?;
        if matches!(phase(&current), "Succeeded" | "Failed")
            || container_terminated(&current, XCOM_SIDECAR)
        {
            return Ok(current);
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(Error::Internal(format!(
                "the XCom sidecar of {pod} did not stop within a minute"
            )));
        }
        interrupt
            .sleep(
                options.poll_interval,
                "waiting for the XCom sidecar to stop",
            )
            .await?;
    }
}

/// Read the pod being run. Its disappearance is the pod's failure, not an API fault: another
/// attempt of the task or a person deleted it before its outcome could be read.
async fn get_pod(pods: &Api<Pod>, name: &str) -> Result<Pod, Error> {
    match pods.get(name).await {
        Ok(pod) => Ok(pod),
        Err(kube::Error::Api(status)) if status.code == 404 => Err(Error::ResourceFailed {
            resource: format!("pod/{name}"),
            state: "Deleted".into(),
            reason: Some(
                "deleted by someone else (another attempt of this task, or a person) before its outcome could be read"
                    .into(),
            ),
        }),
        Err(e) => Err(api_error("GetPod", e)),
    }
}

async fn delete(pods: &Api<Pod>, name: &str) -> Result<(), Error> {
    match pods.delete(name, &DeleteParams::default()).await {
        Ok(_) => {
            tracing::info!("pod {name} deleted");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(api_error("DeletePod", e)),
    }
}

async fn mark_checked(pods: &Api<Pod>, name: &str) -> Result<(), Error> {
    let patch = json!({"metadata": {"labels": {ALREADY_CHECKED_LABEL: "True"}}});
    pods.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| api_error("PatchPod", e))
}

/// Wait for the start, follow the logs, wait for the end.
async fn follow_to_the_end(
    pods: &Api<Pod>,
    name: &str,
    options: &RunOptions,
    interrupt: &Interrupt,
    sink: &mut dyn LogSink,
) -> Result<(Pod, logs::Followed), Error> {
    let started = Instant::now();
    loop {
        let pod = get_pod(pods, name).await?;
        match phase(&pod) {
            "Running" | "Succeeded" | "Failed" => break,
            _ => {}
        }
        if let Some(why) = start_failure(&pod, started.elapsed(), options) {
            return Err(Error::ResourceFailed {
                resource: format!("pod/{name}"),
                state: "Pending".into(),
                reason: Some(why),
            });
        }
        if started.elapsed() >= options.startup_timeout {
            return Err(Error::Timeout {
                resource: format!("pod/{name}"),
                target: "Running".into(),
                last_state: "Pending".into(),
                attempts: 0,
                elapsed: started.elapsed(),
            });
        }
        interrupt
            .sleep(options.poll_interval, "waiting for the pod to start")
            .await?;
    }

    let mut followed = logs::Followed::default();
    if options.get_logs {
        let pod = get_pod(pods, name).await?;
        let names: Vec<String> = match &options.container_logs {
            ContainerLogs::Base => vec![BASE_CONTAINER.to_owned()],
            ContainerLogs::Named(names) => names.clone(),
            ContainerLogs::All => pod
                .spec
                .as_ref()
                .map(|s| {
                    s.containers
                        .iter()
                        .map(|c| c.name.clone())
                        .filter(|n| n != XCOM_SIDECAR)
                        .collect()
                })
                .unwrap_or_default(),
        };
        // Every container at once, so none waits for another to end; each line carries its
        // container's name and each container's lines stay in order.
        let shared = std::sync::Mutex::new(sink);
        let follows = names.iter().map(|container| {
            let shared = &shared;
            async move {
                let mut emit = SharedSink {
                    container,
                    sink: shared,
                };
                logs::follow(
                    pods,
                    name,
                    container,
                    interrupt,
                    || async {
                        let pod = get_pod(pods, name).await?;
                        Ok(container_terminated(&pod, container)
                            || matches!(phase(&pod), "Succeeded" | "Failed"))
                    },
                    &mut emit,
                )
                .await
            }
        });
        for stats in futures::future::join_all(follows).await {
            let stats = stats?;
            followed.lines += stats.lines;
            followed.bytes += stats.bytes;
            followed.resumed += stats.resumed;
            followed.duplicates_dropped += stats.duplicates_dropped;
        }
    }
    loop {
        let pod = get_pod(pods, name).await?;
        if matches!(phase(&pod), "Succeeded" | "Failed") {
            return Ok((pod, followed));
        }
        // The sidecar idles until told to stop; the base container decides the outcome.
        if container_terminated(&pod, BASE_CONTAINER)
            && statuses(&pod).iter().all(|s| {
                s.name == XCOM_SIDECAR || s.state.as_ref().is_some_and(|st| st.terminated.is_some())
            })
        {
            return Ok((pod, followed));
        }
        interrupt
            .sleep(options.poll_interval, "waiting for the pod to finish")
            .await?;
    }
}
