//! `cargo xtask e2e --cluster`: `eks-pod` against a real Kubernetes API server and kubelet.
//!
//! k3s rather than kind: one container, no nested node image or kind binary to fetch, and
//! the API server's flags are plain arguments. It runs from the Docker CLI (printed, like
//! every command xtask runs) rather than the testcontainers crate, which would bring a second
//! HTTP/TLS stack into the workspace for one container.
//!
//! The cluster must accept the EKS tokens our client sends, so its API server authenticates
//! bearer tokens through a webhook (`--authentication-token-webhook-config-file`) that this
//! harness serves: each TokenReview is checked by the same fake authenticator the fake
//! control plane uses (prefix, STS host, parameters, cluster id, age, SigV4 signature). The
//! fake EKS then reports the k3s API server as the cluster's endpoint, with its CA, so the
//! whole path runs: DescribeCluster, token, TLS, pods, logs, exec.
//!
//! Where Docker or the k3s image is not available (no registry here), the tier says so in one
//! line and fails: it is never counted as passed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eks_testkit::FakeEksConfig;
use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use serde_json::{Value, json};

use crate::e2e::{Ctx, ensure};
use crate::proc::{self, ACCESS_KEY_ID, SECRET_ACCESS_KEY, env_for};

const IMAGE: &str = "rancher/k3s:v1.31.4-k3s1";
const CONTAINER: &str = "eks-operators-e2e-k3s";
const API_PORT: u16 = 16443;
const CLUSTER: &str = "pods";

/// Run a command, printing it; its stdout on success.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    println!("$ {program} {}", args.join(" "));
    crate::image::output(program, args)
}

/// Docker and the image, or the one line that says why this tier cannot run.
fn prerequisites() -> Result<(), String> {
    if let Err(e) = run("docker", &["version", "--format", "{{.Server.Version}}"]) {
        return Err(format!(
            "e2e --cluster cannot run here: Docker is not available ({e})"
        ));
    }
    if run(
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", IMAGE],
    )
    .is_ok()
    {
        return Ok(());
    }
    run("docker", &["pull", IMAGE]).map(|_| ()).map_err(|e| {
        format!("e2e --cluster cannot run here: the image {IMAGE} is not present and cannot be pulled ({e})")
    })
}

/// The token webhook: answers each TokenReview with the fake authenticator's verdict. Admin
/// rights (`system:masters`) for an accepted token, as an EKS access entry would grant.
fn serve_webhook(listener: TcpListener, authenticator: Arc<Authenticator>) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let authenticator = authenticator.clone();
            std::thread::spawn(move || {
                let _ = answer_review(stream, &authenticator);
            });
        }
    });
}

fn answer_review(
    mut stream: std::net::TcpStream,
    authenticator: &Authenticator,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let body = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        data.extend_from_slice(&buf[..n]);
        let Some(head_end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if data.len() >= head_end + 4 + length {
            break data[head_end + 4..head_end + 4 + length].to_vec();
        }
    };
    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let token = review["spec"]["token"].as_str().unwrap_or_default();
    let status = match authenticator.verify(token) {
        Ok(identity) => json!({
            "authenticated": true,
            "user": {"username": identity.arn, "uid": identity.access_key_id, "groups": ["system:masters", "system:authenticated"]},
        }),
        Err(rejection) => json!({"authenticated": false, "error": rejection.to_string()}),
    };
    let answer = json!({
        "apiVersion": review["apiVersion"].as_str().unwrap_or("authentication.k8s.io/v1"),
        "kind": "TokenReview",
        "status": status,
    })
    .to_string();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )
}

/// The running k3s container; removed when dropped.
struct K3s;

impl Drop for K3s {
    fn drop(&mut self) {
        let _ = run("docker", &["rm", "-f", CONTAINER]);
    }
}

impl K3s {
    fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["exec", CONTAINER, "kubectl"];
        all.extend_from_slice(args);
        run("docker", &all)
    }

    fn pods(&self) -> Result<Vec<Value>, String> {
        let list: Value =
            serde_json::from_str(&self.kubectl(&["get", "pods", "-n", "default", "-o", "json"])?)
                .map_err(|e| format!("kubectl get pods: {e}"))?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    fn await_no_pods(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if self.pods()?.is_empty() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        Err("pods left behind on the cluster".into())
    }
}

fn start_k3s(dir: &Path, webhook_port: u16) -> Result<K3s, String> {
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: eks-authenticator\n  cluster:\n    server: http://127.0.0.1:{webhook_port}/authenticate\nusers:\n- name: kube-apiserver\n  user: {{}}\ncontexts:\n- name: webhook\n  context:\n    cluster: eks-authenticator\n    user: kube-apiserver\ncurrent-context: webhook\n"
    );
    std::fs::write(dir.join("webhook.yaml"), config).map_err(|e| e.to_string())?;
    let _ = run("docker", &["rm", "-f", CONTAINER]);
    let mount = format!("{}:/etc/eks-e2e:ro", dir.display());
    let port = API_PORT.to_string();
    run(
        "docker",
        &[
            "run",
            "-d",
            "--privileged",
            "--network",
            "host",
            "--name",
            CONTAINER,
            "-v",
            &mount,
            IMAGE,
            "server",
            "--disable=traefik",
            "--disable=metrics-server",
            "--https-listen-port",
            &port,
            "--kube-apiserver-arg=authentication-token-webhook-config-file=/etc/eks-e2e/webhook.yaml",
            "--kube-apiserver-arg=authentication-token-webhook-version=v1",
        ],
    )?;
    let k3s = K3s;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let ready = k3s
            .kubectl(&["get", "--raw", "/readyz"])
            .is_ok_and(|s| s.trim() == "ok")
            && k3s
                .kubectl(&["-n", "default", "get", "serviceaccount", "default"])
                .is_ok();
        if ready {
            return Ok(k3s);
        }
        if Instant::now() > deadline {
            return Err("k3s did not become ready within 3 minutes".into());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

pub fn run_tier(ctx: &Ctx) -> Result<(), String> {
    prerequisites()?;
    let dir = ctx.home.join("k3s");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let authenticator = Arc::new(Authenticator::new(
        AuthenticatorConfig::new(CLUSTER, "us-east-1")
            .with_credential(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
    ));
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| e.to_string())?;
    let webhook_port = listener.local_addr().map_err(|e| e.to_string())?.port();
    serve_webhook(listener, authenticator);
    let k3s = start_k3s(&dir, webhook_port)?;
    let ca = run(
        "docker",
        &[
            "exec",
            CONTAINER,
            "cat",
            "/var/lib/rancher/k3s/server/tls/server-ca.crt",
        ],
    )?;
    let eks = ctx.fake(FakeEksConfig {
        cluster_endpoint: Some(format!("https://127.0.0.1:{API_PORT}")),
        cluster_ca_pem: Some(ca),
        ..FakeEksConfig::default()
    });
    eks.seed_cluster(CLUSTER, "ACTIVE");
    let env = env_for(&eks.uri(), &ctx.home);
    let pod = |script: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "--cluster-name",
            CLUSTER,
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
            "cluster-tier",
            "--startup-timeout-seconds",
            "300",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let bin = ctx.bin("eks-pod");
    let timeout = Duration::from_secs(400);
    let (mut passed, mut failed) = (0, Vec::new());
    let mut check = |name: &str, result: Result<(), String>| match result {
        Ok(()) => {
            passed += 1;
            println!("  ok   {name}");
        }
        Err(e) => {
            println!("  FAIL {name}\n       {e}");
            failed.push(name.to_owned());
        }
    };

    let out = proc::run(
        &bin,
        &pod(r#"for i in $(seq 1 20); do echo "line $i"; done"#, &[]),
        &env,
        timeout,
    );
    check(
        "real cluster: success, logs in order, pod deleted",
        out.and_then(|out| {
            let json = out.expect(0)?;
            let lines: Vec<&str> = out
                .stderr
                .lines()
                .filter_map(|l| l.strip_prefix("[base] "))
                .collect();
            let expected: Vec<String> = (1..=20).map(|i| format!("line {i}")).collect();
            ensure(lines == expected, || format!("log lines wrong: {lines:?}"))?;
            ensure(json["phase"] == "Succeeded", || format!("{json}"))?;
            k3s.await_no_pods()
        }),
    );
    let out = proc::run(
        &bin,
        &pod("echo disk full > /dev/termination-log; exit 3", &[]),
        &env,
        timeout,
    );
    check(
        "real cluster: failure carries exit code and termination message",
        out.and_then(|out| {
            let json = out.expect(4)?;
            ensure(
                json["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("exited with 3") && m.contains("disk full")),
                || format!("{json}"),
            )?;
            k3s.await_no_pods()
        }),
    );
    let out = proc::run(
        &bin,
        &pod(
            r#"echo '{"rows": 3}' > /airflow/xcom/return.json"#,
            &["--do-xcom-push"],
        ),
        &env,
        timeout,
    );
    check(
        "real cluster: XCom through the sidecar",
        out.and_then(|out| {
            let json = out.expect(0)?;
            ensure(json["return_value"] == json!({"rows": 3}), || {
                format!("{json}")
            })?;
            k3s.await_no_pods()
        }),
    );
    let mut image = pod("echo never", &[]);
    image[3] = "registry.invalid/does-not-exist:1".into();
    let out = proc::run(&bin, &image, &env, timeout);
    check(
        "real cluster: image pull failure fails fast",
        out.and_then(|out| {
            out.expect(4)?;
            k3s.await_no_pods()
        }),
    );
    let sigterm =
        proc::spawn(&bin, &pod("echo started; sleep 600", &[]), &env).and_then(|mut running| {
            running.await_stderr("[base] started", timeout)?;
            running.signal("TERM")?;
            running.finish(timeout)?.expect(143)?;
            k3s.await_no_pods()
        });
    check("real cluster: SIGTERM deletes the pod", sigterm);
    drop(k3s);
    println!("e2e --cluster: {passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("e2e --cluster failed: {}", failed.join("; ")))
    }
}
