//! Nodegroup lifecycle, defaults, failure marks and the rules tying nodegroups to clusters.

use aws_sdk_eks::Client;
use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eks::operation::create_nodegroup::{CreateNodegroupError, CreateNodegroupOutput};
use aws_sdk_eks::operation::delete_cluster::DeleteClusterError;
use aws_sdk_eks::operation::delete_nodegroup::DeleteNodegroupError;
use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupError;
use aws_sdk_eks::types::{
    AmiTypes, CapacityTypes, NodegroupIssueCode, NodegroupScalingConfig, NodegroupStatus, Taint,
    TaintEffect,
};
use eks_testkit::{FakeEks, FakeEksConfig};

use crate::support::{NEVER, NODE_ROLE, client, create_cluster, eventually};

async fn create_nodegroup(
    eks: &Client,
    cluster: &str,
    name: &str,
) -> Result<CreateNodegroupOutput, SdkError<CreateNodegroupError>> {
    eks.create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .subnets("subnet-1")
        .node_role(NODE_ROLE)
        .send()
        .await
}

async fn nodegroup_status(eks: &Client, cluster: &str, name: &str) -> Option<NodegroupStatus> {
    let described = eks
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(name)
        .send()
        .await
        .ok()?;
    described.nodegroup()?.status().cloned()
}

#[tokio::test]
async fn nodegroup_is_creating_then_active_with_eks_defaults_and_echo() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");

    let created = eks
        .create_nodegroup()
        .cluster_name("c")
        .nodegroup_name("workers")
        .subnets("subnet-1")
        .subnets("subnet-2")
        .node_role(NODE_ROLE)
        .labels("role", "airflow")
        .taints(
            Taint::builder()
                .key("dedicated")
                .value("airflow")
                .effect(TaintEffect::NoSchedule)
                .build(),
        )
        .tags("team", "data")
        .send()
        .await
        .unwrap();
    let ng = created.nodegroup().unwrap();
    assert_eq!(ng.status(), Some(&NodegroupStatus::Creating));
    assert_eq!(ng.nodegroup_name(), Some("workers"));
    assert_eq!(ng.cluster_name(), Some("c"));
    let arn = ng.nodegroup_arn().unwrap();
    let id = arn
        .strip_prefix("arn:aws:eks:us-east-1:123456789012:nodegroup/c/workers/")
        .unwrap_or_else(|| panic!("unexpected ARN {arn}"));
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(ng.version(), Some("1.31"), "the cluster's version");
    assert!(ng.release_version().unwrap().starts_with("1.31."));
    assert_eq!(ng.subnets(), ["subnet-1", "subnet-2"]);
    assert_eq!(ng.node_role(), Some(NODE_ROLE));
    assert_eq!(ng.capacity_type(), Some(&CapacityTypes::OnDemand));
    assert_eq!(ng.ami_type(), Some(&AmiTypes::Al2023X8664Standard));
    assert_eq!(ng.instance_types(), ["t3.medium"]);
    assert_eq!(ng.disk_size(), Some(20));
    let scaling = ng.scaling_config().unwrap();
    assert_eq!(
        (
            scaling.min_size(),
            scaling.max_size(),
            scaling.desired_size()
        ),
        (Some(1), Some(2), Some(2))
    );
    assert_eq!(
        ng.labels().unwrap().get("role").map(String::as_str),
        Some("airflow")
    );
    assert_eq!(ng.taints()[0].effect(), Some(&TaintEffect::NoSchedule));
    assert_eq!(
        ng.tags().unwrap().get("team").map(String::as_str),
        Some("data")
    );
    assert!(ng.health().unwrap().issues().is_empty());
    assert!(
        ng.resources().is_none(),
        "no Auto Scaling group while CREATING"
    );
    assert!(ng.created_at().is_some() && ng.modified_at().is_some());

    let active = eventually("nodegroup ACTIVE", || async {
        let described = eks
            .describe_nodegroup()
            .cluster_name("c")
            .nodegroup_name("workers")
            .send()
            .await
            .unwrap();
        let ng = described.nodegroup().unwrap().clone();
        (ng.status() == Some(&NodegroupStatus::Active)).then_some(ng)
    })
    .await;
    let groups = active.resources().unwrap().auto_scaling_groups();
    assert!(groups[0].name().unwrap().starts_with("eks-workers-"));
    assert!(active.modified_at().unwrap().secs() >= active.created_at().unwrap().secs());
    assert_eq!(
        fake.nodegroup_status("c", "workers").as_deref(),
        Some("ACTIVE")
    );
}

#[tokio::test]
async fn nodegroup_echoes_scaling_and_spot_settings() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    let created = eks
        .create_nodegroup()
        .cluster_name("c")
        .nodegroup_name("spot")
        .subnets("subnet-1")
        .node_role(NODE_ROLE)
        .capacity_type(CapacityTypes::Spot)
        .instance_types("m5.large")
        .instance_types("m5a.large")
        .scaling_config(
            NodegroupScalingConfig::builder()
                .min_size(0)
                .max_size(5)
                .desired_size(3)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ng = created.nodegroup().unwrap();
    assert_eq!(ng.capacity_type(), Some(&CapacityTypes::Spot));
    assert_eq!(ng.instance_types(), ["m5.large", "m5a.large"]);
    let scaling = ng.scaling_config().unwrap();
    assert_eq!(
        (
            scaling.min_size(),
            scaling.max_size(),
            scaling.desired_size()
        ),
        (Some(0), Some(5), Some(3))
    );
}

#[tokio::test]
async fn nodegroup_on_a_cluster_that_is_not_active_is_invalid_request() {
    let fake = FakeEks::start_with(FakeEksConfig {
        cluster_create_time: NEVER,
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);
    create_cluster(&eks, "c").await.unwrap();

    let err = create_nodegroup(&eks, "c", "ng")
        .await
        .unwrap_err()
        .into_service_error();
    let CreateNodegroupError::InvalidRequestException(invalid) = &err else {
        panic!("expected InvalidRequestException, got {err:?}");
    };
    assert_eq!(
        invalid.message(),
        Some("Cluster 'c' is not in ACTIVE status")
    );
    assert_eq!(invalid.cluster_name(), Some("c"));
}

#[tokio::test]
async fn nodegroup_on_a_missing_cluster_is_resource_not_found() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    // EKS answers ResourceNotFoundException here although the SDK model does not list it.
    let err = create_nodegroup(&eks, "ghost", "ng")
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(err.message(), Some("No cluster found for name: ghost."));
}

#[tokio::test]
async fn duplicate_nodegroup_is_resource_in_use() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    create_nodegroup(&eks, "c", "ng").await.unwrap();
    let err = create_nodegroup(&eks, "c", "ng")
        .await
        .unwrap_err()
        .into_service_error();
    let CreateNodegroupError::ResourceInUseException(in_use) = &err else {
        panic!("expected ResourceInUseException, got {err:?}");
    };
    assert_eq!(in_use.nodegroup_name(), Some("ng"));
}

#[tokio::test]
async fn deleting_a_cluster_with_nodegroups_is_resource_in_use_even_while_they_delete() {
    let fake = FakeEks::start_with(FakeEksConfig {
        nodegroup_delete_time: NEVER,
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);
    fake.seed_nodegroup("c", "ng", "ACTIVE");

    let err = eks
        .delete_cluster()
        .name("c")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let DeleteClusterError::ResourceInUseException(in_use) = &err else {
        panic!("expected ResourceInUseException, got {err:?}");
    };
    assert_eq!(in_use.message(), Some("Cluster has nodegroups attached"));

    let deleting = eks
        .delete_nodegroup()
        .cluster_name("c")
        .nodegroup_name("ng")
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleting.nodegroup().unwrap().status(),
        Some(&NodegroupStatus::Deleting)
    );
    let err = eks
        .delete_cluster()
        .name("c")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        matches!(err, DeleteClusterError::ResourceInUseException(_)),
        "{err:?}"
    );
    assert_eq!(fake.cluster_status("c").as_deref(), Some("ACTIVE"));
}

#[tokio::test]
async fn deleted_nodegroup_disappears_then_the_cluster_can_be_deleted() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_nodegroup("c", "ng", "ACTIVE");
    eks.delete_nodegroup()
        .cluster_name("c")
        .nodegroup_name("ng")
        .send()
        .await
        .unwrap();
    eventually("nodegroup gone", || async {
        let result = eks
            .describe_nodegroup()
            .cluster_name("c")
            .nodegroup_name("ng")
            .send()
            .await;
        match result.map_err(|e| e.into_service_error()) {
            Err(DescribeNodegroupError::ResourceNotFoundException(e)) => {
                assert_eq!(e.nodegroup_name(), Some("ng"));
                Some(())
            }
            Ok(_) => None,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    })
    .await;
    let listed = eks
        .list_nodegroups()
        .cluster_name("c")
        .send()
        .await
        .unwrap();
    assert!(listed.nodegroups().is_empty());
    eks.delete_cluster().name("c").send().await.unwrap();
}

#[tokio::test]
async fn marked_nodegroup_ends_create_failed_with_a_health_issue() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    fake.fail_nodegroup("c", "bad");
    create_nodegroup(&eks, "c", "bad").await.unwrap();

    eventually("nodegroup CREATE_FAILED", || async {
        (nodegroup_status(&eks, "c", "bad").await == Some(NodegroupStatus::CreateFailed))
            .then_some(())
    })
    .await;
    let described = eks
        .describe_nodegroup()
        .cluster_name("c")
        .nodegroup_name("bad")
        .send()
        .await
        .unwrap();
    let issues = described.nodegroup().unwrap().health().unwrap().issues();
    assert_eq!(
        issues[0].code(),
        Some(&NodegroupIssueCode::NodeCreationFailure)
    );

    eks.delete_nodegroup()
        .cluster_name("c")
        .nodegroup_name("bad")
        .send()
        .await
        .unwrap();
    eventually("failed nodegroup gone", || async {
        fake.nodegroup_status("c", "bad").is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn marked_nodegroup_delete_ends_delete_failed_and_a_retry_succeeds() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_nodegroup("c", "ng", "ACTIVE");
    fake.fail_nodegroup_delete("c", "ng");

    let delete = || async {
        eks.delete_nodegroup()
            .cluster_name("c")
            .nodegroup_name("ng")
            .send()
            .await
            .unwrap()
    };
    delete().await;
    eventually("nodegroup DELETE_FAILED", || async {
        (nodegroup_status(&eks, "c", "ng").await == Some(NodegroupStatus::DeleteFailed))
            .then_some(())
    })
    .await;
    delete().await;
    eventually("nodegroup gone", || async {
        fake.nodegroup_status("c", "ng").is_none().then_some(())
    })
    .await;
}

#[tokio::test]
async fn deleting_a_creating_or_deleting_nodegroup_is_resource_in_use() {
    let fake = FakeEks::start_with(FakeEksConfig {
        nodegroup_create_time: NEVER,
        nodegroup_delete_time: NEVER,
        ..FakeEksConfig::default()
    })
    .await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    create_nodegroup(&eks, "c", "new").await.unwrap();
    fake.seed_nodegroup("c", "old", "ACTIVE");
    let delete = |name: &'static str| {
        eks.delete_nodegroup()
            .cluster_name("c")
            .nodegroup_name(name)
            .send()
    };

    let err = delete("new").await.unwrap_err().into_service_error();
    assert!(
        matches!(err, DeleteNodegroupError::ResourceInUseException(_)),
        "{err:?}"
    );
    delete("old").await.unwrap();
    let err = delete("old").await.unwrap_err().into_service_error();
    assert!(
        matches!(err, DeleteNodegroupError::ResourceInUseException(_)),
        "{err:?}"
    );
    let err = delete("none").await.unwrap_err().into_service_error();
    assert!(
        matches!(err, DeleteNodegroupError::ResourceNotFoundException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn create_nodegroup_rejects_missing_fields_bad_names_and_bad_scaling() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    fake.seed_cluster("c", "ACTIVE");
    let base = || {
        eks.create_nodegroup()
            .cluster_name("c")
            .nodegroup_name("ng")
            .node_role(NODE_ROLE)
    };

    let cases = [
        ("no subnets", base().send().await),
        (
            "no nodeRole",
            eks.create_nodegroup()
                .cluster_name("c")
                .nodegroup_name("ng")
                .subnets("s")
                .send()
                .await,
        ),
        (
            "64-character name",
            create_nodegroup(&eks, "c", &"n".repeat(64)).await,
        ),
        ("underscore first", create_nodegroup(&eks, "c", "_ng").await),
        (
            "desired above max",
            base()
                .subnets("s")
                .scaling_config(
                    NodegroupScalingConfig::builder()
                        .min_size(1)
                        .max_size(2)
                        .desired_size(3)
                        .build(),
                )
                .send()
                .await,
        ),
    ];
    for (case, result) in cases {
        let err = result.unwrap_err().into_service_error();
        let CreateNodegroupError::InvalidParameterException(invalid) = &err else {
            panic!("{case}: expected InvalidParameterException, got {err:?}");
        };
        assert_eq!(invalid.cluster_name(), Some("c"), "{case}");
    }
    create_nodegroup(&eks, "c", &"n".repeat(63)).await.unwrap();
}

#[tokio::test]
async fn list_nodegroups_paginates_and_needs_the_cluster() {
    let fake = FakeEks::start().await;
    let eks = client(&fake);
    for name in ["a", "b", "c"] {
        fake.seed_nodegroup("cl", name, "ACTIVE");
    }
    let first = eks
        .list_nodegroups()
        .cluster_name("cl")
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.nodegroups(), ["a", "b"]);
    let second = eks
        .list_nodegroups()
        .cluster_name("cl")
        .max_results(2)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.nodegroups(), ["c"]);
    assert_eq!(second.next_token(), None);

    let err = eks
        .list_nodegroups()
        .cluster_name("ghost")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}
