//! `cargo xtask e2e`: the real binaries, as processes, against the fake EKS. Every scenario
//! checks the output contract (one JSON line on stdout, last; no secret anywhere; no panic)
//! besides its own assertions.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eks_testkit::{FakeEks, FakeEksConfig, Fault};
use serde_json::Value;

use crate::proc::{self, Outcome, env_for};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/eks-cluster";
pub const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/eks-nodes";
pub const POD_ROLE: &str = "arn:aws:iam::123456789012:role/eks-fargate-pods";
pub const VPC: &str = r#"{"subnetIds":["subnet-0a1","subnet-0b2"],"endpointPublicAccess":true}"#;
const LONG: Duration = Duration::from_secs(60);

pub struct Ctx {
    pub bins: PathBuf,
    /// The Docker tier: each binary runs in a container through a `docker run` script.
    pub in_containers: bool,
    pub home: PathBuf,
    pub rt: tokio::runtime::Runtime,
    pub verbose: bool,
}

impl Ctx {
    pub fn new(root: &Path) -> Result<Ctx, String> {
        let home = root.join("target").join("e2e-home");
        std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
        // Empty AWS config files, so the SDK reads no user profile and has nothing to warn about.
        for file in ["aws-config", "aws-credentials"] {
            std::fs::write(home.join(file), "").map_err(|e| format!("{file}: {e}"))?;
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Ctx {
            bins: proc::bin_dir(root),
            in_containers: false,
            home,
            rt,
            verbose: std::env::var_os("E2E_VERBOSE").is_some(),
        })
    }

    pub fn fake(&self, config: FakeEksConfig) -> FakeEks {
        self.rt.block_on(FakeEks::start_with(config))
    }

    /// After SIGKILL of a binary's process: in the Docker tier that process was `docker run`,
    /// whose container lives on; kill it too.
    pub fn lose_worker(&self, running: &proc::Running) -> Result<(), String> {
        if self.in_containers {
            crate::docker::kill_container_of(running.pid())?;
        }
        Ok(())
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bins.join(name)
    }

    pub fn args(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    /// Run `bin` against `fake` and wait for it.
    pub fn run(&self, fake: &FakeEks, bin: &str, args: &[&str]) -> Result<Outcome, String> {
        self.run_env(fake, bin, args, &[])
    }

    pub fn run_env(
        &self,
        fake: &FakeEks,
        bin: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> Result<Outcome, String> {
        let mut env = env_for(&fake.uri(), &self.home);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let out = proc::run(&self.bin(bin), &Self::args(args), &env, LONG)?;
        if self.verbose {
            println!(
                "    $ {}\n{}    -> {:?} {}",
                out.command,
                indent(&out.stderr),
                out.code(),
                out.stdout.trim()
            );
        }
        Ok(out)
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("      {l}\n")).collect()
}

fn fast() -> FakeEksConfig {
    FakeEksConfig {
        cluster_create_time: Duration::from_millis(300),
        cluster_delete_time: Duration::from_millis(200),
        nodegroup_create_time: Duration::from_millis(200),
        nodegroup_delete_time: Duration::from_millis(200),
        fargate_create_time: Duration::from_millis(200),
        fargate_delete_time: Duration::from_millis(200),
        ..FakeEksConfig::default()
    }
}

/// Waiter flags for the fake's sub-second lifecycles.
const QUICK: [&str; 4] = ["--waiter-delay", "0.1", "--waiter-max-attempts", "50"];

/// The flags of a cluster without compute: name, role, VPC.
pub fn bare_cluster(name: &str) -> [&str; 8] {
    [
        "--cluster-name",
        name,
        "--cluster-role-arn",
        ROLE,
        "--resources-vpc-config",
        VPC,
        "--compute",
        "none",
    ]
}

fn with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    base.iter().chain(more).copied().collect()
}

pub fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

fn count(fake: &FakeEks, operation: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.operation == operation)
        .count()
}

pub type Scenario = (&'static str, fn(&Ctx) -> Result<(), String>);

pub fn scenarios() -> Vec<Scenario> {
    let mut all: Vec<Scenario> = vec![
        (
            "create cluster with nodegroup, waited",
            create_cluster_with_nodegroup,
        ),
        (
            "create cluster without compute, not waited",
            create_cluster_no_wait,
        ),
        (
            "create cluster with Fargate profile, waited",
            create_cluster_with_fargate,
        ),
        (
            "create cluster that fails is deleted",
            create_cluster_failed,
        ),
        (
            "create cluster whose nodegroup fails cleans up the nodegroup",
            create_cluster_nodegroup_failed,
        ),
        ("create cluster times out", create_cluster_timeout),
        (
            "create cluster: --if-exists fail / reuse / mismatch",
            create_cluster_if_exists,
        ),
        (
            "--role-arn assumes the role through STS before calling EKS",
            assume_role,
        ),
        ("throttling storm recovered by retries", throttling_storm),
        (
            "5xx burst during a wait costs polls, not the task",
            server_errors_during_wait,
        ),
        (
            "delete cluster --force with nodegroups and Fargate profiles",
            delete_cluster_force,
        ),
        (
            "delete cluster with compute but without --force",
            delete_cluster_without_force,
        ),
        (
            "delete cluster missing: fail / --if-missing ok",
            delete_cluster_missing,
        ),
        ("nodegroup create and delete, waited", nodegroup_lifecycle),
        (
            "Fargate profile create and delete, waited",
            fargate_lifecycle,
        ),
        (
            "eks-wait reaches ACTIVE and NONEXISTENT",
            wait_reaches_target,
        ),
        (
            "eks-wait fails fast on another terminal state",
            wait_fails_fast,
        ),
        ("eks-wait times out", wait_times_out),
        ("SIGTERM stops a wait promptly", sigterm_stops_wait),
        (
            "SIGINT stops a create and says what is left",
            sigint_during_create,
        ),
        (
            "JSON line is last on the combined stream",
            json_last_on_combined_stream,
        ),
        ("closed stdout is not a crash", broken_pipe),
        ("--log-format json writes JSON logs to stderr", json_logs),
        ("no secret in -vv output", no_secrets_verbose),
    ];
    all.extend(crate::auth::scenarios());
    all.extend(crate::pod::scenarios());
    all.extend(crate::bad_input::scenarios());
    all
}

fn create_cluster_with_nodegroup(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    let out = ctx.run(&fake, "eks-create-cluster", &with(&QUICK, &[
        "--cluster-name", "demo", "--cluster-role-arn", ROLE, "--resources-vpc-config", VPC,
        "--kubernetes-version", "1.31", "--nodegroup-name", "workers", "--nodegroup-role-arn", NODE_ROLE,
        "--create-nodegroup-kwargs", r#"{"scalingConfig":{"minSize":1,"maxSize":3,"desiredSize":2},"instanceTypes":["m5.large"]}"#,
        "--wait-for-completion",
    ]))?;
    let json = out.expect(0)?;
    let c = &json["cluster"];
    ensure(c["status"] == "ACTIVE", || {
        format!("cluster not ACTIVE: {json}")
    })?;
    ensure(
        c["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with("https://")),
        || format!("no endpoint: {json}"),
    )?;
    ensure(
        c["certificate_authority_data"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        || format!("no CA: {json}"),
    )?;
    ensure(
        c["version"] == "1.31"
            && c["arn"]
                .as_str()
                .is_some_and(|a| a.ends_with(":cluster/demo")),
        || format!("{json}"),
    )?;
    let ng = &json["nodegroup"];
    ensure(ng["status"] == "ACTIVE" && ng["name"] == "workers", || {
        format!("nodegroup: {json}")
    })?;
    ensure(ng["tags"]["kubernetes.io/cluster/demo"] == "owned", || {
        format!("ownership tag missing: {json}")
    })?;
    ensure(
        ng["subnets"] == serde_json::json!(["subnet-0a1", "subnet-0b2"]),
        || format!("nodegroup subnets not the cluster's: {json}"),
    )?;
    ensure(
        ng["instance_types"] == serde_json::json!(["m5.large"]),
        || format!("kwargs not applied: {json}"),
    )?;
    ensure(json["waited"] == true && json["reused"] == false, || {
        format!("{json}")
    })?;
    // The nodegroup was created only once the cluster was ACTIVE.
    let calls = fake.requests();
    let ng_at = calls
        .iter()
        .position(|r| r.operation == "CreateNodegroup")
        .ok_or("no CreateNodegroup")?;
    ensure(
        calls[..ng_at]
            .iter()
            .any(|r| r.operation == "DescribeCluster" && r.status == 200),
        || "nodegroup created before any describe".into(),
    )?;
    ensure(out.stderr.contains("is ACTIVE (poll"), || {
        format!("no progress line on stderr:\n{}", out.stderr)
    })
}

fn create_cluster_no_wait(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    let out = ctx.run(
        &fake,
        "eks-create-cluster",
        &[
            "--cluster-name",
            "quick",
            "--cluster-role-arn",
            ROLE,
            "--resources-vpc-config",
            VPC,
            "--compute",
            "none",
        ],
    )?;
    let json = out.expect(0)?;
    ensure(
        json["cluster"]["status"] == "CREATING" && json["waited"] == false,
        || format!("{json}"),
    )?;
    ensure(
        json["nodegroup"].is_null() && json["fargate_profile"].is_null(),
        || format!("{json}"),
    )?;
    ensure(count(&fake, "CreateCluster") == 1, || {
        "CreateCluster not called exactly once".into()
    })?;
    let body = fake
        .requests()
        .into_iter()
        .find(|r| r.operation == "CreateCluster")
        .and_then(|r| r.body)
        .ok_or("no body")?;
    ensure(
        body["roleArn"] == ROLE && body["resourcesVpcConfig"]["endpointPublicAccess"] == true,
        || format!("request body: {body}"),
    )
}

fn create_cluster_with_fargate(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    let out = ctx.run(
        &fake,
        "eks-create-cluster",
        &with(
            &QUICK,
            &[
                "--cluster-name",
                "serverless",
                "--cluster-role-arn",
                ROLE,
                "--resources-vpc-config",
                VPC,
                "--compute",
                "fargate",
                "--fargate-pod-execution-role-arn",
                POD_ROLE,
                "--wait",
            ],
        ),
    )?;
    let json = out.expect(0)?;
    let p = &json["fargate_profile"];
    ensure(p["status"] == "ACTIVE" && p["name"] == "profile", || {
        format!("{json}")
    })?;
    ensure(p["selectors"][0]["namespace"] == "default", || {
        format!("Airflow's default selector missing: {json}")
    })?;
    ensure(json["nodegroup"].is_null(), || format!("{json}"))
}

fn create_cluster_failed(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.fail_cluster("doomed");
    let out = ctx.run(
        &fake,
        "eks-create-cluster",
        &with(
            &QUICK,
            &[
                "--cluster-name",
                "doomed",
                "--cluster-role-arn",
                ROLE,
                "--resources-vpc-config",
                VPC,
                "--compute",
                "none",
                "--wait",
            ],
        ),
    )?;
    let json = out.expect(4)?;
    ensure(json["error"]["kind"] == "resource_failed", || {
        format!("{json}")
    })?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("FAILED")),
        || format!("{json}"),
    )?;
    ensure(fake.cluster_status("doomed").is_none(), || {
        "the failed cluster was not deleted".into()
    })?;
    ensure(
        json["error"]["left_behind"]
            .as_array()
            .is_some_and(Vec::is_empty),
        || format!("{json}"),
    )?;
    ensure(out.stderr.contains("deleting it"), || {
        format!("no word of the clean-up on stderr:\n{}", out.stderr)
    })
}

fn create_cluster_nodegroup_failed(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.fail_nodegroup("halfway", "nodegroup");
    let out = ctx.run(
        &fake,
        "eks-create-cluster",
        &with(
            &QUICK,
            &[
                "--cluster-name",
                "halfway",
                "--cluster-role-arn",
                ROLE,
                "--resources-vpc-config",
                VPC,
                "--nodegroup-role-arn",
                NODE_ROLE,
                "--wait",
            ],
        ),
    )?;
    let json = out.expect(4)?;
    let left = json["error"]["left_behind"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = |res: &str, status: &str| {
        left.iter()
            .any(|l| l["resource"] == res && l["status"] == status)
    };
    ensure(has("nodegroup/halfway/nodegroup", "DELETING"), || {
        format!("nodegroup clean-up not reported: {json}")
    })?;
    ensure(has("cluster/halfway", "ACTIVE"), || {
        format!("kept cluster not reported: {json}")
    })?;
    ensure(count(&fake, "DeleteNodegroup") >= 1, || {
        "failed nodegroup not deleted".into()
    })?;
    ensure(
        fake.cluster_status("halfway").as_deref() == Some("ACTIVE"),
        || "cluster should be kept".into(),
    )?;
    ensure(out.stderr.contains("left behind: cluster/halfway"), || {
        format!("stderr does not say what is left:\n{}", out.stderr)
    })
}

fn create_cluster_timeout(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(FakeEksConfig {
        cluster_create_time: Duration::from_secs(3600),
        ..fast()
    });
    let out = ctx.run(
        &fake,
        "eks-create-cluster",
        &[
            "--cluster-name",
            "slow",
            "--cluster-role-arn",
            ROLE,
            "--resources-vpc-config",
            VPC,
            "--compute",
            "none",
            "--wait",
            "--waiter-delay",
            "0.1",
            "--waiter-max-attempts",
            "3",
        ],
    )?;
    let json = out.expect(5)?;
    ensure(json["error"]["kind"] == "timeout", || format!("{json}"))?;
    ensure(
        json["error"]["left_behind"][0]["status"] == "CREATING",
        || format!("{json}"),
    )?;
    ensure(count(&fake, "DescribeCluster") == 3, || {
        format!(
            "expected exactly 3 polls, saw {}",
            count(&fake, "DescribeCluster")
        )
    })?;
    ensure(
        fake.cluster_status("slow").as_deref() == Some("CREATING"),
        || "a timed-out cluster must not be deleted".into(),
    )
}

fn create_cluster_if_exists(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    let base = [
        "--cluster-name",
        "existing",
        "--cluster-role-arn",
        ROLE,
        "--resources-vpc-config",
        VPC,
        "--compute",
        "none",
    ];
    ctx.run(&fake, "eks-create-cluster", &base)?.expect(0)?;
    let json = ctx.run(&fake, "eks-create-cluster", &base)?.expect(3)?;
    ensure(
        json["error"]["aws_error_code"] == "ResourceInUseException",
        || format!("{json}"),
    )?;
    let json = ctx
        .run(
            &fake,
            "eks-create-cluster",
            &with(&base, &["--if-exists", "reuse"]),
        )?
        .expect(0)?;
    ensure(
        json["reused"] == true && json["cluster"]["name"] == "existing",
        || format!("{json}"),
    )?;
    let json = ctx
        .run(
            &fake,
            "eks-create-cluster",
            &with(
                &base,
                &["--if-exists", "reuse", "--kubernetes-version", "1.10"],
            ),
        )?
        .expect(6)?;
    ensure(json["error"]["kind"] == "conflict", || format!("{json}"))?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot be reused") && m.contains("version")),
        || format!("{json}"),
    )?;
    ensure(count(&fake, "DeleteCluster") == 0, || {
        "a reused cluster must never be deleted".into()
    })
}

fn assume_role(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    let sts = ctx.rt.block_on(eks_testkit::FakeSts::start());
    let role = "arn:aws:iam::123456789012:role/airflow-eks";
    let out = ctx.run_env(
        &fake,
        "eks-create-cluster",
        &[
            "--cluster-name",
            "assumed",
            "--cluster-role-arn",
            ROLE,
            "--resources-vpc-config",
            VPC,
            "--compute",
            "none",
            "--role-arn",
            role,
            "--role-session-name",
            "airflow-task",
            "--external-id",
            "ext-123",
        ],
        &[("AWS_ENDPOINT_URL_STS", &sts.uri())],
    )?;
    out.expect(0)?;
    let calls = sts.calls();
    ensure(calls.len() == 1, || {
        format!("expected one AssumeRole call, saw {calls:?}")
    })?;
    let call = &calls[0];
    ensure(
        call.role_arn.as_deref() == Some(role)
            && call.role_session_name.as_deref() == Some("airflow-task"),
        || format!("{call:?}"),
    )?;
    ensure(call.external_id.as_deref() == Some("ext-123"), || {
        format!("external id not sent: {call:?}")
    })?;
    ensure(
        call.signed_by.as_deref() == Some(proc::ACCESS_KEY_ID),
        || format!("AssumeRole not signed by the base credentials: {call:?}"),
    )?;
    let eks_calls = fake.requests();
    ensure(
        !eks_calls.is_empty()
            && eks_calls.iter().all(|r| {
                r.access_key_id.as_deref() == Some(eks_testkit::sts::ASSUMED_ACCESS_KEY_ID)
            }),
        || {
            format!(
                "EKS calls not signed by the assumed role: {:?}",
                eks_calls
                    .iter()
                    .map(|r| &r.access_key_id)
                    .collect::<Vec<_>>()
            )
        },
    )
}

fn throttling_storm(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.inject(Fault::Throttle, 3);
    let out = ctx.run(
        &fake,
        "eks-create-cluster",
        &[
            "--cluster-name",
            "stormy",
            "--cluster-role-arn",
            ROLE,
            "--resources-vpc-config",
            VPC,
            "--compute",
            "none",
        ],
    )?;
    let json = out.expect(0)?;
    ensure(json["cluster"]["name"] == "stormy", || format!("{json}"))?;
    let throttled = fake.requests().iter().filter(|r| r.status == 429).count();
    ensure(throttled == 3, || {
        format!("expected 3 throttled requests, saw {throttled}")
    })?;
    ensure(count(&fake, "CreateCluster") == 4, || {
        format!(
            "expected 4 CreateCluster attempts, saw {}",
            count(&fake, "CreateCluster")
        )
    })
}

fn server_errors_during_wait(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(FakeEksConfig {
        cluster_create_time: Duration::from_secs(1),
        ..fast()
    });
    fake.seed_cluster("flaky", "ACTIVE");
    // More faults than the SDK retries once: at least one poll fails outright.
    fake.inject(Fault::Unavailable, 8);
    let out = ctx.run_env(
        &fake,
        "eks-wait",
        &[
            "cluster",
            "--cluster-name",
            "flaky",
            "--waiter-delay",
            "0.1",
            "--waiter-max-attempts",
            "10",
        ],
        &[("AWS_MAX_ATTEMPTS", "2")],
    )?;
    let json = out.expect(0)?;
    ensure(
        json["state"] == "ACTIVE" && json["attempts"].as_u64().is_some_and(|a| a > 1),
        || format!("{json}"),
    )?;
    ensure(out.stderr.contains("will poll again"), || {
        format!("failed poll not logged:\n{}", out.stderr)
    })
}

fn delete_cluster_force(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.seed_cluster("full", "ACTIVE");
    fake.seed_nodegroup("full", "ng-a", "ACTIVE");
    fake.seed_nodegroup("full", "ng-b", "ACTIVE");
    fake.seed_fargate_profile("full", "fp-a", "ACTIVE");
    fake.seed_fargate_profile("full", "fp-b", "ACTIVE");
    let out = ctx.run(
        &fake,
        "eks-delete-cluster",
        &with(&QUICK, &["--cluster-name", "full", "--force", "--wait"]),
    )?;
    let json = out.expect(0)?;
    ensure(
        json["deleted_nodegroups"] == serde_json::json!(["ng-a", "ng-b"]),
        || format!("{json}"),
    )?;
    ensure(
        json["deleted_fargate_profiles"]
            .as_array()
            .is_some_and(|a| a.len() == 2),
        || format!("{json}"),
    )?;
    ensure(
        json["status"] == "NONEXISTENT" && json["existed"] == true,
        || format!("{json}"),
    )?;
    ensure(fake.cluster_status("full").is_none(), || {
        "cluster still exists".into()
    })?;
    let calls = fake.requests();
    let pos = |op: &str| -> Vec<usize> {
        calls
            .iter()
            .enumerate()
            .filter(|(_, r)| r.operation == op && r.status == 200)
            .map(|(i, _)| i)
            .collect()
    };
    let (ng, fp, cl) = (
        pos("DeleteNodegroup"),
        pos("DeleteFargateProfile"),
        pos("DeleteCluster"),
    );
    ensure(ng.len() == 2 && fp.len() == 2 && cl.len() == 1, || {
        format!("deletes: nodegroups {ng:?}, profiles {fp:?}, cluster {cl:?}")
    })?;
    // Both nodegroup deletes were sent before either finished (parallel), then profiles one at a time.
    ensure(ng[1] < fp[0] && fp[1] < cl[0], || {
        "wrong deletion order".into()
    })?;
    let ng_gone_polls = calls[ng[1]..fp[0]]
        .iter()
        .filter(|r| r.operation == "DescribeNodegroup")
        .count();
    ensure(ng_gone_polls >= 2, || {
        "nodegroup deletions were not waited for".into()
    })?;
    ensure(
        calls[fp[0]..fp[1]]
            .iter()
            .any(|r| r.operation == "DescribeFargateProfile" && r.status == 404),
        || "second profile deleted before the first was gone".into(),
    )
}

fn delete_cluster_without_force(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.seed_cluster("busy", "ACTIVE");
    fake.seed_nodegroup("busy", "ng", "ACTIVE");
    let json = ctx
        .run(&fake, "eks-delete-cluster", &["--cluster-name", "busy"])?
        .expect(3)?;
    ensure(
        json["error"]["aws_error_code"] == "ResourceInUseException",
        || format!("{json}"),
    )?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--force-delete-compute")),
        || format!("no hint: {json}"),
    )?;
    ensure(
        fake.cluster_status("busy").as_deref() == Some("ACTIVE"),
        || "cluster changed".into(),
    )
}

fn delete_cluster_missing(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    let json = ctx
        .run(&fake, "eks-delete-cluster", &["--cluster-name", "ghost"])?
        .expect(3)?;
    ensure(
        json["error"]["aws_error_code"] == "ResourceNotFoundException",
        || format!("{json}"),
    )?;
    let json = ctx
        .run(
            &fake,
            "eks-delete-cluster",
            &["--cluster-name", "ghost", "--if-missing", "ok"],
        )?
        .expect(0)?;
    ensure(
        json["existed"] == false && json["status"] == "NONEXISTENT",
        || format!("{json}"),
    )
}

fn nodegroup_lifecycle(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.seed_cluster("host", "ACTIVE");
    let json = ctx
        .run(
            &fake,
            "eks-create-nodegroup",
            &with(
                &QUICK,
                &[
                    "--cluster-name",
                    "host",
                    "--nodegroup-name",
                    "batch",
                    "--nodegroup-subnets",
                    "['subnet-1', 'subnet-2']",
                    "--nodegroup-role-arn",
                    NODE_ROLE,
                    "--instance-types",
                    "c5.xlarge,c5.2xlarge",
                    "--min-size",
                    "0",
                    "--max-size",
                    "4",
                    "--desired-size",
                    "1",
                    "--labels",
                    "team=data,tier=batch",
                    "--taints",
                    r#"[{"key":"batch","value":"true","effect":"NO_SCHEDULE"}]"#,
                    "--tags",
                    r#"{"cost-center":"42"}"#,
                    "--wait",
                ],
            ),
        )?
        .expect(0)?;
    let ng = &json["nodegroup"];
    ensure(
        ng["status"] == "ACTIVE" && ng["subnets"] == serde_json::json!(["subnet-1", "subnet-2"]),
        || format!("{json}"),
    )?;
    ensure(
        ng["labels"]["team"] == "data"
            && ng["tags"]["cost-center"] == "42"
            && ng["tags"]["kubernetes.io/cluster/host"] == "owned",
        || format!("{json}"),
    )?;
    ensure(
        ng["scaling"]["max_size"] == 4 && ng["instance_types"][1] == "c5.2xlarge",
        || format!("{json}"),
    )?;
    let body = fake
        .requests()
        .into_iter()
        .find(|r| r.operation == "CreateNodegroup")
        .and_then(|r| r.body)
        .ok_or("no body")?;
    ensure(body["taints"][0]["effect"] == "NO_SCHEDULE", || {
        format!("taints not sent: {body}")
    })?;
    let json = ctx
        .run(
            &fake,
            "eks-delete-nodegroup",
            &with(
                &QUICK,
                &[
                    "--cluster-name",
                    "host",
                    "--nodegroup-name",
                    "batch",
                    "--wait",
                ],
            ),
        )?
        .expect(0)?;
    ensure(
        json["status"] == "NONEXISTENT" && json["existed"] == true,
        || format!("{json}"),
    )?;
    ensure(fake.nodegroup_status("host", "batch").is_none(), || {
        "nodegroup still there".into()
    })?;
    let json = ctx
        .run(
            &fake,
            "eks-delete-nodegroup",
            &[
                "--cluster-name",
                "host",
                "--nodegroup-name",
                "batch",
                "--if-missing",
                "ok",
            ],
        )?
        .expect(0)?;
    ensure(json["existed"] == false, || format!("{json}"))
}

fn fargate_lifecycle(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.seed_cluster("host", "ACTIVE");
    let json = ctx
        .run(
            &fake,
            "eks-create-fargate-profile",
            &with(
                &QUICK,
                &[
                    "--cluster-name",
                    "host",
                    "--fargate-profile-name",
                    "jobs",
                    "--pod-execution-role-arn",
                    POD_ROLE,
                    "--selectors",
                    r#"[{"namespace":"jobs","labels":{"app":"etl"}}]"#,
                    "--subnets",
                    "subnet-1",
                    "--wait",
                ],
            ),
        )?
        .expect(0)?;
    ensure(
        json["fargate_profile"]["status"] == "ACTIVE"
            && json["fargate_profile"]["selectors"][0]["labels"]["app"] == "etl",
        || format!("{json}"),
    )?;
    let json = ctx
        .run(
            &fake,
            "eks-delete-fargate-profile",
            &with(
                &QUICK,
                &[
                    "--cluster-name",
                    "host",
                    "--fargate-profile-name",
                    "jobs",
                    "--wait",
                ],
            ),
        )?
        .expect(0)?;
    ensure(json["status"] == "NONEXISTENT", || format!("{json}"))?;
    let json = ctx
        .run(
            &fake,
            "eks-create-fargate-profile",
            &[
                "--cluster-name",
                "nowhere",
                "--fargate-profile-name",
                "jobs",
                "--pod-execution-role-arn",
                POD_ROLE,
                "--selectors",
                r#"[{"namespace":"x"}]"#,
            ],
        )?
        .expect(3)?;
    ensure(
        json["error"]["aws_error_code"] == "ResourceNotFoundException",
        || format!("{json}"),
    )
}

fn wait_reaches_target(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(FakeEksConfig {
        cluster_create_time: Duration::from_millis(700),
        ..fast()
    });
    ctx.run(
        &fake,
        "eks-create-cluster",
        &[
            "--cluster-name",
            "w",
            "--cluster-role-arn",
            ROLE,
            "--resources-vpc-config",
            VPC,
            "--compute",
            "none",
        ],
    )?
    .expect(0)?;
    let out = ctx.run(
        &fake,
        "eks-wait",
        &[
            "cluster",
            "--cluster-name",
            "w",
            "--waiter-delay",
            "0.2",
            "--waiter-max-attempts",
            "30",
        ],
    )?;
    let json = out.expect(0)?;
    ensure(
        json["state"] == "ACTIVE"
            && json["resource"] == "cluster"
            && json["target_state"] == "ACTIVE",
        || format!("{json}"),
    )?;
    let polls = json["attempts"].as_u64().unwrap_or(0);
    // ACTIVE ~0.7 s after the create, polled every 0.2 s: a handful of polls (fewer if this
    // process started late on a loaded machine), and never faster than asked.
    ensure((2..=6).contains(&polls), || {
        format!("{polls} polls for a 0.7 s transition at 0.2 s intervals")
    })?;
    ensure(
        out.elapsed >= Duration::from_millis(200) * (polls as u32 - 1),
        || "polled faster than --waiter-delay".into(),
    )?;
    ensure(
        out.stderr.lines().filter(|l| l.contains("(poll ")).count() == polls as usize,
        || "not one progress line per poll".into(),
    )?;
    ctx.run(&fake, "eks-delete-cluster", &["--cluster-name", "w"])?
        .expect(0)?;
    let json = ctx
        .run(
            &fake,
            "eks-wait",
            &[
                "cluster",
                "--cluster-name",
                "w",
                "--target-state",
                "nonexistent",
                "--waiter-delay",
                "0.1",
            ],
        )?
        .expect(0)?;
    ensure(json["state"] == "NONEXISTENT", || format!("{json}"))
}

fn wait_fails_fast(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.seed_cluster("c", "ACTIVE");
    fake.fail_nodegroup("c", "bad");
    ctx.run(
        &fake,
        "eks-create-nodegroup",
        &[
            "--cluster-name",
            "c",
            "--nodegroup-name",
            "bad",
            "--subnets",
            "subnet-1",
            "--nodegroup-role-arn",
            NODE_ROLE,
        ],
    )?
    .expect(0)?;
    let out = ctx.run(
        &fake,
        "eks-wait",
        &[
            "nodegroup",
            "--cluster-name",
            "c",
            "--nodegroup-name",
            "bad",
            "--waiter-delay",
            "0.1",
            "--waiter-max-attempts",
            "100",
        ],
    )?;
    let json = out.expect(4)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("CREATE_FAILED")),
        || format!("{json}"),
    )?;
    ensure(out.elapsed < Duration::from_secs(5), || {
        "did not fail fast".into()
    })?;
    let json = ctx
        .run(
            &fake,
            "eks-wait",
            &[
                "cluster",
                "--cluster-name",
                "missing",
                "--waiter-delay",
                "0.1",
            ],
        )?
        .expect(4)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("NONEXISTENT")),
        || format!("{json}"),
    )
}

fn wait_times_out(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(FakeEksConfig {
        cluster_create_time: Duration::from_secs(3600),
        ..fast()
    });
    ctx.run(
        &fake,
        "eks-create-cluster",
        &[
            "--cluster-name",
            "t",
            "--cluster-role-arn",
            ROLE,
            "--resources-vpc-config",
            VPC,
            "--compute",
            "none",
        ],
    )?
    .expect(0)?;
    let json = ctx
        .run(
            &fake,
            "eks-wait",
            &[
                "cluster",
                "--cluster-name",
                "t",
                "--waiter-delay",
                "0.05",
                "--waiter-max-attempts",
                "4",
            ],
        )?
        .expect(5)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("still CREATING after 4 polls")),
        || format!("{json}"),
    )
}

fn sigterm_stops_wait(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(FakeEksConfig {
        cluster_create_time: Duration::from_secs(3600),
        ..fast()
    });
    fake.seed_cluster("x", "CREATING");
    let env = env_for(&fake.uri(), &ctx.home);
    let mut running = proc::spawn(
        &ctx.bin("eks-wait"),
        &Ctx::args(&["cluster", "--cluster-name", "x", "--waiter-delay", "30"]),
        &env,
    )?;
    running.await_stderr("(poll 1/", LONG)?;
    let sent = Instant::now();
    running.signal("TERM")?;
    let out = running.finish(LONG)?;
    let json = out.expect(143)?;
    ensure(json["error"]["kind"] == "interrupted", || format!("{json}"))?;
    ensure(sent.elapsed() < Duration::from_secs(5), || {
        format!("took {:?} to stop", sent.elapsed())
    })
}

fn sigint_during_create(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(FakeEksConfig {
        cluster_create_time: Duration::from_secs(3600),
        ..fast()
    });
    let env = env_for(&fake.uri(), &ctx.home);
    let mut running = proc::spawn(
        &ctx.bin("eks-create-cluster"),
        &Ctx::args(&[
            "--cluster-name",
            "interrupted",
            "--cluster-role-arn",
            ROLE,
            "--resources-vpc-config",
            VPC,
            "--nodegroup-role-arn",
            NODE_ROLE,
            "--waiter-delay",
            "30",
        ]),
        &env,
    )?;
    running.await_stderr("(poll 1/", LONG)?;
    running.signal("INT")?;
    let json = running.finish(LONG)?.expect(130)?;
    ensure(
        json["error"]["left_behind"][0]["resource"] == "cluster/interrupted",
        || format!("left-behind cluster not reported: {json}"),
    )?;
    ensure(count(&fake, "CreateNodegroup") == 0, || {
        "nodegroup created after the signal".into()
    })
}

fn json_last_on_combined_stream(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    fake.fail_cluster("merged");
    let bin = ctx.bin("eks-create-cluster");
    let script = format!(
        "'{}' --cluster-name merged --cluster-role-arn {ROLE} --resources-vpc-config '{VPC}' --compute none --wait --waiter-delay 0.1 2>&1",
        bin.display()
    );
    let env = env_for(&fake.uri(), &ctx.home);
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .env_clear()
        .envs(env)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    let json: Value =
        serde_json::from_str(last).map_err(|e| format!("last line is not JSON ({e}): {last}"))?;
    ensure(
        json["error"]["kind"] == "resource_failed" && text.ends_with('\n'),
        || format!("{text}"),
    )?;
    ensure(
        text.lines().filter(|l| l.starts_with('{')).count() == 1,
        || format!("more than one JSON line:\n{text}"),
    )
}

fn broken_pipe(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    let bin = ctx.bin("eks-delete-cluster");
    // `true` exits at once, so the binary writes its JSON line into a closed pipe.
    let script = format!(
        "'{}' --cluster-name gone --if-missing ok 2>{}/stderr.txt | true; echo \"${{PIPESTATUS[0]}}\"",
        bin.display(),
        ctx.home.display()
    );
    let env = env_for(&fake.uri(), &ctx.home);
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env_clear()
        .envs(env)
        .output()
        .map_err(|e| e.to_string())?;
    let code = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = std::fs::read_to_string(ctx.home.join("stderr.txt")).unwrap_or_default();
    ensure(code == "0" && !stderr.contains("panicked"), || {
        format!("exit {code}, stderr:\n{stderr}")
    })
}

fn json_logs(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    let out = ctx.run(
        &fake,
        "eks-create-cluster",
        &with(
            &QUICK,
            &[
                "--cluster-name",
                "logs",
                "--cluster-role-arn",
                ROLE,
                "--resources-vpc-config",
                VPC,
                "--compute",
                "none",
                "--wait",
                "--log-format",
                "json",
            ],
        ),
    )?;
    out.expect(0)?;
    let lines: Vec<&str> = out.stderr.lines().collect();
    ensure(!lines.is_empty(), || "no logs".into())?;
    for line in lines {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("stderr line is not JSON ({e}): {line}"))?;
        ensure(v["level"].is_string() && v["message"].is_string(), || {
            format!("log line lacks level/message: {line}")
        })?;
    }
    Ok(())
}

fn no_secrets_verbose(ctx: &Ctx) -> Result<(), String> {
    let fake = ctx.fake(fast());
    // Outcome::json() fails on any secret in either stream.
    ctx.run(
        &fake,
        "eks-create-cluster",
        &with(
            &QUICK,
            &[
                "--cluster-name",
                "secret",
                "--cluster-role-arn",
                ROLE,
                "--resources-vpc-config",
                VPC,
                "--compute",
                "none",
                "--wait",
                "-vv",
            ],
        ),
    )?
    .expect(0)
    .map(|_| ())
}
