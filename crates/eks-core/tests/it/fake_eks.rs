use std::time::Duration;

use aws_credential_types::Credentials;
use eks_core::eks::cluster::{
    Compute, CreateCluster, DeleteCluster, create_cluster, delete_cluster,
};
use eks_core::eks::fargate::{CreateFargateProfile, create_fargate_profile};
use eks_core::eks::kwargs::{self, CreateClusterRequest};
use eks_core::eks::{IfExists, IfMissing, WaitOptions};
use eks_core::{Error, Interrupt};
use eks_testkit::{FakeEks, FakeEksConfig};

fn client(fake: &FakeEks) -> aws_sdk_eks::Client {
    let config = aws_sdk_eks::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_eks::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::for_tests())
        .endpoint_url(fake.uri())
        .build();
    aws_sdk_eks::Client::from_conf(config)
}

const QUICK: WaitOptions = WaitOptions {
    delay: Duration::from_millis(50),
    max_attempts: 100,
};

fn cluster_request(name: &str) -> CreateClusterRequest {
    let mut request = kwargs::parse_create_cluster(
        "test",
        r#"{"roleArn":"arn:aws:iam::123456789012:role/eks","resourcesVpcConfig":{"subnetIds":["subnet-1","subnet-2"]}}"#,
    )
    .unwrap();
    request.name = Some(name.to_owned());
    request
}

#[tokio::test]
async fn create_with_nodegroup_uses_the_cluster_subnets_and_waits() {
    let fake = FakeEks::start().await;
    let nodegroup = kwargs::parse_create_nodegroup(
        "test",
        r#"{"nodegroupName":"ng","nodeRole":"arn:aws:iam::123456789012:role/nodes"}"#,
    )
    .unwrap();
    let made = create_cluster(
        &client(&fake),
        CreateCluster {
            request: cluster_request("lib"),
            compute: Compute::Nodegroup(Box::new(nodegroup)),
            if_exists: IfExists::Fail,
            wait_for_completion: true,
            waiter: QUICK,
            cleanup_on_failure: true,
        },
        &Interrupt::never(),
    )
    .await
    .unwrap();
    assert_eq!(made.cluster.status, "ACTIVE");
    let ng = made.nodegroup.unwrap();
    assert_eq!(ng.status, "ACTIVE");
    assert_eq!(ng.subnets, vec!["subnet-1", "subnet-2"]);
    assert_eq!(
        ng.tags.get("kubernetes.io/cluster/lib").map(String::as_str),
        Some("owned")
    );
}

#[tokio::test]
async fn fargate_create_waits_its_turn_behind_another_profile() {
    let fake = FakeEks::start_with(FakeEksConfig {
        fargate_create_time: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    fake.seed_cluster("c", "ACTIVE");
    let eks = client(&fake);
    let profile = |name: &str| {
        let mut r = kwargs::parse_create_fargate_profile(
            "test",
            r#"{"podExecutionRoleArn":"arn:aws:iam::123456789012:role/pods","selectors":[{"namespace":"default"}]}"#,
        )
        .unwrap();
        r.cluster_name = Some("c".into());
        r.fargate_profile_name = Some(name.into());
        CreateFargateProfile {
            request: r,
            if_exists: IfExists::Fail,
            wait: None,
            cleanup_on_failure: true,
            retry: QUICK,
        }
    };
    create_fargate_profile(&eks, profile("first"), &Interrupt::never())
        .await
        .unwrap();
    // EKS refuses a second profile while the first is CREATING: we retry until it is not.
    let second = create_fargate_profile(&eks, profile("second"), &Interrupt::never())
        .await
        .unwrap();
    assert_eq!(second.fargate_profile.name, "second");
    let refused = fake
        .requests()
        .iter()
        .filter(|r| r.operation == "CreateFargateProfile" && r.status == 409)
        .count();
    assert!(
        refused >= 1,
        "the second create should have been refused at least once"
    );
    // A duplicate is a conflict, not something to retry.
    let failure = create_fargate_profile(&eks, profile("second"), &Interrupt::never())
        .await
        .unwrap_err();
    assert!(
        matches!(failure.error, Error::Conflict(_)),
        "{}",
        failure.error
    );
}

#[tokio::test]
async fn force_delete_removes_compute_then_the_cluster() {
    let fake = FakeEks::start().await;
    for ng in ["a", "b", "c"] {
        fake.seed_nodegroup("big", ng, "ACTIVE");
    }
    fake.seed_fargate_profile("big", "p1", "ACTIVE");
    let deleted = delete_cluster(
        &client(&fake),
        &DeleteCluster {
            name: "big".into(),
            force_delete_compute: true,
            if_missing: IfMissing::Fail,
            wait_for_completion: true,
            waiter: QUICK,
        },
        &Interrupt::never(),
    )
    .await
    .unwrap();
    assert_eq!(deleted.deleted_nodegroups, vec!["a", "b", "c"]);
    assert_eq!(deleted.deleted_fargate_profiles, vec!["p1"]);
    assert_eq!(deleted.status, "NONEXISTENT");
    assert!(fake.cluster_status("big").is_none());
}

#[tokio::test]
async fn a_nodegroup_that_will_not_delete_keeps_the_cluster_and_says_so() {
    let fake = FakeEks::start().await;
    fake.seed_nodegroup("stuck", "ng", "ACTIVE");
    fake.fail_nodegroup_delete("stuck", "ng");
    let failure = delete_cluster(
        &client(&fake),
        &DeleteCluster {
            name: "stuck".into(),
            force_delete_compute: true,
            if_missing: IfMissing::Fail,
            wait_for_completion: true,
            waiter: QUICK,
        },
        &Interrupt::never(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(failure.error, Error::ResourceFailed { ref state, .. } if state == "DELETE_FAILED")
    );
    let resources: Vec<&str> = failure
        .left_behind
        .iter()
        .map(|l| l.resource.as_str())
        .collect();
    assert_eq!(resources, vec!["nodegroup/stuck/ng", "cluster/stuck"]);
    assert_eq!(fake.cluster_status("stuck").as_deref(), Some("ACTIVE"));
}
