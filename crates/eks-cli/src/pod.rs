//! `eks-pod`: Airflow's EksPodOperator (KubernetesPodOperator on an EKS cluster): describe
//! the cluster, authenticate in-process, run the pod, stream its logs to stderr, report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use eks_core::eks::kwargs::{self, read_json_arg};
use eks_core::pod::run::{ContainerLogs, OnFinish, PodOutcome, RunOptions, run_pod};
use eks_core::pod::spec::{PodParams, TaskIdentity, build_pod, pod_name, random_suffix};
use eks_core::{Error, Failure, InputError, Interrupt, validate};
use serde::Serialize;
use serde_json::Value;

use eks_core::pod::run::LogSink;

use crate::{AwsArgs, Cli, LogArgs, parse_string_map};

/// Run a pod on an EKS cluster to the end, as Airflow's EksPodOperator: logs to stderr, one
/// JSON line with the outcome on stdout. No kubeconfig or aws CLI needed.
#[derive(Debug, Parser)]
#[command(name = "eks-pod", version)]
pub struct Args {
    /// Cluster to run the pod on
    #[arg(long, env = "EKS_CLUSTER_NAME")]
    pub cluster_name: String,
    #[arg(long, default_value = "default", env = "EKS_POD_NAMESPACE")]
    pub namespace: String,
    /// Image of the base container
    #[arg(long, env = "EKS_POD_IMAGE")]
    pub image: Option<String>,
    /// Pod name [default: the task id]; made a valid DNS-1123 name
    #[arg(long, env = "EKS_POD_NAME")]
    pub name: Option<String>,
    /// Append a random suffix to the name
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub random_name_suffix: bool,
    /// Entrypoint: a JSON list, or a single command
    #[arg(long)]
    pub cmds: Option<String>,
    /// Arguments: a JSON list, or a single argument
    #[arg(long)]
    pub arguments: Option<String>,
    /// Environment: a JSON object {"NAME":"value"}, a JSON list of EnvVar, or NAME=value,NAME=value
    #[arg(long)]
    pub env_vars: Option<String>,
    /// Pod labels: a JSON object or key=value,key=value
    #[arg(long)]
    pub labels: Option<String>,
    /// Pod annotations: a JSON object or key=value,key=value
    #[arg(long)]
    pub annotations: Option<String>,
    /// ResourceRequirements JSON, e.g. {"requests":{"cpu":"500m"}}
    #[arg(long)]
    pub container_resources: Option<String>,
    /// Node selector: a JSON object or key=value,key=value
    #[arg(long)]
    pub node_selector: Option<String>,
    /// Tolerations as a JSON list
    #[arg(long)]
    pub tolerations: Option<String>,
    /// Affinity JSON
    #[arg(long)]
    pub affinity: Option<String>,
    #[arg(long)]
    pub service_account_name: Option<String>,
    /// Image pull secret names: a JSON list or comma-separated
    #[arg(long)]
    pub image_pull_secrets: Option<String>,
    #[arg(long, value_parser = ["Always", "IfNotPresent", "Never"])]
    pub image_pull_policy: Option<String>,
    /// Seconds the pod gets to stop when deleted
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    pub termination_grace_period: Option<i64>,
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    pub active_deadline_seconds: Option<i64>,
    /// A Pod as YAML or JSON: the base the flags are applied on
    #[arg(long, conflicts_with = "full_pod_spec")]
    pub pod_template_file: Option<PathBuf>,
    /// A Pod as JSON (or @file): the base the flags are applied on
    #[arg(long)]
    pub full_pod_spec: Option<String>,

    #[arg(long, default_value = "120", value_parser = clap::value_parser!(u64).range(1..))]
    pub startup_timeout_seconds: u64,
    /// How long the pod may stay unschedulable [default: the startup timeout]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub schedule_timeout_seconds: Option<u64>,
    /// Stream the container logs to stderr
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub get_logs: bool,
    /// Whose logs: base, all, or a comma-separated list of container names
    #[arg(long, default_value = "base")]
    pub container_logs: String,
    #[arg(
        long,
        value_enum,
        default_value = "delete_pod",
        env = "EKS_POD_ON_FINISH_ACTION"
    )]
    pub on_finish_action: OnFinishArg,
    /// Print the pod's events on stderr when it fails
    #[arg(long)]
    pub log_events_on_failure: bool,
    /// Follow this task's running pod instead of starting another after a restart
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub reattach_on_restart: bool,
    /// Base container exit codes that mean "skip" (exit 99): a JSON list or comma-separated
    #[arg(long)]
    pub skip_on_exit_code: Option<String>,
    /// Return the JSON the container writes to /airflow/xcom/return.json as `return_value`
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new(), env = "EKS_POD_DO_XCOM_PUSH")]
    pub do_xcom_push: bool,

    /// Airflow's dag_id, for labels and re-attachment [default: AIRFLOW_CTX_DAG_ID]
    #[arg(long)]
    pub dag_id: Option<String>,
    /// [default: AIRFLOW_CTX_TASK_ID]
    #[arg(long)]
    pub task_id: Option<String>,
    /// [default: AIRFLOW_CTX_DAG_RUN_ID]
    #[arg(long)]
    pub run_id: Option<String>,
    /// [default: AIRFLOW_CTX_MAP_INDEX]
    #[arg(long)]
    pub map_index: Option<i64>,
    /// [default: AIRFLOW_CTX_TRY_NUMBER]
    #[arg(long)]
    pub try_number: Option<u32>,
    /// Seconds between two looks at the pod's status
    #[arg(long, default_value = "1", value_parser = crate::parse_delay, hide = true, env = "EKS_POD_POLL_INTERVAL")]
    pub poll_interval: Duration,

    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum OnFinishArg {
    DeletePod,
    DeleteSucceededPod,
    KeepPod,
}

impl Cli for Args {
    fn log(&self) -> &LogArgs {
        &self.log
    }
}

/// A JSON value of a Kubernetes type, with every field it had kept: a field the type does not
/// know is an error naming it (k8s-openapi would drop it silently).
fn strict<T>(flag: &str, value: Value) -> Result<Value, InputError>
where
    T: serde::de::DeserializeOwned + Serialize,
{
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| {
        InputError::invalid(
            flag,
            format!(
                "not a valid {}: {e}",
                std::any::type_name::<T>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("value")
            ),
        )
    })?;
    let back =
        serde_json::to_value(&typed).map_err(|e| InputError::invalid(flag, e.to_string()))?;
    if let Some(path) = unknown_field(&value, &back, String::new()) {
        return Err(InputError::invalid(flag, format!("unknown field `{path}`")));
    }
    Ok(back)
}

/// The first key of `given` that did not survive the round trip.
fn unknown_field(given: &Value, kept: &Value, path: String) -> Option<String> {
    match (given, kept) {
        (Value::Object(g), Value::Object(k)) => g.iter().find_map(|(key, v)| {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match k.get(key) {
                None if !v.is_null() => Some(here),
                None => None,
                Some(kv) => unknown_field(v, kv, here),
            }
        }),
        (Value::Array(g), Value::Array(k)) => g
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(i, (gv, kv))| unknown_field(gv, kv, format!("{path}[{i}]"))),
        _ => None,
    }
}

fn json_arg(flag: &str, value: &str) -> Result<Value, InputError> {
    Ok(kwargs::parse_json::<Value>(
        flag,
        &read_json_arg(flag, value)?,
    )?)
}

/// A list flag: a JSON list of strings, or one plain value.
fn string_or_list(flag: &str, value: &str) -> Result<Vec<String>, InputError> {
    if value.trim_start().starts_with('[') {
        Ok(kwargs::parse_json::<Vec<String>>(flag, value)?)
    } else {
        Ok(vec![value.to_owned()])
    }
}

impl Args {
    /// The pod and how to run it, checked before any API call.
    pub fn plan(&self) -> Result<(Value, TaskIdentity, RunOptions), InputError> {
        validate::cluster_name("--cluster-name", &self.cluster_name)?;
        if pod_name("--namespace", &self.namespace, None)? != self.namespace {
            return Err(InputError::invalid(
                "--namespace",
                format!("{:?} is not a DNS-1123 label", self.namespace),
            ));
        }
        let task = TaskIdentity {
            dag_id: self.dag_id.clone(),
            task_id: self.task_id.clone(),
            run_id: self.run_id.clone(),
            map_index: self.map_index,
            try_number: self.try_number,
        }
        .or_from_env(|k| std::env::var(k).ok());
        let base_name = self
            .name
            .clone()
            .or_else(|| task.task_id.clone())
            .ok_or_else(|| {
                InputError::invalid(
                    "--name",
                    "required when no task id is known (--task-id or AIRFLOW_CTX_TASK_ID)",
                )
            })?;
        let suffix = self.random_name_suffix.then(random_suffix);
        let name = pod_name("--name", &base_name, suffix.as_deref())?;

        let base = match (&self.pod_template_file, &self.full_pod_spec) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    InputError::invalid(
                        "--pod-template-file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let value: Value = serde_saphyr_or_json(&text).map_err(|e| {
                    InputError::invalid("--pod-template-file", format!("{}: {e}", path.display()))
                })?;
                Some(strict::<k8s_openapi::api::core::v1::Pod>(
                    "--pod-template-file",
                    value,
                )?)
            }
            (None, Some(spec)) => Some(strict::<k8s_openapi::api::core::v1::Pod>(
                "--full-pod-spec",
                json_arg("--full-pod-spec", spec)?,
            )?),
            (None, None) => None,
        };

        let env = match &self.env_vars {
            None => vec![],
            Some(v) if v.trim_start().starts_with('[') => {
                let list = strict::<Vec<k8s_openapi::api::core::v1::EnvVar>>(
                    "--env-vars",
                    json_arg("--env-vars", v)?,
                )?;
                list.as_array().cloned().unwrap_or_default()
            }
            Some(v) => parse_string_map("--env-vars", v)?
                .into_iter()
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
                .collect(),
        };
        let map =
            |flag: &str, v: &Option<String>| -> Result<BTreeMap<String, String>, InputError> {
                Ok(v.as_deref()
                    .map(|v| parse_string_map(flag, v))
                    .transpose()?
                    .unwrap_or_default()
                    .into_iter()
                    .collect())
            };
        let params = PodParams {
            namespace: self.namespace.clone(),
            name,
            image: self.image.clone(),
            cmds: self
                .cmds
                .as_deref()
                .map(|v| string_or_list("--cmds", v))
                .transpose()?
                .unwrap_or_default(),
            arguments: self
                .arguments
                .as_deref()
                .map(|v| string_or_list("--arguments", v))
                .transpose()?
                .unwrap_or_default(),
            env,
            labels: map("--labels", &self.labels)?,
            annotations: map("--annotations", &self.annotations)?,
            container_resources: self
                .container_resources
                .as_deref()
                .map(|v| {
                    strict::<k8s_openapi::api::core::v1::ResourceRequirements>(
                        "--container-resources",
                        json_arg("--container-resources", v)?,
                    )
                })
                .transpose()?,
            node_selector: map("--node-selector", &self.node_selector)?,
            tolerations: match &self.tolerations {
                Some(v) => strict::<Vec<k8s_openapi::api::core::v1::Toleration>>(
                    "--tolerations",
                    json_arg("--tolerations", v)?,
                )?
                .as_array()
                .cloned()
                .unwrap_or_default(),
                None => vec![],
            },
            affinity: self
                .affinity
                .as_deref()
                .map(|v| {
                    strict::<k8s_openapi::api::core::v1::Affinity>(
                        "--affinity",
                        json_arg("--affinity", v)?,
                    )
                })
                .transpose()?,
            service_account_name: self.service_account_name.clone(),
            image_pull_secrets: self
                .image_pull_secrets
                .as_deref()
                .map(|v| kwargs::parse_string_list("--image-pull-secrets", v))
                .transpose()?
                .unwrap_or_default(),
            image_pull_policy: self.image_pull_policy.clone(),
            termination_grace_period: self.termination_grace_period,
            active_deadline_seconds: self.active_deadline_seconds,
            do_xcom_push: self.do_xcom_push,
            task: task.clone(),
        };
        let pod = build_pod(base, &params)?;
        let container_logs = match self.container_logs.trim() {
            "base" | "" => ContainerLogs::Base,
            "all" => ContainerLogs::All,
            list => ContainerLogs::Named(kwargs::parse_string_list("--container-logs", list)?),
        };
        if let ContainerLogs::Named(names) = &container_logs {
            let known: Vec<&str> = pod["spec"]["containers"]
                .as_array()
                .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
                .unwrap_or_default();
            if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
                return Err(InputError::invalid(
                    "--container-logs",
                    format!(
                        "{unknown:?} is not a container of the pod; containers: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        let options = RunOptions {
            startup_timeout: Duration::from_secs(self.startup_timeout_seconds),
            schedule_timeout: self.schedule_timeout_seconds.map(Duration::from_secs),
            get_logs: self.get_logs,
            container_logs,
            on_finish: match self.on_finish_action {
                OnFinishArg::DeletePod => OnFinish::DeletePod,
                OnFinishArg::DeleteSucceededPod => OnFinish::DeleteSucceededPod,
                OnFinishArg::KeepPod => OnFinish::KeepPod,
            },
            log_events_on_failure: self.log_events_on_failure,
            reattach_on_restart: self.reattach_on_restart,
            poll_interval: self.poll_interval,
            do_xcom_push: self.do_xcom_push,
        };
        Ok((pod, task, options))
    }

    fn skip_codes(&self) -> Result<Vec<i32>, InputError> {
        let Some(v) = &self.skip_on_exit_code else {
            return Ok(vec![]);
        };
        kwargs::parse_string_list("--skip-on-exit-code", v)?
            .iter()
            .map(|c| {
                c.parse::<i32>().map_err(|_| {
                    InputError::invalid("--skip-on-exit-code", format!("{c:?} is not an exit code"))
                })
            })
            .collect()
    }
}

/// A template is YAML or JSON; JSON is YAML, so one parser reads both.
fn serde_saphyr_or_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).or_else(|_| eks_core::kubeconfig::parse_yaml(text))
}

pub async fn run(args: Args, interrupt: Interrupt) -> Result<PodOutcome, Failure> {
    let (pod, task, options) = args.plan()?;
    let skip_codes = args.skip_codes()?;
    let config = args.aws.sdk_config().await?;
    let eks = args.aws.options().eks_client(&config);
    let client =
        eks_core::kube::client_for_cluster(&eks, &config, &args.cluster_name, &args.namespace)
            .await?;
    let pods = kube::Api::namespaced(client.clone(), &args.namespace);
    let events = kube::Api::namespaced(client, &args.namespace);
    let mut stderr_sink = StderrLines(std::io::BufWriter::with_capacity(
        64 * 1024,
        crate::stderr(),
    ));
    let outcome = run_pod(
        &pods,
        &events,
        pod,
        &task,
        &options,
        &interrupt,
        &mut stderr_sink,
    )
    .await;
    stderr_sink.flush();
    let outcome = outcome?;
    let base = outcome.base_exit_code();
    if let Some(code) = base.filter(|c| skip_codes.contains(c)) {
        return Err(Failure {
            error: Error::Skipped { exit_code: code },
            left_behind: vec![],
            result: serde_json::to_value(&outcome).ok().map(Box::new),
        });
    }
    if outcome.phase != "Succeeded" {
        let base_detail = outcome
            .containers
            .iter()
            .find(|c| c.name == eks_core::pod::spec::BASE_CONTAINER);
        let reason = base_detail.map(|c| {
            format!(
                "container base exited with {}{}",
                c.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "no exit code".into()),
                c.message
                    .as_deref()
                    .map(|m| format!(": {}", m.trim()))
                    .unwrap_or_default()
            )
        });
        return Err(Failure {
            error: Error::ResourceFailed {
                resource: format!("pod/{}/{}", outcome.pod_namespace, outcome.pod_name),
                state: outcome.phase.clone(),
                reason,
            },
            left_behind: vec![],
            result: serde_json::to_value(&outcome).ok().map(Box::new),
        });
    }
    Ok(outcome)
}

/// Container lines on stderr as `[container] line`, written a network chunk at a time.
struct StderrLines(std::io::BufWriter<std::io::Stderr>);

impl eks_core::pod::run::LogSink for StderrLines {
    fn line(&mut self, container: &str, text: &str) {
        use std::io::Write;
        let _ = writeln!(self.0, "[{container}] {text}");
    }
    fn flush(&mut self) {
        use std::io::Write;
        let _ = self.0.flush();
    }
}

pub fn main() -> std::process::ExitCode {
    crate::run::<Args, _, _, _>("pod", &[], run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_names_the_unknown_field() {
        let ok = serde_json::json!([{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]);
        strict::<Vec<k8s_openapi::api::core::v1::Toleration>>("--tolerations", ok).expect("valid");
        let bad = serde_json::json!({"requests": {"cpu": "1"}, "limts": {"cpu": "2"}});
        let err = strict::<k8s_openapi::api::core::v1::ResourceRequirements>(
            "--container-resources",
            bad,
        )
        .expect_err("typo")
        .to_string();
        assert_eq!(err, "--container-resources: unknown field `limts`");
        let nested = serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpresions": []}]}}});
        let err = strict::<k8s_openapi::api::core::v1::Affinity>("--affinity", nested)
            .expect_err("typo")
            .to_string();
        assert!(
            err.contains("nodeSelectorTerms[0].matchExpresions"),
            "{err}"
        );
    }

    #[test]
    fn plan_builds_a_labelled_never_restarting_pod() {
        let args = Args::try_parse_from([
            "eks-pod",
            "--cluster-name",
            "c",
            "--image",
            "busybox",
            "--task-id",
            "Load_Data",
            "--dag-id",
            "etl",
            "--env-vars",
            "B=2,A=1",
            "--random-name-suffix=false",
        ])
        .expect("parsed");
        let (pod, task, options) = args.plan().expect("plan");
        assert_eq!(pod["metadata"]["name"], "load-data");
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["containers"][0]["env"][0]["name"], "A");
        assert_eq!(task.task_id.as_deref(), Some("Load_Data"));
        assert!(options.reattach_on_restart);
    }
}
