//! `cargo xtask demo`: the main job, end to end, on the built-in fake EKS: create a cluster
//! with a nodegroup and wait, show it, delete it with --force, printing each step's command
//! and its JSON line.

use std::path::Path;
use std::time::Duration;

use eks_testkit::FakeEksConfig;

use crate::e2e::{Ctx, NODE_ROLE, ROLE, VPC};

pub fn run(root: &Path) -> Result<(), String> {
    crate::cmd(root, "cargo", &["build", "--workspace", "--bins"])?;
    let ctx = Ctx::new(root)?;
    let fake = ctx.fake(FakeEksConfig {
        cluster_create_time: Duration::from_secs(3),
        cluster_delete_time: Duration::from_secs(2),
        nodegroup_create_time: Duration::from_secs(2),
        nodegroup_delete_time: Duration::from_secs(2),
        ..FakeEksConfig::default()
    });
    println!(
        "\nfake EKS at {} (AWS_ENDPOINT_URL points the binaries there)\n",
        fake.uri()
    );
    let steps: [(&str, &str, Vec<&str>); 4] = [
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
            "4. delete it, nodegroup first (--force), and wait until it is gone",
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
        "demo done: {} API calls reached the fake EKS",
        fake.requests().len()
    );
    Ok(())
}
