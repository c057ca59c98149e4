//! e2e for `eks-pod`: the real binary against the fake EKS whose cluster endpoint is the fake
//! control plane (TLS, EKS token checks, a simulated kubelet running `sh -c` pods).

use std::sync::Arc;
use std::time::Duration;

use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use eks_testkit::kube::FakeKubeConfig;
use eks_testkit::{FakeEks, FakeEksConfig, FakeKube};
use serde_json::Value;

use crate::e2e::{Ctx, Scenario, ensure};
use crate::proc::{self, ACCESS_KEY_ID, SECRET_ACCESS_KEY, env_for};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        (
            "eks-pod: success, logs once each and in order, pod deleted",
            pod_succeeds,
        ),
        (
            "eks-pod: failure carries the exit code and termination message",
            pod_fails,
        ),
        (
            "eks-pod: image pull failure fails fast and cleans up",
            pod_image_pull_fails,
        ),
        (
            "eks-pod: log stream dropped three times, no line lost or repeated",
            pod_log_drops,
        ),
        (
            "eks-pod: --skip-on-exit-code exits 99; keep_pod and delete_succeeded_pod",
            pod_skip_and_keep,
        ),
        ("eks-pod: SIGTERM mid-run deletes the pod", pod_sigterm),
        (
            "eks-pod: tokens expiring during the run are replaced",
            pod_token_expiry,
        ),
        (
            "eks-pod: unschedulable pod and startup timeout fail fast and clean up",
            pod_cannot_start,
        ),
        (
            "eks-pod: a restarted task re-attaches to its running pod",
            pod_reattach,
        ),
        (
            "eks-pod: --do-xcom-push returns the JSON result through KPO's sidecar",
            pod_xcom,
        ),
        (
            "eks-pod: --container-logs all follows every container at once",
            pod_all_containers,
        ),
    ]
}

pub(crate) struct Plane {
    pub(crate) eks: FakeEks,
    pub(crate) kube: FakeKube,
}

pub(crate) fn plane(ctx: &Ctx, cluster: &str, token_lifetime: Duration) -> Result<Plane, String> {
    let mut config = AuthenticatorConfig::new(cluster, "us-east-1")
        .with_credential(ACCESS_KEY_ID, SECRET_ACCESS_KEY);
    config.token_lifetime = token_lifetime;
    let kube = ctx
        .rt
        .block_on(FakeKube::start_with(
            Arc::new(Authenticator::new(config)),
            FakeKubeConfig { time_scale: 0.05 },
        ))
        .map_err(|e| format!("fake control plane: {e}"))?;
    let eks = ctx.fake(FakeEksConfig {
        cluster_endpoint: Some(kube.endpoint()),
        cluster_ca_pem: Some(kube.ca_pem().to_owned()),
        ..FakeEksConfig::default()
    });
    eks.seed_cluster(cluster, "ACTIVE");
    Ok(Plane { eks, kube })
}

pub(crate) fn pod_args<'a>(script: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--cluster-name",
        "pods",
        "--image",
        "busybox:1.36",
        "--cmds",
        r#"["sh","-c"]"#,
        "--arguments",
        script,
        "--dag-id",
        "etl",
        "--task-id",
        "load",
        "--run-id",
        "manual__1",
    ];
    args.extend_from_slice(extra);
    args
}

/// The binaries' environment for this plane, polling fast to match the fake's time scale.
pub(crate) fn pod_env(ctx: &Ctx, plane: &Plane) -> Vec<(String, String)> {
    let mut env = env_for(&plane.eks.uri(), &ctx.home);
    env.push(("EKS_POD_POLL_INTERVAL".into(), "0.05".into()));
    env
}

fn run_pod(ctx: &Ctx, plane: &Plane, args: &[&str]) -> Result<proc::Outcome, String> {
    let env = pod_env(ctx, plane);
    proc::run(
        &ctx.bin("eks-pod"),
        &Ctx::args(args),
        &env,
        Duration::from_secs(60),
    )
}

fn base_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("[base] ").map(str::to_owned))
        .collect()
}

fn pods_left(plane: &Plane) -> Vec<Value> {
    plane.kube.pods("default")
}

/// Deletion honours the pod's grace period: await the fake letting the pod go.
pub(crate) fn await_no_pods(plane: &Plane) -> Result<(), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if plane.kube.pods("default").is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "pods left behind: {:?}",
        plane
            .kube
            .pods("default")
            .iter()
            .map(|p| p["metadata"]["name"].clone())
            .collect::<Vec<_>>()
    ))
}

fn pod_succeeds(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    let out = run_pod(
        ctx,
        &plane,
        &pod_args(r#"for i in $(seq 1 20); do echo "line $i"; done"#, &[]),
    )?;
    let json = out.expect(0)?;
    let expected: Vec<String> = (1..=20).map(|i| format!("line {i}")).collect();
    ensure(base_lines(&out.stderr) == expected, || {
        format!("log lines wrong:\n{}", out.stderr)
    })?;
    ensure(
        json["phase"] == "Succeeded" && json["containers"][0]["exit_code"] == 0,
        || format!("{json}"),
    )?;
    ensure(
        json["pod_name"]
            .as_str()
            .is_some_and(|n| n.starts_with("load-"))
            && json["pod_namespace"] == "default",
        || format!("{json}"),
    )?;
    ensure(json["deleted"] == true && json["log_lines"] == 20, || {
        format!("{json}")
    })?;
    await_no_pods(&plane)
}

fn pod_fails(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    let out = run_pod(
        ctx,
        &plane,
        &pod_args(
            "echo working; echo disk full > /dev/termination-log; exit 3",
            &["--log-events-on-failure"],
        ),
    )?;
    let json = out.expect(4)?;
    let result = &json["error"]["result"];
    ensure(
        result["phase"] == "Failed" && result["containers"][0]["exit_code"] == 3,
        || format!("{json}"),
    )?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("exited with 3") && m.contains("disk full")),
        || format!("{json}"),
    )?;
    ensure(
        out.stderr.contains("[base] working") && out.stderr.contains("event: "),
        || format!("logs or events missing:\n{}", out.stderr),
    )?;
    await_no_pods(&plane)
}

fn pod_image_pull_fails(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    let mut args = pod_args("echo never", &[]);
    args[3] = "registry.example/does-not-exist:1";
    let out = run_pod(ctx, &plane, &args)?;
    let json = out.expect(4)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("ErrImagePull") || m.contains("ImagePullBackOff")),
        || format!("{json}"),
    )?;
    ensure(out.elapsed < Duration::from_secs(20), || {
        "did not fail fast".into()
    })?;
    await_no_pods(&plane)
}

fn pod_log_drops(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    plane.kube.drop_log_streams_after(7, 3);
    let script = r#"for i in $(seq 1 60); do echo "n $i"; sleep 0.2; done"#;
    let out = run_pod(ctx, &plane, &pod_args(script, &[]))?;
    let json = out.expect(0)?;
    let expected: Vec<String> = (1..=60).map(|i| format!("n {i}")).collect();
    let got = base_lines(&out.stderr);
    ensure(got == expected, || {
        format!(
            "{} lines, first difference at {:?}",
            got.len(),
            got.iter().zip(&expected).position(|(a, b)| a != b)
        )
    })?;
    ensure(json["log_resumes"].as_u64().is_some_and(|r| r >= 3), || {
        format!("the stream was not resumed 3 times: {json}")
    })
}

fn pod_skip_and_keep(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    let json = run_pod(
        ctx,
        &plane,
        &pod_args("exit 42", &["--skip-on-exit-code", "42,43"]),
    )?
    .expect(99)?;
    ensure(
        json["error"]["kind"] == "skipped"
            && json["error"]["result"]["containers"][0]["exit_code"] == 42,
        || format!("{json}"),
    )?;
    let json = run_pod(
        ctx,
        &plane,
        &pod_args("echo kept", &["--on-finish-action", "keep_pod"]),
    )?
    .expect(0)?;
    ensure(json["deleted"] == false, || format!("{json}"))?;
    let pods = pods_left(&plane);
    let kept = pods
        .iter()
        .find(|p| p["metadata"]["name"] == json["pod_name"])
        .ok_or("the kept pod is gone")?;
    ensure(
        kept["metadata"]["labels"]["already_checked"] == "True",
        || format!("kept pod not marked: {}", kept["metadata"]["labels"]),
    )?;
    // delete_succeeded_pod: a failed pod stays for inspection (and is marked), a good one goes.
    let kept_before = pods_left(&plane).len();
    let failed = run_pod(
        ctx,
        &plane,
        &pod_args("exit 1", &["--on-finish-action", "delete_succeeded_pod"]),
    )?
    .expect(4)?;
    let name = failed["error"]["result"]["pod_name"].clone();
    let pods = pods_left(&plane);
    ensure(
        pods.iter().any(|p| {
            p["metadata"]["name"] == name && p["metadata"]["labels"]["already_checked"] == "True"
        }),
        || format!("the failed pod {name} was not kept and marked"),
    )?;
    let ok = run_pod(
        ctx,
        &plane,
        &pod_args("echo fine", &["--on-finish-action", "delete_succeeded_pod"]),
    )?
    .expect(0)?;
    ensure(ok["deleted"] == true, || format!("{ok}"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pods_left(&plane).len() > kept_before + 1 {
        ensure(std::time::Instant::now() < deadline, || {
            "the succeeded pod was not deleted".into()
        })?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn pod_sigterm(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    let env = pod_env(ctx, &plane);
    let mut running = proc::spawn(
        &ctx.bin("eks-pod"),
        &Ctx::args(&pod_args(r#"echo started; sleep 600"#, &[])),
        &env,
    )?;
    running.await_stderr("[base] started", Duration::from_secs(30))?;
    running.signal("TERM")?;
    let json = running.finish(Duration::from_secs(30))?.expect(143)?;
    ensure(json["error"]["kind"] == "interrupted", || format!("{json}"))?;
    await_no_pods(&plane)
}

fn pod_token_expiry(ctx: &Ctx) -> Result<(), String> {
    // Tokens expire after 1 s here; the pod's life spans several.
    let plane = plane(ctx, "pods", Duration::from_secs(1))?;
    let script = r#"for i in $(seq 1 40); do echo "t $i"; sleep 1; done"#;
    let out = run_pod(ctx, &plane, &pod_args(script, &[]))?;
    let json = out.expect(0)?;
    let expected: Vec<String> = (1..=40).map(|i| format!("t {i}")).collect();
    ensure(base_lines(&out.stderr) == expected, || {
        format!("log lines wrong:\n{}", out.stderr)
    })?;
    ensure(plane.kube.unauthorized_count() >= 1, || {
        "no token expired during the run: the scenario proves nothing".into()
    })?;
    ensure(json["deleted"] == true, || format!("{json}"))?;
    await_no_pods(&plane)
}

fn pod_cannot_start(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    let unschedulable = [
        "--node-selector",
        "eks-fake/unschedulable=true",
        "--log-events-on-failure",
    ];
    let json = run_pod(
        ctx,
        &plane,
        &pod_args(
            "echo never",
            &[&unschedulable[..], &["--schedule-timeout-seconds", "1"]].concat(),
        ),
    )?
    .expect(4)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot be scheduled")),
        || format!("{json}"),
    )?;
    await_no_pods(&plane)?;
    let json = run_pod(
        ctx,
        &plane,
        &pod_args(
            "echo never",
            &[
                &unschedulable[..],
                &[
                    "--schedule-timeout-seconds",
                    "100",
                    "--startup-timeout-seconds",
                    "1",
                ],
            ]
            .concat(),
        ),
    )?
    .expect(5)?;
    ensure(json["error"]["kind"] == "timeout", || format!("{json}"))?;
    await_no_pods(&plane)
}

fn pod_reattach(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    let env = pod_env(ctx, &plane);
    let script = r#"for i in $(seq 1 30); do echo "r $i"; sleep 1; done"#;
    let args = pod_args(script, &["--try-number", "1"]);
    let mut first = proc::spawn(&ctx.bin("eks-pod"), &Ctx::args(&args), &env)?;
    first.await_stderr("[base] r 2", Duration::from_secs(30))?;
    // The worker dies without a chance to clean up, as when a node is lost.
    first.signal("KILL")?;
    ctx.lose_worker(&first)?;
    let _ = first.finish(Duration::from_secs(10));
    let running = plane.kube.pods("default");
    ensure(running.len() == 1, || {
        format!("expected the orphan pod, found {}", running.len())
    })?;
    let retry = pod_args(script, &["--try-number", "2"]);
    let out = run_pod(ctx, &plane, &retry)?;
    let json = out.expect(0)?;
    ensure(
        json["reattached"] == true && json["pod_name"] == running[0]["metadata"]["name"],
        || format!("{json}"),
    )?;
    let creates = plane
        .kube
        .requests()
        .iter()
        .filter(|c| c.method == "POST")
        .count();
    ensure(creates == 1, || {
        format!("{creates} pods created; the retry should have created none")
    })?;
    let lines = base_lines(&out.stderr);
    ensure(lines.last().map(String::as_str) == Some("r 30"), || {
        format!("the re-attached run did not follow to the end: {lines:?}")
    })?;
    await_no_pods(&plane)
}

fn pod_xcom(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    let script = r#"echo computing; echo '{"rows": 3, "ok": true}' > /airflow/xcom/return.json"#;
    let json = run_pod(ctx, &plane, &pod_args(script, &["--do-xcom-push"]))?.expect(0)?;
    ensure(
        json["return_value"] == serde_json::json!({"rows": 3, "ok": true}),
        || format!("{json}"),
    )?;
    ensure(
        json["phase"] == "Succeeded" && json["containers"].as_array().map(Vec::len) == Some(1),
        || format!("the sidecar is not the task's business: {json}"),
    )?;
    await_no_pods(&plane)?;
    let json = run_pod(
        ctx,
        &plane,
        &pod_args("printf '' > /airflow/xcom/return.json", &["--do-xcom-push"]),
    )?
    .expect(0)?;
    ensure(
        json["return_value"].is_null() && json.get("return_value").is_some(),
        || format!("an empty file must be null: {json}"),
    )?;
    await_no_pods(&plane)?;
    let json = run_pod(
        ctx,
        &plane,
        &pod_args(
            "echo not-json > /airflow/xcom/return.json",
            &["--do-xcom-push"],
        ),
    )?
    .expect(4)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/airflow/xcom/return.json") && m.contains("not JSON")),
        || format!("{json}"),
    )?;
    await_no_pods(&plane)
}

fn pod_all_containers(ctx: &Ctx) -> Result<(), String> {
    let plane = plane(ctx, "pods", Duration::from_secs(900))?;
    // The template's first container becomes the base container; the helper runs beside it.
    let spec = serde_json::json!({"spec": {"containers": [
        {"name": "main", "image": "busybox:1.36"},
        {"name": "helper", "image": "busybox:1.36", "command": ["sh", "-c", r#"for i in $(seq 1 8); do echo "h $i"; sleep 1; done"#]},
    ]}}).to_string();
    let script = r#"for i in $(seq 1 8); do echo "b $i"; sleep 1; done"#;
    let out = run_pod(
        ctx,
        &plane,
        &pod_args(
            script,
            &["--full-pod-spec", &spec, "--container-logs", "all"],
        ),
    )?;
    out.expect(0)?;
    let of = |prefix: &str| -> Vec<String> {
        out.stderr
            .lines()
            .filter_map(|l| l.strip_prefix(prefix).map(str::to_owned))
            .collect()
    };
    let expected = |tag: &str| -> Vec<String> { (1..=8).map(|i| format!("{tag} {i}")).collect() };
    ensure(
        of("[base] ") == expected("b") && of("[helper] ") == expected("h"),
        || format!("lines wrong:\n{}", out.stderr),
    )?;
    // At once, not one after the other: the helper's first line comes before the base's last.
    let position = |needle: &str| out.stderr.find(needle).unwrap_or(usize::MAX);
    ensure(position("[helper] h 1") < position("[base] b 8"), || {
        format!("containers followed one after another:\n{}", out.stderr)
    })?;
    await_no_pods(&plane)
}
