//! e2e for cluster authentication: `eks-token` checked by the fake authenticator, and kubectl
//! going through a kubeconfig written by `eks-kubeconfig`, the exec plugin and TLS to the fake
//! Kubernetes API, which verifies every token the way EKS does.

use std::path::Path;
use std::sync::Arc;

use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use eks_testkit::{FakeEks, FakeEksConfig, FakeKube};
use serde_json::Value;

use crate::e2e::{Ctx, Scenario, ensure};
use crate::proc::{self, ACCESS_KEY_ID, SECRET_ACCESS_KEY, env_for};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        (
            "eks-token: ExecCredential accepted by the fake authenticator",
            token_is_accepted,
        ),
        (
            "eks-token: KUBERNETES_EXEC_INFO, cache and bad input",
            token_exec_info_and_cache,
        ),
        (
            "kubectl through eks-kubeconfig, eks-token and TLS to the fake API",
            kubectl_end_to_end,
        ),
        (
            "eks-kubeconfig keeps a corrupt or unwritable kubeconfig intact",
            kubeconfig_refuses_damage,
        ),
    ]
}

fn authenticator(cluster: &str) -> Authenticator {
    Authenticator::new(
        AuthenticatorConfig::new(cluster, "us-east-1")
            .with_credential(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
    )
}

/// A run of `bin` with the test credentials and no EKS endpoint (tokens need none).
fn run(
    ctx: &Ctx,
    bin: &str,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Result<proc::Outcome, String> {
    let mut env = env_for("", &ctx.home);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    proc::run(
        &ctx.bin(bin),
        &Ctx::args(args),
        &env,
        std::time::Duration::from_secs(30),
    )
}

fn one_json_line(out: &proc::Outcome) -> Result<Value, String> {
    let lines: Vec<&str> = out.stdout.lines().collect();
    ensure(lines.len() == 1, || {
        format!(
            "{}: expected one stdout line, got {:?}",
            out.command, out.stdout
        )
    })?;
    serde_json::from_str(lines[0]).map_err(|e| format!("{}: not JSON ({e})", out.command))
}

fn token_is_accepted(ctx: &Ctx) -> Result<(), String> {
    let out = run(
        ctx,
        "eks-token",
        &["--cluster-name", "tok", "--no-cache"],
        &[],
    )?;
    ensure(out.code() == Some(0), || {
        format!("exit {:?}: {}", out.code(), out.stderr)
    })?;
    let cred = one_json_line(&out)?;
    ensure(
        cred["kind"] == "ExecCredential"
            && cred["apiVersion"] == "client.authentication.k8s.io/v1beta1",
        || format!("{cred}"),
    )?;
    let expires = cred["status"]["expirationTimestamp"]
        .as_str()
        .unwrap_or_default();
    let rfc3339_seconds =
        expires.len() == 20 && expires.ends_with('Z') && expires.as_bytes()[10] == b'T';
    ensure(rfc3339_seconds, || {
        format!("expirationTimestamp {expires:?} is not RFC 3339 UTC to the second")
    })?;
    let token = cred["status"]["token"].as_str().unwrap_or_default();
    authenticator("tok")
        .verify(token)
        .map_err(|r| format!("the authenticator refused the token: {r}"))?;
    // A token for another cluster must not pass.
    ensure(authenticator("other").verify(token).is_err(), || {
        "token accepted for the wrong cluster".into()
    })?;
    ensure(
        !out.stderr.contains(token) && !out.stderr.contains(SECRET_ACCESS_KEY),
        || "a secret reached stderr".into(),
    )?;
    let bare = run(
        ctx,
        "eks-token",
        &["--cluster-name", "tok", "--no-cache", "--output", "token"],
        &[],
    )?;
    ensure(
        bare.stdout.trim().starts_with("k8s-aws-v1.") && bare.stdout.lines().count() == 1,
        || format!("--output token: {}", bare.stdout),
    )
}

fn token_exec_info_and_cache(ctx: &Ctx) -> Result<(), String> {
    let cache = ctx.home.join("token-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let cache_arg = cache.display().to_string();
    let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
    let first = run(
        ctx,
        "eks-token",
        &[
            "--cluster-name",
            "c",
            "--cache-dir",
            &cache_arg,
            "--output",
            "json",
        ],
        &[("KUBERNETES_EXEC_INFO", v1)],
    )?;
    let json = one_json_line(&first)?;
    ensure(
        json["from_cache"] == false && json["schema_version"] == 1,
        || format!("{json}"),
    )?;
    let cred = one_json_line(&run(
        ctx,
        "eks-token",
        &["--cluster-name", "c", "--cache-dir", &cache_arg],
        &[("KUBERNETES_EXEC_INFO", v1)],
    )?)?;
    ensure(
        cred["apiVersion"] == "client.authentication.k8s.io/v1",
        || format!("KUBERNETES_EXEC_INFO not followed: {cred}"),
    )?;
    ensure(cred["status"]["token"] == json["token"], || {
        "the cached token was not reused".into()
    })?;
    let files: Vec<_> = std::fs::read_dir(&cache)
        .map_err(|e| e.to_string())?
        .flatten()
        .collect();
    use std::os::unix::fs::PermissionsExt;
    ensure(
        files.len() == 1
            && files[0]
                .metadata()
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
                == Some(0o600),
        || "cache file not one 0600 file".into(),
    )?;
    let other = one_json_line(&run(
        ctx,
        "eks-token",
        &[
            "--cluster-name",
            "d",
            "--cache-dir",
            &cache_arg,
            "--output",
            "json",
        ],
        &[],
    )?)?;
    ensure(other["from_cache"] == false, || {
        "a token cached for another cluster was reused".into()
    })?;
    let bad = run(
        ctx,
        "eks-token",
        &["--cluster-name", "c", "--no-cache"],
        &[("KUBERNETES_EXEC_INFO", "{broken")],
    )?;
    let json = bad.expect(2)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("KUBERNETES_EXEC_INFO")),
        || format!("{json}"),
    )?;
    let missing = run(ctx, "eks-token", &["--no-cache"], &[])?.expect(2)?;
    ensure(
        missing["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--cluster-name")),
        || format!("{missing}"),
    )
}

/// The fake EKS serving one ACTIVE cluster whose endpoint and CA are the fake Kubernetes API's.
fn cluster_with_api(ctx: &Ctx, name: &str) -> Result<(FakeEks, FakeKube), String> {
    let kube = ctx
        .rt
        .block_on(FakeKube::start(Arc::new(authenticator(name))))
        .map_err(|e| format!("fake Kubernetes API: {e}"))?;
    let eks = ctx.fake(FakeEksConfig {
        cluster_endpoint: Some(kube.endpoint()),
        cluster_ca_pem: Some(kube.ca_pem().to_owned()),
        ..FakeEksConfig::default()
    });
    eks.seed_cluster(name, "ACTIVE");
    Ok((eks, kube))
}

fn kubectl_end_to_end(ctx: &Ctx) -> Result<(), String> {
    let Some(kubectl) = find_on_path("kubectl") else {
        // .ci/run installs it; a machine without it cannot run this scenario.
        return Err(
            "kubectl is not installed (apt-get install kubernetes-client); .ci/run installs it"
                .into(),
        );
    };
    let (eks, kube) = cluster_with_api(ctx, "kdemo")?;
    let config = ctx.home.join("kubeconfig-e2e");
    let _ = std::fs::remove_file(&config);
    let config_arg = config.display().to_string();
    let out = ctx.run(
        &eks,
        "eks-kubeconfig",
        &[
            "--cluster-name",
            "kdemo",
            "--kubeconfig",
            &config_arg,
            "--namespace",
            "team",
        ],
    )?;
    let json = out.expect(0)?;
    ensure(
        json["written"] == true && json["current_context_set"] == true,
        || format!("{json}"),
    )?;
    ensure(
        json["context"]
            .as_str()
            .is_some_and(|c| c.ends_with(":cluster/kdemo")),
        || format!("{json}"),
    )?;

    // kubectl finds eks-token on PATH, as a user's shell would.
    let mut env = env_for("", &ctx.home);
    let path = format!(
        "{}:{}",
        ctx.bins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    env.retain(|(k, _)| k != "PATH");
    env.push(("PATH".into(), path));
    let version = proc::run(
        &kubectl,
        &Ctx::args(&["--kubeconfig", &config_arg, "get", "--raw", "/version"]),
        &env,
        std::time::Duration::from_secs(60),
    )?;
    ensure(
        version.code() == Some(0) && version.stdout.contains("gitVersion"),
        || {
            format!(
                "kubectl get --raw /version: exit {:?}\n{}{}",
                version.code(),
                version.stdout,
                version.stderr
            )
        },
    )?;
    let pods = proc::run(
        &kubectl,
        &Ctx::args(&["--kubeconfig", &config_arg, "get", "pods", "-o", "json"]),
        &env,
        std::time::Duration::from_secs(60),
    )?;
    ensure(
        pods.code() == Some(0) && pods.stdout.contains("\"items\""),
        || {
            format!(
                "kubectl get pods: exit {:?}\n{}{}",
                pods.code(),
                pods.stdout,
                pods.stderr
            )
        },
    )?;
    let calls = kube.requests();
    ensure(!calls.is_empty() && kube.unauthorized_count() == 0, || {
        format!(
            "{} calls, {} refused",
            calls.len(),
            kube.unauthorized_count()
        )
    })?;
    ensure(
        calls.iter().any(|c| {
            c.path_and_query()
                .starts_with("/api/v1/namespaces/team/pods")
        }),
        || "the context's namespace was not used".into(),
    )
}

fn kubeconfig_refuses_damage(ctx: &Ctx) -> Result<(), String> {
    let (eks, _kube) = cluster_with_api(ctx, "safe")?;
    let corrupt = ctx.home.join("kubeconfig-corrupt");
    let text = "apiVersion: v1\nclusters: [unclosed\n";
    std::fs::write(&corrupt, text).map_err(|e| e.to_string())?;
    let arg = corrupt.display().to_string();
    let json = ctx
        .run(
            &eks,
            "eks-kubeconfig",
            &["--cluster-name", "safe", "--kubeconfig", &arg],
        )?
        .expect(2)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("left untouched")),
        || format!("{json}"),
    )?;
    ensure(
        std::fs::read_to_string(&corrupt).ok().as_deref() == Some(text),
        || "the corrupt kubeconfig was changed".into(),
    )?;
    ensure(eks.requests().is_empty(), || {
        "an API call was made before the file was checked".into()
    })?;

    let locked = ctx.home.join("locked-dir");
    let _ = std::fs::create_dir_all(&locked);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500))
        .map_err(|e| e.to_string())?;
    let target = locked.join("config");
    let out = ctx.run(
        &eks,
        "eks-kubeconfig",
        &[
            "--cluster-name",
            "safe",
            "--kubeconfig",
            &target.display().to_string(),
        ],
    );
    let _ = std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700));
    // root ignores directory permissions; then the write succeeds and there is nothing to check.
    if !running_as_root() {
        let json = out?.expect(2)?;
        ensure(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("cannot write")),
            || format!("{json}"),
        )?;
    }
    // A parent that is a file cannot become a directory, whoever runs this (root included).
    let blocker = ctx.home.join("not-a-dir");
    std::fs::write(&blocker, "x").map_err(|e| e.to_string())?;
    let json = ctx
        .run(
            &eks,
            "eks-kubeconfig",
            &[
                "--cluster-name",
                "safe",
                "--kubeconfig",
                &blocker.join("config").display().to_string(),
            ],
        )?
        .expect(2)?;
    ensure(
        json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not-a-dir/config") && m.contains("Not a directory")),
        || format!("{json}"),
    )?;

    let dry = ctx.home.join("kubeconfig-dry");
    let _ = std::fs::remove_file(&dry);
    let json = ctx
        .run(
            &eks,
            "eks-kubeconfig",
            &[
                "--cluster-name",
                "safe",
                "--kubeconfig",
                &dry.display().to_string(),
                "--dry-run",
            ],
        )?
        .expect(0)?;
    ensure(
        json["written"] == false
            && json["yaml"]
                .as_str()
                .is_some_and(|y| y.contains("eks-token")),
        || format!("{json}"),
    )?;
    ensure(!dry.exists(), || "--dry-run wrote the file".into())
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| Path::new(p).is_file())
    })
}
