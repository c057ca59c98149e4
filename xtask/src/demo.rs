//! `cargo xtask demo`: the main job, end to end, on the built-in fakes: create a cluster
//! with a nodegroup and wait, check it, run a pod on it, delete it with --force, printing each
//! step's command and its JSON line.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use eks_testkit::kube::FakeKubeConfig;
use eks_testkit::{FakeEksConfig, FakeKube};

use crate::e2e::{Ctx, NODE_ROLE, ROLE, VPC};
use crate::proc::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};

pub fn run(root: &Path) -> Result<(), String> {
    crate::cmd(root, "cargo", &["build", "--workspace", "--bins"])?;
    let ctx = Ctx::new(root)?;
    // The cluster's API server is the fake control plane: TLS with its own CA, EKS tokens
    // checked as EKS checks them, pods run by a simulated kubelet.
    let authenticator = Authenticator::new(
        AuthenticatorConfig::new("demo", "us-east-1")
            .with_credential(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
    );
    let kube = ctx
        .rt
        .block_on(FakeKube::start_with(
            Arc::new(authenticator),
            FakeKubeConfig { time_scale: 0.2 },
        ))
        .map_err(|e| format!("fake control plane: {e}"))?;
    let fake = ctx.fake(FakeEksConfig {
        cluster_create_time: Duration::from_secs(3),
        cluster_delete_time: Duration::from_secs(2),
        nodegroup_create_time: Duration::from_secs(2),
        nodegroup_delete_time: Duration::from_secs(2),
        cluster_endpoint: Some(kube.endpoint()),
        cluster_ca_pem: Some(kube.ca_pem().to_owned()),
        ..FakeEksConfig::default()
    });
    println!(
        "\nfake EKS at {} (AWS_ENDPOINT_URL_EKS points the binaries there); its clusters' API server: {}\n",
        fake.uri(),
        kube.endpoint()
    );
    let steps: [(&str, &str, Vec<&str>); 5] = [
        (
            "1. create a cluster with a managed nodegroup, and wait for both",
            "eks-create-cluster",
            vec![
                "--cluster-name",
                "demo",
                "--cluster-role-arn",
                ROLE,
                "--resources-vpc-config",
                VPC,
                "--kubernetes-version",
                "1.31",
                "--nodegroup-name",
                "workers",
                "--nodegroup-role-arn",
                NODE_ROLE,
                "--create-nodegroup-kwargs",
                r#"{"scalingConfig":{"minSize":1,"maxSize":3,"desiredSize":2}}"#,
                "--wait-for-completion",
                "--waiter-delay",
                "1",
            ],
        ),
        (
            "2. check it is ACTIVE, as a sensor would",
            "eks-wait",
            vec!["cluster", "--cluster-name", "demo", "--waiter-delay", "1"],
        ),
        (
            "3. check its nodegroup, as a sensor would",
            "eks-wait",
            vec![
                "nodegroup",
                "--cluster-name",
                "demo",
                "--nodegroup-name",
                "workers",
                "--waiter-delay",
                "1",
            ],
        ),
        (
            "4. run a pod on it: its log on stderr, the outcome on stdout, the pod cleaned up",
            "eks-pod",
            vec![
                "--cluster-name",
                "demo",
                "--name",
                "hello",
                "--image",
                "busybox:1.36",
                "--cmds",
                r#"["sh","-c"]"#,
                "--arguments",
                r#"for i in $(seq 1 5); do echo "hello from the pod, line $i"; sleep 0.5; done"#,
            ],
        ),
        (
            "5. delete it, nodegroup first (--force), and wait until it is gone",
            "eks-delete-cluster",
            vec![
                "--cluster-name",
                "demo",
                "--force",
                "--wait",
                "--waiter-delay",
                "1",
            ],
        ),
    ];
    for (title, bin, args) in steps {
        println!("== {title}");
        println!(
            "$ {}",
            crate::proc::display(&ctx.bin(bin), &Ctx::args(&args))
        );
        let out = ctx.run(&fake, bin, &args)?;
        print!(
            "{}",
            crate::proc::tail(&out.stderr, 12)
                .lines()
                .map(|l| format!("  stderr| {l}\n"))
                .collect::<String>()
        );
        println!("  stdout| {}", out.stdout.trim());
        println!(
            "  exit {} in {:.1}s\n",
            out.code().unwrap_or(-1),
            out.elapsed.as_secs_f64()
        );
        out.expect(0)?;
    }
    println!(
        "demo done: {} EKS API calls and {} Kubernetes API calls reached the fakes",
        fake.requests().len(),
        kube.requests().len()
    );
    Ok(())
}
