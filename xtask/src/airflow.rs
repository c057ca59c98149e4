//! `cargo xtask e2e --airflow`: the example DAGs of `fixtures/dags` in a real Apache Airflow
//! 2.10 (a venv under target/, see `venv`), their DockerOperator tasks running the image
//! `eks-operators:dev` on the host network against the in-process fakes. Each DAG run is
//! `airflow dags test`; what it did is read back from Airflow's metadata DB (task states and
//! XComs) and from the fakes (which cluster exists, which calls and pods they saw). Airflow's
//! own EKS operators, through boto3, are run against the same fake EKS as an independent client.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use eks_testkit::kube::{FakeKubeConfig, TokenVerifier};
use eks_testkit::{FakeEks, FakeEksConfig, FakeKube};
use serde_json::{Value, json};

use crate::e2e::ensure;
use crate::proc::{self, ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN};
use crate::venv::{self, Airflow};

/// Every DAG in `fixtures/dags`; each must import with no error.
const EXAMPLE_DAGS: [&str; 5] = [
    "eks_lifecycle",
    "eks_fargate",
    "eks_existing_cluster",
    "eks_kubectl",
    "eks_credentials",
];

/// The lifecycle DAG's runs: logical date, conf, and the cluster it names after the date.
const SUCCESS: Run = Run {
    date: "2026-01-01",
    conf: r#"{"job_exit_code": 0}"#,
};
const FAILURE: Run = Run {
    date: "2026-01-02",
    conf: r#"{"job_exit_code": 3}"#,
};
const SKIP: Run = Run {
    date: "2026-01-03",
    conf: r#"{"job_exit_code": 42}"#,
};
/// The cluster Airflow's own operators create and delete.
const BOTO3_CLUSTER: &str = "airflow-eks-operator";

/// A whole `airflow dags test` may take this long before it is killed.
const DAG_RUN_TIMEOUT: Duration = Duration::from_secs(240);

#[derive(Clone, Copy)]
struct Run {
    date: &'static str,
    conf: &'static str,
}

impl Run {
    fn cluster(&self) -> String {
        format!("etl-{}", self.date.replace('-', ""))
    }
}

struct Tier {
    root: PathBuf,
    airflow: Airflow,
    image: String,
    fake: FakeEks,
    kube: FakeKube,
    /// Keeps the fakes served.
    _rt: tokio::runtime::Runtime,
}

type Check = (&'static str, fn(&Tier) -> Result<(), String>);

pub fn run_tier(root: &Path) -> Result<(), String> {
    let started = Instant::now();
    crate::image::docker_ok()
        .map_err(|e| format!("e2e --airflow needs Docker (DockerOperator runs the image): {e}"))?;
    let image = crate::image::build(root)?;
    let airflow = venv::airflow(root)?;
    let tier = Tier::start(root, airflow, image.tag)?;
    println!(
        "\nAirflow in {}, AIRFLOW_HOME {}; fake EKS at {}, its clusters' API server {}",
        tier.airflow.venv.display(),
        tier.airflow.home.display(),
        tier.fake.uri(),
        tier.kube.endpoint()
    );
    let checks: [Check; 5] = [
        (
            "every example DAG in fixtures/dags imports under Airflow 2.10",
            dags_import,
        ),
        (
            "eks_lifecycle: create with nodegroup, wait, pod with XCom, downstream json.loads and fromjson, teardown",
            lifecycle_success,
        ),
        (
            "eks_lifecycle: the pod fails, the teardown still deletes the cluster",
            lifecycle_failure,
        ),
        (
            "eks_lifecycle: the pod exits 42, eks-pod exits 99, the task is skipped, the teardown runs",
            lifecycle_skip,
        ),
        (
            "Airflow's EksCreateClusterOperator and EksHook (boto3 and its waiters) against the fake EKS",
            airflow_eks_operators,
        ),
    ];
    let result = crate::run_scenarios(&tier, checks.to_vec(), "in Airflow");
    println!(
        "e2e --airflow: done in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    result
}

impl Tier {
    fn start(root: &Path, airflow: Airflow, image: String) -> Result<Tier, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        // A token names its cluster: the API server accepts each cluster the DAG runs create.
        let authenticators: Vec<Authenticator> = [SUCCESS, FAILURE, SKIP]
            .iter()
            .map(|run| {
                Authenticator::new(
                    AuthenticatorConfig::new(run.cluster(), "us-east-1")
                        .with_credential(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
                )
            })
            .collect();
        let verifier = move |token: &str| -> Result<String, String> {
            let mut reasons = Vec::new();
            for authenticator in &authenticators {
                match TokenVerifier::verify(authenticator, token) {
                    Ok(user) => return Ok(user),
                    Err(why) => reasons.push(why),
                }
            }
            Err(reasons.join("; "))
        };
        let kube = rt
            .block_on(FakeKube::start_with(
                Arc::new(verifier),
                FakeKubeConfig { time_scale: 0.2 },
            ))
            .map_err(|e| format!("fake control plane: {e}"))?;
        // Lifecycles of seconds: long enough that the waiters really poll.
        let fake = rt.block_on(FakeEks::start_with(FakeEksConfig {
            cluster_create_time: Duration::from_secs(2),
            cluster_delete_time: Duration::from_secs(1),
            nodegroup_create_time: Duration::from_secs(1),
            nodegroup_delete_time: Duration::from_secs(1),
            fargate_create_time: Duration::from_secs(1),
            fargate_delete_time: Duration::from_secs(1),
            cluster_endpoint: Some(kube.endpoint()),
            cluster_ca_pem: Some(kube.ca_pem().to_owned()),
            ..FakeEksConfig::default()
        }));
        Ok(Tier {
            root: root.to_path_buf(),
            airflow,
            image,
            fake,
            kube,
            _rt: rt,
        })
    }

    /// What every Airflow process of the tier runs with: the venv's settings, the example DAGs,
    /// the image, the host network, and the worker's AWS settings pointing at the fake EKS.
    fn env(&self) -> Vec<(String, String)> {
        let mut env = self.airflow.env();
        for name in ["HOME", "LANG", "DOCKER_HOST", "TZ"] {
            if let Ok(value) = std::env::var(name) {
                env.push((name.into(), value));
            }
        }
        let dags = self.root.join("fixtures").join("dags");
        env.extend(
            [
                ("AIRFLOW__CORE__DAGS_FOLDER", dags.display().to_string()),
                ("AIRFLOW_VAR_EKS_OPERATORS_IMAGE", self.image.clone()),
                ("EKS_OPERATORS_NETWORK_MODE", "host".into()),
                ("AWS_REGION", "us-east-1".into()),
                ("AWS_ENDPOINT_URL_EKS", self.fake.uri()),
                ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
                ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
                ("AWS_SESSION_TOKEN", SESSION_TOKEN.into()),
                ("AWS_EC2_METADATA_DISABLED", "true".into()),
                ("EKS_WAITER_DELAY", "0.5".into()),
                // Airflow's own AWS connection for its operators, pointed at the fake.
                (
                    "AIRFLOW_CONN_AWS_FAKE",
                    json!({
                        "conn_type": "aws",
                        "login": ACCESS_KEY_ID,
                        "password": SECRET_ACCESS_KEY,
                        "extra": {"region_name": "us-east-1", "endpoint_url": self.fake.uri()},
                    })
                    .to_string(),
                ),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    }

    /// Run `airflow ARGS` to the end; its output is kept in a log under AIRFLOW_HOME.
    fn airflow(&self, args: &[&str], log_name: &str) -> Result<proc::Outcome, String> {
        let program = self.airflow.venv.join("bin").join("airflow");
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        println!("    $ {}", proc::display(&program, &args));
        let out = proc::run(&program, &args, &self.env(), DAG_RUN_TIMEOUT)?;
        let log = self.airflow.home.join(format!("{log_name}.log"));
        std::fs::write(&log, format!("{}\n{}", out.stdout, out.stderr))
            .map_err(|e| format!("{}: {e}", log.display()))?;
        Ok(out)
    }

    /// Run a Python snippet with the venv's interpreter and the tier's environment; returns
    /// the JSON it prints last.
    fn python(&self, script: &str, args: &[&str]) -> Result<Value, String> {
        let mut argv = vec!["-c".to_owned(), script.to_owned()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let first_line = script.trim().lines().next().unwrap_or_default();
        println!(
            "    $ {} -c '{first_line} …' {}",
            self.airflow.python().display(),
            args.join(" ")
        );
        let out = proc::run(&self.airflow.python(), &argv, &self.env(), DAG_RUN_TIMEOUT)?;
        let last = out.stdout.lines().last().unwrap_or_default();
        match (out.code(), serde_json::from_str(last)) {
            (Some(0), Ok(value)) => Ok(value),
            _ => Err(format!(
                "python {} failed ({:?}):\n{}\n{}",
                args.join(" "),
                out.code(),
                proc::tail(&out.stdout, 10),
                proc::tail(&out.stderr, 30)
            )),
        }
    }

    /// `airflow dags test eks_lifecycle DATE -c CONF`, then what the metadata DB says of it.
    fn run_lifecycle(&self, run: Run) -> Result<(proc::Outcome, DagRunRecord), String> {
        let out = self.airflow(
            &["dags", "test", "eks_lifecycle", run.date, "-c", run.conf],
            &format!("dags-test-eks_lifecycle-{}", run.date),
        )?;
        let record = self.dag_run("eks_lifecycle", run.date)?;
        Ok((out, record))
    }

    fn dag_run(&self, dag_id: &str, date: &str) -> Result<DagRunRecord, String> {
        let db = self.airflow.database().display().to_string();
        let value = self.python(READ_DAG_RUN, &[&db, dag_id, date])?;
        Ok(DagRunRecord { value })
    }
}

/// Reads one DAG run from Airflow's sqlite metadata DB: its state, and each task instance's
/// state and XComs (stored as JSON).
const READ_DAG_RUN: &str = r#"
import json, sqlite3, sys
db, dag_id, date = sys.argv[1:4]
c = sqlite3.connect(db)
row = c.execute("select run_id, state from dag_run where dag_id = ? and execution_date like ?", (dag_id, date + "%")).fetchone()
if row is None:
    print(json.dumps({"run_id": None, "state": None, "tasks": {}}))
    sys.exit(0)
run_id, state = row
tasks = {t: {"state": s, "try_number": n, "xcom": {}} for t, s, n in c.execute(
    "select task_id, state, try_number from task_instance where dag_id = ? and run_id = ?", (dag_id, run_id))}
for t, key, value in c.execute("select task_id, key, value from xcom where dag_id = ? and run_id = ?", (dag_id, run_id)):
    tasks.setdefault(t, {"state": None, "xcom": {}})["xcom"][key] = json.loads(value)
for t, fields in c.execute("select task_id, rendered_fields from rendered_task_instance_fields where dag_id = ? and run_id = ?", (dag_id, run_id)):
    tasks.setdefault(t, {"state": None, "xcom": {}})["rendered"] = json.loads(fields)
print(json.dumps({"run_id": run_id, "state": state, "tasks": tasks}))
"#;

struct DagRunRecord {
    value: Value,
}

impl DagRunRecord {
    fn run_id(&self) -> &str {
        self.value["run_id"].as_str().unwrap_or_default()
    }

    fn expect_states(&self, want: &[(&str, &str)], run_state: &str) -> Result<(), String> {
        let mut wrong = Vec::new();
        for (task, state) in want {
            let got = &self.value["tasks"][task]["state"];
            if got != state {
                wrong.push(format!("{task}: {got} (expected {state})"));
            }
        }
        if self.value["state"] != run_state {
            wrong.push(format!(
                "the DAG run: {} (expected {run_state})",
                self.value["state"]
            ));
        }
        ensure(wrong.is_empty(), || {
            format!(
                "task states: {}\nrecorded: {}",
                wrong.join(", "),
                self.value
            )
        })
    }

    /// The XCom `return_value` of `task`.
    fn xcom(&self, task: &str) -> &Value {
        &self.value["tasks"][task]["xcom"]["return_value"]
    }

    /// The XCom of a DockerOperator task: the binary's JSON line, as a string.
    fn result_line(&self, task: &str) -> Result<Value, String> {
        let line = self.xcom(task).as_str().ok_or_else(|| {
            format!(
                "{task}: its XCom is not the JSON line as a string: {}",
                self.xcom(task)
            )
        })?;
        let value: Value = serde_json::from_str(line)
            .map_err(|e| format!("{task}: its XCom is not JSON ({e}): {line}"))?;
        ensure(value["schema_version"] == 1, || {
            format!("{task}: no schema_version 1 in {value}")
        })?;
        Ok(value)
    }
}

/// The output of a failed `airflow dags test`, for a failure message.
fn show_output(out: &proc::Outcome) -> String {
    format!(
        "{} exited {:?}; last lines:\n{}\n{}",
        out.command,
        out.code(),
        proc::tail(&out.stdout, 40),
        proc::tail(&out.stderr, 20)
    )
}

fn dags_import(tier: &Tier) -> Result<(), String> {
    let errors = tier.airflow(
        &["dags", "list-import-errors", "--output", "json"],
        "list-import-errors",
    )?;
    let last = errors.stdout.lines().last().unwrap_or_default().trim();
    ensure(
        errors.code() == Some(0) && (last == "[]" || last == "No data found"),
        || format!("import errors: {}", show_output(&errors)),
    )?;
    let list = tier.airflow(&["dags", "list", "--output", "json"], "dags-list")?;
    let last = list.stdout.lines().last().unwrap_or_default();
    let dags: Value = serde_json::from_str(last)
        .map_err(|e| format!("`airflow dags list` printed no JSON ({e}): {last}"))?;
    let found: Vec<&str> = dags
        .as_array()
        .map(|all| all.iter().filter_map(|d| d["dag_id"].as_str()).collect())
        .unwrap_or_default();
    let missing: Vec<&&str> = EXAMPLE_DAGS.iter().filter(|d| !found.contains(d)).collect();
    ensure(missing.is_empty(), || {
        format!("DAGs not found: {missing:?}; Airflow lists {found:?}")
    })
}

fn lifecycle_success(tier: &Tier) -> Result<(), String> {
    let run = SUCCESS;
    let cluster = run.cluster();
    let (out, record) = tier.run_lifecycle(run)?;
    ensure(out.code() == Some(0), || show_output(&out))?;
    record.expect_states(
        &[
            ("create_cluster", "success"),
            ("wait_cluster", "success"),
            ("wait_nodegroup", "success"),
            ("run_job", "success"),
            ("summarize", "success"),
            ("announce", "success"),
            ("delete_cluster", "success"),
        ],
        "success",
    )?;

    let created = record.result_line("create_cluster")?;
    ensure(
        created["operation"] == "create-cluster"
            && created["cluster"]["name"] == cluster.as_str()
            && created["cluster"]["status"] == "ACTIVE"
            && created["nodegroup"]["name"] == "workers"
            && created["nodegroup"]["status"] == "ACTIVE"
            && created["cluster"]["tags"]["airflow-run"] == record.run_id(),
        || format!("create_cluster's XCom: {created}"),
    )?;
    let waited = record.result_line("wait_nodegroup")?;
    ensure(
        waited["state"] == "ACTIVE" && waited["name"] == "workers",
        || format!("wait_nodegroup's XCom: {waited}"),
    )?;

    let job = record.result_line("run_job")?;
    let want_return = json!({"rows": 42, "ds": run.date});
    ensure(
        job["phase"] == "Succeeded" && job["return_value"] == want_return,
        || format!("run_job's XCom: {job}; expected return_value {want_return}"),
    )?;
    let pod_name = job["pod_name"].as_str().unwrap_or_default();
    ensure(pod_name.starts_with("job-20260101"), || {
        format!(
            "run_job's pod name {pod_name:?} is not the templated --name job-{{{{ ds_nodash }}}}"
        )
    })?;
    let summary = record.xcom("summarize");
    ensure(
        *summary == json!({"rows": 42, "ds": run.date, "pod": pod_name}),
        || format!("summarize (json.loads of run_job's XCom) returned {summary}"),
    )?;
    let announced = record.xcom("announce");
    let want = format!("42 rows loaded for {} on cluster {cluster}", run.date);
    ensure(announced == want.as_str(), || {
        format!("announce (| fromjson in a template) printed {announced}, expected {want:?}")
    })?;
    let deleted = record.result_line("delete_cluster")?;
    ensure(
        deleted["existed"] == true
            && deleted["status"] == "NONEXISTENT"
            && deleted["deleted_nodegroups"] == json!(["workers"]),
        || format!("delete_cluster's XCom: {deleted}"),
    )?;

    // Templates were rendered into the commands; the credentials, passed through
    // private_environment, were not rendered, stored or logged anywhere.
    let rendered = &record.value["tasks"]["create_cluster"]["rendered"];
    ensure(
        rendered["command"]
            .as_array()
            .is_some_and(|c| c.iter().any(|a| a == cluster.as_str())),
        || format!("create_cluster's rendered command has no {cluster}: {rendered}"),
    )?;
    let log = std::fs::read_to_string(
        tier.airflow
            .home
            .join(format!("dags-test-eks_lifecycle-{}.log", run.date)),
    )
    .unwrap_or_default();
    for secret in [SECRET_ACCESS_KEY, SESSION_TOKEN] {
        ensure(!record.value.to_string().contains(secret), || {
            "a secret is in Airflow's metadata DB (rendered fields or XCom)".to_owned()
        })?;
        ensure(!log.contains(secret), || {
            "a secret is in the DAG run's log".to_owned()
        })?;
    }

    // The pod was labelled with the task's identity (AIRFLOW_CTX_* passed into the container):
    // eks-pod looked for a pod of the same task and run to re-attach to before creating one.
    let lookups: Vec<String> = tier
        .kube
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/pods"))
        .map(|r| percent_decode(&r.path_and_query()))
        .collect();
    ensure(
        lookups.iter().any(|q| {
            q.contains("dag_id=eks_lifecycle")
                && q.contains("task_id=run_job")
                && q.contains("run_id=")
        }),
        || format!("no pod lookup by the task's labels; pod list requests: {lookups:?}"),
    )?;
    cluster_gone(tier, &cluster)
}

fn lifecycle_failure(tier: &Tier) -> Result<(), String> {
    let run = FAILURE;
    let (out, record) = tier.run_lifecycle(run)?;
    ensure(out.code() != Some(0), || {
        format!("a DAG run whose job failed exited 0\n{}", show_output(&out))
    })?;
    record.expect_states(
        &[
            ("create_cluster", "success"),
            ("run_job", "failed"),
            ("summarize", "upstream_failed"),
            ("announce", "upstream_failed"),
            ("delete_cluster", "success"),
        ],
        "failed",
    )?;
    let log = std::fs::read_to_string(
        tier.airflow
            .home
            .join(format!("dags-test-eks_lifecycle-{}.log", run.date)),
    )
    .unwrap_or_default();
    ensure(log.contains("container base exited with 3"), || {
        "the task log does not give the pod's exit code 3 (eks-pod's error line)".to_owned()
    })?;
    cluster_gone(tier, &run.cluster())
}

fn lifecycle_skip(tier: &Tier) -> Result<(), String> {
    let run = SKIP;
    let (out, record) = tier.run_lifecycle(run)?;
    ensure(out.code() == Some(0), || show_output(&out))?;
    record.expect_states(
        &[
            ("create_cluster", "success"),
            ("run_job", "skipped"),
            ("summarize", "skipped"),
            ("announce", "skipped"),
            ("delete_cluster", "success"),
        ],
        "success",
    )?;
    cluster_gone(tier, &run.cluster())
}

/// The fake EKS has no such cluster any more, and it saw it created and deleted.
fn cluster_gone(tier: &Tier, cluster: &str) -> Result<(), String> {
    let calls = tier.fake.requests();
    let created = calls.iter().any(|c| {
        c.operation == "CreateCluster" && c.body.as_ref().is_some_and(|b| b["name"] == cluster)
    });
    let deleted = calls
        .iter()
        .any(|c| c.operation == "DeleteCluster" && c.path.ends_with(&format!("/{cluster}")));
    ensure(created && deleted, || {
        format!("the fake EKS saw CreateCluster {cluster}: {created}, DeleteCluster: {deleted}")
    })?;
    let status = tier.fake.cluster_status(cluster);
    ensure(status.is_none(), || {
        format!("cluster {cluster} is left on the fake EKS: {status:?}")
    })
}

/// Airflow's own operator and hook drive the fake EKS through boto3: create a cluster with a
/// nodegroup and wait (botocore's waiters), read it, delete both and wait.
const AIRFLOW_OPERATORS: &str = r#"
import json, sys
from airflow.providers.amazon.aws.hooks.eks import EksHook
from airflow.providers.amazon.aws.operators.eks import EksCreateClusterOperator
name, role, node_role = sys.argv[1:4]
common = dict(aws_conn_id="aws_fake", region_name="us-east-1", wait_for_completion=True, waiter_delay=1, waiter_max_attempts=60)
EksCreateClusterOperator(
    task_id="create", cluster_name=name, cluster_role_arn=role,
    resources_vpc_config={"subnetIds": ["subnet-0a1", "subnet-0b2"]},
    compute="nodegroup", nodegroup_name="ng", nodegroup_role_arn=node_role, **common,
).execute({})
hook = EksHook(aws_conn_id="aws_fake", region_name="us-east-1")
described = hook.describe_cluster(name=name)["cluster"]
result = {
    "listed": hook.list_clusters(),
    "status": str(hook.get_cluster_state(clusterName=name)),
    "endpoint": described.get("endpoint"),
    "nodegroups": hook.list_nodegroups(clusterName=name),
    "nodegroup_status": str(hook.get_nodegroup_state(clusterName=name, nodegroupName="ng")),
}
# EksDeleteClusterOperator would wait with botocore's fixed 30 s delays: delete through the hook.
fast = {"Delay": 1, "MaxAttempts": 60}
hook.delete_nodegroup(clusterName=name, nodegroupName="ng")
hook.conn.get_waiter("nodegroup_deleted").wait(clusterName=name, nodegroupName="ng", WaiterConfig=fast)
hook.delete_cluster(name=name)
hook.conn.get_waiter("cluster_deleted").wait(name=name, WaiterConfig=fast)
result["after_delete"] = hook.list_clusters()
print(json.dumps(result))
"#;

fn airflow_eks_operators(tier: &Tier) -> Result<(), String> {
    let got = tier.python(
        AIRFLOW_OPERATORS,
        &[BOTO3_CLUSTER, crate::e2e::ROLE, crate::e2e::NODE_ROLE],
    )?;
    ensure(
        got["listed"]
            .as_array()
            .is_some_and(|l| l.iter().any(|c| c == BOTO3_CLUSTER))
            && got["status"] == "ClusterStates.ACTIVE"
            && got["endpoint"] == tier.kube.endpoint().as_str()
            && got["nodegroups"] == json!(["ng"])
            && got["nodegroup_status"] == "NodegroupStates.ACTIVE"
            && !got["after_delete"]
                .as_array()
                .is_some_and(|l| l.iter().any(|c| c == BOTO3_CLUSTER)),
        || format!("Airflow's operators and hook saw: {got}"),
    )?;
    let status = tier.fake.cluster_status(BOTO3_CLUSTER);
    ensure(status.is_none(), || {
        format!("{BOTO3_CLUSTER} is left on the fake EKS: {status:?}")
    })
}

/// `%XX` escapes of a URL query decoded, for reading label selectors.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
