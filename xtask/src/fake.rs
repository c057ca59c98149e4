//! `cargo xtask fake`: the fake EKS on localhost until Ctrl-C, with the environment that
//! points our binaries, the aws CLI or boto3 at it.

use std::time::Duration;

use eks_testkit::{FakeEks, FakeEksConfig};

pub fn run(args: &[String]) -> Result<(), String> {
    let mut port: u16 = 4566;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--port" => {
                let value = iter.next().ok_or("fake: --port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("fake: --port: {value:?} is not a port number"))?;
            }
            other => {
                return Err(format!(
                    "fake: unknown option {other:?}; usage: cargo xtask fake [--port N]"
                ));
            }
        }
    }
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("fake: cannot listen on 127.0.0.1:{port}: {e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Lifecycles a person can watch: a cluster takes 10 s to become ACTIVE.
    let config = FakeEksConfig {
        cluster_create_time: Duration::from_secs(10),
        cluster_delete_time: Duration::from_secs(5),
        nodegroup_create_time: Duration::from_secs(5),
        nodegroup_delete_time: Duration::from_secs(5),
        fargate_create_time: Duration::from_secs(3),
        fargate_delete_time: Duration::from_secs(3),
        ..FakeEksConfig::default()
    };
    rt.block_on(async {
        let fake = FakeEks::start_on(listener, config).await;
        println!("fake EKS listening on {}", fake.uri());
        println!("\n# point our binaries, the aws CLI or boto3 at it:");
        println!("export AWS_ENDPOINT_URL_EKS={}", fake.uri());
        println!("export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=fake AWS_SECRET_ACCESS_KEY=fake");
        println!("\n# then, e.g.:");
        println!("eks-create-cluster --cluster-name demo --cluster-role-arn arn:aws:iam::123456789012:role/eks \\");
        println!("  --resources-vpc-config '{{\"subnetIds\":[\"subnet-1\",\"subnet-2\"]}}' --compute none --wait --waiter-delay 2");
        println!("aws eks list-clusters\n\nCtrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
        println!("\nfake EKS served {} request(s); stopping", fake.requests().len());
    });
    Ok(())
}
