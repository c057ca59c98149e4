//! `cargo xtask fake`: the fake EKS and the fake control plane on localhost until Ctrl-C,
//! with the environment that points our binaries, the aws CLI, boto3 or kubectl at them.

use std::sync::Arc;
use std::time::Duration;

use eks_testkit::authenticator::{Authenticator, AuthenticatorConfig};
use eks_testkit::kube::FakeKubeConfig;
use eks_testkit::{FakeEks, FakeEksConfig, FakeKube};

/// The one cluster whose tokens the fake control plane accepts (a token names its cluster).
const CLUSTER: &str = "demo";
const ACCESS_KEY_ID: &str = "fake";
const SECRET_ACCESS_KEY: &str = "fake";

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
    rt.block_on(async {
        let authenticator = Authenticator::new(
            AuthenticatorConfig::new(CLUSTER, "us-east-1").with_credential(ACCESS_KEY_ID, SECRET_ACCESS_KEY),
        );
        let kube = FakeKube::start_with(Arc::new(authenticator), FakeKubeConfig::default())
            .await
            .map_err(|e| format!("fake control plane: {e}"))?;
        // Lifecycles a person can watch: a cluster takes 10 s to become ACTIVE.
        let config = FakeEksConfig {
            cluster_create_time: Duration::from_secs(10),
            cluster_delete_time: Duration::from_secs(5),
            nodegroup_create_time: Duration::from_secs(5),
            nodegroup_delete_time: Duration::from_secs(5),
            fargate_create_time: Duration::from_secs(3),
            fargate_delete_time: Duration::from_secs(3),
            cluster_endpoint: Some(kube.endpoint()),
            cluster_ca_pem: Some(kube.ca_pem().to_owned()),
            ..FakeEksConfig::default()
        };
        let fake = FakeEks::start_on(listener, config).await;
        println!("fake EKS listening on {}; every cluster's API server is {}", fake.uri(), kube.endpoint());
        println!("(the API server accepts tokens for the cluster named {CLUSTER:?}, signed with the keys below)");
        println!("\n# point our binaries, the aws CLI, boto3 or kubectl (through eks-kubeconfig) at it:");
        println!("export AWS_ENDPOINT_URL_EKS={}", fake.uri());
        println!("export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID={ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY={SECRET_ACCESS_KEY}");
        println!("\n# then, e.g.:");
        println!("eks-create-cluster --cluster-name {CLUSTER} --cluster-role-arn arn:aws:iam::123456789012:role/eks \\");
        println!("  --resources-vpc-config '{{\"subnetIds\":[\"subnet-1\",\"subnet-2\"]}}' --compute none --wait --waiter-delay 2");
        println!("eks-pod --cluster-name {CLUSTER} --name hello --image busybox --cmds '[\"sh\",\"-c\"]' --arguments 'echo hello'");
        println!("eks-kubeconfig --cluster-name {CLUSTER} --kubeconfig /tmp/kubeconfig && kubectl --kubeconfig /tmp/kubeconfig get pods");
        println!("aws eks list-clusters\n\nCtrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
        println!(
            "\nthe fakes served {} EKS and {} Kubernetes request(s); stopping",
            fake.requests().len(),
            kube.requests().len()
        );
        Ok::<(), String>(())
    })
}
